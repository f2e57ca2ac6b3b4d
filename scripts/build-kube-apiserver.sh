#!/usr/bin/env bash
# Build a real kube-apiserver (and find etcd) from Debian bookworm packages alone, once, into a cache.
#
#   scripts/build-kube-apiserver.sh        -> prints the cache directory holding bin/kube-apiserver, bin/etcd
#
# Everything comes from Debian's archive through a private apt configuration kept under the cache
# directory (the system's apt setup is never changed): etcd 3.4 and Go 1.19 as binary packages, and the
# bookworm `kubernetes` source package (upstream v1.20.2 with its whole vendor/), built in GOPATH mode with
# GO111MODULE=off and GOPROXY=off, so nothing but Debian packages is downloaded.
# Safe to run concurrently: a lock serialises builders; a finished build is reused.
set -euo pipefail

KUBE_SRC_VERSION="1.20.5+really1.20.2-1.1+deb12u1"      # bookworm's kubernetes source package (upstream v1.20.2)
GO_PKG="golang-1.19-go"                       # Go 1.19 (bookworm)
ETCD_PKG="etcd-server"                        # etcd 3.4 (bookworm)
REFLECT2_PKG="golang-github-modern-go-reflect2-dev"   # v1.0.2: v1.0.1 (vendored) breaks on Go >= 1.18
SUITE="bookworm"

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/acr-refresh/kube-apiserver-v1.20.2"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ -x "$CACHE/bin/kube-apiserver" ] && [ -x "$CACHE/bin/etcd" ]; then
  echo "$CACHE"; exit 0
fi

die() { echo "build-kube-apiserver: $*" >&2; exit 1; }
log() { echo "build-kube-apiserver: $*" >&2; }
command -v apt-get >/dev/null || die "needs apt-get (a Debian machine); cannot build the real API server tier here"
[ "$(id -u)" = 0 ] || command -v sudo >/dev/null || die "needs root (or sudo) to install $GO_PKG and $ETCD_PKG"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# --- a private apt configuration for bookworm (binary and source), derived from the system's own mirror
APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc"
if [ ! -s "$APT/etc/sources.list" ]; then
  # The Debian archive this machine already uses (whatever its release), pointed at bookworm.
  mirror=$(apt-cache policy 2>/dev/null | awk '
    /^ *[0-9]+ (https?|file):/ {uri=$2; next}
    /release .*o=Debian,/ && /l=Debian,/ && uri != "" && uri !~ /security/ {print uri; exit}')
  [ -n "$mirror" ] || die "no Debian archive found in this machine's apt sources (run 'apt-get update' first)"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -r "$keyring" ] || die "missing $keyring (package debian-archive-keyring)"
  printf 'deb [signed-by=%s] %s %s main\ndeb-src [signed-by=%s] %s %s main\n' \
    "$keyring" "$mirror" "$SUITE" "$keyring" "$mirror" "$SUITE" >"$APT/etc/sources.list"
fi
apt_private=(-o "Dir::Etc::SourceList=$APT/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache::Archives=$APT/archives"
             -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Get::List-Cleanup=0"
             -o "APT::Sandbox::User=root")
if [ ! -e "$APT/.updated" ]; then
  log "reading the $SUITE package lists (private apt configuration under $APT)"
  $SUDO apt-get "${apt_private[@]}" -qq update >&2 || die "apt-get update of $SUITE failed"
  touch "$APT/.updated"
fi

