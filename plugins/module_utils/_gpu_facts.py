# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Merge what sysfs, lspci, /proc/driver/nvidia and nvidia-smi said into ``ansible_facts.nvidia``.

Every input is already parsed (see ``pci``, ``lspci``, ``nvidia_smi`` and
``host_facts``); the PCI bus id (``0000:00:06.0``) is the join key.  Pure
functions; Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _gpu_arch as gpu_arch
from ansible_collections.gpufleet.nvidia.plugins.module_utils._pci import normalize_bus_id, nvswitch_generation, pcie_link

_PCI_KEYS = ("vendor_id", "device_id", "subsystem_vendor_id", "subsystem_device_id", "class_id", "revision")
_DRIVER_KEYS = ("name", "uuid", "serial", "memory_total_mib", "persistence_mode", "mig_mode", "vbios_version",
                "c2c_mode", "addressing_mode")
_FABRIC_KEYS = (("state", "fabric_state"), ("status", "fabric_status"), ("clique_id", "fabric_clique_id"),
                ("cluster_uuid", "fabric_cluster_uuid"))
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


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
           "compute_capability_source": None, "driver_branches": None,
           "fabric": dict((key, None) for key, _row_key in _FABRIC_KEYS),
           "mig": mig_facts({})}
    for key in _PCI_KEYS + _DRIVER_KEYS:
        gpu[key] = None
    return gpu


def mig_facts(row):
    """The ``mig`` facts of one nvidia-smi row.

    ``supported`` is true when nvidia-smi printed a MIG mode, false when it
    was asked and printed ``[N/A]`` (a GPU without MIG), null when it was not
    asked or did not answer.  ``reset_pending``: the pending mode differs from
    the current one, so the GPU needs a reset (or a reboot) to apply it.
    """
    current = row.get("mig_mode")
    pending = row.get("mig_mode_pending")
    supported = (current is not None) if "mig_mode" in row else None
    return {
        "supported": supported,
        "current": current,
        "pending": pending,
        "reset_pending": bool(current is not None and pending is not None and current != pending),
    }


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
        gpu["fabric"] = dict((key, row.get(row_key)) for key, row_key in _FABRIC_KEYS)
        gpu["mig"] = mig_facts(row)
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


def nvswitch_facts(sysfs_switches, lspci_switches, proc_switches, driver_present, management_ports):
    """The ``nvswitch`` facts.

    * ``sysfs_switches``: :func:`pci.device_from_sysfs` results of the NVSwitch
      functions (NVIDIA, class 0x0680), or ``None`` when sysfs was unreadable;
    * ``lspci_switches``: the same functions from lspci (names; the device list
      when sysfs was unreadable);
    * ``proc_switches``: bus id -> :func:`host_facts.parse_nvswitch_information`
      (``/proc/driver/nvidia-nvswitch/devices/*/information``);
    * ``driver_present``: whether ``/proc/driver/nvidia-nvswitch`` exists;
    * ``management_ports``: RDMA device names of the ConnectX functions whose VPD
      marks them as NVSwitch management ports (fourth-generation NVSwitch).

    Fabric Manager is needed on every host with NVSwitches (NVIDIA Fabric
    Manager User Guide); from the fourth generation on it also needs the
    NVLink Subnet Manager (NVLSM), which reaches the switches through the
    management ports.
    """
    devices = {}
    for device in sysfs_switches or []:
        devices[device["pci_bus_id"]] = dict(device, pci_device_name=None)
    for device in lspci_switches or []:
        entry = devices.get(device["pci_bus_id"])
        if entry is None:
            if sysfs_switches is not None:
                continue
            entry = devices[device["pci_bus_id"]] = {
                "pci_bus_id": device["pci_bus_id"], "numa_node": None, "pcie_link": pcie_link({})}
            for key in _PCI_KEYS + ("kernel_driver",):
                entry[key] = device.get(key)
        entry["pci_device_name"] = device.get("device_name")
    for bus_id, info in (proc_switches or {}).items():
        bus_id = normalize_bus_id(bus_id) or bus_id
        entry = devices.get(bus_id)
        if entry is None:
            entry = devices[bus_id] = {"pci_bus_id": bus_id, "numa_node": None, "pcie_link": pcie_link({}),
                                       "pci_device_name": None, "kernel_driver": "nvidia-nvswitch"}
            for key in _PCI_KEYS:
                entry[key] = None
        entry.update(info)
    result = []
    for bus_id in sorted(devices):
        entry = devices[bus_id]
        for key in ("uuid", "bios_version", "physical_id"):
            entry.setdefault(key, None)
        entry.pop("pcie_link", None)
        entry.update(nvswitch_generation(entry.get("device_id")))
        result.append(entry)
    ports = sorted(management_ports or [])
    generations = [entry["generation"] for entry in result if entry["generation"] is not None]
    generation = max(generations) if generations else None
    nvlink = max([entry["nvlink_version"] for entry in result if entry["nvlink_version"]] or [0]) or None
    if ports and not result:
        generation, nvlink = 4, 5
    return {
        "count": len(result),
        "generation": generation,
        "nvlink_version": nvlink,
        "devices": result,
        "driver_loaded": bool(driver_present),
        "management_ports": ports,
        "fabric_manager_required": bool(result or ports),
        "nvlsm_required": bool(ports),
    }


