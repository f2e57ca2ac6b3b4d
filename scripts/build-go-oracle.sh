#!/usr/bin/env bash
# Build the Go template oracle (tests/gotemplate/oracle/main.go: Go's text/template + Sprig, as ESO renders)
# once into a cache, from Debian packages alone.
#
#   scripts/build-go-oracle.sh        -> prints the path of the oracle binary
#   scripts/build-go-oracle.sh yaml   -> the same for tests/gotemplate/yaml_oracle/main.go: the oracle plus ESO's
#                                        toYaml/fromYaml over sigs.k8s.io/yaml 1.3.0 and gopkg.in/yaml.v2 2.4.0
#                                        (golang-k8s-sigs-yaml-dev, golang-gopkg-yaml.v2-dev)
#
# Needs Go 1.19 (golang-1.19-go), its sources (golang-1.19-src: Go's own text/template test tables) and
# Sprig 3.2.3 with its Go dependencies (golang-github-masterminds-sprig-dev); installs whichever is missing
# with apt-get (as root, or through sudo). Builds in GOPATH mode with GO111MODULE=off and GOPROXY=off, so
# nothing but Debian packages is ever downloaded. The cache key is the oracle's source hash; a lock
# serialises concurrent builders (the API-server build shares the same Go, read-only).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/tests/gotemplate/oracle/main.go"
PKGS=(golang-1.19-go golang-1.19-src golang-github-masterminds-sprig-dev)
NAME=go-oracle
case "${1:-}" in
  "") ;;
  yaml) SRC="$ROOT/tests/gotemplate/yaml_oracle/main.go" NAME=go-yaml-oracle
        PKGS+=(golang-k8s-sigs-yaml-dev golang-gopkg-yaml.v2-dev) ;;
  *) echo "build-go-oracle: unknown oracle '$1' (none, or yaml)" >&2; exit 2 ;;
esac
GO=/usr/lib/go-1.19/bin/go

die() { echo "build-go-oracle: $*" >&2; exit 1; }
log() { echo "build-go-oracle: $*" >&2; }

[ -r "$SRC" ] || die "missing $SRC"
hash=$(sha256sum "$SRC" | cut -c1-12)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/acr-refresh/$NAME-$hash"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ -x "$CACHE/oracle" ]; then
  echo "$CACHE/oracle"; exit 0
fi

need=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  command -v apt-get >/dev/null || die "needs apt-get (a Debian machine) to install ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "needs root (or sudo) to install ${need[*]}"
    SUDO="sudo"
  fi
  log "installing ${need[*]}"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get -qq install -y --no-install-recommends "${need[@]}" >&2; then
    log "install failed; refreshing the package lists and retrying"
    $SUDO apt-get -qq update >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -qq install -y --no-install-recommends "${need[@]}" >&2 \
      || die "could not install ${need[*]} (Debian bookworm packages)"
  fi
fi
[ -x "$GO" ] || die "$GO missing after installing golang-1.19-go"
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || die "Sprig sources missing under /usr/share/gocode"
if [ "$NAME" = go-yaml-oracle ]; then
  [ -d /usr/share/gocode/src/sigs.k8s.io/yaml ] || die "sigs.k8s.io/yaml sources missing under /usr/share/gocode"
fi

GOPATH_DIR="$CACHE/gopath"
mkdir -p "$GOPATH_DIR/src/oracle"
cp "$SRC" "$GOPATH_DIR/src/oracle/main.go"
export GOPATH="$GOPATH_DIR:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
       CGO_ENABLED=0 GOCACHE="$CACHE/gocache"
log "building the oracle with $("$GO" version)"
(cd "$GOPATH_DIR/src/oracle" && "$GO" build -trimpath -o "$CACHE/oracle.tmp" .) >&2 || die "go build failed"
mv "$CACHE/oracle.tmp" "$CACHE/oracle"
rm -rf "$CACHE/gocache"
echo "$CACHE/oracle"
