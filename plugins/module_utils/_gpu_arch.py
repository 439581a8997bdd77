# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""NVIDIA GPU architecture table: one source of truth for the collection.

Maps a PCI device id (vendor 0x10de) to its architecture, chip family and
CUDA compute capability, and says which driver branches support each
architecture.  Used by the ``nvidia_gpu_facts`` module (architecture is known
before any driver is installed) and by the ``driver_branch`` filters (the
``driver`` role refuses a branch that does not support the GPU).

Sources: the PCI ID repository (pci-ids.ucw.cz, vendor 10de), NVIDIA's
"supported GPUs" appendix of each driver README, and NVIDIA's support-plan
announcements (Kepler ends with the 470 legacy branch; Maxwell, Pascal and
Volta end with the 580 branch; open kernel modules from Turing on, and only
they support Blackwell).  Pure data and functions; Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# name -> support facts.  Branches are driver major versions as integers.
#   min_branch:   first production branch that drives the architecture
#   max_branch:   last branch that still supports it (None: current)
#   open_kernel:  'no' | 'yes' (either kernel module type) | 'required' (open only)
#   max_cuda:     newest CUDA major.minor that still builds for it (None: current)
ARCHITECTURES = {
    "Fermi": {"min_branch": 256, "max_branch": 390, "open_kernel": "no", "max_cuda": "8.0"},
    "Kepler": {"min_branch": 295, "max_branch": 470, "open_kernel": "no", "max_cuda": "11.8"},
    "Maxwell": {"min_branch": 340, "max_branch": 580, "open_kernel": "no", "max_cuda": "12.9"},
    "Pascal": {"min_branch": 367, "max_branch": 580, "open_kernel": "no", "max_cuda": "12.9"},
    "Volta": {"min_branch": 384, "max_branch": 580, "open_kernel": "no", "max_cuda": "12.9"},
    "Turing": {"min_branch": 410, "max_branch": None, "open_kernel": "yes", "max_cuda": None},
    "Ampere": {"min_branch": 450, "max_branch": None, "open_kernel": "yes", "max_cuda": None},
    "Ada Lovelace": {"min_branch": 525, "max_branch": None, "open_kernel": "yes", "max_cuda": None},
    "Hopper": {"min_branch": 520, "max_branch": None, "open_kernel": "yes", "max_cuda": None},
    "Blackwell": {"min_branch": 570, "max_branch": None, "open_kernel": "required", "max_cuda": None},
}

# Oldest to newest; used for ordering in reports.
ARCHITECTURE_ORDER = ("Fermi", "Kepler", "Maxwell", "Pascal", "Volta", "Turing",
                      "Ampere", "Ada Lovelace", "Hopper", "Blackwell")

# Branch recommended when nothing else is asked for: the newest long-lived
# branch that supports the architecture.
RECOMMENDED_BRANCH = {
    "Fermi": 390, "Kepler": 470, "Maxwell": 580, "Pascal": 580, "Volta": 580,
    "Turing": 580, "Ampere": 580, "Ada Lovelace": 580, "Hopper": 580, "Blackwell": 580,
}

