#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted $ are Go templates and dpkg-query formats
# A GPU container on real hardware, through the collection (tests/perf/device_proof.sh
# runs this when .devproof/docker.tar.xz was carried; see tests/perf/device_bundle.sh).
#
# The GPU test host has a driver (under /usr/local/nvidia), no Docker, no
# systemd and no network. This script:
#   1. lists the driver's library directory in the dynamic loader's cache and its
#      bin directory in PATH, as a packaged driver does (this host's driver was
#      copied to /usr/local/nvidia);
#   2. installs Debian's dockerd 20.10, docker, containerd, shim and runc (carried)
#      and starts dockerd by hand with the host's own daemon.json (settings of
#      its "owner": no iptables, no bridge), as an operator would;
#   3. imports a tiny image: busybox + the C library files nvidia-smi needs, with
#      /usr/local/nvidia/bin in its PATH as NVIDIA's CUDA images have;
#   4. runs tests/perf/device_toolkit.yml: the container_toolkit role from the
#      local packages (air-gapped path), the runtime registered in daemon.json
#      and applied by SIGHUP; then a container started with --runtime=nvidia
#      must list the host's GPU UUIDs; `--gpus all` needs a dockerd started after
#      the toolkit's hook exists (dockerd looks for it once, when it starts), so
#      dockerd is restarted by hand, as the role does through systemd elsewhere;
#      then playbooks/verify.yml;
#   5. the same with container_toolkit_cdi: true: the role generates the CDI
#      spec; Docker 20.10 has no --device CDI (25+), so the CDI device
#      nvidia.com/gpu=all is asked for through the runtime instead; verify again.
# Nothing here touches the GPU's settings.
# Output: $OUT/docker-proof.txt (and the logs next to it).
set -uo pipefail
: "${OUT:?}" "${COLLECTION:?}" "${PY:?}"
B=$PWD/.devproof
SMI=${SMI:-/usr/local/nvidia/bin/nvidia-smi}
LOG=$OUT/docker-proof.txt
say() { printf '\n== %s\n' "$*" >>"$LOG"; }
cmd() { printf '$ %s\n' "$*" >>"$LOG"; "$@" >>"$LOG" 2>&1; local rc=$?; printf '[rc=%s]\n' "$rc" >>"$LOG"; return $rc; }
uuids() { grep -o 'GPU-[0-9a-fA-F-]*' | sort | tr '\n' ' '; }
: >"$LOG"

say "1. The driver's libraries in the loader cache, its programs in PATH"
echo /usr/local/nvidia/lib64 >/etc/ld.so.conf.d/000-gpufleet-proof-nvidia.conf && ldconfig
cmd sh -c 'ldconfig -p | grep -E "libnvidia-ml.so.1|libcuda.so.1"'
export PATH=/usr/local/nvidia/bin:$PATH

say "2. Debian's Docker engine, started by hand (no systemd here)"
xz -dc "$B/docker.tar.xz" | tar -C /usr/local/bin -xf - || exit 1
mv /usr/local/bin/libdevmapper.so.1.02.1 /usr/local/lib/ && ldconfig
mkdir -p /etc/docker
# The host owner's own settings, which the collection must keep.
printf '{\n  "iptables": false,\n  "ip6tables": false,\n  "bridge": "none",\n  "log-level": "warn"\n}\n' \
  >/etc/docker/daemon.json
cmd cat /etc/docker/daemon.json
start_dockerd() {
  dockerd >>"$OUT/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
}
restart_dockerd() { # as an operator does on a host without systemd
  local pid; pid=$(cat /var/run/docker.pid)
  printf '$ kill -TERM %s (dockerd); dockerd &\n' "$pid" >>"$LOG"
  kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  start_dockerd
}
start_dockerd
cmd docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}' || { tail -20 "$OUT/dockerd.log" >>"$LOG"; exit 1; }
cmd docker info --format 'runtimes: {{range $k, $v := .Runtimes}}{{$k}} {{end}}; default {{.DefaultRuntime}}; cgroup v{{.CgroupVersion}}; storage {{.Driver}}'


