# Sourced by build-in-sandbox.sh and package-index.sh: which mirrors the @DEFAULT_MIRROR@ and
# @SECURITY_MIRROR@ placeholders of an apt source stand for. The operator's IMG_DEBIAN_MIRROR and
# IMG_DEBIAN_SECURITY_MIRROR, else the tools' defaults, which are those this builder image was itself
# made from: mmdebstrap wrote its default Debian mirror, and for a stable suite its security archive,
# into the image's sources.list (the Dockerfile's image has them in deb822 form, in sources.list.d).

# tool_mirror 0|1: the first URI of a Debian suite (0) or of a security suite (1).
tool_mirror() {
  # Either file may be missing; a script with `set -e -o pipefail` must not stop for that.
  { awk '$1 == "deb" { print $2, $3 }' /etc/apt/sources.list 2>/dev/null || true
    awk '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) print u, $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
  } | awk -v sec="$1" '($2 ~ /-security$/) == (sec == 1) { print $1; exit }'
}
default_mirror=${IMG_DEBIAN_MIRROR:-$(tool_mirror 0)}
security_mirror=${IMG_DEBIAN_SECURITY_MIRROR:-$(tool_mirror 1)}

# mirrors FILE: the file with the placeholders replaced by the mirrors.
mirrors() { sed -e "s|@DEFAULT_MIRROR@|$default_mirror|g" -e "s|@SECURITY_MIRROR@|$security_mirror|g" "$1"; }
