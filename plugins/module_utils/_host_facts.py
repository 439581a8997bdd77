# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Host, driver and container-engine facts from file contents: pure functions.

Inputs are the texts of ``/proc/driver/nvidia/version``, ``/proc/modules``,
``/etc/nv_tegra_release``, ``/proc/device-tree/{model,compatible}``, the
``SecureBoot`` EFI variable and ``/var/lib/dpkg/status``; the module reads
them once and passes them in.  Nothing here runs a command or opens a file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Driver branch -> CUDA driver API version (what `nvidia-smi` prints as
# "CUDA Version" and cuDriverGetVersion returns).  From NVIDIA's CUDA toolkit
# release notes, table "CUDA Toolkit and Corresponding Driver Versions".
CUDA_BY_BRANCH = (
    (580, "13.0"), (575, "12.9"), (570, "12.8"), (565, "12.7"), (560, "12.6"),
    (555, "12.5"), (550, "12.4"), (545, "12.3"), (535, "12.2"), (530, "12.1"),
    (525, "12.0"), (520, "11.8"), (515, "11.7"), (510, "11.6"), (495, "11.5"),
    (470, "11.4"), (465, "11.3"), (460, "11.2"), (455, "11.1"), (450, "11.0"),
    (440, "10.2"), (418, "10.1"), (410, "10.0"), (396, "9.2"), (390, "9.1"),
    (384, "9.0"), (375, "8.0"),
)

_PROC_VERSION = re.compile(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")

# Jetson SoC (device-tree "compatible") -> integrated GPU architecture.
TEGRA_SOCS = {
    "nvidia,tegra210": "Maxwell",   # Jetson Nano, TX1
    "nvidia,tegra186": "Pascal",    # Jetson TX2
    "nvidia,tegra194": "Volta",     # Jetson Xavier NX / AGX Xavier
    "nvidia,tegra234": "Ampere",    # Jetson Orin
    "nvidia,tegra264": "Blackwell",  # Jetson Thor
}

# Container engines and NVIDIA container components: the binaries that show
# them on PATH and the packages that install them (deb and rpm names).
CONTAINER_COMPONENTS = (
    ("docker", ("docker", "dockerd"), ("docker-ce", "docker.io", "moby-engine", "docker-engine")),
    ("containerd", ("containerd",), ("containerd.io", "containerd")),
    ("crio", ("crio",), ("cri-o",)),
    ("podman", ("podman",), ("podman",)),
    ("nvidia_ctk", ("nvidia-ctk",), ("nvidia-container-toolkit-base", "nvidia-container-toolkit")),
    ("nvidia_container_runtime", ("nvidia-container-runtime",),
     ("nvidia-container-toolkit", "nvidia-container-runtime")),
    ("nvidia_docker2", ("nvidia-docker",), ("nvidia-docker2",)),
)

# Packages that install an NVIDIA dGPU driver (deb names of NVIDIA's CUDA
# repository, Debian and Ubuntu).  A regular expression over package names.
DRIVER_PACKAGE_PATTERN = (
    r"cuda-drivers(?:-\d+)?|nvidia-driver(?:-\d+)?(?:-open|-server|-server-open)?|"
    r"nvidia-kernel-dkms|nvidia-open-kernel-dkms|nvidia-open(?:-\d+)?|"
    r"nvidia-dkms-\d+(?:-open|-server|-server-open)?|nvidia-kernel-open-dkms|nvidia-kernel-source"
)


def parse_driver_version(text):
    """Parse ``/proc/driver/nvidia/version``: ``{version, kernel_module}``.

    ``kernel_module`` is ``open`` for "NVIDIA UNIX Open Kernel Module for
    x86_64" and ``proprietary`` for "NVIDIA UNIX x86_64 Kernel Module".
    """
    result = {"version": None, "kernel_module": None}
    first = next((line for line in (text or "").splitlines() if line.strip()), "")
    if "Kernel Module" not in first:
        return result
    result["kernel_module"] = "open" if "Open Kernel Module" in first else "proprietary"
    match = _PROC_VERSION.search(first)
    if match:
        result["version"] = match.group(1)
    return result


def cuda_version_for_driver(version):
    """CUDA driver API version supported by a driver ``580.159.04`` -> ``13.0``; unknown -> ``None``."""
    match = re.match(r"^\s*(\d+)", version or "")
    if not match:
        return None
    branch = int(match.group(1))
    if branch > CUDA_BY_BRANCH[0][0] + 4:
        return None     # newer than the table: do not guess
    for first, cuda in CUDA_BY_BRANCH:
        if branch >= first:
            return cuda
    return None


def parse_gpu_information(text):
    """Parse ``/proc/driver/nvidia/gpus/<bus id>/information`` into a dict (values stripped)."""
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    minor = fields.get("Device Minor")
    return {
        "name": fields.get("Model") or None,
        "uuid": fields.get("GPU UUID") or None,
        "vbios_version": (fields.get("Video BIOS") or "").upper() or None,
        "pci_bus_id": fields.get("Bus Location") or None,
        "minor_number": int(minor) if minor and minor.isdigit() else None,
        "excluded": fields.get("GPU Excluded", "").lower() == "yes",
    }


def parse_proc_modules(text):
    """Names of the loaded kernel modules in ``/proc/modules``."""
    return set(line.split(None, 1)[0] for line in (text or "").splitlines() if line.strip())


def parse_tegra_release(text):
    """Parse ``/etc/nv_tegra_release`` (``# R35 (release), REVISION: 4.1, ...``).

    Returns ``{release, revision, version, board}`` (``version`` is L4T's
    ``35.4.1``), or ``None`` when the text is not an L4T release line.
    """
    match = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([0-9.]+)", text or "")
    if not match:
        return None
    board = re.search(r"BOARD:\s*([^,\s]+)", text)
    release, revision = match.group(1), match.group(2).rstrip(".")
    return {"release": release, "revision": revision, "version": "%s.%s" % (release, revision),
            "board": board.group(1) if board else None}


def device_tree_strings(raw):
    """Device-tree string property (NUL-separated, NUL-terminated) -> list of strings."""
    if raw is None:
        return []
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return [part.strip() for part in raw.split("\0") if part.strip()]


def raspberry_pi_model(model, compatible):
    """``Raspberry Pi 5 Model B Rev 1.0`` or the ``raspberrypi,5-model-b`` entry -> model string, else ``None``."""
    if model and model.startswith("Raspberry Pi"):
        return model
    for entry in compatible or []:
        if entry.startswith("raspberrypi,"):
            return model or entry
    return None


def tegra_soc(compatible):
    """The ``nvidia,tegraNNN`` entry of a device-tree ``compatible`` list, or ``None``."""
    for entry in compatible or []:
        if re.match(r"^nvidia,tegra\d+$", entry):
            return entry
    return None


# Machine names (``uname -m``, dpkg and rpm spellings) -> architecture
# directory of NVIDIA's CUDA repository.
MACHINE_TO_CUDA_REPO_ARCH = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "sbsa",
    "arm64": "sbsa",
    "sbsa": "sbsa",
}


def cuda_repo_arch(machine, jetson=False):
    """Architecture directory of NVIDIA's CUDA repository: ``x86_64``, ``sbsa``; ``None`` for Jetson.

    Jetson (L4T) uses the BSP's own repository; other arm64 hosts (servers,
    Grace, Raspberry Pi with an external GPU) use ``sbsa``.  ``None`` too for a
    machine the repository has no tree for.  The one implementation: the
    module's ``host.cuda_repo_arch`` fact and the ``cuda_repo_arch`` filter.
    """
    if jetson:
        return None
    return MACHINE_TO_CUDA_REPO_ARCH.get(str(machine or "").strip().lower())


def secure_boot_from_efivar(raw):
    """``SecureBoot-8be4df61-...`` efivarfs content (4 attribute bytes + 1 value byte) -> bool or ``None``."""
    if raw is None or len(raw) < 5:
        return None
    value = raw[4] if isinstance(raw[4], int) else ord(raw[4])
    return value == 1


def upstream_version(package_version):
    """``5:24.0.7-1~debian.12~bookworm`` -> ``24.0.7``; ``20.10.24+dfsg1-1+deb12u1`` -> ``20.10.24``."""
    if not package_version:
        return None
    text = package_version.split(":", 1)[-1]
    if "-" in text:
        text = text.rsplit("-", 1)[0]
    return re.split(r"[+~]", text, 1)[0] or None


def _dpkg_stanzas(text):
    """Yield (package name, stanza text) from a dpkg status file.

    Walks the ``Package:`` lines with str.find: a regex with ``re.M``
    anchors is five times slower on a 650 kB status file.
    """
    start = 0 if text.startswith("Package: ") else text.find("\nPackage: ")
    while start >= 0:
        if text[start] == "\n":
            start += 1
        line_end = text.find("\n", start)
        if line_end < 0:
            line_end = len(text)
        end = text.find("\n\n", line_end)
        yield text[start + 9:line_end].strip(), text[line_end:] if end < 0 else text[line_end:end]
        start = -1 if end < 0 else text.find("\nPackage: ", end)


def parse_dpkg_status(text, pattern):
    """Installed packages whose names match ``pattern`` (a regex, whole name), from dpkg's status file.

    Returns ``{name: version}``.  Only the stanzas of matching packages are
    read further (a 650 kB status file costs about 2 ms).
    """
    found = {}
    if not text:
        return found
    wanted = re.compile(r"(?:%s)\Z" % pattern)
    for name, stanza in _dpkg_stanzas(text):
        if not wanted.match(name):
            continue
        status = re.search(r"^Status: (.*)$", stanza, re.M)
        version = re.search(r"^Version: (.*)$", stanza, re.M)
        if status and status.group(1).strip().endswith(" installed"):
            found[name] = version.group(1).strip() if version else None
    return found


def parse_rpm_query(text):
    """Output of ``rpm -q --qf '%{NAME}\\t%{VERSION}\\n' NAME...`` -> ``{name: version}`` (installed only)."""
    found = {}
    for line in (text or "").splitlines():
        name, sep, version = line.partition("\t")
        if sep and name and " " not in name:
            found[name.strip()] = version.strip() or None
    return found


def container_packages():
    """All package names of :data:`CONTAINER_COMPONENTS`, in a stable order."""
    names = []
    for _key, _binaries, packages in CONTAINER_COMPONENTS:
        for name in packages:
            if name not in names:
                names.append(name)
    return names


def container_facts(binaries, packages, package_source):
    """The ``container`` facts.

    ``binaries`` maps binary names to their path (``None`` if not on PATH);
    ``packages`` maps installed package names to their version;
    ``package_source`` says where ``packages`` came from (``dpkg``, ``rpm`` or ``None``).
    """
    facts = {}
    for key, names, package_names in CONTAINER_COMPONENTS:
        path = next((binaries.get(name) for name in names if binaries.get(name)), None)
        package = next((name for name in package_names if name in packages), None)
        version = packages.get(package) if package else None
        facts[key] = {
            "installed": bool(path or package),
            "version": upstream_version(version) if package_source == "dpkg" else version,
            "package": package,
            "package_version": version,
            "path": path,
        }
    return facts


def parse_nvswitch_information(text):
    """Parse ``/proc/driver/nvidia-nvswitch/devices/<bus id>/information``.

    The nvidia-nvswitch driver prints three lines (kernel-open/nvidia/procfs_nvswitch.c
    of NVIDIA's open-gpu-kernel-modules)::

        BIOS Version: 96.10.6d.00.01
        UUID: SWX-8a2e2c0c-9e1b-0c3e-7a41-3b9d0d5c6e71
        Physical location ID: 0001

    Returns ``{bios_version, uuid, physical_id}`` (``physical_id`` as an int).
    """
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    bios = fields.get("BIOS Version")
    physical = fields.get("Physical location ID")
    try:
        physical_id = int(physical, 16) if physical else None
    except ValueError:
        physical_id = None
    return {
        "bios_version": bios if bios and bios != "N/A" else None,
        "uuid": fields.get("UUID") or None,
        "physical_id": physical_id,
    }


# Arm CPU implementer and part numbers of the /proc/cpuinfo "CPU implementer" and
# "CPU part" lines (Linux arch/arm64/include/asm/cputype.h).  NVIDIA Grace has
# 72 Arm Neoverse V2 cores per CPU.
ARM_PARTS = {
    (0x41, 0xD0C): "Neoverse-N1",
    (0x41, 0xD40): "Neoverse-V1",
    (0x41, 0xD49): "Neoverse-N2",
    (0x41, 0xD4F): "Neoverse-V2",
    (0x41, 0xD84): "Neoverse-V3",
}

# SMCCC SoC id of /sys/devices/soc0/soc_id: "jep106:<bank+manufacturer>:<chip>".
# 036b is NVIDIA's JEP106 code and 0241 the Grace chip (NVIDIA DCGM,
# modules/sysmon/DcgmSystemMonitor.cpp, ReadCpuVendorAndModel).
NVIDIA_JEP106 = "036b"
GRACE_SOC_CHIP = "0241"


def _hex_field(value):
    try:
        return int(value, 16) if value and value.lower().startswith("0x") else int(value or "", 0)
    except ValueError:
        return None


def parse_cpuinfo(text):
    """The first processor of ``/proc/cpuinfo``: ``{vendor_id, model_name, implementer, part}``.

    x86 prints ``vendor_id`` and ``model name``; arm64 prints ``CPU implementer``
    (``0x41`` Arm) and ``CPU part`` (``0xd4f`` Neoverse V2).  Only the first
    block is read (all cores of a server CPU are alike).
    """
    fields = {}
    for line in (text or "").splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return {
        "vendor_id": fields.get("vendor_id") or None,
        "model_name": fields.get("model name") or None,
        "implementer": _hex_field(fields.get("CPU implementer")),
        "part": _hex_field(fields.get("CPU part")),
    }


def parse_soc_id(text):
    """``jep106:036b:0241`` -> ``{manufacturer: "036b", chip: "0241"}``; anything else -> ``None``."""
    match = re.match(r"^\s*jep106:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\s*$", text or "")
    if not match:
        return None
    return {"manufacturer": match.group(1).lower(), "chip": match.group(2).lower()}


def cpu_facts(machine, cpuinfo, soc_id_text):
    """The ``host.cpu`` facts from the kernel machine name, /proc/cpuinfo and the SoC id.

    ``grace`` is true when the SoC id names NVIDIA's Grace chip; ``null`` when
    the SoC id is unreadable (kernels without SMCCC SoC id support) on an
    Arm host whose cores are Neoverse V2, which Grace and other CPUs use
    alike; the GPU facts settle that case (see :func:`gpu_facts.superchip`).
    """
    info = parse_cpuinfo(cpuinfo)
    soc = parse_soc_id(soc_id_text)
    core = None
    if info["implementer"] is not None and info["part"] is not None:
        core = ARM_PARTS.get((info["implementer"], info["part"]))
    vendor = info["vendor_id"]
    model = info["model_name"]
    grace = False
    if soc and soc["manufacturer"] == NVIDIA_JEP106:
        vendor = "NVIDIA"
        grace = soc["chip"] == GRACE_SOC_CHIP
        if grace:
            model = "Grace"
    elif soc is None and core == "Neoverse-V2" and machine in ("aarch64", "arm64"):
        grace = None
    if vendor is None and info["implementer"] == 0x41:
        vendor = "Arm"
    return {
        "vendor": vendor,
        "model": model or core,
        "core": core,
        "implementer": "0x%02x" % info["implementer"] if info["implementer"] is not None else None,
        "part": "0x%03x" % info["part"] if info["part"] is not None else None,
        "soc_id": soc_id_text.strip() if soc else None,
        "grace": grace,
    }
