#!/bin/bash
# Runs inside the build sandbox, from build-in-sandbox.sh before any %post: creates the kickstart's
# `user` accounts in the image root ($1) and installs the `sshkey` lines as authorized_keys.
# Input, all data, one value per file (written by services/image-creator/src/user-inputs.ts):
#   /in/users/NN/name              the user name
#   /in/users/NN/groups            supplementary groups, one per line; those the image lacks are created
#   /in/users/NN/password          'NAME:PASSWORD' for chpasswd (absent: no password, the account stays locked)
#   /in/users/NN/password.crypted  present when that password is already a crypt(3) hash
#   /in/users/NN/homedir, shell, uid, gecos   optional, one value each
#   /in/authorized_keys/NAME       authorized_keys lines for the user NAME (root included)
# Every command runs inside the image (chroot), with the image's own tools: the password is hashed
# by its chpasswd, with the method its PAM and login.defs choose, and paths resolve in the image.
# Exits non-zero, after a line saying why, when a user cannot be made as asked.
set -uo pipefail
root=$1
in=/in
# With the image's own /tmp: the sandbox's TMPDIR (/work/tmp) is not inside the image.
in_root() { TMPDIR=/tmp chroot "$root" "$@"; }
die() { echo "IMG: $*"; exit 1; }
value() { head -n 1 "$1"; }

shopt -s nullglob
for dir in "$in"/users/[0-9]*; do
  name=$(value "$dir/name")
  in_root getent passwd "$name" >/dev/null && die "user $name already exists in the image (a package made it): choose another name"
  args=(--create-home)
  # The user's own group is made for it, unless a group of that name exists: then that one is its group.
  if in_root getent group "$name" >/dev/null; then args+=(--gid "$name"); else args+=(--user-group); fi
  if [ -f "$dir/homedir" ]; then
    home=$(value "$dir/homedir")
    in_root mkdir -p "$(dirname "$home")" || die "could not create the parent directory of $home for user $name"
    args+=(--home-dir "$home")
  fi
  if [ -f "$dir/shell" ]; then
    shell=$(value "$dir/shell")
    in_root test -x "$shell" || echo "IMG: warning: the shell $shell of user $name is not in the image"
    args+=(--shell "$shell")
  fi
  [ -f "$dir/uid" ] && args+=(--uid "$(value "$dir/uid")")
  [ -f "$dir/gecos" ] && args+=(--comment "$(value "$dir/gecos")")
  in_root useradd "${args[@]}" -- "$name" || die "useradd could not create user $name (see above)"
  # Groups after the user, so that the user's own group gets the id useradd picks with its uid.
  groups=()
  if [ -f "$dir/groups" ]; then
    while IFS= read -r g || [ -n "$g" ]; do
      [ -n "$g" ] && [ "$g" != "$name" ] || continue
      if ! in_root getent group "$g" >/dev/null; then
        echo "IMG: creating group $g for user $name"
        in_root groupadd "$g" || die "could not create the group $g for user $name"
      fi
      groups+=("$g")
    done < "$dir/groups"
  fi
  if [ ${#groups[@]} -gt 0 ]; then
    in_root usermod --append --groups "$(IFS=,; echo "${groups[*]}")" "$name" || die "could not add user $name to its groups"
  fi
  if [ -f "$dir/password" ]; then
    if [ -f "$dir/password.crypted" ]; then in_root chpasswd -e < "$dir/password"; else in_root chpasswd < "$dir/password"; fi \
      || die "setting the password of user $name failed"
  fi
  echo "IMG: created user $name ($(in_root id "$name"))"
done

for keys in "$in"/authorized_keys/*; do
  name=$(basename "$keys")
  entry=$(in_root getent passwd "$name") || die "sshkey for $name: there is no such user in the image"
  IFS=: read -r _ _ uid gid _ home _ <<<"$entry"
  [ -n "$home" ] && in_root test -d "$home" || die "sshkey for $name: its home directory '$home' is not in the image"
  in_root install -d -m 0700 -o "$uid" -g "$gid" "$home/.ssh" || die "could not create $home/.ssh for $name"
  # Written from inside the image, so a link in the image resolves there; appended, as kickstart's sshkey does.
  in_root tee -a "$home/.ssh/authorized_keys" < "$keys" >/dev/null || die "could not write $home/.ssh/authorized_keys for $name"
  in_root chown "$uid:$gid" "$home/.ssh/authorized_keys" && in_root chmod 0600 "$home/.ssh/authorized_keys" \
    || die "could not set the owner and mode of $home/.ssh/authorized_keys for $name"
  echo "IMG: installed $(grep -c '' "$keys") SSH key(s) for $name in $home/.ssh/authorized_keys"
done
exit 0
