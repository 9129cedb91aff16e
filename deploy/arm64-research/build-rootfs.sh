#!/bin/bash
# In the sandbox: a bootable trixie rootfs as build-in-sandbox.sh would make it (root mode, minbase,
# device nodes bound in), timed by phase; saved as /share/rootfs-ARCH.tar. Usage: build-rootfs.sh ARCH INCLUDE [extra args]
arch=$1 include=$2; shift 2
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive TMPDIR=/work/tmp
mkdir -p $TMPDIR
ts() { date +%s.%N; }
s=$(ts)
mmdebstrap --mode=root --arch="$arch" --variant=minbase --skip=check/empty --include="$include" "$@" \
  --extract-hook='echo "@@T extracted $(date +%s.%N)"' \
  --essential-hook='echo "@@T essential-done $(date +%s.%N)"' \
  --customize-hook='echo "@@T customize $(date +%s.%N)"' \
  trixie /work/rootfs || { echo "@@T mmdebstrap failed"; exit 1; }
e=$(ts)
python3 -c "print('@@T mmdebstrap total %.1f s' % ($e-$s))" 2>/dev/null || echo "@@T start $s end $e"
cp /work/rootfs/var/log/dpkg.log /share/dpkg-$arch.log
ls -l /work/rootfs/boot
du -sh --exclude=./dev /work/rootfs
tar --numeric-owner --xattrs --xattrs-include='*' --exclude='./dev/*' -C /work/rootfs -cf /share/rootfs-$arch.tar .
echo "@@T tar done $(ts)"
