# Sourced by package-index.sh and build-in-sandbox.sh: apt reading package lists into a directory of
# its own (none of the container's apt configuration, state or lists), for one architecture: apt only
# downloads the indices, so an arm64 list reads on an amd64 machine without emulation.

# apt_lists_opts DIR ARCH: the apt options that keep everything under DIR.
apt_lists_opts() {
  local d=$1 arch=$2
  printf '%s\n' -o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/etc/sources.list.d" \
    -o "Dir::Etc::Parts=$d/etc/apt.conf.d" -o "Dir::Etc::PreferencesParts=$d/etc/preferences.d" \
    -o "Dir::State::Lists=$d/lists" -o "Dir::State::status=$d/status" -o "Dir::Cache=$d/cache" \
    -o "APT::Architecture=$arch" -o "APT::Architectures=$arch" -o Acquire::Languages=none \
    -o APT::Sandbox::User=root -o Debug::NoLocking=1
  [ "${IMG_APT_CHECK_VALID_UNTIL:-true}" = false ] && printf '%s\n' -o 'Acquire::Check-Valid-Until=false'
  return 0
}

# apt_lists_update DIR ARCH SOURCES: reads the lists of SOURCES (a file of "deb URI SUITE COMPONENTS"
# lines, mirrors already in place) into DIR; apt checks their signatures with this image's keyring.
apt_lists_update() {
  local d=$1 arch=$2 opts
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/etc/apt.conf.d" "$d/etc/preferences.d" "$d/etc/sources.list.d"
  : > "$d/status"
  cp "$3" "$d/sources.list"
  mapfile -t opts < <(apt_lists_opts "$d" "$arch")
  apt-get "${opts[@]}" -q update >&2
}

# apt_lists_dump DIR ARCH: for each list read, "@@UNIT SUITE COMPONENT ARCH TRUSTED", then one line per
# package: its name and the virtual packages it provides, versions dropped.
apt_lists_dump() {
  local d=$1 arch=$2 opts suite component a trusted file
  mapfile -t opts < <(apt_lists_opts "$d" "$arch")
  apt-get "${opts[@]}" indextargets --format '$(RELEASE) $(COMPONENT) $(ARCHITECTURE) $(TRUSTED) $(FILENAME)' 'Created-By: Packages' |
  while read -r suite component a trusted file; do
    echo "@@UNIT $suite $component $a $trusted"
    /usr/lib/apt/apt-helper cat-file "$file" | awk '
      /^Package:/ { name = $2 }
      /^Provides:/ { sub(/^Provides:[ \t]*/, ""); gsub(/\([^)]*\)/, ""); gsub(/[ \t]*,[ \t]*/, " "); provides = $0 }
      /^$/ { if (name != "") print name, provides; name = ""; provides = "" }
      END { if (name != "") print name, provides }'
  done
}
