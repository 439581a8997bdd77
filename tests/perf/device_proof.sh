#!/usr/bin/env bash
# Prove nvidia_gpu_facts on a real GPU host and time it.
#
# Expects, in the current directory, what tests/perf/device_bundle.sh builds:
#   .devproof/whl/   ansible-core and its dependencies as wheels for this host's Python
#   .devproof/tree/  a collections root holding ansible_collections/gpufleet/nvidia
#   .devproof/docker.tar.xz, debs.tar.xz, busybox.xz: for the GPU container proof
#                    (tests/perf/device_docker_proof.sh, run when they are there)
# (or an ansible-core already importable, and ANSIBLE_COLLECTIONS_PATH set;
# .whl/ and .devtree/ are still read, as earlier runs laid them out).
# Writes everything it prints to $OUT (default ./device-proof):
#   env.txt          ansible, python and nvidia-smi versions
#   facts.txt        `ansible localhost -m gpufleet.nvidia.nvidia_gpu_facts`
#   facts-vvv.txt    the same with -vvv (module timing lines), plus check mode
#   nvsmi-query.txt  the module's exact nvidia-smi query, run by hand (fixture)
#   osfacts.txt      the module's gather_os_facts against setup's (gather_subset=min):
#                    every value the module sets must equal setup's
#   bench.txt        tests/perf/bench_facts.py on fixtures and on this host, and
#                    tests/perf/bench_command_timeout.py on nvidia-smi
#   verify.txt       playbooks/verify.yml against this host
#   report/          playbooks/facts.yml's fleet report (fleet.md, fleet.json) of this host
#   site.txt         playbooks/site.yml against this host (in no group: nothing
#                    to do), then in check mode as a gpu_docker_hosts member
#                    (the driver branch and kernel modules chosen for its GPUs)
#   mig.txt          gpufleet.nvidia.nvidia_mig in check mode: the MIG read path
#                    and a plan, never applied
#   docker-proof.txt the GPU container proof (tests/perf/device_docker_proof.sh)
set -uo pipefail
OUT=${OUT:-$PWD/device-proof}
mkdir -p "$OUT"
WHL=.whl; [ -d .devproof/whl ] && WHL=.devproof/whl
if [ -d "$WHL" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHL"/*.whl || exit 1
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
[ -d .devtree ] && export ANSIBLE_COLLECTIONS_PATH=$PWD/.devtree
[ -d .devproof/tree ] && export ANSIBLE_COLLECTIONS_PATH=$PWD/.devproof/tree
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false PYTHONUNBUFFERED=1
COLLECTION=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/gpufleet/nvidia
PY=$(command -v python3)
SMI=$(command -v nvidia-smi || echo /usr/local/nvidia/bin/nvidia-smi)
adhoc() { ansible localhost -c local -e "ansible_python_interpreter=$PY" -m gpufleet.nvidia.nvidia_gpu_facts "$@"; }

{
  echo "\$ uname -a; python3 --version; ansible --version; nvidia-smi --version"
  uname -a; python3 --version; ansible --version; "$SMI" --version
  echo "PATH=$PATH"; command -v lspci || echo "lspci: not installed"
} >"$OUT/env.txt" 2>&1

{ echo "\$ ansible localhost -c local -m gpufleet.nvidia.nvidia_gpu_facts"; adhoc; echo "[rc=$?]"; } >"$OUT/facts.txt" 2>&1
{
  echo "\$ time ansible localhost -c local -m gpufleet.nvidia.nvidia_gpu_facts -vvv"
  time adhoc -vvv
  echo "[rc=$?]"
  echo "\$ ansible localhost -c local -m gpufleet.nvidia.nvidia_gpu_facts --check | grep ..."
  adhoc --check | grep -E 'SUCCESS|FAILED|"changed"|"msg"|"commands"' -A1
  echo "[rc=$?]"
} >"$OUT/facts-vvv.txt" 2>&1
{
  echo "\$ nvidia_gpu_facts gather_os_facts=true vs setup gather_subset=min"
  adhoc -o -a gather_os_facts=true >"$OUT/os-ours.json" 2>&1
  ansible localhost -c local -e "ansible_python_interpreter=$PY" -o -m ansible.builtin.setup -a gather_subset=min >"$OUT/os-setup.json" 2>&1
  python3 - "$OUT/os-ours.json" "$OUT/os-setup.json" <<'PY'
import json, sys
def facts(path):
    text = open(path).read()
    return json.loads(text[text.index("{"):])["ansible_facts"]
ours, setup = facts(sys.argv[1]), facts(sys.argv[2])
keys = sorted(k for k in ours if k != "nvidia")
for key in keys:
    print("%-40s %-30r %s" % (key, ours[key], "same" if ours[key] == setup.get(key) else "DIFFERS: %r" % setup.get(key)))
print("%d OS facts, %d differ from setup's" % (len(keys), sum(ours[k] != setup.get(k) for k in keys)))
PY
  rm -f "$OUT/os-ours.json" "$OUT/os-setup.json"
} >"$OUT/osfacts.txt" 2>&1

FIELDS=index,pci.bus_id,name,uuid,serial,driver_version,memory.total,compute_cap,persistence_mode,mig.mode.current,vbios_version
{
  echo "\$ nvidia-smi --query-gpu=$FIELDS --format=csv,noheader,nounits"
  "$SMI" --query-gpu=$FIELDS --format=csv,noheader,nounits; echo "[rc=$?]"
} >"$OUT/nvsmi-query.txt" 2>&1
{
  for i in 1 2 3; do
    echo "\$ time nvidia-smi --query-gpu=... (run $i)"
    { time "$SMI" --query-gpu=$FIELDS --format=csv,noheader,nounits >/dev/null; } 2>&1
  done
  echo "== bench_facts.py on fixtures"
  python3 "$COLLECTION/tests/perf/bench_facts.py" --runs 20
  echo "== bench_facts.py on this host"
  python3 "$COLLECTION/tests/perf/bench_facts.py" --real --runs 30 --ansible 5
  echo "== bench_facts.py on this host, timeout 0 (no timer)"
  python3 "$COLLECTION/tests/perf/bench_facts.py" --real --runs 20 --timeout 0
  echo "== run_command timeout variants on nvidia-smi"
  RUNS=40 python3 "$COLLECTION/tests/perf/bench_command_timeout.py"
} >"$OUT/bench.txt" 2>&1
# The MIG read path of nvidia_mig on real hardware, in check mode only: the
# state is read (query, and with a declaration the profiles and placements);
# nothing is planned for a GPU whose MIG mode is already the declared one.
{
  for gpus in '[]' '[{"gpu": "all", "mig": false}]' '[{"gpu": "0", "mig": true, "instances": ["1g.18gb"]}]'; do
    echo "\$ ansible localhost -c local -m gpufleet.nvidia.nvidia_mig -a '{\"gpus\": $gpus}' --check --diff"
    ansible localhost -c local -e "ansible_python_interpreter=$PY" -m gpufleet.nvidia.nvidia_mig \
      -a "{\"gpus\": $gpus}" --check --diff; echo "[rc=$?]"
  done
} >"$OUT/mig.txt" 2>&1
play() { ansible-playbook -c local -e "ansible_python_interpreter=$PY" "$@"; }
{ echo "\$ ansible-playbook -i localhost, -c local playbooks/verify.yml"; play -i localhost, "$COLLECTION/playbooks/verify.yml"; echo "[rc=$?]"; } >"$OUT/verify.txt" 2>&1
{ echo "\$ ansible-playbook -i localhost, -c local playbooks/facts.yml -e gpufleet_report_dir=$OUT/report"; play -i localhost, "$COLLECTION/playbooks/facts.yml" -e "gpufleet_report_dir=$OUT/report"; echo "[rc=$?]"; } >"$OUT/facts-playbook.txt" 2>&1
printf '[gpu_docker_hosts]\nlocalhost\n' >"$OUT/inventory.ini"
{
  echo "\$ ansible-playbook -i localhost, -c local playbooks/site.yml"
  play -i localhost, "$COLLECTION/playbooks/site.yml"; echo "[rc=$?]"
  echo "\$ ansible-playbook -i inventory.ini (localhost in gpu_docker_hosts) -c local playbooks/site.yml --check --diff"
  play -i "$OUT/inventory.ini" "$COLLECTION/playbooks/site.yml" --check --diff; echo "[rc=$?]"
} >"$OUT/site.txt" 2>&1
if [ -f .devproof/docker.tar.xz ]; then
  OUT=$OUT COLLECTION=$COLLECTION PY=$PY SMI=$SMI bash "$(dirname "$0")/device_docker_proof.sh"
fi
cat "$OUT"/facts.txt "$OUT"/osfacts.txt "$OUT"/verify.txt "$OUT"/report/fleet.md "$OUT"/site.txt "$OUT"/bench.txt "$OUT"/mig.txt "$OUT"/docker-proof.txt 2>/dev/null
