"""playbooks/files/gpufleet-verify.sh against stand-in `docker` and `nvidia-smi`.

The stand-ins are small shell scripts written into a temporary PATH: the
`nvidia-smi` stand-in prints a recorded `nvidia-smi -L` line of the H200 test
host, and the `docker` stand-in answers `info`, `version` and `run` the way the
engine does, printing what a container would print. Each test changes one
thing (the engine version, what the container sees) and reads the verdicts.
"""
import os
import stat
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "playbooks", "files", "gpufleet-verify.sh")
HOST_L = "GPU 0: NVIDIA H200 (UUID: GPU-9ae030a0-5e59-ba6a-5dfb-1b44b8eb7d2c)"
OTHER_L = "GPU 0: NVIDIA H200 (UUID: GPU-00000000-1111-2222-3333-444444444444)"


def _write(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def run_verify(tmp_path, engine="20.10.24", container_out=HOST_L, container_rc=0, cdi_spec=False):
    """Run the script with stand-ins; return {check: (verdict, reason)} and the docker calls."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "docker-calls"
    _write(str(bindir / "nvidia-smi"), "#!/bin/sh\necho '%s'\n" % HOST_L)
    _write(str(bindir / "docker"), """#!/bin/sh
echo "$*" >>'%s'
case "$1" in
  info) exit 0 ;;
  version) echo '%s' ;;
  run) case "$*" in *--query-gpu*) echo '0, NVIDIA H200, 9.0, 143771 MiB' ;; *) echo '%s' ;; esac; exit %d ;;
esac
""" % (calls, engine, container_out, container_rc))
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]), GV_GPUS="1", GV_JETSON="0",
               GV_DOCKER="1", GV_CONTAINERD="0", GV_IMAGE="img", GV_TORCH_IMAGE="", GV_DQ_IMAGE="",
               GV_TIMEOUT="10", GV_RUNTIME="nvidia", GV_RUNTIME_PATH="/usr/bin/nvidia-container-runtime",
               GV_NVIDIA_SMI=str(bindir / "nvidia-smi"))
    script = SCRIPT
    if cdi_spec:
        # The script looks for the spec at fixed paths; point it at a test file.
        spec = tmp_path / "nvidia.yaml"
        spec.write_text("cdiVersion: 0.5.0\n")
        text = open(SCRIPT).read().replace("/etc/cdi/nvidia.yaml", str(spec))
        script = str(tmp_path / "verify.sh")
        _write(script, text)
    out = subprocess.run(["sh", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=True).stdout
    verdicts = {}
    for line in out.splitlines():
        name, verdict, reason = line.split("|", 2)
        verdicts[name] = (verdict, reason)
    return verdicts, calls.read_text().splitlines() if calls.exists() else []


def test_container_with_the_hosts_gpu_passes(tmp_path):
    verdicts = run_verify(tmp_path)[0]
    assert verdicts["host_nvidia_smi"][0] == "PASS"
    assert verdicts["docker_gpus"] == ("PASS", "docker run --gpus=all: 1 GPU(s), the same UUIDs as the host")
    assert verdicts["docker_runtime"][0] == "PASS"
    assert verdicts["device_query"][0] == "PASS"
    assert verdicts["docker_cdi"][0] == "SKIP"


def test_container_with_another_gpu_fails(tmp_path):
    verdicts = run_verify(tmp_path, container_out=OTHER_L)[0]
    verdict, reason = verdicts["docker_runtime"]
    assert verdict == "FAIL"
    assert "GPU-00000000-1111-2222-3333-444444444444" in reason
    assert "GPU-9ae030a0-5e59-ba6a-5dfb-1b44b8eb7d2c" in reason


def test_failed_container_reports_its_last_line(tmp_path):
    verdicts = run_verify(tmp_path, container_out="unknown or invalid runtime name: nvidia",
                          container_rc=125)[0]
    assert verdicts["docker_runtime"] == (
        "FAIL", "--runtime=nvidia rc=125: unknown or invalid runtime name: nvidia")


@pytest.mark.parametrize("engine, expect", [
    ("20.10.24", "--runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all img nvidia-smi -L"),
    ("27.5.1", "--device nvidia.com/gpu=all img nvidia-smi -L"),
])
def test_cdi_through_the_engine_or_the_runtime(tmp_path, engine, expect):
    verdicts, calls = run_verify(tmp_path, engine=engine, cdi_spec=True)
    assert verdicts["docker_cdi"][0] == "PASS"
    assert any(call.endswith(expect) for call in calls), calls
    if engine.startswith("20."):
        assert "has no --device CDI (25+)" in verdicts["docker_cdi"][1]
