# -*- coding: utf-8 -*-
"""Run an Ansible module's ``main()`` in-process and capture its result.

Works with ansible-core 2.11 (Python 3.6) through 2.19 (Python 3.11), so the
same module tests prove the modules on the Pythons of Jetson hosts.

    result = run_module(docker_runtime, {"path": p}, check_mode=True, diff=True)
    result["changed"], result["failed"]
"""
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # older ansible-core
    patch_module_args = None


class _Exit(Exception):
    def __init__(self, result):
        Exception.__init__(self)
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    kwargs["failed"] = False
    raise _Exit(kwargs)


def _fail_json(self, msg="", **kwargs):
    kwargs["msg"] = msg
    kwargs["failed"] = True
    raise _Exit(kwargs)


def _invoke(module, args):
    try:
        module.main()
    except _Exit as done:
        return done.result
    raise AssertionError("module returned without exit_json/fail_json")


def run_module_in_process(module, args, check_mode=False, diff=False, monkeypatch=None):
    """Return the module's result dict (``failed`` is always present)."""
    args = dict(args)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    args.setdefault("_ansible_remote_tmp", "/tmp")
    args.setdefault("_ansible_keep_remote_files", False)
    # ansible-core >= 2.19 routes module warnings to the controller's display once
    # controller code (filter tests, templating) has been imported in this process.
    try:
        from ansible.module_utils import _internal
    except ImportError:
        _internal = None
    if _internal is not None and hasattr(_internal, "is_controller"):
        monkeypatch.setattr(_internal, "is_controller", False)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)
    if patch_module_args is not None:
        with patch_module_args(args):
            return _invoke(module, args)
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))
    return _invoke(module, args)


@pytest.fixture
def run_module(monkeypatch):
    def runner(module, args, check_mode=False, diff=False):
        return run_module_in_process(module, args, check_mode=check_mode, diff=diff, monkeypatch=monkeypatch)
    return runner
