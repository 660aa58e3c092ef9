"""Tests for crashplan.host.formats.kdumpconf against the distributions' shipped kdump configuration files."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.kdumpconf import (
    KdumpConfig,
    merge_kdump_configs,
    parse_kdump_conf,
    parse_kdump_tools_default,
    parse_sysconfig_kdump,
)

DATA = Path(__file__).resolve().parent / "data" / "kdump"


def read(name: str) -> str:
    """A fixture from tests/host/formats/data/kdump (see its PROVENANCE.md)."""
    return (DATA / name).read_bytes().decode("utf-8", "surrogateescape")


X86_APPEND = (
    "irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off udev.children-max=2 "
    "panic=10 acpi_no_memhotplug transparent_hugepage=never nokaslr hest_disable novmcoredd cma=0 "
    "hugetlb_cma=0 pcie_ports=compat"
)


def test_fedora_shipped_kdump_conf() -> None:
    """Fedora's default kdump.conf dumps locally to /var/crash with makedumpfile -d 31."""
    c = parse_kdump_conf(read("fedora-kdump.conf"))
    assert c == KdumpConfig(
        family="fedora",
        core_collector="makedumpfile -l --message-level 7 -d 31",
        dump_level=31,
        dump_target="local",
        save_path="/var/crash",
        raw=c.raw,
    )
    assert dict(c.raw) == {
        "auto_reset_crashkernel": "yes",
        "path": "/var/crash",
        "core_collector": "makedumpfile -l --message-level 7 -d 31",
    }


def test_fedora_shipped_sysconfig_x86_64() -> None:
    """Fedora's x86_64 sysconfig appends nr_cpus=1 and removes cma/hugetlb_cma among others."""
    c = parse_sysconfig_kdump(read("fedora-sysconfig-kdump.x86_64"))
    assert c.family == "fedora"
    assert c.commandline_append == X86_APPEND
    assert c.nr_cpus == 1
    assert c.commandline_remove is not None and "hugetlb_cma" in c.commandline_remove.split()
    assert c.raw["KEXEC_ARGS"] == "-s"
    assert c.dump_target is None


def test_fedora_merge_of_both_files() -> None:
    """Merging kdump.conf with sysconfig gives one config with target, collector and command line."""
    merged = merge_kdump_configs(
        parse_kdump_conf(read("fedora-kdump.conf")),
        parse_sysconfig_kdump(read("fedora-sysconfig-kdump.x86_64")),
    )
    assert (merged.dump_target, merged.dump_level, merged.nr_cpus) == ("local", 31, 1)
    assert merged.commandline_append == X86_APPEND
    assert merged.raw["path"] == "/var/crash" and merged.raw["KEXEC_ARGS"] == "-s"


KDUMP_CONF_TARGETS = [
    ("nfs my.server.com:/export/tmp\n", "nfs", "my.server.com:/export/tmp"),
    ("nfs [2001:db8::1:2:3:4]:/export/tmp\n", "nfs", "[2001:db8::1:2:3:4]:/export/tmp"),
    ("ssh user@my.server.com\nsshkey /root/.ssh/kdump_id_rsa\n", "ssh", "user@my.server.com"),
    ("raw /dev/vg/lv_kdump\n", "raw", "/dev/vg/lv_kdump"),
    (
        "ext4 UUID=03138356-5e61-4ab3-b58e-27507ac41937\n",
        "local",
        "UUID=03138356-5e61-4ab3-b58e-27507ac41937",
    ),
    ("xfs LABEL=/boot\n", "local", "LABEL=/boot"),
    ("virtiofs myfs\n", "virtiofs", "myfs"),
    ("path /var/crash\n", "local", None),
]


@pytest.mark.parametrize(("text", "target", "device"), KDUMP_CONF_TARGETS)
def test_kdump_conf_targets(text: str, target: str, device: str | None) -> None:
    """Each dump-target directive of kdump.conf (the shipped examples) maps to its target type."""
    c = parse_kdump_conf(text)
    assert (c.dump_target, c.dump_device) == (target, device)


def test_kdump_conf_reading_rules() -> None:
    """Comments anywhere, squeezed blanks, stripped quotes and last-wins follow kdump_get_conf_val()."""
    c = parse_kdump_conf(
        "core_collector makedumpfile -c -d 17\n"
        "  core_collector   makedumpfile  -l   -d31   # smaller\n"
        'dracut_args --omit-drivers "cfg80211 snd"\n'
        "extra_modules gfs2 nvme\n"
        'failure_action "shell"\n'
    )
    assert c.core_collector == "makedumpfile -l -d31"
    assert c.dump_level == 31
    assert c.dracut_args == '--omit-drivers "cfg80211 snd"'
    assert c.extra_modules == ("gfs2", "nvme")
    assert c.raw["failure_action"] == "shell"