def nvlink_facts(gpus, nvswitch):
    """The ``nvlink`` summary: what the GPUs' fabric fields and the NVSwitch facts say together.

    * ``nvswitch``: the GPUs are joined by NVSwitches (PCI functions or management ports);
    * ``c2c``: a GPU is joined to the CPU by NVLink-C2C (Grace superchips);
    * ``multi_node``: a GPU belongs to a multi-node NVLink cluster (a fabric cluster
      UUID other than zero: GB200/GB300 NVL racks, which need IMEX);
    * ``fabric_states``: GPU count per fabric state (``completed``, ``in_progress`` ...);
    * ``fabric_ready``: every GPU that has a fabric state has ``completed`` it with
      status ``Success``; null when no GPU reports a fabric state (no NVSwitch,
      a driver older than 535, or nvidia-smi did not answer).
    """
    states = {}
    ready = None
    for gpu in gpus:
        fabric = gpu.get("fabric") or {}
        state = fabric.get("state")
        if state is None:
            continue
        states[state] = states.get(state, 0) + 1
        if state == "not_supported":
            continue
        done = state == "completed" and (fabric.get("status") or "Success").lower() == "success"
        ready = done if ready is None else (ready and done)
    multi_node = any((gpu.get("fabric") or {}).get("cluster_uuid") not in (None, _ZERO_UUID) for gpu in gpus)
    return {
        "nvswitch": bool(nvswitch.get("count") or nvswitch.get("management_ports")),
        "c2c": any(gpu.get("c2c_mode") is True for gpu in gpus),
        "multi_node": multi_node,
        "fabric_states": states,
        "fabric_ready": ready,
    }


def superchip(cpu, gpus):
    """``(grace, superchip)``: is the CPU an NVIDIA Grace, and which superchip the host is.

    ``cpu`` is :func:`host_facts.cpu_facts`.  When the SoC id could not say
    (``cpu["grace"]`` is null: Neoverse V2 cores, no SoC id), a GPU that only
    comes on a Grace superchip (its PCI id) or runs in NVLink-C2C mode settles it.
    ``superchip`` is ``Grace Hopper`` or ``Grace Blackwell`` from the GPUs'
    architecture, ``Grace`` for a Grace CPU without such a GPU, else null.
    """
    names = set(gpu_arch.superchip_of(gpu.get("device_id")) for gpu in gpus) - set([None])
    grace = cpu.get("grace")
    if grace is None:
        grace = bool(names) or any(gpu.get("c2c_mode") is True for gpu in gpus)
    if not grace:
        return False, None
    architectures_seen = set(gpu.get("architecture") for gpu in gpus)
    if "Blackwell" in architectures_seen or names & set(["GB200", "GB300"]):
        return True, "Grace Blackwell"
    if "Hopper" in architectures_seen or "GH200" in names:
        return True, "Grace Hopper"
    return True, "Grace"


