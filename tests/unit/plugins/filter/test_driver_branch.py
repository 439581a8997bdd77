# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""driver_branch filters over the real gpu_arch table."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.driver_branch import (
    FilterModule, driver_branch_for, driver_cuda_support_message, driver_cuda_supported,
    driver_kernel_module_problem, driver_branch_supported, driver_kernel_module,
    driver_support_message)
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _gpu_arch as gpu_arch

# Real PCI device ids (pci.ids, vendor 10de)
TESLA_P4 = {"pci_bus_id": "0000:01:00.0", "device_id": "0x1bb3"}
TESLA_P40 = {"pci_bus_id": "0000:02:00.0", "device_id": "0x1b38"}
TESLA_K80 = {"pci_bus_id": "0000:03:00.0", "device_id": "0x102d"}
TESLA_V100 = {"pci_bus_id": "0000:04:00.0", "device_id": "0x1db4"}
TESLA_T4 = {"pci_bus_id": "0000:05:00.0", "device_id": "0x1eb8"}
H100 = {"pci_bus_id": "0000:06:00.0", "device_id": "0x2330"}
RTX_5090 = {"pci_bus_id": "0000:07:00.0", "device_id": "0x2b85"}


def test_tesla_p4_and_p40_are_pascal_with_580_at_most():
    for gpu in (TESLA_P4, TESLA_P40):
        assert driver_branch_for([gpu]) == 580
        assert driver_branch_supported([gpu], 580)
        assert driver_branch_supported([gpu], "535.247.01")
        assert not driver_branch_supported([gpu], 590)
        assert driver_kernel_module([gpu]) == "proprietary"


def test_pascal_refuses_590_and_names_580():
    with pytest.raises(AnsibleFilterError) as err:
        driver_branch_for([TESLA_P4], 590)
    text = str(err.value)
    assert "driver branch 590 does not support the Pascal GPUs" in text
    assert "from 367 up to 580" in text
    assert "use driver branch 580" in text


def test_kepler_is_470_only():
    assert driver_branch_for([TESLA_K80]) == 470
    assert driver_branch_supported("Kepler", 470)
    assert not driver_branch_supported("Kepler", 535)
    assert not driver_branch_supported("Kepler", 580)
    with pytest.raises(AnsibleFilterError, match="use driver branch 470"):
        driver_branch_for("Kepler", 535)
    assert driver_kernel_module("Kepler") == "proprietary"


def test_h100_open_by_default_and_may_be_proprietary():
    assert driver_branch_for([H100]) == 580
    assert driver_branch_supported([H100], 590)
    assert driver_kernel_module([H100]) == "open"
    assert driver_kernel_module([H100], "proprietary") == "proprietary"
    assert not driver_branch_supported([H100], 515)


def test_blackwell_requires_open_modules():
    assert driver_kernel_module([RTX_5090]) == "open"
    with pytest.raises(AnsibleFilterError, match="Blackwell GPUs require the open kernel modules"):
        driver_kernel_module([RTX_5090], "proprietary")
    assert not driver_branch_supported([RTX_5090], 565)
    assert driver_branch_supported([RTX_5090], 570)


def test_open_refused_for_pre_turing():
    for gpu in (TESLA_P4, TESLA_V100, TESLA_K80):
        with pytest.raises(AnsibleFilterError, match="open kernel modules do not support"):
            driver_kernel_module([gpu], "open")


def test_kernel_module_problem_explains_without_raising():
    assert driver_kernel_module_problem([H100], "open") == ""
    assert driver_kernel_module_problem([TESLA_P4], "auto") == ""
    assert driver_kernel_module_problem([TESLA_P4], "open") == (
        "the open kernel modules do not support Pascal GPUs (open modules start with Turing); "
        "use driver_kernel_module: proprietary")
    assert "require the open kernel modules" in driver_kernel_module_problem([RTX_5090], "proprietary")


def test_mixed_host_takes_common_branch_and_kernel_module():
    assert driver_branch_for([TESLA_P4, H100]) == 580
    assert driver_kernel_module([TESLA_P4, TESLA_T4]) == "proprietary"
    assert not driver_branch_supported([TESLA_P4, H100], 590)


def test_mixed_kepler_and_blackwell_has_no_answer():
    with pytest.raises(AnsibleFilterError, match="no single driver branch supports all GPUs"):
        driver_branch_for([TESLA_K80, RTX_5090])
    with pytest.raises(AnsibleFilterError, match="no kernel module type drives both"):
        driver_kernel_module([TESLA_P4, RTX_5090])
    assert "no single branch supports all of them" in driver_support_message([TESLA_K80, RTX_5090], 580)


