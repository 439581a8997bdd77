# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""MIG (Multi-Instance GPU): read ``nvidia-smi`` output, plan a layout change, carry it out.

Parsers (pure, over the text nvidia-smi prints):

* :func:`parse_gpu_query` - ``nvidia-smi --query-gpu=index,uuid,pci.bus_id,
  mig.mode.current,mig.mode.pending --format=csv,noheader``;
* :func:`parse_gi_profiles` - ``nvidia-smi mig -lgip`` (GPU instance profiles);
* :func:`parse_gi_placements` - ``nvidia-smi mig -lgipp`` (possible placements);
* :func:`parse_gpu_instances` - ``nvidia-smi mig -lgi``;
* :func:`parse_compute_instances` - ``nvidia-smi mig -lci``;
* :func:`parse_processes` - the "Processes" table of plain ``nvidia-smi``
  (GPU, GI ID, CI ID, PID: the only output that says which MIG instance a
  process uses; ``--query-compute-apps`` has no GI/CI field), and
  :func:`parse_compute_apps` for ``--query-compute-apps``.

Planner (pure): :func:`plan` takes the state (:func:`build_state`) and a
declaration per GPU and returns the ordered actions that reach it, changing
only what differs. Layouts are compared the way NVIDIA's mig-parted compares
them, as multisets of profiles, but per GPU instance: a GPU instance is its
profile plus the multiset of its compute instances' sizes. Instances that
match are kept (in-use ones first), a GPU instance whose profile matches but
whose compute instances differ is reshaped in place, the rest is destroyed
(compute instances before their GPU instance) and the missing ones are
created, largest first, at placements chosen from ``-lgipp`` around what is
kept (``-cgi <profile id>:<start>``), so the driver has no choice that could
strand a later instance.

Runner (:func:`gather`, :func:`apply_plan`): the same steps with the command
runner passed in as a function ``run(argv) -> (rc, stdout, stderr)``, so the
Ansible module and the boot-time script share them and tests can pass a
simulated GPU.

Standard library only (the boot-time script imports this file on its own);
Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

GPU_QUERY_FIELDS = "index,uuid,pci.bus_id,mig.mode.current,mig.mode.pending"

ENABLED = "Enabled"
DISABLED = "Disabled"

# NVML compute instance profile ids (nvml.h NVML_COMPUTE_INSTANCE_PROFILE_<N>_SLICE):
# what ``nvidia-smi mig -cci`` takes, by the number of SM slices of the CI.
CI_PROFILE_IDS = {1: 0, 2: 1, 3: 2, 4: 3, 7: 4, 8: 5, 6: 6}

_NO_MIG = "No MIG-enabled devices found"

_GI_NAME = re.compile(r"^(\d+)g\.(\d+)gb((?:\+[a-z0-9]+)*)$")
_CI_NAME = re.compile(r"^(?:(\d+)c\.)?(\d+)g\.(\d+)gb((?:\+[a-z0-9]+)*)$")
_CI_SHORT = re.compile(r"^(\d+)c$")

_PROFILE_ROW = re.compile(
    r"^\|\s*(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)/(\d+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\|$")
_PROFILE_ROW2 = re.compile(r"^\|\s+(\d+)\s+(\d+)\s+(\d+)\s*\|$")
_PLACEMENT_ROW = re.compile(r"^GPU\s+(\d+)\s+Profile ID\s+(\d+)\s+Placements?\s*:\s*\{([\d,\s]*)\}:(\d+)\s*$")
_GI_ROW = re.compile(r"^\|\s*(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)\s*\|$")
_CI_ROW = re.compile(r"^\|\s*(\d+)\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s*\|$")
_PROC_ROW_MIG = re.compile(r"^\|\s*(\d+)\s+(\d+|N/A)\s+(\d+|N/A)\s+(\d+)\s+(\S+)\s+(.*?)\s+(\S+)\s*\|$")
_PROC_ROW_OLD = re.compile(r"^\|\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*?)\s+(\S+)\s*\|$")
_CREATED_GI = re.compile(r"Successfully created GPU instance ID\s+(\d+) on GPU\s+(\d+)")


class MigError(ValueError):
    """A declaration, a state or a plan that cannot be carried out; the message says why."""


class MigCommandError(MigError):
    """An nvidia-smi command failed; ``done`` lists the commands that ran before it."""

    def __init__(self, message, done=None):
        MigError.__init__(self, message)
        self.done = list(done or [])


# ---------------------------------------------------------------- profile names

def gi_slices(name):
    """Compute slices of a GPU instance profile name (``3g.40gb`` -> 3); ``MigError`` if malformed."""
    match = _GI_NAME.match(name or "")
    if not match:
        raise MigError("'%s' is not a GPU instance profile name (expected e.g. 1g.10gb, 3g.40gb, 1g.18gb+me)" % name)
    return int(match.group(1))


def ci_slices(name, gi_name):
    """Slices of a compute instance named ``name`` inside a GPU instance of profile ``gi_name``.

    ``1c.3g.40gb`` and ``1c`` mean 1; ``3g.40gb`` (the GPU instance's own
    name, what ``-C`` creates) means all of its slices.
    """
    g = gi_slices(gi_name)
    if name is None or name == gi_name:
        return g
    short = _CI_SHORT.match(name)
    if short:
        c = int(short.group(1))
    else:
        match = _CI_NAME.match(name)
        if not match:
            raise MigError("'%s' is not a compute instance profile name (expected e.g. 1c.3g.40gb)" % name)
        base = "%sg.%sgb%s" % match.group(2, 3, 4)
        if base != gi_name:
            raise MigError("compute instance '%s' does not belong to a %s GPU instance" % (name, gi_name))
        c = int(match.group(1)) if match.group(1) else g
    if c < 1 or c > g:
        raise MigError("compute instance '%s' needs %d slices; a %s GPU instance has %d" % (name, c, gi_name, g))
    return c


