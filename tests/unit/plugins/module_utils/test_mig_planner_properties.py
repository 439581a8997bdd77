# -*- coding: utf-8 -*-
"""Property tests of the MIG planner against a simulated GPU (the stand-in nvidia-smi, in-process).

GPUs: the real H200 profiles and placements (captured with MIG disabled) and
the A100-40GB ones of NVIDIA's MIG User Guide (composed fixture).
"""
import os
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _mig as mig

MIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "mig")
sys.path.insert(0, MIG)
from stand_in_nvidia_smi import SimulatedGpus  # noqa: E402  (stand-in nvidia-smi, a test tool)


def _load(*parts):
    with open(os.path.join(MIG, *parts)) as handle:
        lines = handle.read().split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\n" for line in lines[1:-1])


def _gpu_model(directory):
    profiles = mig.parse_gi_profiles(_load(directory, "smi-mig-lgip.txt"))[0]
    placements = mig.parse_gi_placements(_load(directory, "smi-mig-lgipp.txt"))[0]
    return [dict(p) for p in profiles], dict((str(k), v) for k, v in placements.items())


MODELS = {
    "h200": _gpu_model("h200-driver580-mig-disabled"),
    "a100": _gpu_model(os.path.join("composed", "a100-40gb-3g-3g-in-use")),
}
CI_SIZES = (1, 2, 3, 4, 7)


def _splits(g):
    """Strategy: compute instance sizes of one GPU instance with ``g`` slices (None: the full one)."""
    return st.one_of(st.none(), st.lists(st.sampled_from([s for s in CI_SIZES if s <= g]), min_size=1, max_size=g)
                     .filter(lambda xs: sum(xs) <= g))


@st.composite
def layouts(draw, model):
    """A layout that fits an empty GPU: created one by one on a simulated GPU, failures skipped."""
    profiles, placements = MODELS[model]
    sim = SimulatedGpus({"gpus": [_empty_gpu(model, "Enabled")], "processes": []})
    picks = draw(st.lists(st.sampled_from([p["name"] for p in profiles]), max_size=8))
    result = []
    for name in picks:
        rc, out, err = sim.run(["mig", "-i", "0", "-cgi", name])
        if rc != 0:
            continue
        g = mig.gi_slices(name)
        split = draw(_splits(g))
        result.append((name, split))
    return result


def _empty_gpu(model, mode):
    profiles, placements = MODELS[model]
    return {"index": 0, "uuid": "GPU-00000000-0000-0000-0000-000000000000", "bus_id": "00000000:36:00.0",
            "mig_current": mode, "mig_pending": mode, "mig_supported": True, "mode_change": "immediate",
            "profiles": profiles, "placements": placements, "instances": []}


def _build(model, mode, layout):
    """A simulated GPU holding ``layout`` (created with the stand-in's own placement choice)."""
    sim = SimulatedGpus({"gpus": [_empty_gpu(model, "Enabled")], "processes": []})
    for name, split in layout:
        if split is None:
            assert sim.run(["mig", "-i", "0", "-cgi", name, "-C"])[0] == 0
        else:
            rc, out, err = sim.run(["mig", "-i", "0", "-cgi", name])
            assert rc == 0, err
            gi = mig.parse_created_gpu_instances(out)[0]
            ids = ",".join(str(mig.CI_PROFILE_IDS[s]) for s in split)
            assert sim.run(["mig", "-i", "0", "-gi", str(gi), "-cci", ids])[0] == 0
    if mode == "Disabled":
        gpu = sim.state["gpus"][0]
        gpu["instances"] = []
        gpu["mig_current"] = gpu["mig_pending"] = "Disabled"
    sim.calls = []
    return sim


def _declaration(layout):
    return [{"gpu": 0, "mig": True, "instances": [
        {"profile": name} if split is None else
        {"profile": name, "compute_instances": ["%dc" % s for s in split]} for name, split in layout]}]


def _keys(state):
    return mig.layout_of(state["gpus"][0])


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(sorted(MODELS)).flatmap(
    lambda m: st.tuples(st.just(m), st.sampled_from(["Enabled", "Disabled"]), layouts(m), layouts(m))))
