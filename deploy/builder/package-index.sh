#!/bin/bash
# Runs in a throwaway container from the builder image: reads the package lists of the Debian suites a
# build would install from, with apt itself (so the same mirrors as builds, and apt verifies the
# signatures with this image's keyring), and writes out only what the check before a build is queued
# needs: each package's name and the virtual packages it provides. image-creator reads this output as
# hostile, bounded data and keeps it in the database (shared/src/packages/).
# Input, all data:
#   IMG_INDEX_SOURCES  "deb URI SUITE COMPONENT..." lines, the URIs @DEFAULT_MIRROR@ or @SECURITY_MIRROR@
#   IMG_ARCH           the architecture whose lists are read (amd64, arm64)
#   IMG_DEBIAN_MIRROR IMG_DEBIAN_SECURITY_MIRROR (empty: the tool's default), IMG_APT_CHECK_VALID_UNTIL
# Output (standard output), for each list read:
#   @@UNIT SUITE COMPONENT ARCH TRUSTED   then one line per package: NAME [PROVIDED...]
#   @@END                                 after the last list
# apt's own messages go to standard error. The container's file system is read-only but for /work.
set -euo pipefail
export LC_ALL=C.UTF-8
here=$(dirname "$(readlink -f "$0")")
. "$here/apt-mirrors.sh"
. "$here/apt-lists.sh"
arch=${IMG_ARCH:?IMG_ARCH names the architecture}
case "$arch" in *[!a-z0-9]*) echo "IMG: bad architecture '$arch'" >&2; exit 2 ;; esac
printf '%s\n' "${IMG_INDEX_SOURCES:?IMG_INDEX_SOURCES lists the sources}" > /work/sources.in
mirrors /work/sources.in > /work/sources.list
apt_lists_update /work/apt "$arch" /work/sources.list
apt_lists_dump /work/apt "$arch"
echo "@@END"
