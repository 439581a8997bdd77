#!/usr/bin/env bash
# Run the Molecule scenarios of gpufleet.nvidia on a real Docker engine.
#
#   tests/molecule/run.sh                 every scenario (what `make molecule` and CI run)
#   tests/molecule/run.sh default nogpu   only these scenarios
#   MOLECULE_CMD=converge tests/molecule/run.sh default   another molecule command
#
# On a fresh machine (CI after .ci/run installed docker.io containerd
# debootstrap gnupg dpkg-dev apt-utils curl) it does everything itself:
#   1. starts dockerd when no engine answers (there is no systemd on the host),
#   2. builds the Debian base images once (tests/molecule/images.sh, cached),
#   3. builds the signed TEST FIXTURE apt repository (tests/molecule/fixture_repo.sh:
#      NVIDIA's toolkit built from ../shared/toolkit, stand-ins for the rest)
#      and serves it over HTTP on the gateway address of the instances' network
#      (gpufleet-molecule, created when missing),
#   4. runs `molecule test` per scenario and times it,
#   5. stops what it started; exits non-zero when any scenario failed.
# Logs: build/molecule/logs/<scenario>.log; timings: build/molecule/timings.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ALL_SCENARIOS=(nogpu default cuda_repo containerd airgapped migration jetson nosystemd uninstall upgrade gpu_config datacenter)
SCENARIOS=("$@")
[ "${#SCENARIOS[@]}" -gt 0 ] || SCENARIOS=("${ALL_SCENARIOS[@]}")
MOLECULE_CMD="${MOLECULE_CMD:-test}"
STATE="$ROOT/build/molecule"
LOGS="$STATE/logs"
PORT="${GPUFLEET_FIXTURE_PORT:-8089}"
VENV_BIN="${VENV_BIN:-$ROOT/.venv/bin}"
mkdir -p "$LOGS"

log() { printf '[molecule] %s\n' "$*" >&2; }