def ci_name(slices, gi_name):
    """The profile name nvidia-smi shows for a compute instance of ``slices`` in a ``gi_name`` GPU instance."""
    if slices == gi_slices(gi_name):
        return gi_name
    return "%dc.%s" % (slices, gi_name)


# ---------------------------------------------------------------- parsers

def _lines(text):
    return (text or "").splitlines()


def _mode(value):
    value = value.strip()
    if value in (ENABLED, DISABLED):
        return value
    return None


def parse_gpu_query(text):
    """Rows of ``--query-gpu=GPU_QUERY_FIELDS --format=csv,noheader`` as dicts.

    ``mig_current``/``mig_pending`` are ``Enabled``, ``Disabled`` or ``None``
    (``[N/A]``: the GPU has no MIG); ``mig_supported`` says which.
    """
    gpus = []
    for line in _lines(text):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 5 or not parts[0].isdigit():
            raise MigError("unexpected line in nvidia-smi --query-gpu=%s output: %r" % (GPU_QUERY_FIELDS, line))
        current, pending = _mode(parts[3]), _mode(parts[4])
        gpus.append({
            "index": int(parts[0]),
            "uuid": parts[1],
            "bus_id": parts[2],
            "mig_current": current,
            "mig_pending": pending,
            "mig_supported": current is not None,
        })
    return gpus


def parse_gi_profiles(text):
    """``nvidia-smi mig -lgip`` -> ``{gpu index: [profile, ...]}`` in the order printed.

    A profile: ``name`` (without ``MIG``), ``id``, ``free``, ``total``,
    ``memory_gib`` (text as printed), ``p2p``, ``sm``, ``dec``, ``enc``,
    ``ce``, ``jpeg``, ``ofa``, ``slices``.
    """
    result = {}
    last = None
    for line in _lines(text):
        line = line.rstrip()
        row = _PROFILE_ROW.match(line)
        if row:
            gpu = int(row.group(1))
            last = {
                "name": row.group(2), "id": int(row.group(3)), "free": int(row.group(4)),
                "total": int(row.group(5)), "memory_gib": row.group(6), "p2p": row.group(7),
                "sm": int(row.group(8)), "dec": int(row.group(9)), "enc": int(row.group(10)),
                "slices": gi_slices(row.group(2)),
            }
            result.setdefault(gpu, []).append(last)
            continue
        row2 = _PROFILE_ROW2.match(line)
        if row2 and last is not None and "ce" not in last:
            last["ce"], last["jpeg"], last["ofa"] = [int(v) for v in row2.groups()]
    return result


def parse_gi_placements(text):
    """``nvidia-smi mig -lgipp`` -> ``{gpu: {profile id: {"starts": [...], "size": n}}}``."""
    result = {}
    for line in _lines(text):
        row = _PLACEMENT_ROW.match(line.strip())
        if row:
            starts = [int(v) for v in row.group(3).replace(" ", "").split(",") if v != ""]
            result.setdefault(int(row.group(1)), {})[int(row.group(2))] = {"starts": starts, "size": int(row.group(4))}
    return result


def parse_gpu_instances(text):
    """``nvidia-smi mig -lgi`` -> ``{gpu: [{"id", "profile", "profile_id", "start", "size"}, ...]}``."""
    result = {}
    for line in _lines(text):
        row = _GI_ROW.match(line.strip())
        if row:
            result.setdefault(int(row.group(1)), []).append({
                "id": int(row.group(4)), "profile": row.group(2), "profile_id": int(row.group(3)),
                "start": int(row.group(5)), "size": int(row.group(6)),
            })
    return result


def parse_compute_instances(text):
    """``nvidia-smi mig -lci`` -> ``{gpu: [{"gi", "id", "profile", "profile_id"}, ...]}``."""
    result = {}
    for line in _lines(text):
        row = _CI_ROW.match(line.strip())
        if row:
            result.setdefault(int(row.group(1)), []).append({
                "gi": int(row.group(2)), "profile": row.group(3), "profile_id": int(row.group(4)),
                "id": int(row.group(5)),
            })
    return result


def _na_int(value):
    return None if value == "N/A" else int(value)


def parse_processes(text):
    """The "Processes" table of plain ``nvidia-smi``: ``[{"gpu", "gi", "ci", "pid", "type", "name", "memory"}]``.

    ``gi``/``ci`` are ``None`` for a GPU not in MIG mode (``N/A``) and in the
    pre-MIG table layout that has no GI/CI columns.
    """
    processes = []
    inside = False
    has_mig_columns = False
    for line in _lines(text):
        stripped = line.strip()
        if "Processes:" in stripped:
            inside = True
            continue
        if not inside:
            continue
        if stripped.startswith("|") and "PID" in stripped and "GPU" in stripped:
            has_mig_columns = " GI " in stripped or stripped.split()[2:3] == ["GI"]
            continue
        if not stripped.startswith("|") or stripped.startswith("|="):
            continue
        row = _PROC_ROW_MIG.match(stripped) if has_mig_columns else None
        if row:
            processes.append({
                "gpu": int(row.group(1)), "gi": _na_int(row.group(2)), "ci": _na_int(row.group(3)),
                "pid": int(row.group(4)), "type": row.group(5), "name": row.group(6), "memory": row.group(7),
            })
            continue
        row = None if has_mig_columns else _PROC_ROW_OLD.match(stripped)
        if row:
            processes.append({
                "gpu": int(row.group(1)), "gi": None, "ci": None, "pid": int(row.group(2)),
                "type": row.group(3), "name": row.group(4), "memory": row.group(5),
            })
    return processes


