# -*- coding: utf-8 -*-
"""_mig.py: parsers over the real H200/H100 captures and the composed MIG fixtures; planner cases."""
import json
import os
import sys

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _mig as mig

MIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "mig")
H200 = "h200-driver580-mig-disabled"
sys.path.insert(0, MIG)
from stand_in_nvidia_smi import SimulatedGpus  # noqa: E402  (stand-in nvidia-smi, a test tool)


def load(*parts):
    """A framed fixture (``$ command`` first line, ``[rc=N]`` last) -> raw output."""
    with open(os.path.join(MIG, *parts)) as handle:
        lines = handle.read().split("\n")
    if lines[-1] == "":
        lines.pop()
    assert lines[0].startswith("$ ") and lines[-1].startswith("[rc="), parts
    return "".join(line + "\n" for line in lines[1:-1])


def composed_state(name, with_processes=True):
    query = mig.parse_gpu_query(load("composed", name, "smi-query.txt"))
    return mig.build_state(
        query,
        profiles=mig.parse_gi_profiles(load("composed", name, "smi-mig-lgip.txt")),
        placements=mig.parse_gi_placements(load("composed", name, "smi-mig-lgipp.txt")),
        gpu_instances=mig.parse_gpu_instances(load("composed", name, "smi-mig-lgi.txt")),
        compute_instances=mig.parse_compute_instances(load("composed", name, "smi-mig-lci.txt")),
        processes=mig.parse_processes(load("composed", name, "smi-default.txt")) if with_processes else None)


def h200_query():
    """The real datacenter query row cut to GPU_QUERY_FIELDS (index, uuid, bus id, MIG current, pending)."""
    fields = [f.strip() for f in load(H200, "smi-query-datacenter.txt").strip().split(",")]
    return ", ".join(fields[0:3] + fields[4:6]) + "\n"


def h200_state():
    return mig.build_state(
        mig.parse_gpu_query(h200_query()),
        profiles=mig.parse_gi_profiles(load(H200, "smi-mig-lgip.txt")),
        placements=mig.parse_gi_placements(load(H200, "smi-mig-lgipp.txt")),
        gpu_instances=mig.parse_gpu_instances(load(H200, "smi-mig-lgi.txt")),
        compute_instances=mig.parse_compute_instances(load(H200, "smi-mig-lci.txt")),
        processes=[])


# ---------------------------------------------------------------- real captures

def test_h200_profiles_with_mig_disabled():
    profiles = mig.parse_gi_profiles(load(H200, "smi-mig-lgip.txt"))
    assert list(profiles) == [0]
    names = [(p["name"], p["id"], p["free"], p["total"], p["slices"]) for p in profiles[0]]
    assert names == [("1g.18gb", 19, 7, 7, 1), ("1g.18gb+me", 20, 1, 1, 1), ("1g.35gb", 15, 4, 4, 1),
                     ("2g.35gb", 14, 3, 3, 2), ("3g.71gb", 9, 2, 2, 3), ("4g.71gb", 5, 1, 1, 4),
                     ("7g.141gb", 0, 1, 1, 7)]
    full = profiles[0][-1]
    assert (full["memory_gib"], full["sm"], full["dec"], full["ce"], full["jpeg"], full["ofa"]) == \
        ("140.00", 132, 7, 8, 7, 1)


def test_h200_placements():
    placements = mig.parse_gi_placements(load(H200, "smi-mig-lgipp.txt"))
    assert placements == {0: {19: {"starts": [0, 1, 2, 3, 4, 5, 6], "size": 1},
                              20: {"starts": [0, 1, 2, 3, 4, 5, 6], "size": 1},
                              15: {"starts": [0, 2, 4, 6], "size": 2},
                              14: {"starts": [0, 2, 4], "size": 2},
                              9: {"starts": [0, 4], "size": 4},
                              5: {"starts": [0], "size": 4},
                              0: {"starts": [0], "size": 8}}}


