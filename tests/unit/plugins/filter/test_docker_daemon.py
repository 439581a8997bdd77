# -*- coding: utf-8 -*-
"""docker_daemon_json_plan: the module's merge, run on the controller.

The filter decides whether the container_toolkit role runs docker_runtime at
all, so it must agree with the module on every input: the corpus of
real-world files (tests/fixtures/docker), generated files (hypothesis), and
arguments that come out of templating as ``str`` subclasses (ansible-core
2.19 tags templated strings; the merge compares JSON types exactly).
"""
import base64
import inspect
import json
import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.docker_daemon import FilterModule, docker_daemon_json_plan
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _docker_config as dc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "module_utils"))

import test_docker_config as corpus  # noqa: E402  pylint: disable=wrong-import-position
import test_docker_config_properties as props  # noqa: E402  pylint: disable=wrong-import-position


class Tagged(str):
    """A str subclass, as templated values are on ansible-core 2.19."""


# The corpus and the generated cases were written against plan()'s own
# defaults; the filter's defaults are the module's.  Both sides get the same
# arguments.
PLAN_RUNTIME_PATH = inspect.signature(dc.plan).parameters["runtime_path"].default


def same_args(args):
    return dict(args, runtime_path=args.get("runtime_path", PLAN_RUNTIME_PATH))


def tagged(args):
    args = same_args(args)
    return dict((k, Tagged(v) if isinstance(v, str) else [Tagged(x) for x in v] if isinstance(v, list) else v)
                for k, v in args.items())


def b64(text):
    return None if text is None else Tagged(base64.b64encode(text.encode("utf-8")).decode("ascii"))


def test_registered():
    assert FilterModule().filters()["docker_daemon_json_plan"] is docker_daemon_json_plan


@pytest.mark.parametrize("name", corpus.CASES)
def test_corpus_case_agrees_with_the_module(name):
    meta, text, expected = corpus._load(name)  # pylint: disable=protected-access
    args = tagged(meta["args"])
    for content, encoded in ((text, False), (b64(text), True)):
        got = docker_daemon_json_plan(content if encoded or content is None else Tagged(content),
                                      base64_encoded=encoded, path="/etc/docker/daemon.json", **args)
        if "error" in meta:
            assert got["changed"] is False
            assert meta["error"] in got["error"]
            assert "/etc/docker/daemon.json" in got["error"]
            continue
        assert got["error"] is None
        assert got["changed"] is meta["changed"], (name, got)
        assert got["reload_required"] == meta["reload_required"]
    if expected is not None:
        # what the module writes is, to the filter, already right: the next run skips it
        after = docker_daemon_json_plan(b64(expected), base64_encoded=True, **args)
        assert after == dict(after, changed=False, error=None, reload_required="none")
        if meta["args"].get("state", "present") == "present":
            assert meta["args"].get("name", "nvidia") in after["runtimes"]


def test_converged_file_of_the_role_is_unchanged():
    # what the container_toolkit role leaves on a Docker host (fleet benchmark, Molecule)
    text = '{\n    "runtimes": {\n        "nvidia": {\n            "path": "/usr/bin/nvidia-container-runtime",\n' \
           '            "runtimeArgs": []\n        }\n    }\n}\n'
    got = docker_daemon_json_plan(b64(text), base64_encoded=True, state=Tagged("present"), name=Tagged("nvidia"),
                                  runtime_path=Tagged("/usr/bin/nvidia-container-runtime"),
                                  runtime_args=None, set_as_default=None, cdi=None)
    assert got == {"changed": False, "error": None, "reload_required": "none", "runtimes": ["nvidia"],
                   "default_runtime": None}
    assert docker_daemon_json_plan(b64(text), base64_encoded=True, set_as_default=True)["changed"] is True


def test_missing_file_needs_the_runtime():
    got = docker_daemon_json_plan(None)
    assert got["changed"] is True and got["error"] is None and got["runtimes"] == ["nvidia"]
    assert docker_daemon_json_plan(None, state="absent")["changed"] is False


def test_not_utf8_is_an_error_not_a_change():
    got = docker_daemon_json_plan(base64.b64encode(b'{"x": "\xff"}').decode(), base64_encoded=True)
    assert got["changed"] is False
    assert "not valid UTF-8" in got["error"] and "/etc/docker/daemon.json" in got["error"]


@pytest.mark.parametrize("content, kwargs, message", [
    ("not base64!", {"base64_encoded": True}, "not base64"),
    (42, {}, "must be a string or none"),
    ("{}", {"runtime_args": "--debug"}, "runtime_args must be a list"),
])
def test_bad_arguments_fail_the_template(content, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        docker_daemon_json_plan(content, **kwargs)


@pytest.mark.parametrize("name", ["", "runc"])
def test_bad_runtime_name_is_the_modules_error(name):
    got = docker_daemon_json_plan("{}", name=Tagged(name))
    assert got["error"] == dc.validate_runtime_name(name) and got["changed"] is False


@settings(max_examples=150, deadline=None)
@given(props.configs(), props.options, st.booleans())
def test_agrees_with_the_module_on_generated_files(data, options, indent4):
    text = props.as_text(data, "    " if indent4 else "  ")
    want = dc.plan(text, **options)
    got = docker_daemon_json_plan(b64(text), base64_encoded=True, **tagged(options))
    assert got["error"] is None
    assert got["changed"] is want["changed"]
    assert got["reload_required"] == want["reload_required"]
    # the module reports list(after["runtimes"]): file order, not sorted
    runtimes = want["after"].get("runtimes")
    assert got["runtimes"] == want["runtimes"] == (list(runtimes) if isinstance(runtimes, dict) else [])
    if want["changed"]:
        assert docker_daemon_json_plan(b64(want["after_text"]), base64_encoded=True, **tagged(options))["changed"] is False


def test_runtimes_in_file_order_as_the_module_reports_them():
    text = json.dumps({"runtimes": {"runsc": {"path": "/usr/bin/runsc"}, "kata": {"path": "/usr/bin/kata"}}})
    got = docker_daemon_json_plan(text)
    assert got["runtimes"] == ["runsc", "kata", "nvidia"]
    assert got["runtimes"] == dc.plan(text)["runtimes"]


def test_nesting_too_deep_is_an_error_not_a_crash():
    for depth in (65, 500, 100000):
        text = '{"a": ' + "[" * depth + "]" * depth + "}"
        for content, encoded in ((text, False), (b64(text), True)):
            got = docker_daemon_json_plan(content, base64_encoded=encoded)
            assert got["changed"] is False
            assert got["error"].startswith("/etc/docker/daemon.json nests objects and arrays deeper than 64 levels")
    # 64 levels in all (the top-level object included) is still read
    text = '{"a": ' + "[" * 63 + "]" * 63 + "}"
    assert docker_daemon_json_plan(text)["error"] is None


def test_runtime_args_string_is_the_modules_error():
    text = '{"runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": "--debug"}}}'
    got = docker_daemon_json_plan(text, runtime_path="/usr/bin/nvidia-container-runtime")
    assert got["changed"] is False
    assert "runtimes.nvidia.runtimeArgs must be an array of strings, not a string" in got["error"]
    fixed = docker_daemon_json_plan(text, runtime_path="/usr/bin/nvidia-container-runtime", runtime_args=["--debug"])
    assert fixed["changed"] is True and fixed["error"] is None
