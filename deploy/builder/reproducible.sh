#!/bin/bash
# Reproducible images: the same request, built again from the same package versions, gives the same
# bytes. Sourced by build-in-sandbox.sh for its functions; run as an mmdebstrap customize hook
# (`reproducible.sh epoch ROOT`) to read the package lists' date before mmdebstrap removes the lists.
# The time everything is stamped with is SOURCE_DATE_EPOCH: the newest Date of the Release files of
# the suites the build installed from, so it changes when the packages can, and not between two
# builds from the same lists.

REPRO_EPOCH_FILE=/work/source-date-epoch

# repro_lists_epoch ROOT: prints the newest Date of ROOT's package lists (InRelease or Release files), in seconds.
repro_lists_epoch() {
  local f d s newest=0
  for f in "$1"/var/lib/apt/lists/*_InRelease "$1"/var/lib/apt/lists/*_Release; do
    [ -f "$f" ] || continue
    d=$(sed -n 's/^Date: //p' "$f" | head -n1)
    [ -n "$d" ] || continue
    s=$(date -u -d "$d" +%s 2>/dev/null) || continue
    [ "$s" -gt "$newest" ] && newest=$s
  done
  [ "$newest" -gt 0 ] && echo "$newest"
}

# repro_epoch ROOT: SOURCE_DATE_EPOCH for this build, from what the hook read, else from an earlier
# build's /etc/img/build-info (a root taken from the cache keeps the date of the lists it was installed from).
repro_epoch() {
  local e
  e=$(cat "$REPRO_EPOCH_FILE" 2>/dev/null)
  [ -z "$e" ] && e=$(sed -n 's/^SOURCE_DATE_EPOCH=//p' "$1/etc/img/build-info" 2>/dev/null | head -n1)
  [[ "$e" =~ ^[0-9]+$ ]] && echo "$e"
}

# repro_normalize ROOT: what a build writes that differs from one build to the next, and means
# nothing in the image: the machine's identity (empty: systemd makes one at first boot), the
# install's logs, ldconfig's cache of file times.
repro_normalize() {
  local r=$1 f
  [ -s "$r/etc/machine-id" ] && : > "$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id.tmp" "$r/var/lib/systemd/random-seed" "$r/var/cache/ldconfig/aux-cache"
  for f in dpkg.log alternatives.log bootstrap.log apt/history.log apt/term.log; do
    [ -f "$r/var/log/$f" ] && [ ! -L "$r/var/log/$f" ] && : > "$r/var/log/$f"
  done
  rm -f "$r/var/log/apt/eipp.log.xz"
  # debconf and dpkg keep the previous copy of their databases; their content is the install's order.
  rm -f "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
  return 0
}

# repro_hex NAME [N]: N hex digits (default 32) derived from the request hash (IMG_REQUEST_HASH) and
# NAME, so the same request gets the same identifiers every time; random without a request hash.
repro_hex() {
  local n=${2:-32}
  if [ -n "${IMG_REQUEST_HASH:-}" ]; then
    printf '%s\0%s' "$IMG_REQUEST_HASH" "$1" | sha256sum | cut -c1-"$n"
  else
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-"$n"
  fi
}

# repro_uuid NAME: a version-4-shaped UUID from repro_hex.
repro_uuid() {
  local h
  h=$(repro_hex "$1")
  printf '%s-%s-4%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" $(( (0x${h:16:1} & 3) | 8 )) "${h:17:3}" "${h:20:12}"
}

# repro_clamp_tree DIR: before a file system is written from DIR (mke2fs -d copies each file's
# times): every modification time clamped to SOURCE_DATE_EPOCH, every access time set to it.
# The change times cannot be set; repro_ext_ctimes sets them in the written file system.
repro_clamp_tree() {
  [ -n "${SOURCE_DATE_EPOCH:-}" ] || return 0
  find "$1" -xdev -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -m -d "@$SOURCE_DATE_EPOCH" {} + 2>/dev/null
  find "$1" -xdev -exec touch -h -a -d "@$SOURCE_DATE_EPOCH" {} + 2>/dev/null
  return 0
}

# repro_ext_ctimes DIR FILE: every inode of the ext2/3/4 image FILE that was written from DIR gets
# SOURCE_DATE_EPOCH as its change time (debugfs; a name debugfs cannot be given quoted keeps its own).
repro_ext_ctimes() {
  [ -n "${SOURCE_DATE_EPOCH:-}" ] || return 0
  local t="@$SOURCE_DATE_EPOCH"
  { echo "sif / ctime $t"
    (cd "$1" && find . -xdev -mindepth 1 -printf '%P\0') | LC_ALL=C awk -v RS='\0' -v t="$t" '!/["\\\n]/ { printf "sif \"/%s\" ctime %s\n", $0, t }'
  } | debugfs -w -f - "$2" >/dev/null 2>&1
}

# repro_ext_wtime FILE: the superblock's last write time set to SOURCE_DATE_EPOCH, and its checksum
# made again (crc32c, when metadata_csum is on). debugfs writes the clock's time there on closing
# and, unlike mke2fs, does not honour E2FSPROGS_FAKE_TIME; only the primary superblock is written.
repro_ext_wtime() {
  [ -n "${SOURCE_DATE_EPOCH:-}" ] || return 0
  perl -e '
    my ($file, $t) = @ARGV;
    open(my $f, "+<", $file) or die "$file: $!"; binmode $f;
    seek($f, 1024, 0); read($f, my $sb, 1024) == 1024 or die "$file: no superblock";
    unpack("v", substr($sb, 0x38, 2)) == 0xEF53 or die "$file: not an ext2/3/4 file system";
    substr($sb, 0x30, 4) = pack("V", $t);
    if (unpack("V", substr($sb, 0x64, 4)) & 0x400) {
      my @tab = map { my $c = $_; $c = ($c & 1) ? (($c >> 1) ^ 0x82F63B78) : ($c >> 1) for 1 .. 8; $c } 0 .. 255;
      my $crc = 0xFFFFFFFF;
      $crc = $tab[($crc ^ $_) & 0xFF] ^ ($crc >> 8) for unpack("C*", substr($sb, 0, 1020));
      substr($sb, 1020, 4) = pack("V", $crc);
    }
    seek($f, 1024, 0); print $f $sb; close($f) or die "$file: $!";' "$1" "$SOURCE_DATE_EPOCH"
}

# repro_tar_opts: tar options for an archive that depends on the files only: names in order, times
# clamped to SOURCE_DATE_EPOCH, numeric owners, and no atime or ctime in the pax headers.
repro_tar_opts() {
  printf '%s\n' --sort=name --numeric-owner --format=pax \
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime'
  [ -n "${SOURCE_DATE_EPOCH:-}" ] && printf '%s\n' "--mtime=@$SOURCE_DATE_EPOCH" --clamp-mtime
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    epoch)
      e=$(repro_lists_epoch "$2") && echo "$e" > "$REPRO_EPOCH_FILE"
      exit 0
      ;;
  esac
  echo "usage: reproducible.sh epoch ROOT" >&2
  exit 2
fi
