#!/bin/bash
# In the sandbox (arm64-research:builder): an arm64 UEFI disk from /share/rootfs-arm64.tar, without loop
# devices or mounts: GPT (sfdisk), ESP = FAT made by mkfs.fat on a file + mtools, holding
# /EFI/BOOT/BOOTAA64.EFI (grub-mkstandalone -O arm64-efi, grub.cfg built in) and the kernel and
# initramfs; root ext4 by mke2fs -d. Reuses the builder's own assemble-disk.sh for the root fs.
# Usage: assemble-arm64.sh [ROOT_SIZE_MIB] [TAG]   (reads /share/rootfs-TAG.tar, default arm64; writes /share/image-TAG.raw/.qcow2)
set -uo pipefail
export LC_ALL=C.UTF-8 TMPDIR=/work/tmp MTOOLS_SKIP_CHECK=1
mkdir -p $TMPDIR /work/out
root=/work/rootfs
fail() { echo "@@IMG-FAIL $1"; exit 1; }
ts() { date +%s.%N; }
t0=$(ts)
mkdir -p $root
tar --numeric-owner --xattrs --xattrs-include='*' -xpf /share/rootfs-${2:-arm64}.tar -C $root || fail untar
echo "@@T untar $(ts)"
. /opt/img/dev-nodes.sh
. /opt/img/assemble-disk.sh
IMG_ROOT_SIZE_MIB=${1:-1024}
# arm64 "virt": the serial console is the PL011, ttyAMA0 (ttyS0 does not exist there).
kernel_cmdline() { echo "root=UUID=$1 ro console=ttyAMA0,115200${IMG_BOOT_APPEND:+ $IMG_BOOT_APPEND}"; }

make_esp_arm64() {
  local file=$1 uuid=$2 size_mib volid cfg=/work/boot-cfg
  volid=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ' | tr a-f A-F)
  size_mib=$(( ( $(stat -c %s "$kernel") + $(stat -c %s "$initrd") ) * 2 / MIB + 16 ))
  [ "$size_mib" -lt 64 ] && size_mib=64
  rm -f "$file"
  mkfs.fat -F 32 -n IMGBOOT -i "$volid" -C "$file" $((size_mib * 1024)) >/dev/null || fail mkfs.fat
  mkdir -p "$cfg"
  {
    echo "set timeout=${IMG_BOOT_TIMEOUT:-0}"
    # On arm64-efi GRUB's console is the firmware's, which QEMU's virt puts on the serial port.
    echo "search --no-floppy --set=root --fs-uuid ${volid:0:4}-${volid:4:4}"
    echo 'menuentry img {'
    echo "  linux /vmlinuz $(kernel_cmdline "$uuid")"
    echo '  initrd /initrd.img'
    echo '}'
  } > "$cfg/grub.cfg"
  cat "$cfg/grub.cfg"
  grub-mkstandalone -O arm64-efi -d /usr/lib/grub/arm64-efi -o "$cfg/BOOTAA64.EFI" \
    --modules="part_gpt fat linux normal search search_fs_uuid echo" \
    --install-modules="part_gpt part_msdos fat linux normal search search_fs_uuid search_fs_file echo configfile test" \
    --locales= --fonts= --themes= "boot/grub/grub.cfg=$cfg/grub.cfg" || fail grub-mkstandalone
  ls -l "$cfg/BOOTAA64.EFI"
  mcopy -i "$file" "$kernel" ::/vmlinuz && mcopy -i "$file" "$initrd" ::/initrd.img \
    && mmd -i "$file" ::/EFI ::/EFI/BOOT && mcopy -i "$file" "$cfg/BOOTAA64.EFI" ::/EFI/BOOT/BOOTAA64.EFI || fail mcopy
  mdir -i "$file" -/ :: | tail -12
  boot_mib=$size_mib
}

make_disk_gpt() {
  local disk=$1 uuid
  uuid=$(cat /proc/sys/kernel/random/uuid)
  find_kernel
  make_esp_arm64 /work/boot.fat "$uuid"; echo "@@T esp $(ts)"
  make_rootfs /work/root.ext "$uuid"; echo "@@T rootfs $(ts)"
  # GPT: 1 MiB in front, 1 MiB behind for the backup header.
  local root_start=$((1 + boot_mib)) total=$((1 + boot_mib + IMG_ROOT_SIZE_MIB + 1))
  rm -f "$disk"
  truncate -s "${total}M" "$disk" || fail truncate
  printf 'label: gpt\nunit: sectors\n\nstart=2048, size=%d, type=U, name="EFI"\nstart=%d, size=%d, type=L, name="root"\n' \
    $((boot_mib * 2048)) $((root_start * 2048)) $((IMG_ROOT_SIZE_MIB * 2048)) \
    | sfdisk --quiet --no-reread --no-tell-kernel "$disk" || fail sfdisk
  dd if=/work/boot.fat of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none || fail dd
  dd if=/work/root.ext of="$disk" bs=1M seek="$root_start" conv=notrunc,sparse status=none || fail dd
  rm -f /work/boot.fat /work/root.ext
  sfdisk --list "$disk"
}

make_disk_gpt /work/out/image.raw
echo "@@T disk $(ts)"
qemu-img convert -f raw -O qcow2 /work/out/image.raw /work/out/image.qcow2 || fail qemu-img
echo "@@T qcow2 $(ts)"
cp --sparse=always /work/out/image.raw /share/image-${2:-arm64}.raw && cp /work/out/image.qcow2 /share/image-${2:-arm64}.qcow2 || fail copy-out
ls -ls /share/image-${2:-arm64}.*
echo "@@T done start $t0 end $(ts)"
echo "@@CPU container cpu total: $(( $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || echo 0) / 1000000000 )) s"