def parse_compute_apps(text, fields="pid,process_name,gpu_uuid,gpu_bus_id,used_memory"):
    """``--query-compute-apps=<fields> --format=csv,noheader,nounits`` -> list of dicts keyed by field."""
    names = [f.strip() for f in fields.split(",")]
    apps = []
    for line in _lines(text):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != len(names):
            raise MigError("unexpected line in nvidia-smi --query-compute-apps output: %r" % line)
        app = dict(zip(names, parts))
        if "pid" in app:
            app["pid"] = int(app["pid"])
        apps.append(app)
    return apps


def parse_created_gpu_instances(text):
    """GPU instance ids from ``-cgi`` output (``Successfully created GPU instance ID  2 on GPU  0 ...``)."""
    return [int(m.group(1)) for m in _CREATED_GI.finditer(text or "")]


def no_mig_devices(text):
    """True when nvidia-smi says no GPU is in MIG mode."""
    return _NO_MIG in (text or "")


# ---------------------------------------------------------------- state

def build_state(query, profiles=None, placements=None, gpu_instances=None, compute_instances=None, processes=None):
    """Join the parsed outputs into the planner's state: ``{"gpus": [...], "processes": [...] or None}``.

    Each GPU: ``index``, ``uuid``, ``bus_id``, ``mig_current``, ``mig_pending``,
    ``mig_supported``, ``profiles`` (list), ``placements`` (dict by profile
    id) and ``instances``: its GPU instances, each with ``compute_instances``
    (``id``, ``slices``, ``profile``, ``profile_id``).
    """
    profiles = profiles or {}
    placements = placements or {}
    gpu_instances = gpu_instances or {}
    compute_instances = compute_instances or {}
    gpus = []
    for row in query:
        index = row["index"]
        cis = compute_instances.get(index, [])
        instances = []
        for gi in sorted(gpu_instances.get(index, []), key=lambda g: g["id"]):
            own = sorted((c for c in cis if c["gi"] == gi["id"]), key=lambda c: c["id"])
            instances.append({
                "id": gi["id"], "profile": gi["profile"], "profile_id": gi["profile_id"],
                "start": gi["start"], "size": gi["size"],
                "compute_instances": [{
                    "id": c["id"], "profile": c["profile"], "profile_id": c["profile_id"],
                    "slices": ci_slices(c["profile"], gi["profile"]),
                } for c in own],
            })
        gpu = dict(row)
        gpu["profiles"] = profiles.get(index, [])
        gpu["placements"] = placements.get(index, {})
        gpu["instances"] = instances
        gpus.append(gpu)
    return {"gpus": gpus, "processes": processes}


def instance_key(profile, slices):
    return (profile, tuple(sorted(slices, reverse=True)))


def layout_of(gpu):
    """A GPU's layout as sorted ``(profile, (ci slices...))`` keys (what is compared)."""
    return sorted(instance_key(gi["profile"], [c["slices"] for c in gi["compute_instances"]])
                  for gi in gpu.get("instances", []))


def describe_layout(gpu):
    """Human-readable text of one GPU's MIG mode and instances (for diff and reports)."""
    mode = gpu.get("mig_current") or "not supported"
    head = "GPU %d %s %s: MIG %s" % (gpu["index"], gpu.get("uuid", ""), gpu.get("bus_id", ""), mode)
    if gpu.get("mig_pending") and gpu.get("mig_pending") != gpu.get("mig_current"):
        head += " (pending %s: needs a GPU reset or reboot)" % gpu["mig_pending"]
    lines = [head]
    for gi in sorted(gpu.get("instances", []), key=lambda g: (g.get("start") if g.get("start") is not None else 99,
                                                              g.get("id") if g.get("id") is not None else 99)):
        where = "@%d:%d" % (gi["start"], gi["size"]) if gi.get("start") is not None else "@auto"
        gid = "GI %s" % gi["id"] if gi.get("id") is not None else "GI new"
        cis = ", ".join(ci_name(c["slices"], gi["profile"]) for c in gi["compute_instances"]) or "no compute instance"
        lines.append("  %-7s %-12s %-7s CI: %s" % (gid, gi["profile"], where, cis))
    return "\n".join(lines) + "\n"


def summary(state):
    """The state as the module returns it: per GPU its mode and instances, profile names only."""
    gpus = []
    for gpu in state["gpus"]:
        gpus.append({
            "index": gpu["index"], "uuid": gpu.get("uuid"), "bus_id": gpu.get("bus_id"),
            "mig_supported": gpu.get("mig_supported"), "mig_current": gpu.get("mig_current"),
            "mig_pending": gpu.get("mig_pending"),
            "instances": [{
                "id": gi.get("id"), "profile": gi["profile"], "start": gi.get("start"), "size": gi.get("size"),
                "compute_instances": [ci_name(c["slices"], gi["profile"]) for c in gi["compute_instances"]],
            } for gi in gpu.get("instances", [])],
        })
    return gpus


