# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""PCI helpers for GPU discovery from sysfs: pure functions over strings and dicts.

``/sys/bus/pci/devices/<bus id>/`` holds one small file per attribute
(``vendor`` = ``0x10de``, ``class`` = ``0x030200``, ``current_link_speed`` =
``32.0 GT/s PCIe`` ...).  The module reads those files into a dict and calls
:func:`device_from_sysfs`; nothing here touches the filesystem.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

NVIDIA_VENDOR_ID = "0x10de"
MELLANOX_VENDOR_ID = "0x15b3"

# NVSwitch: an NVIDIA function of class 0x0680 ("bridge, other"); the
# nvidia-nvswitch driver claims every such function (kernel-open/nvidia/
# linux_nvswitch.c of NVIDIA's open-gpu-kernel-modules, PCI_CLASS_BRIDGE_NVSWITCH).
NVSWITCH_CLASS_PREFIX = "0x0680"

# NVSwitch PCI device ids -> (generation, chip, NVLink version, GPU generation it joins).
# Sources: src/common/nvswitch/kernel/nvswitch.c of NVIDIA's open-gpu-kernel-modules
# (nvswitch_lr10_device_ids, nvswitch_ls10_device_ids) and the PCI ID repository
# (10de:1af1 "GA100 [A100 NVSwitch]", 10de:22a3 "GH100 [H100 NVSwitch]").
# First-generation NVSwitches (HGX-2 / DGX-2, Volta) are not in either source: their
# ids are unknown here, such a switch is still counted (by its class) with generation null.
# Fourth-generation NVSwitches (NVLink 5, HGX B200/B300) are no PCI function of the
# host at all; see :func:`vpd_is_nvswitch_management`.
NVSWITCH_IDS = (
    # (first id, last id, generation, chip, NVLink version, GPU architecture)
    (0x1AE8, 0x1AE8, 2, "LR10", 3, "Ampere"),
    (0x1AF0, 0x1AFF, 2, "LR10", 3, "Ampere"),
    (0x22A0, 0x22AF, 3, "LS10", 4, "Hopper"),
)

# Attribute files read for every PCI function that may be an NVIDIA GPU.
SYSFS_ATTRIBUTES = (
    "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
    "numa_node", "current_link_speed", "current_link_width", "max_link_speed",
    "max_link_width",
)

# PCIe transfer rate per lane (GT/s) -> PCIe generation.
_GENERATIONS = {"2.5": 1, "5.0": 2, "8.0": 3, "16.0": 4, "32.0": 5, "64.0": 6, "128.0": 7}

_BUS_ID = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{1,2}):"
    r"(?P<device>[0-9a-fA-F]{1,2})\.(?P<function>[0-7])$")


def normalize_bus_id(bus_id):
    """Return a PCI address as ``0000:00:06.0`` (4-digit domain, lower case).

    Accepts the forms printed by sysfs/lspci -D (``0000:00:06.0``), lspci
    (``00:06.0``) and nvidia-smi (``00000000:00:06.0``).  Returns ``None`` for
    anything else.
    """
    if not isinstance(bus_id, str):
        return None
    match = _BUS_ID.match(bus_id.strip())
    if not match:
        return None
    domain = int(match.group("domain") or "0", 16)
    if domain > 0xFFFF:
        return None
    return "%04x:%02x:%02x.%d" % (
        domain, int(match.group("bus"), 16), int(match.group("device"), 16), int(match.group("function")))


def hex_id(value, digits=4):
    """Return ``0x10de`` for ``0x10DE``, ``10de``, ``10DE`` or 4318; ``None`` if not hexadecimal."""
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip().lower()
        if text.startswith("0x"):
            text = text[2:]
        if not text or not re.match(r"^[0-9a-f]+$", text):
            return None
        number = int(text, 16)
    else:
        return None
    return "0x%0*x" % (digits, number)


def is_nvidia_display(vendor_id, class_id):
    """True for an NVIDIA display controller function (class 0x03xxxx: VGA, XGA, 3D, other)."""
    vendor = hex_id(vendor_id)
    klass = hex_id(class_id, 6)
    return vendor == NVIDIA_VENDOR_ID and klass is not None and klass.startswith("0x03")


def is_nvswitch(vendor_id, class_id):
    """True for an NVSwitch function: NVIDIA, class 0x0680 (bridge, other)."""
    vendor = hex_id(vendor_id)
    klass = hex_id(class_id, 6)
    return vendor == NVIDIA_VENDOR_ID and klass is not None and klass.startswith(NVSWITCH_CLASS_PREFIX)


def nvswitch_generation(device_id):
    """NVSwitch facts for a PCI device id: ``{generation, chip, nvlink_version, gpu_architecture}``.

    Every value is ``None`` for an id the table does not know (a first-generation
    switch, or one newer than the table).
    """
    number = hex_id(device_id)
    result = {"generation": None, "chip": None, "nvlink_version": None, "gpu_architecture": None}
    if number is None:
        return result
    value = int(number, 16)
    for first, last, generation, chip, nvlink, architecture in NVSWITCH_IDS:
        if first <= value <= last:
            result.update(generation=generation, chip=chip, nvlink_version=nvlink, gpu_architecture=architecture)
            break
    return result


def is_mellanox_network(vendor_id, class_id):
    """True for an NVIDIA Networking (Mellanox) network function: vendor 0x15b3, class 0x02xx
    (0x0200 Ethernet, 0x0207 InfiniBand); every ConnectX and BlueField port is RDMA-capable."""
    vendor = hex_id(vendor_id)
    klass = hex_id(class_id, 6)
    return vendor == MELLANOX_VENDOR_ID and klass is not None and klass.startswith("0x02")


