# -*- coding: utf-8 -*-
"""nvidia-smi query handling on real output: the H100 (driver 580) and Debian 12's nvidia-smi 535 without GPU."""
import os
import sys

import pytest
from hypothesis import given, strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixture_text import framed, h100  # noqa: E402

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _nvidia_smi as nvidia_smi  # noqa: E402

ALL = [field for field, _key in nvidia_smi.QUERY_FIELDS]
# The field list of the module before the datacenter fields, which the earlier H100 captures asked.
BASE = ALL[:11]
NOGPU = ("gpu-hosts", "debian12-nogpu-nvidia-smi535")
H200 = ("gpu-hosts", "h200-1gpu-driver580")


def test_fields_by_driver_version():
    assert nvidia_smi.fields_for_driver("580.159.04") == ALL
    assert nvidia_smi.fields_for_driver("550.163.01") == ALL
    assert nvidia_smi.fields_for_driver(None) == ALL          # unknown: ask, retry once if rejected
    r535 = nvidia_smi.fields_for_driver("535.261.03")
    assert [f for f in ALL if f not in r535] == ["fabric.cliqueId", "fabric.clusterUuid", "c2c.mode"]
    r510 = nvidia_smi.fields_for_driver("510.39.01")
    assert [f for f in ALL if f not in r510] == ["fabric.state", "fabric.status", "fabric.cliqueId",
                                                 "fabric.clusterUuid", "c2c.mode", "addressing_mode"]
    old = nvidia_smi.fields_for_driver("470.256.02")
    assert old == BASE[:7] + BASE[8:] + ["mig.mode.pending"]
    assert "mig.mode.current" not in nvidia_smi.fields_for_driver("440.118.02")
    assert nvidia_smi.query_arguments(["index", "name"]) == [
        "--query-gpu=index,name", "--format=csv,noheader,nounits"]


def test_parse_real_h100_nounits_capture():
    """The capture asked for its own field list; parse it with that list."""
    text, rc = h100("nvsmi-query-nounits.txt")
    assert rc == 0
    fields = ["index", "pci.bus_id", "name", "uuid", "driver_version", "memory.total", "compute_cap",
              "persistence_mode", "mig.mode.current"]
    rows, warnings = nvidia_smi.parse_query_output(text, fields)
    assert warnings == []
    assert rows == [{"index": 0, "pci_bus_id": "0000:00:06.0", "name": "NVIDIA H100 80GB HBM3",
                     "uuid": "GPU-9d066124-a4f5-9f94-ff00-13f9f4666fd8", "driver_version": "580.159.04",
                     "memory_total_mib": 81559, "compute_capability": "9.0", "persistence_mode": True,
                     "mig_mode": False}]


def test_parse_real_h100_with_units_and_header():
    """nvsmi-query-basic.txt asked exactly the module's fields (with header and units)."""
    text, _rc = h100("nvsmi-query-basic.txt")
    header, body = text.split("\n", 1)
    assert [name.split(" [")[0] for name in header.split(", ")] == BASE
    rows, warnings = nvidia_smi.parse_query_output(body, BASE)
    assert warnings == []
    assert rows[0]["memory_total_mib"] == 81559             # "81559 MiB"
    assert rows[0]["serial"] == "1651124033651"
    assert rows[0]["vbios_version"] == "96.00.DA.00.0C"
    # The header line itself is not a GPU row.
    rows, warnings = nvidia_smi.parse_query_output(text, BASE)
    assert len(rows) == 1 and len(warnings) == 1


def test_invalid_field_real_message():
    text, rc = h100("nvsmi-query-bad.txt")
    failure = nvidia_smi.classify_failure(rc, text)
    assert rc == 2
    assert failure["kind"] == "invalid_field" and failure["fields"] == ["not_a_field"]
    assert failure["detail"] == 'Field "not_a_field" is not a valid field to query.'


def test_no_driver_real_debian_nvidia_smi():
    for name in ("nvsmi-query-nounits.txt", "nvsmi-default.txt", "nvsmi-query-bad.txt"):
        text, rc = framed(*(NOGPU + (name,)))
        assert rc == 9
        failure = nvidia_smi.classify_failure(rc, text)
        assert failure["kind"] == "driver_not_loaded", name
        assert failure["detail"].startswith("NVIDIA-SMI has failed because it couldn't communicate")


def test_missing_library_real_debian_nvidia_smi():
    text, rc = framed(*(NOGPU + ("nvsmi-nolib.txt",)))
    assert rc == 12
    assert nvidia_smi.classify_failure(rc, text)["kind"] == "library_missing"