def test_h200_no_mig_devices():
    for name in ("smi-mig-lgi.txt", "smi-mig-lci.txt", "smi-mig-lcip.txt"):
        text = load(H200, name)
        assert mig.no_mig_devices(text)
    assert mig.parse_gpu_instances(load(H200, "smi-mig-lgi.txt")) == {}
    assert mig.parse_compute_instances(load(H200, "smi-mig-lci.txt")) == {}


def test_h200_query_and_empty_compute_apps():
    assert mig.parse_gpu_query(h200_query()) == [{
        "index": 0, "uuid": "GPU-9ae030a0-5e59-ba6a-5dfb-1b44b8eb7d2c", "bus_id": "00000000:00:06.0",
        "mig_current": "Disabled", "mig_pending": "Disabled", "mig_supported": True}]
    assert mig.parse_compute_apps(load(H200, "smi-compute-apps.txt")) == []
    assert "gpu_instance" not in load(H200, "smi-help-query-compute-apps.txt")


def test_h100_process_table_without_processes():
    assert mig.parse_processes(load("h100-driver580-nvsmi-default.txt")) == []


def test_h200_plan_enable_and_layout_from_real_profiles():
    state = h200_state()
    result = mig.plan(state, [{"gpu": "all", "mig": True, "instances": ["3g.71gb", {"profile": "2g.35gb", "count": 2}]}])
    assert [a["action"] for a in result["actions"]] == ["enable_mig", "create_gi", "create_gi", "create_gi"]
    creates = [a for a in result["actions"] if a["action"] == "create_gi"]
    # 2g.35gb can only start at 0, 2 or 4: the 3g.71gb has to take 4:4
    assert [mig.command(a) for a in creates][0] == ["mig", "-i", "0", "-cgi", "9:4", "-C"]
    starts = sorted(a["start"] for a in creates)
    assert starts == [0, 2, 4]
    assert mig.command(result["actions"][0]) == ["-i", "0", "-mig", "1"]


def test_h200_unknown_profile_names_the_real_ones():
    with pytest.raises(mig.MigError) as err:
        mig.plan(h200_state(), [{"gpu": 0, "instances": ["3g.40gb"]}])
    assert "3g.40gb" in str(err.value) and "3g.71gb" in str(err.value) and "GPU 0" in str(err.value)


# ---------------------------------------------------------------- composed fixtures

def test_composed_a100_instances_and_processes():
    state = composed_state("a100-40gb-3g-3g-in-use")
    gpu = state["gpus"][0]
    assert [(g["id"], g["profile"], g["start"], g["size"]) for g in gpu["instances"]] == \
        [(1, "3g.20gb", 4, 4), (2, "3g.20gb", 0, 4)]
    assert [c["slices"] for c in gpu["instances"][0]["compute_instances"]] == [3]
    assert state["processes"] == [
        {"gpu": 0, "gi": 1, "ci": 0, "pid": 58866, "type": "C", "name": "./BlackScholes", "memory": "253MiB"},
        {"gpu": 0, "gi": 2, "ci": 0, "pid": 58856, "type": "C", "name": "./BlackScholes", "memory": "253MiB"}]
    assert mig.layout_of(gpu) == [("3g.20gb", (3,)), ("3g.20gb", (3,))]


def test_composed_h100_compute_instance_split():
    state = composed_state("h100-80gb-ci-split")
    gpu = state["gpus"][0]
    gi1 = [g for g in gpu["instances"] if g["id"] == 1][0]
    assert [(c["id"], c["profile"], c["slices"]) for c in gi1["compute_instances"]] == \
        [(0, "1c.3g.40gb", 1), (1, "1c.3g.40gb", 1), (2, "1c.3g.40gb", 1)]
    assert [(p["gi"], p["ci"], p["pid"], p["type"]) for p in state["processes"]] == \
        [(1, 0, 3805, "C"), (1, 2, 3817, "M+C"), (9, 0, 3819, "C")]
    assert "1c.3g.40gb" in mig.describe_layout(gpu)


