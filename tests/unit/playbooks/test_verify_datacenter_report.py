# -*- coding: utf-8 -*-
"""The NVSwitch / fabric / MIG report tasks of playbooks/verify.yml, run by ansible-playbook.

The two tasks are taken from playbooks/verify.yml as they are and run after
nvidia_gpu_facts gathered the facts of a composed HGX H100 host (fake root,
fake nvidia-smi; tests/fixtures/gpu-hosts). With MIG off the layout task is
skipped and the report comes from the facts alone.
"""
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "modules"))

import fakehost  # noqa: E402  pylint: disable=wrong-import-position


def _collections_root():
    """tests/conftest.py's COLLECTIONS_ROOT, loaded by path (another conftest may own the name)."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    spec = importlib.util.spec_from_file_location("gpufleet_tests_conftest", os.path.join(REPO, "tests", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.COLLECTIONS_ROOT


COLLECTIONS_ROOT = _collections_root()

from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvidia_smi  # noqa: E402

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
    play = [{"name": "verify report", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Gather NVIDIA facts of the composed host",
         "gpufleet.nvidia.nvidia_gpu_facts": {"root": str(root), "nvidia_smi_path": smi, "lspci_path": "/nonexistent"}},
    ] + verify_tasks()}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("hgx ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([COLLECTIONS_ROOT] + site),
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
                           str(playbook)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(proc.stdout)["plays"][0]["tasks"]
    mig_task, report_task = results[1]["hosts"]["hgx"], results[2]["hosts"]["hgx"]
    assert mig_task.get("skipped") is True               # no GPU in MIG mode: no extra nvidia-smi call
    msg = report_task["msg"]
    assert msg["nvswitch"] == ("4 NVSwitch(es), generation 3, management ports -; Fabric Manager needed: True, "
                               "NVLSM needed: False")
    assert msg["fabric"] == "states {'completed': 7, 'not_started': 1}, ready False"
    assert len(msg["mig"]) == 8 and msg["mig"][0] == {"supported": True, "current": False, "pending": False,
                                                      "reset_pending": False}
