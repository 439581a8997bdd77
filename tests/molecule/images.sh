#!/usr/bin/env bash
# Build (once) the local Docker images the Molecule scenarios boot.
#
#   local/debian:<release>            debootstrap --variant=minbase of Debian's archive
#   local/gpufleet-base:<release>     + contrib/non-free components, apt lists, python3-apt
#   local/gpufleet-docker:<release>   + docker.io and busybox-static (Docker hosts)
#   local/gpufleet-containerd:<release> + containerd only (Kubernetes-style nodes)
#
# Every image is cached: it is rebuilt only when missing, or when older than
# GPUFLEET_IMAGE_MAX_AGE_DAYS (default 3) because Debian's archive moves on and
# stale apt lists end in 404s. GPUFLEET_REBUILD_IMAGES=1 forces a rebuild.
# Usage: images.sh [release ...]     (default: bookworm trixie)
set -euo pipefail

# The Debian mirror this machine already uses (often an internal one), read
# from its own APT configuration, as tests/apt_mirror.py does: the first
# enabled deb entry of /etc/apt/sources.list.d/*.sources or
# /etc/apt/sources.list that is not (kind=security: that is) a -security one.
apt_uri() { # apt_uri main|security
  local kind="$1" f
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk -v kind="$kind" 'BEGIN { RS = ""; FS = "\n" }
        { uri = ""; suites = ""; types = ""; enabled = "yes"
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^#/) continue
            if ($i ~ /^URIs:/) { v = $i; sub(/^URIs:[ \t]*/, "", v); split(v, a, /[ \t]+/); uri = a[1] }
            if ($i ~ /^Suites:/) suites = $i
            if ($i ~ /^Types:/) types = $i
            if ($i ~ /^Enabled:[ \t]*no/) enabled = "no"
          }
          if (uri != "" && types ~ /[ \t]deb([ \t]|$)/ && enabled == "yes" \
              && ((kind == "security") == (suites ~ /-security/))) print uri }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v kind="$kind" \
        '$1 == "deb" && NF >= 3 && ((kind == "security") == ($3 ~ /-security/)) { print $2 }'
    done
  } | head -n 1 | sed 's#/*$##'
}

MIRROR="${GPUFLEET_DEBIAN_MIRROR:-$(apt_uri main)}"
SECURITY_MIRROR="${GPUFLEET_DEBIAN_SECURITY_MIRROR:-$(apt_uri security)}"
if [ -z "$MIRROR" ]; then
  echo "[images] no Debian mirror in this machine's APT sources (/etc/apt); set GPUFLEET_DEBIAN_MIRROR" >&2
  exit 1
fi
MAX_AGE_DAYS="${GPUFLEET_IMAGE_MAX_AGE_DAYS:-3}"
REBUILD="${GPUFLEET_REBUILD_IMAGES:-0}"
WORK="${GPUFLEET_IMAGE_WORKDIR:-/var/tmp/gpufleet-images}"
RELEASES=("$@")
[ "${#RELEASES[@]}" -gt 0 ] || RELEASES=(bookworm trixie)

log() { printf '[images] %s\n' "$*" >&2; }

fresh() { # fresh IMAGE -> 0 when the image exists and is recent enough
  local created age
  [ "$REBUILD" = 1 ] && return 1
  created="$(docker image inspect -f '{{.Created}}' "$1" 2>/dev/null)" || return 1
  age=$(( ($(date +%s) - $(date -d "$created" +%s)) / 86400 ))
  [ "$age" -lt "$MAX_AGE_DAYS" ]
}

build_rootfs() { # build_rootfs RELEASE
  local rel="$1" img="local/debian:$1" dir
  if fresh "$img"; then log "$img cached"; return; fi
  dir="$WORK/rootfs-$rel"
  rm -rf "$dir"; mkdir -p "$WORK"
  log "debootstrap $rel from $MIRROR"
  debootstrap --variant=minbase \
    --include=python3,python3-apt,systemd,systemd-sysv,dbus,ca-certificates,gnupg,procps,kmod,iproute2 \
    "$rel" "$dir" "$MIRROR" >"$WORK/debootstrap-$rel.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap-$rel.log" >&2; return 1; }
  # Containers have no console or udev to wait for; keep the boot lean.
  rm -f "$dir"/etc/machine-id; : >"$dir"/etc/machine-id
  tar -C "$dir" -c . | docker import \
    -c "CMD [\"/lib/systemd/systemd\"]" -c "ENV container=docker" \
    - "$img" >/dev/null
  rm -rf "$dir"
  log "$img imported"
}

layer() { # layer FROM TO SCRIPT : run SCRIPT in FROM (no systemd needed), commit as TO
  local from="$1" to="$2" script="$3" cid
  if fresh "$to"; then log "$to cached"; return; fi
  log "building $to"
  cid="$(docker create "$from" /bin/sh -ec "$script")"
  if ! docker start -a "$cid" >"$WORK/layer-${to//[:\/]/_}.log" 2>&1; then
    tail -30 "$WORK/layer-${to//[:\/]/_}.log" >&2; docker rm -f "$cid" >/dev/null; return 1
  fi
  docker commit -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' \
    "$cid" "$to" >/dev/null
  docker rm -f "$cid" >/dev/null
  log "$to committed"
}

APT_ENV='export DEBIAN_FRONTEND=noninteractive;'
APT_INSTALL='apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold'

base_script() { # the shared prepared layer: components, one apt update
  local rel="$1"
  local sec="$rel-security"
  cat <<EOS
$APT_ENV
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
cat >/etc/apt/sources.list.d/debian.sources <<'SRC'
Types: deb
URIs: $MIRROR
Suites: $rel $rel-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
if [ -n "$SECURITY_MIRROR" ]; then cat >>/etc/apt/sources.list.d/debian.sources <<'SRC'

Types: deb
URIs: $SECURITY_MIRROR
Suites: $sec
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >/etc/apt/apt.conf.d/90gpufleet-test
apt-get update -qq
# Units that make no sense in a container slow down every boot.
systemctl mask systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  getty.target console-getty.service systemd-logind.service >/dev/null 2>&1 || true
apt-get clean
EOS
}

build_release() {
  local rel="$1"
  build_rootfs "$rel"
  layer "local/debian:$rel" "local/gpufleet-base:$rel" "$(base_script "$rel")"
  layer "local/gpufleet-base:$rel" "local/gpufleet-docker:$rel" \
    "$APT_ENV $APT_INSTALL docker.io busybox-static && apt-get clean"
  layer "local/gpufleet-base:$rel" "local/gpufleet-containerd:$rel" \
    "$APT_ENV $APT_INSTALL containerd && apt-get clean"
}

# Releases build in parallel: most of the time is spent waiting on the archive.
pids=()
for rel in "${RELEASES[@]}"; do build_release "$rel" & pids+=($!); done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit "$rc"
