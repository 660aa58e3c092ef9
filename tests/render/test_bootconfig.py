"""Boot-loader artefacts: the crashkernel= tokens replace the old ones, with the kernel's quoting."""

from __future__ import annotations

from crashplan.host.formats.cmdline import split_cmdline
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import features_for
from crashplan.render.bootloader import (
    is_crashplan_dropin,
    render_bls_options,
    render_grub_dropin,
    render_grubby,
    render_kernel_install,
    render_ostree,
    render_zipl,
    replace_crashkernel,
)

TOKENS = ("crashkernel=1G,cma", "crashkernel=256M")


def test_replace_removes_every_old_token_and_keeps_quoting():
    """Old plain, ,high and ,cma tokens go; a quoted argument keeps its quotes."""
    line = 'root=UUID=1 dyndbg="file x.c +p" crashkernel=2G-:256M crashkernel=1G,high crashkernel=2G,cma ro'
    out = replace_crashkernel(line, TOKENS)
    assert out == 'root=UUID=1 dyndbg="file x.c +p" ro crashkernel=1G,cma crashkernel=256M'
    assert split_cmdline(out)[:3] == ("root=UUID=1", "dyndbg=file x.c +p", "ro")
    d = decide(out, 16 << 30, features_for("x86_64", "7.0"))
    assert (d.ok, d.crash_size, d.cma_size) == (True, 256 << 20, 1 << 30)


def test_grub_dropin_is_recognisable_and_appends():
    """The drop-in appends to GRUB_CMDLINE_LINUX_DEFAULT and says it is crashplan's."""
    text = render_grub_dropin(TOKENS, comment="for host a")
    assert is_crashplan_dropin(text)
    assert text.splitlines()[-1] == 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=1G,cma crashkernel=256M"'
    assert not is_crashplan_dropin('GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=512M-:192M"\n')


def test_other_formats():
    """grubby, BLS, kernel-install, zipl and rpm-ostree carry exactly the tokens."""
    assert render_grubby(TOKENS) == "grubby --update-kernel=ALL --remove-args=crashkernel --args='crashkernel=1G,cma crashkernel=256M'\n"
    assert render_bls_options("options root=/dev/vda1 crashkernel=auto", TOKENS) == "options root=/dev/vda1 crashkernel=1G,cma crashkernel=256M\n"
    assert render_kernel_install("root=/dev/vda1 quiet\n", TOKENS) == "root=/dev/vda1 quiet crashkernel=1G,cma crashkernel=256M\n"
    assert render_zipl('parameters="root=/dev/dasda1 crashkernel=196M"', TOKENS) == 'parameters="root=/dev/dasda1 crashkernel=1G,cma crashkernel=256M"\n'
    assert render_ostree("ro crashkernel=auto", TOKENS) == "rpm-ostree kargs --delete-if-present=crashkernel=auto --append=crashkernel=1G,cma --append=crashkernel=256M\n"