@pytest.mark.parametrize("arch", sorted(gpu_arch.ARCHITECTURES))
def test_every_architecture_matches_the_table(arch):
    info = gpu_arch.architecture_info(arch)
    assert driver_branch_for(arch) == info["recommended_branch"]
    assert driver_branch_supported(arch, info["min_branch"])
    assert not driver_branch_supported(arch, info["min_branch"] - 1)
    if info["max_branch"] is not None:
        assert driver_branch_supported(arch, info["max_branch"])
        assert not driver_branch_supported(arch, info["max_branch"] + 10)
    expected = {"no": "proprietary", "yes": "open", "required": "open"}[info["open_kernel"]]
    assert driver_kernel_module(arch) == expected
    assert driver_support_message(arch) == gpu_arch.describe_support(arch)


def test_gpu_dicts_use_architecture_then_compute_capability_then_device_id():
    assert driver_branch_for([{"architecture": "Kepler", "device_id": "0x2330"}]) == 470
    assert driver_branch_for([{"architecture": None, "compute_capability": "3.7"}]) == 470
    assert driver_branch_for([{"device_id": "1bb3"}]) == 580
    with pytest.raises(AnsibleFilterError, match="no known architecture"):
        driver_branch_for([{"pci_bus_id": "0000:09:00.0", "device_id": "0xffff"}])


def test_unknown_architecture_and_bad_branch():
    with pytest.raises(AnsibleFilterError, match="unknown GPU architecture 'Rubin'"):
        driver_branch_for("Rubin")
    with pytest.raises(AnsibleFilterError, match="not a number"):
        driver_branch_supported("Pascal", "latest")
    with pytest.raises(AnsibleFilterError, match="is not one of"):
        driver_kernel_module("Hopper", "closed")


def test_no_gpu():
    with pytest.raises(AnsibleFilterError, match="no GPU given"):
        driver_branch_for([])
    assert driver_branch_for([], 580) == 580
    assert driver_branch_supported([], 535)
    assert driver_kernel_module([]) == "open"
    assert driver_support_message([]) == "no NVIDIA GPU found"


def test_supported_branch_message():
    assert driver_support_message([H100], "580") == "driver branch 580 supports the Hopper GPUs of this host"
    assert driver_branch_for([H100], "580.95.05") == 580


def test_tesla_p4_with_cuda_13_is_refused():
    assert driver_cuda_supported([TESLA_P4], "12.9")
    assert driver_cuda_supported([TESLA_P4], "12")
    assert not driver_cuda_supported([TESLA_P4], "13.0")
    text = driver_cuda_support_message([TESLA_P4], "13.0")
    assert text == ("CUDA 13.0 does not support the Pascal GPUs of this host "
                    "(Pascal up to CUDA 12.9); use CUDA 12.9 or older")


def test_cuda_versions_for_kepler_and_hopper():
    assert driver_cuda_supported([TESLA_K80], "11.8")
    assert not driver_cuda_supported([TESLA_K80], "12.0")
    assert driver_cuda_supported([H100], "13.0")
    assert driver_cuda_support_message([H100], "13.0") == "CUDA 13.0 supports the Hopper GPUs of this host"
    assert "use CUDA 11.8 or older" in driver_cuda_support_message([TESLA_K80, TESLA_P4], "13.0")
    with pytest.raises(AnsibleFilterError, match="not a version"):
        driver_cuda_supported([H100], "latest")


def test_filter_module_exports():
    assert sorted(FilterModule().filters()) == [
        "driver_apt_pin", "driver_branch_for", "driver_branch_supported", "driver_cuda_repo_packages",
        "driver_cuda_support_message", "driver_cuda_supported", "driver_kernel_module",
        "driver_kernel_module_problem", "driver_options_problems", "driver_request", "driver_runfile_version",
        "driver_support_message"]


# --- driver_branch / driver_version / driver_request (the exact-version option) ---

from ansible_collections.gpufleet.nvidia.plugins.filter.driver_branch import (  # noqa: E402
    driver_apt_pin, driver_branch_value, driver_cuda_repo_packages, driver_options_problems, driver_request,
    driver_runfile_version, driver_version_value)

SHA256 = "sha256:" + "0123456789abcdef" * 4


