# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""driver_host filters over the NVIDIA facts of the real H200 capture
(tests/fixtures/gpu-hosts/h200-1gpu-driver580-docker-proof/nvidia-facts.json)
and hosts derived from it (no GPU, Jetson, Raspberry Pi)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.driver_host import (
    FilterModule, driver_action, driver_distro_packages, driver_headers_packages, driver_reboot_reasons)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures")
with open(os.path.join(FIXTURES, "gpu-hosts", "h200-1gpu-driver580-docker-proof", "nvidia-facts.json")) as _handle:
    H200 = json.load(_handle)
# ansible_facts of that host (Ubuntu 24.04, its kernel release as captured)
H200_FACTS = {"distribution": "Ubuntu", "distribution_major_version": "24", "os_family": "Debian",
              "kernel": "6.18.44-fc-v973-gpu", "architecture": "x86_64", "nvidia": H200}


def _host(**changes):
    nvidia = copy.deepcopy(H200)
    for path, value in changes.items():
        node = nvidia
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return nvidia


NO_GPU = _host(gpu_count=0, gpus=[], architectures=[], driver__loaded=False, driver__installed=False,
               driver__version=None)
JETSON = _host(gpu_count=0, gpus=[], host__jetson=True, host__l4t_release="36")
RPI5 = _host(host__raspberry_pi=True, host__raspberry_pi_model="Raspberry Pi 5 Model B Rev 1.0",
             host__machine="aarch64", host__cuda_repo_arch="sbsa")


@pytest.mark.parametrize("nvidia, require_gpu, expected", [
    (H200, True, "install"),
    (H200, False, "install"),
    (NO_GPU, True, "skip_no_gpu"),
    (NO_GPU, False, "install"),
    (NO_GPU, "false", "install"),          # a templated default arrives as a string
    (NO_GPU, "True", "skip_no_gpu"),
    (JETSON, True, "skip_jetson"),
    (JETSON, False, "skip_jetson"),        # the BSP owns a Jetson's driver, whatever the switch
    (None, True, "skip_no_gpu"),           # facts without an nvidia key
    ({}, False, "install"),
])
def test_driver_action(nvidia, require_gpu, expected):
    assert driver_action(nvidia, require_gpu) == expected


def test_driver_action_refuses_non_facts():
    with pytest.raises(AnsibleFilterError, match="expected ansible_facts.nvidia"):
        driver_action(["not", "facts"])


@pytest.mark.parametrize("facts, expected", [
    (H200_FACTS, ["linux-headers-6.18.44-fc-v973-gpu"]),
    (dict(H200_FACTS, distribution="Debian", distribution_major_version="12", kernel="6.1.0-28-amd64"),
     ["linux-headers-6.1.0-28-amd64"]),
    (dict(H200_FACTS, distribution="Rocky", os_family="RedHat", kernel="5.14.0-503.14.1.el9_5.x86_64"),
     ["kernel-devel-5.14.0-503.14.1.el9_5.x86_64", "kernel-headers-5.14.0-503.14.1.el9_5.x86_64"]),
    # Raspberry Pi: the kernel variant in the release decides ...
    (dict(H200_FACTS, distribution="Debian", kernel="6.6.51+rpt-rpi-2712", nvidia=RPI5), ["linux-headers-rpi-2712"]),
    (dict(H200_FACTS, distribution="Debian", kernel="6.6.51+rpt-rpi-v8", nvidia=RPI5), ["linux-headers-rpi-v8"]),
    # ... else the board: a Pi 5 runs the 2712 kernel by default, older boards v8
    (dict(H200_FACTS, distribution="Debian", kernel="6.6.51-custom", nvidia=RPI5), ["linux-headers-rpi-2712"]),
    (dict(H200_FACTS, distribution="Debian", kernel="6.6.51-custom",
          nvidia=_host(host__raspberry_pi=True, host__raspberry_pi_model="Raspberry Pi 4 Model B Rev 1.5")),
     ["linux-headers-rpi-v8"]),
])
def test_driver_headers_packages(facts, expected):
    assert driver_headers_packages(facts) == expected


