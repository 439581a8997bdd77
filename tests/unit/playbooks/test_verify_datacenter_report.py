# -*- coding: utf-8 -*-
"""The NVSwitch / fabric / MIG report tasks of playbooks/verify.yml, run by ansible-playbook.

The two tasks are taken from playbooks/verify.yml as they are and run after
nvidia_gpu_facts gathered the facts of a composed HGX H100 host (fake root,
fake nvidia-smi; tests/fixtures/gpu-hosts). With MIG off the layout task is
skipped and the report comes from the facts alone.
"""
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "modules"))
sys.path.insert(0, HERE)

import fakehost  # noqa: E402  pylint: disable=wrong-import-position
from playbook_runner import collections_root, run_play  # noqa: E402  pylint: disable=wrong-import-position

COLLECTIONS_ROOT = collections_root()

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _nvidia_smi as nvidia_smi  # noqa: E402

HGX = "hgx-h100-8gpu-nvswitch-composed"
REPORT_TASKS = ("Read the MIG layout (changes nothing; only when a GPU is in MIG mode)",
                "Report NVSwitch, NVLink fabric and MIG state")


def verify_tasks():
    with open(os.path.join(REPO, "playbooks", "verify.yml")) as handle:
        play = yaml.safe_load(handle)[0]
    tasks = [task for task in play["tasks"] if task.get("name") in REPORT_TASKS]
    assert [task["name"] for task in tasks] == list(REPORT_TASKS)
    return tasks


def test_report_of_an_hgx_host_with_a_fabric_manager_problem(tmp_path):
    root = tmp_path / "root"
    fakehost.composed_root(root, HGX)
    fakehost.write(root, "proc/driver/nvidia/version",
                   "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build\n")
    answer = fakehost.csv_answer(HGX, "smi-fabric-failed.csv", nvidia_smi.fields_for_driver("580.159.04"))
    smi = fakehost.fake_command(tmp_path / "bin", "nvidia-smi", [], (answer, 0))
    gather = {"name": "Gather NVIDIA facts of the composed host",
              "gpufleet.nvidia.nvidia_gpu_facts": {"root": str(root), "nvidia_smi_path": smi,
                                                   "lspci_path": "/nonexistent"}}
    play = [{"name": "verify report", "hosts": "all", "gather_facts": False,
             "vars_files": [os.path.join(REPO, "playbooks", "vars", "verify.yml")],
             "tasks": [gather] + verify_tasks()}]
    results = run_play(tmp_path, play, host="hgx")
    mig_task, report_task = results[1], results[2]
    assert mig_task.get("skipped") is True               # no GPU in MIG mode: no extra nvidia-smi call
    msg = report_task["msg"]
    assert msg["nvswitch"] == ("4 NVSwitch(es), generation 3, management ports -; Fabric Manager needed: True, "
                               "NVLSM needed: False")
    assert msg["fabric"] == "states {'completed': 7, 'not_started': 1}, ready False"
    assert [gpu["gpu"] for gpu in msg["mig"]] == list(range(8))     # the JMESPath query of vars/verify.yml
    assert msg["mig"][0] == {"gpu": 0, "uuid": msg["mig"][0]["uuid"], "supported": True, "current": False,
                             "pending": False}
    assert msg["mig"][0]["uuid"].startswith("GPU-")