# ---------------------------------------------------------------- declarations

def normalize_instances(instances, gpu=None):
    """The ``instances`` of a declaration as a list of ``(profile, (ci slices...))`` keys.

    An item is a profile name (one GPU instance with one compute instance
    that fills it, what ``-cgi ... -C`` makes) or a dict with ``profile``,
    optional ``count`` (default 1) and optional ``compute_instances`` (names
    such as ``1c.3g.40gb`` or ``1c``; default: one that fills it). With
    ``gpu`` (a state GPU), profile names are checked against its profiles.
    """
    if instances is None:
        return None
    if not isinstance(instances, list):
        raise MigError("instances must be a list, not %r" % (instances,))
    known = None
    where = ""
    if gpu is not None and gpu.get("profiles"):
        known = dict((p["name"], p) for p in gpu["profiles"])
        where = " on GPU %d (%s)" % (gpu["index"], gpu.get("uuid", ""))
    keys = []
    for item in instances:
        if isinstance(item, str):
            item = {"profile": item}
        if not isinstance(item, dict) or not isinstance(item.get("profile"), str):
            raise MigError("an instances item must be a profile name or a dict with 'profile', not %r" % (item,))
        unknown = sorted(set(item) - set(["profile", "count", "compute_instances"]))
        if unknown:
            raise MigError("unknown key(s) %s in instances item %r" % (", ".join(unknown), item))
        profile = item["profile"].strip()
        if profile.startswith("MIG "):
            profile = profile[4:].strip()
        g = gi_slices(profile)
        if known is not None and profile not in known:
            raise MigError("MIG profile '%s' does not exist%s; its GPU instance profiles are: %s"
                           % (profile, where, ", ".join(p["name"] for p in gpu["profiles"])))
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            try:
                count = int(count)
            except (TypeError, ValueError):
                raise MigError("count of %s must be an integer, not %r" % (profile, item.get("count")))
        if count < 0:
            raise MigError("count of %s must not be negative" % profile)
        cis = item.get("compute_instances")
        if cis is None:
            slices = [g]
        else:
            if not isinstance(cis, list) or not cis:
                raise MigError("compute_instances of %s must be a non-empty list of profile names" % profile)
            slices = [ci_slices(str(c).strip(), profile) for c in cis]
            if sum(slices) > g:
                raise MigError("compute instances %s need %d slices; a %s GPU instance has %d"
                               % (", ".join(str(c) for c in cis), sum(slices), profile, g))
        for dummy in range(count):
            keys.append(instance_key(profile, slices))
    return sorted(keys)


def _selects(selector, gpu):
    if selector == "all":
        return True
    text = str(selector).strip()
    if text.isdigit():
        return int(text) == gpu["index"]
    if text.upper().startswith("GPU-"):
        return text.lower() == str(gpu.get("uuid", "")).lower()
    return _bus(text) == _bus(gpu.get("bus_id", ""))


def _bus(value):
    value = value.lower()
    parts = value.split(":")
    if len(parts) == 3:
        parts[0] = parts[0][-4:].rjust(4, "0")
    elif len(parts) == 2:
        parts = ["0000"] + parts
    return ":".join(parts)


def resolve_declarations(state, declarations):
    """``{gpu index: declaration}``; a declaration for a GPU by index, UUID or bus id wins over ``all``."""
    chosen = {}
    specific = {}
    for number, decl in enumerate(declarations or []):
        if not isinstance(decl, dict):
            raise MigError("each entry of gpus must be a dict, not %r" % (decl,))
        selector = decl.get("gpu", "all")
        matched = [g for g in state["gpus"] if _selects(selector, g)]
        if not matched:
            raise MigError("gpus[%d]: no GPU matches %r (GPUs: %s)" % (
                number, selector, ", ".join("%d %s %s" % (g["index"], g["uuid"], g["bus_id"]) for g in state["gpus"])
                or "none"))
        for gpu in matched:
            if selector == "all":
                if gpu["index"] in chosen and gpu["index"] not in specific:
                    raise MigError("gpus[%d]: 'all' is declared more than once" % number)
                if gpu["index"] not in specific:
                    chosen[gpu["index"]] = decl
            else:
                if gpu["index"] in specific:
                    raise MigError("gpus[%d]: GPU %d is already declared by gpus[%d]"
                                   % (number, gpu["index"], specific[gpu["index"]]))
                specific[gpu["index"]] = number
                chosen[gpu["index"]] = decl
    return chosen


# ---------------------------------------------------------------- planner

def _slots(start, size):
    return set(range(start, start + size))


def _assign_placements(new_profiles, placements, occupied):
    """Starts for ``new_profiles`` (profile ids, largest first) avoiding ``occupied``; ``None`` if impossible."""
    order = sorted(range(len(new_profiles)), key=lambda i: (-placements[new_profiles[i]]["size"], new_profiles[i]))
    starts = [None] * len(new_profiles)
    budget = [20000]

    def search(position, used):
        if position == len(order):
            return True
        budget[0] -= 1
        if budget[0] < 0:
            return False
        i = order[position]
        info = placements[new_profiles[i]]
        for start in info["starts"]:
            slots = _slots(start, info["size"])
            if slots & used:
                continue
            starts[i] = start
            if search(position + 1, used | slots):
                return True
        starts[i] = None
        return False

    return starts if search(0, set(occupied)) else None


