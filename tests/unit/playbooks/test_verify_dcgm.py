# -*- coding: utf-8 -*-
"""The DCGM check of playbooks/tasks/verify_checks.yml (dcgm_health), run by ansible-playbook.

The two DCGM tasks are taken from the file as they are and run on localhost
with fake ``dcgmi`` and ``systemctl`` first on PATH (test tools): a passing
and a failing quick diagnostic, DCGM not installed, and a host without GPU
(no check at all, the results stay as they were).
"""
import os
import stat
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
from playbook_runner import run_play  # noqa: E402  pylint: disable=wrong-import-position

DCGM_TASKS = ("Check GPU health with DCGM (dcgmi diag -r 1, when nvidia-dcgm runs)", "Add the DCGM result")


def _tool(directory, name, body):
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n# test tool for test_verify_dcgm.py\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def run_dcgm_tasks(tmp_path, gpus, dcgmi=None, active=True):
    with open(os.path.join(REPO, "playbooks", "tasks", "verify_checks.yml")) as handle:
        tasks = [task for task in yaml.safe_load(handle) if task.get("name") in DCGM_TASKS]
    assert [task["name"] for task in tasks] == list(DCGM_TASKS)
    bindir = tmp_path / "bin"
    os.makedirs(str(bindir))
    _tool(bindir, "systemctl", "exit %d\n" % (0 if active else 3))
    if dcgmi is not None:
        _tool(bindir, "dcgmi", dcgmi)
    setup = {"name": "Results of the script", "ansible.builtin.set_fact": {
        "gpufleet_verify_results": ["host_nvidia_smi|PASS|8 GPU(s)"], "gpufleet_verify_failed": False,
        "gpufleet_verify_line": "h: PASS host_nvidia_smi (8 GPU(s))"}}
    show = {"name": "Show", "ansible.builtin.debug": {"msg": {
        "results": "{{ gpufleet_verify_results }}", "failed": "{{ gpufleet_verify_failed }}",
        "line": "{{ gpufleet_verify_line }}"}}}
    play = [{"name": "dcgm check", "hosts": "all", "gather_facts": False,
             "vars": {"gpufleet_verify_nv": {"gpu_count": gpus}, "gpufleet_verify_timeout": 30},
             "environment": {"PATH": "%s:/usr/bin:/bin" % bindir},
             "tasks": [setup] + tasks + [show]}]
    return run_play(tmp_path, play)[-1]["msg"]


PASSING = 'case "$*" in "diag -r 1") echo "Deployment: Pass"; exit 0 ;; esac; exit 2\n'
FAILING = ('case "$*" in "diag -r 1") echo "| GPU Memory | Fail - GPU 3: memory error |"; exit 226 ;; esac\n'
           'exit 2\n')


@pytest.mark.parametrize("dcgmi, active, line, failed", [
    (PASSING, True, "dcgm_health|PASS|dcgmi diag -r 1 passed", False),
    (FAILING, True, "dcgm_health|FAIL|dcgmi diag -r 1 rc=226: GPU Memory Fail - GPU 3: memory error", True),
    (None, True, "dcgm_health|SKIP|DCGM not installed", False),
    (PASSING, False, "dcgm_health|SKIP|nvidia-dcgm not running", False),
])
def test_dcgm_health_result(tmp_path, dcgmi, active, line, failed):
    msg = run_dcgm_tasks(tmp_path, 8, dcgmi, active)
    assert msg["results"] == ["host_nvidia_smi|PASS|8 GPU(s)", line]
    assert msg["failed"] is failed
    assert msg["line"].startswith("h: PASS host_nvidia_smi (8 GPU(s)) | ")


def test_no_check_without_gpu(tmp_path):
    msg = run_dcgm_tasks(tmp_path, 0, PASSING)
    assert msg["results"] == ["host_nvidia_smi|PASS|8 GPU(s)"] and msg["failed"] is False