say "3. A tiny image: busybox and the C library files of nvidia-smi"
R=$(mktemp -d)
mkdir -p "$R/bin" "$R/sbin" "$R/etc" "$R/tmp" "$R/proc" "$R/sys" "$R/dev"
xz -dc "$B/busybox.xz" >"$R/bin/busybox" && chmod 755 "$R/bin/busybox"
for a in sh ls cat echo; do ln -s busybox "$R/bin/$a"; done
for lib in $(ldd "$SMI" | awk '/=>/ {print $3} /^\t\/.*ld-linux/ {print $1}'); do
  mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
done
# No /etc/ld.so.conf: the toolkit's update-ldcache hook writes a standard one
# (and runs the host's ldconfig on the container's root) when it is missing.
tar -C "$R" -c . | docker import \
  -c 'ENV PATH=/usr/local/nvidia/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - gpufleet-proof/nvsmi:local >/dev/null
cmd docker image ls gpufleet-proof/nvsmi
rm -rf "$R"

DEBS=$(mktemp -d)
xz -dc "$B/debs.tar.xz" | tar -C "$DEBS" -xf -
play() { ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$PY" "$@"; }
host_l=$("$SMI" -L)

container_check() { # container_check WHAT docker-run-arguments...
  local what=$1; shift
  local out
  printf '$ docker run --rm --network none %s\n' "$*" >>"$LOG"
  out=$(docker run --rm --network none "$@" gpufleet-proof/nvsmi:local nvidia-smi -L 2>&1); local rc=$?
  printf '%s\n[rc=%s]\n' "$out" "$rc" >>"$LOG"
  if [ $rc -eq 0 ] && [ "$(printf '%s\n' "$out" | uuids)" = "$(printf '%s\n' "$host_l" | uuids)" ]; then
    printf 'PROOF %s: the container lists the host GPU UUIDs: %s\n' "$what" "$(printf '%s\n' "$out" | uuids)" >>"$LOG"
  else
    printf 'PROOF %s: FAILED (host: %s)\n' "$what" "$(printf '%s\n' "$host_l" | uuids)" >>"$LOG"
    cmd docker run --rm --network none "$@" gpufleet-proof/nvsmi:local \
      sh -c 'cat /etc/ld.so.conf /etc/ld.so.conf.d/*; ls -l /usr/local/nvidia/lib64 /lib | head -20'
  fi
}
verify() {
  cmd play "$COLLECTION/playbooks/verify.yml" -e gpufleet_verify_image=gpufleet-proof/nvsmi:local \
    -e gpufleet_verify_timeout=60 -e gpufleet_verify_fail=false
}

say "4. The collection: container_toolkit from local packages, runtime registered by daemon.json + SIGHUP"
cmd nvidia-smi -L
cmd play "$B/../tests/perf/device_toolkit.yml" -e "proof_debs=$DEBS" -e proof_cdi=false -v
cmd play "$B/../tests/perf/device_toolkit.yml" -e "proof_debs=$DEBS" -e proof_cdi=false
cmd cat /etc/docker/daemon.json
cmd dpkg-query -W -f '${Package} ${Version}: ${binary:Summary}\n' nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container1 libnvidia-container-tools
cmd nvidia-ctk --version
cmd nvidia-container-runtime --version
cmd docker info --format 'runtimes: {{range $k, $v := .Runtimes}}{{$k}} {{end}}; default {{.DefaultRuntime}}'
container_check "--runtime=nvidia (dockerd reloaded by SIGHUP)" --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all
cmd docker run --rm --network none --gpus all gpufleet-proof/nvsmi:local nvidia-smi -L
restart_dockerd
container_check "--gpus all (default runtime nvidia, dockerd restarted)" --gpus all
verify

say "5. CDI: the role generates the spec; Docker 20.10 gets the CDI device through the runtime"
cmd play "$B/../tests/perf/device_toolkit.yml" -e "proof_debs=$DEBS" -e proof_cdi=true
cmd play "$B/../tests/perf/device_toolkit.yml" -e "proof_debs=$DEBS" -e proof_cdi=true
cmd nvidia-ctk cdi list
cmd cat /etc/docker/daemon.json
restart_dockerd
container_check "CDI nvidia.com/gpu=all through --runtime=nvidia" --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all
verify
grep '^PROOF' "$LOG"
