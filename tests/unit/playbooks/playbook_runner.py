# -*- coding: utf-8 -*-
"""Run a small playbook with ansible-playbook against localhost, for the playbook tests.

The collection is found where tests/conftest.py installs it (COLLECTIONS_ROOT,
loaded by path because another conftest may own that module name); the play's
results come back from the json stdout callback.
"""
import importlib.util
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def collections_root():
    """tests/conftest.py's COLLECTIONS_ROOT."""
    spec = importlib.util.spec_from_file_location("gpufleet_tests_conftest_playbooks",
                                                  os.path.join(REPO, "tests", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.COLLECTIONS_ROOT


def run_play(tmp_path, play, host="h"):
    """Write ``play`` (a list of plays) and run it on ``host`` (local); return the first play's task results."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable))
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([collections_root()] + site),
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
                           str(playbook)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [task["hosts"][host] for task in json.loads(proc.stdout)["plays"][0]["tasks"]]
