#!/bin/bash
# Sourced by build-in-sandbox.sh: turns the finished root filesystem into a file system image or a
# BIOS+UEFI bootable disk. The sandbox has no loop devices and may not mount anything, so every file
# system is written from a directory (mkfs.ext4 -d, mtools) and placed into the disk file with dd.
# Uses from the caller: $root, fail, and the environment
#   IMG_ROOT_SIZE_MIB IMG_ROOT_FSTYPE   from `part / --size --fstype`
#   IMG_ROOT_LABEL                      from `part / --label` (default: root)
#   IMG_BOOT_APPEND IMG_BOOT_TIMEOUT    from `bootloader --append --timeout` (seconds)
#   IMG_BOOT_APPEND_GRUB                the same --append, quoted for a GRUB script
#   IMG_ARCH                            amd64 (the default): an MBR disk that boots with BIOS (syslinux)
#                                       and UEFI (GRUB); arm64: a GPT disk with an EFI system partition
#                                       that boots with UEFI only (arm64 has no BIOS)

MIB=1048576
ARCH=${IMG_ARCH:-amd64}
# The serial console the boot check reads, by architecture: the PC's first UART, or the PL011 of
# arm64's `virt` machine and most arm64 boards (arm64 has no ttyS0 there, and no VGA console).
case "$ARCH" in
  arm64) CONSOLES='console=ttyAMA0,115200' ;;
  *) CONSOLES='console=ttyS0,115200 console=tty0' ;;
esac

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
  echo "root=UUID=$1 ro $CONSOLES${IMG_BOOT_APPEND:+ $IMG_BOOT_APPEND}"
}
# The same for a GRUB `linux` line: the kickstart's part comes quoted for GRUB's script language
# (IMG_BOOT_APPEND_GRUB, see image-types.ts).
grub_cmdline() {
  echo "root=UUID=$1 ro $CONSOLES${IMG_BOOT_APPEND_GRUB:+ $IMG_BOOT_APPEND_GRUB}"
}

