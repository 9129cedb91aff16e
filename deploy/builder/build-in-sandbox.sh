#!/bin/bash
# Runs inside the build sandbox (one throwaway container per job). Builds a root filesystem with
# mmdebstrap, applies the system settings, runs the %post scripts, and assembles the image into /out.
# Input, all data (nothing here is generated shell code):
#   environment: IMG_IMAGETYPE IMG_SUITE IMG_ARCH (amd64, arm64) IMG_INCLUDE (comma list) IMG_EXCLUDE (comma list)
#                IMG_HOSTNAME IMG_TIMEZONE IMG_DEBIAN_MIRROR IMG_DEBIAN_SECURITY_MIRROR (empty: the tool's default)
#                IMG_ARCH IMG_BUILDER_VERSION (recorded in the image's /etc/img/build-info)
#                IMG_REQUEST_HASH (the request's hash: file system UUIDs and hash seeds are derived from it, see reproducible.sh)
#                IMG_APT_CHECK_VALID_UNTIL (false: accept package lists past their Valid-Until date)
#                IMG_ROOT_SIZE_MIB IMG_ROOT_FSTYPE IMG_BOOT_APPEND IMG_BOOT_TIMEOUT (disk and ISO types,
#                see assemble-disk.sh)
#   /in/rootpw        'root:PASSWORD' for chpasswd, and /in/rootpw.crypted when it is already hashed (a file, not
#                     the environment, so it never shows in `docker inspect`)
#   /in/sources.list  one "deb URL SUITE COMPONENTS" line per repository to install from; @DEFAULT_MIRROR@ and
#                     @SECURITY_MIRROR@ stand for the Debian mirror and the security archive's mirror
#   /in/apt/sources.list or /in/apt/debian.sources  the image's own apt sources, in its release's format (the same
#                     placeholders): installed as /etc/apt/sources.list or /etc/apt/sources.list.d/debian.sources
#   /in/post/NN       %post scripts, with /in/post/NN.interp (interpreter), NN.nochroot (present if --nochroot), NN.line,
#                     NN.log (--log: the file its output is also written to)
#   kickstart settings (kickstart-settings.sh): IMG_EXCLUDEDOCS IMG_IGNOREMISSING (1: %packages --excludedocs,
#                     --ignoremissing), IMG_XKB_LAYOUT IMG_XKB_VARIANT IMG_XKB_OPTIONS (keyboard --xlayouts/--switch),
#                     IMG_NTP ("off", or NTP servers: timezone --nontp/--ntpservers, timesource), IMG_IMAGE_NAME,
#                     /in/services/{enabled,disabled,line} (services --enabled/--disabled)
#   caches, all optional and decided by image-creator:
#   IMG_ROOTFS_CACHED  a read-only tar (uncompressed: packing and unpacking are then as fast as the disk) of the installed root file system of an earlier build with exactly
#                      these packages and repositories: used instead of installing them again
#   IMG_ROOTFS_BASE    a read-only tar of a prepared root file system (same suite, architecture, repositories and
#                      install options) whose packages are a subset of this build's: unpacked, then apt installs
#                      the difference in it (see install_from_base); a base older than the package lists is not used
#   IMG_PREPARE_ONLY   1: install, offer the root file system to the cache, and stop (a base prepared ahead of demand)
#   IMG_DEB_CACHE      a read-only directory of .deb files (see package-cache.sh)
#   IMG_CACHE_EXPORT   1: offer what this build downloaded (and, with IMG_ROOTFS_EXPORT=1, its installed root file
#                      system) in /out/.cache-export, sealed by its sums before any %post runs (see below)
#   IMG_ROOTFS_MIN_ADDED  a build that started from a prepared root offers its own root only when apt installed at
#                      least this many packages on top of it (default 0: always); with fewer, the next request
#                      for them starts from the same prepared root and installs them again, in less time than
#                      keeping a copy of the root costs
# The work area /work is a size- and inode-capped tmpfs and the rest of the container is read-only.
# Output: /out/image.<ext> (raw, loop and the ISOs as /out/image.<ext>.zst), and /out/packages.tsv (the installed packages after %post). /out is the builder image's link to /work/out, inside the work area: no host
# directory is ever mounted writable. image-creator takes the output out as a tar stream while the
# container still runs (docker exec of this image's tar) and reads it as data; the script then waits
# until image-creator says it has it (/work/.img-collected) before it exits and the tmpfs is gone.
# The log speaks to image-creator through marker lines:
#   @@IMG-PHASE <phase>        a new phase begins
#   @@IMG-POST <line>          the %post script from kickstart line <line> starts
#   @@IMG-LINE <line>          the failure that follows is about kickstart line <line>
#   @@IMG-SKIPPED <package>    %packages --ignoremissing: apt does not know this package, the build goes on without it
#   @@IMG-FAIL <phase> <code>  the build failed in <phase>; the lines before say why
#   @@IMG-CACHE-EXPORT <sum>   /out/.cache-export is complete, and <sum> is the SHA-256 of its SHA256SUMS (printed
#                              only before the post phase); image-creator takes it and removes it while the
#                              build goes on, then creates /work/.img-offer-taken; the script waits for that
#                              before @@IMG-DONE
#   @@IMG-START <kind>         how the packages came: scratch, base or cached (printed before the post phase)
#   @@IMG-BASE-STALE           the base of IMG_ROOTFS_BASE holds packages older than the lists: image-creator drops it
#   @@IMG-DONE                 /out holds the image: image-creator takes it, then creates /work/.img-collected
set -uo pipefail
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
# The container's own file system is read-only: temporary files go to the capped work area.
export TMPDIR=/work/tmp
mkdir -p "$TMPDIR" /work/out
root=/work/rootfs
here=$(dirname "$(readlink -f "$0")")
. "$here/dev-nodes.sh"
. "$here/kickstart-settings.sh"
. "$here/reproducible.sh"
. "$here/leftovers.sh"
mapfile -t dev_excludes < <(dev_tar_excludes)
current=fetching
phase() { current=$1; echo "@@IMG-PHASE $1"; }
fail() { echo "@@IMG-FAIL $current $1"; exit 1; }

