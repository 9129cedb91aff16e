#!/bin/bash
# mmdebstrap hook for the shared package cache (a directory of .deb files that image-creator keeps,
# mounted read-only at $IMG_DEB_CACHE). Runs with the new root as $2:
#   in   (setup hook)     updates the package lists, asks apt which packages this build will download, and
#                         copies in each one the cache holds, but only if its size and SHA256 are those in
#                         the repository's signed index: a damaged or planted file is never used.
#   out  (customize hook) copies every package this build downloaded that the cache lacks to
#                         /out/.cache-export/debs, for image-creator to add to the cache before any %post runs.
set -uo pipefail
mode=$1
root=$2
archives=$root/var/cache/apt/archives
cache=${IMG_DEB_CACHE:-/nonexistent}

case "$mode" in
  in)
    APT_CONFIG=$MMDEBSTRAP_APT_CONFIG apt-get update || exit 1
    mkdir -p "$archives/partial"
    include=()
    [ -n "${IMG_INCLUDE:-}" ] && IFS=, read -r -a include <<<"$IMG_INCLUDE"
    # From an empty system: the essential and required packages mmdebstrap starts from, apt, and the
    # kickstart's packages with everything they depend on. A name apt does not know is reported by
    # mmdebstrap itself; here it only means nothing is taken from the cache.
    if ! uris=$(APT_CONFIG=$MMDEBSTRAP_APT_CONFIG apt-get install --print-uris -qq -y '?essential' '?priority(required)' apt "${include[@]}" 2>/dev/null); then
      echo "IMG: package cache: apt could not list this build's packages; every package is downloaded"
      exit 0
    fi
    # apt prints an MD5 sum with each file; the SHA256 sums come from the same signed index, keyed by
    # the file's name in the pool (which, unlike apt's own name for it, never holds the epoch).
    declare -A sha256
    names=$(awk '{ n = $2; sub(/_.*/, "", n); print n }' <<<"$uris" | sort -u)
    while read -r pool sum; do
      [ -n "$pool" ] && sha256[$pool]=$sum
    done < <(APT_CONFIG=$MMDEBSTRAP_APT_CONFIG apt-cache show $names 2>/dev/null \
      | awk '/^Package:/ { f = "" } /^Filename:/ { f = $2; sub(/.*\//, "", f) } /^SHA256:/ && f != "" { print f, $2 }')
    total=0 used=0 bytes=0 refused=0
    while read -r _uri file size _md5; do
      [ -n "${file:-}" ] || continue
      total=$((total + 1))
      f=$cache/$file
      [ -f "$f" ] || continue
      want=${sha256[$(sed 's/_[0-9]*%3a/_/' <<<"$file")]:-}
      if [ -z "$want" ] || [ "$(stat -c %s "$f")" != "$size" ] || [ "$(sha256sum < "$f" | cut -d' ' -f1)" != "$want" ]; then
        refused=$((refused + 1))
        continue
      fi
      cp "$f" "$archives/$file" || continue
      used=$((used + 1))
      bytes=$((bytes + size))
    done <<<"$uris"
    echo "IMG: package cache: $used of $total packages taken from the cache ($((bytes / 1048576)) MiB)"
    [ "$refused" -gt 0 ] && echo "IMG: package cache: $refused cached files did not match the signed index and were not used"
    exit 0
    ;;
  out)
    mkdir -p /out/.cache-export/debs || exit 0
    n=0
    for f in "$archives"/*.deb; do
      [ -f "$f" ] || continue
      # A name the cache holds with other content (damaged, or planted) is offered again: this one is apt's.
      cmp -s "$f" "$cache/${f##*/}" && continue
      cp "$f" /out/.cache-export/debs/ && n=$((n + 1))
    done
    echo "IMG: package cache: $n downloaded packages offered to the cache"
    exit 0
    ;;
esac
echo "usage: package-cache.sh in|out ROOT" >&2
exit 2
