#!/usr/bin/env bash
# Fetch Debian's Prometheus (with promtool) and Pushgateway, once, into a cache, for the metrics tests.
#
#   scripts/get-prometheus.sh        -> prints the cache directory holding bin/prometheus, bin/promtool,
#                                       bin/pushgateway
#
# The binary packages `prometheus` and `prometheus-pushgateway` of Debian bookworm are downloaded (never
# installed: no recommends, no services, nothing started) through a private apt configuration kept under
# the cache directory, derived from the Debian archive this machine already uses; the system's apt setup is
# never changed. `dpkg -x` unpacks them; both are static Go binaries. Safe to run concurrently.
set -euo pipefail

SUITE="bookworm"
PKGS=(prometheus prometheus-pushgateway)

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/acr-refresh/prometheus-$SUITE"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ -x "$CACHE/bin/prometheus" ] && [ -x "$CACHE/bin/promtool" ] && [ -x "$CACHE/bin/pushgateway" ]; then
  echo "$CACHE"; exit 0
fi

die() { echo "get-prometheus: $*" >&2; exit 1; }
log() { echo "get-prometheus: $*" >&2; }
command -v apt-get >/dev/null || die "needs apt-get (a Debian machine) to fetch Debian's prometheus packages"
command -v dpkg >/dev/null || die "needs dpkg to unpack the packages"
SUDO=""; [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && SUDO="sudo"; }

APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc"
if [ ! -s "$APT/etc/sources.list" ]; then
  mirror=$(apt-cache policy 2>/dev/null | awk '
    /^ *[0-9]+ (https?|file):/ {uri=$2; next}
    /release .*o=Debian,/ && /l=Debian,/ && uri != "" && uri !~ /security/ {print uri; exit}')
  [ -n "$mirror" ] || die "no Debian archive found in this machine's apt sources (run 'apt-get update' first)"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -r "$keyring" ] || die "missing $keyring (package debian-archive-keyring)"
  printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$SUITE" >"$APT/etc/sources.list"
fi
apt_private=(-o "Dir::Etc::SourceList=$APT/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache::Archives=$APT/archives"
             -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Get::List-Cleanup=0"
             -o "APT::Sandbox::User=$(id -un)" -o "APT::Install-Recommends=false")
if [ ! -e "$APT/.updated" ]; then
  log "reading the $SUITE package lists (private apt configuration under $APT)"
  $SUDO apt-get "${apt_private[@]}" -qq update >&2 || die "apt-get update of $SUITE failed"
  touch "$APT/.updated"
fi

DL="$CACHE/dl"
rm -rf "$DL" "$CACHE/root"; mkdir -p "$DL" "$CACHE/root" "$CACHE/bin"
log "downloading ${PKGS[*]} (binary packages only; nothing is installed)"
(cd "$DL" && apt-get "${apt_private[@]}" -qq download "${PKGS[@]/%//$SUITE}" >&2) \
  || die "apt-get download ${PKGS[*]} failed"
for deb in "$DL"/*.deb; do
  dpkg -x "$deb" "$CACHE/root" || die "dpkg -x $deb failed"
  dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$CACHE/root/VERSIONS"
done
for bin in prometheus promtool; do
  [ -x "$CACHE/root/usr/bin/$bin" ] || die "$bin missing from the prometheus package"
  ln -sf "../root/usr/bin/$bin" "$CACHE/bin/$bin"
done
[ -x "$CACHE/root/usr/bin/prometheus-pushgateway" ] || die "prometheus-pushgateway missing from its package"
ln -sf "../root/usr/bin/prometheus-pushgateway" "$CACHE/bin/pushgateway"
rm -rf "$DL"
"$CACHE/bin/prometheus" --version >/dev/null 2>&1 || die "the unpacked prometheus does not run here"
"$CACHE/bin/pushgateway" --version >/dev/null 2>&1 || die "the unpacked pushgateway does not run here"
echo "$CACHE"