# (first id, last id, architecture, chip family, compute capability)
# Inclusive ranges of PCI device ids, sorted by first id.
PCI_ID_RANGES = (
    (0x06C0, 0x06DF, "Fermi", "GF100", "2.0"),
    (0x0DC0, 0x0DFF, "Fermi", "GF106/GF108", "2.1"),
    (0x0E20, 0x0E3F, "Fermi", "GF104", "2.1"),
    (0x0FC0, 0x0FFF, "Kepler", "GK107/GK106", "3.0"),
    (0x1000, 0x103F, "Kepler", "GK110/GK210", "3.5"),
    (0x1040, 0x107F, "Fermi", "GF119", "2.1"),
    (0x1080, 0x109F, "Fermi", "GF110", "2.0"),
    (0x1140, 0x117F, "Fermi", "GF117", "2.1"),
    (0x1180, 0x11FF, "Kepler", "GK104/GK106", "3.0"),
    (0x1200, 0x127F, "Fermi", "GF114/GF116", "2.1"),
    (0x1280, 0x12FF, "Kepler", "GK208", "3.5"),
    (0x1340, 0x137F, "Maxwell", "GM108", "5.0"),
    (0x1380, 0x13BF, "Maxwell", "GM107", "5.0"),
    (0x13C0, 0x13FF, "Maxwell", "GM204", "5.2"),
    (0x1400, 0x143F, "Maxwell", "GM206", "5.2"),
    (0x15F0, 0x15FF, "Pascal", "GP100", "6.0"),
    (0x1600, 0x167F, "Maxwell", "GM204M/GM206M", "5.2"),
    (0x1740, 0x17BF, "Maxwell", "GM108M", "5.0"),
    (0x17C0, 0x17FF, "Maxwell", "GM200", "5.2"),
    (0x1B00, 0x1B7F, "Pascal", "GP102", "6.1"),
    (0x1B80, 0x1BFF, "Pascal", "GP104", "6.1"),
    (0x1C00, 0x1C7F, "Pascal", "GP106", "6.1"),
    (0x1C80, 0x1CFF, "Pascal", "GP107", "6.1"),
    (0x1D00, 0x1D7F, "Pascal", "GP108", "6.1"),
    (0x1D80, 0x1DFF, "Volta", "GV100", "7.0"),
    (0x1E00, 0x1E7F, "Turing", "TU102", "7.5"),
    (0x1E80, 0x1EFF, "Turing", "TU104", "7.5"),
    (0x1F00, 0x1F7F, "Turing", "TU106", "7.5"),
    (0x1F80, 0x1FFF, "Turing", "TU117", "7.5"),
    (0x20B0, 0x20FF, "Ampere", "GA100", "8.0"),
    (0x2180, 0x21FF, "Turing", "TU116", "7.5"),
    (0x2200, 0x227F, "Ampere", "GA102", "8.6"),
    (0x2300, 0x237F, "Hopper", "GH100", "9.0"),
    (0x2400, 0x247F, "Ampere", "GA103", "8.6"),
    (0x2480, 0x24FF, "Ampere", "GA104", "8.6"),
    (0x2500, 0x257F, "Ampere", "GA106", "8.6"),
    (0x2580, 0x25FF, "Ampere", "GA107", "8.6"),
    (0x2680, 0x26FF, "Ada Lovelace", "AD102", "8.9"),
    (0x2700, 0x277F, "Ada Lovelace", "AD103", "8.9"),
    (0x2780, 0x27FF, "Ada Lovelace", "AD104", "8.9"),
    (0x2800, 0x287F, "Ada Lovelace", "AD106", "8.9"),
    (0x2880, 0x28FF, "Ada Lovelace", "AD107", "8.9"),
    (0x2900, 0x29FF, "Blackwell", "GB100/GB102", "10.0"),
    (0x2B80, 0x2BFF, "Blackwell", "GB202", "12.0"),
    (0x2C00, 0x2C7F, "Blackwell", "GB203", "12.0"),
    (0x2D00, 0x2D7F, "Blackwell", "GB206", "12.0"),
    (0x2D80, 0x2DFF, "Blackwell", "GB207", "12.0"),
    (0x2E00, 0x2E7F, "Blackwell", "GB20B", "12.1"),
    (0x2F00, 0x2F7F, "Blackwell", "GB205", "12.0"),
    (0x3180, 0x31FF, "Blackwell", "GB110", "10.3"),
)


# GPUs of NVIDIA's Grace superchips, joined to a Grace CPU by NVLink-C2C
# (device names from the PCI ID repository, version 2026.08.22).
SUPERCHIP_GPUS = {
    0x2342: "GH200",    # GH100 [GH200 120GB / 480GB]
    0x2348: "GH200",    # GH100 [GH200 144G HBM3e]
    0x2941: "GB200",    # GB100 [HGX GB200]
    0x31C2: "GB300",    # GB110 [GB300]
    0x31C3: "GB300",    # GB110 [GB300]
}


