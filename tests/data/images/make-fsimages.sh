#!/bin/sh
# Rebuild the squashfs and erofs fixtures (tests/data/images/PROVENANCE.md).
# Needs Debian's squashfs-tools and erofs-utils (apt-get install squashfs-tools erofs-utils).
set -eu
out=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/usr/lib/modules"
python3 - "$root" <<'PY'
import random, sys
root = sys.argv[1]
rng = random.Random(17)
open(f"{root}/bin/busybox", "wb").write(bytes(rng.getrandbits(8) for _ in range(20000)))
open(f"{root}/etc/numbers", "w").write("".join(f"{i}\n" for i in range(1, 12001)))
open(f"{root}/usr/lib/modules/mod.ko", "wb").write(b"\x7fELF" + bytes(9000))
open(f"{root}/etc/empty", "w").close()
open(f"{root}/init", "w").write("#!/bin/sh\nexec /bin/busybox sh\n")
PY
ln -s busybox "$root/bin/sh"
ln "$root/bin/busybox" "$root/bin/busybox.hardlink"
ln -s "$(printf 'x%.0s' $(seq 1 200))" "$root/etc/longlink"
find "$root" -exec touch -h -d @0 {} +
for comp in gzip xz zstd lz4; do
    mksquashfs "$root" "$out/root-$comp.squashfs" -comp "$comp" -noappend -all-root \
        -mkfs-time 0 -all-time 0 -no-progress -quiet
done
mkfs.erofs --all-root -T0 -U 00000000-0000-0000-0000-000000000017 "$out/root-plain.erofs" "$root" >/dev/null
mkfs.erofs --all-root -T0 -U 00000000-0000-0000-0000-000000000017 -zlz4hc "$out/root-lz4hc.erofs" "$root" >/dev/null