# The mirrors the placeholders of /in/sources.list stand for (shared with package-index.sh, which
# reads the package lists the same way for the check before a build is queued).
. "$here/apt-mirrors.sh"
if [ -z "$security_mirror" ] && grep -qs '@SECURITY_MIRROR@' /in/sources.list; then
  echo "IMG: the security archive's mirror is not known (this builder image was made from a mirror without it): set IMG_DEBIAN_SECURITY_MIRROR"
  fail install_failed
fi
sources=()
while IFS= read -r line || [ -n "$line" ]; do
  [ -n "$line" ] && sources+=("$line")
done < <(mirrors /in/sources.list)

# The image's architecture. Another one than the builder's own (arm64 on an amd64 host) runs its
# programs through the host's binfmt_misc registration of qemu-user-static with the F flag, which the
# kernel honours in this container without any emulator in it or in the new root. mmdebstrap cannot
# see that registration from here, so its own check is skipped; the extract hook below tries instead.
arch=${IMG_ARCH:-amd64}
foreign=()
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  foreign=(--skip=check/qemu)
  # qemu-user's default CPU model emulates pointer authentication in software, and Debian's arm64
  # programs use it on every function call: a model without it runs them several times faster
  # (the PAC instructions are no-ops there). The emulated processes inherit this.
  export QEMU_CPU=${QEMU_CPU:-cortex-a72}
  echo "IMG: building for $arch on $(dpkg --print-architecture): its programs run under user-mode emulation (QEMU_CPU=$QEMU_CPU)"
fi

