# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Parser for ``lspci`` machine-readable output (pciutils): pure functions.

The module runs ``lspci -vmm -nn -D -k``: one ``Tag:<TAB>value`` block per
function, with numeric ids (``-nn``), the PCI domain (``-D``) and the
``Driver:`` and ``Module:`` lines from sysfs (``-k``).  :func:`parse_vmm`
returns a list of dicts (keys: see :func:`_empty`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.gpufleet.nvidia.plugins.module_utils._pci import (
    hex_id,
    is_nvidia_display,
    is_nvswitch,
    normalize_bus_id,
)

_NAME_ID = re.compile(r"^(?P<name>.*?)\s*\[(?P<id>[0-9a-fA-F]{4,6})\]$")


def split_name_id(text):
    """``NVIDIA Corporation [10de]`` -> (``NVIDIA Corporation``, ``10de``); no id -> (text, None)."""
    text = (text or "").strip()
    match = _NAME_ID.match(text)
    if not match:
        return (text or None), None
    return (match.group("name") or None), match.group("id").lower()


def _empty(slot):
    return {
        "pci_bus_id": normalize_bus_id(slot) or slot,
        "class_name": None, "class_id": None,
        "vendor_name": None, "vendor_id": None,
        "device_name": None, "device_id": None,
        "subsystem_vendor_name": None, "subsystem_vendor_id": None,
        "subsystem_name": None, "subsystem_device_id": None,
        "revision": None, "prog_if": None,
        "kernel_driver": None, "kernel_modules": [],
    }


def _set_pair(entry, name_key, id_key, text, digits=4):
    name, ident = split_name_id(text)
    entry[name_key] = name
    entry[id_key] = hex_id(ident, digits) if ident else None


def _class_id(entry):
    """Full 24-bit class (``0x030200``) from the 16-bit class and the prog-if."""
    if entry["class_id"] is None:
        return None
    return hex_id("%s%s" % (entry["class_id"][2:6], entry["prog_if"] or "00"), 6)


_VMM_KEYS = {
    "Class": ("class_name", "class_id"),
    "Vendor": ("vendor_name", "vendor_id"),
    "Device": ("device_name", "device_id"),
    "SVendor": ("subsystem_vendor_name", "subsystem_vendor_id"),
    "SDevice": ("subsystem_name", "subsystem_device_id"),
}


def parse_vmm(text):
    """Parse ``lspci -vmm -nn -D [-k]`` output (blank-line separated ``Tag:<TAB>value`` records)."""
    devices = []
    entry = None
    for line in (text or "").splitlines():
        if not line.strip():
            entry = None
            continue
        tag, sep, value = line.partition(":")
        if not sep:
            continue
        tag, value = tag.strip(), value.strip()
        if tag == "Slot":
            entry = _empty(value)
            devices.append(entry)
        elif entry is None:
            continue
        elif tag in _VMM_KEYS:
            # "Device" also appears as a second-level tag in -vvmm; the first one wins.
            name_key, id_key = _VMM_KEYS[tag]
            if entry[id_key] is None:
                _set_pair(entry, name_key, id_key, value)
        elif tag == "Rev":
            entry["revision"] = hex_id(value, 2)
        elif tag == "ProgIf":
            entry["prog_if"] = value.lower()
        elif tag == "Driver":
            entry["kernel_driver"] = value or None
        elif tag == "Module":
            entry["kernel_modules"].append(value)
    for entry in devices:
        entry["class_id"] = _class_id(entry)
    return devices


def nvidia_display_devices(devices):
    """Only the NVIDIA display/3D functions of a parsed lspci listing."""
    return [d for d in devices if is_nvidia_display(d["vendor_id"], d["class_id"])]


def nvswitch_devices(devices):
    """Only the NVSwitch functions (NVIDIA, class 0x0680) of a parsed lspci listing."""
    return [d for d in devices if is_nvswitch(d["vendor_id"], d["class_id"])]