def test_other_failures():
    assert nvidia_smi.classify_failure(0, "anything") is None
    assert nvidia_smi.classify_failure(6, "No devices were found\n")["kind"] == "no_devices"
    mismatch = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 580.95\n"
    assert nvidia_smi.classify_failure(18, mismatch)["kind"] == "version_mismatch"
    assert nvidia_smi.classify_failure(124, "")["kind"] == "timeout"
    failure = nvidia_smi.classify_failure(255, "Segmentation fault\n")
    assert failure["kind"] == "error" and "255" in failure["message"]


def test_placeholders_and_bad_values():
    fields = ["index", "pci.bus_id", "name", "memory.total", "compute_cap", "persistence_mode",
              "mig.mode.current", "serial"]
    text = "1, 00000000:3B:00.0, Tesla P4, [N/A], [Not Supported], Disabled, [N/A], [Unknown Error]\n"
    rows, warnings = nvidia_smi.parse_query_output(text, fields)
    assert warnings == []
    assert rows == [{"index": 1, "pci_bus_id": "0000:3b:00.0", "name": "Tesla P4", "memory_total_mib": None,
                     "compute_capability": None, "persistence_mode": False, "mig_mode": None, "serial": None}]


def test_truncated_and_extra_columns():
    fields = ["index", "pci.bus_id", "name", "uuid"]
    rows, warnings = nvidia_smi.parse_query_output("0, 00000000:00:06.0\n1, 00000000:00:07.0, A, B, C\n", fields)
    assert rows[0] == {"index": 0, "pci_bus_id": "0000:00:06.0", "name": None, "uuid": None}
    assert rows[1]["uuid"] == "B"
    assert len(warnings) == 2


def test_error_lines_between_rows():
    fields = ["index", "pci.bus_id"]
    text = ("0, 00000000:00:06.0\n"
            "Unable to determine the device handle for GPU0000:07:00.0: Unknown Error\n"
            "\n2, 00000000:00:08.0\n")
    rows, warnings = nvidia_smi.parse_query_output(text, fields)
    assert [r["index"] for r in rows] == [0, 2]
    assert "Unable to determine" in warnings[0]


@given(st.text())
def test_parser_never_raises(text):
    rows, warnings = nvidia_smi.parse_query_output(text, ALL)
    assert isinstance(rows, list) and isinstance(warnings, list)
    for row in rows:
        assert set(row) == set(key for _f, key in nvidia_smi.QUERY_FIELDS)


@given(st.integers(0, 300), st.text())
def test_classify_never_raises(rc, text):
    failure = nvidia_smi.classify_failure(rc, text)
    assert failure is None if rc == 0 else failure["kind"]


def test_driver_branch():
    assert nvidia_smi.driver_branch("580.159.04") == 580
    assert nvidia_smi.driver_branch(None) is None
    assert nvidia_smi.driver_branch("garbage") is None


def test_parse_module_query_on_device_run():
    """The module's own field list, run by hand on the H100 by tests/perf/device_proof.sh."""
    text, rc = framed("gpu-hosts", "h100-1gpu-driver580-device-proof", "nvsmi-query.txt")
    assert rc == 0
    rows, warnings = nvidia_smi.parse_query_output(text, BASE)
    assert warnings == []
    assert rows == [{"index": 0, "pci_bus_id": "0000:00:06.0", "name": "NVIDIA H100 80GB HBM3",
                     "uuid": "GPU-d018be66-aa40-2602-9e6f-2f60bc9f7fc3", "serial": "1752824022845",
                     "driver_version": "580.159.04", "memory_total_mib": 81559, "compute_capability": "9.0",
                     "persistence_mode": True, "mig_mode": False, "vbios_version": "96.00.DA.00.0C"}]