# install_packages: mmdebstrap into $root, then the kickstart's exclusions.
install_packages() {
  drop_missing_packages
  # An empty --include is an error to mmdebstrap: a kickstart may list no package at all.
  local include=() hooks=()
  [ -n "${IMG_INCLUDE:-}" ] && include=(--include="$IMG_INCLUDE")
  # bookworm's init-system-helpers depends on usrmerge | usr-is-merged, and apt takes usrmerge, which
  # pulls in perl: the merged /usr is made as debootstrap makes it instead (the links, then Debian's
  # usr-is-merged). trixie and later ship the links in base-files.
  [ "$IMG_SUITE" = bookworm ] && hooks+=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  if [ ${#foreign[@]} -gt 0 ]; then
    hooks+=(--extract-hook='chroot "$1" /bin/true || { echo "IMG: this build host cannot run '"$arch"' programs: binfmt_misc has no qemu-user-static registration for it with the F flag (on the host: apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64)"; exit 1; }')
  fi
  # The cache's setup hook updates the package lists itself, to know which packages it can give.
  [ -n "${IMG_DEB_CACHE:-}" ] && hooks+=(--skip=update --setup-hook='/opt/img/package-cache.sh in "$1"')
  # Keep the essential packages' files until the customize hook has offered them to the cache.
  [ -n "${IMG_CACHE_EXPORT:-}" ] && hooks+=(--skip=essential/unlink --customize-hook='/opt/img/package-cache.sh out "$1"')
  # The sandbox may have bind-mounted device nodes into the empty root (user-namespace remapping: no mknod).
  [ -d "$root/dev" ] && hooks+=(--skip=check/empty)
  # A mirror that is a snapshot serves lists past their Valid-Until date (testing, sid and the
  # security archive carry one): only the operator may accept them, and only for the build.
  if [ "${IMG_APT_CHECK_VALID_UNTIL:-true}" = false ]; then
    hooks+=(--aptopt='Acquire::Check-Valid-Until "false"')
    echo "IMG: the package lists' Valid-Until dates are not checked (IMG_APT_CHECK_VALID_UNTIL=false)"
  fi
  mapfile -t -O "${#hooks[@]}" hooks < <(docs_dpkg_options)
  # The package lists' date, read before mmdebstrap removes the lists: the build's SOURCE_DATE_EPOCH.
  rm -f "$REPRO_EPOCH_FILE"
  hooks+=(--customize-hook='/opt/img/reproducible.sh epoch "$1"')
  # mmdebstrap reads the package lists first thing: this is when the image's packages were chosen.
  lists_read=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # INITRD=No: the kernel's postinst makes no initramfs, and initramfs-tools' trigger (fired by every
  # package with an initramfs hook installed after the kernel) finds none to update: it is made once,
  # below, when everything is installed, instead of twice (a third of a cold bootable build).
  INITRD=No mmdebstrap --mode=root --variant=minbase --arch="$arch" "${foreign[@]}" "${include[@]}" "${hooks[@]}" \
    --extract-hook='echo "@@IMG-PHASE installing"' \
    "$IMG_SUITE" "$root" "${sources[@]}" || fail install_failed
  current=installing
  # From here on every tool that stamps a time (mkinitramfs, tar, mke2fs, shadow's chpasswd) stamps this one.
  SOURCE_DATE_EPOCH=$(repro_epoch "$root") && export SOURCE_DATE_EPOCH
  if compgen -G "$root/boot/vmlinuz-*" >/dev/null && ! compgen -G "$root/boot/initrd.img-*" >/dev/null \
     && [ -x "$root/usr/sbin/update-initramfs" ]; then
    echo "IMG: making the initramfs"
    in_root update-initramfs -c -k all || fail install_failed
  fi
  finish_install
}

# finish_install: what follows the installation either way: the one initramfs, the build's record,
# the kickstart's exclusions.
finish_install() {
  keep_skipped_packages
  # What the image was built from, inside it (and so in the cached root file system, whose key holds
  # the same suite, architecture and builder: a build from the cache keeps the time its lists were read).
  mkdir -p "$root/etc/img"
  # Not when the lists were read (that changes with every build, and the image with it), but their date.
  local lists_date=unknown
  [ -n "${SOURCE_DATE_EPOCH:-}" ] && lists_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  printf 'SUITE=%s\nARCHITECTURE=%s\nBUILDER_VERSION=%s\nPACKAGE_LISTS_DATE=%s\nSOURCE_DATE_EPOCH=%s\n' \
    "$IMG_SUITE" "$arch" "${IMG_BUILDER_VERSION:-unknown}" "$lists_date" "${SOURCE_DATE_EPOCH:-}" > "$root/etc/img/build-info"
  echo "IMG: packages from $(awk '{ printf "%s%s", sep, $3; sep = ", " }' /in/sources.list), package lists read $lists_read, dated $lists_date (SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-unset})"

  # Exclusions: packages the kickstart names with a leading '-' are removed if something pulled them in.
  if [ -n "${IMG_EXCLUDE:-}" ]; then
    local excl=() installed=() p
    IFS=, read -r -a excl <<<"$IMG_EXCLUDE"
    for p in "${excl[@]}"; do in_root dpkg-query -W "$p" >/dev/null 2>&1 && installed+=("$p"); done
    if [ ${#installed[@]} -gt 0 ]; then
      echo "removing excluded packages: ${installed[*]}"
      in_root apt-get purge -y "${installed[@]}" || fail install_failed
      in_root apt-get clean
    fi
  fi
}

# Inside the image's root, with its own /tmp: the sandbox's TMPDIR (/work/tmp) is not there, and a
# maintainer script that makes a temporary file (ca-certificates' postinst) would fail.
in_root() { TMPDIR=/tmp chroot "$root" "$@"; }

# root_is_current: apt in the unpacked root reads the package lists this build installs from (the same
# sources and options mmdebstrap uses), and says whether any package in it is older than they offer:
# then the root is not used (nor kept: image-creator drops it when told), so an image never holds an
# older package than a build from scratch would install. Sets $opts for the apt calls that follow.
opts=()
added_resolv=
root_is_current() {
  # mmdebstrap took the resolver's address out of the root it made: apt in it needs the sandbox's.
  if [ ! -e "$root/etc/resolv.conf" ] && [ ! -L "$root/etc/resolv.conf" ]; then
    cp /etc/resolv.conf "$root/etc/resolv.conf" && added_resolv=1
  fi
  mkdir -p "$root/tmp/img-apt/parts"
  printf '%s\n' "${sources[@]}" > "$root/tmp/img-apt/sources.list"
  opts=(-o Dir::Etc::SourceList=/tmp/img-apt/sources.list -o Dir::Etc::SourceParts=/tmp/img-apt/parts
        -o APT::Install-Recommends=false -o Acquire::Languages=none -o Dpkg::Use-Pty=false)
  [ "${IMG_APT_CHECK_VALID_UNTIL:-true}" = false ] && opts+=(-o Acquire::Check-Valid-Until=false)
  lists_read=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  in_root apt-get "${opts[@]}" -q update || { echo "IMG: apt could not read the package lists"; return 1; }
  local sim
  if ! sim=$(in_root apt-get "${opts[@]}" -s dist-upgrade 2>&1); then
    echo "IMG: apt could not compare the root file system with the package lists:"
    tail -n 3 <<<"$sim"
    return 1
  fi
  if grep -q '^Inst ' <<<"$sim"; then
    echo "IMG: the root file system holds packages older than the package lists now: it is not used"
    echo "@@IMG-BASE-STALE"
    return 1
  fi
  echo "IMG: every package in the root file system is the one the package lists read $lists_read offer"
}

# clean_like_mmdebstrap: what mmdebstrap leaves out of a root file system, left out here too: the
# lists, downloaded packages, this installation's logs, the machine id, /run and /tmp (the equivalence
# test lists what remains different from a build from scratch).
clean_like_mmdebstrap() {
  local f
  in_root apt-get -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/dev/null -q update >/dev/null 2>&1
  in_root apt-get clean
  [ -n "$added_resolv" ] && rm -f "$root/etc/resolv.conf"
  rm -rf "$root/var/lib/apt/lists/auxfiles" /work/apt-install.log /work/initrd-aside
  # debconf's scratch directory, which a second apt run leaves behind (empty) and mmdebstrap's does not.
  rmdir "$root/var/cache/debconf/tmp.ci" 2>/dev/null
  for f in /var/log/dpkg.log /var/log/apt/history.log /var/log/apt/term.log /var/log/alternatives.log \
           /var/cache/ldconfig/aux-cache /var/log/apt/eipp.log.xz /var/lib/dbus/machine-id; do rm -f "$root$f"; done
  [ -e "$root/etc/machine-id" ] && : > "$root/etc/machine-id"
  find "$root/run" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} + 2>/dev/null
  find "$root/tmp" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null
  return 0
}

# empty_root: the root made empty again for an installation from scratch; the bind-mounted device
# nodes stay (they are not the build's to remove).
empty_root() {
  find "$root" -mindepth 1 -maxdepth 1 ! -name dev -exec rm -rf {} +
  find "$root/dev" -mindepth 1 -maxdepth 1 \( -type d -o -type l \) -exec rm -rf {} + 2>/dev/null
  return 0
}

# install_from_base: the prepared root file system IMG_ROOTFS_BASE, then apt installs the packages this
# build wants that it lacks, inside it: the same options mmdebstrap installs with (no recommends, no
# translations, the kickstart's dpkg options, which mmdebstrap left in /etc/dpkg/dpkg.cfg.d), under the
# sandbox's limits like every other step. Returns non-zero, with the root removed, when the base
# cannot be used: the caller installs from scratch instead.
install_from_base() {
  local want=() aside=/work/initrd-aside k v regen= rc
  mkdir -p "$root"
  if ! tar --numeric-owner --xattrs --xattrs-include='*' "${dev_excludes[@]}" -xpf "$IMG_ROOTFS_BASE" -C "$root"; then
    echo "IMG: the prepared root file system could not be unpacked"
    return 1
  fi
  root_is_current || return 1
  # The build's SOURCE_DATE_EPOCH, taken as a build from scratch takes it: the date of the package
  # lists apt has just read (the base's own build-info holds the date of the lists it was made from).
  rm -f "$REPRO_EPOCH_FILE"
  if SOURCE_DATE_EPOCH=$(repro_lists_epoch "$root"); then
    echo "$SOURCE_DATE_EPOCH" > "$REPRO_EPOCH_FILE" && export SOURCE_DATE_EPOCH
  else
    unset SOURCE_DATE_EPOCH
  fi
  [ -n "${IMG_INCLUDE:-}" ] && IFS=, read -r -a want <<<"$IMG_INCLUDE"
  # Services a package would start have nothing to run on here (mmdebstrap says the same while it installs).
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" && chmod 0755 "$root/usr/sbin/policy-rc.d"
  # The base's initramfs stays aside while apt installs: a trigger then finds none to rebuild, and it
  # is made once below if anything it holds changed.
  mkdir -p "$aside"
  for k in "$root"/boot/initrd.img-*; do [ -e "$k" ] && mv "$k" "$aside/"; done
  local before
  before=$(in_root dpkg-query -W -f '.\n' | wc -l)
  if [ ${#want[@]} -gt 0 ]; then
    echo "IMG: installing the packages the prepared root file system lacks"
    INITRD=No in_root apt-get "${opts[@]}" -y install "${want[@]}" 2>&1 | tee /work/apt-install.log
    rc=${PIPESTATUS[0]}
    rm -f "$root/usr/sbin/policy-rc.d"
    [ "$rc" = 0 ] || fail install_failed
    grep -q '^Processing triggers for initramfs-tools' /work/apt-install.log && regen=1
    [ -n "${IMG_CACHE_EXPORT:-}" ] && /opt/img/package-cache.sh out "$root"
  fi
  rm -f "$root/usr/sbin/policy-rc.d"
  added_packages=$(( $(in_root dpkg-query -W -f '.\n' | wc -l) - before ))
  for k in "$root"/boot/vmlinuz-*; do
    [ -e "$k" ] || continue
    v=${k##*/vmlinuz-}
    [ -e "$aside/initrd.img-$v" ] || regen=1
  done
  if [ -n "$regen" ] && [ -x "$root/usr/sbin/update-initramfs" ]; then
    rm -f "$aside"/initrd.img-*
    echo "IMG: making the initramfs"
    in_root update-initramfs -c -k all || fail install_failed
  else
    for k in "$aside"/initrd.img-*; do [ -e "$k" ] && mv "$k" "$root/boot/"; done
  fi
  clean_like_mmdebstrap
  current=installing
  finish_install
}

phase fetching
start=scratch
# Packages apt installed on top of a prepared root (install_from_base).
added_packages=0
if [ -n "${IMG_ROOTFS_CACHED:-}" ]; then
  echo "IMG: an earlier build installed exactly these packages from these repositories: its root file system is taken from the cache"
  phase installing
  mkdir -p "$root"
  start=cached
  if ! tar --numeric-owner --xattrs --xattrs-include='*' "${dev_excludes[@]}" -xpf "$IMG_ROOTFS_CACHED" -C "$root"; then
    echo "IMG: the cached root file system could not be unpacked; installing the packages instead"
    start=scratch
  elif ! root_is_current; then
    added_resolv=
    echo "IMG: installing the packages from scratch instead"
    start=scratch
  else
    # The packages are the ones the lists offer now; build-info keeps the date of the lists they were
    # installed from, which is the build's SOURCE_DATE_EPOCH (reproducible.sh).
    clean_like_mmdebstrap
  fi
  echo "@@IMG-START $start"
  if [ "$start" = scratch ]; then
    empty_root
    install_packages
  fi
  announce_skipped_packages
  SOURCE_DATE_EPOCH=$(repro_epoch "$root") && export SOURCE_DATE_EPOCH
elif [ -n "${IMG_ROOTFS_BASE:-}" ]; then
  echo "IMG: starting from a prepared root file system whose packages are a subset of this build's"
  phase installing
  echo "@@IMG-START base"
  start=base
  if ! install_from_base; then
    added_resolv=
    empty_root
    echo "IMG: installing every package from scratch instead"
    start=scratch
    echo "@@IMG-START $start"
    install_packages
  fi
  SOURCE_DATE_EPOCH=$(repro_epoch "$root") && export SOURCE_DATE_EPOCH
else
  echo "@@IMG-START scratch"
  install_packages
fi
current=installing
dev_skeleton
# The image's apt sources list what it was installed from, in its release's own format, so that
# `apt update && apt upgrade` inside it reaches the same suites (the updates and security ones too).
if [ -f /in/apt/debian.sources ]; then
  rm -f "$root/etc/apt/sources.list"
  mkdir -p "$root/etc/apt/sources.list.d"
  mirrors /in/apt/debian.sources > "$root/etc/apt/sources.list.d/debian.sources"
elif [ -f /in/apt/sources.list ]; then
  mirrors /in/apt/sources.list > "$root/etc/apt/sources.list"
fi

# Offer what the cache may keep, sealed before any of the kickstart's own code runs: the offer's
# SHA256SUMS lists every file in it, and the sum of that list goes out on the marker line, before the
# post phase. image-creator reads the offer while the %post and the assembly run, and keeps it only if
# every file it read has the sum listed and the list has the sum printed: whatever a %post changes in
# it, the host refuses. The script waits for the host to be done with it only before its output is taken.
offer_sum=
if [ -n "${IMG_CACHE_EXPORT:-}" ]; then
  mkdir -p /out/.cache-export
  if [ -n "${IMG_ROOTFS_EXPORT:-}" ] && [ "$start" = base ] && [ "$added_packages" -lt "${IMG_ROOTFS_MIN_ADDED:-0}" ]; then
    echo "IMG: cache: this root file system is not offered: it adds $added_packages packages to the prepared one it started from (fewer than $IMG_ROOTFS_MIN_ADDED), and a request for them starts from that one again"
  elif [ -n "${IMG_ROOTFS_EXPORT:-}" ] && [ "$start" != cached ]; then
    # The installed packages go with it: a request excluding one of them never starts from this root.
    in_root dpkg-query -W -f '${Package}\n' > /out/.cache-export/packages \
      && tar --numeric-owner --xattrs "${dev_excludes[@]}" -C "$root" -cf /out/.cache-export/rootfs.tar . \
      || { echo "IMG: the root file system could not be packed for the cache"; rm -f /out/.cache-export/rootfs.tar /out/.cache-export/packages; }
  fi
  if (cd /out/.cache-export && find . -type f ! -name SHA256SUMS -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum -- > SHA256SUMS); then
    offer_sum=$(sha256sum < /out/.cache-export/SHA256SUMS | cut -c1-64)
  fi
  if [ -n "$offer_sum" ] && [ ! -s /out/.cache-export/SHA256SUMS ]; then
    # Nothing new to offer (a root from the cache, every package from it): no offer at all.
    offer_sum=
    rm -rf /out/.cache-export
  elif [ -n "$offer_sum" ]; then
    echo "@@IMG-CACHE-EXPORT $offer_sum"
  else
    echo "IMG: the cache offer could not be summed: nothing of this build is offered to the cache"
    rm -rf /out/.cache-export
  fi
fi
# offer_taken: waits until image-creator says it is done with the offer (taken or refused, and
# removed): /work/.img-offer-taken, as /work/.img-collected for the output.
offer_taken() {
  [ -n "$offer_sum" ] || return 0
  for _ in $(seq 18000); do [ -e /work/.img-offer-taken ] && return 0; sleep 0.1; done
  echo "IMG: image-creator did not take this build's packages for the cache within 30 minutes"
  fail cache_offer_not_taken
}

if [ "${IMG_PREPARE_ONLY:-}" = 1 ]; then
  offer_taken
  echo "IMG: the root file system is prepared"
  exit 0
fi
forget_skipped_packages
phase post
# Without `network --hostname` the image would keep the sandbox container's random name: Debian's default instead.
hostname=${IMG_HOSTNAME:-debian}
echo "$hostname" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$hostname" > "$root/etc/hosts"
if [ -n "${IMG_TIMEZONE:-}" ]; then
  echo "$IMG_TIMEZONE" > "$root/etc/timezone"
  [ -e "$root/usr/share/zoneinfo/$IMG_TIMEZONE" ] && ln -sf "/usr/share/zoneinfo/$IMG_TIMEZONE" "$root/etc/localtime"
fi
apply_keyboard
apply_ntp
if [ -f /in/rootpw ]; then
  if [ -f /in/rootpw.crypted ]; then in_root chpasswd -e < /in/rootpw; else in_root chpasswd < /in/rootpw; fi || { echo "setting the root password failed"; fail settings_failed; }
fi
"$(dirname "$0")/create-users.sh" "$root" || fail settings_failed
apply_services

for script in /in/post/[0-9]*; do
  case "$script" in *.*) continue ;; esac
  [ -f "$script" ] || continue
  interp=$(cat "$script.interp")
  line=$(cat "$script.line")
  echo "@@IMG-POST $line"
  flags=()
  case "$(basename "$interp")" in sh|bash|dash) flags=(-e -x) ;; esac
  if [ -e "$script.nochroot" ]; then
    # The image's root as the tools people port from name it: $INSTALL_ROOT (mic, livecd-creator),
    # /mnt/sysimage and /mnt/sysroot (anaconda; links in the builder image), and IMG_NAME (mic's).
    IMG_ROOT=$root INSTALL_ROOT=$root IMG_NAME=${IMG_IMAGE_NAME:-image} run_post_logged "$script" "$interp" "${flags[@]}" "$script" || fail post_script_failed
  else
    [ -x "$root$interp" ] || { echo "%post interpreter $interp is not in the image"; fail post_script_failed; }
    cp "$script" "$root/tmp/img-post-script"
    run_post_logged "$script" in_root "$interp" "${flags[@]}" /tmp/img-post-script || { rm -f "$root/tmp/img-post-script"; fail post_script_failed; }
    rm -f "$root/tmp/img-post-script"
  fi
done
# Nothing the %post started may outlive it: a process left behind could tamper with the image
# while it is assembled, or with the commands image-creator runs here to take it (leftovers.sh).
kill_leftovers
repro_normalize "$root"

# The package manifest: what dpkg says is installed now, after %post (image-creator reads it as data:
# one line per package of name, version, architecture, source package and source version).
# A database dpkg cannot read gives no list at all, never a partial one: image-creator then fails the build.
rm -rf /out/packages.tsv
if dpkg-query --admindir="$root/var/lib/dpkg" -W \
  -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' \
  | awk -F'\t' '$1 ~ /^ii/ { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' > /out/packages.tsv; then
  echo "IMG: package manifest: $(wc -l < /out/packages.tsv) installed packages"
else
  rm -f /out/packages.tsv
  echo "IMG: dpkg's database in the image (/var/lib/dpkg/status) cannot be read, so there is no package manifest; did a %post change it?"
fi

phase assembling
. "$here/assemble-disk.sh"
. "$here/assemble-live.sh"
case "$IMG_IMAGETYPE" in
  tar|fs)
    mapfile -t repro_tar < <(repro_tar_opts)
    { dev_tar_headers && tar "${repro_tar[@]}" --xattrs "${dev_excludes[@]}" -C "$root" -cf - .; } | zstd -q -T0 -3 -o /out/image.tar.zst || fail assembly_failed
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
# Disks and ISOs leave the sandbox compressed (zstd's fastest level, on every core the build has): a
# minimal disk of a gigabyte is a quarter of that to take out, and the host learns the disk's own size
# and checksum by reading the .zst back (compress.ts), never from this script.
case "$IMG_IMAGETYPE" in
  loop|raw|livecd|liveusb)
    for f in /out/image.*; do
      [ -f "$f" ] && [ "${f%.zst}" = "$f" ] || continue
      zstart=$(date +%s.%N)
      zstd -q -1 -T0 --rm -o "$f.zst" "$f" || { echo "IMG: the image could not be compressed"; fail assembly_failed; }
      zstd_done "$zstart" "$f.zst"
    done
    ;;
esac
offer_taken
ls -l /out/
echo "@@IMG-DONE"
# The output lives in this container's tmpfs: stay until image-creator has taken it. The build's time
# limit bounds the wait; so does this, for a container whose image-creator died (30 minutes: reading
# the largest disk allowed takes a fraction of that).
for _ in $(seq 18000); do [ -e /work/.img-collected ] && exit 0; sleep 0.1; done
echo "IMG: image-creator did not take the output within 30 minutes"
exit 1
