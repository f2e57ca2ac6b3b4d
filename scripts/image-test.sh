#!/usr/bin/env bash
# Build the CronJob image from the project's Dockerfile, unchanged, and test it (tests/image), with Debian
# packages alone: no image registry, no Docker daemon.
#
#   scripts/image-test.sh            build, run tests/image against the image, remove everything it made
#   KEEP=1 scripts/image-test.sh     keep the work directory (image store, logs) and print its path
#   PYTEST_ARGS="-k sigterm" ...     extra pytest arguments
#
# - Base: `docker.io/library/python:3.11-slim` is not reachable, so a stand-in is made with mmdebstrap
#   (bookworm minbase, python3 + python3-venv + ca-certificates, a virtual environment at /usr/local so
#   `pip install --prefix` lands where the Dockerfile expects, no docs/man pages/locales, one pip), cached as
#   a tarball under $XDG_CACHE_HOME/acr-refresh/, imported into a private store under that exact name so
#   the unmodified FROM resolves locally (--pull=never).
# - Build: `buildah bud --isolation chroot` on the host network. pip reaches the package index as this
#   machine's pip does: scripts/image/pip_config.py turns the host's pip configuration into a home
#   directory mounted over /root for the RUN steps only (nothing of it, nor the host's CA bundle, is in
#   the image; tests/image checks).
# - Run: podman with runc (crun 1.8 fails on these hosts' cgroup layout), host networking only, explicit
#   nofile/nproc ulimits, all configuration and storage private to a temporary directory. Nothing
#   system-wide is changed; what podman creates outside it (its blob-info cache) is removed at the end.
#
# Needs root (buildah and podman with a private store) and apt-get to install what is missing.
set -euo pipefail

SUITE=bookworm
BASE_NAME=docker.io/library/python:3.11-slim
IMAGE=localhost/acr-refresh:test
PACKAGES=(buildah podman runc mmdebstrap)
# The stand-in base. Change anything here and the cache key changes with it.
BASE_INCLUDE="python3,python3-venv,ca-certificates,passwd"
BASE_RECIPE="v1 $SUITE minbase merged-usr include=$BASE_INCLUDE venv=/usr/local no-doc no-man no-locale no-info"

cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
T0=$(date +%s.%N)

die() { echo "image-test: $*" >&2; exit 1; }
log() { echo "image-test: $*" >&2; }
since() { python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }

[ "$(uname -s)" = Linux ] || die "needs Linux (buildah, podman and runc); this is $(uname -s)"
[ "$(id -u)" = 0 ] || die "needs root: buildah and podman run here with a private root-owned store (try sudo)"
[ -x "$PYTHON" ] || die "no $PYTHON: run 'make lint' (or 'make test') first to create .venv"
command -v python3 >/dev/null || die "needs python3 on the host (to read the host's pip configuration)"

# --- tools, from Debian
missing=()
for pkg in "${PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them (a Debian machine is needed)"
  log "installing ${missing[*]} (Debian packages, --no-install-recommends)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"${TMPDIR:-/tmp}/acr-refresh-image-apt.log" 2>&1 \
    || { tail -n 20 "${TMPDIR:-/tmp}/acr-refresh-image-apt.log" >&2
         die "apt-get install ${missing[*]} failed (log above; run 'apt-get update' first?)"; }
  rm -f "${TMPDIR:-/tmp}/acr-refresh-image-apt.log"
fi
RUNC=$(command -v runc) || die "runc missing after installing it"

