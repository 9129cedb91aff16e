#!/bin/bash
# Sourced by build-in-sandbox.sh. The image's /dev without mknod(2): under Docker's user-namespace
# remapping (userns-remap) the sandbox may not create device nodes (EPERM even with CAP_MKNOD), so
# mmdebstrap leaves /dev empty. The sandbox bind-mounts the harmless host nodes into $root/dev
# (see docker-runner.ts) so maintainer scripts and %post have a real /dev/null, /dev/urandom...;
# the images get their nodes written by the tools that make them (tar headers, debugfs).
# name major minor, as mmdebstrap's @devfiles
DEV_NODES='console 5 1
full 1 7
null 1 3
ptmx 5 2
random 1 8
tty 5 0
urandom 1 9
zero 1 5'

# tar options that leave the device nodes out (they are bind mounts or stray regular files here)
dev_tar_excludes() {
  local n _
  while read -r n _; do printf -- '--exclude=./dev/%s\n' "$n"; done <<<"$DEV_NODES"
}

# The rest of /dev that needs no privilege (mmdebstrap removes its own symlinks again when it cannot mknod).
dev_skeleton() {
  local n _
  mkdir -p "$root/dev/pts" "$root/dev/shm"
  [ -e "$root/dev/fd" ] || [ -L "$root/dev/fd" ] || ln -s /proc/self/fd "$root/dev/fd"
  [ -L "$root/dev/stdin" ] || ln -sf /proc/self/fd/0 "$root/dev/stdin"
  [ -L "$root/dev/stdout" ] || ln -sf /proc/self/fd/1 "$root/dev/stdout"
  [ -L "$root/dev/stderr" ] || ln -sf /proc/self/fd/2 "$root/dev/stderr"
  # Something wrote to /dev/null before it existed: a regular file, which must not end up in the image.
  while read -r n _; do
    if [ -e "$root/dev/$n" ] && [ ! -c "$root/dev/$n" ]; then rm -f "$root/dev/$n"; fi
  done <<<"$DEV_NODES"
}

# ustar headers (no end-of-archive blocks) of the device nodes, root-owned, mode 0666: put before a
# tar stream, they make one valid archive (the same entries mmdebstrap writes for a tarball).
dev_tar_headers() {
  perl -e '
    my $mtime = $ENV{SOURCE_DATE_EPOCH} // time;
    while (my $l = <STDIN>) {
      my ($n, $maj, $min) = split " ", $l;
      my $e = pack("a100 a8 a8 a8 a12 a12 A8 a1 a100 a8 a32 a32 a8 a8 a155 x12",
        "./dev/$n", sprintf("%07o", 0666), sprintf("%07o", 0), sprintf("%07o", 0), sprintf("%011o", 0),
        sprintf("%011o", $mtime), "", "3", "", "ustar  ", "", "", sprintf("%07o", $maj), sprintf("%07o", $min), "");
      substr($e, 148, 7) = sprintf("%06o\0", unpack("%16C*", $e));
      print $e;
    }' <<<"$DEV_NODES"
}

# dev_fix_ext FILE: (re)create the device nodes in an ext2/3/4 image as root-owned nodes
dev_fix_ext() {
  local file=$1 n maj min
  {
    echo 'cd /dev'
    while read -r n maj min; do
      printf 'rm %s\nmknod %s c %s %s\nsif %s mode 020666\nsif %s uid 0\nsif %s gid 0\n' "$n" "$n" "$maj" "$min" "$n" "$n" "$n"
    done <<<"$DEV_NODES"
  } | debugfs -w -f - "$file" >/dev/null 2>&1 || return 1
}
