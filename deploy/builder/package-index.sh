#!/bin/bash
# Runs in a throwaway container from the builder image: reads the package lists of the Debian suites a
# build would install from, with apt itself (so the same mirrors as builds, and apt verifies the
# signatures with this image's keyring), and writes out only what the check before a build is queued
# needs: each package's name and the virtual packages it provides. image-creator reads this output as
# hostile, bounded data and keeps it in the database (shared/src/packages/).
# Input, all data:
#   IMG_INDEX_SOURCES  "deb URI SUITE COMPONENT..." lines, the URIs @DEFAULT_MIRROR@ or @SECURITY_MIRROR@
#   IMG_ARCH           the architecture whose lists are read (amd64, arm64): apt only downloads indices,
#                      so no emulation is needed
#   IMG_DEBIAN_MIRROR IMG_DEBIAN_SECURITY_MIRROR (empty: the tool's default), IMG_APT_CHECK_VALID_UNTIL
# Output (standard output), for each list read:
#   @@UNIT SUITE COMPONENT ARCH TRUSTED   then one line per package: NAME [PROVIDED...]
#   @@END                                 after the last list
# The container's file system is read-only but for its work area /work, where apt keeps the lists.
set -euo pipefail
export LC_ALL=C.UTF-8
here=$(dirname "$(readlink -f "$0")")
. "$here/apt-mirrors.sh"
arch=${IMG_ARCH:?IMG_ARCH names the architecture}
case "$arch" in *[!a-z0-9]*) echo "IMG: bad architecture '$arch'" >&2; exit 2 ;; esac
d=/work/apt
mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/etc/apt.conf.d" "$d/etc/preferences.d" "$d/etc/sources.list.d"
: > "$d/status"
printf '%s\n' "${IMG_INDEX_SOURCES:?IMG_INDEX_SOURCES lists the sources}" > "$d/sources.in"
mirrors "$d/sources.in" > "$d/sources.list"
# Only this container's directories: none of the image's own apt configuration or lists is used.
opts=(-o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/etc/sources.list.d"
  -o "Dir::Etc::Parts=$d/etc/apt.conf.d" -o "Dir::Etc::PreferencesParts=$d/etc/preferences.d"
  -o "Dir::State::Lists=$d/lists" -o "Dir::State::status=$d/status" -o "Dir::Cache=$d/cache"
  -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" -o Acquire::Languages=none
  -o APT::Sandbox::User=root -o Debug::NoLocking=1)
[ "${IMG_APT_CHECK_VALID_UNTIL:-true}" = false ] && opts+=(-o 'Acquire::Check-Valid-Until=false')
# apt's own messages go to standard error, which image-creator keeps for a failure's message.
apt-get "${opts[@]}" -q update >&2
apt-get "${opts[@]}" indextargets --format '$(RELEASE) $(COMPONENT) $(ARCHITECTURE) $(TRUSTED) $(FILENAME)' 'Created-By: Packages' |
while read -r suite component a trusted file; do
  echo "@@UNIT $suite $component $a $trusted"
  # One stanza per package: its name, then what it provides, versions dropped.
  /usr/lib/apt/apt-helper cat-file "$file" | awk '
    /^Package:/ { name = $2 }
    /^Provides:/ { sub(/^Provides:[ \t]*/, ""); gsub(/\([^)]*\)/, ""); gsub(/[ \t]*,[ \t]*/, " "); provides = $0 }
    /^$/ { if (name != "") print name, provides; name = ""; provides = "" }
    END { if (name != "") print name, provides }'
done
echo "@@END"
