# -*- coding: utf-8 -*-
"""nvidia_mig module, run in-process against the STAND-IN nvidia-smi (tests/fixtures/mig/nvidia-smi-stand-in).

The stand-in is a test tool that simulates MIG GPUs in a JSON file; the module
runs it as a real process, exactly as it runs nvidia-smi on a GPU host.
"""
import json
import os

import pytest

from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _mig as mig
from ansible_collections.gpufleet.nvidia.plugins.modules import nvidia_mig

MIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "mig")
STAND_IN = os.path.abspath(os.path.join(MIG, "nvidia-smi-stand-in"))
H200 = "h200-driver580-mig-disabled"


def load(*parts):
    with open(os.path.join(MIG, *parts)) as handle:
        lines = handle.read().split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\n" for line in lines[1:-1])


def sim_state(query, directory, lgi=None, lci=None, processes=None, mode_change="immediate"):
    state = mig.build_state(
        mig.parse_gpu_query(query),
        profiles=mig.parse_gi_profiles(load(directory, "smi-mig-lgip.txt")),
        placements=mig.parse_gi_placements(load(directory, "smi-mig-lgipp.txt")),
        gpu_instances=mig.parse_gpu_instances(lgi or ""), compute_instances=mig.parse_compute_instances(lci or ""))
    gpus = []
    for gpu in state["gpus"]:
        item = dict(gpu, mode_change=mode_change)
        item["placements"] = dict((str(k), v) for k, v in gpu["placements"].items())
        item["instances"] = [dict(gi, compute_instances=[{"id": c["id"], "slices": c["slices"]}
                                                         for c in gi["compute_instances"]]) for gi in gpu["instances"]]
        gpus.append(item)
    return {"gpus": gpus, "processes": processes or []}


def h200(mode_change="immediate"):
    fields = [f.strip() for f in load(H200, "smi-query-datacenter.txt").strip().split(",")]
    return sim_state(", ".join(fields[0:3] + fields[4:6]) + "\n", H200, mode_change=mode_change)


def a100_in_use():
    d = os.path.join("composed", "a100-40gb-3g-3g-in-use")
    return sim_state(load(d, "smi-query.txt"), d, load(d, "smi-mig-lgi.txt"), load(d, "smi-mig-lci.txt"),
                     mig.parse_processes(load(d, "smi-default.txt")))


@pytest.fixture(autouse=True)
def clean_warnings():
    global_warnings = getattr(ansible_warnings, "_global_warnings", None)
    if isinstance(global_warnings, list):
        del global_warnings[:]


@pytest.fixture
def gpu_host(tmp_path, monkeypatch):
    path = tmp_path / "stand-in-state.json"

    def make(state):
        path.write_text(json.dumps(state))
        monkeypatch.setenv("NVIDIA_SMI_STAND_IN_STATE", str(path))
        return path
    return make


def calls(path):
    calls_path = str(path) + ".calls"
    if not os.path.exists(calls_path):
        return []
    with open(calls_path) as handle:
        return [json.loads(line) for line in handle]


def reset_calls(path):
    calls_path = str(path) + ".calls"
    if os.path.exists(calls_path):
        os.unlink(calls_path)


def args(**extra):
    base = {"nvidia_smi": STAND_IN}
    base.update(extra)
    return base


LAYOUT = [{"gpu": "all", "mig": True, "instances": ["3g.71gb", {"profile": "2g.35gb", "count": 2}]}]


def test_apply_from_mig_disabled_then_idempotent(run_module, gpu_host):
    path = gpu_host(h200())
    result = run_module(nvidia_mig, args(gpus=LAYOUT))
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert result["commands"] == ["nvidia-smi -i 0 -mig 1", "nvidia-smi mig -i 0 -cgi 9:4 -C",
                                  "nvidia-smi mig -i 0 -cgi 14:0 -C", "nvidia-smi mig -i 0 -cgi 14:2 -C"]
    gpu = result["gpus"][0]
    assert gpu["mig_current"] == "Enabled"
    assert sorted((i["profile"], i["start"], tuple(i["compute_instances"])) for i in gpu["instances"]) == \
        [("2g.35gb", 0, ("2g.35gb",)), ("2g.35gb", 2, ("2g.35gb",)), ("3g.71gb", 4, ("3g.71gb",))]
    stored = json.loads(path.read_text())
    assert len(stored["gpus"][0]["instances"]) == 3
    reset_calls(path)
    again = run_module(nvidia_mig, args(gpus=LAYOUT))
    assert again["failed"] is False and again["changed"] is False
    assert again["actions"] == [] and again["commands"] == []
    assert [c[:2] for c in calls(path)] == [["--query-gpu=" + mig.GPU_QUERY_FIELDS, "--format=csv,noheader"],
                                            ["mig", "-lgip"], ["mig", "-lgipp"], ["mig", "-lgi"], ["mig", "-lci"]]


def test_check_mode_with_diff_changes_nothing(run_module, gpu_host):
    path = gpu_host(h200())
    before = path.read_bytes()
    result = run_module(nvidia_mig, args(gpus=LAYOUT), check_mode=True, diff=True)
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert path.read_bytes() == before
    assert result["commands"] == []
    assert result["actions"][0] == "enable MIG mode on GPU 0"
    assert "MIG Disabled" in result["diff"]["before"]
    assert "MIG Enabled" in result["diff"]["after"] and "3g.71gb" in result["diff"]["after"]
    assert not any(c[-2:] == ["-mig", "1"] or "-cgi" in c for c in calls(path))


def test_in_use_instances_refused_and_nothing_changes(run_module, gpu_host):
    path = gpu_host(a100_in_use())
    before = path.read_bytes()
    result = run_module(nvidia_mig, args(gpus=[{"gpu": "0", "instances": ["4g.20gb", "3g.20gb"]}]))
    assert result["failed"] is True
    assert "refusing" in result["msg"] and "pid 58856" in result["msg"] and "force" in result["msg"]
    assert path.read_bytes() == before


