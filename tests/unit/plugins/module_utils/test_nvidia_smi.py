# -*- coding: utf-8 -*-
"""nvidia-smi query handling on real output: the H100 (driver 580) and Debian 12's nvidia-smi 535 without GPU."""
import os
import sys

from hypothesis import given, strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fixture_text import framed, h100  # noqa: E402

from ansible_collections.gpufleet.nvidia.plugins.module_utils import nvidia_smi  # noqa: E402

ALL = [field for field, _key in nvidia_smi.QUERY_FIELDS]
NOGPU = ("gpu-hosts", "debian12-nogpu-nvidia-smi535")


def test_fields_by_driver_version():
    assert nvidia_smi.fields_for_driver("580.159.04") == ALL
    assert nvidia_smi.fields_for_driver("510.39.01") == ALL
    assert nvidia_smi.fields_for_driver(None) == ALL          # unknown: ask, retry once if rejected
    old = nvidia_smi.fields_for_driver("470.256.02")
    assert "compute_cap" not in old and len(old) == len(ALL) - 1
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
    assert [name.split(" [")[0] for name in header.split(", ")] == ALL
    rows, warnings = nvidia_smi.parse_query_output(body, ALL)
    assert warnings == []
    assert rows[0]["memory_total_mib"] == 81559             # "81559 MiB"
    assert rows[0]["serial"] == "1651124033651"
    assert rows[0]["vbios_version"] == "96.00.DA.00.0C"
    # The header line itself is not a GPU row.
    rows, warnings = nvidia_smi.parse_query_output(text, ALL)
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
    rows, warnings = nvidia_smi.parse_query_output(text, nvidia_smi.fields_for_driver("580.159.04"))
    assert warnings == []
    assert rows == [{"index": 0, "pci_bus_id": "0000:00:06.0", "name": "NVIDIA H100 80GB HBM3",
                     "uuid": "GPU-d018be66-aa40-2602-9e6f-2f60bc9f7fc3", "serial": "1752824022845",
                     "driver_version": "580.159.04", "memory_total_mib": 81559, "compute_capability": "9.0",
                     "persistence_mode": True, "mig_mode": False, "vbios_version": "96.00.DA.00.0C"}]