def test_composed_three_gpus_modes():
    state = composed_state("a100-40gb-3-2-1-1")
    assert [(g["index"], g["mig_current"], g["mig_pending"]) for g in state["gpus"]] == \
        [(0, "Enabled", "Enabled"), (1, "Disabled", "Enabled"), (2, "Disabled", "Disabled")]
    assert mig.layout_of(state["gpus"][0]) == [("1g.5gb", (1,)), ("1g.5gb", (1,)), ("2g.10gb", (2,)),
                                               ("3g.20gb", (3,))]


def test_in_use_instances_are_not_destroyed_without_force():
    state = composed_state("a100-40gb-3g-3g-in-use")
    with pytest.raises(mig.MigError) as err:
        mig.plan(state, [{"gpu": 0, "instances": ["4g.20gb", "3g.20gb"]}])
    message = str(err.value)
    assert "pid 58866" in message or "pid 58856" in message
    assert "force" in message


def test_force_lets_in_use_destruction_through_with_a_warning():
    state = composed_state("a100-40gb-3g-3g-in-use")
    result = mig.plan(state, [{"gpu": 0, "instances": ["4g.20gb", "3g.20gb"]}], force=True)
    assert result["warnings"]
    destroyed = [a for a in result["actions"] if a["action"] == "destroy_gi"]
    assert len(destroyed) == 1
    # the 3g.20gb at 4:4 stays, the one at 0:4 makes room for the 4g.20gb ({0}:4)
    assert destroyed[0]["gi"] == 2
    create = [a for a in result["actions"] if a["action"] == "create_gi"]
    assert [(a["profile"], a["start"]) for a in create] == [("4g.20gb", 0)]


def test_keep_the_instance_in_use_when_one_of_two_goes():
    state = composed_state("a100-40gb-3g-3g-in-use")
    state["processes"] = [p for p in state["processes"] if p["gi"] == 2]
    result = mig.plan(state, [{"gpu": 0, "instances": ["3g.20gb"]}])
    assert [(a["action"], a.get("gi")) for a in result["actions"]] == [("destroy_ci", 1), ("destroy_gi", 1)]


def test_target_state_gives_empty_plan():
    state = composed_state("a100-40gb-3-2-1-1")
    decl = [{"gpu": 0, "instances": ["3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"]}]
    assert mig.plan(state, decl)["actions"] == []
    assert mig.unmet(state, decl) == []


def test_pending_enable_is_reported_not_forced():
    state = composed_state("a100-40gb-3-2-1-1")
    result = mig.plan(state, [{"gpu": 1, "mig": True, "instances": ["7g.40gb"]}])
    assert result["actions"] == []
    assert result["reset_required"][0]["gpu"] == 1
    assert "reset" in result["reset_required"][0]["reason"]


def test_disable_destroys_everything_then_mode():
    state = composed_state("a100-40gb-3-2-1-1")
    result = mig.plan(state, [{"gpu": "GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77", "mig": False}])
    kinds = [a["action"] for a in result["actions"]]
    assert kinds == ["destroy_ci"] * 4 + ["destroy_gi"] * 4 + ["disable_mig"]


def test_reshape_compute_instances_in_place():
    state = composed_state("h100-80gb-ci-split", with_processes=False)
    decl = [{"gpu": 0, "instances": [{"profile": "3g.40gb", "compute_instances": ["1c.3g.40gb", "2c.3g.40gb"]},
                                     {"profile": "1g.10gb", "count": 2}]}]
    result = mig.plan(state, decl)
    assert [(a["action"], a.get("gi"), a.get("ci")) for a in result["actions"]] == \
        [("destroy_ci", 1, 1), ("destroy_ci", 1, 2), ("create_ci", 1, None)]
    assert mig.command(result["actions"][-1]) == ["mig", "-i", "0", "-gi", "1", "-cci", "1"]


