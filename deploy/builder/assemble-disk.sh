#!/bin/bash
# Sourced by build-in-sandbox.sh: turns the finished root filesystem into a file system image or a
# BIOS+UEFI bootable disk. The sandbox has no loop devices and may not mount anything, so every file
# system is written from a directory (mkfs.ext4 -d, mtools) and placed into the disk file with dd.
# Uses from the caller: $root, fail, and the environment
#   IMG_ROOT_SIZE_MIB IMG_ROOT_FSTYPE   from `part / --size --fstype`
#   IMG_ROOT_LABEL                      from `part / --label` (default: root)
#   IMG_BOOT_APPEND IMG_BOOT_TIMEOUT    from `bootloader --append --timeout` (seconds)
#   IMG_BOOT_APPEND_GRUB                the same --append, quoted for a GRUB script

MIB=1048576

# The newest kernel in the image and its initramfs: sets $kernel and $initrd.
find_kernel() {
  kernel=$(ls -1 "$root"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$kernel" ]; then
    echo "IMG: the image has no kernel in /boot: a bootable image needs a linux-image package (did an exclusion or a %post remove it?)"
    fail no_kernel
  fi
  initrd="$root/boot/initrd.img-${kernel##*/vmlinuz-}"
  if [ ! -f "$initrd" ]; then
    echo "IMG: the kernel ${kernel##*/} has no initramfs ${initrd##*/} in /boot (is initramfs-tools installed?)"
    fail no_kernel
  fi
  echo "IMG: kernel ${kernel##*/}, initramfs ${initrd##*/} ($(( $(stat -c %s "$initrd") / MIB )) MiB)"
}

# Kernel command line shared by every boot path: the root file system, then both consoles (the
# serial one is what the headless boot check reads), then what the kickstart asked for.
kernel_cmdline() {
  echo "root=UUID=$1 ro console=ttyS0,115200 console=tty0${IMG_BOOT_APPEND:+ $IMG_BOOT_APPEND}"
}
# The same for a GRUB `linux` line: the kickstart's part comes quoted for GRUB's script language
# (IMG_BOOT_APPEND_GRUB, see image-types.ts).
grub_cmdline() {
  echo "root=UUID=$1 ro console=ttyS0,115200 console=tty0${IMG_BOOT_APPEND_GRUB:+ $IMG_BOOT_APPEND_GRUB}"
}

# syslinux counts in tenths of a second, and its TIMEOUT 0 means "wait for ever", so a zero
# kickstart timeout becomes "no prompt" instead.
syslinux_head() {
  local t=${IMG_BOOT_TIMEOUT:-0}
  echo "SERIAL 0 115200"
  if [ "$t" -gt 0 ]; then printf 'PROMPT 1\nTIMEOUT %d\n' $((t * 10)); else echo "PROMPT 0"; fi
}

# The size the root file system needs, in MiB: every file rounded up to 4 KiB blocks, one inode
# each, plus room for the journal and ext4's own metadata. An estimate, reported when mkfs fails.
rootfs_needed_mib() {
  find "$root" -xdev -printf '%s\n' | awk -v mib=$MIB '
    { blocks += int(($1 + 4095) / 4096); files++ }
    END { bytes = blocks * 4096 + files * 256; printf "%d\n", bytes * 1.10 / mib + 72 }'
}

# An /etc/fstab that mounts the root file system by UUID, unless the kickstart's %post wrote a
# root entry of its own.
write_fstab() {
  local uuid=$1 fstype=$2
  if [ -f "$root/etc/fstab" ] && awk '!/^[[:space:]]*#/ && $2 == "/" { found = 1 } END { exit !found }' "$root/etc/fstab"; then
    echo "IMG: /etc/fstab already mounts /, left as the kickstart wrote it"
    return
  fi
  if [ -f "$root/etc/fstab" ] && grep -q 'UNCONFIGURED FSTAB' "$root/etc/fstab"; then : > "$root/etc/fstab"; fi
  printf 'UUID=%s\t/\t%s\terrors=remount-ro\t0\t1\n' "$uuid" "$fstype" >> "$root/etc/fstab"
}

# make_rootfs FILE UUID: the root file system image, exactly IMG_ROOT_SIZE_MIB large.
make_rootfs() {
  local file=$1 uuid=$2 size=${IMG_ROOT_SIZE_MIB:?} fstype=${IMG_ROOT_FSTYPE:-ext4}
  case "$fstype" in
    ext2|ext3|ext4) ;;
    *) echo "IMG: a $fstype root file system cannot be built without mounting it; use ext4, ext3 or ext2"; fail unsupported_fstype ;;
  esac
  write_fstab "$uuid" "$fstype"
  rm -f "$file"
  echo "IMG: writing a ${size} MiB $fstype root file system"
  if ! mke2fs -q -F -t "$fstype" -L "${IMG_ROOT_LABEL:-root}" -U "$uuid" -d "$root" "$file" "${size}M" 2>&1; then
    local need
    need=$(rootfs_needed_mib)
    if [ "$need" -gt "$size" ]; then
      echo "IMG: the root file system does not fit: it needs about $need MiB, and part / --size=$size is smaller"
      fail rootfs_too_big
    fi
    fail assembly_failed
  fi
  dev_fix_ext "$file" || fail assembly_failed
  local free
  free=$(dumpe2fs -h "$file" 2>/dev/null | awk -F: '/^Free blocks/ { f = $2 } /^Block count/ { b = $2 } END { if (b > 0) printf "%d", f * 100 / b }')
  echo "IMG: root file system written, ${free:-?}% free"
}

