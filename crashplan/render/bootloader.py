"""Boot-loader artefacts that carry a ``crashkernel=`` parameter: pure text in, text out.

Each renderer takes the ``crashkernel=`` tokens to set and, where the format edits an existing
command line, that line.  Existing ``crashkernel=`` arguments are removed first (every lookup
of ``get_last_crashkernel()`` would otherwise still see them: a leftover ``,cma`` or ``,high``
token keeps working next to a new plain one).  Arguments are split with the kernel's own
quoting rules (``lib/cmdline.c: next_arg()``), never ``str.split()``.

Formats: the command-line tokens, a ``/etc/default/grub.d/`` drop-in appended to
``GRUB_CMDLINE_LINUX_DEFAULT`` (Debian/Ubuntu ``update-grub``), the ``grubby`` command (Fedora,
RHEL), a BLS entry's ``options`` line (``/boot/loader/entries/*.conf``, the Boot Loader
Specification), ``/etc/kernel/cmdline`` (``kernel-install``), a ``zipl.conf`` ``parameters=``
line (s390) and ``rpm-ostree kargs`` (Fedora CoreOS, RHEL for Edge).
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from crashplan.host.formats.cmdline import split_cmdline

if TYPE_CHECKING:
    from crashplan.host.facts import HostFacts
    from crashplan.planning.recommend import Plan

__all__ = [
    "DROPIN_MARKER",
    "FORMATS",
    "GRUB_DROPIN_PATH",
    "boot_format",
    "check_format",
    "is_crashplan_dropin",
    "render_artefact",
    "render_bls_options",
    "render_cmdline",
    "render_grub_dropin",
    "render_grubby",
    "render_kernel_install",
    "render_ostree",
    "render_plan_artefact",
    "render_zipl",
    "replace_crashkernel",
]

GRUB_DROPIN_PATH = "/etc/default/grub.d/99-crashplan.cfg"
DROPIN_MARKER = "# crashplan: kdump crash kernel reservation"


def _is_crashkernel(arg: str) -> bool:
    return arg.startswith("crashkernel=")


def _quote(arg: str) -> str:
    """An argument as the kernel reads it back: quoted only when it holds a space."""
    if " " in arg or "\t" in arg:
        key, eq, value = arg.partition("=")
        return f'{key}{eq}"{value}"' if eq else f'"{arg}"'
    return arg


def replace_crashkernel(cmdline: str, tokens: list[str] | tuple[str, ...]) -> str:
    """``cmdline`` without its ``crashkernel=`` arguments, with ``tokens`` appended.

    >>> replace_crashkernel('ro quiet crashkernel=2G-:256M crashkernel=1G,high', ["crashkernel=1G,cma", "crashkernel=256M"])
    'ro quiet crashkernel=1G,cma crashkernel=256M'
    """
    kept = [_quote(a) for a in split_cmdline(cmdline) if not _is_crashkernel(a)]
    return " ".join([*kept, *tokens])


def render_cmdline(tokens: list[str] | tuple[str, ...]) -> str:
    """The tokens alone, as they go on a kernel command line."""
    return " ".join(tokens) + "\n"


def render_grub_dropin(tokens: list[str] | tuple[str, ...], *, comment: str = "") -> str:
    """A ``/etc/default/grub.d/`` drop-in that appends the tokens to GRUB_CMDLINE_LINUX_DEFAULT.

    Drop-ins are sourced in name order after ``/etc/default/grub`` (``grub-mkconfig``); the
    ``99-`` name comes after the distro's ``kdump-tools.cfg``, so these tokens are the last on
    the command line and win every lookup they take part in.  Earlier ``crashkernel=``
    arguments stay on the line (rewriting the user's variables from a sourced shell file is
    not safe with quoted arguments): ``crashplan check`` reports one that still takes effect,
    such as an old ``,cma`` token next to a new plain one.
    """
    lines = [f"{DROPIN_MARKER} (written by crashplan; 'crashplan recommend --format grub')"]
    if comment:
        lines.extend(f"# {line}" for line in comment.splitlines())
    lines.append(f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {" ".join(tokens)}"')
    return "\n".join(lines) + "\n"


def is_crashplan_dropin(text: str) -> bool:
    """True when ``text`` is a drop-in crashplan wrote (so it may be replaced)."""
    return text.startswith(DROPIN_MARKER)


def render_grubby(tokens: list[str] | tuple[str, ...]) -> str:
    """The ``grubby`` command that sets the tokens on every kernel entry."""
    value = " ".join(tokens)
    return f"grubby --update-kernel=ALL --remove-args=crashkernel --args={shlex.quote(value)}\n"


def render_bls_options(options_line: str, tokens: list[str] | tuple[str, ...]) -> str:
    """A BLS entry's ``options`` line with the tokens in place of its ``crashkernel=`` arguments.

    >>> render_bls_options("options root=UUID=1 ro crashkernel=auto", ["crashkernel=256M"])
    'options root=UUID=1 ro crashkernel=256M\\n'
    """
    body = options_line.strip()
    if body.startswith("options"):
        body = body[len("options") :].strip()
    return f"options {replace_crashkernel(body, tokens)}\n"


def render_kernel_install(cmdline: str, tokens: list[str] | tuple[str, ...]) -> str:
    """The content of ``/etc/kernel/cmdline`` (read by ``kernel-install`` and ukify)."""
    return replace_crashkernel(cmdline.strip(), tokens) + "\n"


def render_zipl(parameters: str, tokens: list[str] | tuple[str, ...]) -> str:
    """A ``zipl.conf`` ``parameters=`` line (s390); run ``zipl`` afterwards."""
    body = parameters.strip()
    if body.startswith("parameters"):
        body = body.split("=", 1)[1].strip().strip('"')
    return f'parameters="{replace_crashkernel(body, tokens)}"\n'


def render_ostree(current: str, tokens: list[str] | tuple[str, ...]) -> str:
    """The ``rpm-ostree kargs`` command: delete the current ``crashkernel=`` arguments, append ours."""
    old = [a for a in split_cmdline(current) if _is_crashkernel(a)]
    words = ["rpm-ostree", "kargs"]
    words += [f"--delete-if-present={a}" for a in old]
    words += [f"--append={t}" for t in tokens]
    return " ".join(shlex.quote(w) for w in words) + "\n"


def render_artefact(fmt: str, tokens: list[str] | tuple[str, ...], cmdline: str | None, *, comment: str = "") -> str:
    """The boot-config artefact ``fmt`` setting ``tokens``, where ``cmdline`` is the host's
    ``/proc/cmdline`` (None when unknown: :func:`check_format` refuses the formats that print
    the whole line then; the others do not need it).

    >>> render_artefact("bls", ["crashkernel=256M"], "BOOT_IMAGE=/vmlinuz root=/dev/vda1 crashkernel=1G")
    'options root=/dev/vda1 crashkernel=256M\\n'
    """
    # A boot loader stores the line without what it adds itself at boot.
    current = " ".join(a for a in split_cmdline(cmdline or "") if not a.startswith(("BOOT_IMAGE=", "initrd=")))
    if fmt == "cmdline":
        return render_cmdline(tokens)
    if fmt == "grub":
        return render_grub_dropin(tokens, comment=comment)
    if fmt == "grubby":
        return render_grubby(tokens)
    if fmt == "bls":
        return render_bls_options(current, tokens)
    if fmt == "kernel-install":
        return render_kernel_install(current, tokens)
    if fmt == "zipl":
        return render_zipl(current, tokens)
    if fmt == "ostree":
        return render_ostree(cmdline or "", tokens)
    raise ValueError(fmt)


def render_plan_artefact(fmt: str, plan: Plan, cmdline: str | None, source: str) -> str:
    """The artefact ``fmt`` setting ``plan``'s parameter on the host ``source`` whose command line is ``cmdline``.

    The grub drop-in's comment names the strategy, the estimated need and the host.
    """
    from crashplan.units import format_human

    comment = f"{plan.strategy}: estimated need {format_human(plan.footprint.total)} on {source}"
    return render_artefact(fmt, plan.tokens, cmdline, comment=comment)


FORMATS = ("text", "json", "yaml", "cmdline", "grub", "grubby", "bls", "kernel-install", "zipl", "ostree")


def boot_format(facts: HostFacts, family: str = "") -> str:
    """The boot-config format that applies the parameter on this host.

    rpm-ostree hosts (Fedora CoreOS, RHCOS: ``ostree=`` on the command line) keep their kernel
    arguments in the deployment, s390 boots through zipl, the Fedora/RHEL family edits BLS
    entries with grubby, and Debian/Ubuntu regenerate grub.cfg from /etc/default/grub.d;
    an unknown distribution gets the crashkernel= tokens alone (cmdline).
    """
    from crashplan.host.formats.cmdline import split_cmdline

    if any(a.startswith("ostree=") for a in split_cmdline(facts.cmdline or "")):
        return "ostree"
    if facts.arch == "s390x":
        return "zipl" if facts.cmdline is not None else "cmdline"  # zipl's line is the whole command line
    if family in ("debian", "ubuntu"):
        return "grub"
    # An unknown distribution (the generic profiles) is not assumed to have grubby.
    return "grubby" if family and family != "generic" else "cmdline"


# The formats whose artefact is the host's whole kernel command line with crashkernel= replaced.
_WHOLE_LINE = ("bls", "kernel-install", "zipl")


def check_format(facts: HostFacts, fmt: str) -> None:
    """Refuse a boot-config format that does not apply to the host.

    :raises UsageError: ``zipl`` off s390, a grub drop-in, grubby, BLS or kernel-install edit
        on an rpm-ostree host (its kernel arguments live in the deployment).
    :raises CrashplanError: a format that prints the whole command line (BLS ``options``,
        ``/etc/kernel/cmdline``, zipl ``parameters=``) on a source without ``/proc/cmdline``:
        the line printed would hold crashkernel= alone, and booting it loses ``root=`` (exit 3).
    """
    from crashplan.errors import CrashplanError, UsageError

    if fmt in _WHOLE_LINE and facts.cmdline is None:
        raise CrashplanError(
            f"--format {fmt} prints the whole kernel command line, and the source's command line is unknown "
            "(no /proc/cmdline): the line would hold crashkernel= alone; use --format cmdline (the crashkernel= "
            "tokens to add) or grubby, or a capture with /proc/cmdline",
            code="cmdline-unknown",
        )

    if fmt == "zipl" and facts.arch != "s390x":
        raise UsageError(f"--format zipl is for s390x (zipl.conf), and this host is {facts.arch or 'of an unknown architecture'}")
    if fmt in ("grub", "grubby", "bls", "kernel-install") and boot_format(facts) == "ostree":
        raise UsageError(f"this host boots an rpm-ostree deployment (ostree= on its command line): use --format ostree, not {fmt}")