def test_reshape_refused_when_the_compute_instance_is_in_use():
    state = composed_state("h100-80gb-ci-split")
    decl = [{"gpu": 0, "instances": [{"profile": "3g.40gb", "compute_instances": ["1c", "1c"]},
                                     {"profile": "1g.10gb", "count": 2}]}]
    result = mig.plan(state, decl)
    # CI 0 and CI 2 are used by processes: CI 1 is the one destroyed
    assert [(a["action"], a.get("gi"), a.get("ci")) for a in result["actions"]] == [("destroy_ci", 1, 1)]


def test_does_not_fit_next_to_kept_instances_and_allow_rebuild():
    state = composed_state("a100-40gb-3-2-1-1")
    # a 1g.5gb at 0:1 and the 2g.10gb at 2:2 would stay, but a 4g.20gb needs {0}:4
    decl = [{"gpu": 0, "instances": ["1g.5gb", "2g.10gb", "4g.20gb"]}]
    with pytest.raises(mig.MigError) as err:
        mig.plan(state, decl)
    assert "allow_rebuild" in str(err.value)
    result = mig.plan(state, decl, allow_rebuild=True)
    assert [a["action"] for a in result["actions"]].count("destroy_gi") == 4
    assert [(a["profile"], a["start"]) for a in result["actions"] if a["action"] == "create_gi"] == \
        [("4g.20gb", 0), ("2g.10gb", 4), ("1g.5gb", 6)]
    sim = SimulatedGpus(_sim_state(state))
    mig.apply_plan(result, sim.run)
    after = mig.gather(sim.run)
    assert mig.unmet(after, decl) == []


def test_declaration_errors():
    state = composed_state("a100-40gb-3-2-1-1")
    for decl, text in (
            ([{"gpu": 7}], "no GPU matches"),
            ([{"gpu": 0}, {"gpu": "00000000:07:00.0"}], "already declared"),
            ([{"gpu": 0, "instances": [{"profile": "3g.20gb", "compute_instances": ["2c", "2c"]}]}], "need 4 slices"),
            ([{"gpu": 0, "instances": [{"profile": "1g.5gb", "count": 8}]}], "at most 7"),
            ([{"gpu": 0, "instances": ["3g.20gb"], "mig": False}], "mig is false"),
            ([{"gpu": 0, "instances": [{"profile": "3g.20gb", "compute_instances": ["1c.2g.10gb"]}]}],
             "does not belong"),
            ([{"gpu": 0, "instances": ["three"]}], "not a GPU instance profile name")):
        with pytest.raises(mig.MigError) as err:
            mig.plan(state, decl)
        assert text in str(err.value), (decl, str(err.value))


def test_specific_declaration_wins_over_all():
    state = composed_state("a100-40gb-3-2-1-1")
    result = mig.plan(state, [{"gpu": "all", "mig": False}, {"gpu": 0, "mig": True}])
    assert all(a["gpu"] != 0 for a in result["actions"])
    assert [a["action"] for a in result["actions"]] == ["disable_mig"]  # GPU 1: cancel the pending enable


def test_ci_names():
    assert mig.ci_slices("1c.3g.40gb", "3g.40gb") == 1
    assert mig.ci_slices("3g.40gb", "3g.40gb") == 3
    assert mig.ci_slices("2c", "3g.40gb") == 2
    assert mig.ci_name(1, "3g.40gb") == "1c.3g.40gb"
    assert mig.ci_name(1, "1g.18gb+me") == "1g.18gb+me"
    with pytest.raises(mig.MigError):
        mig.ci_slices("4c.3g.40gb", "3g.40gb")


def test_process_table_of_old_drivers_without_gi_columns():
    text = ("+-----------------------------------------------------------------------------+\n"
            "| Processes:                                                       GPU Memory |\n"
            "|  GPU       PID   Type   Process name                             Usage      |\n"
            "|=============================================================================|\n"
            "|    0      1234      C   python                                      300MiB |\n"
            "+-----------------------------------------------------------------------------+\n")
    assert mig.parse_processes(text) == [{"gpu": 0, "gi": None, "ci": None, "pid": 1234, "type": "C",
                                          "name": "python", "memory": "300MiB"}]


