# -*- coding: utf-8 -*-
from hypothesis import given, strategies as st

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _gpu_facts as gpu_facts, _pci as pci


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


def test_mig_facts():
    assert gpu_facts.mig_facts({}) == {"supported": None, "current": None, "pending": None, "reset_pending": False}
    assert gpu_facts.mig_facts({"mig_mode": None, "mig_mode_pending": None})["supported"] is False   # [N/A]
    assert gpu_facts.mig_facts({"mig_mode": False, "mig_mode_pending": True}) == {
        "supported": True, "current": False, "pending": True, "reset_pending": True}


def gpu(state=None, status=None, cluster=None, c2c=None, device="0x2330", arch="Hopper"):
    return {"device_id": device, "architecture": arch, "c2c_mode": c2c,
            "fabric": {"state": state, "status": status, "clique_id": None, "cluster_uuid": cluster}}


def test_nvlink_facts():
    none = gpu_facts.nvswitch_facts(None, [], {}, False, [])
    assert gpu_facts.nvlink_facts([gpu(), gpu()], none)["fabric_ready"] is None
    assert gpu_facts.nvlink_facts([gpu("not_supported")], none)["fabric_ready"] is None
    mixed = gpu_facts.nvlink_facts([gpu("completed", "Success"), gpu("in_progress")], none)
    assert mixed["fabric_states"] == {"completed": 1, "in_progress": 1} and mixed["fabric_ready"] is False
    assert gpu_facts.nvlink_facts([gpu("completed", "Success")] * 2, none)["fabric_ready"] is True
    assert gpu_facts.nvlink_facts([gpu("completed", "Unknown Error")], none)["fabric_ready"] is False
    multi = gpu_facts.nvlink_facts([gpu("completed", "Success", "5bd1c3e2-7c7a-4a26-9b8e-2f6d0f0c1a11", True)], none)
    assert multi["multi_node"] is True and multi["c2c"] is True
    zero = gpu_facts.nvlink_facts([gpu("completed", "Success", "00000000-0000-0000-0000-000000000000")], none)
    assert zero["multi_node"] is False


def test_nvswitch_facts_merge_and_management_ports():
    switch = pci.device_from_sysfs("0000:05:00.0", {"vendor": "0x10de", "device": "0x1af1", "class": "0x068000"},
                                   "../../../bus/pci/drivers/nvidia-nvswitch")
    facts = gpu_facts.nvswitch_facts([switch], [], {"0000:05:00.0": {"uuid": "SWX-1", "bios_version": None,
                                                                     "physical_id": 3}}, True, [])
    assert (facts["count"], facts["generation"], facts["nvlink_version"]) == (1, 2, 3)
    assert facts["devices"][0]["chip"] == "LR10" and facts["devices"][0]["uuid"] == "SWX-1"
    # a switch only the driver lists (sysfs unreadable, no lspci)
    facts = gpu_facts.nvswitch_facts(None, [], {"0000:06:00.0": {"uuid": "SWX-2", "bios_version": None,
                                                                 "physical_id": 1}}, True, [])
    assert facts["count"] == 1 and facts["devices"][0]["kernel_driver"] == "nvidia-nvswitch"
    facts = gpu_facts.nvswitch_facts([], [], {}, False, ["mlx5_3", "mlx5_1"])
    assert facts["management_ports"] == ["mlx5_1", "mlx5_3"] and facts["generation"] == 4
    assert facts["fabric_manager_required"] and facts["nvlsm_required"]
    unknown = pci.device_from_sysfs("0000:07:00.0", {"vendor": "0x10de", "device": "0x1ac1", "class": "0x068000"})
    facts = gpu_facts.nvswitch_facts([unknown], [], {}, False, [])
    assert facts["count"] == 1 and facts["generation"] is None and facts["fabric_manager_required"] is True


