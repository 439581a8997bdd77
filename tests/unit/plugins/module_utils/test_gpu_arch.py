# -*- coding: utf-8 -*-
"""The architecture table against the GPUs this collection meets (ids from the PCI ID database)."""
import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _gpu_arch as gpu_arch


@pytest.mark.parametrize("device_id, arch, cc", [
    ("0x1080", "Fermi", "2.0"),         # GeForce GTX 580 (GF110)
    ("0x1091", "Fermi", "2.0"),         # Tesla M2090 (GF110)
    ("0x1040", "Fermi", "2.1"),         # GeForce GT 520 (GF119)
    ("0x0fe9", "Kepler", "3.0"),        # GeForce GT 750M Mac Edition (GK107M)
    ("0x102d", "Kepler", "3.5"),        # Tesla K80 (GK210)
    ("0x13f2", "Maxwell", "5.2"),       # Tesla M60
    ("0x1bb3", "Pascal", "6.1"),        # Tesla P4
    ("0x1b38", "Pascal", "6.1"),        # Tesla P40
    ("0x15f8", "Pascal", "6.0"),        # Tesla P100 PCIe 16GB
    ("0x1db4", "Volta", "7.0"),         # Tesla V100 PCIe 16GB
    ("0x1eb8", "Turing", "7.5"),        # Tesla T4
    ("0x20b0", "Ampere", "8.0"),        # A100 SXM4 40GB
    ("0x20b5", "Ampere", "8.0"),        # A100 80GB PCIe
    ("0x2236", "Ampere", "8.6"),        # A10
    ("0x2684", "Ada Lovelace", "8.9"),  # GeForce RTX 4090
    ("0x27b8", "Ada Lovelace", "8.9"),  # L4
    ("0x26b9", "Ada Lovelace", "8.9"),  # L40S
    ("0x2330", "Hopper", "9.0"),        # H100 SXM5 80GB (the captured host)
    ("0x2335", "Hopper", "9.0"),        # H200
    ("0x2901", "Blackwell", "10.0"),    # B200
    ("0x2b85", "Blackwell", "12.0"),    # GeForce RTX 5090
])
def test_known_gpus(device_id, arch, cc):
    found = gpu_arch.lookup_device(device_id)
    assert found["architecture"] == arch and found["compute_capability"] == cc
    assert gpu_arch.architecture_from_compute_capability(cc) == arch


def test_lookup_forms_and_unknown():
    assert gpu_arch.lookup_device("2330") == gpu_arch.lookup_device(0x2330) == gpu_arch.lookup_device("0x2330")
    assert gpu_arch.lookup_device("0x0001") is None
    assert gpu_arch.lookup_device("zzzz") is None
    assert gpu_arch.lookup_device(None) is None


def test_ranges_sorted_and_disjoint():
    previous = -1
    for first, last, arch, _chip, cc in gpu_arch.PCI_ID_RANGES:
        assert first <= last and first > previous
        assert arch in gpu_arch.ARCHITECTURES
        assert gpu_arch.architecture_from_compute_capability(cc) == arch
        previous = last


def test_branch_support():
    assert gpu_arch.branch_supports("Pascal", 580) is True
    assert gpu_arch.branch_supports("Pascal", "590.10") is False
    assert gpu_arch.branch_supports("Kepler", 470) is True and gpu_arch.branch_supports("Kepler", 535) is False
    assert gpu_arch.branch_supports("Hopper", "580.159.04") is True
    with pytest.raises(ValueError):
        gpu_arch.branch_supports("Tesla", 580)
    info = gpu_arch.architecture_info("Blackwell")
    assert info["open_kernel"] == "required" and info["recommended_branch"] == 580


def test_superchips_and_nvlink5():
    assert gpu_arch.superchip_of("0x2342") == "GH200" and gpu_arch.superchip_of("0x2348") == "GH200"
    assert gpu_arch.superchip_of("0x2941") == "GB200" and gpu_arch.superchip_of("0x31c2") == "GB300"
    assert gpu_arch.superchip_of("0x2330") is None and gpu_arch.superchip_of(None) is None
    assert gpu_arch.nvlink5_capable("0x2901") and gpu_arch.nvlink5_capable("0x3182")      # B200, B300
    assert not gpu_arch.nvlink5_capable("0x2b85") and not gpu_arch.nvlink5_capable("0x2330")
    assert gpu_arch.lookup_device("0x2e12") == {"architecture": "Blackwell", "chip": "GB20B",
                                                "compute_capability": "12.1"}        # GB10 (DGX Spark)