STARTED_DOCKERD=""
HTTP_PID=""
cleanup() {
  local rc=$?
  if [ -n "$HTTP_PID" ]; then kill "$HTTP_PID" 2>/dev/null || true; wait "$HTTP_PID" 2>/dev/null || true; fi
  if [ -n "$STARTED_DOCKERD" ]; then
    log "stopping the dockerd this run started (pid $STARTED_DOCKERD)"
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. A Docker engine.
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { log "dockerd is not installed (apt-get install docker.io containerd)"; exit 1; }
  log "starting dockerd (log: /var/log/dockerd.log)"
  dockerd >/var/log/dockerd.log 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up:"; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
# The instances get a network of their own: its bridge and gateway address do
# not depend on docker0, which other tools on a shared machine may reconfigure.
NETWORK="${GPUFLEET_MOLECULE_NETWORK:-gpufleet-molecule}"
SUBNET="${GPUFLEET_MOLECULE_SUBNET:-172.31.250.0/24}"
export GPUFLEET_MOLECULE_NETWORK="$NETWORK"
first_host() { python3 -c 'import ipaddress, sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' "$1"; }
if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
  # --gateway explicitly: Debian's dockerd 20.10 leaves it out of the network's
  # IPAM record otherwise (the bridge still gets the subnet's first address).
  docker network create --driver bridge --subnet "$SUBNET" --gateway "$(first_host "$SUBNET")" \
    -o com.docker.network.bridge.name=gpufleet0 "$NETWORK" >/dev/null
fi
GATEWAY="$(docker network inspect "$NETWORK" -f '{{(index .IPAM.Config 0).Gateway}}')"
if [ -z "$GATEWAY" ]; then  # a network created earlier without --gateway
  GATEWAY="$(first_host "$(docker network inspect "$NETWORK" -f '{{(index .IPAM.Config 0).Subnet}}')")"
fi
[ -n "$GATEWAY" ] || { log "network $NETWORK has no gateway address"; exit 1; }

# 2. Base images (cached).
t0=$(date +%s)
bash "$ROOT/tests/molecule/images.sh" bookworm trixie
IMAGES_S=$(( $(date +%s) - t0 ))

# 3. The fixture repository, served where the instances can reach it.
export GPUFLEET_FIXTURE_URL="http://$GATEWAY:$PORT"
export GPUFLEET_FIXTURE_DIR="$STATE/fixture-repo"
bash "$ROOT/tests/molecule/fixture_repo.sh" "$GPUFLEET_FIXTURE_DIR" "$GPUFLEET_FIXTURE_URL"
GPUFLEET_FIXTURE_FINGERPRINT="$(cat "$GPUFLEET_FIXTURE_DIR/fingerprint")"
export GPUFLEET_FIXTURE_FINGERPRINT
python3 -m http.server --bind "$GATEWAY" --directory "$GPUFLEET_FIXTURE_DIR" "$PORT" \
  >"$LOGS/fixture-http.log" 2>&1 &
HTTP_PID=$!
for _ in $(seq 20); do curl -fsS -o /dev/null "$GPUFLEET_FIXTURE_URL/fingerprint" 2>/dev/null && break; sleep 0.5; done
curl -fsS -o /dev/null "$GPUFLEET_FIXTURE_URL/fingerprint" \
  || { log "fixture repository is not served on $GPUFLEET_FIXTURE_URL"; cat "$LOGS/fixture-http.log" >&2; exit 1; }
log "fixture repository (toolkit built from NVIDIA's source; stand-ins named in MANIFEST) at $GPUFLEET_FIXTURE_URL, key $GPUFLEET_FIXTURE_FINGERPRINT"

# 4. The collection as users get it, and Molecule's environment.
export PATH="$VENV_BIN:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$ROOT/.collections:$ROOT/.venv/lib/python3.11/site-packages}"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=true
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-false}"
export PY_COLORS="${PY_COLORS:-0}"
export GPUFLEET_REPO_ROOT="$ROOT"
if [ "${GPUFLEET_SKIP_INSTALL:-0}" != 1 ]; then
  # Same as `make install`; repeated here so that a bare run.sh tests the working tree.
  log "installing the collection into .collections"
  rm -rf "$STATE/dist" && mkdir -p "$STATE/dist"
  ansible-galaxy collection build --force --output-path "$STATE/dist" . >/dev/null
  ansible-galaxy collection install --force -p "$ROOT/.collections" "$STATE"/dist/gpufleet-nvidia-*.tar.gz >/dev/null
fi

FAILED=()
: >"$STATE/timings.txt"
printf '%-12s %8s  %s\n' images "${IMAGES_S}s" "base images (cached when present)" >>"$STATE/timings.txt"
for scenario in "${SCENARIOS[@]}"; do
  log "scenario $scenario: molecule $MOLECULE_CMD (log: $LOGS/$scenario.log)"
  start=$(date +%s)
  if molecule "$MOLECULE_CMD" -s "$scenario" >"$LOGS/$scenario.log" 2>&1 \
     && { [ "$scenario" != nogpu ] || [ "$MOLECULE_CMD" != test ] \
          || python3 "$ROOT/tests/molecule/check_recap.py" "$LOGS/$scenario.log" nogpu converge >&2; }; then
    result=passed
  else
    result=FAILED; FAILED+=("$scenario")
    tail -60 "$LOGS/$scenario.log" >&2
  fi
  took=$(( $(date +%s) - start ))
  printf '%-12s %8s  %s\n' "$scenario" "${took}s" "$result" | tee -a "$STATE/timings.txt" >&2
done

log "timings:"; cat "$STATE/timings.txt" >&2
if [ "${#FAILED[@]}" -gt 0 ]; then
  log "FAILED scenarios: ${FAILED[*]}"
  exit 1
fi
log "all scenarios passed: ${SCENARIOS[*]}"
