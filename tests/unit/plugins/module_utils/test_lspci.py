# -*- coding: utf-8 -*-
"""lspci parsers on the real output of lspci 3.9.0 for the config-space dumps in tests/fixtures/lspci."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixture_text import lspci_output  # noqa: E402

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _lspci as lspci  # noqa: E402

EXPECTED = {
    "gt750m": ("0000:01:00.0", "0x0fe9", "0x030000", "GK107M [GeForce GT 750M Mac Edition]", "0x106b", "0x0130"),
    "tesla-p4": ("0000:3b:00.0", "0x1bb3", "0x030200", "GP104GL [Tesla P4]", "0x10de", "0x11d8"),
    "a100": ("0000:41:00.0", "0x20b0", "0x030200", "GA100 [A100 SXM4 40GB]", "0x10de", "0x134f"),
    "rtx4090": ("0000:01:00.0", "0x2684", "0x030000", "AD102 [GeForce RTX 4090]", "0x1043", "0x889d"),
}


@pytest.mark.parametrize("host", sorted(EXPECTED))
def test_gpu_hosts(host):
    text, rc = lspci_output(host, "vmm")
    assert rc == 0
    devices = lspci.parse_vmm(text)
    gpus = lspci.nvidia_display_devices(devices)
    assert len(gpus) == 1
    gpu = gpus[0]
    bus, device, klass, name, svendor, sdevice = EXPECTED[host]
    assert gpu["pci_bus_id"] == bus
    assert (gpu["vendor_id"], gpu["device_id"], gpu["class_id"]) == ("0x10de", device, klass)
    assert gpu["vendor_name"] == "NVIDIA Corporation"
    assert gpu["device_name"] == name
    assert (gpu["subsystem_vendor_id"], gpu["subsystem_device_id"]) == (svendor, sdevice)
    assert gpu["revision"] == "0xa1"
    assert gpu["kernel_driver"] is None          # a dump has no sysfs driver link


def test_rtx4090_audio_function_is_not_a_gpu():
    devices = lspci.parse_vmm(lspci_output("rtx4090", "vmm")[0])
    audio = [d for d in devices if d["pci_bus_id"] == "0000:01:00.1"][0]
    assert audio["class_id"] == "0x040300" and audio["vendor_id"] == "0x10de"
    assert audio not in lspci.nvidia_display_devices(devices)


def test_arm64_host_without_gpu():
    devices = lspci.parse_vmm(lspci_output("rpi5-nogpu", "vmm")[0])
    assert [d["pci_bus_id"] for d in devices] == ["0000:00:00.0", "0001:00:00.0", "0001:01:00.0"]
    assert devices[0]["vendor_id"] == "0x14e4" and devices[0]["class_id"] == "0x060400"
    assert devices[0]["subsystem_vendor_id"] is None      # bridge: lspci prints "" ""
    assert devices[2]["revision"] is None                   # rev 00 is not printed
    assert lspci.nvidia_display_devices(devices) == []


def test_vmm_driver_and_modules():
    text = ("Slot:\t0000:3b:00.0\nClass:\t3D controller [0302]\nVendor:\tNVIDIA Corporation [10de]\n"
            "Device:\tGP104GL [Tesla P4] [1bb3]\nSVendor:\tNVIDIA Corporation [10de]\nSDevice:\tDevice [11d8]\n"
            "Rev:\ta1\nDriver:\tvfio-pci\nModule:\tnvidiafb\nModule:\tnouveau\n\n")
    gpu = lspci.parse_vmm(text)[0]
    assert gpu["kernel_driver"] == "vfio-pci"
    assert gpu["kernel_modules"] == ["nvidiafb", "nouveau"]
    assert gpu["class_id"] == "0x030200"                  # no ProgIf line: 00


def test_garbage_and_missing_lspci():
    assert lspci.parse_vmm("") == []
    assert lspci.parse_vmm(None) == []
    assert lspci.parse_vmm("lspci: Unable to load libkmod resources: error -2\n") == []


def test_split_name_id():
    assert lspci.split_name_id("NVIDIA Corporation [10de]") == ("NVIDIA Corporation", "10de")
    assert lspci.split_name_id("GH100 [H100 SXM5 80GB] [2330]") == ("GH100 [H100 SXM5 80GB]", "2330")
    assert lspci.split_name_id("Advanced Micro Devices, Inc. [AMD] [1022]") == \
        ("Advanced Micro Devices, Inc. [AMD]", "1022")
    assert lspci.split_name_id("") == (None, None)


def test_nvswitch_devices_from_vmm():
    text = ("Slot:\t0000:05:00.0\nClass:\tBridge [0680]\nVendor:\tNVIDIA Corporation [10de]\n"
            "Device:\tGA100 [A100 NVSwitch] [1af1]\nRev:\ta1\nDriver:\tnvidia-nvswitch\n\n"
            "Slot:\t0000:06:00.0\nClass:\tPCI bridge [0604]\nVendor:\tNVIDIA Corporation [10de]\nDevice:\tDevice [22b2]\n\n")
    switches = lspci.nvswitch_devices(lspci.parse_vmm(text))
    assert [(d["pci_bus_id"], d["device_id"], d["class_id"], d["kernel_driver"]) for d in switches] == [
        ("0000:05:00.0", "0x1af1", "0x068000", "nvidia-nvswitch")]
