# -*- coding: utf-8 -*-
"""The filters of playbooks/verify.yml: the script's environment, its results, the fabric report.

Real outputs: the verify run on the H200 test host
(tests/fixtures/gpu-hosts/h200-1gpu-driver580-docker-proof: its facts and the
summary line verify.yml printed there), and the script itself run with the
stand-ins of tests/unit/playbooks/test_verify_script.py.
"""
import json
import os
import re
import sys

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.verify import (
    FilterModule,
    verify_report,
    verify_results,
    verify_script_env,
)

HERE = os.path.dirname(os.path.abspath(__file__))
PROOF = os.path.join(HERE, "..", "..", "..", "fixtures", "gpu-hosts", "h200-1gpu-driver580-docker-proof")
sys.path.insert(0, os.path.join(HERE, "..", "..", "playbooks"))

import test_verify_script  # noqa: E402  pylint: disable=wrong-import-position

MIG_QUERY = "gpus[].{gpu: index, uuid: uuid, supported: mig.supported, current: mig.current, pending: mig.pending}"


def h200_nvidia():
    with open(os.path.join(PROOF, "nvidia-facts.json")) as handle:
        return json.load(handle)


def recorded_lines():
    """The summary lines verify.yml printed on the H200 host (first run, then with a CDI spec)."""
    with open(os.path.join(PROOF, "docker-proof.txt")) as handle:
        return [json.loads(line.strip().rstrip(",")) for line in handle if line.strip().startswith('"localhost: ')]


def script_lines(summary):
    """The script's name|STATUS|reason lines back from a summary line ("STATUS name (reason) | ...")."""
    body = summary.split(": ", 1)[1]
    out = []
    for part in re.split(r" \| (?=(?:PASS|FAIL|SKIP) [a-z_]+ \()", body):
        verdict, name, reason = re.match(r"^(PASS|FAIL|SKIP) ([a-z_]+) \((.*)\)$", part).groups()
        out.append("%s|%s|%s" % (name, verdict, reason))
    return out


def test_filters_are_registered():
    assert sorted(FilterModule().filters()) == ["verify_report", "verify_results", "verify_script_env"]


def test_the_h200_runs_summary_lines_come_back_the_same():
    lines = recorded_lines()
    assert len(lines) == 2
    for summary in lines:
        lines_out = script_lines(summary)
        script, dcgm = lines_out[:-1], lines_out[-1:]
        first = verify_results(["+ noise the script does not print"] + script + [""], "localhost")
        assert first["failed"] is False and first["results"] == script
        got = verify_results(dcgm + ["other|FAIL|not a DCGM line"], "localhost", previous=first["results"],
                             checks=["dcgm_health"])
        assert got["line"] == summary
        assert got["results"] == lines_out and got["failed"] is False


def test_results_of_the_script_with_a_foreign_gpu_in_the_container(tmp_path):
    verdicts_out = test_verify_script.run_verify(tmp_path, container_out=test_verify_script.OTHER_L)
    text = "\n".join("%s|%s|%s" % (name, verdict, reason) for name, (verdict, reason) in verdicts_out[0].items())
    got = verify_results(text, "gpu-01")
    assert got["failed"] is True
    assert got["line"].startswith("gpu-01: PASS host_nvidia_smi (")
    assert " | FAIL docker_runtime (" in got["line"]
    assert len(got["results"]) == len(verdicts_out[0])


def test_a_dcgm_failure_fails_the_host():
    got = verify_results("dcgm_health|FAIL|dcgmi diag -r 1 rc=226: GPU Memory Fail", "h",
                         previous=["host_nvidia_smi|PASS|8 GPU(s)"], checks=["dcgm_health"])
    assert got == {"results": ["host_nvidia_smi|PASS|8 GPU(s)", "dcgm_health|FAIL|dcgmi diag -r 1 rc=226: GPU Memory Fail"],
                   "failed": True,
                   "line": "h: PASS host_nvidia_smi (8 GPU(s)) | FAIL dcgm_health (dcgmi diag -r 1 rc=226: GPU Memory Fail)"}


