#!/bin/sh
# gpufleet test STAND-IN for modprobe (not the real tool): a container cannot
# load kernel modules. Logs each call, and edits the stand-in /proc/modules and
# driver version file as unloading and loading the nvidia modules would:
# loading nvidia makes the version file name the installed driver package.
set -eu
state=/var/lib/gpufleet-standin
echo "$*" >>"$state/modprobe.log"
if [ "${1:-}" = -r ]; then
  shift
  for m in "$@"; do
    sed -i "/^$m /d" "$state/proc-modules"
  done
  if ! grep -q '^nvidia ' "$state/proc-modules"; then : >"$state/nvidia-version"; fi
  exit 0
fi
m="$1"
grep -q "^$m " "$state/proc-modules" || echo "$m 100000 0 - Live 0xffffffffc0000000 (stand-in)" >>"$state/proc-modules"
if [ "$m" = nvidia ]; then
  v=$(dpkg-query -W -f='${Version}' nvidia-kernel-dkms | sed 's/^[0-9]*://; s/-[^-]*$//')
  echo "NVRM version: NVIDIA UNIX x86_64 Kernel Module  $v  (gpufleet test stand-in, not NVIDIA software)" >"$state/nvidia-version"
fi