def test_non_makedumpfile_collector_has_no_dump_level() -> None:
    """A core collector that is not makedumpfile (scp, cp) has no dump level."""
    assert parse_kdump_conf("ssh root@h\ncore_collector scp\n").dump_level is None


def test_suse_shipped_sysconfig() -> None:
    """SUSE's default sysconfig: 1 CPU, dump level 31, compressed makedumpfile dump to /var/crash."""
    c = parse_sysconfig_kdump(read("suse-sysconfig-kdump"))
    assert (c.family, c.nr_cpus, c.dump_level, c.core_collector) == ("suse", 1, 31, "makedumpfile")
    assert (c.dump_target, c.dump_device, c.save_path) == ("local", None, "/var/crash")
    assert c.commandline_append is None
    assert c.raw["KDUMP_AUTO_RESIZE"] == "false"


# A user's SUSE configuration published with a kdumptool calibrate write-up (16 CPUs, NFS).
SUSE_NFS = """\
KDUMP_VERBOSE=7
KDUMP_SAVEDIR="nfs://10.180.32.148/share_9095c713_caf9_4e8e_a6c3_c7fd6ac98cdc/kdump"
KDUMP_NET_TIMEOUT=10
KDUMP_NETCONFIG="eth1:auto"
KDUMP_KEEP_OLD_DUMPS=0
KDUMP_IMMEDIATE_REBOOT="true"
KDUMP_FREE_DISK_SIZE=24
KDUMP_DUMPLEVEL=31
KDUMP_DUMPFORMAT="compressed"
KDUMP_CPUS=16
KDUMP_CONTINUE_ON_ERROR="true"
KDUMP_AUTO_RESIZE="false"
"""


def test_suse_nfs_savedir() -> None:
    """An nfs:// KDUMP_SAVEDIR becomes an NFS target with host and path, KDUMP_CPUS the CPU count."""
    c = parse_sysconfig_kdump(SUSE_NFS)
    assert (c.dump_target, c.dump_device, c.save_path) == (
        "nfs",
        "10.180.32.148",
        "/share_9095c713_caf9_4e8e_a6c3_c7fd6ac98cdc/kdump",
    )
    assert c.nr_cpus == 16


@pytest.mark.parametrize(
    ("savedir", "target"),
    [
        ("/var/crash", "local"),
        ("file:///var/crash", "local"),
        ("ftp://user:password@host/var/crash", "ftp"),
        ("sftp://user@host/var/crash", "sftp"),
        ("ssh://user@host/var/crash", "ssh"),
        ("nfs://server/export/var/crash", "nfs"),
        ("cifs://user:password@host/share/var/crash", "cifs"),
    ],
)
def test_suse_savedir_schemes(savedir: str, target: str) -> None:
    """Every KDUMP_SAVEDIR form documented in sysconfig.kdump maps to a dump target."""
    assert parse_sysconfig_kdump(f'KDUMP_SAVEDIR="{savedir}"\n').dump_target == target


def test_suse_cpus_zero_means_all() -> None:
    """KDUMP_CPUS=0 means all CPUs, which is no limit: nr_cpus None; an append nr_cpus= wins."""
    assert parse_sysconfig_kdump("KDUMP_CPUS=0\n").nr_cpus is None
    assert (
        parse_sysconfig_kdump('KDUMP_CPUS=4\nKDUMP_COMMANDLINE_APPEND="nr_cpus=2"\n').nr_cpus == 2
    )
    assert (
        parse_sysconfig_kdump('KDUMP_CRASHKERNEL="crashkernel=72M,low"\n').crashkernel
        == "crashkernel=72M,low"
    )


def test_family_can_be_forced() -> None:
    """Passing family overrides the key-based detection."""
    assert parse_sysconfig_kdump('KDUMP_COMMANDLINE_APPEND=""\n', family="suse").family == "suse"


