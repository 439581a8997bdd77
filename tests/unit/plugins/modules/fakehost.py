# -*- coding: utf-8 -*-
"""Fake hosts for nvidia_gpu_facts: a root filesystem (sysfs, proc, etc) and fake commands.

Built from the real captures in tests/fixtures/gpu-hosts, so the module sees
what it would see on those machines.  Used by the module tests and by
tests/perf/bench_facts.py.  Python 3.6+.
"""
import os
import stat

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
    """
    text, _rc = load(H100, "nvsmi-query-basic.txt")
    header, row = text.splitlines()[:2]
    names = [name.split(" [")[0].strip() for name in header.split(",")]
    values = dict(zip(names, [value.strip() for value in row.split(",")]))
    values["memory.total"] = values["memory.total"].split()[0]
    return ", ".join(values[field] for field in fields) + "\n"
