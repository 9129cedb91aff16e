#!/bin/bash
# Runs inside the build sandbox (one throwaway container per job). Builds a root filesystem with
# mmdebstrap, applies the system settings, runs the %post scripts, and assembles the image into /out.
# Input, all data (nothing here is generated shell code):
#   environment: IMG_IMAGETYPE IMG_SUITE IMG_INCLUDE (comma list) IMG_EXCLUDE (comma list)
#                IMG_HOSTNAME IMG_TIMEZONE IMG_DEBIAN_MIRROR (empty: the tool's default)
#                IMG_ROOT_SIZE_MIB IMG_ROOT_FSTYPE IMG_BOOT_APPEND IMG_BOOT_TIMEOUT (disk and ISO types,
#                see assemble-disk.sh)
#   /in/rootpw        'root:PASSWORD' for chpasswd, and /in/rootpw.crypted when it is already hashed (a file, not
#                     the environment, so it never shows in `docker inspect`)
#   /in/sources.list  one "deb URL SUITE COMPONENTS" line per repository; @DEFAULT_MIRROR@ stands for the default mirror
#   /in/post/NN       %post scripts, with /in/post/NN.interp (interpreter), NN.nochroot (present if --nochroot), NN.line
# Output: /out/image.<ext>. The log speaks to image-creator through marker lines:
#   @@IMG-PHASE <phase>        a new phase begins
#   @@IMG-POST <line>          the %post script from kickstart line <line> starts
#   @@IMG-FAIL <phase> <code>  the build failed in <phase>; the lines before say why
set -uo pipefail
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
root=/work/rootfs
current=fetching
phase() { current=$1; echo "@@IMG-PHASE $1"; }
fail() { echo "@@IMG-FAIL $current $1"; exit 1; }

# The tool's default mirror is the one this builder image was itself made from.
default_mirror=${IMG_DEBIAN_MIRROR:-$(sed -n 's/^deb \([^ ]*\) .*/\1/p' /etc/apt/sources.list | head -n 1)}
sources=()
while IFS= read -r line || [ -n "$line" ]; do
  [ -n "$line" ] && sources+=("${line//@DEFAULT_MIRROR@/$default_mirror}")
done < /in/sources.list

phase fetching
# An empty --include is an error to mmdebstrap: a kickstart may list no package at all.
include=()
[ -n "${IMG_INCLUDE:-}" ] && include=(--include="$IMG_INCLUDE")
mmdebstrap --mode=root --variant=minbase "${include[@]}" \
  --extract-hook='echo "@@IMG-PHASE installing"' \
  "$IMG_SUITE" "$root" "${sources[@]}" || fail install_failed
current=installing

in_root() { chroot "$root" "$@"; }

# Exclusions: packages the kickstart names with a leading '-' are removed if something pulled them in.
if [ -n "${IMG_EXCLUDE:-}" ]; then
  IFS=, read -r -a excl <<<"$IMG_EXCLUDE"
  installed=()
  for p in "${excl[@]}"; do in_root dpkg-query -W "$p" >/dev/null 2>&1 && installed+=("$p"); done
  if [ ${#installed[@]} -gt 0 ]; then
    echo "removing excluded packages: ${installed[*]}"
    in_root apt-get purge -y "${installed[@]}" || fail install_failed
  fi
fi

phase post
# Without `network --hostname` the image would keep the sandbox container's random name: Debian's default instead.
hostname=${IMG_HOSTNAME:-debian}
echo "$hostname" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$hostname" > "$root/etc/hosts"
if [ -n "${IMG_TIMEZONE:-}" ]; then
  echo "$IMG_TIMEZONE" > "$root/etc/timezone"
  [ -e "$root/usr/share/zoneinfo/$IMG_TIMEZONE" ] && ln -sf "/usr/share/zoneinfo/$IMG_TIMEZONE" "$root/etc/localtime"
fi
if [ -f /in/rootpw ]; then
  if [ -f /in/rootpw.crypted ]; then in_root chpasswd -e < /in/rootpw; else in_root chpasswd < /in/rootpw; fi || { echo "setting the root password failed"; fail settings_failed; }
fi

for script in /in/post/[0-9]*; do
  case "$script" in *.*) continue ;; esac
  [ -f "$script" ] || continue
  interp=$(cat "$script.interp")
  line=$(cat "$script.line")
  echo "@@IMG-POST $line"
  flags=()
  case "$(basename "$interp")" in sh|bash|dash) flags=(-e -x) ;; esac
  if [ -e "$script.nochroot" ]; then
    IMG_ROOT=$root "$interp" "${flags[@]}" "$script" || fail post_script_failed
  else
    [ -x "$root$interp" ] || { echo "%post interpreter $interp is not in the image"; fail post_script_failed; }
    cp "$script" "$root/tmp/img-post-script"
    in_root "$interp" "${flags[@]}" /tmp/img-post-script || { rm -f "$root/tmp/img-post-script"; fail post_script_failed; }
    rm -f "$root/tmp/img-post-script"
  fi
done

phase assembling
here=$(dirname "$(readlink -f "$0")")
. "$here/assemble-disk.sh"
. "$here/assemble-live.sh"
case "$IMG_IMAGETYPE" in
  tar|fs)
    tar --numeric-owner --xattrs -C "$root" -cf - . | zstd -q -T0 -3 -o /out/image.tar.zst || fail assembly_failed
    ;;
  loop|raw|qcow2|vmdk|vdi)
    assemble_disk_type "$IMG_IMAGETYPE"
    ;;
  livecd|liveusb)
    assemble_live_type
    ;;
  *)
    echo "image type $IMG_IMAGETYPE is not built by this builder version"
    fail unsupported_image_type
    ;;
esac
ls -l /out
echo "@@IMG-DONE"
