# -*- coding: utf-8 -*-
"""The collection's read-only playbooks against this machine, for real.

``facts.yml``, ``verify.yml`` and ``site.yml`` run through ``ansible-playbook``
with two inventory hosts that are both this machine (local connection), so
the fleet report has more than one host. This machine has no NVIDIA GPU, so
what is checked is the behaviour the README promises for such hosts: the
report lists them as hosts without a GPU, verify skips every check with the
reason, site.yml changes nothing and says why. (The same playbooks on a real
GPU host: docs/testing.md, "Captured runs on real hardware".)
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import COLLECTIONS_ROOT, REPO_ROOT

HOSTS = ("node-a", "node-b")


def _has_nvidia_gpu():
    base = "/sys/bus/pci/devices"
    for dev in os.listdir(base) if os.path.isdir(base) else []:
        try:
            with open(os.path.join(base, dev, "vendor")) as handle:
                if handle.read().strip() == "0x10de":
                    return True
        except OSError:
            continue
    return False


pytestmark = pytest.mark.skipif(_has_nvidia_gpu(), reason="these checks are for a machine without an NVIDIA GPU")


def _inventory_and_env(tmp_path):
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[gpu_docker_hosts]\n" + "".join(
        "%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable) for host in HOSTS))
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([COLLECTIONS_ROOT] + site),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
    })
    return inventory, env


def playbook(tmp_path, name, *extra, playbooks_dir=os.path.join(REPO_ROOT, "playbooks"), cwd=None):
    """Run playbooks/<name> over HOSTS (local connection); return (rc, output, recap)."""
    inventory, env = _inventory_and_env(tmp_path)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
           os.path.join(playbooks_dir, name)] + list(extra)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          cwd=cwd or str(tmp_path), check=False, universal_newlines=True)
    recap = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] in HOSTS and parts[1] == ":":
            recap[parts[0]] = dict(item.split("=") for item in parts[2:])
    return proc.returncode, proc.stdout, recap


def test_facts_playbook_writes_the_fleet_report(tmp_path):
    rc, out, recap = playbook(tmp_path, "facts.yml", "-e", "gpufleet_report_dir=%s" % (tmp_path / "report"))
    assert rc == 0, out
    # the only changes are on the controller: the report's directory, and its
    # two files written by one looped task
    assert sum(int(recap[host]["changed"]) for host in HOSTS) == 2, out
    report = json.loads((tmp_path / "report" / "fleet.json").read_text())
    assert report["generated_by"] == "gpufleet.nvidia playbooks/facts.yml"
    assert sorted(report["hosts"]) == list(HOSTS)
    for host in HOSTS:
        entry = report["hosts"][host]
        assert entry["groups"] == ["gpu_docker_hosts"]
        assert entry["architecture"] == os.uname().machine
        assert entry["nvidia"]["gpu_count"] == 0 and entry["nvidia"]["gpus"] == []
        assert entry["nvidia"]["driver"]["loaded"] is False
    markdown = (tmp_path / "report" / "fleet.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("| node-")]
    assert [row.split(" | ")[0] for row in rows] == ["| node-a", "| node-b"]
    assert all("no NVIDIA GPU" in row for row in rows)
    assert "2 host(s), 0 NVIDIA GPU(s)" in out
    # a second run finds the same facts and rewrites nothing
    rc, out, recap = playbook(tmp_path, "facts.yml", "-e", "gpufleet_report_dir=%s" % (tmp_path / "report"))
    assert rc == 0 and all(recap[host]["changed"] == "0" for host in HOSTS), out


def test_facts_report_dir_is_relative_to_the_playbook_not_the_working_directory(tmp_path, monkeypatch):
    # as under cron, systemd or AWX: started from / with PWD=/
    monkeypatch.setenv("PWD", "/")
    playbooks = tmp_path / "playbooks"
    shutil.copytree(os.path.join(REPO_ROOT, "playbooks", "templates"), str(playbooks / "templates"))
    shutil.copy(os.path.join(REPO_ROOT, "playbooks", "facts.yml"), str(playbooks / "facts.yml"))
    rc, out, recap = playbook(tmp_path, "facts.yml", playbooks_dir=str(playbooks), cwd="/")
    assert rc == 0, out
    assert (playbooks / "gpufleet-report" / "fleet.json").is_file(), out
    assert "%s/gpufleet-report/fleet.md" % playbooks in out
    assert not os.path.exists("/gpufleet-report")


def test_verify_playbook_skips_every_check_without_a_gpu(tmp_path):
    rc, out, recap = playbook(tmp_path, "verify.yml")
    assert rc == 0, out
    assert all(recap[host]["failed"] == "0" and recap[host]["changed"] == "0" for host in HOSTS), out
    for host in HOSTS:
        line = next(line for line in out.splitlines() if '"%s: ' % host in line)
        assert "PASS" not in line and "FAIL" not in line, line
        assert line.count("SKIP") == 7, line


def test_site_playbook_changes_nothing_and_says_why(tmp_path):
    rc, out, recap = playbook(tmp_path, "site.yml")
    assert rc == 0, out
    assert all(recap[host]["changed"] == "0" and recap[host]["failed"] == "0" for host in HOSTS), out
    assert out.count("nothing to do: no NVIDIA GPU and not a Jetson") == len(HOSTS), out


def adhoc_facts(tmp_path, module, args):
    """``ansible node-a -m <module> -a <args>``: its ansible_facts."""
    inventory, env = _inventory_and_env(tmp_path)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), HOSTS[0], "-i", str(inventory), "-o",
           "-m", module, "-a", args]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path),
                         check=True, universal_newlines=True).stdout
    line = next(line for line in out.splitlines() if line.startswith(HOSTS[0] + " | SUCCESS => "))
    return json.loads(line.split(" => ", 1)[1])["ansible_facts"]


def test_os_facts_of_the_facts_module_are_setups(tmp_path):
    """site.yml skips setup: the facts nvidia_gpu_facts gathers instead must be setup's, value for value."""
    ours = adhoc_facts(tmp_path, "gpufleet.nvidia.nvidia_gpu_facts", "gather_os_facts=true")
    setup = adhoc_facts(tmp_path, "ansible.builtin.setup", "gather_subset=min")
    os_keys = sorted(key for key in ours if key != "nvidia")
    for key in ("ansible_distribution", "ansible_distribution_major_version", "ansible_os_family",
                "ansible_architecture", "ansible_kernel", "ansible_pkg_mgr", "ansible_service_mgr"):
        assert key in os_keys, key
    assert dict((key, ours[key]) for key in os_keys) == dict((key, setup.get(key)) for key in os_keys)
