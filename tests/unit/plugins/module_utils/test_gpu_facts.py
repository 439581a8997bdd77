# -*- coding: utf-8 -*-
from ansible_collections.gpufleet.nvidia.plugins.module_utils import gpu_facts, pci


def sysfs(bus, device, driver="nvidia", klass="0x030200"):
    return pci.device_from_sysfs(bus, {"vendor": "0x10de", "device": device, "class": klass}, driver and
                                 "../../../bus/pci/drivers/" + driver)


def smi_row(index, bus, cc="8.0", name="NVIDIA A100-SXM4-40GB"):
    return {"index": index, "pci_bus_id": bus, "name": name, "uuid": "GPU-%d" % index, "serial": None,
            "driver_version": "580.95.05", "memory_total_mib": 40960, "compute_capability": cc,
            "persistence_mode": True, "mig_mode": False, "vbios_version": "92.00.45.00.03"}


def test_merge_sorted_by_bus_and_joined_on_it():
    gpus = gpu_facts.merge_gpus(
        [sysfs("0000:c1:00.0", "0x20b0"), sysfs("0000:41:00.0", "0x20b0")], [], {},
        [smi_row(1, "0000:c1:00.0"), smi_row(0, "0000:41:00.0")], 580)
    assert [(g["pci_bus_id"], g["index"], g["uuid"]) for g in gpus] == [
        ("0000:41:00.0", 0, "GPU-0"), ("0000:c1:00.0", 1, "GPU-1")]
    assert gpus[0]["architecture"] == "Ampere" and gpus[0]["chip"] == "GA100"
    assert gpus[0]["driver_branches"]["installed_driver_supported"] is True
    assert gpu_facts.architectures(gpus) == ["Ampere"]


def test_nvidia_smi_compute_capability_wins_over_table():
    # A device id the table maps to Ada, while the driver says 9.0: the driver is right.
    gpus = gpu_facts.merge_gpus([sysfs("0000:01:00.0", "0x2700")], [], {},
                                [smi_row(0, "0000:01:00.0", cc="9.0")], 580)
    assert gpus[0]["compute_capability"] == "9.0" and gpus[0]["architecture"] == "Hopper"
    assert gpus[0]["chip"] == "AD103"


def test_unknown_device_id():
    gpus = gpu_facts.merge_gpus([sysfs("0000:01:00.0", "0x0001")], [], {}, [], None)
    assert gpus[0]["architecture"] is None and gpus[0]["driver_branches"] is None
    warnings = gpu_facts.gpu_warnings(gpus, {"loaded": False}, False)
    assert any("architecture unknown for PCI device id 0x0001" in w for w in warnings)


def test_architectures_oldest_first():
    gpus = gpu_facts.merge_gpus([sysfs("0000:01:00.0", "0x2684", klass="0x030000"),
                                 sysfs("0000:02:00.0", "0x1bb3"), sysfs("0000:03:00.0", "0x0fe9")], [], {}, [], None)
    assert gpu_facts.architectures(gpus) == ["Kepler", "Pascal", "Ada Lovelace"]


def test_kepler_with_580_is_unsupported():
    gpus = gpu_facts.merge_gpus([sysfs("0000:01:00.0", "0x0fe9", klass="0x030000")], [], {}, [], 580)
    branches = gpus[0]["driver_branches"]
    assert branches["installed_driver_supported"] is False
    assert branches["max_branch"] == 470 and branches["recommended_branch"] == 470
    warnings = gpu_facts.gpu_warnings(gpus, {"loaded": True, "version": "580.95.05"}, True)
    assert any("driver 580.95.05 does not support it" in w for w in warnings)


def test_summary_lines():
    base = {"architectures": [], "gpus": [], "host": {"jetson": False},
            "driver": {"loaded": False, "installed": False, "nvidia_smi_error": None}}
    assert gpu_facts.summary(base) == "no NVIDIA GPU found; no NVIDIA driver installed"
    base["driver"] = {"loaded": False, "installed": True,
                      "nvidia_smi_error": "the NVIDIA kernel module is not loaded"}
    assert gpu_facts.summary(base) == ("no NVIDIA GPU found; NVIDIA driver installed but not loaded; "
                                       "nvidia-smi: the NVIDIA kernel module is not loaded")