def test_superchip():
    grace = {"grace": True}
    unknown = {"grace": None}
    assert gpu_facts.superchip(grace, [gpu(device="0x2342")]) == (True, "Grace Hopper")
    assert gpu_facts.superchip(grace, [gpu(device="0x2941", arch="Blackwell")]) == (True, "Grace Blackwell")
    assert gpu_facts.superchip(grace, []) == (True, "Grace")
    assert gpu_facts.superchip(unknown, [gpu(device="0x31c2", arch="Blackwell")]) == (True, "Grace Blackwell")
    assert gpu_facts.superchip(unknown, [gpu(c2c=True)]) == (True, "Grace Hopper")
    assert gpu_facts.superchip(unknown, [gpu(device="0x2331")]) == (False, None)      # H100 PCIe
    assert gpu_facts.superchip({"grace": False}, [gpu(device="0x2342")]) == (False, None)


def test_rdma_facts():
    nic = pci.device_from_sysfs("0000:1a:00.0", {"vendor": "0x15b3", "device": "0x1021", "class": "0x020700"},
                                "../../../bus/pci/drivers/mlx5_core")
    ib = [{"name": "mlx5_0", "pci_bus_id": "0000:1a:00.0", "nvswitch_management": False},
          {"name": "irdma0", "pci_bus_id": "0000:31:00.0", "vendor_id": "0x8086", "device_id": "0x1592",
           "class_id": "0x020000", "kernel_driver": "ice", "nvswitch_management": False},
          {"name": "mlx5_1", "pci_bus_id": "0000:05:00.1", "vendor_id": "0x15b3", "nvswitch_management": True}]
    facts = gpu_facts.rdma_facts([nic], ib, {"ib_core"})
    assert facts["count"] == 2 and [d["rdma_device"] for d in facts["devices"]] == ["mlx5_1", "mlx5_0", "irdma0"]
    assert facts["devices"][1]["kernel_driver"] == "mlx5_core"
    assert facts["ib_core_loaded"] is True and facts["nvidia_peermem_loaded"] is False


_BUS = st.tuples(st.integers(0, 3), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7)).map(
    lambda t: "%04x:%02x:%02x.%d" % t)


@given(st.lists(_BUS, unique=True, max_size=12), st.lists(st.tuples(_BUS, st.booleans()), max_size=12))
def test_rdma_facts_merge_properties(nic_buses, ib_entries):
    """Every NIC and RDMA device appears once, joined on its bus id; count leaves management ports out."""
    nics = [pci.device_from_sysfs(bus, {"vendor": "0x15b3", "device": "0x1021", "class": "0x020700"})
            for bus in nic_buses]
    ib = []
    for number, (bus, management) in enumerate(dict(ib_entries).items()):
        ib.append({"name": "mlx5_%d" % number, "pci_bus_id": bus, "vendor_id": "0x15b3",
                   "nvswitch_management": management})
    facts = gpu_facts.rdma_facts(nics, ib, set())
    buses = [d["pci_bus_id"] for d in facts["devices"]]
    assert buses == sorted(set(nic_buses) | set(d["pci_bus_id"] for d in ib))
    by_bus = dict((d["pci_bus_id"], d) for d in facts["devices"])
    for entry in ib:
        assert by_bus[entry["pci_bus_id"]]["rdma_device"] == entry["name"]
        assert by_bus[entry["pci_bus_id"]]["nvswitch_management"] is entry["nvswitch_management"]
    assert facts["count"] == len(buses) - sum(1 for entry in ib if entry["nvswitch_management"])


_STATES = st.sampled_from([None, "completed", "in_progress", "not_started", "not_supported"])
_STATUS = st.sampled_from([None, "Success", "Insufficient Resources"])


@given(st.lists(st.tuples(_STATES, _STATUS), max_size=10))
def test_fabric_ready_properties(fabrics):
    gpus = [gpu(state, status) for state, status in fabrics]
    facts = gpu_facts.nvlink_facts(gpus, gpu_facts.nvswitch_facts([], [], {}, False, []))
    reported = [(state, status) for state, status in fabrics if state not in (None, "not_supported")]
    if not reported:
        assert facts["fabric_ready"] is None
    else:
        assert facts["fabric_ready"] is all(state == "completed" and status in (None, "Success")
                                            for state, status in reported)
    assert sum(facts["fabric_states"].values()) == sum(1 for state, _status in fabrics if state is not None)