def parse_vpd(raw):
    """PCI Vital Product Data (the ``vpd`` file of a function in sysfs) -> dict.

    The format is the PCI specification's (section "Vital Product Data"): a
    large-resource "identifier string" (tag 0x82), a read-only list (tag 0x90)
    and an optional read-write list (tag 0x91) of ``keyword (2 bytes), length
    (1 byte), data`` fields, and a small-resource end tag (0x78).  Returns
    ``{"name": identifier string or None, "fields": {keyword: text}}``; bytes
    after the end tag or a truncated resource are ignored.
    """
    result = {"name": None, "fields": {}}
    if not raw:
        return result
    data = bytearray(raw)
    position = 0
    while position < len(data):
        tag = data[position]
        if not tag & 0x80 and (tag >> 3) == 0x0F:     # small-resource end tag
            break
        if not tag & 0x80:                      # other small resources: skip
            position += 1 + (tag & 0x07)
            continue
        if position + 3 > len(data):
            break
        length = data[position + 1] | (data[position + 2] << 8)
        body = data[position + 3:position + 3 + length]
        if len(body) < length:
            break
        if tag == 0x82:
            result["name"] = body.decode("latin-1").strip("\x00 ") or None
        elif tag in (0x90, 0x91):
            offset = 0
            while offset + 3 <= len(body):
                keyword = body[offset:offset + 2].decode("latin-1")
                size = body[offset + 2]
                value = body[offset + 3:offset + 3 + size]
                if keyword != "RV" and keyword != "RW":
                    result["fields"][keyword] = value.decode("latin-1").rstrip("\x00 ")
                offset += 3 + size
        position += 3 + length
    return result


def vpd_is_nvswitch_management(raw):
    """True when a ConnectX function's VPD marks it as an NVSwitch management port.

    On systems with fourth-generation NVSwitches (HGX/DGX B200, B300) the
    switches are reached through a ConnectX-7 bridge on the GPU baseboard; its
    "limited physical functions" carry ``SMDL=SW_MNG`` in a vendor-specific VPD
    field, which is how NVIDIA's Fabric Manager start script finds them (NVIDIA
    Fabric Manager User Guide, "Systems Using Fourth Generation NVSwitches").
    """
    for value in parse_vpd(raw)["fields"].values():
        if "SMDL=SW_MNG" in value.split(":") or value == "SMDL=SW_MNG":
            return True
    return False


def link_generation(speed):
    """PCIe generation for a speed string such as ``32.0 GT/s PCIe`` or ``8 GT/s``; else ``None``."""
    if not speed:
        return None
    match = re.match(r"^\s*([0-9.]+)\s*GT/s", speed)
    if not match:
        return None
    try:
        rate = "%.1f" % float(match.group(1))
    except ValueError:
        return None
    return _GENERATIONS.get(rate)


def _speed(value):
    """``32.0 GT/s PCIe`` -> ``32.0 GT/s``; ``Unknown`` or empty -> ``None``."""
    if not value:
        return None
    match = re.match(r"^\s*([0-9.]+\s*GT/s)", value)
    return match.group(1).replace("  ", " ") if match else None


def _int(value):
    try:
        return int(str(value).strip(), 0)
    except (TypeError, ValueError):
        return None


def pcie_link(attributes):
    """The ``pcie_link`` fact from sysfs attributes (all keys ``None`` when sysfs has no link files)."""
    current = _speed(attributes.get("current_link_speed"))
    maximum = _speed(attributes.get("max_link_speed"))
    current_width = _int(attributes.get("current_link_width"))
    max_width = _int(attributes.get("max_link_width"))
    return {
        "current_speed": current,
        "current_width": current_width or None,
        "current_generation": link_generation(current),
        "max_speed": maximum,
        "max_width": max_width or None,
        "max_generation": link_generation(maximum),
    }


def driver_from_link(link_target):
    """``../../../bus/pci/drivers/nvidia`` (the ``driver`` symlink) -> ``nvidia``; ``None`` -> ``None``."""
    if not link_target:
        return None
    name = link_target.rstrip("/").rsplit("/", 1)[-1]
    return name or None


def device_from_sysfs(bus_id, attributes, driver_link=None):
    """Build a GPU's PCI facts from its sysfs attribute strings.

    ``attributes`` maps attribute file names (see :data:`SYSFS_ATTRIBUTES`) to
    their stripped contents; missing files are simply absent.  ``driver_link``
    is the target of the ``driver`` symlink, or ``None`` when nothing is bound.
    """
    numa = _int(attributes.get("numa_node"))
    return {
        "pci_bus_id": normalize_bus_id(bus_id) or bus_id,
        "vendor_id": hex_id(attributes.get("vendor")),
        "device_id": hex_id(attributes.get("device")),
        "subsystem_vendor_id": hex_id(attributes.get("subsystem_vendor")),
        "subsystem_device_id": hex_id(attributes.get("subsystem_device")),
        "class_id": hex_id(attributes.get("class"), 6),
        "revision": hex_id(attributes.get("revision"), 2),
        "kernel_driver": driver_from_link(driver_link),
        # The kernel prints -1 when the platform reports no NUMA affinity.
        "numa_node": numa if numa is not None and numa >= 0 else None,
        "pcie_link": pcie_link(attributes),
    }
