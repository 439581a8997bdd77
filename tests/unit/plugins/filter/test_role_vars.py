# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""role_vars filters against the roles' real meta/argument_specs.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.role_vars import (
    FilterModule, role_vars_problems, role_vars_unknown)

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles")


def spec(role):
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)


def defaults(role):
    with open(os.path.join(ROLES, role, "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", ["driver", "cuda_repo", "container_toolkit", "containerd", "repo_key"])
def test_the_defaults_of_every_role_pass(role):
    values = dict((k, v) for k, v in defaults(role).items() if not (isinstance(v, str) and "{{" in v))
    assert role_vars_problems(values, spec(role)) == []
    assert role_vars_unknown(list(defaults(role)), spec(role)) == []


def test_a_string_for_a_list_is_refused_naming_the_variable():
    problems = role_vars_problems({"container_toolkit_runtime_args": "--debug"}, spec("container_toolkit"))
    assert problems == ["container_toolkit_runtime_args must be a list (YAML [a, b]), got str '--debug'"]
    assert role_vars_problems({"container_toolkit_runtime_args": ["--debug"]}, spec("container_toolkit")) == []
    assert role_vars_problems({"container_toolkit_runtime_args": None}, spec("container_toolkit")) == []


def test_types_and_choices():
    s = spec("driver")
    assert role_vars_problems({"driver_packages": "nvidia-driver"}, s) == [
        "driver_packages must be a list (YAML [a, b]), got str 'nvidia-driver'"]
    assert role_vars_problems({"driver_packages": [1]}, s) == ["driver_packages must be a list of strings, got [1]"]
    assert role_vars_problems({"driver_hold": "maybe"}, s) == ["driver_hold must be true or false, got 'maybe'"]
    assert role_vars_problems({"driver_hold": "yes", "driver_reboot": False}, s) == []
    assert role_vars_problems({"driver_reboot_timeout": "soon"}, s) == ["driver_reboot_timeout must be an integer, got 'soon'"]
    assert role_vars_problems({"driver_reboot_timeout": "900"}, s) == []
    assert role_vars_problems({"driver_branch": ["580"]}, s) == ["driver_branch must be a string, got list ['580']"]
    assert role_vars_problems({"driver_source": "ppa"}, s) == [
        "driver_source must be one of cuda_repo, distro, runfile, got 'ppa'"]
    assert role_vars_problems({"container_toolkit_config": "a=b"}, spec("container_toolkit")) == [
        "container_toolkit_config must be a dict (YAML mapping), got str 'a=b'"]


def test_unknown_names_are_reported_with_the_closest_option():
    s = spec("driver")
    assert role_vars_unknown(["driver_brnach", "driver_branch", "driver_xyzzy"], s) == [
        "driver_brnach is not a variable of this role (did you mean driver_branch?)",
        "driver_xyzzy is not a variable of this role",
    ]
    assert role_vars_unknown(["driver_effective_branch"], s, ["driver_effective_branch"]) == []
    assert role_vars_unknown(["containerd_runtim_path"], spec("containerd")) == [
        "containerd_runtim_path is not a variable of this role (did you mean containerd_runtime_path?)"]


def test_the_facts_a_role_sets_are_declared_known():
    with open(os.path.join(ROLES, "driver", "vars", "main.yml")) as handle:
        known = yaml.safe_load(handle)["__driver_facts_set"]
    assert "driver_effective_version" in known
    assert role_vars_unknown(known, spec("driver"), known) == []


def test_bad_input_fails():
    with pytest.raises(AnsibleFilterError):
        role_vars_problems({}, "not a spec")
    with pytest.raises(AnsibleFilterError):
        role_vars_problems({}, {"argument_specs": {}})
    with pytest.raises(AnsibleFilterError):
        role_vars_problems(["x"], spec("driver"))


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"role_vars_problems", "role_vars_unknown", "role_vars_check"}


# --- role_vars_check: the batch in one task ---

from ansible_collections.gpufleet.nvidia.plugins.filter.role_vars import role_vars_check  # noqa: E402

SPEC_PATH = os.path.join(ROLES, "container_toolkit", "meta", "argument_specs.yml")


def test_check_reads_the_spec_from_its_path_and_checks_the_current_host():
    values = dict(defaults("container_toolkit"), container_toolkit_runtime_args="--debug",
                  container_toolkit_runtme_name="x")
    values = dict((k, v) for k, v in values.items() if not (isinstance(v, str) and "{{" in v))
    report = role_vars_check(values, SPEC_PATH, "container_toolkit_")
    assert report == {
        "problems": ["container_toolkit_runtime_args must be a list (YAML [a, b]), got str '--debug'"],
        "unknown": ["container_toolkit_runtme_name is not a variable of this role "
                    "(did you mean container_toolkit_runtime_name?)"]}


def test_check_covers_the_other_hosts_of_the_batch_naming_them():
    current = {"container_toolkit_cdi": True, "container_toolkit_version": "1.20.0-1"}
    hostvars = {
        "gpu01": {"container_toolkit_cdi": True, "ansible_host": "10.0.0.1"},
        "gpu02": {"container_toolkit_runtime_args": "--debug", "container_toolkit_cdi": True},
        "gpu03": {"container_toolkit_runtime_args": "--debug", "container_toolkit_cdii": True},
        "gpu04": {"container_toolkit_cdii": True},
    }
    report = role_vars_check(current, SPEC_PATH, "container_toolkit_", [], hostvars,
                             ["gpu01", "gpu02", "gpu03", "gpu04", "gone"])
    assert report["problems"] == [
        "container_toolkit_runtime_args must be a list (YAML [a, b]), got str '--debug' (gpu02, gpu03)"]
    assert report["unknown"] == [
        "container_toolkit_cdii is not a variable of this role (did you mean container_toolkit_cdi?) (gpu03, gpu04)"]


def test_check_refuses_a_missing_spec():
    with pytest.raises(AnsibleFilterError, match="cannot read the argument specs"):
        role_vars_check({}, "/nonexistent/argument_specs.yml", "x_")
