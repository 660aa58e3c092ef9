"""Pure parsers, one per kernel or distribution file: text in, frozen value out, no I/O.

Every parser is ``parse_x(text, *, path=...) -> X``; ``path`` only names the source in error
messages.  Garbled, truncated or binary input raises :class:`crashplan.errors.SourceError`
with the 1-based line at fault, never another exception.  Sizes and addresses are ``int``
bytes and ranges half-open ``[start, end)`` (:class:`crashplan.values.MemRange`); a field the
file does not have is ``None``, never 0.  Reading files is the job of ``crashplan.host.sources``.

=================  ===================================================  ========================
module             file                                                 kernel / tool source
=================  ===================================================  ========================
``iomem``          ``/proc/iomem``                                      kernel/resource.c
``meminfo``        ``/proc/meminfo``                                    fs/proc/meminfo.c
``cmdline``        ``/proc/cmdline``, boot-loader option strings        lib/cmdline.c
``buddyinfo``      ``/proc/buddyinfo``                                  mm/vmstat.c
``zoneinfo``       ``/proc/zoneinfo``                                   mm/vmstat.c
``cpulist``        ``/sys/devices/system/cpu/{online,possible,...}``    lib/bitmap-str.c
``sysfs``          ``/sys/kernel/kexec_crash_{size,loaded,cma_ranges}``  kernel/ksysfs.c
``osrelease``      ``/etc/os-release``                                  os-release(5)
``kdumpconf``      ``/etc/kdump.conf``, ``/etc/sysconfig/kdump``,       kdump-utils, openSUSE
                   ``/etc/default/kdump-tools``                         kdump, kdump-tools
``memencrypt``     the kernel log, ``/sys/kernel/mm/mem_encrypt``       arch/x86/mm/mem_encrypt.c
``pcidrivers``     ``/sys/bus/pci/drivers/*/``                          drivers/base/bus.c
``iommu``          ``/sys/class/iommu``, ``/sys/devices/platform``      drivers/iommu/iommu-sysfs.c
``luksdump``       ``cryptsetup luksDump`` output                       cryptsetup lib/luks2
``kmsg``           ``/dev/kmsg`` records                                 Documentation/ABI dev-kmsg
``fsimage``        squashfs/erofs images in a kdump initrd              fs/squashfs, fs/erofs
``sosreport``      ``sos_commands/{kdump,boot}/...`` of a sosreport     sos, kdumpctl, lsinitrd
``mountinfo``      ``/proc/self/mountinfo``                             fs/proc_namespace.c
``blockdevs``      ``/sys/block/*/{dev,dm/uuid,slaves}``                block/genhd.c, dm-sysfs.c
``kernelrelease``  ``/proc/sys/kernel/osrelease``, ``/proc/version``     kernel/utsname_sysctl.c
``dmesg``          the kernel log                                       kernel/crash_reserve.c
``images``         kernel images (bzImage, arm64 Image, ELF)            arch/x86/boot/header.S
``initrd``         initrd segments and their compressions               init/initramfs.c
``cpio``           newc cpio archives in an initrd                      usr/gen_init_cpio.c
=================  ===================================================  ========================

Import the submodules directly (``from crashplan.host.formats.iomem import parse_iomem``); this
package imports none of them, so importing one parser costs only that parser.
"""

from __future__ import annotations

__all__ = [
    "blockdevs",
    "buddyinfo",
    "cmdline",
    "cpulist",
    "fsimage",
    "iomem",
    "iommu",
    "kdumpconf",
    "kmsg",
    "luksdump",
    "memencrypt",
    "meminfo",
    "mountinfo",
    "osrelease",
    "pcidrivers",
    "sosreport",
    "sysfs",
    "zoneinfo",
]