# --- a private work directory: store, run state, configuration; removed at exit
WORK=$(mktemp -d "${TMPDIR:-/tmp}/acr-refresh-image.XXXXXX")
had_blob_cache=0; [ -e /var/lib/containers ] && had_blob_cache=1
cleanup() {
  local rc=$?
  set +e
  if [ -x "$WORK/podman" ]; then
    "$WORK/podman" rm --all --force --time 0 >/dev/null 2>&1
    "$WORK/buildah" rm --all >/dev/null 2>&1
  fi
  if [ "${KEEP:-}" = 1 ]; then
    log "kept $WORK (store, logs); remove it with: $WORK/podman rmi -af; umount -R $WORK/store/overlay; rm -rf $WORK"
  else
    "$WORK/podman" rmi --all --force >/dev/null 2>&1
    # Anything still mounted under the work directory (overlay layers), innermost first.
    findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$WORK"
  fi
  # c/image keeps a blob-info cache for root at /var/lib/containers/cache whatever the store; ours alone
  # if it was not there before.
  [ "$had_blob_cache" = 1 ] || rm -rf /var/lib/containers
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK"/{conf,store,run,tmp,net,no-cni,home}
cat >"$WORK/conf/containers.conf" <<EOF
[containers]
# The engine's default nofile (1048576) is above these hosts' hard limit.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
# Host networking only: no bridge, no iptables rules, no IP allocations to clean up.
netns = "host"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
tmp_dir = "$WORK/tmp"
static_dir = "$WORK/store/libpod"
volume_path = "$WORK/store/volumes"

[engine.runtimes]
runc = ["$RUNC"]

[network]
network_backend = "cni"
network_config_dir = "$WORK/net"
# No plugins: a container that asked for a bridge network would fail instead of changing the host.
cni_plugin_dirs = ["$WORK/no-cni"]
EOF
cat >"$WORK/conf/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/store"
runroot = "$WORK/run"
EOF
cat >"$WORK/conf/registries.conf" <<EOF
# No registry is searched or pulled from: every image is local.
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$WORK/conf/policy.json"
for tool in podman buildah; do
  cat >"$WORK/$tool" <<EOF
#!/bin/sh
# $tool with this run's private configuration and store.
export CONTAINERS_CONF=$WORK/conf/containers.conf CONTAINERS_STORAGE_CONF=$WORK/conf/storage.conf
export CONTAINERS_REGISTRIES_CONF=$WORK/conf/registries.conf REGISTRIES_CONFIG_PATH=$WORK/conf/registries.conf
export TMPDIR=$WORK/tmp
exec $(command -v "$tool") "\$@"
EOF
  chmod 0755 "$WORK/$tool"
done
PODMAN=$WORK/podman BUILDAH=$WORK/buildah

# --- the stand-in base image, cached
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/acr-refresh"
mkdir -p "$CACHE"
KEY=$(printf '%s' "$BASE_RECIPE" | sha256sum | cut -c1-12)
BASE_TAR="$CACHE/image-base-$SUITE-$KEY.tar"
t=$(date +%s.%N)
exec 9>"$CACHE/image-base.lock"
flock 9
if [ -s "$BASE_TAR" ]; then
  base_how="cached"
else
  # The machine's own Debian sources (deb822 or one-line), whatever mirror or proxy they name.
  sources=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && grep -qE '^[[:space:]]*(deb |Types:)' "$f" && sources+=("$f")
  done
  ((${#sources[@]})) || die "no apt sources on this machine to build the $SUITE base from"
  log "building the stand-in base ($SUITE minbase with $BASE_INCLUDE) with mmdebstrap, once"
  mmdebstrap --variant=minbase --mode=root --format=tar --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --include="$BASE_INCLUDE" --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='chroot "$1" python3 -m venv /usr/local' \
    --customize-hook='rm -rf "$1"/usr/share/python-wheels "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    --customize-hook='rm -f "$1"/etc/apt/sources.list.d/*; : >"$1"/etc/apt/sources.list' \
    "$SUITE" "$BASE_TAR.partial" "${sources[@]}" >"$WORK/mmdebstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/mmdebstrap.log" >&2; rm -f "$BASE_TAR.partial"; die "mmdebstrap failed (log above)"; }
  mv "$BASE_TAR.partial" "$BASE_TAR"
  base_how="built"
fi
flock -u 9
t_base=$(since "$t")

t=$(date +%s.%N)
# What the real python:3.11-slim sets: PATH with /usr/local/bin first, LANG, CMD.
"$PODMAN" import --quiet \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
  "$BASE_TAR" "$BASE_NAME" >/dev/null 2>"$WORK/import.log" \
  || { cat "$WORK/import.log" >&2; die "podman import of the stand-in base failed"; }
"$PODMAN" run --rm --network host "$BASE_NAME" python3 -c 'import ssl' >/dev/null 2>"$WORK/probe.log" \
  || { cat "$WORK/probe.log" >&2; die "podman cannot run a container with runc here (error above)"; }
t_import=$(since "$t")

# --- the build
t=$(date +%s.%N)
mounts=(-v "$WORK/home:/root")
while IFS= read -r m; do mounts+=(-v "$m:ro"); done < <(python3 scripts/image/pip_config.py "$WORK/home")
log "building $IMAGE from Dockerfile (buildah bud --isolation chroot, host network)"
"$BUILDAH" bud --isolation chroot --network host --pull=never --layers=false \
  --signature-policy "$WORK/conf/policy.json" "${mounts[@]}" -f Dockerfile -t "$IMAGE" . \
  >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; die "the image build failed (log above)"; }
t_build=$(since "$t")

size() { "$PODMAN" image inspect --format '{{.Size}}' "$1"; }
image_bytes=$(size "$IMAGE") base_bytes=$(size "$BASE_NAME")
mb() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6:.0f} MB')" "$1"; }
log "image $IMAGE: $(mb "$image_bytes") ($(mb "$base_bytes") stand-in base + $(mb $((image_bytes - base_bytes))) of the job's layers)"

# --- the tests
t=$(date +%s.%N)
# shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
ACR_REFRESH_IMAGE="$IMAGE" ACR_REFRESH_IMAGE_BASE="$BASE_NAME" ACR_REFRESH_IMAGE_PODMAN="$PODMAN" \
  "$PYTHON" -m pytest tests/image -q -p no:cacheprovider ${PYTEST_ARGS:-}
t_tests=$(since "$t")

log "times: base $t_base s ($base_how), import $t_import s, build $t_build s, tests $t_tests s, total $(since "$T0") s"
