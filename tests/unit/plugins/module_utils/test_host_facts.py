# -*- coding: utf-8 -*-
import os
import re
import sys

import pytest
from hypothesis import given, strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixture_text import framed, h100  # noqa: E402

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _host_facts as host_facts  # noqa: E402


def test_real_open_kernel_module_version():
    text, _rc = h100("proc-driver.txt")
    assert host_facts.parse_driver_version(text) == {"version": "580.159.04", "kernel_module": "open"}


@pytest.mark.parametrize("line, expected", [
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023",
     {"version": "535.104.05", "kernel_module": "proprietary"}),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  570.133.20  Release Build  (dvs-builder@U16)",
     {"version": "570.133.20", "kernel_module": "open"}),
    ("NVRM version: NVIDIA UNIX aarch64 Kernel Module  550.54.14  Thu Feb 22 01:25:25 UTC 2024",
     {"version": "550.54.14", "kernel_module": "proprietary"}),
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  390.157  Wed Oct 12 09:19:07 UTC 2022",
     {"version": "390.157", "kernel_module": "proprietary"}),
    ("", {"version": None, "kernel_module": None}),
    ("garbage", {"version": None, "kernel_module": None}),
])
def test_driver_version_lines(line, expected):
    assert host_facts.parse_driver_version(line + "\nGCC version:  gcc version 12.2.0\n") == expected


def test_cuda_version_for_driver():
    assert host_facts.cuda_version_for_driver("580.159.04") == "13.0"    # the H100: nvidia-smi says 13.0
    assert host_facts.cuda_version_for_driver("535.261.03") == "12.2"
    assert host_facts.cuda_version_for_driver("470.256.02") == "11.4"
    assert host_facts.cuda_version_for_driver("572.16") == "12.8"
    assert host_facts.cuda_version_for_driver("700.1") is None           # newer than the table
    assert host_facts.cuda_version_for_driver(None) is None


def test_real_gpu_information():
    text, _rc = h100("proc-driver.txt")
    block = text.split("== /proc/driver/nvidia/gpus/0000:00:06.0\n", 1)[1].split("total 0", 1)[0]
    info = host_facts.parse_gpu_information(block)
    assert info == {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-9d066124-a4f5-9f94-ff00-13f9f4666fd8",
                    "vbios_version": "96.00.DA.00.0C", "pci_bus_id": "0000:00:06.0", "minor_number": 0,
                    "excluded": False}


def test_real_proc_modules():
    text, _rc = h100("lsmod.txt")
    modules = host_facts.parse_proc_modules(text)
    assert {"nvidia", "nvidia_uvm"} <= modules and "nouveau" not in modules


def test_tegra_release():
    text = ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, "
            "DATE: Tue Aug  1 19:57:35 UTC 2023\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n")
    assert host_facts.parse_tegra_release(text) == {"release": "35", "revision": "4.1", "version": "35.4.1",
                                                    "board": "t186ref"}
    nano = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19\n"
    assert host_facts.parse_tegra_release(nano)["version"] == "32.7.1"
    assert host_facts.parse_tegra_release(None) is None
    assert host_facts.parse_tegra_release("cat: /etc/nv_tegra_release: No such file") is None


def test_device_tree_and_boards():
    compatible = host_facts.device_tree_strings(b"raspberrypi,5-model-b\x00brcm,bcm2712\x00")
    assert compatible == ["raspberrypi,5-model-b", "brcm,bcm2712"]
    model = host_facts.device_tree_strings(b"Raspberry Pi 5 Model B Rev 1.0\x00")[0]
    assert host_facts.raspberry_pi_model(model, compatible) == "Raspberry Pi 5 Model B Rev 1.0"
    assert host_facts.raspberry_pi_model(None, compatible) == "raspberrypi,5-model-b"
    assert host_facts.raspberry_pi_model("NVIDIA Jetson Nano Developer Kit", ["nvidia,tegra210"]) is None
    assert host_facts.tegra_soc(["nvidia,p3450-0000", "nvidia,jetson-nano", "nvidia,tegra210"]) == "nvidia,tegra210"
    assert host_facts.TEGRA_SOCS["nvidia,tegra210"] == "Maxwell"
    assert host_facts.device_tree_strings(None) == []


