#!/usr/bin/env bash
# shellcheck disable=SC2016  # the single-quoted $ run in sh -c, on the host being captured
# Read-only captures of a real GPU host for the facts and MIG fixtures.
# Nothing here changes a GPU setting: only queries and listings.
# Writes one file per command under $OUT (default ./device-capture).
set -u
OUT=${OUT:-$PWD/device-capture}
mkdir -p "$OUT"
SMI=$(command -v nvidia-smi || echo /usr/local/nvidia/bin/nvidia-smi)
cap() { # cap NAME CMD...: the command line, its output and its exit status
  local name=$1; shift
  { printf '$ %s\n' "$*"; "$@"; printf '[rc=%s]\n' "$?"; } >"$OUT/$name.txt" 2>&1
}
cap smi-version "$SMI" --version
cap smi-help-query-gpu "$SMI" --help-query-gpu
cap smi-help-query-compute-apps "$SMI" --help-query-compute-apps
cap smi-q "$SMI" -q
cap smi-L "$SMI" -L
cap smi-topo "$SMI" topo -m
cap smi-nvlink-s "$SMI" nvlink -s
cap smi-nvlink-c "$SMI" nvlink -c
cap smi-mig-lgip "$SMI" mig -lgip
cap smi-mig-lgipp "$SMI" mig -lgipp
cap smi-mig-lgi "$SMI" mig -lgi
cap smi-mig-lci "$SMI" mig -lci
cap smi-mig-lcip "$SMI" mig -lcip
cap smi-compute-apps "$SMI" --query-compute-apps=pid,process_name,gpu_uuid,gpu_bus_id,used_memory --format=csv,noheader,nounits
# Every field --help-query-gpu names, one query each, so a fixture can show
# which fields this GPU and driver answer and how (value, [N/A], or refusal).
"$SMI" --help-query-gpu | sed -n 's/^"\([a-z_.0-9]*\)".*/\1/p' | sort -u >"$OUT/fields.txt"
while read -r f; do
  printf '%s\t%s\n' "$f" "$("$SMI" --query-gpu="$f" --format=csv,noheader 2>&1 | tr '\n' '|')"
done <"$OUT/fields.txt" >"$OUT/field-values.tsv"
cap smi-query-datacenter "$SMI" --query-gpu=index,uuid,pci.bus_id,name,mig.mode.current,mig.mode.pending,fabric.state,fabric.status,fabric.clusterUuid,fabric.cliqueId,addressing_mode --format=csv,noheader
cap proc-nvswitch ls -la /proc/driver/nvidia-nvswitch /proc/driver/nvidia-nvswitch/devices
cap proc-nvidia-gpus sh -c 'for f in /proc/driver/nvidia/gpus/*/information; do echo "== $f"; cat "$f"; done'
cap proc-nvidia-params cat /proc/driver/nvidia/params
cap proc-nvidia-version cat /proc/driver/nvidia/version
cap proc-modules sh -c 'grep -E "^(nvidia|nvidia_uvm|nvidia_modeset|nvidia_drm|nvidia_peermem|ib_core|mlx5_core)" /proc/modules'
cap sys-pci sh -c 'for d in /sys/bus/pci/devices/*; do printf "%s %s %s %s\n" "${d##*/}" "$(cat $d/vendor)" "$(cat $d/device)" "$(cat $d/class)"; done'
cap sys-infiniband sh -c 'ls -la /sys/class/infiniband /sys/class/net 2>&1; for d in /sys/class/net/*; do printf "%s %s\n" "${d##*/}" "$(readlink -f $d/device 2>/dev/null)"; done'
cap cpuinfo-head sh -c 'grep -m5 -E "model name|vendor_id|CPU implementer|CPU part" /proc/cpuinfo; uname -m'
cap dev-char sh -c 'ls -la /dev/char | grep -i -E "195:|nvidia|510:|511:" ; ls -la /dev/nvidia*'
cap secureboot sh -c 'ls /sys/firmware/efi/efivars 2>&1 | grep -i secureboot; mokutil --sb-state 2>&1'
cap systemd sh -c 'ls -la /run/systemd/system 2>&1; readlink /proc/1/exe; cat /proc/1/comm'
cap os-release cat /etc/os-release
# What the nvidia_mig module reads and the forms of its commands.
cap smi-mig-help "$SMI" mig -h
cap smi-plain "$SMI"
cap smi-mig-query "$SMI" --query-gpu=index,uuid,pci.bus_id,mig.mode.current,mig.mode.pending --format=csv,noheader
cap smi-mig-query-i0 "$SMI" -i 0 --query-gpu=index,uuid,pci.bus_id,mig.mode.current,mig.mode.pending --format=csv,noheader
cap smi-mig-lgip-i0 "$SMI" mig -lgip -i 0
cap smi-mig-lgipp-i0 "$SMI" mig -lgipp -i 0
# The facts module's query (18 fields) against the 11 fields of earlier
# releases: accepted in one call, and what it costs.
N=index,pci.bus_id,name,uuid,serial,driver_version,memory.total,compute_cap,persistence_mode,mig.mode.current,vbios_version
F=$N,mig.mode.pending,fabric.state,fabric.status,fabric.cliqueId,fabric.clusterUuid,c2c.mode,addressing_mode
cap smi-query-facts "$SMI" --query-gpu="$F" --format=csv,noheader,nounits
cap smi-query-timing sh -c "for i in 1 2 3 4 5; do
  /usr/bin/time -f '18 fields %e s' $SMI --query-gpu=$F --format=csv,noheader,nounits >/dev/null
  /usr/bin/time -f '11 fields %e s' $SMI --query-gpu=$N --format=csv,noheader,nounits >/dev/null; done"
cap soc-id sh -c 'cat /sys/devices/soc0/soc_id 2>&1; head -c 2048 /proc/cpuinfo'
ls -la "$OUT"
