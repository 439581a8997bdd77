# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container_toolkit role's decisions (``module_utils._toolkit_state``).

``container_toolkit_plan``
    the role's state scan and its wanted state -> the step task files to
    include and the values they read (the ``/dev/char`` links and their udev
    rule included).  The repository key is checked with
    ``repo_key_problem`` and daemon.json with ``docker_daemon_json_plan`` (the
    module's own merge), both called here directly.
``container_toolkit_cdi_state``
    the CDI probe's output -> who makes the CDI spec and whether it is
    current (what ``cdi.yml`` reads again after the packages changed).
``container_toolkit_config_sets``
    the role's config.toml variables -> the ``nvidia-ctk config --set`` arguments.
``container_toolkit_local_files``
    the package names -> the package files of an air-gapped install.
``container_toolkit_source_problems``
    the repository variables -> what is missing to know where packages come from.

Documentation is in the YAML file of each filter's name beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.gpufleet.nvidia.plugins.filter.docker_daemon import docker_daemon_json_plan
from ansible_collections.gpufleet.nvidia.plugins.filter.repo_key import repo_key_problem
from ansible_collections.gpufleet.nvidia.plugins.module_utils._toolkit_state import (
    cdi_state, config_sets, local_files, plan, source_problems)


def _text(value, name):
    if value is None:
        return None
    if not isinstance(value, str):
        raise AnsibleFilterError("%s: expected the probe's output as a string, got %s" % (name, type(value).__name__))
    return to_text(value)


def scan_daemon_json_plan(content, **options):
    """docker_daemon_json_plan; a #daemon line that is not base64 (a cut-off scan) is an error to report."""
    try:
        return docker_daemon_json_plan(content, **options)
    except AnsibleFilterError as exc:
        return {"changed": True, "error": "daemon.json as read by the state scan: %s" % exc,
                "reload_required": "none", "runtimes": [], "default_runtime": None}


def container_toolkit_plan(scan, wanted):
    """``{steps, installed, outdated, ...}`` from the state scan's stdout and the wanted state."""
    if not isinstance(wanted, dict):
        raise AnsibleFilterError("container_toolkit_plan: the wanted state must be a dict, got %s" % type(wanted).__name__)
    try:
        return plan(_text(scan, "container_toolkit_plan"), wanted,
                    key_problem=repo_key_problem, daemon_json_plan=scan_daemon_json_plan)
    except ValueError as exc:
        raise AnsibleFilterError("container_toolkit_plan: %s" % exc)


def container_toolkit_cdi_state(probe, stamp="", jetson=False, systemd=True):
    """``{unit, driver, unitspec, spec, method, current}`` from the CDI probe's output."""
    if isinstance(probe, (list, tuple)):
        probe = "\n".join(to_text(line) for line in probe)
    return cdi_state(_text(probe, "container_toolkit_cdi_state"), to_text(stamp or ""), jetson=jetson, systemd=systemd)


def container_toolkit_config_sets(config, jetson_csv=False, accept_envvar=None, accept_volume_mounts=None,
                                  supported_capabilities=""):
    """``key=value`` list for ``nvidia-ctk config --set`` from the role's config.toml variables."""
    if config is not None and not isinstance(config, dict):
        raise AnsibleFilterError("container_toolkit_config must be a dict of dotted keys, got %s" % type(config).__name__)
    return config_sets(config, jetson_csv=jetson_csv, accept_envvar=accept_envvar,
                       accept_volume_mounts=accept_volume_mounts, supported_capabilities=supported_capabilities)


def container_toolkit_local_files(packages, directory, version, pkg_family, arch):
    """The package files of an air-gapped install, in dependency order."""
    if not isinstance(packages, (list, tuple)):
        raise AnsibleFilterError("container_toolkit_local_files: expected a list of package names, got %s"
                                 % type(packages).__name__)
    try:
        return local_files([to_text(name) for name in packages], to_text(directory), to_text(version),
                           to_text(pkg_family), to_text(arch))
    except ValueError as exc:
        raise AnsibleFilterError("container_toolkit_local_files: %s" % exc)


def container_toolkit_source_problems(manage_repo, local_packages_dir="", repo_base_url=""):
    """Empty, or why the role cannot know where the toolkit packages come from."""
    return source_problems(manage_repo, local_packages_dir, repo_base_url)


class FilterModule(object):
    """container_toolkit filters."""

    def filters(self):
        return {
            "container_toolkit_plan": container_toolkit_plan,
            "container_toolkit_cdi_state": container_toolkit_cdi_state,
            "container_toolkit_config_sets": container_toolkit_config_sets,
            "container_toolkit_local_files": container_toolkit_local_files,
            "container_toolkit_source_problems": container_toolkit_source_problems,
        }