def _in_use(processes, gpu_index, gi=None, ci=None):
    found = []
    for proc in processes or []:
        if proc["gpu"] != gpu_index:
            continue
        if gi is not None and proc.get("gi") != gi:
            continue
        if ci is not None and proc.get("ci") != ci:
            continue
        found.append(proc)
    return found


def _proc_text(procs):
    return ", ".join("pid %d (%s)" % (p["pid"], p.get("name", "?")) for p in procs)


def _action(gpu, kind, text, **extra):
    item = {"gpu": gpu["index"], "uuid": gpu.get("uuid"), "action": kind, "description": text}
    item.update(extra)
    return item


def _profile_by_name(gpu, name):
    for profile in gpu.get("profiles", []):
        if profile["name"] == name:
            return profile
    return None


def _plan_instances(gpu, wanted, processes, allow_rebuild, on_empty):
    """Actions and the predicted instances for one MIG-enabled GPU (``on_empty``: all instances are gone)."""
    existing = [] if on_empty else [dict(gi) for gi in gpu["instances"]]
    in_use_score = dict((gi["id"], len(_in_use(processes, gpu["index"], gi=gi["id"]))) for gi in existing)
    existing.sort(key=lambda gi: (-in_use_score.get(gi["id"], 0), gi["id"]))
    remaining = list(existing)
    missing = []
    kept = []
    # Exact matches first, then same GPU instance profile (reshaped), then new.
    for key in wanted:
        match = None
        for gi in remaining:
            if instance_key(gi["profile"], [c["slices"] for c in gi["compute_instances"]]) == key:
                match = gi
                break
        if match is not None:
            remaining.remove(match)
            kept.append((match, key, False))
        else:
            missing.append(key)
    still_missing = []
    for key in missing:
        match = None
        for gi in remaining:
            if gi["profile"] == key[0]:
                match = gi
                break
        if match is not None:
            remaining.remove(match)
            kept.append((match, key, True))
        else:
            still_missing.append(key)
    destroyed = remaining

    counts = {}
    for key in wanted:
        counts[key[0]] = counts.get(key[0], 0) + 1
    for name, count in sorted(counts.items()):
        profile = _profile_by_name(gpu, name)
        if profile is not None and count > profile["total"]:
            raise MigError("GPU %d (%s) can hold at most %d GPU instance(s) of profile %s; %d are declared"
                           % (gpu["index"], gpu.get("uuid", ""), profile["total"], name, count))

    new_ids = []
    for key in still_missing:
        profile = _profile_by_name(gpu, key[0])
        if profile is None:
            raise MigError("MIG profile '%s' is not known on GPU %d (%s); nvidia-smi mig -lgip lists: %s"
                           % (key[0], gpu["index"], gpu.get("uuid", ""),
                              ", ".join(p["name"] for p in gpu.get("profiles", [])) or "nothing"))
        new_ids.append(profile["id"])
    placements = gpu.get("placements") or {}
    starts = [None] * len(new_ids)
    if new_ids and all(pid in placements for pid in new_ids):
        occupied = set()
        for gi, dummy_key, dummy_reshape in kept:
            occupied |= _slots(gi["start"], gi["size"])
        assigned = _assign_placements(new_ids, placements, occupied)
        if assigned is None:
            if allow_rebuild and kept:
                acts, after, dummy = _plan_instances(gpu, wanted, processes, allow_rebuild=False, on_empty=True)
                return _destroy_all(gpu, existing) + acts, after, sorted(existing, key=lambda g: g["id"])
            raise MigError(
                "GPU %d (%s): the new GPU instances (%s) do not fit next to the instances that stay (%s)%s"
                % (gpu["index"], gpu.get("uuid", ""), ", ".join(k[0] for k in still_missing),
                   ", ".join("%s at %d:%d" % (gi["profile"], gi["start"], gi["size"]) for gi, k, r in kept),
                   "; set allow_rebuild to recreate all instances of this GPU" if kept else
                   "; this layout does not fit on the GPU"))
        starts = assigned

    actions = []
    after = []
    # 1. compute instances of destroyed GPU instances and surplus compute instances of reshaped ones.
    for gi in sorted(destroyed, key=lambda g: g["id"]):
        for ci in gi["compute_instances"]:
            actions.append(_action(gpu, "destroy_ci", "destroy compute instance %d (%s) of GPU instance %d on GPU %d"
                                   % (ci["id"], ci["profile"], gi["id"], gpu["index"]), gi=gi["id"], ci=ci["id"]))
    reshaped_new = []
    for gi, key, reshape in kept:
        cis = list(gi["compute_instances"])
        if not reshape:
            after.append(gi)
            continue
        want = list(key[1])
        keep_cis = []
        cis.sort(key=lambda c: (-len(_in_use(processes, gpu["index"], gi=gi["id"], ci=c["id"])), c["id"]))
        for ci in cis:
            if ci["slices"] in want:
                want.remove(ci["slices"])
                keep_cis.append(ci)
            else:
                actions.append(_action(gpu, "destroy_ci", "destroy compute instance %d (%s) of GPU instance %d on GPU %d"
                                       % (ci["id"], ci["profile"], gi["id"], gpu["index"]), gi=gi["id"], ci=ci["id"]))
        reshaped_new.append((gi, sorted(want, reverse=True), keep_cis))
    # 2. the destroyed GPU instances.
    for gi in sorted(destroyed, key=lambda g: g["id"]):
        actions.append(_action(gpu, "destroy_gi", "destroy GPU instance %d (%s at %d:%d) on GPU %d"
                               % (gi["id"], gi["profile"], gi["start"], gi["size"], gpu["index"]), gi=gi["id"]))
    # 3. new compute instances in reshaped GPU instances.
    for gi, want, keep_cis in reshaped_new:
        if want:
            actions.append(_action(gpu, "create_ci", "create compute instance(s) %s in GPU instance %d on GPU %d"
                                   % (", ".join(ci_name(s, gi["profile"]) for s in want), gi["id"], gpu["index"]),
                                   gi=gi["id"], slices=want, ci_profile_ids=[CI_PROFILE_IDS[s] for s in want]))
        new_gi = dict(gi)
        new_gi["compute_instances"] = keep_cis + [
            {"id": None, "slices": s, "profile": ci_name(s, gi["profile"]), "profile_id": CI_PROFILE_IDS[s]}
            for s in want]
        after.append(new_gi)
    # 4. new GPU instances, largest first (the driver's own advice for A100 geometries).
    order = sorted(range(len(still_missing)), key=lambda i: (
        -(placements[new_ids[i]]["size"] if new_ids[i] in placements else gi_slices(still_missing[i][0])),
        new_ids[i], starts[i] if starts[i] is not None else -1))
    for i in order:
        profile, slices = still_missing[i]
        default_ci = list(slices) == [gi_slices(profile)]
        size = placements[new_ids[i]]["size"] if new_ids[i] in placements else None
        where = " at %d:%d" % (starts[i], size) if starts[i] is not None else ""
        cis_text = "its full compute instance" if default_ci else "compute instances " + ", ".join(
            ci_name(s, profile) for s in slices)
        actions.append(_action(
            gpu, "create_gi", "create GPU instance %s%s with %s on GPU %d" % (profile, where, cis_text, gpu["index"]),
            profile=profile, profile_id=new_ids[i], start=starts[i], default_ci=default_ci, slices=list(slices),
            ci_profile_ids=[CI_PROFILE_IDS[s] for s in slices]))
        after.append({"id": None, "profile": profile, "profile_id": new_ids[i], "start": starts[i], "size": size,
                      "compute_instances": [{"id": None, "slices": s, "profile": ci_name(s, profile),
                                             "profile_id": CI_PROFILE_IDS[s]} for s in slices]})
    return actions, after, destroyed


