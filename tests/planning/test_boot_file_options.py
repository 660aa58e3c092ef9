"""--kernel and --initrd are checked by their content: what is not a kernel or an initrd is exit 3."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.planning.test_checked_answer import run

HOST = Path(__file__).parents[1] / "data" / "hosts" / "qemu-x86_64-4g-no-crashkernel"
KERNEL = Path(__file__).parents[1] / "data" / "images" / "debian-7.3.4-amd64.bzImage.head"


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    p = tmp_path / "passwd"
    p.write_text("root:x:0:0:root:/root:/bin/bash\n")
    return p


@pytest.fixture
def empty_file(tmp_path: Path) -> Path:
    p = tmp_path / "empty.img"
    p.write_bytes(b"")
    return p


@pytest.mark.parametrize("command", ["recommend", "footprint", "check"])
def test_error_text_file_as_initrd(command: str, text_file: Path) -> None:
    """A text file given as --initrd is refused with its name and what it looks like (issue 15: it gave 72M)."""
    r = run(command, "--source", str(HOST), "--initrd", str(text_file))
    assert r.exit_code == 3 and r.stdout == ""
    assert r.stderr.strip() == f"crashplan: error: {text_file}: --initrd: not an initrd (cpio, or a compressed cpio); it looks like text (root:x:0:0:root:/roo...)"


@pytest.mark.parametrize("option", ["--initrd", "--kernel"])
def test_error_empty_file(option: str, empty_file: Path) -> None:
    """An empty --initrd or --kernel is exit 3 (an empty initrd gave 120M)."""
    r = run("recommend", "--source", str(HOST), option, str(empty_file), "--format", "cmdline")
    assert r.exit_code == 3 and r.stdout == ""
    assert r.stderr.strip() == f"crashplan: error: {empty_file}: {option}: the file is empty"


def test_error_program_as_kernel() -> None:
    """A user-space ELF program (the Python interpreter) is not a kernel image."""
    r = run("recommend", "--source", str(HOST), "--kernel", sys.executable, "--format", "cmdline")
    assert r.exit_code == 3 and "--kernel: not a kernel image" in r.stderr and "user-space program" in r.stderr


def test_error_text_as_kernel(text_file: Path) -> None:
    """A text file is not a kernel image either."""
    r = run("footprint", "--source", str(HOST), "--kernel", str(text_file))
    assert r.exit_code == 3 and "not a kernel image" in r.stderr and "looks like text" in r.stderr


def test_a_real_kernel_header_is_accepted() -> None:
    """The Debian bzImage header still measures."""
    r = run("recommend", "--source", str(HOST), "--kernel", str(KERNEL), "--format", "cmdline")
    assert r.exit_code == 0 and r.stdout.startswith("crashkernel=")
