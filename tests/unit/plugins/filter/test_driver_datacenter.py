# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""driver_datacenter filters over the facts nvidia_gpu_facts gathers from the
composed HGX H100 / HGX B200 / GH200 hosts and the real H100 capture
(tests/fixtures/gpu-hosts: the module runs in-process on a fake root with a
fake nvidia-smi answering the fixture's CSV)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.driver_datacenter import (
    FilterModule, dcgm_packages, driver_datacenter_plan, driver_fabric_problem, driver_installed_version,
    driver_modprobe_conf, driver_module_params)

MODULES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "modules")
sys.path.insert(0, MODULES_DIR)

import fakehost  # noqa: E402  pylint: disable=wrong-import-position


def _load_runner():
    """tests/unit/plugins/modules/conftest.py's in-process runner, loaded by path (tests/conftest.py owns the name)."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    spec = importlib.util.spec_from_file_location("gpufleet_modules_conftest", os.path.join(MODULES_DIR, "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run_module_in_process


run_module_in_process = _load_runner()

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _nvidia_smi as nvidia_smi  # noqa: E402
from ansible_collections.gpufleet.nvidia.plugins.modules import nvidia_gpu_facts  # noqa: E402

HGX = "hgx-h100-8gpu-nvswitch-composed"
B200 = "hgx-b200-8gpu-nvlink5-composed"
GH200 = "gh200-composed"
LOADED = "NVRM version: NVIDIA UNIX Open Kernel Module for %s  580.159.04  Release Build\n"


def gather(tmp_path, monkeypatch, name, answer="smi-values.csv", machine="x86_64", extra=None):
    """ansible_facts.nvidia of a composed host, as the module reports it."""
    tmp_path = tmp_path / ("%s-%s" % (name, answer))
    root = tmp_path / "root"
    os.makedirs(str(root / "sys" / "bus" / "pci" / "devices"))
    fakehost.composed_root(root, name)
    fakehost.write(root, "proc/modules", "nvidia 14299136 0 - Live 0x0\n")
    fakehost.write(root, "proc/driver/nvidia/version", LOADED % machine)
    for relative, content in (extra or {}).items():
        fakehost.write(root, relative, content)
    bindir = tmp_path / "bin"
    os.makedirs(str(bindir))
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(nvidia_gpu_facts, "EXTRA_BIN_DIRS", [])
    monkeypatch.setattr(nvidia_gpu_facts.AnsibleModule, "warn", lambda self, text: None)
    if machine != "x86_64":
        monkeypatch.setattr(nvidia_gpu_facts.os, "uname", lambda: ("Linux", "gh", "6.8.0-nvidia-64k", "#1", machine))
    fields = nvidia_smi.fields_for_driver("580.159.04")
    fakehost.fake_command(bindir, "nvidia-smi", [], (fakehost.csv_answer(name, answer, fields), 0))
    result = run_module_in_process(nvidia_gpu_facts, {"root": str(root)}, monkeypatch=monkeypatch)
    assert result["failed"] is False, result
    return result["ansible_facts"]["nvidia"]


@pytest.fixture
def hgx(tmp_path, monkeypatch):
    return gather(tmp_path, monkeypatch, HGX, "smi-fabric-completed.csv")


@pytest.fixture
def h100(tmp_path, monkeypatch):
    """The real single-H100 capture: no NVSwitch, no RDMA, no Grace."""
    tmp_path = tmp_path / "h100"
    root = tmp_path / "root"
    fakehost.h100_root(root)
    bindir = tmp_path / "bin"
    os.makedirs(str(bindir))
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(nvidia_gpu_facts, "EXTRA_BIN_DIRS", [])
    monkeypatch.setattr(nvidia_gpu_facts.AnsibleModule, "warn", lambda self, text: None)
    fields = nvidia_smi.fields_for_driver("580.159.04")
    fakehost.fake_command(bindir, "nvidia-smi", [], (fakehost.h100_nvidia_smi_answer(fields), 0))
    result = run_module_in_process(nvidia_gpu_facts, {"root": str(root)}, monkeypatch=monkeypatch)
    return result["ansible_facts"]["nvidia"]


def opts(**kwargs):
    base = {"source": "cuda_repo", "family": "apt", "distribution": "Ubuntu", "version": "580.95.05",
            "arch": "x86_64"}
    base.update(kwargs)
    return base


# ---- Fabric Manager ---------------------------------------------------------

def test_hgx_h100_gets_fabric_manager_at_the_driver_version(hgx):
    plan = driver_datacenter_plan(hgx, opts())
    assert plan["problems"] == []
    fm = plan["fabric_manager"]
    assert fm["enabled"] is True and fm["service"] == "nvidia-fabricmanager"
    assert fm["reason"] == "4 NVSwitch(es) (generation 3) need Fabric Manager"
    # 580 and later: the names without branch (NVIDIA's gpu-driver-container, precompiled/nvidia-driver)
    assert fm["packages"] == ["nvidia-fabricmanager=580.95.05-*", "libnvidia-nscq=580.95.05-*"]
    assert plan["hold"] == ["nvidia-fabricmanager", "libnvidia-nscq"]
    assert plan["services"] == ["nvidia-fabricmanager"]
    assert plan["nvlsm"]["enabled"] is False and plan["imex"]["enabled"] is False


def test_hgx_h100_branch_570_uses_the_branch_names(hgx):
    plan = driver_datacenter_plan(hgx, opts(version="570.172.08"))
    assert plan["fabric_manager"]["packages"] == ["nvidia-fabricmanager-570=570.172.08-*",
                                                  "libnvidia-nscq-570=570.172.08-*"]
    assert plan["hold"] == ["nvidia-fabricmanager-570", "libnvidia-nscq-570"]


def test_hgx_h100_dnf_and_ubuntu_distro(hgx):
    dnf = driver_datacenter_plan(hgx, opts(family="dnf", distribution="RedHat"))
    assert dnf["fabric_manager"]["packages"] == ["nvidia-fabricmanager-580.95.05", "libnvidia-nscq-580.95.05"]
    ubuntu = driver_datacenter_plan(hgx, opts(source="distro", version="535.261.03"))
    assert ubuntu["fabric_manager"]["packages"] == ["nvidia-fabricmanager-535=535.261.03-*"]
    assert ubuntu["problems"] == []


def test_branch_only_installs_the_newest_of_the_branch(hgx):
    plan = driver_datacenter_plan(hgx, opts(version="", branch="550"))
    assert plan["fabric_manager"]["packages"] == ["nvidia-fabricmanager-550", "libnvidia-nscq-550"]


def test_refusals_name_the_way_out(hgx):
    debian = driver_datacenter_plan(hgx, opts(source="distro", distribution="Debian"))
    assert debian["problems"] and "Debian does not package Fabric Manager" in debian["problems"][0]
    assert "driver_fabric_manager" in debian["problems"][0]
    runfile = driver_datacenter_plan(hgx, opts(source="runfile"))
    assert "fabricmanager archive for driver 580.95.05" in runfile["problems"][0]
    unknown = driver_datacenter_plan(hgx, opts(version="", branch=""))
    assert "set driver_version or driver_branch" in unknown["problems"][0]
    bad = driver_datacenter_plan(hgx, opts(fabric_manager="maybe"))
    assert bad["problems"] == ["driver_fabric_manager must be auto, true or false, not 'maybe'."]
    # switched off: nothing to install, nothing refused, even from a runfile
    off = driver_datacenter_plan(hgx, opts(source="runfile", fabric_manager=False))
    assert off["problems"] == [] and off["packages"] == [] and off["fabric_manager"]["enabled"] is False
    assert off["fabric_manager"]["reason"].startswith("switched off")


def test_never_on_a_host_without_nvswitch(h100):
    plan = driver_datacenter_plan(h100, opts(source="runfile"))
    assert plan["fabric_manager"] == {"enabled": False, "reason": "no NVSwitch on this host", "packages": [],
                                      "service": None}
    assert plan["packages"] == [] and plan["services"] == [] and plan["problems"] == []
    assert plan["peermem"]["enabled"] is False


# ---- NVLSM, IMEX, peermem ------------------------------------------------------

def test_hgx_b200_nvlink5_gets_nvlsm_and_libnvsdm(tmp_path, monkeypatch):
    b200 = gather(tmp_path, monkeypatch, B200)
    plan = driver_datacenter_plan(b200, opts())
    assert plan["problems"] == []
    assert plan["fabric_manager"]["enabled"] and plan["nvlsm"]["enabled"]
    assert plan["nvlsm"]["reason"] == "NVLink 5 NVSwitches (2 management port(s)) need NVLSM"
    assert plan["nvlsm"]["packages"] == ["nvlsm", "infiniband-diags", "libnvsdm=580.95.05-*"]
    assert "libnvsdm" in plan["hold"] and "nvlsm" not in plan["hold"]
    assert plan["peermem"]["enabled"] is True           # ConnectX NICs: GPUDirect RDMA
    arm = driver_datacenter_plan(b200, opts(arch="sbsa"))
    assert arm["nvlsm"]["packages"] == ["nvlsm", "infiniband-diags"]   # no libnvsdm for arm64
    old = driver_datacenter_plan(b200, opts(version="565.57.01"))
    assert "NVLSM (NVLink 5 NVSwitches) needs driver branch 570" in old["problems"][0]
    conflict = driver_datacenter_plan(b200, opts(fabric_manager="false"))
    assert "NVLSM runs with Fabric Manager" in conflict["problems"][0]


def test_imex_only_for_multi_node_nvlink(hgx):
    assert driver_datacenter_plan(hgx, opts())["imex"]["reason"] == "no multi-node NVLink domain on this host"
    rack = dict(hgx, nvlink=dict(hgx["nvlink"], multi_node=True), host=dict(hgx["host"], superchip="Grace Blackwell"))
    plan = driver_datacenter_plan(rack, opts())
    assert plan["imex"]["enabled"] and plan["imex"]["packages"] == ["nvidia-imex=580.95.05-*"]
    assert plan["services"] == ["nvidia-fabricmanager", "nvidia-imex"]
    assert driver_datacenter_plan(rack, opts(version="570.172.08"))["imex"]["packages"] == \
        ["nvidia-imex-570=570.172.08-*"]
    off = driver_datacenter_plan(rack, opts(imex="false"))
    assert off["imex"]["enabled"] is False and "nvidia-imex" not in off["services"]


def test_peermem_follows_rdma_devices(hgx, h100):
    assert hgx["rdma"]["count"] > 0
    assert driver_datacenter_plan(hgx, opts())["peermem"]["enabled"] is True
    assert driver_datacenter_plan(hgx, opts(gpudirect_rdma="false"))["peermem"]["enabled"] is False
    assert driver_datacenter_plan(h100, opts(gpudirect_rdma=True))["peermem"]["enabled"] is True


# ---- installed version -------------------------------------------------------

def test_installed_version_from_package_facts():
    packages = {"nvidia-open-580": [{"version": "580.95.05-1"}],
                "libnvidia-compute-580": [{"version": "580.95.05-0ubuntu1"}],
                "docker.io": [{"version": "20.10.24+dfsg1-1"}]}
    assert driver_installed_version(packages) == "580.95.05"
    assert driver_installed_version({"libcuda1": [{"version": "535.216.01-1~deb12u1"}]}) == "535.216.01"
    assert driver_installed_version({"nvidia-open-580": [{"version": "580.95.05-1"}]}) == "580.95.05"
    assert driver_installed_version({"bash": [{"version": "5.2"}]}) == ""
    with pytest.raises(AnsibleFilterError):
        driver_installed_version([])


# ---- module parameters -------------------------------------------------------

def test_coherent_memory_default_on_grace_hopper_580(tmp_path, monkeypatch):
    name = GH200
    gh = gather(tmp_path, monkeypatch, name, machine="aarch64", extra={
        "proc/cpuinfo": fakehost.composed(name, "cpuinfo.txt"),
        "sys/devices/soc0/soc_id": fakehost.composed(name, "soc_id.txt")})
    assert gh["host"]["superchip"] == "Grace Hopper"
    assert driver_module_params(gh, {}, "580") == {"nvidia": {"NVreg_CoherentGPUMemoryMode": "driver"}}
    assert driver_module_params(gh, {}, "570") == {}
    assert driver_module_params(gh, {}, "580", defaults=False) == {}
    # the user's value wins; null removes the default
    assert driver_module_params(gh, {"nvidia": {"NVreg_CoherentGPUMemoryMode": None}}, "580") == {}


def test_no_default_on_hgx(hgx):
    assert driver_module_params(hgx, {}, "580") == {}


def test_module_params_rendering():
    params = driver_module_params({}, {"nvidia": {"NVreg_RestrictProfilingToAdminUsers": 0,
                                                  "NVreg_EnableGpuFirmware": True},
                                       "nvidia-uvm": {"uvm_disable_hmm": 1}})
    assert params == {"nvidia": {"NVreg_RestrictProfilingToAdminUsers": "0", "NVreg_EnableGpuFirmware": "1"},
                      "nvidia_uvm": {"uvm_disable_hmm": "1"}}
    assert driver_modprobe_conf(params) == (
        "# Managed by gpufleet.nvidia.driver (driver_module_params): NVIDIA kernel module parameters.\n"
        "options nvidia NVreg_EnableGpuFirmware=1 NVreg_RestrictProfilingToAdminUsers=0\n"
        "options nvidia_uvm uvm_disable_hmm=1\n")


@pytest.mark.parametrize("params, message", [
    ({"nouveau": {"modeset": 0}}, "unknown module 'nouveau'"),
    ({"nvidia": {"bad name": 1}}, "is not a parameter name"),
    ({"nvidia": {"NVreg_X": "a b"}}, "contains white space"),
    ({"nvidia": ["NVreg_X=1"]}, "must be a dict"),
])
def test_module_params_refused(params, message):
    with pytest.raises(AnsibleFilterError, match=message):
        driver_module_params({}, params)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["nvidia", "nvidia-uvm", "nvidia_modeset", "nvidia_peermem"]),
                       st.dictionaries(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,12}\Z"),
                                       st.one_of(st.integers(0, 9999), st.booleans(),
                                                 st.from_regex(r"\A[A-Za-z0-9=:,._-]{1,8}\Z")),
                                       max_size=4), max_size=4))
def test_rendering_has_every_parameter_once_and_is_stable(params):
    merged = driver_module_params({}, params)
    text = driver_modprobe_conf(merged)
    assert text == driver_modprobe_conf(driver_module_params({}, params))
    lines = text.splitlines()[1:]
    assert len(lines) == len(merged) == len(set(line.split()[1] for line in lines))
    for line in lines:
        module = line.split()[1]
        assert line.split()[2:] == ["%s=%s" % (k, merged[module][k]) for k in sorted(merged[module])]


# ---- fabric check ------------------------------------------------------------

def test_fabric_ready_after_fabric_manager(hgx):
    assert driver_fabric_problem(hgx) == ""


def test_fabric_failure_says_what_to_do(tmp_path, monkeypatch):
    failed = gather(tmp_path, monkeypatch, HGX, "smi-fabric-failed.csv")
    message = driver_fabric_problem(failed)
    assert "not ready after Fabric Manager started" in message
    assert "journalctl -u nvidia-fabricmanager" in message and "reboot" in message
    assert "Insufficient Resources" in message and "not_started" in message


def test_fabric_in_progress(tmp_path, monkeypatch):
    waiting = gather(tmp_path, monkeypatch, HGX, "smi-fabric-in-progress.csv")
    assert "in_progress" in driver_fabric_problem(waiting)


def test_no_fabric_no_problem(h100):
    assert driver_fabric_problem(h100) == ""


# ---- DCGM ----------------------------------------------------------------------

def test_dcgm_package_for_the_cuda_major(h100):
    assert dcgm_packages(h100["driver"]["cuda_version"]) == ["datacenter-gpu-manager-4-cuda13"]
    assert dcgm_packages("12.9") == ["datacenter-gpu-manager-4-cuda12"]
    with pytest.raises(AnsibleFilterError, match="CUDA 12 and newer"):
        dcgm_packages("11.8")
    with pytest.raises(AnsibleFilterError, match="not known"):
        dcgm_packages(None)


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"driver_datacenter_plan", "driver_installed_version",
                                             "driver_module_params", "driver_modprobe_conf",
                                             "driver_fabric_problem", "dcgm_packages"}