def _destroy_all(gpu, instances):
    """Actions that destroy ``instances`` (all compute instances first, then the GPU instances)."""
    actions = []
    instances = sorted(instances, key=lambda g: g["id"])
    for gi in instances:
        for ci in gi["compute_instances"]:
            actions.append(_action(gpu, "destroy_ci", "destroy compute instance %d (%s) of GPU instance %d on GPU %d"
                                   % (ci["id"], ci["profile"], gi["id"], gpu["index"]), gi=gi["id"], ci=ci["id"]))
    for gi in instances:
        actions.append(_action(gpu, "destroy_gi", "destroy GPU instance %d (%s at %d:%d) on GPU %d"
                               % (gi["id"], gi["profile"], gi["start"], gi["size"], gpu["index"]), gi=gi["id"]))
    return actions


def _check_in_use(gpu, actions, processes, force, warnings):
    """Refuse (or, with ``force``, warn about) actions that take instances or the GPU from running processes."""
    if processes is None:
        return
    problems = []
    for act in actions:
        if act["gpu"] != gpu["index"]:
            continue
        if act["action"] == "destroy_ci":
            procs = _in_use(processes, gpu["index"], gi=act["gi"], ci=act["ci"])
        elif act["action"] == "destroy_gi":
            procs = _in_use(processes, gpu["index"], gi=act["gi"])
        elif act["action"] in ("enable_mig", "disable_mig"):
            procs = _in_use(processes, gpu["index"])
        else:
            continue
        if procs:
            problems.append("%s: used by %s" % (act["description"], _proc_text(procs)))
    if not problems:
        return
    if not force:
        raise MigError("refusing to change MIG on GPU %d (%s) under running processes (set force to try anyway; "
                       "the driver may still refuse an instance in use): %s"
                       % (gpu["index"], gpu.get("uuid", ""), "; ".join(problems)))
    warnings.extend("force: %s" % p for p in problems)


