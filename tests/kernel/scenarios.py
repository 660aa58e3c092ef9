"""The real-kernel scenarios: each is booted twice under QEMU, once without ``crashkernel=``
(that capture is crashplan's source) and once with it (that boot is the truth).

QEMU's ``pc`` machine gives RAM from 1 MiB to 0xbffe0000 below 4 GiB when the guest has at
least 3.5 GiB, the rest from 4 GiB up; ``memmap=SIZE$ADDR`` cuts reserved holes into it.
"""

from __future__ import annotations

from dataclasses import dataclass

G = 1 << 30
M = 1 << 20

# Cuts [512M, 3G) out of low memory so that CMA cannot fall back to it.
LOW_CUT = "memmap=2560M$0x20000000"


@dataclass(frozen=True)
class Scenario:
    """One boot parameter on one machine; ``kaslr`` scenarios compare sizes and verdicts only."""

    name: str
    ram: int
    crashkernel: str
    extra: str = ""
    kaslr: bool = False
    numa: int = 1

    def base_append(self) -> str:
        """The command line of the capture boot (no crashkernel=)."""
        words = [self.extra] if self.extra else []
        if not self.kaslr:
            words.append("nokaslr")
        return " ".join(words)

    def truth_append(self) -> str:
        """The command line of the truth boot."""
        return f"{self.base_append()} {self.crashkernel}".strip()


SCENARIOS = [
    # RAM from 512 MiB to 64 GiB, plain sizes
    Scenario("512m-64m", 512 * M, "crashkernel=64M"),
    Scenario("512m-256m", 512 * M, "crashkernel=256M"),
    Scenario("1g-256m", 1 * G, "crashkernel=256M"),
    Scenario("2g-256m", 2 * G, "crashkernel=256M"),
    Scenario("2g-1900m-cannot-fit", 2 * G, "crashkernel=1900M"),
    Scenario("4g-256m", 4 * G, "crashkernel=256M"),
    Scenario("4g-2g", 4 * G, "crashkernel=2G"),
    Scenario("4g-3g-nowhere", 4 * G, "crashkernel=3G"),
    Scenario("8g-4g-falls-back-high", 8 * G, "crashkernel=4G"),
    Scenario("64g-256m", 64 * G, "crashkernel=256M"),
    # fixed offsets
    Scenario("4g-at-512m", 4 * G, "crashkernel=256M@512M"),
    Scenario("4g-at-16m-kernel-image", 4 * G, "crashkernel=256M@16M"),
    Scenario("4g-at-8m-unaligned", 4 * G, "crashkernel=64M@8M"),
    # ,high and ,low
    Scenario("8g-512m-high", 8 * G, "crashkernel=512M,high"),
    Scenario("8g-512m-high-128m-low", 8 * G, "crashkernel=512M,high crashkernel=128M,low"),
    Scenario("8g-512m-high-0-low", 8 * G, "crashkernel=512M,high crashkernel=0,low"),
    Scenario("4g-2g-high-falls-back-low", 4 * G, "crashkernel=2G,high"),
    Scenario("64g-1g-high-2-nodes", 64 * G, "crashkernel=1G,high", numa=2),
    # ranges at their boundaries (system RAM rounds up to 128M)
    Scenario("2g-ranges-rounds-to-2g", 2 * G, "crashkernel=512M-2G:64M,2G-:128M"),
    Scenario("1g-ranges-first", 1 * G, "crashkernel=1G-4G:192M,4G-:256M"),
    Scenario("4g-ranges-rhel", 4 * G, "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"),
    Scenario("64g-ranges-rhel", 64 * G, "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"),
    Scenario("512m-ranges-no-match", 512 * M, "crashkernel=1G-:256M"),
    # invalid strings and several tokens
    Scenario("2g-256mb-invalid", 2 * G, "crashkernel=256MB"),
    Scenario("2g-bogus", 2 * G, "crashkernel=bogus"),
    Scenario("2g-invalid-last-token", 2 * G, "crashkernel=256M crashkernel=bogus"),
    Scenario("2g-last-wins", 2 * G, "crashkernel=64M crashkernel=128M"),
    Scenario("2g-octal", 2 * G, "crashkernel=0256M"),
    Scenario("4g-cma-alone", 4 * G, "crashkernel=1G,cma"),
    # memmap= holes that fragment the low 4 GiB
    Scenario("4g-hole-1g", 4 * G, "crashkernel=512M", extra="memmap=1G$0x80000000"),
    Scenario("4g-two-holes", 4 * G, "crashkernel=768M", extra="memmap=512M$0x40000000 memmap=512M$0x90000000"),
    Scenario("4g-holes-nothing-fits-low", 4 * G, "crashkernel=900M", extra="memmap=1G$0x40000000 memmap=1G$0x90000000"),
    # ,cma: one range, split into 2, 3 and 4 ranges, and a partial result
    Scenario("16g-cma-1-range", 16 * G, "crashkernel=128M crashkernel=1G,cma"),
    Scenario("4g-cma-falls-to-low", 4 * G, "crashkernel=128M crashkernel=1G,cma"),
    Scenario("8g-cma-2-ranges", 8 * G, "crashkernel=3G,cma crashkernel=64M", extra=f"{LOW_CUT} memmap=256M$0x180000000"),
    Scenario(
        "8g-cma-3-ranges",
        8 * G,
        "crashkernel=3G,cma crashkernel=64M",
        extra=f"{LOW_CUT} memmap=512M$0x160000000 memmap=512M$0x1c0000000 memmap=512M$0x220000000",
    ),
    Scenario(
        "8g-cma-4-ranges",
        8 * G,
        "crashkernel=2G,cma crashkernel=64M",
        extra=f"{LOW_CUT} memmap=256M$0x120000000 memmap=256M$0x150000000 memmap=256M$0x180000000 memmap=2G$0x1c0000000",
    ),
    Scenario(
        "8g-cma-partial",
        8 * G,
        "crashkernel=2G,cma crashkernel=64M",
        extra=f"{LOW_CUT} memmap=256M$0x120000000 memmap=256M$0x150000000 memmap=256M$0x170000000 memmap=2816M$0x190000000",
    ),
    # KASLR: sizes and verdicts only
    Scenario("kaslr-4g-256m", 4 * G, "crashkernel=256M", kaslr=True),
    Scenario("kaslr-8g-512m-high", 8 * G, "crashkernel=512M,high", kaslr=True),
    Scenario("kaslr-16g-cma", 16 * G, "crashkernel=128M crashkernel=1G,cma", kaslr=True),
    Scenario("kaslr-2g-1900m", 2 * G, "crashkernel=1900M", kaslr=True),
]


def boots() -> list[tuple[int, str, int]]:
    """Every distinct (ram, append, numa) boot the scenarios need."""
    seen = {}
    for s in SCENARIOS:
        for append in (s.base_append(), s.truth_append()):
            seen[(s.ram, append, s.numa)] = None
    return list(seen)
