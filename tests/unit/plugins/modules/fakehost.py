# -*- coding: utf-8 -*-
"""Fake hosts for nvidia_gpu_facts: a root filesystem (sysfs, proc, etc) and fake commands.

Built from the real captures in tests/fixtures/gpu-hosts, so the module sees
what it would see on those machines.  Used by the module tests and by
tests/perf/bench_facts.py.  Python 3.6+.
"""
import os
import stat
import sys

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures")
GPU_HOSTS = os.path.join(FIXTURES, "gpu-hosts")
LSPCI = os.path.join(FIXTURES, "lspci")
H100 = "h100-1gpu-driver580"


def load(host, name):
    """A framed capture (``$ command`` first line, ``[rc=N]`` last) -> (raw output, rc)."""
    with open(os.path.join(GPU_HOSTS, host, name)) as handle:
        lines = handle.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert lines[0].startswith("$ ") and lines[-1].startswith("[rc="), name
    rc = int(lines[-1][4:-1])
    body = lines[1:-1]
    return "".join(line + "\n" for line in body), rc


def load_lspci(host, form):
    """Real lspci output for a dumped host; ``form`` is ``mm`` or ``vmm``."""
    with open(os.path.join(LSPCI, "output", "%s.%s.txt" % (host, form))) as handle:
        lines = handle.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join(line + "\n" for line in lines[1:-1]), int(lines[-1][4:-1])


def write(root, relative, content, mode="w"):
    path = os.path.join(str(root), relative)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, mode) as handle:
        handle.write(content)
    return path


def add_pci_device(root, bus_id, attributes, driver=None):
    """One /sys/bus/pci/devices/<bus_id> directory with attribute files and a driver link."""
    base = os.path.join("sys", "bus", "pci", "devices", bus_id)
    for name, value in attributes.items():
        write(root, os.path.join(base, name), value + "\n")
    if driver:
        os.symlink("../../../bus/pci/drivers/" + driver, os.path.join(str(root), base, "driver"))


def h100_sysfs_attributes():
    """Attributes of the H100 from the real sysfs capture (files that did not exist are left out)."""
    text, _rc = load(H100, "sysfs-nvidia.txt")
    attributes = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or key.upper() == key or key in ("driver", "iommu_group"):
            continue
        if value.startswith("cat: "):
            continue
        attributes[key] = value
    return attributes


def h100_root(root, loaded=True):
    """The captured H100 VM: 6 virtio/Intel functions and the H100 at 0000:00:06.0."""
    for number in range(6):
        add_pci_device(root, "0000:00:%02x.0" % number,
                       {"vendor": "0x8086" if number == 0 else "0x1af4",
                        "device": "0x0d57" if number == 0 else "0x1041", "class": "0x060000"})
    add_pci_device(root, "0000:00:06.0", h100_sysfs_attributes(), driver="nvidia" if loaded else None)
    if loaded:
        proc, _rc = load(H100, "proc-driver.txt")
        lines = proc.splitlines()
        write(root, "proc/driver/nvidia/version", "\n".join(lines[:2]) + "\n")
        info = lines[3:lines.index("total 0")]
        write(root, "proc/driver/nvidia/gpus/0000:00:06.0/information", "\n".join(info) + "\n")
        modules, _rc = load(H100, "lsmod.txt")
        write(root, "proc/modules", "".join(line + "\n" for line in modules.splitlines()
                                            if not line.startswith("sh:")))
        write(root, "sys/module/nvidia/version", "580.159.04\n")
    else:
        write(root, "proc/modules", "")
    return root


# What `lspci -vmm -nn -D -k` prints for the captured H100 VM's GPU.  lspci was
# not installed there; this is composed from its sysfs capture (ids, class,
# revision, driver) with the device name of pci.ids 2023.04.10.
H100_LSPCI_VMM = ("Slot:\t0000:00:06.0\nClass:\t3D controller [0302]\nVendor:\tNVIDIA Corporation [10de]\n"
                  "Device:\tGH100 [H100 SXM5 80GB] [2330]\nSVendor:\tNVIDIA Corporation [10de]\n"
                  "SDevice:\tDevice [16c1]\nRev:\ta1\nProgIf:\t00\nDriver:\tnvidia\nModule:\tnvidia\n\n")


