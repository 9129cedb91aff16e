#!/bin/bash
# In the sandbox: a minbase trixie rootfs the way build-in-sandbox.sh makes it. Usage: mm-test.sh ARCH [extra mmdebstrap args]
arch=$1; shift
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive TMPDIR=/work/tmp
mkdir -p $TMPDIR
s=$(date +%s.%N)
mmdebstrap --mode=root --arch=$arch --variant=minbase --skip=check/empty "$@" \
  --extract-hook='echo "@@T extracted $(date +%s.%N)"' \
  --essential-hook='echo "@@T essential-done $(date +%s.%N)"' \
  --customize-hook='echo "@@T customize $(date +%s.%N)"' \
  trixie /work/rootfs
rc=$?
e=$(date +%s.%N)
echo "@@T start $s end $e rc $rc total $(echo "$e - $s" | bc 2>/dev/null || python3 -c "print($e-$s)")"
du -sh --exclude=dev /work/rootfs 2>/dev/null; ls /work/rootfs/usr/bin/qemu* 2>&1
file /work/rootfs/usr/bin/dpkg 2>/dev/null || head -c 20 /work/rootfs/usr/bin/dpkg | od -c | head -2
chroot /work/rootfs uname -m; chroot /work/rootfs dpkg --print-architecture
