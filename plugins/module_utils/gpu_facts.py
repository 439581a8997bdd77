# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge what sysfs, lspci, /proc/driver/nvidia and nvidia-smi said into ``ansible_facts.nvidia``.

Every input is already parsed (see ``pci``, ``lspci``, ``nvidia_smi`` and
``host_facts``); the PCI bus id (``0000:00:06.0``) is the join key.  Pure
functions; Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gpufleet.nvidia.plugins.module_utils import gpu_arch
from ansible_collections.gpufleet.nvidia.plugins.module_utils.pci import normalize_bus_id, pcie_link

_PCI_KEYS = ("vendor_id", "device_id", "subsystem_vendor_id", "subsystem_device_id", "class_id", "revision")
_DRIVER_KEYS = ("name", "uuid", "serial", "memory_total_mib", "persistence_mode", "mig_mode", "vbios_version")


def driver_branches(architecture, installed_branch):
    """Per-GPU driver support facts from :func:`gpu_arch.architecture_info`, or ``None``."""
    info = gpu_arch.architecture_info(architecture) if architecture else None
    if info is None:
        return None
    supported = None
    if installed_branch is not None:
        supported = gpu_arch.branch_supports(architecture, installed_branch)
    return {
        "min_branch": info["min_branch"],
        "max_branch": info["max_branch"],
        "open_kernel": info["open_kernel"],
        "max_cuda": info["max_cuda"],
        "recommended_branch": info["recommended_branch"],
        "installed_driver_supported": supported,
        "summary": gpu_arch.describe_support(architecture),
    }


def _blank_gpu(bus_id):
    gpu = {"index": None, "pci_bus_id": bus_id, "kernel_driver": None, "numa_node": None,
           "pcie_link": pcie_link({}), "pci_device_name": None, "minor_number": None,
           "architecture": None, "chip": None, "compute_capability": None,
           "compute_capability_source": None, "driver_branches": None}
    for key in _PCI_KEYS + _DRIVER_KEYS:
        gpu[key] = None
    return gpu


def merge_gpus(sysfs_devices, lspci_devices, proc_gpus, smi_rows, installed_branch=None):
    """One fact dict per NVIDIA display function, sorted by PCI bus id.

    * ``sysfs_devices``: :func:`pci.device_from_sysfs` results (NVIDIA display only),
      or ``None`` when sysfs could not be read;
    * ``lspci_devices``: :func:`lspci.nvidia_display_devices` results;
    * ``proc_gpus``: bus id -> :func:`host_facts.parse_gpu_information`;
    * ``smi_rows``: :func:`nvidia_smi.parse_query_output` rows;
    * ``installed_branch``: the loaded/installed driver's branch (int) or ``None``.

    sysfs is authoritative for PCI facts; lspci fills in names (and is the
    source of devices when sysfs is unreadable); the driver's answers
    (nvidia-smi first, then /proc/driver/nvidia) fill in the rest.
    """
    gpus = {}
    for device in sysfs_devices or []:
        gpu = _blank_gpu(device["pci_bus_id"])
        gpu.update(device)
        gpus[gpu["pci_bus_id"]] = gpu
    for device in lspci_devices or []:
        gpu = gpus.get(device["pci_bus_id"])
        if gpu is None:
            if sysfs_devices is not None:
                continue    # lspci reads the same sysfs: a function missing there is gone
            gpu = gpus[device["pci_bus_id"]] = _blank_gpu(device["pci_bus_id"])
        gpu["pci_device_name"] = device.get("device_name")
        for key in _PCI_KEYS + ("kernel_driver",):
            if gpu.get(key) is None:
                gpu[key] = device.get(key)
    for bus_id, info in (proc_gpus or {}).items():
        bus_id = normalize_bus_id(bus_id) or bus_id
        gpu = gpus.get(bus_id)
        if gpu is None:
            gpu = gpus[bus_id] = _blank_gpu(bus_id)
            gpu["kernel_driver"] = "nvidia"
        for key in ("name", "uuid", "vbios_version", "minor_number"):
            if info.get(key) is not None:
                gpu[key] = info[key]
    for row in smi_rows or []:
        bus_id = row.get("pci_bus_id")
        if bus_id is None:
            continue
        gpu = gpus.get(bus_id)
        if gpu is None:
            gpu = gpus[bus_id] = _blank_gpu(bus_id)
            gpu["kernel_driver"] = "nvidia"
        gpu["index"] = row.get("index")
        for key in _DRIVER_KEYS:
            if row.get(key) is not None:
                gpu[key] = row[key]
        if row.get("compute_capability"):
            gpu["compute_capability"] = row["compute_capability"]
            gpu["compute_capability_source"] = "nvidia-smi"

    result = []
    for bus_id in sorted(gpus):
        gpu = gpus[bus_id]
        known = gpu_arch.lookup_device(gpu["device_id"]) if gpu["device_id"] else None
        if known:
            gpu["chip"] = known["chip"]
            if gpu["compute_capability"] is None:
                gpu["compute_capability"] = known["compute_capability"]
                gpu["compute_capability_source"] = "pci_id"
        if gpu["compute_capability_source"] == "nvidia-smi":
            gpu["architecture"] = gpu_arch.architecture_from_compute_capability(gpu["compute_capability"])
        if gpu["architecture"] is None and known:
            gpu["architecture"] = known["architecture"]
        gpu["driver_branches"] = driver_branches(gpu["architecture"], installed_branch)
        result.append(gpu)
    return result