def fake_command(directory, name, outputs, default=("", 0)):
    """Write an executable ``name`` that logs its arguments and prints a canned answer.

    ``outputs``: list of (substring of the arguments, stdout, rc); the first
    matching entry answers, else ``default``.  Every call appends its
    arguments as one line to ``<name>.calls`` beside it.
    """
    directory = str(directory)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    path = os.path.join(directory, name)
    # One line per call, even when an argument holds a newline (rpm --qf).
    lines = ["#!/bin/sh", 'echo "$*" | /usr/bin/tr "\\n" " " >> "%s.calls"' % path,
             'echo >> "%s.calls"' % path, 'case "$*" in']
    for number, (needle, stdout, rc) in enumerate(outputs):
        answer = write(directory, "%s.out%d" % (name, number), stdout)
        lines.append('  *"%s"*) /bin/cat "%s"; exit %d ;;' % (needle, answer, rc))
    answer = write(directory, "%s.out" % name, default[0])
    lines.append('  *) /bin/cat "%s"; exit %d ;;' % (answer, default[1]))
    lines.append("esac")
    write(directory, name, "\n".join(lines) + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def calls(path):
    """Argument lines of every call to a fake command."""
    try:
        with open(path + ".calls") as handle:
            return [line.rstrip() for line in handle.read().splitlines()]
    except (IOError, OSError):
        return []


def h100_nvidia_smi_answer(fields):
    """What the H100's nvidia-smi prints for ``--query-gpu=<fields> --format=csv,noheader,nounits``.

    Values come from the real capture nvsmi-query-basic.txt (header + row);
    units are dropped as ``nounits`` does.

    The fields that capture lacks (MIG pending mode, fabric, C2C and addressing
    mode) come from the same host's ``nvidia-smi -q`` (nvsmi-q.txt), written the
    way the same driver (580.159.04) writes them in a CSV query on the H200
    host (``N/A`` without brackets for the fabric fields; field-values.tsv).
    """
    text, _rc = load(H100, "nvsmi-query-basic.txt")
    header, row = text.splitlines()[:2]
    names = [name.split(" [")[0].strip() for name in header.split(",")]
    values = dict(zip(names, [value.strip() for value in row.split(",")]))
    values["memory.total"] = values["memory.total"].split()[0]
    q, _rc = load(H100, "nvsmi-q.txt")
    values["mig.mode.pending"] = q_value(q, "MIG Mode", "Pending")
    values["fabric.state"] = q_value(q, "Fabric", "State")
    values["fabric.status"] = q_value(q, "Fabric", "Status")
    values["fabric.cliqueId"] = q_value(q, "Fabric", "CliqueId")
    values["fabric.clusterUuid"] = q_value(q, "Fabric", "ClusterUUID")
    values["c2c.mode"] = q_value(q, None, "GPU C2C Mode")
    values["addressing_mode"] = q_value(q, None, "Addressing Mode")
    return ", ".join(values[field] for field in fields) + "\n"


def q_value(text, section, key):
    """A value of ``nvidia-smi -q`` output: ``key`` at GPU level, or under ``section``."""
    current = None
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        indent = len(line) - len(line.lstrip())
        if indent == 4:
            current = name.strip() if not value.strip() else None
            if section is None and sep and name.strip() == key:
                return value.strip()
        elif indent == 8 and section is not None and current == section and sep and name.strip() == key:
            return value.strip()
    raise KeyError("%s/%s not in nvidia-smi -q output" % (section, key))


# ---- the H200 host (real captures) -----------------------------------------
H200 = "h200-1gpu-driver580"


def build_pci(root, lines):
    """PCI functions from ``bus vendor device class [driver] [physfn=bus]`` lines (sys-pci format)."""
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        bus_id, vendor, device, klass = parts[:4]
        driver = parts[4] if len(parts) > 4 and parts[4] != "-" and "=" not in parts[4] else None
        add_pci_device(root, bus_id, {"vendor": vendor, "device": device, "class": klass}, driver=driver)
        for extra in parts[4:]:
            if extra.startswith("physfn="):
                os.symlink("../" + extra[7:], os.path.join(str(root), "sys", "bus", "pci", "devices", bus_id, "physfn"))


def h200_root(root):
    """The captured H200 VM: sysfs PCI ids of every function, /proc/driver/nvidia, /proc/modules."""
    text, _rc = load(H200, "sys-pci.txt")
    build_pci(root, text.splitlines())
    os.symlink("../../../bus/pci/drivers/nvidia",
               os.path.join(str(root), "sys", "bus", "pci", "devices", "0000:00:06.0", "driver"))
    version, _rc = load(H200, "proc-nvidia-version.txt")
    write(root, "proc/driver/nvidia/version", version)
    info, _rc = load(H200, "proc-nvidia-gpus.txt")
    lines = info.splitlines()
    write(root, "proc/driver/nvidia/gpus/0000:00:06.0/information", "\n".join(lines[1:]) + "\n")
    modules, _rc = load(H200, "proc-modules.txt")
    write(root, "proc/modules", modules)
    write(root, "sys/module/nvidia/version", "580.159.04\n")
    # cpuinfo-head.txt: the /proc/cpuinfo lines grep kept, then uname -m
    cpuinfo, _rc = load(H200, "cpuinfo-head.txt")
    write(root, "proc/cpuinfo", "".join(line + "\n" for line in cpuinfo.splitlines()[:-1]))
    # proc-nvswitch.txt: the directory exists with no device; sys-infiniband.txt: empty class
    os.makedirs(os.path.join(str(root), "proc", "driver", "nvidia-nvswitch", "devices"))
    write(root, "proc/driver/nvidia-nvswitch/permissions", "DeviceFileMode: 438\n")
    os.makedirs(os.path.join(str(root), "sys", "class", "infiniband"))
    return root


def h200_nvidia_smi_answer(fields):
    """What the H200's nvidia-smi prints for ``--query-gpu=<fields> --format=csv,noheader,nounits``.

    Every value is the real answer of field-values.tsv (one query per field;
    ``nounits`` drops the unit) or of smi-query-datacenter.txt for the
    camel-case fields that file lacks.
    """
    values = {}
    with open(os.path.join(GPU_HOSTS, H200, "field-values.tsv")) as handle:
        for line in handle.read().splitlines():
            name, _tab, value = line.partition("\t")
            values[name] = value.rstrip("|")
    datacenter, _rc = load(H200, "smi-query-datacenter.txt")
    asked = ["index", "uuid", "pci.bus_id", "name", "mig.mode.current", "mig.mode.pending", "fabric.state",
             "fabric.status", "fabric.clusterUuid", "fabric.cliqueId", "addressing_mode"]
    for name, value in zip(asked, datacenter.splitlines()[0].split(", ")):
        values.setdefault(name, value)
    answer = []
    for field in fields:
        value = values[field]
        if value.endswith(" MiB"):
            value = value[:-4]
        answer.append(value)
    return ", ".join(answer) + "\n"


# ---- composed hosts (documented formats; see each folder's README) ---------
def composed(host, name):
    with open(os.path.join(GPU_HOSTS, host, name)) as handle:
        return handle.read()


def csv_answer(host, name, fields):
    """Rows of a composed ``<field> [unit], ...`` CSV for the requested ``fields`` (nounits, noheader)."""
    lines = composed(host, name).splitlines()
    names = [cell.split(" [")[0].strip() for cell in lines[0].split(", ")]
    rows = []
    for line in lines[1:]:
        values = dict(zip(names, line.split(", ")))
        rows.append(", ".join(values[field] for field in fields))
    return "".join(row + "\n" for row in rows)


def compose_vpd(product, fields):
    """PCI VPD bytes (PCI specification format) with an identifier string and read-only ``fields``."""
    name = product.encode("latin-1")
    body = b""
    for keyword, value in fields:
        data = value.encode("latin-1")
        body += keyword.encode("latin-1") + bytes([len(data)]) + data
    body += b"RV" + bytes([1]) + b"\x00"      # checksum field (value not checked)
    return (bytes([0x82, len(name) & 0xFF, len(name) >> 8]) + name
            + bytes([0x90, len(body) & 0xFF, len(body) >> 8]) + body + b"\x78")


def composed_root(root, host):
    """A composed datacenter host: sysfs PCI functions, NVSwitch /proc entries, RDMA devices."""
    build_pci(root, composed(host, "sys-pci.txt").splitlines())
    folder = os.path.join(GPU_HOSTS, host)
    if os.path.exists(os.path.join(folder, "proc-nvswitch-information.txt")):
        bus_id, lines = None, []
        for line in composed(host, "proc-nvswitch-information.txt").splitlines() + ["== end"]:
            if line.startswith("== "):
                if bus_id:
                    write(root, "proc/driver/nvidia-nvswitch/devices/%s/information" % bus_id,
                          "\n".join(lines) + "\n")
                bus_id, lines = line[3:], []
            else:
                lines.append(line)
    if os.path.exists(os.path.join(folder, "sys-class-infiniband.txt")):
        for line in composed(host, "sys-class-infiniband.txt").splitlines():
            parts = line.split()
            name, bus_id = parts[0], parts[1]
            directory = os.path.join(str(root), "sys", "class", "infiniband", name)
            os.makedirs(directory)
            os.symlink("../../../bus/pci/devices/" + bus_id, os.path.join(directory, "device"))
            if len(parts) > 2:
                vpd = compose_vpd("Nvidia ConnectX-7", [("PN", "692-9X760-00SE-S00"), ("VA", parts[2])])
                write(root, "sys/bus/pci/devices/%s/vpd" % bus_id, vpd, mode="wb")
    return root


# A process that stands in for dockerd in the reload tests: it appends "HUP"
# to the log file named by its first argument for every SIGHUP it receives.
HUP_COUNTER = """#!%s
import signal, sys, time
log = sys.argv[1]
def hup(signum, frame):
    with open(log, "a") as handle:
        handle.write("HUP\\n")
signal.signal(signal.SIGHUP, hup)
open(log, "a").close()
while True:
    time.sleep(0.05)
""" % sys.executable