def test_driver_branch_accepts_a_branch_only():
    assert driver_branch_value("580") == 580
    assert driver_branch_value(580) == 580
    assert driver_branch_value("") is None
    assert driver_branch_value(None) is None
    with pytest.raises(AnsibleFilterError) as err:
        driver_branch_value("580.95.05")
    assert 'set driver_version: "580.95.05"' in str(err.value)
    for bad in ("abc", "58", "5800", "580-open", True):
        with pytest.raises(AnsibleFilterError, match="driver_branch"):
            driver_branch_value(bad)


def test_the_blocker_580_95_05_as_a_branch_is_refused_before_anything_else():
    problems = driver_options_problems({"driver_branch": "580.95.05"})
    assert problems == [
        "driver_branch: '580.95.05' is an exact driver version, not a branch; set driver_version: \"580.95.05\" "
        "to install and hold exactly that version (or driver_branch: \"580\" for the newest of the branch)"]
    # and driver_request refuses it too, for a Pascal host that would have got cuda-drivers with no branch
    request = driver_request([TESLA_P4], {"driver_branch": "580.95.05"})
    assert request["problems"] == problems


def test_driver_branch_abc_is_named():
    assert driver_options_problems({"driver_branch": "abc"}) == [
        "driver_branch: 'abc' is not a driver branch such as \"580\" (the major version, three digits)"]


def test_driver_version_forms():
    assert driver_version_value("580.95.05") == {"version": "580.95.05", "branch": 580}
    assert driver_version_value("390.157") == {"version": "390.157", "branch": 390}
    assert driver_version_value("") == {"version": "", "branch": None}
    with pytest.raises(AnsibleFilterError, match="is a branch, not an exact version"):
        driver_version_value("580")
    with pytest.raises(AnsibleFilterError, match="quote it"):
        driver_version_value(580.95)
    for bad in ("580.95.05.1", "v580.95.05", "580.95.05-1", "latest"):
        with pytest.raises(AnsibleFilterError, match="driver_version"):
            driver_version_value(bad)


def test_branch_and_version_must_agree():
    assert driver_options_problems({"driver_branch": "580", "driver_version": "580.95.05"}) == []
    assert driver_options_problems({"driver_branch": "570", "driver_version": "580.95.05"}) == [
        "driver_branch 570 and driver_version 580.95.05 disagree: version 580.95.05 is of branch 580; "
        "set one of them"]


def test_driver_version_for_the_gpus():
    ok = driver_request([H100], {"driver_version": "580.95.05"})
    assert ok == {"branch": 580, "version": "580.95.05", "kernel_module": "open", "problems": []}
    pascal = driver_request([TESLA_P4, TESLA_P40], {"driver_version": "590.44.01"})
    assert pascal["problems"] == [
        "driver_version 590.44.01: driver branch 590 does not support the Pascal GPUs of this host: Pascal GPUs "
        "need a driver branch from 367 up to 580 with the proprietary kernel modules; use driver branch 580"]
    kepler = driver_request([TESLA_K80], {"driver_version": "535.247.01"})
    assert "use driver branch 470" in kepler["problems"][0]
    assert driver_request([TESLA_K80], {"driver_version": "470.256.02"})["problems"] == []


def test_driver_request_without_version_keeps_the_old_choices():
    assert driver_request([TESLA_P4], {}) == {
        "branch": 580, "version": "", "kernel_module": "proprietary", "problems": []}
    assert driver_request([RTX_5090], {"driver_kernel_module": "proprietary"})["problems"] == [
        "Blackwell GPUs require the open kernel modules; use driver_kernel_module: open or auto"]
    # no GPU facts (forced host): the source's default kernel modules, no branch chosen
    assert driver_request([], {}) == {"branch": None, "version": "", "kernel_module": "open", "problems": []}
    assert driver_request([], {"driver_source": "distro"}, 535, "Debian 12") == {
        "branch": 535, "version": "", "kernel_module": "proprietary", "problems": []}


def test_distro_source_and_exact_versions():
    debian = driver_request([], {"driver_source": "distro", "driver_version": "535.247.01"}, 535, "Debian 12")
    assert debian["problems"] == [] and debian["version"] == "535.247.01" and debian["branch"] == 535
    other = driver_request([], {"driver_source": "distro", "driver_version": "580.95.05"}, 535, "Debian 12")
    assert other["problems"] == [
        "driver_source: distro on Debian 12 installs branch 535 only, not driver_version 580.95.05; "
        "use driver_source: cuda_repo for another branch"]
    ubuntu = driver_request([], {"driver_source": "distro", "driver_version": "570.195.03"}, 580, "Ubuntu 22.04")
    assert ubuntu["problems"] == [] and ubuntu["branch"] == 570
    rhel = driver_request([], {"driver_source": "distro"}, None, "RedHat 9.4")
    assert rhel["problems"] == [
        "driver_source: distro is not available on RedHat 9.4: it has no distribution driver; use cuda_repo or runfile"]


