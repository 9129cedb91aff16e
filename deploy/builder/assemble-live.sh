#!/bin/bash
# Sourced by build-in-sandbox.sh after assemble-disk.sh: a hybrid live ISO (boots from a CD, and
# from a USB stick or disk) whose root is a squashfs of the image, mounted by live-boot from the
# initramfs. amd64: BIOS through isolinux (isohybrid MBR), UEFI through GRUB in an El Torito EFI
# image. arm64: UEFI only, GRUB in the El Torito EFI image and an appended EFI partition.

assemble_live_type() {
  local iso=/work/iso cmdline
  find_kernel
  if [ ! -e "$root/usr/share/initramfs-tools/scripts/live" ]; then
    echo "IMG: live-boot is not installed in the image, so its initramfs cannot find the live system"
    fail no_kernel
  fi
  # The kernel's postinst builds the initramfs; when live-boot came later, its hooks are missing.
  # (Listed in full before grep reads it: grep -q would end the pipe early and pipefail call that a failure.)
  local listing
  listing=$(in_root lsinitramfs "/boot/${initrd##*/}" 2>/dev/null)
  if ! grep -qx 'scripts/live' <<<"$listing"; then
    echo "IMG: the initramfs lacks live-boot, rebuilding it"
    in_root update-initramfs -u -k "${kernel##*/vmlinuz-}" || fail assembly_failed
  fi
  rm -rf "$iso"
  mkdir -p "$iso/live" "$iso/isolinux"
  cp "$kernel" "$iso/live/vmlinuz" && cp "$initrd" "$iso/live/initrd.img" || fail assembly_failed
  serial_console_wait
  # Reproducible: the files' times clamped to SOURCE_DATE_EPOCH (mksquashfs keeps them, and takes
  # its own time from SOURCE_DATE_EPOCH).
  repro_clamp_tree "$root"
  echo "IMG: compressing the root file system into a squashfs"
  # Level 6 instead of the default 15: a few per cent larger, over ten times faster on two cores.
  # The kernel and initramfs stay in the squashfs too: the live system's own /boot stays complete.
  # The device nodes are written by mksquashfs (pseudo files), not copied: here they are the sandbox's bind mounts.
  local devp=() deve=() n maj min
  while read -r n maj min; do devp+=(-p "/dev/$n c 666 0 0 $maj $min"); deve+=("dev/$n"); done <<<"$DEV_NODES"
  mksquashfs "$root" "$iso/live/filesystem.squashfs" -comp zstd -Xcompression-level 6 -noappend -no-progress -quiet \
    "${devp[@]}" -wildcards -e 'proc/*' 'sys/*' 'tmp/*' 'run/*' "${deve[@]}" || fail assembly_failed
  echo "IMG: squashfs of $(( $(stat -c %s "$iso/live/filesystem.squashfs") / MIB )) MiB"

  cmdline="boot=live $CONSOLES${IMG_BOOT_APPEND:+ $IMG_BOOT_APPEND}"
  # UEFI: GRUB in a FAT image that is both the El Torito EFI boot image (a CD) and, on amd64, the
  # isohybrid GPT's EFI partition, on arm64 an appended EFI partition (a USB stick).
  local cfg=/work/live-cfg
  mkdir -p "$cfg" "$iso/boot"
  {
    echo "set timeout=${IMG_BOOT_TIMEOUT:-0}"
    grub_console
    echo 'search --no-floppy --set=root --file /live/IMG-LIVE'
    echo 'menuentry live {'
    echo "  linux /live/vmlinuz boot=live $CONSOLES${IMG_BOOT_APPEND_GRUB:+ $IMG_BOOT_APPEND_GRUB}"
    echo '  initrd /live/initrd.img'
    echo '}'
  } > "$cfg/grub.cfg"
  : > "$iso/live/IMG-LIVE"
  grub_efi "$cfg/grub.cfg" "$cfg/$(efi_name)" || fail assembly_failed
  rm -f "$iso/boot/efi.img"
  # The FAT's volume id from the request, no time in its boot sector; mtools dates what it writes
  # with SOURCE_DATE_EPOCH.
  mkfs.fat --invariant -i "$(repro_hex live-efi-volume-id 8 | tr a-f A-F)" -C "$iso/boot/efi.img" \
    $(( $(stat -c %s "$cfg/$(efi_name)") / 1024 + 512 )) >/dev/null || fail assembly_failed
  export MTOOLS_SKIP_CHECK=1
  mmd -i "$iso/boot/efi.img" ::/EFI ::/EFI/BOOT && mcopy -i "$iso/boot/efi.img" "$cfg/$(efi_name)" "::/EFI/BOOT/$(efi_name)" || fail assembly_failed

  # xorriso takes its volume times, the volume's UUID and the GPT's ids from SOURCE_DATE_EPOCH; the
  # files' times are clamped to it just before it runs.
  if [ "$ARCH" = arm64 ]; then
    # arm64 has no BIOS: one EFI El Torito entry, and the same FAT image appended as partition 2
    # (type EF) for firmware that boots the ISO written to a stick.
    repro_clamp_tree "$iso"
    xorriso -as mkisofs -quiet -o /out/image.iso -R -J -joliet-long -iso-level 3 -V IMG_LIVE \
      -e boot/efi.img -no-emul-boot -append_partition 2 0xef "$iso/boot/efi.img" -partition_cyl_align all \
      "$iso" || fail assembly_failed
  else
    # BIOS through isolinux (from a CD, and from a stick thanks to the isohybrid MBR), UEFI through GRUB.
    cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/" || fail assembly_failed
    { syslinux_head; printf 'DEFAULT live\nLABEL live\n  KERNEL /live/vmlinuz\n  INITRD /live/initrd.img\n  APPEND %s\n' "$cmdline"; } > "$iso/isolinux/isolinux.cfg"
    repro_clamp_tree "$iso"
    xorriso -as mkisofs -quiet -o /out/image.iso -R -J -joliet-long -iso-level 3 -V IMG_LIVE \
      -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -partition_offset 16 \
      -c isolinux/boot.cat -b isolinux/isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table \
      -eltorito-alt-boot -e boot/efi.img -no-emul-boot -isohybrid-gpt-basdat "$iso" || fail assembly_failed
  fi
  rm -rf "$iso"
  echo "IMG: hybrid ISO of $(( $(stat -c %s /out/image.iso) / MIB )) MiB"
}
