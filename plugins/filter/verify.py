# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions and parsing of ``playbooks/verify.yml`` (and ``tasks/verify_checks.yml``), as pure functions.

``verify_script_env``
    ansible_facts.nvidia, the host's groups and the verify settings -> the
    environment of ``files/gpufleet-verify.sh`` (which checks it runs).
``verify_results``
    the ``name|STATUS|reason`` lines of that script (and of the DCGM check)
    -> the results, whether one failed, and the host's summary line.
``verify_report``
    ansible_facts.nvidia and the MIG layout read -> the NVSwitch, NVLink
    fabric and MIG lines of the report.

Documentation is in the ``.yml`` files next to this one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.nvidia_query import nvidia_query

# One result line of the script: check name, verdict, reason.
RESULT = re.compile(r"^([a-z_]+)\|(PASS|FAIL|SKIP)\|(.*)$")


def _nvidia(nvidia, name):
    if nvidia is None:
        return {}
    if not isinstance(nvidia, dict):
        raise AnsibleFilterError("%s: expected ansible_facts.nvidia (a dict), got %s" % (name, type(nvidia).__name__))
    return nvidia


def _lines(value, name):
    if value is None:
        return []
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, (list, tuple)):
        return [str(line) for line in value]
    raise AnsibleFilterError("%s: expected the script's output (a string or a list of lines), got %s"
                             % (name, type(value).__name__))


def verify_script_env(nvidia, group_names, image, torch_image="", devicequery_image="", timeout=300,
                      runtime="nvidia", runtime_path="/usr/bin/nvidia-container-runtime"):
    """The ``GV_*`` environment of ``gpufleet-verify.sh`` for one host.

    containerd is checked on a Kubernetes node (``gpu_k8s_nodes``) and on a
    host where containerd runs without Docker; elsewhere containerd is
    Docker's own and the Docker checks cover it.
    """
    nvidia = _nvidia(nvidia, "verify_script_env")
    container = nvidia.get("container") or {}
    docker = bool((container.get("docker") or {}).get("installed"))
    containerd = bool((container.get("containerd") or {}).get("installed"))
    try:
        gpus = int(nvidia.get("gpu_count") or 0)
        timeout = int(timeout)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("verify_script_env: %s" % exc)
    return {
        "GV_GPUS": str(gpus),
        "GV_JETSON": "1" if (nvidia.get("host") or {}).get("jetson") else "0",
        "GV_DOCKER": "1" if docker else "0",
        "GV_CONTAINERD": "1" if containerd and ("gpu_k8s_nodes" in (group_names or []) or not docker) else "0",
        "GV_IMAGE": str(image or ""),
        "GV_TORCH_IMAGE": str(torch_image or ""),
        "GV_DQ_IMAGE": str(devicequery_image or ""),
        "GV_TIMEOUT": str(timeout),
        "GV_RUNTIME": str(runtime or ""),
        "GV_RUNTIME_PATH": str(runtime_path or ""),
        "GV_NVIDIA_SMI": str((nvidia.get("driver") or {}).get("nvidia_smi_path") or ""),
    }


def verify_results(lines, host, previous=None, checks=None):
    """``{results, failed, line}`` from the check lines of the script.

    ``lines``: its standard output (text or lines); anything but
    ``name|PASS|reason``, ``name|FAIL|reason`` and ``name|SKIP|reason`` is
    ignored, and with ``checks`` so are the lines of other checks.
    ``previous``: result lines kept earlier; the new ones are added to them.
    ``line``: ``<host>: PASS name (reason) | FAIL name (reason) | ...``.
    """
    if checks is not None and not isinstance(checks, (list, tuple)):
        raise AnsibleFilterError("verify_results: checks must be a list of check names")
    results = _lines(previous, "verify_results")
    for line in _lines(lines, "verify_results"):
        match = RESULT.match(line)
        if match and (checks is None or match.group(1) in checks):
            results.append(line)
    parts = []
    failed = False
    for line in results:
        match = RESULT.match(line)
        if not match:
            raise AnsibleFilterError("verify_results: %r in previous is not a name|STATUS|reason line" % line)
        name, verdict, reason = match.groups()
        failed = failed or verdict == "FAIL"
        parts.append("%s %s (%s)" % (verdict, name, reason))
    return {"results": results, "failed": failed, "line": "%s: %s" % (host, " | ".join(parts))}


def _text(value, empty=""):
    """A value as a template prints it: booleans as True/False, none as ``empty``."""
    return empty if value is None else str(value)


def verify_report(nvidia, mig=None, mig_query=None):
    """``{nvswitch, fabric, mig}``: the report lines of verify.yml for one host with a GPU.

    ``mig``: the result of the read-only ``nvidia_mig`` run (its ``gpus``), or
    none / a skipped result: then ``mig_query`` (JMESPath) over the facts.
    """
    nvidia = _nvidia(nvidia, "verify_report")
    switch = nvidia.get("nvswitch") or {}
    nvlink = nvidia.get("nvlink") or {}
    nvswitch = ("%s NVSwitch(es), generation %s, management ports %s; Fabric Manager needed: %s, NVLSM needed: %s" % (
        _text(switch.get("count"), "0"), switch.get("generation") or "-",
        ", ".join(str(port) for port in switch.get("management_ports") or []) or "-",
        _text(switch.get("fabric_manager_required")), _text(switch.get("nvlsm_required"))))
    states = dict((u"".join([str(key)]), int(count)) for key, count in (nvlink.get("fabric_states") or {}).items())
    fabric = "states %s, ready %s" % (states, _text(nvlink.get("fabric_ready")))
    if isinstance(mig, dict) and not mig.get("skipped") and "gpus" in mig:
        layout = mig["gpus"]
    elif mig_query:
        layout = nvidia_query(nvidia, mig_query)
    else:
        layout = None
    return {"nvswitch": nvswitch, "fabric": fabric, "mig": layout}


class FilterModule(object):
    """Filters of the verify playbook."""

    def filters(self):
        return {"verify_script_env": verify_script_env, "verify_results": verify_results,
                "verify_report": verify_report}