def test_driver_headers_packages_needs_a_kernel_and_a_known_family():
    with pytest.raises(AnsibleFilterError, match="kernel is missing"):
        driver_headers_packages({"os_family": "Debian"})
    with pytest.raises(AnsibleFilterError, match="Suse"):
        driver_headers_packages({"os_family": "Suse", "kernel": "6.4.0"})


@pytest.mark.parametrize("key, branch, flavour, module, expected", [
    ("Debian-12", 535, "headless", "proprietary",
     ["nvidia-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-persistenced", "firmware-nvidia-gsp"]),
    ("Debian-13", 550, "headless", "open",
     ["nvidia-open-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-persistenced", "firmware-nvidia-gsp"]),
    ("Debian-12", 535, "full", "proprietary", ["nvidia-driver", "firmware-nvidia-gsp"]),
    ("Debian-13", None, "full", "open", ["nvidia-driver", "nvidia-open-kernel-dkms", "firmware-nvidia-gsp"]),
    ("Ubuntu-22", 580, "headless", "open", ["nvidia-headless-580-server-open", "nvidia-utils-580-server"]),
    ("Ubuntu-20", 535, "headless", "proprietary", ["nvidia-headless-535-server", "nvidia-utils-535-server"]),
    ("Ubuntu-24", "570", "full", "open", ["nvidia-driver-570-server-open"]),
    ("Ubuntu-24", 580, "full", "proprietary", ["nvidia-driver-580-server"]),
])
def test_driver_distro_packages(key, branch, flavour, module, expected):
    assert driver_distro_packages(key, branch, flavour, module) == expected


def test_driver_distro_packages_is_a_copy():
    first = driver_distro_packages("Debian-12", 535)
    first.append("something-else")
    assert "something-else" not in driver_distro_packages("Debian-12", 535)


@pytest.mark.parametrize("key, branch, flavour, module, message", [
    ("RedHat-9", 580, "headless", "open", "RedHat-9 has no distribution driver"),
    ("Ubuntu-22", None, "headless", "open", "need the driver branch"),
    ("Debian-12", 535, "desktop", "open", "driver_flavour 'desktop'"),
    ("Debian-12", 535, "headless", "auto", "kernel module 'auto'"),
])
def test_driver_distro_packages_refuses(key, branch, flavour, module, message):
    with pytest.raises(AnsibleFilterError, match=message):
        driver_distro_packages(key, branch, flavour, module)


def test_reboot_reasons_converged_host():
    # the real H200: driver 580.159.04 loaded, the same version built for the running kernel
    assert driver_reboot_reasons(H200, "580.159.04\n") == []
    assert driver_reboot_reasons(H200, "") == []


def test_reboot_reasons_each_one():
    assert driver_reboot_reasons(H200, "580.159.04", packages_changed=True) == ["the driver packages changed"]
    assert driver_reboot_reasons(H200, "580.159.04", params_changed=True) == ["the NVIDIA module parameters changed"]
    assert driver_reboot_reasons(H200, "580.95.05") == ["loaded nvidia 580.159.04 differs from the built 580.95.05"]
    unloaded = _host(driver__loaded=False, driver__nouveau_loaded=True)
    assert driver_reboot_reasons(unloaded, "580.159.04", True) == [
        "the driver packages changed", "nouveau is loaded", "the nvidia module is not loaded"]


def test_reboot_reasons_without_gpu():
    # an image built without GPU: nothing to load, only the change itself
    assert driver_reboot_reasons(NO_GPU, "", packages_changed=True) == ["the driver packages changed"]
    assert driver_reboot_reasons(NO_GPU, "") == []
    assert driver_reboot_reasons(None) == []


def test_filter_names():
    assert sorted(FilterModule().filters()) == [
        "driver_action", "driver_distro_packages", "driver_headers_packages", "driver_reboot_reasons"]
