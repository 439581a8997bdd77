# -*- coding: utf-8 -*-
"""playbooks/templates/fleet.md.j2 over facts the module gathers on composed datacenter hosts.

The module runs in its own process (as Ansible runs it) on a fake root built
from tests/fixtures/gpu-hosts, with a fake nvidia-smi; the template is then
rendered by ansible-core's templar with those facts, as playbooks/facts.yml
renders it.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "modules"))
sys.path.insert(0, HERE)

import fakehost  # noqa: E402  pylint: disable=wrong-import-position
from playbook_runner import collections_root  # noqa: E402  pylint: disable=wrong-import-position

COLLECTIONS_ROOT = collections_root()

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar  # noqa: E402

try:
    from ansible.template import trust_as_template  # ansible-core 2.19: only trusted text is a template
except ImportError:  # older ansible-core templates any string
    def trust_as_template(text):
        return text

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _nvidia_smi as nvidia_smi  # noqa: E402

RUNNER = ("import sys; sys.path.insert(0, %r); "
          "from ansible_collections.gpufleet.nvidia.plugins.modules import nvidia_gpu_facts as m; m.main()")
FIELDS = nvidia_smi.fields_for_driver("580.159.04")
HGX = "hgx-h100-8gpu-nvswitch-composed"


def gather(tmp_path, name, build, answer):
    root = tmp_path / name
    build(root)
    fakehost.write(root, "proc/driver/nvidia/version",
                   "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build\n")
    smi = fakehost.fake_command(tmp_path / (name + "-bin"), "nvidia-smi", [], (answer, 0))
    args = tmp_path / (name + ".json")
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"root": str(root), "nvidia_smi_path": smi,
                                                        "lspci_path": "/nonexistent"}}))
    proc = subprocess.run([sys.executable, "-c", RUNNER % COLLECTIONS_ROOT, str(args)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    result = json.loads(proc.stdout)
    assert not result.get("failed"), result
    return result["ansible_facts"]["nvidia"]


def render(hosts):
    hostvars = {}
    for name, nvidia in hosts.items():
        hostvars[name] = {"ansible_facts": {"nvidia": nvidia, "distribution": "Ubuntu", "distribution_version": "24.04",
                                            "architecture": "x86_64"}, "group_names": ["gpu_docker_hosts"]}
    templar = Templar(loader=DataLoader(), variables={"ansible_play_hosts": sorted(hosts), "hostvars": hostvars})
    with open(os.path.join(REPO, "playbooks", "templates", "fleet.md.j2")) as handle:
        return templar.template(trust_as_template(handle.read()))


def rows_of(markdown):
    lines = markdown.splitlines()
    header = [cell.strip() for cell in lines[lines.index(next(l for l in lines if l.startswith("| host")))].split("|")[1:-1]]
    rows = []
    for line in lines:
        if line.startswith("| ") and not line.startswith("| host") and not line.startswith("| ---"):
            rows.append(dict(zip(header, [cell.strip() for cell in line.split("|")[1:-1]])))
    return rows


def test_nvswitch_fabric_and_mig_columns(tmp_path):
    hosts = {
        "hgx-ok": gather(tmp_path, "hgx-ok", lambda root: fakehost.composed_root(root, HGX),
                         fakehost.csv_answer(HGX, "smi-fabric-completed.csv", FIELDS)),
        "hgx-mig": gather(tmp_path, "hgx-mig", lambda root: fakehost.composed_root(root, HGX),
                          fakehost.csv_answer(HGX, "smi-mig-mixed.csv", FIELDS)),
        "hgx-bad": gather(tmp_path, "hgx-bad", lambda root: fakehost.composed_root(root, HGX),
                          fakehost.csv_answer(HGX, "smi-fabric-failed.csv", FIELDS)),
        "h200": gather(tmp_path, "h200", fakehost.h200_root, fakehost.h200_nvidia_smi_answer(FIELDS)),
    }
    rows = rows_of(render(hosts))
    by_host = {}
    for row in rows:
        by_host.setdefault(row["host"], []).append(row)
    assert sorted(by_host) == ["h200", "hgx-bad", "hgx-mig", "hgx-ok"]
    assert len(by_host["hgx-ok"]) == 8
    assert set(r["NVSwitch"] for r in by_host["hgx-ok"]) == {"4 (gen 3)"}
    assert set(r["NVLink fabric"] for r in by_host["hgx-ok"]) == {"completed"}
    assert set(r["MIG"] for r in by_host["hgx-ok"]) == {"off"}
    assert "10 RDMA NIC(s)" in by_host["hgx-ok"][0]["notes"]
    assert [r["MIG"] for r in by_host["hgx-mig"]][:5] == ["on", "on", "off → on after reset", "on → off after reset", "off"]
    assert [r["NVLink fabric"] for r in by_host["hgx-bad"]][6:] == ["completed (Insufficient Resources)", "not started"]
    h200 = by_host["h200"][0]
    assert (h200["name"], h200["MIG"], h200["NVLink fabric"], h200["NVSwitch"]) == ("NVIDIA H200", "off", "-", "-")
