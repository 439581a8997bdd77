# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""One ``nvidia-smi --query-gpu`` call: which fields to ask for, and how to read the answer.

The facts module calls nvidia-smi once per run::

    nvidia-smi --query-gpu=index,pci.bus_id,...,compute_cap --format=csv,noheader,nounits

Fields that old drivers do not know are chosen away *before* the call, from
the driver version the kernel module reports (``/proc/driver/nvidia/version``
or ``/sys/module/nvidia/version``): ``compute_cap`` exists from the R510
branch on; a 470 driver answers ``Field "compute_cap" is not a valid field to
query.`` with exit code 2.  Only when that version is unknown, or the
nvidia-smi binary is older than the loaded module (as inside some snaps and
containers), does the module retry once: without the fields nvidia-smi named
and without every field at least as new as those (nvidia-smi names only the
first field it does not know).

Which branch knows which field was read from the field table of NVIDIA's own
nvidia-smi binaries (Debian's 470.256.02, 535.261.03 and 550.163.01 packages;
``tests/fixtures/gpu-hosts/debian-nvidia-smi-fields``) and the 580.159.04
binary of the H200 test host (``--help-query-gpu``).

Pure functions; Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.gpufleet.nvidia.plugins.module_utils._pci import normalize_bus_id

# (nvidia-smi field, fact key), in the order they are asked for.
QUERY_FIELDS = (
    ("index", "index"),
    ("pci.bus_id", "pci_bus_id"),
    ("name", "name"),
    ("uuid", "uuid"),
    ("serial", "serial"),
    ("driver_version", "driver_version"),
    ("memory.total", "memory_total_mib"),
    ("compute_cap", "compute_capability"),
    ("persistence_mode", "persistence_mode"),
    ("mig.mode.current", "mig_mode"),
    ("vbios_version", "vbios_version"),
    ("mig.mode.pending", "mig_mode_pending"),
    ("fabric.state", "fabric_state"),
    ("fabric.status", "fabric_status"),
    ("fabric.cliqueId", "fabric_clique_id"),
    ("fabric.clusterUuid", "fabric_cluster_uuid"),
    ("c2c.mode", "c2c_mode"),
    ("addressing_mode", "addressing_mode"),
)

# Fields newer than the rest, with the first driver branch known to have them:
# MIG arrived with R450 (A100); 470 has both MIG fields.  The fabric state and
# status and the addressing mode are in 535 and not in 470; C2C mode and the
# fabric clique and cluster in 550 and not in 535.  Branches in between are
# not asked for fields they may or may not know.
FIELD_MIN_BRANCH = {
    "compute_cap": 510,
    "mig.mode.current": 450,
    "mig.mode.pending": 450,
    "fabric.state": 535,
    "fabric.status": 535,
    "addressing_mode": 535,
    "fabric.cliqueId": 550,
    "fabric.clusterUuid": 550,
    "c2c.mode": 550,
}

# Values nvidia-smi prints for "no value" (with and without brackets, any case).
_NO_VALUE = frozenset([
    "", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]",
    "[insufficient permissions]", "[gpu requires reset]", "[gpu is lost]", "[requested functionality has been deprecated]",
])

_INVALID_FIELD = re.compile(r'Field "([^"]+)" is not a valid field to query')

# (substring of nvidia-smi's message, failure kind, explanation for the user)
_FAILURES = (
    ("couldn't communicate with the NVIDIA driver", "driver_not_loaded",
     "the NVIDIA kernel module is not loaded (or not built for the running kernel)"),
    ("Driver/library version mismatch", "version_mismatch",
     "the loaded kernel module and the user-space libraries differ (driver upgraded without reboot?)"),
    ("couldn't find libnvidia-ml.so", "library_missing",
     "libnvidia-ml.so (NVML) is not installed or not on the library path"),
    ("No devices were found", "no_devices", "the driver sees no GPU"),
    ("Insufficient Permissions", "permissions", "nvidia-smi lacks permission to open the GPU devices"),
)


def driver_branch(version):
    """``580.159.04`` -> 580; ``None`` or garbage -> ``None``."""
    match = re.match(r"^\s*(\d+)", version or "")
    return int(match.group(1)) if match else None


def fields_for_driver(version):
    """The nvidia-smi field names to query for a driver ``version`` (string or ``None``).

    With an unknown version all fields are asked for (a retry handles an old
    binary); with a known one, fields newer than the driver are left out.
    """
    branch = driver_branch(version)
    fields = []
    for field, _key in QUERY_FIELDS:
        minimum = FIELD_MIN_BRANCH.get(field)
        if branch is not None and minimum is not None and branch < minimum:
            continue
        fields.append(field)
    return fields


def fields_after_rejection(fields, rejected):
    """The fields for the one retry after nvidia-smi rejected ``rejected``; ``None``: do not retry.

    nvidia-smi stops at the first field it does not know, so a binary that
    rejects a field of branch N also lacks every field of branch N and newer:
    those go too.  A rejected field that every branch knows (``index``) or
    one this module did not ask for means something else is wrong: no retry.
    """
    rejected = [field for field in rejected if field in fields]
    if not rejected or any(FIELD_MIN_BRANCH.get(field) is None for field in rejected):
        return None
    oldest = min(FIELD_MIN_BRANCH[field] for field in rejected)
    reduced = [field for field in fields
               if field not in rejected and FIELD_MIN_BRANCH.get(field, 0) < oldest]
    return reduced if reduced else None


