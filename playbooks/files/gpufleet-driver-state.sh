#!/bin/sh
# gpufleet.nvidia driver state, read on one host by playbooks/upgrade_driver.yml
# before and after it changes anything. Read-only. Prints "#section" lines,
# each followed by its raw output; the gpufleet.nvidia.upgrade_driver_plan
# filter parses them:
#   #smi         nvidia-smi --query-compute-apps (GPU processes), or "absent"
#   #modules     the nvidia* and nouveau lines of /proc/modules (name size refcount users state ...)
#   #loaded      /proc/driver/nvidia/version (the loaded kernel module)
#   #built       modinfo -F version nvidia (the module built for the running kernel)
#   #packages    installed driver packages: name<TAB>version<TAB>status
#   #services    "unit state" for each unit in GDS_SERVICES
#   #holders     "pid comm" of every process with a /dev/nvidia* file open
#   #containers  running Docker containers: name<TAB>runtime<TAB>device requests<TAB>env<TAB>devices
#   #end
# Input (environment): GDS_SERVICES (units that may hold the driver),
# GDS_PROC_MODULES and GDS_VERSION_FILE (default /proc/modules and
# /proc/driver/nvidia/version), GDS_NVIDIA_SMI (path found by the facts module).
set -u
echo '#smi'
smi="${GDS_NVIDIA_SMI:-}"
[ -n "$smi" ] && [ -x "$smi" ] || smi=$(command -v nvidia-smi 2>/dev/null || true)
if [ -n "$smi" ]; then
  "$smi" --query-compute-apps=pid,process_name,gpu_uuid,used_memory --format=csv,noheader,nounits 2>&1
  echo "rc=$?"
else
  echo absent
fi
echo '#modules'
grep -E '^(nvidia[a-z0-9_]*|nouveau) ' "${GDS_PROC_MODULES:-/proc/modules}" 2>/dev/null
echo '#loaded'
cat "${GDS_VERSION_FILE:-/proc/driver/nvidia/version}" 2>/dev/null
echo '#built'
modinfo -F version nvidia 2>/dev/null
echo '#packages'
if command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n' \
    'nvidia-*' 'cuda-drivers*' 'libnvidia-compute*' 'libcuda1' 2>/dev/null | grep -E '	[ih]i'
elif command -v rpm >/dev/null 2>&1; then
  rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\tii\n' 'nvidia-*' 'kmod-nvidia*' 'cuda-drivers*' 2>/dev/null
fi
echo '#services'
for u in ${GDS_SERVICES:-}; do
  printf '%s %s\n' "$u" "$(systemctl is-active "$u" 2>/dev/null || true)"
done
echo '#holders'
find /proc/[0-9]*/fd -lname '/dev/nvidia*' 2>/dev/null | while IFS= read -r fd; do
  pid="${fd#/proc/}"; pid="${pid%%/*}"
  printf '%s %s\n' "$pid" "$(cat "/proc/$pid/comm" 2>/dev/null)"
done | sort -u -n
echo '#containers'
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  ids=$(docker ps -q)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    docker inspect --format '{{.Name}}	{{.HostConfig.Runtime}}	{{json .HostConfig.DeviceRequests}}	{{json .Config.Env}}	{{json .HostConfig.Devices}}' $ids
  fi
else
  echo absent
fi
echo '#end'
