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
    driver_kernel_flavour_problem, driver_branch_supported, driver_kernel_flavour,
    driver_support_message)
from ansible_collections.gpufleet.nvidia.plugins.module_utils import gpu_arch

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
        assert driver_kernel_flavour([gpu]) == "proprietary"


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
    assert driver_kernel_flavour("Kepler") == "proprietary"


def test_h100_open_by_default_and_may_be_proprietary():
    assert driver_branch_for([H100]) == 580
    assert driver_branch_supported([H100], 590)
    assert driver_kernel_flavour([H100]) == "open"
    assert driver_kernel_flavour([H100], "proprietary") == "proprietary"
    assert not driver_branch_supported([H100], 515)


def test_blackwell_requires_open_modules():
    assert driver_kernel_flavour([RTX_5090]) == "open"
    with pytest.raises(AnsibleFilterError, match="Blackwell GPUs require the open kernel modules"):
        driver_kernel_flavour([RTX_5090], "proprietary")
    assert not driver_branch_supported([RTX_5090], 565)
    assert driver_branch_supported([RTX_5090], 570)


def test_open_refused_for_pre_turing():
    for gpu in (TESLA_P4, TESLA_V100, TESLA_K80):
        with pytest.raises(AnsibleFilterError, match="open kernel modules do not support"):
            driver_kernel_flavour([gpu], "open")


def test_kernel_flavour_problem_explains_without_raising():
    assert driver_kernel_flavour_problem([H100], "open") == ""
    assert driver_kernel_flavour_problem([TESLA_P4], "auto") == ""
    assert driver_kernel_flavour_problem([TESLA_P4], "open") == (
        "the open kernel modules do not support Pascal GPUs (open modules start with Turing); "
        "use driver_kernel_module: proprietary")
    assert "require the open kernel modules" in driver_kernel_flavour_problem([RTX_5090], "proprietary")


def test_mixed_host_takes_common_branch_and_flavour():
    assert driver_branch_for([TESLA_P4, H100]) == 580
    assert driver_kernel_flavour([TESLA_P4, TESLA_T4]) == "proprietary"
    assert not driver_branch_supported([TESLA_P4, H100], 590)


def test_mixed_kepler_and_blackwell_has_no_answer():
    with pytest.raises(AnsibleFilterError, match="no single driver branch supports all GPUs"):
        driver_branch_for([TESLA_K80, RTX_5090])
    with pytest.raises(AnsibleFilterError, match="no kernel module flavour drives both"):
        driver_kernel_flavour([TESLA_P4, RTX_5090])
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
    assert driver_kernel_flavour(arch) == expected
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
        driver_kernel_flavour("Hopper", "closed")


def test_no_gpu():
    with pytest.raises(AnsibleFilterError, match="no GPU given"):
        driver_branch_for([])
    assert driver_branch_for([], 580) == 580
    assert driver_branch_supported([], 535)
    assert driver_kernel_flavour([]) == "open"
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
        "driver_branch_for", "driver_branch_supported", "driver_cuda_support_message",
        "driver_cuda_supported", "driver_kernel_flavour", "driver_kernel_flavour_problem",
        "driver_support_message"]
