# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The driver role's decisions about one host, as pure functions over its facts.

``driver_action``: whether the role installs on a host (a Jetson's driver is
the L4T BSP's; a host without GPU is skipped unless the role is told not to
require one).  ``driver_headers_packages``: the kernel headers for the running
kernel (a Raspberry Pi's by kernel variant).  ``driver_distro_packages``: the
distribution's driver packages (Debian non-free, Ubuntu restricted) for a
branch, package set and kernel module type.  ``driver_reboot_reasons``: why
the new driver cannot be used without a reboot.

Documentation of each filter is in the YAML file of the same name next to
this one (``driver_action.yml`` ...), which ``ansible-doc -t filter`` reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_string

from ansible_collections.gpufleet.nvidia.plugins.module_utils._platforms import serves_gpus

ACTIONS = ("install", "skip_jetson", "skip_no_gpu")
FLAVOURS = ("headless", "full")
KERNEL_MODULES = ("open", "proprietary")

# Raspberry Pi kernel variant (in the release string, e.g.
# 6.6.51+rpt-rpi-2712) -> its headers package.  Without a known variant in
# the release, the board decides: the Pi 5 runs the 2712 kernel by default.
RPI_HEADERS = (("rpi-2712", "linux-headers-rpi-2712"), ("rpi-v8", "linux-headers-rpi-v8"))
RPI_DEFAULT_HEADERS = {True: "linux-headers-rpi-2712", False: "linux-headers-rpi-v8"}

# Debian non-free: one driver branch per release, the same package names.
DEBIAN_PACKAGES = {
    "headless": {
        "proprietary": ["nvidia-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-persistenced", "firmware-nvidia-gsp"],
        "open": ["nvidia-open-kernel-dkms", "nvidia-smi", "libcuda1", "nvidia-persistenced", "firmware-nvidia-gsp"],
    },
    "full": {
        "proprietary": ["nvidia-driver", "firmware-nvidia-gsp"],
        "open": ["nvidia-driver", "nvidia-open-kernel-dkms", "firmware-nvidia-gsp"],
    },
}
# Ubuntu restricted: the -server branches, named by branch.
UBUNTU_PACKAGES = {
    "headless": {
        "proprietary": ["nvidia-headless-%s-server", "nvidia-utils-%s-server"],
        "open": ["nvidia-headless-%s-server-open", "nvidia-utils-%s-server"],
    },
    "full": {
        "proprietary": ["nvidia-driver-%s-server"],
        "open": ["nvidia-driver-%s-server-open"],
    },
}


def _bool(value):
    if is_string(value):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _mapping(value, name, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError("%s: expected %s (a dict), got %s" % (name, what, type(value).__name__))
    return value


def driver_action(nvidia, require_gpu=True):
    """``skip_jetson``, ``skip_no_gpu`` or ``install`` for a host's ``ansible_facts.nvidia``.

    A Jetson is always skipped (its driver is part of the L4T BSP); any other
    host is served as ``serves_gpus`` says (a GPU, or ``require_gpu`` false).
    """
    nvidia = _mapping(nvidia, "driver_action", "ansible_facts.nvidia")
    if _bool((nvidia.get("host") or {}).get("jetson")):
        return "skip_jetson"
    return "install" if serves_gpus(nvidia, _bool(require_gpu)) else "skip_no_gpu"


def driver_headers_packages(facts):
    """Kernel headers packages for the running kernel, from ``ansible_facts`` (with ``nvidia``).

    Debian and Ubuntu: ``linux-headers-<kernel>``; a Raspberry Pi: the
    headers of its kernel variant (``rpi-2712`` or ``rpi-v8``, from the
    kernel release, else from the board); RHEL: ``kernel-devel-<kernel>``
    and ``kernel-headers-<kernel>``.
    """
    facts = _mapping(facts, "driver_headers_packages", "ansible_facts")
    kernel = str(facts.get("kernel") or "").strip()
    host = (facts.get("nvidia") or {}).get("host") or {}
    if _bool(host.get("raspberry_pi")):
        for variant, package in RPI_HEADERS:
            if variant in kernel:
                return [package]
        return [RPI_DEFAULT_HEADERS["Raspberry Pi 5" in str(host.get("raspberry_pi_model") or "")]]
    if not kernel:
        raise AnsibleFilterError("driver_headers_packages: ansible_facts.kernel is missing")
    family = facts.get("os_family")
    if family == "Debian":
        return ["linux-headers-" + kernel]
    if family == "RedHat":
        return ["kernel-devel-" + kernel, "kernel-headers-" + kernel]
    raise AnsibleFilterError("driver_headers_packages: os_family %r has no known headers packages" % (family,))


def driver_distro_packages(platform_key, branch=None, flavour="headless", kernel_module="proprietary"):
    """The distribution's driver packages on a host whose platform key is ``platform_key``.

    ``platform_key``: ``Debian-12``, ``Ubuntu-22`` ... (``gpufleet.nvidia.platform``'s
    ``key``); ``branch``: the driver branch (Ubuntu's package names carry it);
    ``flavour``: ``headless`` or ``full`` (``driver_flavour``); ``kernel_module``:
    ``open`` or ``proprietary``.
    """
    distribution = str(platform_key or "").split("-", 1)[0]
    flavour = str(flavour or "headless")
    kernel_module = str(kernel_module or "proprietary")
    if flavour not in FLAVOURS:
        raise AnsibleFilterError("driver_distro_packages: driver_flavour %r is not one of %s"
                                 % (flavour, ", ".join(FLAVOURS)))
    if kernel_module not in KERNEL_MODULES:
        raise AnsibleFilterError("driver_distro_packages: kernel module %r is not one of %s"
                                 % (kernel_module, ", ".join(KERNEL_MODULES)))
    if distribution == "Debian":
        return list(DEBIAN_PACKAGES[flavour][kernel_module])
    if distribution == "Ubuntu":
        if branch in (None, ""):
            raise AnsibleFilterError("driver_distro_packages: Ubuntu's packages need the driver branch")
        return [name % branch for name in UBUNTU_PACKAGES[flavour][kernel_module]]
    raise AnsibleFilterError("driver_distro_packages: %s has no distribution driver; use cuda_repo or runfile"
                             % (platform_key or "this OS"))


def driver_reboot_reasons(nvidia, built_version="", packages_changed=False, params_changed=False):
    """Why the host must reboot to use the driver (an empty list: it need not).

    ``nvidia``: ``ansible_facts.nvidia`` as gathered before the install;
    ``built_version``: ``modinfo -F version nvidia`` (the module built for the
    running kernel); ``packages_changed``: the driver's install changed
    something; ``params_changed``: the module parameters of a loaded driver changed.
    """
    nvidia = _mapping(nvidia, "driver_reboot_reasons", "ansible_facts.nvidia")
    driver = nvidia.get("driver") or {}
    has_gpu = len(nvidia.get("gpus") or []) > 0
    loaded = _bool(driver.get("loaded"))
    loaded_version = str(driver.get("version") or "")
    built_version = str(built_version or "").strip()
    reasons = []
    if _bool(packages_changed):
        reasons.append("the driver packages changed")
    if _bool(params_changed):
        reasons.append("the NVIDIA module parameters changed")
    if _bool(driver.get("nouveau_loaded")):
        reasons.append("nouveau is loaded")
    if has_gpu and not loaded:
        reasons.append("the nvidia module is not loaded")
    if loaded and built_version and loaded_version != built_version:
        reasons.append("loaded nvidia %s differs from the built %s" % (loaded_version, built_version))
    return reasons


class FilterModule(object):
    """The driver role's decisions about one host."""

    def filters(self):
        return {
            "driver_action": driver_action,
            "driver_headers_packages": driver_headers_packages,
            "driver_distro_packages": driver_distro_packages,
            "driver_reboot_reasons": driver_reboot_reasons,
        }