def test_created_gpu_instance_ids():
    text = ("Successfully created GPU instance ID  2 on GPU  0 using profile MIG 3g.20gb (ID  9)\n"
            "Successfully created GPU instance ID  1 on GPU  0 using profile MIG 3g.20gb (ID  9)\n")
    assert mig.parse_created_gpu_instances(text) == [2, 1]


# ---------------------------------------------------------------- stand-in round trip

def _sim_state(state):
    gpus = []
    for gpu in state["gpus"]:
        item = dict(gpu)
        item["placements"] = dict((str(k), v) for k, v in gpu["placements"].items())
        item["instances"] = [dict(gi, compute_instances=[{"id": c["id"], "slices": c["slices"]}
                                                         for c in gi["compute_instances"]])
                             for gi in gpu["instances"]]
        gpus.append(item)
    return json.loads(json.dumps({"gpus": gpus, "processes": state.get("processes") or []}))


@pytest.mark.parametrize("name", ["a100-40gb-3g-3g-in-use", "a100-40gb-3-2-1-1", "h100-80gb-ci-split"])
def test_stand_in_renders_what_the_parsers_read(name):
    state = composed_state(name)
    sim = SimulatedGpus(_sim_state(state))
    again = mig.gather(sim.run, with_processes=True)
    for before, after in zip(state["gpus"], again["gpus"]):
        assert mig.layout_of(before) == mig.layout_of(after)
        assert [(g["id"], g["start"]) for g in before["instances"]] == [(g["id"], g["start"]) for g in after["instances"]]
        assert [(p["name"], p["id"], p["total"]) for p in before["profiles"]] == \
            [(p["name"], p["id"], p["total"]) for p in after["profiles"]] or not before["profiles"]
    assert [(p["gpu"], p["gi"], p["ci"], p["pid"]) for p in state["processes"]] == \
        [(p["gpu"], p["gi"], p["ci"], p["pid"]) for p in again["processes"]]


def test_gather_calls_only_query_when_no_gpu_has_mig():
    state = h200_state()
    sim = SimulatedGpus(_sim_state(state))
    mig.gather(sim.run)
    assert len(sim.calls) == 1
    mig.gather(sim.run, gpus_with_mig=[0])
    assert len(sim.calls) == 1 + 5


# The command forms against `nvidia-smi mig -h` of the real H200 host (driver
# 580.159.04): every option the planner emits is one the help lists, and
# -cgi takes "profile name or ID and an optional placement specifier".
MIG_HELP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "mig",
                        "h200-driver580-mig-disabled", "smi-mig-help.txt")


@pytest.mark.parametrize("act", [
    {"action": "destroy_ci", "gpu": 0, "gi": 1, "ci": 0},
    {"action": "destroy_gi", "gpu": 0, "gi": 1},
    {"action": "create_ci", "gpu": 0, "gi": 1, "ci_profile_ids": [0, 1]},
    {"action": "create_gi", "gpu": 0, "profile_id": 9, "start": 4, "default_ci": True},
    {"action": "create_gi", "gpu": 0, "profile_id": 19, "start": None, "default_ci": False},
])
def test_command_options_are_in_the_real_mig_help(act):
    with open(MIG_HELP) as handle:
        help_text = handle.read()
    argv = mig.command(act)
    assert argv[0] == "mig"
    for option in (a for a in argv[1:] if a.startswith("-")):
        assert "[%s |" % option in help_text, option
    if act["action"] == "create_gi":
        assert "optional placement" in help_text and "colon and a placement start index" in help_text
        assert argv[argv.index("-cgi") + 1] == ("9:4" if act["start"] is not None else "19")