def plan(state, declarations, force=False, allow_rebuild=False):
    """The ordered actions that bring ``state`` to ``declarations``.

    A declaration: ``gpu`` (``all``, an index, a UUID or a PCI bus id),
    ``mig`` (bool), ``instances`` (see :func:`normalize_instances`; omitted
    or ``None`` leaves the instances alone). Returns a dict:

    * ``actions``: dicts with ``gpu``, ``action`` (``destroy_ci``,
      ``destroy_gi``, ``disable_mig``, ``enable_mig``, ``create_ci``,
      ``create_gi``), ``description`` and the action's arguments, per GPU in
      that order;
    * ``after``: the predicted state (new instances have ``id`` ``None``);
    * ``reset_required``: GPUs whose mode change waits for a GPU reset or
      reboot (pending differs from current), with ``reason``;
    * ``warnings``: what ``force`` let through;
    * ``destroyed``: GPU instances that go away, with the GPU index.

    Raises ``MigError`` for a declaration that cannot be met, and for
    instances in use by processes (``state["processes"]``) unless ``force``.
    """
    chosen = resolve_declarations(state, declarations)
    actions = []
    reset_required = []
    warnings = []
    destroyed_all = []
    after_gpus = []
    processes = state.get("processes")
    for gpu in state["gpus"]:
        decl = chosen.get(gpu["index"])
        after = dict(gpu)
        after["instances"] = list(gpu["instances"])
        if decl is None:
            after_gpus.append(after)
            continue
        want_mig = decl.get("mig", True)
        if not isinstance(want_mig, bool):
            raise MigError("gpus: mig must be true or false, not %r" % (want_mig,))
        wanted = normalize_instances(decl.get("instances"), gpu)
        if wanted and not want_mig:
            raise MigError("GPU %d: instances are declared but mig is false" % gpu["index"])
        gpu_actions = []
        label = "GPU %d (%s)" % (gpu["index"], gpu.get("uuid", ""))
        if not gpu.get("mig_supported"):
            if want_mig:
                raise MigError("%s does not support MIG (nvidia-smi reports mig.mode.current as N/A)" % label)
            after_gpus.append(after)
            continue
        current, pending = gpu["mig_current"], gpu["mig_pending"]
        if want_mig:
            if current == DISABLED and pending == ENABLED:
                reset_required.append({"gpu": gpu["index"], "uuid": gpu.get("uuid"),
                                       "reason": "MIG mode is pending Enabled: reset the GPU (nvidia-smi -r -i %d) "
                                                 "or reboot, then run again to create the instances" % gpu["index"]})
                after_gpus.append(after)
                continue
            on_empty = False
            if current == DISABLED:
                gpu_actions.append(_action(gpu, "enable_mig", "enable MIG mode on GPU %d" % gpu["index"]))
                after["mig_current"] = after["mig_pending"] = ENABLED
                on_empty = True
            elif pending == DISABLED:
                gpu_actions.append(_action(gpu, "enable_mig", "cancel the pending MIG disable on GPU %d"
                                           % gpu["index"]))
                after["mig_pending"] = ENABLED
            if wanted is not None:
                inst_actions, inst_after, destroyed = _plan_instances(gpu, wanted, processes, allow_rebuild, on_empty)
                gpu_actions.extend(inst_actions)
                after["instances"] = inst_after
                destroyed_all.extend(dict(gi, gpu=gpu["index"]) for gi in destroyed)
        else:
            if current == ENABLED:
                gpu_actions.extend(_destroy_all(gpu, gpu["instances"]))
                destroyed_all.extend(dict(gi, gpu=gpu["index"]) for gi in gpu["instances"])
                after["instances"] = []
                if pending == DISABLED:
                    reset_required.append({"gpu": gpu["index"], "uuid": gpu.get("uuid"),
                                           "reason": "MIG mode is pending Disabled: reset the GPU (nvidia-smi -r -i %d) "
                                                     "or reboot" % gpu["index"]})
                else:
                    gpu_actions.append(_action(gpu, "disable_mig", "disable MIG mode on GPU %d" % gpu["index"]))
                    after["mig_current"] = after["mig_pending"] = DISABLED
            elif pending == ENABLED:
                gpu_actions.append(_action(gpu, "disable_mig", "cancel the pending MIG enable on GPU %d"
                                           % gpu["index"]))
                after["mig_pending"] = DISABLED
        _check_in_use(gpu, gpu_actions, processes, force, warnings)
        rank = {"destroy_ci": 0, "destroy_gi": 1, "disable_mig": 2, "enable_mig": 3, "create_ci": 4, "create_gi": 5}
        gpu_actions.sort(key=lambda a: rank[a["action"]])  # stable: keeps the planned order inside each kind
        actions.extend(gpu_actions)
        after_gpus.append(after)
    return {"actions": actions, "after": {"gpus": after_gpus, "processes": processes},
            "reset_required": reset_required, "warnings": warnings, "destroyed": destroyed_all}


def needs_processes(actions):
    """True when ``actions`` destroy an instance or change a mode, so running processes must be checked."""
    return any(a["action"] in ("destroy_ci", "destroy_gi", "enable_mig", "disable_mig") for a in actions)


def unmet(state, declarations, skip=()):
    """What in ``state`` still differs from ``declarations`` (empty list when all is met); ``skip``: GPU indexes."""
    chosen = resolve_declarations(state, declarations)
    problems = []
    for gpu in state["gpus"]:
        decl = chosen.get(gpu["index"])
        if decl is None or gpu["index"] in skip:
            continue
        want_mig = decl.get("mig", True)
        mode = ENABLED if want_mig else DISABLED
        if gpu.get("mig_supported") and gpu.get("mig_current") != mode:
            problems.append("GPU %d: MIG is %s, declared %s" % (gpu["index"], gpu.get("mig_current"), mode))
            continue
        wanted = normalize_instances(decl.get("instances"), gpu) if want_mig else None
        if wanted is not None and layout_of(gpu) != wanted:
            problems.append("GPU %d: instances %s, declared %s" % (gpu["index"], layout_of(gpu), wanted))
    return problems


# ---------------------------------------------------------------- commands