def test_runfile_checksum_must_be_sha256_or_stronger():
    base = {"driver_source": "runfile", "driver_runfile_url": "http://m/NVIDIA-Linux-x86_64-580.95.05.run"}
    assert driver_options_problems(dict(base, driver_runfile_checksum=SHA256)) == []
    assert driver_options_problems(dict(base, driver_runfile_checksum="sha512:" + "ab" * 64)) == []
    for weak in ("md5:" + "a" * 32, "sha1:" + "a" * 40):
        problems = driver_options_problems(dict(base, driver_runfile_checksum=weak))
        assert len(problems) == 1 and "is not accepted; use sha256, sha384 or sha512" in problems[0]
    assert "must be 64 hexadecimal digits" in driver_options_problems(
        dict(base, driver_runfile_checksum="sha256:abc"))[0]
    assert "is not \"<algorithm>:<hex digest>\"" in driver_options_problems(
        dict(base, driver_runfile_checksum="0" * 64))[0]
    assert driver_options_problems({"driver_source": "runfile"}) == [
        "driver_runfile_url: driver_source runfile needs the installer's URL (NVIDIA-Linux-<arch>-<version>.run, "
        "e.g. on an internal mirror)",
        "driver_runfile_checksum: driver_source runfile needs the installer's checksum (sha256:<64 hex digits>)"]


def test_runfile_must_be_the_run_of_driver_version():
    base = {"driver_source": "runfile", "driver_runfile_checksum": SHA256,
            "driver_runfile_url": "https://mirror.example.internal/nvidia/NVIDIA-Linux-x86_64-580.95.05.run"}
    assert driver_options_problems(dict(base, driver_version="580.95.05")) == []
    problems = driver_options_problems(dict(base, driver_version="580.82.07"))
    assert len(problems) == 1 and "is version 580.95.05, not driver_version 580.82.07" in problems[0]
    assert driver_runfile_version("http://m/NVIDIA-Linux-aarch64-570.195.03.run?sig=1") == "570.195.03"
    assert driver_runfile_version("http://m/driver.run") == ""
    assert driver_runfile_version("https://mirror.example.internal/nvidia/NVIDIA-Linux-x86_64-580.95.05.run") == "580.95.05"
    assert driver_runfile_version("") == "" and driver_runfile_version(None) == ""


def test_cuda_toolkit_version_form_and_support():
    assert driver_options_problems({"driver_cuda_toolkit_version": "twelve"}) == [
        "driver_cuda_toolkit_version: 'twelve' is not a CUDA version such as \"12.9\""]
    request = driver_request([TESLA_P4], {"driver_cuda_toolkit": True, "driver_cuda_toolkit_version": "13.0"})
    assert "CUDA 13.0 does not support the Pascal GPUs" in request["problems"][0]


def test_cuda_repo_packages():
    open580 = {"branch": 580, "version": "580.95.05", "kernel_module": "open"}
    assert driver_cuda_repo_packages(open580, "apt") == ["nvidia-open-580"]
    assert driver_cuda_repo_packages(dict(open580, kernel_module="proprietary"), "apt") == ["cuda-drivers-580"]
    assert driver_cuda_repo_packages({"branch": None, "version": "", "kernel_module": "open"}, "apt") == ["nvidia-open"]
    assert driver_cuda_repo_packages(open580, "dnf") == [
        "@nvidia-driver:580-open", "nvidia-driver-580.95.05", "nvidia-driver-cuda-580.95.05",
        "kmod-nvidia-open-dkms-580.95.05"]
    assert driver_cuda_repo_packages({"branch": 580, "version": "", "kernel_module": "proprietary"}, "dnf") == [
        "@nvidia-driver:580-dkms"]
    assert driver_cuda_repo_packages({"branch": None, "version": "", "kernel_module": "proprietary"}, "dnf") == [
        "@nvidia-driver:latest-dkms"]
    with pytest.raises(AnsibleFilterError):
        driver_cuda_repo_packages(open580, "zypper")


def test_apt_pin_holds_every_suffix_of_the_version():
    pin = driver_apt_pin("580.95.05")
    assert "Pin: version 580.95.05-*\n" in pin
    assert "Pin-Priority: 1001\n" in pin
    assert pin.startswith("Package: *nvidia* cuda-drivers* ")
    with pytest.raises(AnsibleFilterError):
        driver_apt_pin("")
