# -*- coding: utf-8 -*-
"""docker_config: merge/remove/render of daemon.json against a corpus of real-world files.

Each directory under tests/fixtures/docker/ is one case: ``input.json`` (absent
means "no file"), ``case.json`` (arguments, expected ``changed`` and
``reload_required`` or the expected error) and ``expected.json`` (the exact
text written when the content changes).
"""
import io
import json
import os

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _docker_config as dc

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "fixtures", "docker")
CASES = sorted(os.listdir(CORPUS))
OURS = ("runtimes", "default-runtime", "features")


def _read(path):
    if not os.path.exists(path):
        return None
    with io.open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


# Inputs a repository should not hold as bytes (sanity tests refuse a BOM
# and CRLF line ends) are stored plain and transformed when read.
TRANSFORMS = {
    "bom": lambda text: u"\ufeff" + text,
    "crlf": lambda text: text.replace("\n", "\r\n"),
}


def _load(name):
    base = os.path.join(CORPUS, name)
    with io.open(os.path.join(base, "case.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    text = _read(os.path.join(base, "input.json"))
    if "input_transform" in meta:
        text = TRANSFORMS[meta["input_transform"]](text)
    return meta, text, _read(os.path.join(base, "expected.json"))


def test_corpus_is_large_enough():
    assert _load("bom-prefixed")[1].startswith(u"\ufeff")
    assert "\r\n" in _load("crlf-line-endings")[1]
    assert len(CASES) >= 30
    assert sum(1 for c in CASES if not c.startswith("error-")) >= 30


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(name):
    meta, text, expected = _load(name)
    args = dict(meta["args"])
    if "error" in meta:
        with pytest.raises(dc.DockerConfigError) as err:
            dc.plan(text, path="/etc/docker/daemon.json", **args)
        assert meta["error"] in str(err.value)
        assert "/etc/docker/daemon.json" in str(err.value)
        return

    result = dc.plan(text, **args)
    assert result["changed"] is meta["changed"]
    assert result["reload_required"] == meta["reload_required"]
    if not meta["changed"]:
        assert result["after_text"] is None
        assert expected is None
        return
    assert result["after_text"] == expected

    before = dc.parse_config(text)
    after = dc.parse_config(expected)
    # every key that is not ours survives with the identical value and text
    for key, value in before.items():
        if key not in OURS:
            assert dc.json_equal(after[key], value), key
            assert dc.render_config(after[key]) == dc.render_config(value)
    assert [k for k in after if k in before] == [k for k in before if k in after], "key order kept"
    name_ = args.get("name", "nvidia")
    for other, entry in (before.get("runtimes") or {}).items():
        if other != name_:
            assert dc.json_equal(after["runtimes"][other], entry)
    for feature, value in (before.get("features") or {}).items():
        if feature != "cdi":
            assert after["features"][feature] is value
    if args.get("state", "present") == "present":
        entry = after["runtimes"][name_]
        assert entry["path"] == args.get("runtime_path", "nvidia-container-runtime")
        if args.get("set_as_default"):
            assert after["default-runtime"] == name_
    else:
        assert name_ not in (after.get("runtimes") or {})
        assert after.get("default-runtime") != name_
    if "cdi" in args:
        assert after["features"]["cdi"] is args["cdi"]
    # the result is a fixed point
    again = dc.plan(expected, **args)
    assert again["changed"] is False


def test_nvidia_ctk_features_bug_not_reproduced():
    # nvidia-ctk replaces "features" by {"cdi": true}; we keep the others
    result = dc.plan('{"features": {"buildkit": true}}', cdi=True)
    assert result["after"]["features"] == {"buildkit": True, "cdi": True}


def test_nvidia_ctk_absent_sets_runc_we_remove():
    result = dc.plan('{"default-runtime": "nvidia", "runtimes": {"nvidia": {"path": "x"}}}', state="absent")
    assert result["after"] == {}
    assert result["after_text"] == "{}\n"


def test_formatting_only_difference_is_not_a_change():
    text = '{"runtimes":{"nvidia":{"runtimeArgs":[],"path":"nvidia-container-runtime"}}}'
    assert dc.plan(text)["changed"] is False


def test_true_is_not_one():
    assert not dc.json_equal(True, 1)
    assert not dc.json_equal({"cdi": 1}, {"cdi": True})
    result = dc.plan('{"features": {"cdi": 1}, "runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}}', cdi=True)
    assert result["changed"] is True
    assert result["after"]["features"]["cdi"] is True


def test_float_text_kept_and_compared_by_value():
    data = dc.parse_config('{"a": 1.50, "b": 2E+3}')
    assert dc.render_config(data) == '{\n    "a": 1.50,\n    "b": 2E+3\n}\n'
    assert dc.json_equal(data, {"a": 1.5, "b": 2000.0})


def test_big_integers_exact():
    text = '{"n": 98765432109876543210987654321}'
    assert "98765432109876543210987654321" in dc.plan(text)["after_text"]


def test_lone_surrogate_is_escaped():
    result = dc.plan('{"x": "\\ud800"}')
    assert '"\\ud800"' in result["after_text"]
    result["after_text"].encode("utf-8")


@pytest.mark.parametrize("text,indent", [
    ('{\n  "a": 1\n}', "  "),
    ('{\n    "a": 1\n}', "    "),
    ('{\n\t"a": 1\n}', "\t"),
    ('{"a": 1}', "    "),
    ('', "    "),
    (None, "    "),
    ('{\n \t"a": 1\n}', "    "),
])
def test_detect_indent(text, indent):
    assert dc.detect_indent(text) == indent


@pytest.mark.parametrize("name", ["", " ", "runc", "io.containerd.runc.v2"])
def test_bad_names_refused(name):
    with pytest.raises(dc.DockerConfigError):
        dc.plan("{}", name=name)


def test_empty_runtime_path_refused():
    with pytest.raises(dc.DockerConfigError):
        dc.plan("{}", runtime_path="")


def test_runtime_entry_that_is_not_an_object_is_replaced():
    result = dc.plan('{"runtimes": {"nvidia": "/usr/bin/nvidia-container-runtime", "runsc": {"path": "r"}}}')
    assert result["after"]["runtimes"] == {
        "nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []},
        "runsc": {"path": "r"},
    }
    assert list(result["after"]["runtimes"]) == ["nvidia", "runsc"]


def test_absent_keeps_empty_runtimes_it_did_not_empty():
    assert dc.plan('{"runtimes": {}}', state="absent")["changed"] is False


def test_inputs_are_not_mutated():
    data = dc.parse_config('{"runtimes": {"runsc": {"path": "r"}}, "features": {"x": true}}')
    snapshot = dc.render_config(data)
    dc.ensure_runtime(data, "nvidia", "p", ["a"], True, True)
    dc.remove_runtime(data, "runsc", cdi=False)
    assert dc.render_config(data) == snapshot


@pytest.mark.parametrize("before,after,action", [
    ({}, {"runtimes": {"nvidia": {"path": "p"}}}, "sighup"),
    ({"runtimes": {"nvidia": {"path": "p"}}}, {"runtimes": {"nvidia": {"path": "p"}}, "default-runtime": "nvidia"},
     "sighup"),
    ({"runtimes": {"a": {}, "nvidia": {}}}, {"runtimes": {"a": {}}}, "sighup"),
    ({"runtimes": {"nvidia": {}}}, {}, "restart"),
    ({"default-runtime": "nvidia", "runtimes": {"a": {}}}, {"runtimes": {"a": {}}}, "restart"),
    ({}, {"features": {"cdi": True}}, "restart"),
    ({"features": {"cdi": True}}, {"features": {"cdi": True}}, "none"),
    ({"debug": True}, {"debug": False}, "restart"),
])
def test_reload_needed(before, after, action):
    assert dc.reload_needed(before, after)[0] == action


def test_reload_reasons_name_the_keys():
    action, reasons = dc.reload_needed({}, {"runtimes": {"n": {}}, "features": {"cdi": True}})
    assert action == "restart"
    assert any(r.startswith("runtimes") for r in reasons)
    assert any(r.startswith("features") for r in reasons)


@pytest.mark.parametrize("before,after,hazard", [
    # removing our default while another runtime stays: the live default would dangle
    ({"default-runtime": "nvidia", "runtimes": {"nvidia": {}, "runsc": {}}}, {"runtimes": {"runsc": {}}}, True),
    # runtimes key gone: a reload keeps the old runtimes and the old default together
    ({"default-runtime": "nvidia", "runtimes": {"nvidia": {}}}, {}, False),
    ({"runtimes": {"nvidia": {}, "runsc": {}}}, {"runtimes": {"runsc": {}}}, False),
    ({}, {"runtimes": {"nvidia": {}}, "default-runtime": "nvidia"}, False),
    ({"default-runtime": "runc", "runtimes": {"nvidia": {}, "a": {}}}, {"default-runtime": "runc", "runtimes": {"a": {}}},
     False),
])
def test_sighup_hazard(before, after, hazard):
    assert bool(dc.sighup_hazard(before, after)) is hazard


# nesting (issue 11, finding 4) ------------------------------------------------

def _nested(depth, open_="[", close="]"):
    return '{"x": ' + open_ * depth + close * depth + "}"


@pytest.mark.parametrize("text", [
    _nested(64),                                   # 65 levels with the top-level object
    _nested(500),
    _nested(100000),                               # deeper than the json module itself can go
    '{"x": ' + '{"a": ' * 500 + "1" + "}" * 500 + "}",
    '{"x": ' + "[" * 200,                          # unterminated: the depth is refused first
])
def test_nesting_deeper_than_the_limit_is_refused_cleanly(text):
    for state in ("present", "absent"):
        with pytest.raises(dc.DockerConfigError) as err:
            dc.plan(text, state=state, path="/etc/docker/daemon.json")
        assert str(err.value).startswith("/etc/docker/daemon.json nests objects and arrays deeper than 64 levels")


def test_nesting_up_to_the_limit_is_read_and_kept():
    text = _nested(63)
    result = dc.plan(text)
    assert result["changed"] is True
    again = dc.plan(result["after_text"])
    assert again["changed"] is False
    assert dc.json_equal(again["after"]["x"], dc.parse_config(text)["x"])


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"x": "[" * 500 + '\\"{' * 100, "y": ["]" * 300]})
    assert dc.nesting_error(text) is None
    assert dc.plan(text)["changed"] is True
    assert "line 1 column 7" in dc.nesting_error(_nested(64), "f")


