#!/usr/bin/env bash
# Build what tests/perf/device_proof.sh carries to a GPU test host that has no
# network, no Docker and no systemd (the lent H100/H200 machines). At most
# 64 MiB travels there, so everything large is xz-compressed.
#
#   .devproof/whl/             ansible-core and its dependencies, as wheels for
#                              the host's Python (DEVPROOF_PYTHON, default 3.12)
#   .devproof/tree/            the collection, built and installed from this tree
#   .devproof/debs.tar.xz      the toolkit packages of the test fixture repository:
#                              nvidia-container-toolkit(-base) 1.20.0-1 with NVIDIA's
#                              real binaries, libnvidia-container1/-tools stand-ins
#   .devproof/docker.tar.xz    Debian's own dockerd, docker, containerd,
#                              containerd-shim-runc-v2, runc and libdevmapper
#                              (the host lacks that library), from this machine's
#                              apt sources
#   .devproof/busybox.xz       Debian's busybox-static: the shell of the test image
#
# Usage: tests/perf/device_bundle.sh   (after `make venv` and
#        tests/molecule/fixture_repo.sh, which builds the packages)
# Then:  the device tool with carry [".devproof"] and the command
#        `bash tests/perf/device_proof.sh`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
B="$ROOT/.devproof"
PYVER="${DEVPROOF_PYTHON:-3.12}"
REPO="${GPUFLEET_FIXTURE_DIR:-$ROOT/build/molecule/fixture-repo}"
VERSION="${DEVPROOF_TOOLKIT_VERSION:-1.20.0-1}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log() { printf '[device-bundle] %s\n' "$*" >&2; }
rm -rf "$B" && mkdir -p "$B/whl" "$B/tree"

log "wheels for Python $PYVER"
.venv/bin/pip download -q --disable-pip-version-check --only-binary=:all: \
  --python-version "$PYVER" --implementation cp --platform manylinux2014_x86_64 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  -d "$B/whl" "$(grep -E '^ansible-core' requirements-test.txt)"

log "the collection"
.venv/bin/ansible-galaxy collection build --force --output-path "$WORK" . >/dev/null
.venv/bin/ansible-galaxy collection install --force -p "$B/tree" "$WORK"/gpufleet-nvidia-*.tar.gz >/dev/null
# The tests/ tree of the installed collection is not needed on the host but for
# the two perf scripts device_proof.sh runs.
find "$B/tree/ansible_collections/gpufleet/nvidia/tests" -mindepth 1 -maxdepth 1 \
  ! -name perf -exec rm -rf {} +

log "toolkit packages $VERSION (amd64) from $REPO"
mkdir -p "$WORK/debs"
for p in libnvidia-container1 libnvidia-container-tools nvidia-container-toolkit-base nvidia-container-toolkit; do
  f=$(find "$REPO" -name "${p}_${VERSION}_amd64.deb" | head -n 1)
  [ -n "$f" ] || { log "missing ${p}_${VERSION}_amd64.deb under $REPO (run tests/molecule/fixture_repo.sh)"; exit 1; }
  cp "$f" "$WORK/debs/"
done
tar -C "$WORK/debs" -cf - . | xz -9e -T2 >"$B/debs.tar.xz"

log "Debian's Docker engine and busybox-static"
mkdir -p "$WORK/apt" "$WORK/x" "$WORK/docker"
( cd "$WORK/apt" && apt-get download -q docker.io containerd runc libdevmapper1.02.1 busybox-static >/dev/null )
for d in "$WORK"/apt/*.deb; do dpkg-deb -x "$d" "$WORK/x"; done
for f in usr/sbin/dockerd usr/bin/docker usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/sbin/runc; do
  cp "$WORK/x/$f" "$WORK/docker/"
done
cp -L "$WORK"/x/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1 "$WORK/docker/" 2>/dev/null \
  || cp -L "$WORK"/x/usr/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1 "$WORK/docker/"
tar -C "$WORK/docker" -cf - . | xz -9e -T2 >"$B/docker.tar.xz"
xz -9e -c "$WORK/x/bin/busybox" >"$B/busybox.xz"

du -sh "$B"/* >&2
total=$(du -sb "$B" | cut -f1)
log "total $((total / 1048576)) MiB (limit 64 MiB)"
[ "$total" -lt $((64 * 1048576)) ] || { log "too large for the device tool"; exit 1; }
