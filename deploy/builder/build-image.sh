#!/usr/bin/env bash
# Builds the builder image locally, with no container registry:
# mmdebstrap writes a Debian root filesystem to a tarball and `docker import` turns it into an image.
# The tag is the builder version: a hash of this folder, so a changed recipe gives a new image
# and an unchanged one is not rebuilt.
# Usage: build-image.sh [--print-tag | --print-version]
# Settings: IMG_DEBIAN_MIRROR and IMG_DEBIAN_SECURITY_MIRROR (empty: mmdebstrap's default mirrors),
# IMG_BUILDER_SUITE (bookworm). The image's sources.list keeps the mirrors it was made from: builds take
# them as their defaults (build-in-sandbox.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite=${IMG_BUILDER_SUITE:-bookworm}
# The builder version, computed here only (image-creator and the frontend ask this script for it): a
# hash of every file of the recipe, by name, the Dockerfile included.
version=$(cd "$here" && for f in $(ls Dockerfile packages.txt ./*.sh 2>/dev/null | sed 's|^\./||' | LC_ALL=C sort); do
  printf '%s\0' "$f"; cat "$f"; printf '\0'
done | sha256sum | cut -c1-16)
tag="img-builder:$version"
if [ "${1:-}" = "--print-tag" ]; then echo "$tag"; exit 0; fi
if [ "${1:-}" = "--print-version" ]; then echo "$version"; exit 0; fi

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "builder image $tag is present"
  exit 0
fi
packages=$(grep -v '^#' "$here/packages.txt" | grep -v '^$' | paste -sd, -)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building builder image $tag (suite $suite) with mmdebstrap"
mirror_args=()
# With a mirror of the operator's, name the updates and security suites too, as mmdebstrap does by default.
if [ -n "${IMG_DEBIAN_MIRROR:-}" ]; then
  mirror_args=("deb $IMG_DEBIAN_MIRROR $suite main" "deb $IMG_DEBIAN_MIRROR $suite-updates main")
  [ -n "${IMG_DEBIAN_SECURITY_MIRROR:-}" ] && mirror_args+=("deb $IMG_DEBIAN_SECURITY_MIRROR $suite-security main")
fi
mmdebstrap --variant=apt --architectures=amd64,arm64 --include="$packages" \
  --customize-hook='mkdir -p "$1/opt/img"' \
  --customize-hook='ln -s /work/out "$1/out"' \
  --customize-hook='mkdir -p "$1/mnt" && ln -s /work/rootfs "$1/mnt/sysimage" && ln -s /work/rootfs "$1/mnt/sysroot"' \
  --customize-hook="copy-in $(cd "$here" && ls ./*.sh | grep -v build-image.sh | sed "s|^\./|$here/|" | tr '\n' ' ') /opt/img" \
  --customize-hook='chmod 0755 "$1"/opt/img/*.sh' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/archives/*.deb' \
  "$suite" "$work/builder.tar" "${mirror_args[@]}"
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'WORKDIR /work' \
  --change "LABEL img.builder.version=$version" \
  "$work/builder.tar" "$tag"
echo "built $tag"
# Older builder images are not used by this recipe any more. Another checkout on this machine (a CI
# run, a second working tree) may still build with one, so only those a day old and used by no
# container go.
docker image prune --all --force --filter label=img.builder.version --filter "label!=img.builder.version=$version" \
  --filter until=24h >/dev/null 2>&1 || true
