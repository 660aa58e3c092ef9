"""House rules for crashplan.host.formats: module docs, __all__, frozen slot dataclasses, light imports."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import crashplan.host.formats

MODULES = sorted(crashplan.host.formats.__all__)
PACKAGE_DIR = Path(crashplan.host.formats.__file__).parent
ON_DISK = sorted(p.stem for p in PACKAGE_DIR.glob("*.py") if not p.stem.startswith("_"))


def test_all_names_existing_modules() -> None:
    """Every name in crashplan.host.formats.__all__ is a public module of the package."""
    assert set(MODULES) <= set(ON_DISK)


@pytest.mark.parametrize("name", ON_DISK)
def test_module_docstring_names_its_source(name: str) -> None:
    """Every module of the package starts with a docstring naming the authoritative source, and has __all__."""
    module = importlib.import_module(f"crashplan.host.formats.{name}")
    doc = module.__doc__ or ""
    assert "Authoritative source" in doc
    assert module.__all__, "a public module needs __all__"
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ lists missing {public}"


@pytest.mark.parametrize("name", ON_DISK)
def test_results_are_frozen_slot_dataclasses(name: str) -> None:
    """Every public dataclass is frozen and uses slots."""
    module = importlib.import_module(f"crashplan.host.formats.{name}")
    for public in module.__all__:
        obj = getattr(module, public)
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
            assert obj.__dataclass_params__.frozen, f"{public} is not frozen"  # type: ignore[attr-defined]
            assert "__slots__" in obj.__dict__, f"{public} has no slots"


# Parsers that accept any text and so never name a file in an error: a kernel log has no syntax.
_TOTAL_PARSERS = {"dmesg.parse_dmesg"}


@pytest.mark.parametrize("name", ON_DISK)
def test_public_functions_are_documented(name: str) -> None:
    """Every public function has a docstring, and every parse_* that can fail takes a keyword-only path."""
    module = importlib.import_module(f"crashplan.host.formats.{name}")
    for public in module.__all__:
        obj = getattr(module, public)
        if inspect.isfunction(obj):
            assert obj.__doc__, f"{name}.{public} has no docstring"
            if public.startswith("parse_") and f"{name}.{public}" not in _TOTAL_PARSERS:
                param = inspect.signature(obj).parameters.get("path")
                assert param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY


def test_formats_do_not_import_heavy_dependencies() -> None:
    """Importing every parser pulls in neither yaml, rich, psutil nor click."""
    code = (
        "import sys\n"
        + "".join(f"import crashplan.host.formats.{m}\n" for m in MODULES)
        + "print(sorted(m for m in ('yaml', 'rich', 'psutil', 'click') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_formats_never_open_files() -> None:
    """No parser module calls open(), Path.read_text() or os functions: parsing is pure."""
    for path in PACKAGE_DIR.glob("*.py"):
        source = path.read_text()
        for forbidden in ("open(", "read_text(", "read_bytes(", "import os", "from os"):
            assert forbidden not in source, f"{path.name} uses {forbidden}"