# --- binary packages: Go 1.19, etcd 3.4, reflect2 v1.0.2 (pinned to bookworm)
need=()
dpkg -s "$GO_PKG" >/dev/null 2>&1 || need+=("$GO_PKG/$SUITE")
dpkg -s "$ETCD_PKG" >/dev/null 2>&1 || need+=("$ETCD_PKG/$SUITE")
dpkg -s "$REFLECT2_PKG" >/dev/null 2>&1 || need+=("$REFLECT2_PKG/$SUITE")
if ((${#need[@]})); then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${apt_private[@]}" -qq install -y --no-install-recommends \
    "${need[@]}" >&2 || die "could not install ${need[*]} from Debian $SUITE"
fi
GO=/usr/lib/go-1.19/bin/go
[ -x "$GO" ] || die "$GO missing after installing $GO_PKG"
ETCD=$(command -v etcd || true)
[ -n "$ETCD" ] || die "etcd missing after installing $ETCD_PKG"

# --- the kubernetes source package
SRC="$CACHE/src"
if [ ! -d "$SRC/kubernetes/vendor" ]; then
  rm -rf "$SRC"; mkdir -p "$SRC/dl"
  log "downloading the kubernetes $KUBE_SRC_VERSION source package"
  (cd "$SRC/dl" && apt-get "${apt_private[@]}" -qq source --download-only "kubernetes=$KUBE_SRC_VERSION" >&2) \
    || die "apt-get source kubernetes=$KUBE_SRC_VERSION failed"
  orig=$(ls "$SRC"/dl/kubernetes_*.orig.tar.* 2>/dev/null | head -n1)
  [ -n "$orig" ] || die "no orig tarball in the kubernetes source package"
  mkdir -p "$SRC/kubernetes"
  tar -xf "$orig" -C "$SRC/kubernetes" --strip-components=1
  [ -d "$SRC/kubernetes/vendor" ] || die "the kubernetes source package has no vendor/ directory"
fi

# --- build in GOPATH mode from vendor/ only
GOPATH_DIR="$CACHE/gopath"
K8S="$GOPATH_DIR/src/k8s.io/kubernetes"
mkdir -p "$(dirname "$K8S")"
[ -e "$K8S" ] || ln -s "$SRC/kubernetes" "$K8S"
# reflect2 v1.0.1 uses runtime internals that moved in Go 1.18; Debian's v1.0.2 is the upstream fix.
R2="$SRC/kubernetes/vendor/github.com/modern-go/reflect2"
if ! grep -q "1.0.2" "$R2/.debian-version" 2>/dev/null; then
  rm -rf "$R2"; mkdir -p "$R2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2/. "$R2/"
  rm -rf "$R2"/*_test.go "$R2/test" "$R2/go.mod" 2>/dev/null || true
  echo "1.0.2 (from $REFLECT2_PKG)" >"$R2/.debian-version"
fi
export GOPATH="$GOPATH_DIR" GO111MODULE=off GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 \
       GOCACHE="$CACHE/gocache" GOTOOLCHAIN=local
unset GOFLAGS   # GOPATH mode has no -mod; vendor/ is found by the GOPATH layout
cd "$K8S"
OPENAPI="pkg/generated/openapi/zz_generated.openapi.go"
if [ ! -s "$OPENAPI" ]; then
  log "generating $OPENAPI with the vendored openapi-gen (as upstream's make gen_openapi)"
  "$GO" build -o "$CACHE/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen >&2
  pkgs=$(grep -rl --include='*.go' '^// *+k8s:openapi-gen=' \
           staging/src/k8s.io/api staging/src/k8s.io/apimachinery staging/src/k8s.io/apiextensions-apiserver \
           staging/src/k8s.io/kube-aggregator staging/src/k8s.io/apiserver staging/src/k8s.io/metrics \
           staging/src/k8s.io/kube-proxy staging/src/k8s.io/kubelet staging/src/k8s.io/kube-scheduler \
           staging/src/k8s.io/kube-controller-manager staging/src/k8s.io/cloud-provider \
           staging/src/k8s.io/controller-manager pkg/apis 2>/dev/null \
         | xargs -n1 dirname | sort -u | sed -e 's#^staging/src/#k8s.io/kubernetes/vendor/#' \
           -e 's#^pkg/#k8s.io/kubernetes/pkg/#' | paste -sd, -)
  "$CACHE/openapi-gen" --input-dirs "$pkgs" --output-package k8s.io/kubernetes/pkg/generated/openapi \
    --output-base "$GOPATH_DIR/src" -O zz_generated.openapi \
    --go-header-file hack/boilerplate/boilerplate.generatego.txt \
    --report-filename /dev/null >&2 || die "openapi-gen failed"
fi
log "building cmd/kube-apiserver (a cold build takes several minutes on 2 cores)"
mkdir -p "$CACHE/bin"
"$GO" build -trimpath -ldflags "-s -w" -o "$CACHE/bin/kube-apiserver.tmp" ./cmd/kube-apiserver >&2 \
  || die "go build ./cmd/kube-apiserver failed"
mv "$CACHE/bin/kube-apiserver.tmp" "$CACHE/bin/kube-apiserver"
ln -sf "$ETCD" "$CACHE/bin/etcd"
# Keep the binaries only: the source tree and Go's build cache are about 1.6 GB.
rm -rf "$SRC" "$GOPATH_DIR" "$CACHE/gocache" "$CACHE/openapi-gen"
echo "$CACHE"