def rdma_facts(nics, ib_devices, loaded_modules):
    """The ``rdma`` facts: RDMA-capable NICs for GPUDirect RDMA.

    * ``nics``: :func:`pci.device_from_sysfs` results of the NVIDIA Networking
      (Mellanox, vendor 0x15b3) network functions, virtual functions left out;
    * ``ib_devices``: ``{name, pci_bus_id, vendor_id, device_id, kernel_driver,
      nvswitch_management}`` per entry of ``/sys/class/infiniband`` (any vendor);
    * ``loaded_modules``: names from ``/proc/modules``.

    ``count`` leaves out NVSwitch management ports (they carry no GPU traffic).
    """
    devices = {}
    for nic in nics or []:
        devices[nic["pci_bus_id"]] = {
            "pci_bus_id": nic["pci_bus_id"], "vendor_id": nic.get("vendor_id"), "device_id": nic.get("device_id"),
            "class_id": nic.get("class_id"), "kernel_driver": nic.get("kernel_driver"),
            "numa_node": nic.get("numa_node"), "rdma_device": None, "nvswitch_management": False,
        }
    for ib in ib_devices or []:
        bus_id = ib.get("pci_bus_id") or ib["name"]
        entry = devices.get(bus_id)
        if entry is None:
            entry = devices[bus_id] = {
                "pci_bus_id": ib.get("pci_bus_id"), "vendor_id": ib.get("vendor_id"),
                "device_id": ib.get("device_id"), "class_id": ib.get("class_id"),
                "kernel_driver": ib.get("kernel_driver"), "numa_node": ib.get("numa_node"),
                "rdma_device": None, "nvswitch_management": False,
            }
        entry["rdma_device"] = ib["name"]
        entry["nvswitch_management"] = bool(ib.get("nvswitch_management"))
    result = [devices[key] for key in sorted(devices)]
    return {
        "count": sum(1 for entry in result if not entry["nvswitch_management"]),
        "devices": result,
        "ib_core_loaded": "ib_core" in loaded_modules,
        "nvidia_peermem_loaded": "nvidia_peermem" in loaded_modules,
    }


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
        fabric = gpu.get("fabric") or {}
        if fabric.get("state") in ("not_started", "in_progress"):
            warnings.append("%s: NVLink fabric registration is %s; CUDA will not start on it until "
                            "Fabric Manager (and NVLSM on NVLink 5 systems) has configured the fabric"
                            % (label, fabric["state"].replace("_", " ")))
        elif fabric.get("state") == "completed" and (fabric.get("status") or "Success").lower() != "success":
            warnings.append("%s: NVLink fabric registration completed with status %r; see the Fabric "
                            "Manager log" % (label, fabric["status"]))
        mig = gpu.get("mig") or {}
        if mig.get("reset_pending"):
            warnings.append("%s: MIG mode is %s but %s is pending; it takes effect after a GPU reset or reboot"
                            % (label, "enabled" if mig["current"] else "disabled",
                               "enabling" if mig["pending"] else "disabling"))
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
    nvswitch = facts.get("nvswitch") or {}
    if nvswitch.get("count"):
        text += "; %d NVSwitch%s" % (nvswitch["count"], "" if nvswitch["count"] == 1 else "es")
        if nvswitch.get("generation"):
            text += " (generation %d)" % nvswitch["generation"]
    elif nvswitch.get("management_ports"):
        text += "; NVLink 5 NVSwitches (%d management ports)" % len(nvswitch["management_ports"])
    if driver["loaded"]:
        text += "; driver %s (%s kernel module) loaded" % (driver["version"], driver["kernel_module"])
    elif driver["installed"]:
        text += "; NVIDIA driver installed but not loaded"
    else:
        text += "; no NVIDIA driver installed"
    if driver.get("nvidia_smi_error"):
        text += "; nvidia-smi: %s" % driver["nvidia_smi_error"]
    return text
