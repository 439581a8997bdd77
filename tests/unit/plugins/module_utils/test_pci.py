# -*- coding: utf-8 -*-
import os
import sys

from hypothesis import given, strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixture_text import h100  # noqa: E402

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _pci as pci  # noqa: E402


def test_normalize_bus_id_forms():
    assert pci.normalize_bus_id("00000000:00:06.0") == "0000:00:06.0"     # nvidia-smi
    assert pci.normalize_bus_id("0000:00:06.0") == "0000:00:06.0"         # sysfs, lspci -D
    assert pci.normalize_bus_id("00:06.0") == "0000:00:06.0"              # lspci
    assert pci.normalize_bus_id("0000:3B:00.0") == "0000:3b:00.0"
    assert pci.normalize_bus_id("00000001:C1:00.1") == "0001:c1:00.1"
    for bad in ("", "GPU0", "00:06", "0000:00:06.8", "100000000:00:06.0", None, 6):
        assert pci.normalize_bus_id(bad) is None


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0x1F), st.integers(0, 7))
def test_normalize_bus_id_round_trip(domain, bus, device, function):
    smi = "%08X:%02X:%02X.%d" % (domain, bus, device, function)
    normal = pci.normalize_bus_id(smi)
    assert normal == "%04x:%02x:%02x.%d" % (domain, bus, device, function)
    assert pci.normalize_bus_id(normal) == normal


def test_is_nvidia_display():
    assert pci.is_nvidia_display("0x10de", "0x030200")      # 3D controller
    assert pci.is_nvidia_display("0x10DE", "0x030000")      # VGA
    assert not pci.is_nvidia_display("0x10de", "0x040300")  # HD audio function of a GeForce
    assert not pci.is_nvidia_display("0x10de", "0x068000")  # NVSwitch bridge
    assert not pci.is_nvidia_display("0x1af4", "0x030000")
    assert not pci.is_nvidia_display(None, None)


def test_link_generation():
    assert pci.link_generation("32.0 GT/s PCIe") == 5
    assert pci.link_generation("2.5 GT/s PCIe") == 1
    assert pci.link_generation("8 GT/s") == 3
    assert pci.link_generation("Unknown") is None
    assert pci.link_generation(None) is None


def test_device_from_real_h100_sysfs():
    text, _rc = h100("sysfs-nvidia.txt")
    attributes = {}
    driver = None
    for line in text.splitlines():
        key, _sep, value = line.partition("=")
        if key == "driver":
            driver = value
        elif key in pci.SYSFS_ATTRIBUTES and not value.startswith("cat:"):
            attributes[key] = value
    device = pci.device_from_sysfs("0000:00:06.0", attributes, driver)
    assert device == {
        "pci_bus_id": "0000:00:06.0", "vendor_id": "0x10de", "device_id": "0x2330",
        "subsystem_vendor_id": "0x10de", "subsystem_device_id": "0x16c1", "class_id": "0x030200",
        "revision": "0xa1", "kernel_driver": "nvidia", "numa_node": None,
        "pcie_link": {"current_speed": "32.0 GT/s", "current_width": 16, "current_generation": 5,
                      "max_speed": "32.0 GT/s", "max_width": 16, "max_generation": 5},
    }


def test_device_without_link_files_or_driver():
    device = pci.device_from_sysfs("0000:01:00.0", {"vendor": "0x10de", "device": "0x0fe9",
                                                    "class": "0x030000", "numa_node": "1",
                                                    "current_link_width": "0"})
    assert device["kernel_driver"] is None
    assert device["numa_node"] == 1
    assert device["pcie_link"]["current_width"] is None
    assert device["pcie_link"]["max_speed"] is None


def test_nvswitch_functions_and_generations():
    assert pci.is_nvswitch("0x10de", "0x068000") and pci.is_nvswitch("10DE", "0x068001")
    assert not pci.is_nvswitch("0x10de", "0x030200") and not pci.is_nvswitch("0x8086", "0x068000")
    assert not pci.is_nvswitch("0x10de", "0x060400")          # a PCIe bridge (e.g. GH200's root port)
    assert pci.nvswitch_generation("0x1af1") == {"generation": 2, "chip": "LR10", "nvlink_version": 3,
                                                 "gpu_architecture": "Ampere"}
    assert pci.nvswitch_generation("0x22a3") == {"generation": 3, "chip": "LS10", "nvlink_version": 4,
                                                 "gpu_architecture": "Hopper"}
    assert pci.nvswitch_generation("0x1ae8")["generation"] == 2
    assert pci.nvswitch_generation("0x22af")["generation"] == 3
    for unknown in ("0x1ac1", "0x22b0", None, "zz"):           # first generation, newer, garbage
        assert pci.nvswitch_generation(unknown)["generation"] is None


def test_mellanox_network_functions():
    assert pci.is_mellanox_network("0x15b3", "0x020700")        # InfiniBand
    assert pci.is_mellanox_network("0x15b3", "0x020000")        # Ethernet (RoCE)
    assert not pci.is_mellanox_network("0x15b3", "0x080500")    # BlueField management, not a NIC port
    assert not pci.is_mellanox_network("0x8086", "0x020000")


def vpd(*fields, **kw):
    name = kw.get("name", b"Nvidia ConnectX-7 mezz internal")
    body = b"".join(k + bytes([len(v)]) + v for k, v in fields) + b"RV\x01\x00"
    return bytes([0x82, len(name), 0]) + name + bytes([0x90, len(body), 0]) + body + b"\x78"


def test_vpd_of_a_connectx7_management_function():
    """Fields as lspci -vv shows them for a DGX B200's ConnectX-7 bridge function (PCI VPD format)."""
    raw = vpd((b"PN", b"692-9X760-00SE-S00"), (b"SN", b"MT2503603H5V"),
              (b"VA", b"MLX:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0:SMDL=SW_MNG:MODL=C7010Z"), (b"V0", b"PCIeGen4 x2"))
    parsed = pci.parse_vpd(raw + b"\xff" * 16)
    assert parsed["name"] == "Nvidia ConnectX-7 mezz internal"
    assert parsed["fields"] == {"PN": "692-9X760-00SE-S00", "SN": "MT2503603H5V", "V0": "PCIeGen4 x2",
                                "VA": "MLX:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0:SMDL=SW_MNG:MODL=C7010Z"}
    assert pci.vpd_is_nvswitch_management(raw) is True
    assert pci.vpd_is_nvswitch_management(vpd((b"VA", b"MLX:MN=MLNX:CSKU=V2:MODL=CX713106A"))) is False
    assert pci.vpd_is_nvswitch_management(vpd((b"VA", b"MLX:SMDL=SW_MNGX"))) is False
    for nothing in (None, b"", b"\x78", b"\x82\xff\xff", b"\x90\x05\x00VA"):
        assert pci.vpd_is_nvswitch_management(nothing) is False


@given(st.binary(max_size=300))
def test_vpd_parser_never_raises(raw):
    parsed = pci.parse_vpd(raw)
    assert set(parsed) == {"name", "fields"}
    assert isinstance(pci.vpd_is_nvswitch_management(raw), bool)