# grub_efi CFG OUT: GRUB for the image's architecture as one EFI program with CFG built in, for the
# removable-media path every firmware tries (EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI). GRUB's own
# modules come from the builder (the arm64 ones are a multi-architecture package of data there).
# On arm64 GRUB writes to the firmware's console, which is the serial port: no serial module.
# What grub-mkstandalone makes (a memdisk holding grub.cfg and every module, some of them built in),
# but written deterministically: grub-mkstandalone dates the memdisk's entries with the time it runs,
# so two runs on one input differ; here the memdisk is a tar in name order with every entry dated
# SOURCE_DATE_EPOCH, given to grub-mkimage.
grub_efi() {
  local cfg=$1 out=$2 target mods md=/work/grub-memdisk
  case "$ARCH" in
    arm64) target=arm64-efi; mods="part_gpt part_msdos fat iso9660 linux normal search search_fs_uuid search_fs_file echo" ;;
    *) target=x86_64-efi; mods="part_msdos part_gpt fat iso9660 linux normal search search_fs_uuid search_fs_file serial terminal echo" ;;
  esac
  rm -rf "$md" && mkdir -p "$md/boot/grub/$target" || return 1
  cp /usr/lib/grub/$target/*.mod /usr/lib/grub/$target/*.lst "$md/boot/grub/$target/" && cp "$cfg" "$md/boot/grub/grub.cfg" || return 1
  tar --sort=name --mtime="@${SOURCE_DATE_EPOCH:-0}" --owner=0 --group=0 --numeric-owner --format=ustar \
    -C "$md" -cf "$md.tar" boot || return 1
  # shellcheck disable=SC2086
  grub-mkimage -O "$target" -d "/usr/lib/grub/$target" -p '(memdisk)/boot/grub' -m "$md.tar" -o "$out" memdisk tar $mods || return 1
  rm -rf "$md" "$md.tar"
}

# GRUB's console lines: on amd64 both the serial port and the screen; on arm64 the firmware console.
grub_console() {
  [ "$ARCH" = arm64 ] && return 0
  echo 'insmod all_video'
  echo 'serial --unit=0 --speed=115200'
  echo 'terminal_input serial console'
  echo 'terminal_output serial console'
}

efi_name() { if [ "$ARCH" = arm64 ]; then echo BOOTAA64.EFI; else echo BOOTX64.EFI; fi; }

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

# The serial console's login prompt waits for its device as long as the boot takes. systemd gives
# a device 90 s to appear before it drops the getty bound to it, and udev's first pass can take
# longer than that on a slow or emulated machine (arm64 under TCG on a busy host): the system came
# up, but without a login prompt on the console the boot check and a person read. Left alone if
# the kickstart wrote a drop-in of its own.
serial_console_wait() {
  local tty
  for tty in $CONSOLES; do
    tty=${tty#console=}; tty=${tty%%,*}
    case "$tty" in ttyS*|ttyAMA*) ;; *) continue ;; esac
    local d="$root/etc/systemd/system/dev-$tty.device.d"
    [ -e "$d/img-console-wait.conf" ] && continue
    mkdir -p "$d"
    printf '[Unit]\nJobRunningTimeoutSec=15min\n' > "$d/img-console-wait.conf"
  done
}

# make_rootfs FILE UUID: the root file system image, exactly IMG_ROOT_SIZE_MIB large.
make_rootfs() {
  local file=$1 uuid=$2 size=${IMG_ROOT_SIZE_MIB:?} fstype=${IMG_ROOT_FSTYPE:-ext4}
  case "$fstype" in
    ext2|ext3|ext4) ;;
    *) echo "IMG: a $fstype root file system cannot be built without mounting it; use ext4, ext3 or ext2"; fail unsupported_fstype ;;
  esac
  write_fstab "$uuid" "$fstype"
  serial_console_wait
  rm -f "$file"
  echo "IMG: writing a ${size} MiB $fstype root file system"
  # Reproducible: the directory hash seed from the request, every time SOURCE_DATE_EPOCH (the file
  # system's own through E2FSPROGS_FAKE_TIME, the files' clamped to it before they are copied in).
  repro_clamp_tree "$root"
  if ! E2FSPROGS_FAKE_TIME=${SOURCE_DATE_EPOCH:-} mke2fs -q -F -t "$fstype" -L "${IMG_ROOT_LABEL:-root}" -U "$uuid" \
      -E "hash_seed=$(repro_uuid ext-hash-seed)" -d "$root" "$file" "${size}M" 2>&1; then
    local need
    need=$(rootfs_needed_mib)
    if [ "$need" -gt "$size" ]; then
      echo "IMG: the root file system does not fit: it needs about $need MiB, and part / --size=$size is smaller"
      fail rootfs_too_big
    fi
    fail assembly_failed
  fi
  E2FSPROGS_FAKE_TIME=${SOURCE_DATE_EPOCH:-} dev_fix_ext "$file" || fail assembly_failed
  repro_ext_ctimes "$root" "$file"
  repro_ext_wtime "$file" || fail assembly_failed
  local free
  free=$(dumpe2fs -h "$file" 2>/dev/null | awk -F: '/^Free blocks/ { f = $2 } /^Block count/ { b = $2 } END { if (b > 0) printf "%d", f * 100 / b }')
  echo "IMG: root file system written, ${free:-?}% free"
}

# The boot partition: FAT, so that it can be written with mtools and read by syslinux (BIOS, amd64)
# and the UEFI firmware. It holds its own copy of the kernel and initramfs. On arm64 it is the EFI
# system partition of a GPT disk, FAT32 as the UEFI specification asks, and there is no syslinux.
make_bootfs() {
  local file=$1 uuid=$2 size_mib volid fat=()
  volid=$(repro_hex fat-volume-id 8 | tr a-f A-F)
  size_mib=$(( ( $(stat -c %s "$kernel") + $(stat -c %s "$initrd") ) * 2 / MIB + 16 ))
  [ "$size_mib" -lt 64 ] && size_mib=64
  [ "$ARCH" = arm64 ] && fat=(-F 32)
  rm -f "$file"
  # --invariant: no time in the boot sector or the volume label (the volume id is the request's, -i);
  # mtools stamps what it writes with SOURCE_DATE_EPOCH.
  mkfs.fat "${fat[@]}" --invariant -n IMGBOOT -i "$volid" -C "$file" $((size_mib * 1024)) >/dev/null || fail assembly_failed
  local cmdline cfg=/work/boot-cfg
  cmdline=$(kernel_cmdline "$uuid")
  mkdir -p "$cfg"
  export MTOOLS_SKIP_CHECK=1
  if [ "$ARCH" != arm64 ]; then
    syslinux --install "$file" || fail assembly_failed
    { syslinux_head; printf 'DEFAULT img\nLABEL img\n  KERNEL /vmlinuz\n  INITRD /initrd.img\n  APPEND %s\n' "$cmdline"; } > "$cfg/syslinux.cfg"
    mcopy -i "$file" "$cfg/syslinux.cfg" ::/syslinux.cfg || fail assembly_failed
  fi
  {
    echo "set timeout=${IMG_BOOT_TIMEOUT:-0}"
    grub_console
    echo "search --no-floppy --set=root --fs-uuid ${volid:0:4}-${volid:4:4}"
    echo 'menuentry img {'
    echo "  linux /vmlinuz $(grub_cmdline "$uuid")"
    echo '  initrd /initrd.img'
    echo '}'
  } > "$cfg/grub.cfg"
  mcopy -i "$file" "$kernel" ::/vmlinuz && mcopy -i "$file" "$initrd" ::/initrd.img || fail assembly_failed
  # UEFI: GRUB with its configuration built in, at the removable-media path every firmware tries.
  grub_efi "$cfg/grub.cfg" "$cfg/$(efi_name)" || fail assembly_failed
  mmd -i "$file" ::/EFI ::/EFI/BOOT && mcopy -i "$file" "$cfg/$(efi_name)" "::/EFI/BOOT/$(efi_name)" || fail assembly_failed
  boot_mib=$size_mib
}

# zstd_done START FILE: says how large the compressed FILE is and how long since START (date +%s.%N) it took.
zstd_done() {
  echo "IMG: compressed with zstd to $(stat -c %s "$2") bytes in $(awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

# make_disk FILE [ZST]: the boot partition first, the root file system after it; with ZST, only the
# disk's zstd-compressed form, as ZST (FILE holds the partition table only, and goes). amd64: an MBR disk, the
# boot partition active and of type EF (so UEFI firmware takes it for the system partition), with
# syslinux's MBR code for BIOS. arm64: a GPT disk (its backup header needs the last MiB), the boot
# partition an EFI system partition.
make_disk() {
  local disk=$1 uuid
  uuid=$(repro_uuid root-fs)
  find_kernel
  make_bootfs /work/boot.fat "$uuid"
  make_rootfs /work/root.ext "$uuid"
  local root_start=$((1 + boot_mib)) total=$((1 + boot_mib + IMG_ROOT_SIZE_MIB)) table
  [ "$ARCH" = arm64 ] && total=$((total + 1))
  echo "IMG: disk of $total MiB: boot partition $boot_mib MiB, root partition $IMG_ROOT_SIZE_MIB MiB"
  rm -f "$disk"
  truncate -s "${total}M" "$disk" || fail assembly_failed
  if [ "$ARCH" = arm64 ]; then
    table=$(printf 'label: gpt\nlabel-id: %s\nunit: sectors\n\nstart=2048, size=%d, type=U, name="EFI", uuid=%s\nstart=%d, size=%d, type=L, name="root", uuid=%s\n' \
      "$(repro_uuid gpt-disk)" $((boot_mib * 2048)) "$(repro_uuid gpt-efi)" $((root_start * 2048)) $((IMG_ROOT_SIZE_MIB * 2048)) "$(repro_uuid gpt-root)")
  else
    table=$(printf 'label: dos\nlabel-id: 0x%s\nunit: sectors\n\nstart=2048, size=%d, type=ef, bootable\nstart=%d, size=%d, type=83\n' \
      "$(repro_hex mbr-disk-id 8)" $((boot_mib * 2048)) $((root_start * 2048)) $((IMG_ROOT_SIZE_MIB * 2048)))
  fi
  sfdisk --quiet --no-reread --no-tell-kernel "$disk" <<<"$table" || fail assembly_failed
  if [ "$ARCH" != arm64 ]; then
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none || fail assembly_failed
  fi
  sfdisk --list "$disk"
  if [ -n "${2:-}" ]; then
    # The disk is never written whole: its first MiB (the partition table and boot code), the two
    # partitions and, on arm64, its last MiB (GPT's backup header) go to zstd in that order, the same
    # bytes as the disk's, without copying a gigabyte into it first. zstd reads them as files (a frame
    # each, one stream): through a pipe, the same bytes took it three times as long.
    local zstart parts=(/work/disk-head /work/boot.fat /work/root.ext)
    zstart=$(date +%s.%N)
    head -c "$MIB" "$disk" > /work/disk-head || fail assembly_failed
    if [ "$ARCH" = arm64 ]; then
      tail -c "$MIB" "$disk" > /work/disk-tail || fail assembly_failed
      parts+=(/work/disk-tail)
    fi
    zstd -q -1 -T0 -c "${parts[@]}" > "$2" || fail assembly_failed
    zstd_done "$zstart" "$2"
    rm -f "$disk" "${parts[@]}"
    return
  fi
  dd if=/work/boot.fat of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none || fail assembly_failed
  dd if=/work/root.ext of="$disk" bs=1M seek="$root_start" conv=notrunc,sparse status=none || fail assembly_failed
  rm -f /work/boot.fat /work/root.ext
}

assemble_disk_type() {
  case "$1" in
    loop)
      make_rootfs /out/image.loop "$(repro_uuid root-fs)"
      ;;
    raw)
      # Delivered compressed: made as the .zst directly.
      make_disk /work/disk.raw /out/image.raw.zst
      ;;
    qcow2|vmdk|vdi)
      make_disk /work/disk.raw
      echo "IMG: converting the disk to $1"
      # A qcow2 is delivered compressed by its own format (-c: zlib clusters qemu reads as they are),
      # so it downloads small and stays a qcow2; vmdk and vdi as their tools write them.
      compress=()
      [ "$1" = qcow2 ] && compress=(-c)
      qemu-img convert -f raw -O "$1" "${compress[@]}" /work/disk.raw "/out/image.$1" || fail assembly_failed
      rm -f /work/disk.raw
      qemu-img info "/out/image.$1"
      ;;
  esac
}