# Blackwell datacenter chips: the GPUs of fourth-generation NVSwitch (NVLink 5)
# systems (HGX/DGX B200, B300, GB200/GB300 NVL).
NVLINK5_CHIPS = ("GB100/GB102", "GB110")


def nvlink5_capable(device_id):
    """True for a GPU that can sit on a fourth-generation NVSwitch (NVLink 5) baseboard."""
    known = lookup_device(device_id) if device_id else None
    return bool(known and known["chip"] in NVLINK5_CHIPS)


def superchip_of(device_id):
    """``GH200``, ``GB200`` or ``GB300`` for the GPU of a Grace superchip, else ``None``."""
    number = parse_device_id(device_id)
    return SUPERCHIP_GPUS.get(number) if number is not None else None


def parse_device_id(value):
    """Return the integer of a PCI device id given as ``0x2330``, ``2330`` or an int.

    Returns ``None`` for anything that is not a 16-bit hexadecimal number.
    """
    if isinstance(value, int):
        return value if 0 <= value <= 0xFFFF else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not text or len(text) > 4:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def lookup_device(device_id):
    """Return ``{architecture, chip, compute_capability}`` for a PCI device id, or ``None``."""
    number = parse_device_id(device_id)
    if number is None:
        return None
    for first, last, arch, chip, cc in PCI_ID_RANGES:
        if first <= number <= last:
            return {"architecture": arch, "chip": chip, "compute_capability": cc}
    return None


def architecture_from_compute_capability(compute_capability):
    """Map a compute capability such as ``"9.0"`` to an architecture name, or ``None``."""
    try:
        major, minor = (int(part) for part in str(compute_capability).strip().split(".", 1))
    except (TypeError, ValueError):
        return None
    if major == 2:
        return "Fermi"
    if major == 3:
        return "Kepler"
    if major == 5:
        return "Maxwell"
    if major == 6:
        return "Pascal"
    if major == 7:
        return "Turing" if minor >= 5 else "Volta"
    if major == 8:
        return "Ada Lovelace" if minor >= 9 else "Ampere"
    if major == 9:
        return "Hopper"
    if major in (10, 11, 12):
        return "Blackwell"
    return None


def architecture_info(architecture):
    """Return the support facts of an architecture (a copy), or ``None`` if unknown."""
    info = ARCHITECTURES.get(architecture)
    if info is None:
        return None
    result = dict(info)
    result["name"] = architecture
    result["recommended_branch"] = RECOMMENDED_BRANCH[architecture]
    return result


def branch_number(branch):
    """Return the integer major of a branch given as ``580``, ``"580"`` or ``"580.95.05"``."""
    if isinstance(branch, int):
        return branch
    text = str(branch).strip()
    head = text.split(".", 1)[0]
    if not head.isdigit():
        raise ValueError("driver branch %r is not a number such as 580 or 580.95.05" % (branch,))
    return int(head)


def branch_supports(architecture, branch):
    """True when driver ``branch`` supports GPUs of ``architecture``.

    Raises ``ValueError`` for an unknown architecture or a malformed branch.
    """
    info = ARCHITECTURES.get(architecture)
    if info is None:
        raise ValueError("unknown GPU architecture %r (known: %s)"
                         % (architecture, ", ".join(ARCHITECTURE_ORDER)))
    number = branch_number(branch)
    if number < info["min_branch"]:
        return False
    return info["max_branch"] is None or number <= info["max_branch"]


def describe_support(architecture):
    """A one-line human summary, e.g. ``Pascal GPUs need a driver branch from 367 up to 580``."""
    info = ARCHITECTURES.get(architecture)
    if info is None:
        return "unknown GPU architecture %r" % (architecture,)
    if info["max_branch"] is None:
        text = "%s GPUs need driver branch %d or newer" % (architecture, info["min_branch"])
    else:
        text = "%s GPUs need a driver branch from %d up to %d" % (
            architecture, info["min_branch"], info["max_branch"])
    if info["open_kernel"] == "required":
        text += " with the open kernel modules"
    elif info["open_kernel"] == "no":
        text += " with the proprietary kernel modules"
    return text