def _asked_fields(*parts):
    """The --query-gpu field list of a framed capture's command line."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", *parts)) as handle:
        command = handle.readline()
    return command.split("--query-gpu=", 1)[1].split()[0].split(",")


def test_parse_real_h200_datacenter_query():
    """The H200 (driver 580.159.04, MIG off, no NVSwitch): the datacenter fields as it prints them."""
    fields = _asked_fields(*H200 + ("smi-query-datacenter.txt",))
    text, rc = framed(*H200 + ("smi-query-datacenter.txt",))
    assert rc == 0
    rows, warnings = nvidia_smi.parse_query_output(text, fields)
    assert warnings == []
    assert rows == [{"index": 0, "uuid": "GPU-9ae030a0-5e59-ba6a-5dfb-1b44b8eb7d2c", "pci_bus_id": "0000:00:06.0",
                     "name": "NVIDIA H200", "mig_mode": False, "mig_mode_pending": False, "fabric_state": None,
                     "fabric_status": None, "fabric_cluster_uuid": None, "fabric_clique_id": None,
                     "addressing_mode": "none"}]


def _field_table(version):
    text, rc = framed("gpu-hosts", "debian-nvidia-smi-fields", "nvidia-smi-%s-fields.txt" % version)
    assert rc == 0
    return set(text.split())


def test_min_branches_match_nvidia_smi_binaries():
    """Every field the module asks a branch for is in that branch's nvidia-smi; the newer ones are not."""
    h200_fields = _asked_fields(*H200 + ("smi-query-datacenter.txt",))
    for version in ("470", "535", "550"):
        table = _field_table(version)
        asked = nvidia_smi.fields_for_driver(version + ".0")
        for field, minimum in nvidia_smi.FIELD_MIN_BRANCH.items():
            if field == "mig.mode.current" or field == "mig.mode.pending" or minimum > 470:
                assert (field in table) == (field in asked), (version, field)
    for field in nvidia_smi.FIELD_MIN_BRANCH:
        assert field in _field_table("550") or field in h200_fields


@pytest.mark.parametrize("rejected, expected", [
    (["compute_cap"], ["index", "pci.bus_id", "name", "uuid", "serial", "driver_version", "memory.total",
                       "persistence_mode", "mig.mode.current", "vbios_version", "mig.mode.pending"]),
    (["fabric.state"], [f for f in ALL if f not in ("fabric.state", "fabric.status", "fabric.cliqueId",
                                                    "fabric.clusterUuid", "c2c.mode", "addressing_mode")]),
    (["c2c.mode"], [f for f in ALL if f not in ("fabric.cliqueId", "fabric.clusterUuid", "c2c.mode")]),
    (["index"], None),                  # every nvidia-smi knows it: something else is wrong
    (["pci.bus_id", "c2c.mode"], None),
    (["not_asked"], None),
    ([], None),
])
def test_fields_after_rejection(rejected, expected):
    assert nvidia_smi.fields_after_rejection(ALL, rejected) == expected


@given(st.lists(st.sampled_from(sorted(nvidia_smi.FIELD_MIN_BRANCH)), min_size=1, max_size=3))
def test_fields_after_rejection_properties(rejected):
    reduced = nvidia_smi.fields_after_rejection(ALL, rejected)
    oldest = min(nvidia_smi.FIELD_MIN_BRANCH[f] for f in rejected)
    assert reduced is not None
    assert [f for f in ALL if f in reduced] == reduced                 # order kept
    assert not set(rejected) & set(reduced)
    assert all(nvidia_smi.FIELD_MIN_BRANCH.get(f, 0) < oldest for f in reduced)
    assert reduced[:2] == ["index", "pci.bus_id"]


@pytest.mark.parametrize("cell, state", [
    ("Completed", "completed"), (" In Progress", "in_progress"), ("Not Started", "not_started"),
    ("Not Supported", "not_supported"), ("[Not Supported]", "not_supported"), ("N/A", None), ("[N/A]", None),
    ("", None), ("Some New State", "some_new_state"),
])
def test_fabric_state_cells(cell, state):
    fields = ["index", "fabric.state", "fabric.status"]
    rows, warnings = nvidia_smi.parse_query_output("0, %s, Success\n" % cell, fields)
    assert warnings == [] and rows[0]["fabric_state"] == state and rows[0]["fabric_status"] == "Success"


def test_fabric_status_and_modes():
    fields = ["index", "fabric.status", "fabric.cliqueId", "fabric.clusterUuid", "c2c.mode", "addressing_mode",
              "mig.mode.current", "mig.mode.pending"]
    line = "3, Insufficient Resources, 32766, 5bd1c3e2-7c7a-4a26-9b8e-2f6d0f0c1a11, Enabled, ATS, Enabled, Disabled\n"
    row = nvidia_smi.parse_query_output(line, fields)[0][0]
    assert row == {"index": 3, "fabric_status": "Insufficient Resources", "fabric_clique_id": 32766,
                   "fabric_cluster_uuid": "5bd1c3e2-7c7a-4a26-9b8e-2f6d0f0c1a11", "c2c_mode": True,
                   "addressing_mode": "ats", "mig_mode": True, "mig_mode_pending": False}
    line = "0, N/A, N/A, N/A, [N/A], HMM, [N/A], [N/A]\n"
    row = nvidia_smi.parse_query_output(line, fields)[0][0]
    assert row["fabric_status"] is None and row["fabric_clique_id"] is None and row["c2c_mode"] is None
    assert row["addressing_mode"] == "hmm" and row["mig_mode"] is None and row["mig_mode_pending"] is None
