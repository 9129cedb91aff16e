#!/bin/bash
# In the sandbox (arm64-research:builder): an EFI-only arm64 live ISO from /share/rootfs-TAG.tar:
# live-boot added in the chroot (under emulation), squashfs, GRUB arm64-efi standalone in a FAT
# El Torito image (also appended as GPT/MBR partition 2 for USB), xorriso. Usage: assemble-live-arm64.sh TAG
set -uo pipefail
tag=${1:-fast}
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive TMPDIR=/work/tmp MTOOLS_SKIP_CHECK=1
mkdir -p $TMPDIR /work/out
root=/work/rootfs iso=/work/iso cfg=/work/live-cfg
fail() { echo "@@IMG-FAIL $1"; exit 1; }
ts() { date +%s.%N; }
echo "@@T start $(ts)"
mkdir -p $root
tar --numeric-owner --xattrs --xattrs-include='*' -xpf /share/rootfs-$tag.tar -C $root || fail untar
chroot $root apt-get update -q >/dev/null && chroot $root apt-get install -y -q --no-install-recommends live-boot || fail live-boot
chroot $root apt-get clean
echo "@@T live-boot-installed $(ts)"
kernel=$(ls -1 $root/boot/vmlinuz-* | sort -V | tail -n 1); initrd=$root/boot/initrd.img-${kernel##*/vmlinuz-}
chroot $root lsinitramfs /boot/${initrd##*/} | grep -x 'scripts/live' || fail no-live-in-initramfs
mkdir -p $iso/live $iso/boot $cfg
cp $kernel $iso/live/vmlinuz && cp $initrd $iso/live/initrd.img || fail copy
: > $iso/live/IMG-LIVE
. /opt/img/dev-nodes.sh
devp=() deve=()
while read -r n maj min; do devp+=(-p "/dev/$n c 666 0 0 $maj $min"); deve+=("dev/$n"); done <<<"$DEV_NODES"
mksquashfs $root $iso/live/filesystem.squashfs -comp zstd -Xcompression-level 6 -noappend -no-progress -quiet \
  "${devp[@]}" -wildcards -e 'proc/*' 'sys/*' 'tmp/*' 'run/*' "${deve[@]}" || fail mksquashfs
echo "@@T squashfs $(ts) $(stat -c %s $iso/live/filesystem.squashfs)"
cat > $cfg/grub.cfg <<'CFG'
set timeout=0
search --no-floppy --set=root --file /live/IMG-LIVE
menuentry live {
  linux /live/vmlinuz boot=live console=ttyAMA0,115200
  initrd /live/initrd.img
}
CFG
grub-mkstandalone -O arm64-efi -d /usr/lib/grub/arm64-efi -o $cfg/BOOTAA64.EFI \
  --modules="part_gpt part_msdos iso9660 fat linux normal search search_fs_file echo" \
  --install-modules="part_gpt part_msdos iso9660 fat linux normal search search_fs_file search_fs_uuid echo configfile test" \
  --locales= --fonts= --themes= "boot/grub/grub.cfg=$cfg/grub.cfg" || fail grub-mkstandalone
mkfs.fat -C $iso/boot/efi.img $(( $(stat -c %s $cfg/BOOTAA64.EFI) / 1024 + 512 )) >/dev/null || fail mkfs.fat
mmd -i $iso/boot/efi.img ::/EFI ::/EFI/BOOT && mcopy -i $iso/boot/efi.img $cfg/BOOTAA64.EFI ::/EFI/BOOT/BOOTAA64.EFI || fail mcopy
xorriso -as mkisofs -quiet -o /work/out/live-arm64.iso -R -J -joliet-long -iso-level 3 -V IMG_LIVE \
  -e boot/efi.img -no-emul-boot -append_partition 2 0xef $iso/boot/efi.img -partition_cyl_align all \
  $iso || fail xorriso
xorriso -indev /work/out/live-arm64.iso -report_el_torito plain 2>/dev/null
cp /work/out/live-arm64.iso /share/ || fail copy-out
ls -l /share/live-arm64.iso
echo "@@T end $(ts)"
echo "@@CPU container cpu total: $(( $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || echo 0) / 1000000000 )) s"