# runtimeArgs that dockerd cannot load (finding 11) -------------------------------

@pytest.mark.parametrize("value,kind", [
    ('"--debug"', "a string"),
    ('null', "null"),
    ('{"a": "b"}', "an object"),
    ('["--debug", 1]', "an array with a number in it"),
    ('[["--debug"]]', "an array with an array in it"),
])
def test_runtime_args_of_the_wrong_type_are_refused_when_not_given(value, kind):
    text = '{"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": %s}}}' % value
    with pytest.raises(dc.DockerConfigError) as err:
        dc.plan(text, path="/etc/docker/daemon.json")
    assert str(err.value).startswith(
        "/etc/docker/daemon.json: runtimes.nvidia.runtimeArgs must be an array of strings, not %s;" % kind)
    assert "runtime_args" in str(err.value)
    # given runtime_args, the entry is corrected, and the result is a fixed point
    fixed = dc.plan(text, runtime_args=["--debug"])
    assert fixed["changed"] is True and fixed["reload_required"] == "sighup"
    assert dc.plan(fixed["after_text"])["changed"] is False
    # removing the runtime needs no valid entry
    assert dc.plan(text, state="absent")["after"] == {}


def test_other_runtimes_are_not_judged():
    # not ours: dockerd would refuse it too, but it is the operator's entry
    text = '{"runtimes": {"crun": {"path": "crun", "runtimeArgs": "--x"}}}'
    assert dc.plan(text)["after"]["runtimes"]["crun"]["runtimeArgs"] == "--x"


def test_plan_lists_runtimes_in_file_order():
    text = '{"runtimes": {"runsc": {"path": "r"}, "kata": {"path": "k"}}}'
    assert dc.plan(text)["runtimes"] == ["runsc", "kata", "nvidia"]
    assert dc.plan(text, state="absent")["runtimes"] == ["runsc", "kata"]
    assert dc.plan(None, state="absent")["runtimes"] == []
