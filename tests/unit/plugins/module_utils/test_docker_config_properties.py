# -*- coding: utf-8 -*-
"""Properties of the daemon.json merge, over generated configurations (hypothesis)."""
import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _docker_config as dc

NAME = "nvidia"
OURS = ("runtimes", "default-runtime", "features")

keys = st.text(min_size=1, max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=16),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
runtime_entries = st.dictionaries(
    st.sampled_from(["path", "runtimeArgs", "x-note"]),
    st.one_of(st.text(max_size=10), st.lists(st.text(max_size=6), max_size=3)),
    max_size=3,
)
# Our entry as dockerd loads it: runtimeArgs, when present, is an array of
# strings (anything else is refused unless runtime_args is given: below).
our_entries = st.fixed_dictionaries({}, optional={
    "path": st.one_of(st.text(max_size=10), st.lists(st.text(max_size=6), max_size=3)),
    "runtimeArgs": st.lists(st.text(max_size=6), max_size=3),
    "x-note": st.one_of(st.text(max_size=10), st.lists(st.text(max_size=6), max_size=3)),
})
other_runtime_names = st.sampled_from(["runsc", "kata-runtime", "crun", "sysbox-runc", "youki", "nvidia-legacy"])


@st.composite
def configs(draw, with_ours=True):
    data = draw(st.dictionaries(keys.filter(lambda k: k not in OURS), values, max_size=6))
    if draw(st.booleans()):
        runtimes = draw(st.dictionaries(other_runtime_names, runtime_entries, min_size=1, max_size=3))
        if with_ours and draw(st.booleans()):
            runtimes[NAME] = draw(our_entries)
        data["runtimes"] = runtimes
    elif with_ours and draw(st.booleans()):
        data["runtimes"] = {NAME: draw(our_entries)}
    if draw(st.booleans()):
        choices = ["runc", "runsc"] + ([NAME] if with_ours else [])
        data["default-runtime"] = draw(st.sampled_from(choices))
    if draw(st.booleans()):
        data["features"] = draw(st.dictionaries(st.sampled_from(["buildkit", "containerd-snapshotter", "cdi"]),
                                                st.booleans(), max_size=3))
    return data


def as_text(data, indent="    "):
    """The file a user might have: our renderer or Python's json, either indent."""
    return dc.render_config(data, indent)


options = st.fixed_dictionaries({}, optional={
    "runtime_path": st.sampled_from(["nvidia-container-runtime", "/usr/bin/nvidia-container-runtime"]),
    "runtime_args": st.lists(st.sampled_from(["--debug", "--log=/tmp/x"]), max_size=2),
    "set_as_default": st.booleans(),
    "cdi": st.booleans(),
})

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(configs(), options, st.sampled_from(["present", "absent"]), st.sampled_from(["  ", "    ", "\t"]))
def test_applying_twice_equals_once(data, opts, state, indent):
    text = as_text(data, indent)
    first = dc.plan(text, state=state, **opts)
    out = first["after_text"] if first["changed"] else text
    second = dc.plan(out, state=state, **opts)
    assert second["changed"] is False
    assert second["after_text"] is None
    assert dc.json_equal(second["after"], first["after"])


@SETTINGS
@given(configs(), options, st.sampled_from(["present", "absent"]))
def test_keys_not_ours_survive_identically(data, opts, state):
    result = dc.plan(json.dumps(data), state=state, **opts)
    after = dc.parse_config(result["after_text"]) if result["changed"] else result["after"]
    for key, value in data.items():
        if key not in OURS:
            assert key in after
            assert dc.json_equal(after[key], value)
    for name, entry in (data.get("runtimes") or {}).items():
        if name != NAME:
            assert dc.json_equal(after["runtimes"][name], entry)
    for feature, value in (data.get("features") or {}).items():
        if feature != "cdi":
            assert after["features"][feature] is value
    if data.get("default-runtime") not in (None, NAME) and not opts.get("set_as_default"):
        assert after["default-runtime"] == data["default-runtime"]
    if state == "present":
        assert after["runtimes"][NAME]["path"] == opts.get("runtime_path", "nvidia-container-runtime")
    else:
        assert NAME not in (after.get("runtimes") or {})


@SETTINGS
@given(configs(with_ours=False), options, st.sampled_from(["  ", "    ", "\t"]))
def test_present_then_absent_restores_the_original(data, opts, indent):
    # the original has no nvidia entry; the knobs that overwrite a user value
    # (set_as_default over another default, cdi over an existing value) are excluded
    opts.pop("cdi", None)
    if "default-runtime" in data:
        opts.pop("set_as_default", None)
    text = as_text(data, indent)
    present = dc.plan(text, **opts)
    assert present["changed"] is True
    absent = dc.plan(present["after_text"], state="absent")
    assert absent["changed"] is True
    assert dc.json_equal(absent["after"], data)
    assert absent["after_text"] == text, "same bytes as the original"


@SETTINGS
@given(configs(), options)
def test_reload_is_restart_only_for_what_sighup_cannot_apply(data, opts):
    result = dc.plan(json.dumps(data), **opts)
    assume(result["changed"])
    before, after = result["before"], result["after"]
    cdi_changed = not dc.json_equal((before.get("features") or {}).get("cdi"), (after.get("features") or {}).get("cdi"))
    default_removed = "default-runtime" in before and "default-runtime" not in after
    expected = "restart" if (cdi_changed or default_removed) else "sighup"
    assert result["reload_required"] == expected


not_string_arrays = st.one_of(
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.integers(),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    st.lists(st.one_of(st.integers(), st.none(), st.booleans()), min_size=1, max_size=3).flatmap(
        lambda bad: st.lists(st.text(max_size=4), max_size=2).map(lambda good: good + bad)),
)


@SETTINGS
@given(configs(), not_string_arrays, options, st.sampled_from(["  ", "    ", "\t"]))
def test_runtime_args_dockerd_cannot_load_never_pass_as_converged(data, bad, opts, indent):
    # dockerd reads runtimeArgs into a list of strings: anything else keeps it
    # from starting (or from applying a reload).  Without runtime_args the
    # module cannot know what was meant and refuses; with it, it corrects.
    data.setdefault("runtimes", {})[NAME] = {"path": "nvidia-container-runtime", "runtimeArgs": bad}
    text = as_text(data, indent)
    opts.pop("runtime_args", None)
    try:
        dc.plan(text, path="/etc/docker/daemon.json", **opts)
    except dc.DockerConfigError as exc:
        assert str(exc).startswith("/etc/docker/daemon.json: runtimes.nvidia.runtimeArgs must be an array of strings")
    else:
        raise AssertionError("a runtimeArgs of %r passed" % (bad,))
    fixed = dc.plan(text, runtime_args=["--debug"], **opts)
    assert fixed["changed"] is True
    assert fixed["after"]["runtimes"][NAME]["runtimeArgs"] == ["--debug"]
    assert dc.plan(fixed["after_text"], **opts)["changed"] is False
    # state=absent removes the entry, whatever it holds
    assert NAME not in (dc.plan(text, state="absent")["after"].get("runtimes") or {})