def test_cuda_repo_arch():
    assert host_facts.cuda_repo_arch("x86_64", False) == "x86_64"
    assert host_facts.cuda_repo_arch("aarch64", False) == "sbsa"
    assert host_facts.cuda_repo_arch("aarch64", True) is None
    assert host_facts.cuda_repo_arch("ppc64le", False) is None
    # dpkg/rpm spellings and the repository's own name, any case
    assert host_facts.cuda_repo_arch("amd64") == "x86_64"
    assert host_facts.cuda_repo_arch(" ARM64 ") == "sbsa"
    assert host_facts.cuda_repo_arch("sbsa") == "sbsa"
    assert host_facts.cuda_repo_arch(None) is None


def test_secure_boot_efivar():
    assert host_facts.secure_boot_from_efivar(b"\x06\x00\x00\x00\x01") is True
    assert host_facts.secure_boot_from_efivar(b"\x06\x00\x00\x00\x00") is False
    assert host_facts.secure_boot_from_efivar(b"\x06\x00") is None
    assert host_facts.secure_boot_from_efivar(None) is None


DPKG = """Package: docker-ce
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 5:27.3.1-1~debian.12~bookworm
Description: Docker: the open-source application container engine
 Docker is a product for you to build, ship and run any application as a
 lightweight container

Package: docker-ce-cli
Status: install ok installed
Version: 5:27.3.1-1~debian.12~bookworm

Package: nvidia-docker2
Status: deinstall ok config-files
Version: 2.13.0-1

Package: podman
Status: purge ok not-installed

Package: containerd.io
Status: install ok installed
Version: 1.7.22-1"""


def test_dpkg_status_only_installed_and_exact_names():
    names = "|".join(n.replace(".", r"\.") for n in host_facts.container_packages())
    found = host_facts.parse_dpkg_status(DPKG, names)
    assert found == {"docker-ce": "5:27.3.1-1~debian.12~bookworm", "containerd.io": "1.7.22-1"}
    assert host_facts.parse_dpkg_status("", names) == {}


def test_upstream_versions():
    assert host_facts.upstream_version("5:27.3.1-1~debian.12~bookworm") == "27.3.1"
    assert host_facts.upstream_version("20.10.24+dfsg1-1+deb12u1+b6") == "20.10.24"
    assert host_facts.upstream_version("1.6.20~ds1-1+deb12u3") == "1.6.20"
    assert host_facts.upstream_version("1.17.8-1") == "1.17.8"
    assert host_facts.upstream_version("4.3.1+ds1-8+deb12u1") == "4.3.1"
    assert host_facts.upstream_version(None) is None


def test_container_facts():
    facts = host_facts.container_facts({"docker": "/usr/bin/docker", "nvidia-ctk": "/usr/bin/nvidia-ctk"},
                                       {"docker-ce": "5:27.3.1-1~debian.12~bookworm"}, "dpkg")
    assert facts["docker"] == {"installed": True, "version": "27.3.1", "package": "docker-ce",
                               "package_version": "5:27.3.1-1~debian.12~bookworm", "path": "/usr/bin/docker"}
    assert facts["nvidia_ctk"] == {"installed": True, "version": None, "package": None,
                                   "package_version": None, "path": "/usr/bin/nvidia-ctk"}
    assert set(facts) == {"docker", "containerd", "crio", "podman", "nvidia_ctk",
                          "nvidia_container_runtime", "nvidia_docker2"}


def test_rpm_query():
    out = "package docker-ce is not installed\ncontainerd.io\t1.7.27\npodman\t5.2.2\n"
    assert host_facts.parse_rpm_query(out) == {"containerd.io": "1.7.27", "podman": "5.2.2"}


PACKAGE_NAMES = st.sampled_from(["docker.io", "docker-ce", "containerd", "podman", "libc6", "cri-o",
                                 "nvidia-docker2", "nvidia-driver-535", "cuda-drivers-580", "docker-ce-cli"])
STATES = st.sampled_from(["install ok installed", "deinstall ok config-files", "purge ok not-installed"])


