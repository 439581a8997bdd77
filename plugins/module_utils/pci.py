# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
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
