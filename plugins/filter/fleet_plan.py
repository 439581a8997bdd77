# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``playbooks/site.yml`` and ``playbooks/uninstall.yml`` do to each host, as pure functions.

``fleet_plan``
    ansible_facts (with ``nvidia``), the host's groups and the force flag ->
    the plays of ``site.yml`` that are for the host, the report line its
    first play prints, and the problem that stops it (an operating system
    outside the support matrix of ``module_utils/_platforms.py``).
``fleet_uninstall_plan``
    the same inputs -> the roles whose removal path ``uninstall.yml`` runs on
    the host, and the line it prints.
``migrate_report``
    ``ansible_facts.nvidia`` before and after ``migrate_nvidia_docker2.yml``
    -> the before/after line it prints for the host.

Documentation is in ``fleet_plan.yml``, ``fleet_uninstall_plan.yml`` and
``migrate_report.yml`` next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.gpufleet.nvidia.plugins.module_utils._platforms import platform, serves_gpus

# The host-class groups, in the order the report names them.
CLASS_GROUPS = ("gpu_docker_hosts", "gpu_k8s_nodes", "rpi_egpu", "jetson", "airgapped", "nvidia_docker2_legacy")
# Classes whose hosts get the driver from the collection.
DRIVER_CLASSES = ("gpu_docker_hosts", "gpu_k8s_nodes", "rpi_egpu")


def _flag(value, name):
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError("%s must be a boolean, not %r" % (name, value))


def _inputs(facts, group_names, name):
    if not isinstance(facts, dict):
        raise AnsibleFilterError("%s: expected ansible_facts (a dict), got %s" % (name, type(facts).__name__))
    if not isinstance(group_names, (list, tuple)):
        raise AnsibleFilterError("%s: group_names must be a list, not %s" % (name, type(group_names).__name__))
    nvidia = facts.get("nvidia") or {}
    if not isinstance(nvidia, dict):
        raise AnsibleFilterError("%s: ansible_facts.nvidia must be a dict, not %s" % (name, type(nvidia).__name__))
    classes = [group for group in group_names if group in CLASS_GROUPS]
    return nvidia, classes


def _plays(classes):
    """The plays of site.yml for a host of ``classes`` (with work)."""
    dgpu = "gpu_docker_hosts" in classes or "rpi_egpu" in classes
    k8s = "gpu_k8s_nodes" in classes
    jetson = "jetson" in classes
    if dgpu:
        return ["dgpu", "k8s_containerd"] if k8s else ["dgpu"]
    if k8s:
        return ["k8s"]
    if jetson:
        return ["jetson"]
    return ["toolkit"]


def gpu_text(nvidia):
    """``1 NVIDIA GPU(s) (Hopper)``, ``no NVIDIA GPU``, with ``, Jetson L4T <release>`` on a Jetson."""
    count = int(nvidia.get("gpu_count") or 0)
    if count > 0:
        text = "%d NVIDIA GPU(s) (%s)" % (count, ", ".join(str(a) for a in nvidia.get("architectures") or []))
    else:
        text = "no NVIDIA GPU"
    host = nvidia.get("host") or {}
    if host.get("jetson"):
        text += ", Jetson L4T %s" % (host.get("l4t_release") or "?")
    return text


def _version(section, default):
    return (section or {}).get("version") or default