def test_debian_shipped_default() -> None:
    """Debian's shipped /etc/default/kdump-tools enables kdump to /var/crash and sets no makedumpfile args."""
    c = parse_kdump_tools_default(read("debian-default-kdump-tools"))
    assert (c.family, c.enabled, c.dump_target, c.save_path) == (
        "debian",
        True,
        "local",
        "/var/crash",
    )
    assert (c.core_collector, c.dump_level, c.commandline_append, c.nr_cpus) == (
        None,
        None,
        None,
        None,
    )
    assert c.raw["KDUMP_KERNEL"] == "/var/lib/kdump/vmlinuz"


def test_debian_remote_targets_and_args() -> None:
    """NFS or SSH set the remote target; MAKEDUMP_ARGS and KDUMP_CMDLINE_APPEND are read."""
    c = parse_kdump_tools_default(
        'USE_KDUMP=0\nNFS="remote:/var/crash"\nMAKEDUMP_ARGS="-c -d 1"\n'
        'KDUMP_CMDLINE_APPEND="reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll nousb"\n'
    )
    assert (c.enabled, c.dump_target, c.dump_device) == (False, "nfs", "remote:/var/crash")
    assert (c.core_collector, c.dump_level, c.nr_cpus) == ("makedumpfile -c -d 1", 1, 1)


def test_maxcpus_counts_when_nr_cpus_is_absent() -> None:
    """maxcpus= in the append line is used when nr_cpus= is absent (Fedora's generic template)."""
    c = parse_sysconfig_kdump(
        'KDUMP_COMMANDLINE_APPEND="irqpoll maxcpus=1 reset_devices novmcoredd cma=0 hugetlb_cma=0"\n'
    )
    assert c.nr_cpus == 1


ERRORS = [
    (
        parse_kdump_conf,
        "path /var/crash\nforce_rebuild\n",
        "k:2: option 'force_rebuild' has no value (kdumpctl rejects it)",
    ),
    (
        parse_kdump_conf,
        "nfs srv:/export\nssh root@host\n",
        "k:2: more than one dump target: 'nfs' (line 1) and 'ssh'",
    ),
    (
        parse_kdump_conf,
        "core_collector makedumpfile -d 32\n",
        "k:1: dump level '32' is not a number from 0 to 31",
    ),
    (
        parse_kdump_conf,
        "core_collector makedumpfile -d\n",
        "k:1: makedumpfile '-d' without a dump level",
    ),
    (
        parse_kdump_conf,
        "core_collector makedumpfile -d '31\n",
        "k:1: core collector: No closing quotation",
    ),
    (
        parse_sysconfig_kdump,
        "KDUMP_SAVEDIR=gopher://h/x\nKDUMP_CPUS=1\n",
        "k:1: unsupported KDUMP_SAVEDIR scheme 'gopher' (expected one of cifs, file, ftp, nfs, scp, sftp, smb, ssh)",
    ),
    (parse_sysconfig_kdump, "KDUMP_CPUS=all\n", "k:1: KDUMP_CPUS must be a number, got 'all'"),
    (
        parse_sysconfig_kdump,
        "KDUMP_DUMPLEVEL=99\n",
        "k:1: dump level '99' is not a number from 0 to 31",
    ),
    (
        parse_sysconfig_kdump,
        'KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=one"\n',
        "k:1: nr_cpus='one' in KDUMP_COMMANDLINE_APPEND is not a number",
    ),
    (
        parse_kdump_tools_default,
        'NFS="remote:/var/crash"\nSSH="root@host"\n',
        "k:2: $SSH and $NFS cannot be defined concurrently (kdump-config refuses to load)",
    ),
    (parse_kdump_tools_default, "USE_KDUMP=yes\n", "k:1: USE_KDUMP must be 0 or 1, got 'yes'"),
    (
        parse_kdump_tools_default,
        'MAKEDUMP_ARGS="-c -d 31\n',
        "k:1: end of file inside a quote '\"' opened here",
    ),
]


@pytest.mark.parametrize(("parser", "text", "message"), ERRORS)
def test_error_messages(parser: object, text: str, message: str) -> None:
    """Configurations the kdump tools would reject raise a SourceError naming the line."""
    with pytest.raises(SourceError) as info:
        parser(text, path="k")  # type: ignore[operator]
    assert str(info.value) == message


@pytest.mark.property
@pytest.mark.parametrize(
    "parser", [parse_kdump_conf, parse_sysconfig_kdump, parse_kdump_tools_default]
)
@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape")),
    )
)
def test_property_any_input_parses_or_raises_source_error(parser: object, data: str) -> None:
    """For any text or surrogate-escaped bytes, each kdump config parser returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        assert isinstance(parser(data), KdumpConfig)  # type: ignore[operator]
