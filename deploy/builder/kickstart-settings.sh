# Sourced by build-in-sandbox.sh: the kickstart's settings that mean something on a Debian image, each
# in a function of its own, all taking their input as data (environment, files under /in), never as
# shell code. They use build-in-sandbox.sh's $root, $here, $sources, in_root and fail.

# docs_dpkg_options: %packages --excludedocs as dpkg path excludes (mmdebstrap --dpkgopt), which mmdebstrap
# also keeps in the image's /etc/dpkg/dpkg.cfg.d, so packages installed later leave their documentation
# out too. The copyright files stay: Debian's licences ask for them.
docs_dpkg_options() {
  [ "${IMG_EXCLUDEDOCS:-}" = 1 ] || return 0
  local p
  for p in path-exclude=/usr/share/doc/* path-include=/usr/share/doc/*/copyright path-exclude=/usr/share/man/* \
    path-exclude=/usr/share/info/* path-exclude=/usr/share/groff/* path-exclude=/usr/share/lintian/* path-exclude=/usr/share/linda/*; do
    echo "--dpkgopt=$p"
  done
}

# drop_missing_packages: under %packages --ignoremissing, the packages of IMG_INCLUDE that apt does not
# know in this build's suites are left out of it, each said in the log (@@IMG-SKIPPED) and kept in
# $skipped, before mmdebstrap, which would stop at the first one. apt reads the same lists mmdebstrap
# then reads (apt-lists.sh, as the check before queueing does); a virtual package counts as known.
skipped=()
drop_missing_packages() {
  [ "${IMG_IGNOREMISSING:-}" = 1 ] && [ -n "${IMG_INCLUDE:-}" ] || return 0
  . "$here/apt-lists.sh"
  local d=/work/apt-lists arch=${IMG_ARCH:-amd64} keep=() want=() p
  echo "IMG: %packages --ignoremissing: reading the package lists of $(awk '{ printf "%s%s", sep, $3; sep = ", " }' /in/sources.list) ($arch) to leave out the packages apt does not know"
  printf '%s\n' "${sources[@]}" > /work/apt-lists.sources
  apt_lists_update "$d" "$arch" /work/apt-lists.sources || { echo "IMG: the package lists could not be read"; fail install_failed; }
  apt_lists_dump "$d" "$arch" | awk '!/^@@/ { for (i = 1; i <= NF; i++) print $i }' | sort -u > /work/apt-lists.known
  IFS=, read -r -a want <<<"$IMG_INCLUDE"
  for p in "${want[@]}"; do
    if grep -qxF -e "$p" /work/apt-lists.known; then keep+=("$p"); else skipped+=("$p"); fi
  done
  for p in "${skipped[@]}"; do
    echo "@@IMG-SKIPPED $p"
    echo "IMG: %packages --ignoremissing: apt knows no package $p in these suites: it is left out"
  done
  IMG_INCLUDE=$(IFS=,; echo "${keep[*]}")
  rm -rf "$d" /work/apt-lists.sources /work/apt-lists.known
}

# The skipped packages travel with the installed root file system (a build from the cached one says
# them again), and leave it before any %post runs.
keep_skipped_packages() {
  [ ${#skipped[@]} -gt 0 ] || return 0
  mkdir -p "$root/var/lib/img"
  printf '%s\n' "${skipped[@]}" > "$root/var/lib/img/skipped-packages"
}
announce_skipped_packages() {
  local p
  [ -f "$root/var/lib/img/skipped-packages" ] || return 0
  while read -r p; do
    [ -n "$p" ] && echo "@@IMG-SKIPPED $p" && echo "IMG: %packages --ignoremissing: $p was left out when this root file system was installed"
  done < "$root/var/lib/img/skipped-packages"
}
forget_skipped_packages() {
  rm -f "$root/var/lib/img/skipped-packages"
  rmdir "$root/var/lib/img" 2>/dev/null || true
}

# service_unit NAME: the unit file a services line means, as Debian names it: NAME itself (NAME.service
# without a suffix), or the unit whose [Install] Alias= names it (Debian's ssh.service is also sshd),
# so an alias works while its unit is disabled too. Fails when the image has no such unit.
service_unit() {
  local unit=$1 dir f target
  case "$unit" in *.service|*.socket|*.timer|*.target|*.path|*.mount|*.automount|*.swap|*.slice) ;; *) unit=$unit.service ;; esac
  for dir in etc/systemd/system usr/lib/systemd/system lib/systemd/system; do
    f="$root/$dir/$unit"
    if [ -L "$f" ]; then
      target=$(basename "$(readlink "$f")")
      [ "$target" != null ] && { echo "$target"; return 0; }
    elif [ -f "$f" ]; then
      echo "$unit"
      return 0
    fi
  done
  f=$(grep -lsE "^Alias=(.*[[:space:]])?${unit//./\\.}([[:space:]].*)?$" "$root"/usr/lib/systemd/system/* "$root"/etc/systemd/system/* 2>/dev/null | head -n 1)
  [ -n "$f" ] && basename "$f"
}

# apply_services: services --enabled/--disabled with the image's own systemctl, before any %post (as
# anaconda does). A unit to enable that the image does not have fails the build, naming the kickstart
# line; one to disable that it does not have is already not running, and the log says so.
apply_services() {
  [ -d /in/services ] || return 0
  local line u unit
  line=$(cat /in/services/line)
  if [ ! -e "$root/usr/bin/systemctl" ] && [ ! -e "$root/bin/systemctl" ]; then
    echo "IMG: services (kickstart line $line): the image has no systemd to enable or disable units with; add systemd-sysv to %packages"
    echo "@@IMG-LINE $line"
    fail settings_failed
  fi
  while read -r u; do
    [ -n "$u" ] || continue
    if ! unit=$(service_unit "$u"); then
      echo "IMG: services --enabled=$u (kickstart line $line): the image has no unit $u; install the package that has it, or use Debian's name for it"
      echo "@@IMG-LINE $line"
      fail settings_failed
    fi
    SYSTEMD_OFFLINE=1 in_root systemctl enable "$unit" || { echo "IMG: services --enabled=$u (kickstart line $line): systemctl could not enable $unit"; echo "@@IMG-LINE $line"; fail settings_failed; }
    echo "IMG: services: $unit enabled$( [ "${unit%.service}" != "${u%.service}" ] && echo " (the kickstart calls it $u)") (kickstart line $line)"
  done < /in/services/enabled
  while read -r u; do
    [ -n "$u" ] || continue
    if ! unit=$(service_unit "$u"); then
      echo "IMG: services --disabled=$u (kickstart line $line): the image has no unit $u, so it does not run"
      continue
    fi
    SYSTEMD_OFFLINE=1 in_root systemctl disable "$unit" || { echo "IMG: services --disabled=$u (kickstart line $line): systemctl could not disable $unit"; echo "@@IMG-LINE $line"; fail settings_failed; }
    echo "IMG: services: $unit disabled$( [ "${unit%.service}" != "${u%.service}" ] && echo " (the kickstart calls it $u)") (kickstart line $line)"
  done < /in/services/disabled
}

# apply_keyboard: keyboard --xlayouts/--switch as Debian keeps them, in /etc/default/keyboard (read by
# console-setup and by X). The names were checked by the kickstart reader: XKB words only.
apply_keyboard() {
  [ -n "${IMG_XKB_LAYOUT:-}${IMG_XKB_OPTIONS:-}" ] || return 0
  mkdir -p "$root/etc/default"
  printf 'XKBMODEL="pc105"\nXKBLAYOUT="%s"\nXKBVARIANT="%s"\nXKBOPTIONS="%s"\nBACKSPACE="guess"\n' \
    "${IMG_XKB_LAYOUT:-us}" "${IMG_XKB_VARIANT:-}" "${IMG_XKB_OPTIONS:-}" > "$root/etc/default/keyboard"
  echo "IMG: keyboard: /etc/default/keyboard has XKBLAYOUT=\"${IMG_XKB_LAYOUT:-us}\" XKBVARIANT=\"${IMG_XKB_VARIANT:-}\" XKBOPTIONS=\"${IMG_XKB_OPTIONS:-}\""
}

# apply_ntp: timezone --nontp disables systemd-timesyncd; --ntpservers (and timesource) name its servers.
apply_ntp() {
  case "${IMG_NTP:-}" in
    '') return 0 ;;
    off)
      if [ -e "$root/usr/lib/systemd/system/systemd-timesyncd.service" ]; then
        SYSTEMD_OFFLINE=1 in_root systemctl disable systemd-timesyncd.service || { echo "IMG: timezone --nontp: systemd-timesyncd could not be disabled"; fail settings_failed; }
        echo "IMG: timezone --nontp: systemd-timesyncd disabled"
      else
        echo "IMG: timezone --nontp: systemd-timesyncd is not installed, so nothing sets the clock by NTP"
      fi ;;
    *)
      mkdir -p "$root/etc/systemd/timesyncd.conf.d"
      printf '[Time]\nNTP=%s\n' "$IMG_NTP" > "$root/etc/systemd/timesyncd.conf.d/50-img.conf"
      echo "IMG: NTP servers $IMG_NTP written to /etc/systemd/timesyncd.conf.d/50-img.conf" ;;
  esac
}

# run_post_logged SCRIPT COMMAND...: runs a %post; with --log (SCRIPT.log) its output also goes to that
# file: inside the image for a chroot script (tee runs there too, so the path is the image's), in the
# sandbox for --nochroot, where /mnt/sysimage and $INSTALL_ROOT are the image.
run_post_logged() {
  local script=$1 log
  shift
  [ -f "$script.log" ] || { "$@"; return; }
  log=$(cat "$script.log")
  echo "IMG: this %post's output also goes to $log (--log)"
  if [ -e "$script.nochroot" ]; then
    mkdir -p "$(dirname "$log")"
    "$@" 2>&1 | tee -a "$log"
  else
    in_root mkdir -p "$(dirname "$log")"
    "$@" 2>&1 | in_root tee -a "$log"
  fi
}