def test_plan_reaches_the_declared_layout_and_then_is_empty(case):
    model, mode, start, wanted = case
    sim = _build(model, mode, start)
    decl = _declaration(wanted)
    state = mig.gather(sim.run, gpus_with_mig=[0], with_processes=True)
    result = mig.plan(state, decl, allow_rebuild=True)
    mig.apply_plan(result, sim.run)
    after = mig.gather(sim.run, with_processes=True)
    assert mig.unmet(after, decl) == []
    assert _keys(after) == _keys(result["after"]), "the prediction (diff) is what happened"
    again = mig.plan(after, decl)
    assert again["actions"] == [], "a plan on the target state is empty"


@SETTINGS
@given(st.sampled_from(sorted(MODELS)).flatmap(lambda m: st.tuples(st.just(m), layouts(m), layouts(m))))
def test_never_destroys_an_instance_that_stays_declared(case):
    model, start, wanted = case
    sim = _build(model, "Enabled", start)
    decl = _declaration(wanted)
    state = mig.gather(sim.run, with_processes=True)
    try:
        result = mig.plan(state, decl)
    except mig.MigError as exc:
        assert "allow_rebuild" in str(exc) or "does not fit" in str(exc)
        return
    wanted_keys = mig.normalize_instances(decl[0]["instances"])
    existing = dict((gi["id"], mig.instance_key(gi["profile"], [c["slices"] for c in gi["compute_instances"]]))
                    for gi in state["gpus"][0]["instances"])
    destroyed = [existing[a["gi"]] for a in result["actions"] if a["action"] == "destroy_gi"]
    for key in set(destroyed):
        surplus = list(existing.values()).count(key) - wanted_keys.count(key)
        assert destroyed.count(key) <= max(0, surplus), (key, destroyed, wanted_keys)
    # a GPU instance that is only reshaped keeps its id and placement
    reshaped = set(a["gi"] for a in result["actions"] if a["action"] == "create_ci")
    assert not reshaped & set(a["gi"] for a in result["actions"] if a["action"] == "destroy_gi")
    mig.apply_plan(result, sim.run)
    after = mig.gather(sim.run)
    assert mig.unmet(after, decl) == []
    kept_ids = set(existing) - set(a["gi"] for a in result["actions"] if a["action"] == "destroy_gi")
    assert kept_ids <= set(gi["id"] for gi in after["gpus"][0]["instances"])


@SETTINGS
@given(st.sampled_from(sorted(MODELS)).flatmap(
    lambda m: st.tuples(st.just(m), layouts(m), layouts(m), st.lists(st.integers(0, 20), max_size=4))))
def test_refuses_to_destroy_instances_in_use_without_force(case):
    model, start, wanted, picks = case
    sim = _build(model, "Enabled", start)
    cis = [(gi["id"], ci["id"]) for gi in sim.state["gpus"][0]["instances"] for ci in gi["compute_instances"]]
    if cis:
        sim.state["processes"] = [{"gpu": 0, "gi": cis[p % len(cis)][0], "ci": cis[p % len(cis)][1],
                                   "pid": 1000 + n, "type": "C", "name": "train", "memory": "10MiB"}
                                  for n, p in enumerate(picks)]
    busy = set((p["gi"], p["ci"]) for p in sim.state["processes"])
    busy_gi = set(p["gi"] for p in sim.state["processes"])
    decl = _declaration(wanted)
    state = mig.gather(sim.run, with_processes=True)
    try:
        result = mig.plan(state, decl, allow_rebuild=True)
    except mig.MigError as exc:
        assert "refusing" in str(exc) or "does not fit" in str(exc), str(exc)
        if "refusing" in str(exc):
            assert "force" in str(exc) and "pid 10" in str(exc)
        return
    for act in result["actions"]:
        if act["action"] == "destroy_ci":
            assert (act["gi"], act["ci"]) not in busy
        if act["action"] == "destroy_gi":
            assert act["gi"] not in busy_gi
    mig.apply_plan(result, sim.run)
    assert mig.unmet(mig.gather(sim.run), decl) == []


@SETTINGS
@given(st.sampled_from(sorted(MODELS)).flatmap(lambda m: st.tuples(st.just(m), layouts(m))))
def test_disable_then_enable_round_trip(case):
    model, start = case
    sim = _build(model, "Enabled", start)
    off = [{"gpu": "all", "mig": False}]
    result = mig.plan(mig.gather(sim.run, with_processes=True), off)
    mig.apply_plan(result, sim.run)
    state = mig.gather(sim.run)
    assert state["gpus"][0]["mig_current"] == "Disabled"
    assert mig.plan(state, off)["actions"] == []