def test_force_tries_and_the_driver_refuses_an_instance_in_use(run_module, gpu_host):
    path = gpu_host(a100_in_use())
    result = run_module(nvidia_mig, args(gpus=[{"gpu": "0", "instances": ["4g.20gb", "3g.20gb"]}], force=True))
    assert result["failed"] is True
    assert "In use by another client" in result["msg"]
    assert "-dci" in result["msg"]


def test_pending_mode_is_reported_not_forced(run_module, gpu_host):
    path = gpu_host(h200(mode_change="pending"))
    result = run_module(nvidia_mig, args(gpus=LAYOUT))
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert result["commands"] == ["nvidia-smi -i 0 -mig 1"]
    assert result["reset_required"][0]["gpu"] == 0
    assert "reset" in result["reset_required"][0]["reason"]
    assert "pending" in " ".join(ansible_warnings.get_warning_messages())
    again = run_module(nvidia_mig, args(gpus=LAYOUT))
    assert again["changed"] is False
    assert again["reset_required"] and again["commands"] == []
    assert json.loads(path.read_text())["gpus"][0]["instances"] == []


def test_mig_off_on_a_gpu_without_mig_costs_one_call(run_module, gpu_host):
    path = gpu_host(h200())
    result = run_module(nvidia_mig, args(gpus=[{"gpu": "all", "mig": False}]))
    assert result["failed"] is False and result["changed"] is False
    assert len(calls(path)) == 1


def test_disable_removes_instances_and_mode(run_module, gpu_host):
    path = gpu_host(h200())
    run_module(nvidia_mig, args(gpus=LAYOUT))
    result = run_module(nvidia_mig, args(gpus=[{"gpu": "GPU-9ae030a0-5e59-ba6a-5dfb-1b44b8eb7d2c", "mig": False}]))
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert result["commands"][-1] == "nvidia-smi -i 0 -mig 0"
    assert result["gpus"][0]["mig_current"] == "Disabled" and result["gpus"][0]["instances"] == []


def test_unknown_profile_fails_before_any_change(run_module, gpu_host):
    path = gpu_host(h200())
    before = path.read_bytes()
    result = run_module(nvidia_mig, args(gpus=[{"gpu": "0", "instances": ["1g.10gb"]}]))
    assert result["failed"] is True
    assert "1g.10gb" in result["msg"] and "1g.18gb" in result["msg"]
    assert path.read_bytes() == before


def test_missing_nvidia_smi(run_module, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(nvidia_mig, "find_nvidia_smi", lambda module: None)
    result = run_module(nvidia_mig, {"gpus": [{"gpu": "all", "mig": False}]})
    assert result["failed"] is True
    assert "nvidia-smi was not found" in result["msg"]


# ---------------------------------------------------------------- the gpu_config role's boot script

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..")


@pytest.fixture
def boot_script(tmp_path):
    """gpufleet-mig-apply installed as the role installs it: next to a copy of _mig.py named gpufleet_mig.py."""
    import shutil
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(os.path.join(ROOT, "plugins", "module_utils", "_mig.py"), str(lib / "gpufleet_mig.py"))
    shutil.copy(os.path.join(ROOT, "roles", "gpu_config", "files", "gpufleet-mig-apply"), str(lib / "gpufleet-mig-apply"))
    return lib / "gpufleet-mig-apply"


def run_boot(script, config, *extra):
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, str(script), "--config", str(config)] + list(extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    out = proc.communicate()[0]
    return proc.returncode, out


def test_boot_script_recreates_the_layout_after_a_reboot(gpu_host, boot_script, tmp_path):
    state = h200()
    path = gpu_host(state)
    config = tmp_path / "mig.json"
    config.write_text(json.dumps({"gpus": LAYOUT, "force": False, "allow_rebuild": False,
                                  "nvidia_smi": STAND_IN, "cdi_spec": None}))
    rc, out = run_boot(boot_script, config, "--check")
    assert rc == 0, out
    assert "would enable MIG mode on GPU 0" in out
    assert json.loads(path.read_text())["gpus"][0]["mig_current"] == "Disabled"
    rc, out = run_boot(boot_script, config)
    assert rc == 0, out
    assert "ran: nvidia-smi mig -i 0 -cgi 9:4 -C" in out
    # a reboot keeps MIG mode but loses the instances
    after = json.loads(path.read_text())
    assert len(after["gpus"][0]["instances"]) == 3
    after["gpus"][0]["instances"] = []
    path.write_text(json.dumps(after))
    rc, out = run_boot(boot_script, config)
    assert rc == 0, out
    assert "enable MIG" not in out and out.count("ran: nvidia-smi mig -i 0 -cgi") == 3
    rc, out = run_boot(boot_script, config)
    assert rc == 0 and "already match" in out


def test_boot_script_fails_on_a_bad_declaration(gpu_host, boot_script, tmp_path):
    gpu_host(h200())
    config = tmp_path / "mig.json"
    config.write_text(json.dumps({"gpus": [{"gpu": "0", "instances": ["9g.1gb"]}], "nvidia_smi": STAND_IN}))
    rc, out = run_boot(boot_script, config)
    assert rc == 1
    assert "9g.1gb" in out and "3g.71gb" in out


def test_molecule_stand_in_state_is_the_real_h200():
    """The Molecule scenario's stand-in GPU (a JSON file) is built from the real H200 captures."""
    with open(os.path.join(MIG, "stand-in-state-h200-mig-disabled.json")) as handle:
        assert json.load(handle) == json.loads(json.dumps(h200()))
