"""kdump tool configuration of the three distribution families, as far as sizing needs it.

Authoritative sources:

* **Fedora/RHEL/CentOS** (``rhkdump/kdump-utils``): ``/etc/kdump.conf`` is read by
  ``kdump-lib-initramfs.sh: kdump_get_conf_val()`` -- a line is ``option value``, ``#`` starts a
  comment anywhere, blanks are squeezed, one pair of surrounding double quotes is removed, the
  last occurrence of an option wins; ``kdumpctl: check_config()`` rejects an option without a
  value and more than one dump target.  Dump targets: ``raw``, ``nfs``, ``ssh``, ``virtiofs``
  and the file systems ``ext2/3/4``, ``xfs``, ``btrfs``, ``minix`` (none: the root file system).
  ``/etc/sysconfig/kdump`` (``gen-kdump-sysconfig.sh``) holds ``KDUMP_COMMANDLINE_APPEND`` and
  ``KDUMP_COMMANDLINE_REMOVE``.
* **SUSE** (``openSUSE/kdump``, ``sysconfig.kdump.in``): ``/etc/sysconfig/kdump`` with
  ``KDUMP_CPUS`` (0 = all CPUs), ``KDUMP_DUMPLEVEL``, ``KDUMP_DUMPFORMAT``, ``KDUMP_SAVEDIR``
  (a path or ``file|ftp|sftp|ssh|nfs|cifs`` URL), ``KDUMP_COMMANDLINE_APPEND``,
  ``KDUMP_CRASHKERNEL``.
* **Debian/Ubuntu** (``kdump-tools``, ``debian/kdump-tools.conf.in`` and ``kdump-config``):
  ``/etc/default/kdump-tools`` with ``USE_KDUMP``, ``KDUMP_COREDIR``, ``MAKEDUMP_ARGS``,
  ``KDUMP_CMDLINE_APPEND``, ``NFS``, ``SSH`` (``kdump-config`` refuses both at once).

The shell-style files are read with :mod:`crashplan.host.formats._shell` (quotes removed, nothing
expanded).  Values a file does not set are ``None``: the tools' built-in defaults (for example
``makedumpfile -l --message-level 7 -d 31``) are the profile layer's business, not the parser's.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from crashplan.errors import SourceError
from crashplan.host.formats._shell import Assignment, parse_assignments
from crashplan.host.formats._text import excerpt, is_decimal
from crashplan.host.formats.cmdline import get_param, split_cmdline

__all__ = [
    "KdumpConfig",
    "merge_kdump_configs",
    "parse_kdump_conf",
    "parse_kdump_tools_default",
    "parse_sysconfig_kdump",
]

Family = Literal["fedora", "suse", "debian"]

_FS_TARGETS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "minix"})
_KDUMP_CONF_TARGETS = _FS_TARGETS | {"raw", "nfs", "nfs4", "ssh", "virtiofs"}
# KDUMP_SAVEDIR URL scheme -> dump_target (openSUSE kdump(5)).
_SUSE_SCHEMES = {
    "file": "local",
    "ftp": "ftp",
    "sftp": "sftp",
    "scp": "sftp",  # kdump-read-config: scp://*|sftp://*) KDUMP_PROTO=sftp
    "ssh": "ssh",
    "nfs": "nfs",
    "cifs": "cifs",
    "smb": "cifs",
}
# Keys only SUSE's /etc/sysconfig/kdump has; Fedora's file shares KDUMP_COMMANDLINE_APPEND.
_SUSE_ONLY = frozenset(
    {
        "KDUMP_SAVEDIR",
        "KDUMP_DUMPLEVEL",
        "KDUMP_DUMPFORMAT",
        "KDUMP_CPUS",
        "KDUMP_CRASHKERNEL",
        "KDUMP_AUTO_RESIZE",
        "KDUMP_NETCONFIG",
        "KDUMP_KEEP_OLD_DUMPS",
    }
)


@dataclass(frozen=True, slots=True)
class KdumpConfig:
    """What crashplan needs from a kdump configuration, common to the three families.

    * ``core_collector`` -- the dump command (``makedumpfile -l -d 31`` ...);
    * ``dump_level`` -- makedumpfile's ``-d`` (0-31): which page types are filtered out;
    * ``dump_target`` -- ``"local"`` (a file system, or the root file system), ``"raw"``,
      ``"nfs"``, ``"ssh"``, ``"virtiofs"``, and for SUSE also ``"ftp"``, ``"sftp"``, ``"cifs"``;
    * ``dump_device`` -- what the target names: a device, ``host:/export``, ``user@host``;
    * ``save_path`` -- the directory (``path``, ``KDUMP_SAVEDIR``, ``KDUMP_COREDIR``);
    * ``commandline_append`` / ``commandline_remove`` -- kdump kernel command-line edits;
    * ``nr_cpus`` -- CPUs the kdump kernel brings up: ``nr_cpus=`` (else ``maxcpus=``) in the
      append line, else SUSE's ``KDUMP_CPUS`` (whose 0, "all CPUs", is ``None``);
    * ``raw`` -- every option or variable of the file, as written (quotes removed).

    Every field a file does not set is ``None``.
    """

    family: Family
    core_collector: str | None = None
    dump_level: int | None = None
    dump_target: str | None = None
    dump_device: str | None = None
    save_path: str | None = None
    commandline_append: str | None = None
    commandline_remove: str | None = None
    nr_cpus: int | None = None
    enabled: bool | None = None
    crashkernel: str | None = None
    extra_modules: tuple[str, ...] = ()
    dracut_args: str | None = None
    raw: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def parse_kdump_conf(text: str, *, path: str = "/etc/kdump.conf") -> KdumpConfig:
    """Parse Fedora/RHEL ``/etc/kdump.conf`` (kdump-utils) the way ``kdump_get_conf_val()`` reads it.

    Raises :class:`SourceError` naming the line for an option without a value, more than one
    dump target, or a makedumpfile ``-d`` that is not 0-31.

    >>> c = parse_kdump_conf("path /var/crash\\ncore_collector makedumpfile -l --message-level 7 -d 31\\n")
    >>> c.dump_target, c.save_path, c.dump_level
    ('local', '/var/crash', 31)
    """
    options: dict[str, tuple[str, int]] = {}
    targets: list[tuple[str, str, int]] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        option, *rest = line.split(None, 1)
        value = " ".join(rest[0].split()) if rest else ""
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if not value:
            raise SourceError(
                f"option {excerpt(option)} has no value (kdumpctl rejects it)",
                path=path,
                line=lineno,
            )
        options[option] = (value, lineno)
        if option in _KDUMP_CONF_TARGETS:
            targets.append((option, value, lineno))
    if len(targets) > 1:
        first = targets[0]
        raise SourceError(
            f"more than one dump target: {first[0]!r} (line {first[2]}) and {targets[1][0]!r}",
            path=path,
            line=targets[1][2],
        )
    dump_device: str | None = None
    target = "local"  # no target line: kdumpctl dumps to the root file system
    if targets:
        kind, dump_device, _ = targets[0]
        target = "local" if kind in _FS_TARGETS else ("nfs" if kind == "nfs4" else kind)
    collector = options.get("core_collector")
    extra = options.get("extra_modules")
    dracut = options.get("dracut_args")
    save = options.get("path")
    return KdumpConfig(
        family="fedora",
        core_collector=collector[0] if collector else None,
        dump_level=_dump_level_of(collector[0], collector[1], path) if collector else None,
        dump_target=target,
        dump_device=dump_device,
        save_path=save[0] if save else None,
        extra_modules=tuple(extra[0].split()) if extra else (),
        dracut_args=dracut[0] if dracut else None,
        raw=MappingProxyType({k: v for k, (v, _) in options.items()}),
    )


def parse_sysconfig_kdump(
    text: str, *, path: str = "/etc/sysconfig/kdump", family: Family | None = None
) -> KdumpConfig:
    """Parse ``/etc/sysconfig/kdump`` of Fedora/RHEL or SUSE (told apart by their keys).

    Pass ``family`` when the caller knows the distribution; otherwise a file with any
    SUSE-only key (``KDUMP_SAVEDIR``, ``KDUMP_DUMPLEVEL``, ``KDUMP_CPUS`` ...) is SUSE's.

    >>> c = parse_sysconfig_kdump('KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1 reset_devices"\\n')
    >>> c.family, c.nr_cpus
    ('fedora', 1)
    >>> parse_sysconfig_kdump('KDUMP_CPUS=32\\nKDUMP_SAVEDIR="nfs://srv/export/crash"\\n').dump_target
    'nfs'
    """
    assignments = parse_assignments(text, path=path)
    if family is None:
        family = "suse" if _SUSE_ONLY & assignments.keys() else "fedora"
    raw = MappingProxyType({k: a.value for k, a in assignments.items()})
    append_assignment = assignments.get("KDUMP_COMMANDLINE_APPEND")
    append = _nonempty(append_assignment)
    nr_cpus = _nr_cpus_of(append_assignment, path)
    if family == "fedora":
        return KdumpConfig(
            family="fedora",
            commandline_append=append,
            commandline_remove=_nonempty(assignments.get("KDUMP_COMMANDLINE_REMOVE")),
            nr_cpus=nr_cpus,
            raw=raw,
        )
    if family != "suse":
        raise ValueError(f"parse_sysconfig_kdump reads 'fedora' or 'suse' files, not {family!r}")
    cpus = assignments.get("KDUMP_CPUS")
    if nr_cpus is None and cpus is not None and _nonempty(cpus) is not None:
        nr_cpus = _count(cpus, path) or None  # 0 means "all CPUs": no limit
    level = assignments.get("KDUMP_DUMPLEVEL")
    dump_format = _nonempty(assignments.get("KDUMP_DUMPFORMAT"))
    savedir = assignments.get("KDUMP_SAVEDIR")
    target, device, save_path = _suse_target(savedir, path)
    return KdumpConfig(
        family="suse",
        core_collector=(
            None if dump_format is None or dump_format in ("none", "raw") else "makedumpfile"
        ),
        dump_level=_level(level.value, level.line, path) if level and _nonempty(level) else None,
        dump_target=target,
        dump_device=device,
        save_path=save_path,
        commandline_append=append,
        nr_cpus=nr_cpus,
        crashkernel=_nonempty(assignments.get("KDUMP_CRASHKERNEL")),
        raw=raw,
    )


def parse_kdump_tools_default(text: str, *, path: str = "/etc/default/kdump-tools") -> KdumpConfig:
    """Parse Debian/Ubuntu ``/etc/default/kdump-tools`` (kdump-tools' ``kdump-config``).

    Raises :class:`SourceError` when both ``NFS`` and ``SSH`` are set (``kdump-config``:
    "$SSH and $NFS cannot be defined concurrently") or ``USE_KDUMP`` is not 0 or 1.

    >>> c = parse_kdump_tools_default('USE_KDUMP=1\\nMAKEDUMP_ARGS="-c -d 31"\\nSSH="root@dumphost"\\n')
    >>> c.enabled, c.core_collector, c.dump_level, c.dump_target, c.dump_device
    (True, 'makedumpfile -c -d 31', 31, 'ssh', 'root@dumphost')
    """
    assignments = parse_assignments(text, path=path)
    nfs = _nonempty(assignments.get("NFS"))
    ssh = _nonempty(assignments.get("SSH"))
    if nfs is not None and ssh is not None:
        later = max(assignments["NFS"].line, assignments["SSH"].line)
        raise SourceError(
            "$SSH and $NFS cannot be defined concurrently (kdump-config refuses to load)",
            path=path,
            line=later,
        )
    use = assignments.get("USE_KDUMP")
    enabled: bool | None = None
    if use is not None and _nonempty(use) is not None:
        if use.value not in ("0", "1"):
            raise SourceError(
                f"USE_KDUMP must be 0 or 1, got {excerpt(use.value)}", path=path, line=use.line
            )
        enabled = use.value == "1"
    # kdump-config applies its defaults with ${VAR:=default}: an empty value counts as unset.
    args = assignments.get("MAKEDUMP_ARGS")
    collector = dump_level = None
    if args is not None and _nonempty(args) is not None:
        collector = f"makedumpfile {args.value.strip()}"
        dump_level = _dump_level_of(collector, args.line, path)
    append = assignments.get("KDUMP_CMDLINE_APPEND")
    if ssh is not None:
        target, device = "ssh", ssh
    elif nfs is not None:
        target, device = "nfs", nfs
    else:
        target, device = "local", None
    return KdumpConfig(
        family="debian",
        core_collector=collector,
        dump_level=dump_level,
        dump_target=target,
        dump_device=device,
        save_path=_nonempty(assignments.get("KDUMP_COREDIR")),
        commandline_append=_nonempty(append),
        nr_cpus=_nr_cpus_of(append, path),
        enabled=enabled,
        raw=MappingProxyType({k: a.value for k, a in assignments.items()}),
    )


def merge_kdump_configs(primary: KdumpConfig, *others: KdumpConfig) -> KdumpConfig:
    """Combine the files of one host: each field comes from the first config that sets it.

    Fedora/RHEL needs this: ``/etc/kdump.conf`` has the target and collector,
    ``/etc/sysconfig/kdump`` the command line.  ``raw`` keeps every key, the primary's winning.

    >>> conf = parse_kdump_conf("nfs srv:/export\\n")
    >>> merged = merge_kdump_configs(conf, parse_sysconfig_kdump('KDUMP_COMMANDLINE_APPEND="nr_cpus=1"\\n'))
    >>> merged.dump_target, merged.nr_cpus
    ('nfs', 1)
    """
    values: dict[str, object] = {}
    for name in KdumpConfig.__dataclass_fields__:
        if name in ("family", "raw"):
            continue
        chosen = getattr(primary, name)
        for other in others:
            if chosen not in (None, ()):
                break
            chosen = getattr(other, name)
        values[name] = chosen
    raw: dict[str, str] = {}
    for config in reversed((primary, *others)):
        raw.update(config.raw)
    return KdumpConfig(family=primary.family, raw=MappingProxyType(raw), **values)  # type: ignore[arg-type]


def _dump_level_of(collector: str, lineno: int, path: str) -> int | None:
    """makedumpfile's ``-d N`` (or ``-dN``) in a core collector command, the last one winning."""
    try:
        words = shlex.split(collector)
    except ValueError as e:
        raise SourceError(f"core collector: {e}", path=path, line=lineno) from e
    if not words or words[0].rsplit("/", 1)[-1] != "makedumpfile":
        return None
    level: int | None = None
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-d":
            if i + 1 >= len(words):
                raise SourceError("makedumpfile '-d' without a dump level", path=path, line=lineno)
            level = _level(words[i + 1], lineno, path)
            i += 2
            continue
        if word.startswith("-d") and not word.startswith("--"):
            level = _level(word[2:], lineno, path)
        i += 1
    return level


def _level(text: str, lineno: int, path: str) -> int:
    """A makedumpfile dump level: a number 0-31 (one bit per filtered page type)."""
    if not is_decimal(text) or int(text) > 31:
        raise SourceError(
            f"dump level {excerpt(text)} is not a number from 0 to 31", path=path, line=lineno
        )
    return int(text)


def _nr_cpus_of(append: Assignment | None, path: str) -> int | None:
    """``nr_cpus=`` (else ``maxcpus=``) in a kdump command-line append string, the last winning."""
    if append is None:
        return None
    args = split_cmdline(append.value)
    for name in ("nr_cpus", "maxcpus"):
        values = get_param(args, name)
        if values:
            value = values[-1]
            if not is_decimal(value):
                raise SourceError(
                    f"{name}={excerpt(value)} in {append.name} is not a number",
                    path=path,
                    line=append.line,
                )
            return int(value)
    return None


def _suse_target(
    savedir: Assignment | None, path: str
) -> tuple[str | None, str | None, str | None]:
    """``(dump_target, dump_device, save_path)`` from SUSE's ``KDUMP_SAVEDIR``."""
    if savedir is None:
        return None, None, None
    value = savedir.value.strip()
    if not value:
        return None, None, None
    scheme, sep, rest = value.partition("://")
    if not sep:
        return "local", None, value
    target = _SUSE_SCHEMES.get(scheme.lower())
    if target is None:
        raise SourceError(
            f"unsupported KDUMP_SAVEDIR scheme {excerpt(scheme)} "
            f"(expected one of {', '.join(sorted(_SUSE_SCHEMES))})",
            path=path,
            line=savedir.line,
        )
    if target == "local":
        return "local", None, rest if rest.startswith("/") else "/" + rest
    host, slash, directory = rest.partition("/")
    return target, host or None, ("/" + directory) if slash else None


def _count(assignment: Assignment, path: str) -> int:
    """A non-negative decimal count from a shell variable."""
    if not is_decimal(assignment.value):
        raise SourceError(
            f"{assignment.name} must be a number, got {excerpt(assignment.value)}",
            path=path,
            line=assignment.line,
        )
    return int(assignment.value)


def _nonempty(assignment: Assignment | None) -> str | None:
    """The value of an assignment, or None when unset or set to the empty string."""
    if assignment is None or not assignment.value.strip():
        return None
    return assignment.value