def query_arguments(fields):
    """Command-line arguments (after the binary) for one CSV query of ``fields``."""
    return ["--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]


def invalid_fields(output):
    """Field names nvidia-smi rejected (``Field "x" is not a valid field to query.``)."""
    return _INVALID_FIELD.findall(output or "")


def classify_failure(rc, output):
    """Explain a failed nvidia-smi run: ``{kind, message, detail}``; ``None`` when rc is 0.

    ``detail`` is nvidia-smi's own first non-empty line, kept for the user.
    """
    if rc == 0:
        return None
    text = output or ""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    bad = invalid_fields(text)
    if bad:
        return {"kind": "invalid_field", "fields": bad,
                "message": "nvidia-smi does not know the field(s) %s" % ", ".join(bad), "detail": first}
    for needle, kind, message in _FAILURES:
        if needle.lower() in text.lower():
            return {"kind": kind, "message": message, "detail": first}
    if rc == 124:
        return {"kind": "timeout", "message": "nvidia-smi did not answer in time", "detail": first}
    if rc in (126, 127) or rc is None:
        return {"kind": "not_executable", "message": "nvidia-smi could not be run", "detail": first}
    return {"kind": "error", "message": "nvidia-smi failed with exit code %s" % rc, "detail": first}


def clean_value(value):
    """Strip a CSV cell; ``None`` for nvidia-smi's placeholders ([N/A], [Not Supported] ...)."""
    if value is None:
        return None
    text = value.strip()
    if text.lower() in _NO_VALUE:
        return None
    return text


def _to_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _to_mib(value):
    """``81559`` or ``81559 MiB`` -> 81559."""
    if value is None:
        return None
    return _to_int(value.split()[0]) if value.split() else None


def _to_mode(value):
    """``Enabled`` -> True, ``Disabled`` -> False, anything else -> ``None``."""
    if value is None:
        return None
    lowered = value.lower()
    if lowered == "enabled":
        return True
    if lowered == "disabled":
        return False
    return None


_FABRIC_STATES = {
    "completed": "completed", "in progress": "in_progress", "not started": "not_started",
    "not supported": "not_supported", "[not supported]": "not_supported",
}


def _to_fabric_state(text):
    """``Completed`` -> ``completed``, ``In Progress`` -> ``in_progress``, ``Not Supported`` ->
    ``not_supported``; ``N/A`` (no fabric on this GPU or driver) -> ``None``.

    Read from the raw cell: the generic placeholders would turn ``Not Supported`` into ``None``.
    """
    lowered = (text or "").strip().lower()
    if lowered in ("", "n/a", "[n/a]"):
        return None
    return _FABRIC_STATES.get(lowered, re.sub(r"[^a-z0-9]+", "_", lowered).strip("_") or None)


def _to_fabric_status(text):
    """``Success`` or NVML's error text, as printed; ``N/A`` (state not completed) -> ``None``."""
    value = (text or "").strip().strip("[]").strip()
    return None if value.lower() in ("", "n/a") else value


def _to_clique_id(value):
    return _to_int(value)


def _to_addressing_mode(value):
    """``HMM``, ``ATS`` or ``None`` (neither) -> ``hmm``, ``ats``, ``none``."""
    return value.lower() if value else None


def _to_compute_capability(value):
    if value is None:
        return None
    return value if re.match(r"^\d+\.\d+$", value) else None


_CONVERTERS = {
    "index": _to_int,
    "pci_bus_id": lambda v: normalize_bus_id(v) if v else None,
    "memory_total_mib": _to_mib,
    "persistence_mode": _to_mode,
    "mig_mode": _to_mode,
    "mig_mode_pending": _to_mode,
    "c2c_mode": _to_mode,
    "compute_capability": _to_compute_capability,
    "fabric_clique_id": _to_clique_id,
    "addressing_mode": _to_addressing_mode,
}

# Converters that read the cell as printed, before the placeholders are dropped.
_RAW_CONVERTERS = {
    "fabric_state": _to_fabric_state,
    "fabric_status": _to_fabric_status,
}


def parse_query_output(text, fields):
    """Parse ``--format=csv,noheader,nounits`` output of a query of ``fields``.

    Returns ``(rows, warnings)``: one dict per GPU keyed by fact names (see
    :data:`QUERY_FIELDS`; fields not queried are absent), and the lines that
    could not be read, explained.  Short rows are padded with ``None``.
    """
    keys = dict(QUERY_FIELDS)
    rows = []
    warnings = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        # nvidia-smi neither quotes nor escapes: a value is everything between ", ".
        cells = line.split(",")
        if _to_int(cells[0].strip()) is None:
            warnings.append("nvidia-smi printed a line that is not a GPU row: %r" % line.strip())
            continue
        if len(cells) != len(fields):
            warnings.append("nvidia-smi row has %d values for %d fields: %r"
                            % (len(cells), len(fields), line.strip()))
        row = {}
        for position, field in enumerate(fields):
            key = keys.get(field, field)
            if key in _RAW_CONVERTERS:
                row[key] = _RAW_CONVERTERS[key](cells[position]) if position < len(cells) else None
                continue
            value = clean_value(cells[position]) if position < len(cells) else None
            converter = _CONVERTERS.get(key)
            row[key] = converter(value) if converter else value
        rows.append(row)
    return rows, warnings