# The boot partition: FAT, so that it can be written with mtools and read by both syslinux (BIOS)
# and the UEFI firmware. It holds its own copy of the kernel and initramfs.
make_bootfs() {
  local file=$1 uuid=$2 size_mib volid
  volid=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ' | tr a-f A-F)
  size_mib=$(( ( $(stat -c %s "$kernel") + $(stat -c %s "$initrd") ) * 2 / MIB + 16 ))
  [ "$size_mib" -lt 64 ] && size_mib=64
  rm -f "$file"
  mkfs.fat -n IMGBOOT -i "$volid" -C "$file" $((size_mib * 1024)) >/dev/null || fail assembly_failed
  syslinux --install "$file" || fail assembly_failed
  local cmdline cfg=/work/boot-cfg
  cmdline=$(kernel_cmdline "$uuid")
  mkdir -p "$cfg"
  { syslinux_head; printf 'DEFAULT img\nLABEL img\n  KERNEL /vmlinuz\n  INITRD /initrd.img\n  APPEND %s\n' "$cmdline"; } > "$cfg/syslinux.cfg"
  {
    echo "set timeout=${IMG_BOOT_TIMEOUT:-0}"
    echo 'insmod all_video'
    echo 'serial --unit=0 --speed=115200'
    echo 'terminal_input serial console'
    echo 'terminal_output serial console'
    echo "search --no-floppy --set=root --fs-uuid ${volid:0:4}-${volid:4:4}"
    echo 'menuentry img {'
    echo "  linux /vmlinuz $(grub_cmdline "$uuid")"
    echo '  initrd /initrd.img'
    echo '}'
  } > "$cfg/grub.cfg"
  export MTOOLS_SKIP_CHECK=1
  mcopy -i "$file" "$kernel" ::/vmlinuz && mcopy -i "$file" "$initrd" ::/initrd.img \
    && mcopy -i "$file" "$cfg/syslinux.cfg" ::/syslinux.cfg || fail assembly_failed
  # UEFI: GRUB with its configuration built in, at the removable-media path every firmware tries.
  if [ -d /usr/lib/grub/x86_64-efi ]; then
    grub-mkstandalone -O x86_64-efi -o "$cfg/BOOTX64.EFI" \
      --modules="part_msdos fat linux normal search search_fs_uuid serial terminal echo" \
      --locales= --fonts= --themes= "boot/grub/grub.cfg=$cfg/grub.cfg" || fail assembly_failed
    mmd -i "$file" ::/EFI ::/EFI/BOOT && mcopy -i "$file" "$cfg/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI || fail assembly_failed
  fi
  boot_mib=$size_mib
}

# make_disk FILE: an MBR disk, boot partition first (active, type EF so UEFI firmware takes it
# for the system partition), the root file system after it.
make_disk() {
  local disk=$1 uuid
  uuid=$(cat /proc/sys/kernel/random/uuid)
  find_kernel
  make_bootfs /work/boot.fat "$uuid"
  make_rootfs /work/root.ext "$uuid"
  local root_start=$((1 + boot_mib)) total=$((1 + boot_mib + IMG_ROOT_SIZE_MIB))
  echo "IMG: disk of $total MiB: boot partition $boot_mib MiB, root partition $IMG_ROOT_SIZE_MIB MiB"
  rm -f "$disk"
  truncate -s "${total}M" "$disk" || fail assembly_failed
  printf 'label: dos\nunit: sectors\n\nstart=2048, size=%d, type=ef, bootable\nstart=%d, size=%d, type=83\n' \
    $((boot_mib * 2048)) $((root_start * 2048)) $((IMG_ROOT_SIZE_MIB * 2048)) \
    | sfdisk --quiet --no-reread --no-tell-kernel "$disk" || fail assembly_failed
  dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none || fail assembly_failed
  dd if=/work/boot.fat of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none || fail assembly_failed
  dd if=/work/root.ext of="$disk" bs=1M seek="$root_start" conv=notrunc,sparse status=none || fail assembly_failed
  rm -f /work/boot.fat /work/root.ext
  sfdisk --list "$disk"
}

assemble_disk_type() {
  case "$1" in
    loop)
      make_rootfs /out/image.loop "$(cat /proc/sys/kernel/random/uuid)"
      ;;
    raw)
      make_disk /out/image.raw
      ;;
    qcow2|vmdk|vdi)
      make_disk /work/disk.raw
      echo "IMG: converting the disk to $1"
      qemu-img convert -f raw -O "$1" /work/disk.raw "/out/image.$1" || fail assembly_failed
      rm -f /work/disk.raw
      qemu-img info "/out/image.$1"
      ;;
  esac
}