def architectures(gpus):
    """Unique architectures of ``gpus``, oldest first."""
    names = set(gpu["architecture"] for gpu in gpus if gpu.get("architecture"))
    order = list(gpu_arch.ARCHITECTURE_ORDER)
    return sorted(names, key=lambda name: (order.index(name) if name in order else len(order), name))


def gpu_warnings(gpus, driver, smi_answered):
    """Plain-language warnings about the GPUs (passthrough, nouveau, unsupported driver ...)."""
    warnings = []
    for gpu in gpus:
        label = "GPU %s (%s)" % (gpu["pci_bus_id"], gpu.get("pci_device_name") or gpu.get("device_id"))
        bound = gpu.get("kernel_driver")
        if bound == "vfio-pci":
            warnings.append("%s is bound to vfio-pci (passed through to a virtual machine); the host's "
                            "NVIDIA driver does not manage it" % label)
        elif bound == "nouveau":
            warnings.append("%s is driven by nouveau; blacklist nouveau before the NVIDIA driver "
                            "can take it" % label)
        elif bound is None and driver.get("loaded"):
            warnings.append("%s has no kernel driver bound although the NVIDIA module is loaded" % label)
        elif bound == "nvidia" and smi_answered and gpu.get("index") is None:
            warnings.append("%s is bound to nvidia but nvidia-smi did not list it" % label)
        if gpu.get("architecture") is None:
            warnings.append("%s: architecture unknown for PCI device id %s (extend gpu_arch.PCI_ID_RANGES)"
                            % (label, gpu.get("device_id")))
        branches = gpu.get("driver_branches") or {}
        if branches.get("installed_driver_supported") is False:
            warnings.append("%s: driver %s does not support it (%s)"
                            % (label, driver.get("version"), branches.get("summary")))
    return warnings


def summary(facts):
    """A one-line ``msg`` for the module result."""
    gpus = facts["gpus"]
    driver = facts["driver"]
    if gpus:
        text = "%d NVIDIA GPU%s (%s)" % (len(gpus), "" if len(gpus) == 1 else "s",
                                         ", ".join(facts["architectures"]) or "architecture unknown")
    elif facts["host"].get("jetson"):
        text = "NVIDIA Jetson (L4T %s), integrated GPU" % (facts["host"].get("l4t_version") or "unknown")
    else:
        text = "no NVIDIA GPU found"
    if driver["loaded"]:
        text += "; driver %s (%s kernel module) loaded" % (driver["version"], driver["kernel_module"])
    elif driver["installed"]:
        text += "; NVIDIA driver installed but not loaded"
    else:
        text += "; no NVIDIA driver installed"
    if driver.get("nvidia_smi_error"):
        text += "; nvidia-smi: %s" % driver["nvidia_smi_error"]
    return text
