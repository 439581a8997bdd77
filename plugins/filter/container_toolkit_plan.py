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

Documentation is in the YAML file of each filter's name beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.gpufleet.nvidia.plugins.filter.docker_daemon import docker_daemon_json_plan
from ansible_collections.gpufleet.nvidia.plugins.filter.repo_key import repo_key_problem
from ansible_collections.gpufleet.nvidia.plugins.module_utils._toolkit_state import cdi_state, plan


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


class FilterModule(object):
    """container_toolkit filters."""

    def filters(self):
        return {
            "container_toolkit_plan": container_toolkit_plan,
            "container_toolkit_cdi_state": container_toolkit_cdi_state,
        }
