#!/bin/bash
# build-rootfs.sh with the emulation speed-ups of FINDINGS.md section 5:
#  - QEMU_CPU (set by the caller, e.g. cortex-a72): qemu-user emulates a CPU without pointer
#    authentication, so trixie's PAC/BTI-built binaries do not pay for QARMA in software;
#  - INITRD=No while the packages are installed: the kernel's postinst.d hook makes no initramfs,
#    and the initramfs-tools trigger finds none to update; one update-initramfs -c -k all at the end;
#  - zstd in the image, so mkinitramfs uses its default COMPRESS=zstd instead of falling back to gzip;
#  - dpkg's log kept (before mmdebstrap's cleanup removes it), for the timings.
# Usage: build-rootfs-fast.sh ARCH INCLUDE TAG [extra mmdebstrap args]
arch=$1 include=$2 tag=$3; shift 3
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive TMPDIR=/work/tmp
mkdir -p $TMPDIR
ts() { date +%s.%N; }
echo "@@T QEMU_CPU=${QEMU_CPU:-} INITRD=${INITRD:-}"
s=$(ts)
mmdebstrap --mode=root --arch="$arch" --variant=minbase --skip=check/empty --include="$include" "$@" \
  --extract-hook='echo "@@T extracted $(date +%s.%N)"' \
  --essential-hook='echo "@@T essential-done $(date +%s.%N)"' \
  --customize-hook='echo "@@T customize $(date +%s.%N)"' \
  --customize-hook='if [ "${INITRD:-}" = No ]; then chroot "$1" env -u INITRD update-initramfs -c -k all; fi' \
  --customize-hook='echo "@@T initramfs-done $(date +%s.%N)"' \
  --customize-hook='cp "$1/var/log/dpkg.log" /share/dpkg-'"$tag"'.log || true' \
  trixie /work/rootfs || { echo "@@T mmdebstrap failed"; exit 1; }
e=$(ts)
echo "@@T mmdebstrap total $(( ${e%.*} - ${s%.*} )) s"
ls -l /work/rootfs/boot
[ -n "${SAVE_TAR:-}" ] && tar --numeric-owner --xattrs --xattrs-include='*' --exclude='./dev/*' -C /work/rootfs -cf /share/rootfs-$tag.tar .
echo "@@T end $(ts)"
echo "@@CPU container cpu total: $(( $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || echo 0) / 1000000000 )) s"