def fleet_plan(facts, group_names, force_without_gpu=False, host=""):
    """``{plays, classes, has_gpu, has_work, platform, report, problem}`` for one host.

    ``plays``: the names of the site.yml plays for the host (``dgpu``, ``k8s``,
    ``k8s_containerd``, ``jetson``, ``toolkit``); empty when it has no work (in
    no host-class group, or without GPU and not forced).  ``problem``: empty,
    or why the host must not be converged (it has work and its operating
    system or architecture is not supported).  ``report``: the line play 1
    prints for the host.
    """
    nvidia, classes = _inputs(facts, group_names, "fleet_plan")
    forced = _flag(force_without_gpu, "gpufleet_force_without_gpu")
    has_gpu = serves_gpus(nvidia, True)
    has_work = bool(classes) and serves_gpus(nvidia, not forced)
    found = platform(facts)
    if not classes:
        todo = "nothing to do: in no host-class group (%s)" % ", ".join(CLASS_GROUPS)
    elif not has_work:
        todo = ("nothing to do: no NVIDIA GPU and not a Jetson (gpufleet_force_without_gpu: true applies %s anyway)"
                % ", ".join(classes))
    else:
        todo = "will apply %s%s" % (", ".join(classes), "" if has_gpu else " (forced without GPU)")
    container = nvidia.get("container") or {}
    report = "%s %s %s; %s; driver %s; docker %s, containerd %s; %s" % (
        facts.get("distribution"), facts.get("distribution_version"), facts.get("architecture"), gpu_text(nvidia),
        _version(nvidia.get("driver"), "none"), _version(container.get("docker"), "-"),
        _version(container.get("containerd"), "-"), todo)
    problem = ""
    if has_work and not found["supported"]:
        problem = "%s%s Remove it from %s." % ("%s: " % host if host else "", found["problem"], ", ".join(classes))
    return {
        "plays": _plays(classes) if has_work else [],
        "classes": classes,
        "has_gpu": has_gpu,
        "has_work": has_work,
        "platform": found["key"],
        "report": report,
        "problem": problem,
    }


def fleet_uninstall_plan(facts, group_names, keep_driver=False, host=""):
    """``{roles, classes, text}``: the roles whose removal path uninstall.yml runs, in its order.

    ``containerd`` for Kubernetes nodes, ``container_toolkit`` for every host
    in a class, ``driver`` for the classes that got the driver from the
    collection, unless the host is a Jetson (the BSP owns its driver) or
    ``keep_driver`` is true.
    """
    nvidia, classes = _inputs(facts, group_names, "fleet_uninstall_plan")
    keep = _flag(keep_driver, "keep_driver")
    roles = []
    if classes:
        if "gpu_k8s_nodes" in classes:
            roles.append("containerd")
        roles.append("container_toolkit")
        jetson = bool((nvidia.get("host") or {}).get("jetson"))
        if any(c in DRIVER_CLASSES for c in classes) and not jetson and not keep:
            roles.append("driver")
    text = ("removes " + ", ".join(roles)) if roles else "nothing to remove: in no host-class group"
    return {"roles": roles, "classes": classes, "text": "%s%s" % ("%s: " % host if host else "", text)}


def _component(nvidia, name, what):
    """``ansible_facts.nvidia.container.<name>`` ({} when the facts lack it)."""
    if not isinstance(nvidia, dict):
        raise AnsibleFilterError("migrate_report: %s must be ansible_facts.nvidia (a dict), not %s"
                                 % (what, type(nvidia).__name__))
    component = (nvidia.get("container") or {}).get(name) or {}
    if not isinstance(component, dict):
        raise AnsibleFilterError("migrate_report: %s: container.%s must be a dict, not %s"
                                 % (what, name, type(component).__name__))
    return component


def migrate_report(before, after):
    """The line ``migrate_nvidia_docker2.yml`` prints for a host.

    ``before``, ``after``: ``ansible_facts.nvidia`` gathered before and after
    the migration.  ``before: nvidia-docker2 <package version> | absent,
    toolkit <version> | -; after: nvidia-docker2 still installed | absent,
    toolkit <version> | -``.
    """
    legacy = _component(before, "nvidia_docker2", "before")
    if legacy.get("installed"):
        legacy_text = legacy.get("package_version") or "-"
    else:
        legacy_text = "absent"
    return "before: nvidia-docker2 %s, toolkit %s; after: nvidia-docker2 %s, toolkit %s" % (
        legacy_text, _component(before, "nvidia_ctk", "before").get("version") or "-",
        "still installed" if _component(after, "nvidia_docker2", "after").get("installed") else "absent",
        _component(after, "nvidia_ctk", "after").get("version") or "-")


class FilterModule(object):
    """Plans of the fleet playbooks, and the migration's report."""

    def filters(self):
        return {"fleet_plan": fleet_plan, "fleet_uninstall_plan": fleet_uninstall_plan, "migrate_report": migrate_report}