@given(st.lists(st.tuples(PACKAGE_NAMES, STATES, st.from_regex(r"\A[0-9][0-9a-z.+~:-]{0,12}\Z")),
                unique_by=lambda t: t[0]),
       st.booleans())
def test_dpkg_status_matches_a_naive_reading(packages, trailing_newline):
    text = "\n\n".join("Package: %s\nStatus: %s\nPriority: optional\nVersion: %s\nDescription: x\n y"
                       % (name, state, version) for name, state, version in packages)
    text += "\n" if trailing_newline else ""
    names = "|".join(n.replace(".", r"\.") for n in host_facts.container_packages())
    pattern = names + "|" + host_facts.DRIVER_PACKAGE_PATTERN
    expected = dict((name, version) for name, state, version in packages
                    if state == "install ok installed" and re.match("(?:%s)\\Z" % pattern, name))
    assert host_facts.parse_dpkg_status(text, pattern) == expected


H200 = ("gpu-hosts", "h200-1gpu-driver580")


def test_nvswitch_information_format():
    text = "BIOS Version: 96.10.55.00.01\nUUID: SWX-8a2e2c0c-9e1b-0c3e-7a41-3b9d0d5c6e71\nPhysical location ID: 000a\n"
    assert host_facts.parse_nvswitch_information(text) == {
        "bios_version": "96.10.55.00.01", "uuid": "SWX-8a2e2c0c-9e1b-0c3e-7a41-3b9d0d5c6e71", "physical_id": 10}
    assert host_facts.parse_nvswitch_information("BIOS Version: N/A\nUUID: \nPhysical location ID: zz\n") == {
        "bios_version": None, "uuid": None, "physical_id": None}
    assert host_facts.parse_nvswitch_information(None)["uuid"] is None


def test_cpuinfo_of_the_real_h200_host():
    """The first lines of the H200 VM's /proc/cpuinfo (x86: vendor and model name, no Arm ids)."""
    text, rc = framed(*H200 + ("cpuinfo-head.txt",))
    assert rc == 0
    info = host_facts.parse_cpuinfo(text)
    assert info == {"vendor_id": "GenuineIntel", "model_name": "Intel(R) Xeon(R) Processor",
                    "implementer": None, "part": None}
    cpu = host_facts.cpu_facts("x86_64", text, None)
    assert cpu == {"vendor": "GenuineIntel", "model": "Intel(R) Xeon(R) Processor", "core": None,
                   "implementer": None, "part": None, "soc_id": None, "grace": False}


GRACE_CPUINFO = ("processor\t: 0\nBogoMIPS\t: 2000.00\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
                 "CPU variant\t: 0x0\nCPU part\t: 0xd4f\nCPU revision\t: 0\n\nprocessor\t: 1\n"
                 "CPU implementer\t: 0x48\nCPU part\t: 0xd01\n")


def test_cpuinfo_arm_first_processor_only():
    info = host_facts.parse_cpuinfo(GRACE_CPUINFO)
    assert (info["implementer"], info["part"]) == (0x41, 0xD4F)


@pytest.mark.parametrize("soc_id, grace, vendor, model", [
    ("jep106:036b:0241\n", True, "NVIDIA", "Grace"),
    ("jep106:036b:0234\n", False, "NVIDIA", "Neoverse-V2"),     # another NVIDIA SoC (Tegra Orin's id)
    ("jep106:0a63:0000\n", False, "Arm", "Neoverse-V2"),        # someone else's Neoverse V2
    (None, None, "Arm", "Neoverse-V2"),                          # no SoC id: the GPUs decide
])
def test_cpu_facts_grace(soc_id, grace, vendor, model):
    cpu = host_facts.cpu_facts("aarch64", GRACE_CPUINFO, soc_id)
    assert (cpu["grace"], cpu["vendor"], cpu["model"], cpu["core"]) == (grace, vendor, model, "Neoverse-V2")
    assert cpu["part"] == "0xd4f" and cpu["implementer"] == "0x41"


def test_soc_id_forms():
    assert host_facts.parse_soc_id("jep106:036B:0241") == {"manufacturer": "036b", "chip": "0241"}
    for bad in (None, "", "jep106:036b", "036b:0241", "jep106:036b:0241:1"):
        assert host_facts.parse_soc_id(bad) is None