def command(act, gi=None):
    """nvidia-smi arguments (without the program) for one action; ``gi`` fills a new GPU instance's id."""
    index = str(act["gpu"])
    kind = act["action"]
    if kind == "destroy_ci":
        return ["mig", "-i", index, "-gi", str(act["gi"]), "-ci", str(act["ci"]), "-dci"]
    if kind == "destroy_gi":
        return ["mig", "-i", index, "-gi", str(act["gi"]), "-dgi"]
    if kind == "enable_mig":
        return ["-i", index, "-mig", "1"]
    if kind == "disable_mig":
        return ["-i", index, "-mig", "0"]
    if kind == "create_ci":
        return ["mig", "-i", index, "-gi", str(act["gi"] if gi is None else gi), "-cci",
                ",".join(str(p) for p in act["ci_profile_ids"])]
    if kind == "create_gi":
        tuple_ = str(act["profile_id"]) if act.get("start") is None else "%d:%d" % (act["profile_id"], act["start"])
        argv = ["mig", "-i", index, "-cgi", tuple_]
        if act["default_ci"]:
            argv.append("-C")
        return argv
    raise MigError("unknown action %r" % kind)


def gather(run, gpus_with_mig=None, with_processes=False):
    """Read the state with as few nvidia-smi calls as needed; ``run(argv) -> (rc, out, err)``.

    One ``--query-gpu`` call always; ``mig -lgip``, ``-lgipp``, ``-lgi`` and
    ``-lci`` (one call each, for all GPUs) only when a GPU that supports MIG
    has it (current or pending) or is in ``gpus_with_mig`` (indexes, or
    ``True`` for every GPU); the process table only with ``with_processes``.
    """
    rc, out, err = run(["--query-gpu=" + GPU_QUERY_FIELDS, "--format=csv,noheader"])
    if rc != 0:
        raise MigCommandError("nvidia-smi --query-gpu failed (rc=%d): %s" % (rc, (err or out).strip()))
    query = parse_gpu_query(out)
    if gpus_with_mig is True:
        wanted = set(g["index"] for g in query)
    else:
        wanted = set(gpus_with_mig or [])
    need_mig = any(g["mig_supported"] and (g["mig_current"] == ENABLED or g["mig_pending"] == ENABLED
                                           or g["index"] in wanted) for g in query)
    parsed = {}
    if need_mig:
        for key, argv, parser in (("profiles", ["mig", "-lgip"], parse_gi_profiles),
                                  ("placements", ["mig", "-lgipp"], parse_gi_placements),
                                  ("gpu_instances", ["mig", "-lgi"], parse_gpu_instances),
                                  ("compute_instances", ["mig", "-lci"], parse_compute_instances)):
            rc, out, err = run(argv)
            text = out + err
            if rc != 0 and not no_mig_devices(text) and "No GPU instances found" not in text \
                    and "No compute instances found" not in text:
                raise MigCommandError("nvidia-smi %s failed (rc=%d): %s" % (" ".join(argv), rc, text.strip()))
            parsed[key] = parser(out)
    processes = None
    if with_processes:
        rc, out, err = run([])
        if rc != 0:
            raise MigCommandError("nvidia-smi failed (rc=%d): %s" % (rc, (err or out).strip()))
        processes = parse_processes(out)
    return build_state(query, processes=processes, **parsed)


def apply_plan(result, run):
    """Run ``result["actions"]`` in order; returns ``{"commands": [...], "reset_required": [...]}``.

    After enabling or disabling MIG on a GPU its mode is read again; when
    the change is only pending (a GPU reset or reboot is needed) the GPU's
    remaining actions are skipped and the GPU is reported, never reset.
    """
    done = []
    reset_required = []
    skipped = set()
    new_gi = {}
    for position, act in enumerate(result["actions"]):
        if act["gpu"] in skipped:
            continue
        argv = command(act)
        rc, out, err = run(argv)
        done.append("nvidia-smi " + " ".join(argv))
        if rc != 0:
            raise MigCommandError("'nvidia-smi %s' (%s) failed with rc=%d: %s"
                                  % (" ".join(argv), act["description"], rc, (err or out).strip()), done)
        if act["action"] == "create_gi" and not act["default_ci"]:
            ids = parse_created_gpu_instances(out)
            if len(ids) != 1:
                raise MigCommandError("could not read the new GPU instance id from 'nvidia-smi %s': %s"
                                      % (" ".join(argv), out.strip()), done)
            new_gi[position] = ids[0]
            argv = command(dict(act, action="create_ci"), gi=ids[0])
            rc, out, err = run(argv)
            done.append("nvidia-smi " + " ".join(argv))
            if rc != 0:
                raise MigCommandError("'nvidia-smi %s' (compute instances of the new GPU instance %d) failed with "
                                      "rc=%d: %s" % (" ".join(argv), ids[0], rc, (err or out).strip()), done)
        if act["action"] in ("enable_mig", "disable_mig"):
            rc, out, err = run(["-i", str(act["gpu"]), "--query-gpu=" + GPU_QUERY_FIELDS, "--format=csv,noheader"])
            if rc != 0:
                raise MigCommandError("nvidia-smi --query-gpu failed after '%s' (rc=%d): %s"
                                      % (act["description"], rc, (err or out).strip()), done)
            rows = parse_gpu_query(out)
            row = rows[0] if rows else {}
            if row.get("mig_current") != row.get("mig_pending"):
                reset_required.append({"gpu": act["gpu"], "uuid": act.get("uuid"),
                                       "reason": "MIG mode is pending %s: reset the GPU (nvidia-smi -r -i %d) or "
                                                 "reboot; instances are created on the next run"
                                                 % (row.get("mig_pending"), act["gpu"])})
                skipped.add(act["gpu"])
    return {"commands": done, "reset_required": reset_required}
