#!/bin/sh
# gpufleet.nvidia verify checks, run on one host by playbooks/verify.yml.
# Prints one line per check: NAME|PASS|reason, NAME|FAIL|reason or NAME|SKIP|reason.
# Input (environment, set by verify.yml from ansible_facts.nvidia):
#   GV_GPUS        NVIDIA GPUs on the PCI bus      GV_JETSON       1 on an L4T host
#   GV_DOCKER      1 when Docker is installed      GV_CONTAINERD   1 when containerd should be checked
#   GV_IMAGE       CUDA base image (nvidia-smi)    GV_TORCH_IMAGE  PyTorch image, or empty
#   GV_DQ_IMAGE    deviceQuery image, or empty     GV_TIMEOUT      seconds per container check
#   GV_RUNTIME     runtime name (nvidia)           GV_RUNTIME_PATH runtime binary
#   GV_NVIDIA_SMI  nvidia-smi found by the facts module (it may be outside PATH)
set -u
GV_TIMEOUT="${GV_TIMEOUT:-300}"

say() { printf '%s|%s|%s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\n|' '  ' | cut -c1-200)"; }
# last non-empty line of a command's output, for a FAIL reason
last() { printf '%s\n' "$1" | sed '/^[[:space:]]*$/d' | tail -n 1; }
run() { timeout "$GV_TIMEOUT" "$@" 2>&1; }
gpu_lines() { printf '%s\n' "$1" | grep -c '^GPU [0-9]'; }
# the GPU UUIDs an `nvidia-smi -L` output names, sorted, on one line
uuids() { printf '%s\n' "$1" | grep -o 'UUID: GPU-[0-9a-fA-F-]*' | cut -c7- | sort | tr '\n' ' '; }
host_uuids=""
# a container's `nvidia-smi -L` against the host's: CHECK PASS|FAIL reason
judge() { # judge CHECK RC OUTPUT WHAT
  if [ "$2" -ne 0 ]; then say "$1" FAIL "$4 rc=$2: $(last "$3")"
  elif [ -n "$host_uuids" ] && [ "$(uuids "$3")" != "$host_uuids" ]; then
    say "$1" FAIL "$4: the container sees $(uuids "$3")but the host has $host_uuids"
  else say "$1" PASS "$4: $(gpu_lines "$3") GPU(s)${host_uuids:+, the same UUIDs as the host}"; fi
}

if [ "${GV_GPUS:-0}" -eq 0 ] && [ "${GV_JETSON:-0}" != 1 ]; then
  for c in host_nvidia_smi docker_gpus docker_runtime docker_cdi device_query torch containerd; do
    say "$c" SKIP "no NVIDIA GPU on this host"
  done
  exit 0
fi

# 1. nvidia-smi on the host
smi="${GV_NVIDIA_SMI:-}"
[ -n "$smi" ] && [ -x "$smi" ] || smi=$(command -v nvidia-smi 2>/dev/null || true)
if [ -n "$smi" ]; then
  out=$(run "$smi" -L); rc=$?
  if [ $rc -eq 0 ]; then say host_nvidia_smi PASS "$(gpu_lines "$out") GPU(s): $(printf '%s\n' "$out" | head -n 1)"
    host_uuids=$(uuids "$out")
  else say host_nvidia_smi FAIL "nvidia-smi rc=$rc: $(last "$out")"; fi
elif [ "${GV_JETSON:-0}" = 1 ]; then
  say host_nvidia_smi SKIP "Jetson without nvidia-smi (L4T before R36)"
else
  say host_nvidia_smi FAIL "nvidia-smi not found (driver not installed?)"
fi

# 2-6. Docker
if [ "${GV_DOCKER:-0}" != 1 ]; then
  for c in docker_gpus docker_runtime docker_cdi device_query torch; do say "$c" SKIP "Docker not installed"; done
elif ! docker info >/dev/null 2>&1; then
  for c in docker_gpus docker_runtime docker_cdi device_query torch; do say "$c" FAIL "dockerd not answering"; done
