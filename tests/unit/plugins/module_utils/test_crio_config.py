# -*- coding: utf-8 -*-
"""crio_config: template runtime, merge order, rendering."""
import os

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _crio_config as cc
from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import loads

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "crio")
NVIDIA = "/usr/bin/nvidia-container-runtime"


def read(name):
    with open(os.path.join(CORPUS, name)) as handle:
        return handle.read()


def params(**kw):
    p = dict(path="/etc/crio/crio.conf", drop_in_path="/etc/crio/crio.conf.d/99-nvidia.conf", name="nvidia",
             runtime_path=NVIDIA, runtime_type="oci", set_as_default=False, state="present")
    p.update(kw)
    return p


def test_copies_runc_from_main_file():
    res = cc.plan(read("crio.conf"), [], None, params(set_as_default=True))
    data = loads(res["drop_in"])
    if tomllib is not None:
        assert tomllib.loads(res["drop_in"]) == data
    assert res["base_runtime"] == "runc"
    assert data["crio"]["runtime"]["default_runtime"] == "nvidia"
    assert data["crio"]["runtime"]["runtimes"]["nvidia"] == {
        "runtime_path": NVIDIA, "runtime_type": "oci", "runtime_root": "/run/runc", "runtime_config_path": "",
        "monitor_path": "", "monitor_cgroup": "system.slice", "monitor_exec_cgroup": "",
        "privileged_without_host_devices": False}


def test_drop_ins_override_main_in_order():
    res = cc.plan(read("crio.conf"), [("/etc/crio/crio.conf.d/10-crio.conf", read("10-crio.conf"))], None, params())
    rt = loads(res["drop_in"])["crio"]["runtime"]["runtimes"]["nvidia"]
    # runc of 10-crio.conf merged over runc of crio.conf
    assert rt["runtime_path"] == NVIDIA
    assert rt["monitor_path"] == "/usr/libexec/crio/conmon"
    assert rt["monitor_cgroup"] == "system.slice"


def test_no_config_at_all():
    res = cc.plan(None, [], None, params())
    assert loads(res["drop_in"]) == {"crio": {"runtime": {"runtimes": {"nvidia": {
        "runtime_path": NVIDIA, "runtime_type": "oci"}}}}}
    assert res["base_runtime"] is None


def test_vm_runtime_is_not_a_template():
    text = '[crio.runtime]\ndefault_runtime = "kata"\n[crio.runtime.runtimes.kata]\nruntime_type = "vm"\n'
    assert cc.plan(text, [], None, params())["base_runtime"] is None


def test_idempotent_and_reformatted_file_is_kept():
    first = cc.plan(read("crio.conf"), [], None, params())["drop_in"]
    assert cc.plan(read("crio.conf"), [], first, params())["drop_in"] == first
    reformatted = "\n".join(line.strip() for line in first.splitlines()) + "\n# note\n"
    assert cc.plan(read("crio.conf"), [], reformatted, params())["drop_in"] == reformatted


def test_absent():
    assert cc.plan(read("crio.conf"), [], "x", params(state="absent"))["drop_in"] is None


@pytest.mark.parametrize("text,msg", [("[crio.runtime\n", "not valid TOML"),
                                      ("[crio]\nruntime = 1\n", "crio.runtime must be a table")])
def test_bad_files(text, msg):
    with pytest.raises(cc.CrioConfigError) as err:
        cc.plan(text, [], None, params())
    assert msg in str(err.value) and "/etc/crio/crio.conf" in str(err.value)


@pytest.mark.parametrize("text", [
    "x = " + "[" * 500 + "]" * 500 + "\n",
    "[" + ".".join(["crio"] * 300) + "]\n",
    "x = " + "{a = " * 100000,
])
def test_nesting_deeper_than_the_limit_is_refused_cleanly(text):
    for main, others in ((text, []), (read("crio.conf"), [("/etc/crio/crio.conf.d/10-deep.conf", text)])):
        with pytest.raises(cc.CrioConfigError) as err:
            cc.plan(main, others, None, params())
        assert "tables and arrays are nested deeper than 64 levels" in str(err.value)
        assert str(err.value).startswith("/etc/crio/crio.conf" if main is text else "/etc/crio/crio.conf.d/10-deep.conf")


def test_nan_in_the_template_is_copied_and_stable():
    text = read("crio.conf").replace("[crio.runtime.runtimes.runc]\n", "[crio.runtime.runtimes.runc]\ncpu_ratio = nan\n", 1)
    assert "cpu_ratio = nan" in text
    first = cc.plan(text, [], None, params())["drop_in"]
    rt = loads(first)["crio"]["runtime"]["runtimes"]["nvidia"]
    assert rt["cpu_ratio"] != rt["cpu_ratio"]
    # the file we wrote is recognised as ours on the next run, even reformatted
    assert cc.plan(text, [], first, params())["drop_in"] == first
    reformatted = first.replace("cpu_ratio = nan", "cpu_ratio = nan  # copied from runc")
    assert cc.plan(text, [], reformatted, params())["drop_in"] == reformatted