@pytest.mark.parametrize("lines, previous, checks, message", [
    (42, None, None, "expected the script's output"),
    ([], ["not a result"], None, "is not a name|STATUS|reason line"),
    ([], None, "dcgm_health", "checks must be a list"),
])
def test_bad_inputs_fail_the_template(lines, previous, checks, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        verify_results(lines, "h", previous=previous, checks=checks)


def test_script_environment_of_the_h200_host():
    env = verify_script_env(h200_nvidia(), ["gpu_docker_hosts"], image="nvidia/cuda:12.6.3-base-ubuntu22.04")
    assert env == {"GV_GPUS": "1", "GV_JETSON": "0", "GV_DOCKER": "0", "GV_CONTAINERD": "0",
                   "GV_IMAGE": "nvidia/cuda:12.6.3-base-ubuntu22.04", "GV_TORCH_IMAGE": "", "GV_DQ_IMAGE": "",
                   "GV_TIMEOUT": "300", "GV_RUNTIME": "nvidia", "GV_RUNTIME_PATH": "/usr/bin/nvidia-container-runtime",
                   "GV_NVIDIA_SMI": "/usr/local/nvidia/bin/nvidia-smi"}
    # every variable the script reads, and no other
    with open(test_verify_script.SCRIPT) as handle:
        assert set(re.findall(r"\$\{?(GV_[A-Z_]+)", handle.read())) == set(env)


@pytest.mark.parametrize("docker, containerd, groups, want", [
    (True, True, ["gpu_docker_hosts"], "0"),      # Docker's own containerd: the Docker checks cover it
    (True, True, ["gpu_k8s_nodes"], "1"),
    (False, True, ["gpu_docker_hosts"], "1"),
    (False, False, ["gpu_k8s_nodes"], "0"),
])
def test_containerd_is_checked_on_nodes_and_without_docker(docker, containerd, groups, want):
    nvidia = h200_nvidia()
    nvidia["container"]["docker"]["installed"] = docker
    nvidia["container"]["containerd"]["installed"] = containerd
    env = verify_script_env(nvidia, groups, image="img", timeout="30")
    assert env["GV_CONTAINERD"] == want and env["GV_DOCKER"] == ("1" if docker else "0") and env["GV_TIMEOUT"] == "30"


def test_script_environment_of_a_jetson_and_bad_input():
    nvidia = h200_nvidia()
    nvidia.update(gpu_count=0)
    nvidia["host"]["jetson"] = True
    nvidia["driver"]["nvidia_smi_path"] = None
    env = verify_script_env(nvidia, [], image="img")
    assert (env["GV_GPUS"], env["GV_JETSON"], env["GV_NVIDIA_SMI"]) == ("0", "1", "")
    with pytest.raises(AnsibleFilterError, match="expected ansible_facts.nvidia"):
        verify_script_env(["gpu"], [], image="img")
    with pytest.raises(AnsibleFilterError, match="verify_script_env"):
        verify_script_env(nvidia, [], image="img", timeout="soon")


def test_report_of_the_h200_host_as_it_was_printed():
    got = verify_report(h200_nvidia(), mig={"changed": False, "skipped": True}, mig_query=MIG_QUERY)
    # the lines of docker-proof.txt ("Report NVSwitch, NVLink fabric and MIG state")
    assert got["nvswitch"] == ("0 NVSwitch(es), generation -, management ports -; Fabric Manager needed: False, "
                               "NVLSM needed: False")
    assert got["fabric"] == "states {}, ready "
    assert got["mig"] == [{"gpu": 0, "uuid": h200_nvidia()["gpus"][0]["uuid"], "supported": True, "current": False,
                           "pending": False}]


def test_report_takes_the_mig_layout_when_it_was_read():
    layout = [{"index": 0, "mig_mode": "enabled", "gpu_instances": []}]
    got = verify_report(h200_nvidia(), mig={"changed": False, "gpus": layout}, mig_query=MIG_QUERY)
    assert got["mig"] == layout
    assert verify_report(h200_nvidia())["mig"] is None


def test_report_of_a_switch_fabric():
    nvidia = h200_nvidia()
    nvidia["nvswitch"].update(count=4, generation=3, management_ports=["mlx5_0"], fabric_manager_required=True)
    nvidia["nvlink"].update(fabric_states={"completed": 7, "not_started": 1}, fabric_ready=False)
    got = verify_report(nvidia)
    assert got["nvswitch"] == ("4 NVSwitch(es), generation 3, management ports mlx5_0; Fabric Manager needed: True, "
                               "NVLSM needed: False")
    assert got["fabric"] == "states {'completed': 7, 'not_started': 1}, ready False"