else
  if [ "${GV_JETSON:-0}" = 1 ]; then gpus="--runtime=$GV_RUNTIME"; else gpus="--gpus=all"; fi
  want="$GV_GPUS"; [ "${GV_JETSON:-0}" = 1 ] && want=1
  # the seeds' first check: docker run --rm --gpus all <image> nvidia-smi
  out=$(run docker run --rm "$gpus" "$GV_IMAGE" nvidia-smi -L); rc=$?
  judge docker_gpus "$rc" "$out" "docker run $gpus"
  # the nvidia runtime by name, GPUs chosen by NVIDIA_VISIBLE_DEVICES
  out=$(run docker run --rm --runtime="$GV_RUNTIME" -e NVIDIA_VISIBLE_DEVICES=all "$GV_IMAGE" nvidia-smi -L); rc=$?
  judge docker_runtime "$rc" "$out" "--runtime=$GV_RUNTIME"
  # CDI: only when a spec exists. Docker 25+ takes CDI devices itself
  # (--device); an older engine gets them through the nvidia runtime, which
  # reads a fully qualified CDI name in NVIDIA_VISIBLE_DEVICES from the spec.
  if [ -s /etc/cdi/nvidia.yaml ] || [ -s /var/run/cdi/nvidia.yaml ] || [ -s /etc/cdi/nvidia.json ]; then
    engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null)
    if [ "${engine%%.*}" -ge 25 ] 2>/dev/null; then
      out=$(run docker run --rm --device nvidia.com/gpu=all "$GV_IMAGE" nvidia-smi -L); rc=$?
      judge docker_cdi "$rc" "$out" "--device nvidia.com/gpu=all"
    else
      out=$(run docker run --rm --runtime="$GV_RUNTIME" -e NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all \
        "$GV_IMAGE" nvidia-smi -L); rc=$?
      judge docker_cdi "$rc" "$out" "Docker $engine has no --device CDI (25+); --runtime=$GV_RUNTIME with nvidia.com/gpu=all"
    fi
  else
    say docker_cdi SKIP "no CDI specification (container_toolkit_cdi: true generates one)"
  fi
  # deviceQuery, or its essentials: every GPU visible in a container, with its compute capability
  if [ -n "${GV_DQ_IMAGE:-}" ]; then
    out=$(run docker run --rm "$gpus" "$GV_DQ_IMAGE"); rc=$?
    if printf '%s\n' "$out" | grep -q 'Result = PASS'; then
      say device_query PASS "deviceQuery: $(printf '%s\n' "$out" | grep -m1 'Detected' | sed 's/^ *//')"
    else say device_query FAIL "deviceQuery rc=$rc: $(last "$out")"; fi
  elif [ "${GV_JETSON:-0}" = 1 ]; then
    say device_query SKIP "no gpufleet_verify_devicequery_image for Jetson (nvidia-smi has no query fields there)"
  else
    out=$(run docker run --rm "$gpus" "$GV_IMAGE" nvidia-smi --query-gpu=index,name,compute_cap,memory.total --format=csv,noheader); rc=$?
    n=$(printf '%s\n' "$out" | grep -c '^[0-9]')
    if [ $rc -eq 0 ] && [ "$n" -eq "$want" ]; then
      say device_query PASS "container sees $n/$want GPU(s): $(printf '%s\n' "$out" | head -n 1)"
    elif [ $rc -eq 0 ]; then
      say device_query FAIL "container sees $n GPU(s), the host has $want"
    else say device_query FAIL "query rc=$rc: $(last "$out")"; fi
  fi
  # PyTorch
  if [ -n "${GV_TORCH_IMAGE:-}" ]; then
    out=$(run docker run --rm "$gpus" "$GV_TORCH_IMAGE" python3 -c \
      'import torch; print("cuda", torch.cuda.is_available(), torch.cuda.device_count())'); rc=$?
    if printf '%s\n' "$out" | grep -q '^cuda True'; then
      say torch PASS "torch.cuda.is_available() True, $(printf '%s\n' "$out" | grep '^cuda True' | cut -d' ' -f3) device(s)"
    else say torch FAIL "torch.cuda.is_available() not True (rc=$rc): $(last "$out")"; fi
  else
    say torch SKIP "gpufleet_verify_torch_image not set"
  fi
fi

# 7. containerd (Kubernetes nodes): nerdctl when installed, else ctr
if [ "${GV_CONTAINERD:-0}" != 1 ]; then
  say containerd SKIP "not a containerd node"
elif command -v nerdctl >/dev/null 2>&1; then
  out=$(run nerdctl run --rm --gpus all "$GV_IMAGE" nvidia-smi -L); rc=$?
  if [ $rc -eq 0 ]; then say containerd PASS "nerdctl --gpus all: $(gpu_lines "$out") GPU(s)"
  else say containerd FAIL "nerdctl rc=$rc: $(last "$out")"; fi
elif command -v ctr >/dev/null 2>&1; then
  ns=gpufleet-verify
  if ! ctr -n "$ns" image ls -q 2>/dev/null | grep -qx "$GV_IMAGE"; then
    out=$(run ctr -n "$ns" image pull "$GV_IMAGE"); rc=$?
    [ $rc -eq 0 ] || { say containerd FAIL "ctr image pull rc=$rc: $(last "$out")"; exit 0; }
  fi
  out=$(run ctr -n "$ns" run --rm --runc-binary="$GV_RUNTIME_PATH" --env NVIDIA_VISIBLE_DEVICES=all \
    "$GV_IMAGE" "gpufleet-verify-$$" nvidia-smi -L); rc=$?
  if [ $rc -eq 0 ]; then say containerd PASS "ctr with $GV_RUNTIME_PATH: $(gpu_lines "$out") GPU(s)"
  else say containerd FAIL "ctr run rc=$rc: $(last "$out")"; fi
else
  say containerd FAIL "neither nerdctl nor ctr found"
fi
exit 0
