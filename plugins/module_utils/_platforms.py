# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""The one list of operating systems and architectures gpufleet.nvidia supports.

Every role's first check and ``site.yml``'s plan read it through the
``gpufleet.nvidia.platform`` filter; nothing else names a release.  Pure
functions over Ansible's distribution facts.

A host is named by its *platform key*: ``Ubuntu-22`` for Ubuntu (its packages
differ from Debian's), ``<os_family>-<major>`` for the rest (``Debian-12``,
``RedHat-9`` for RHEL, Rocky, Alma, CentOS Stream, Oracle Linux).  The roles
load their settings with ``first_found`` over ``vars_files`` (most specific
first): ``<key>.yml``, ``<distribution>.yml``, ``<os_family>.yml``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# platform key -> the name the message uses.  Order is the order of the message.
SUPPORTED = (
    ("Debian-12", "Debian 12"),
    ("Debian-13", "Debian 13"),
    ("Ubuntu-20", "Ubuntu 20.04"),
    ("Ubuntu-22", "Ubuntu 22.04"),
    ("Ubuntu-24", "Ubuntu 24.04"),
    ("RedHat-8", "RHEL/Rocky/Alma 8"),
    ("RedHat-9", "RHEL/Rocky/Alma 9"),
)
ARCHITECTURES = ("x86_64", "aarch64")
# os_family -> package manager family of the roles' task files
PACKAGE_FAMILIES = {"Debian": "apt", "RedHat": "dnf"}

SUMMARY = ("Debian 12/13, Ubuntu 20.04/22.04/24.04 and RHEL/Rocky/Alma 8/9, "
           "on %s" % " and ".join(ARCHITECTURES))


def platform_key(facts):
    """``Ubuntu-22``, ``Debian-12``, ``RedHat-9`` ... from Ansible facts (a dict)."""
    distribution = str(facts.get("distribution") or "")
    family = str(facts.get("os_family") or distribution)
    major = str(facts.get("distribution_major_version") or "")
    return "%s-%s" % ("Ubuntu" if distribution == "Ubuntu" else family, major)


def platform(facts):
    """What the roles need to know of a host's operating system.

    ``facts``: ``ansible_facts`` (``distribution``, ``distribution_version``,
    ``distribution_major_version``, ``os_family``, ``architecture``).
    Returns ``{key, family, pkg_family, architecture, supported, problem,
    vars_files}``: ``problem`` is an empty string on a supported host, else a
    sentence naming the host's system and the supported ones.
    """
    facts = facts or {}
    key = platform_key(facts)
    family = str(facts.get("os_family") or "")
    arch = str(facts.get("architecture") or "")
    known = dict(SUPPORTED)
    supported = key in known and arch in ARCHITECTURES and family in PACKAGE_FAMILIES
    problem = ""
    if not supported:
        problem = "%s %s (%s) is not supported: gpufleet.nvidia supports %s." % (
            facts.get("distribution") or "an unknown distribution",
            facts.get("distribution_version") or "",
            arch or "unknown architecture", SUMMARY)
    distribution = str(facts.get("distribution") or "")
    files = [key + ".yml"]
    for name in (distribution, family):
        if name and name + ".yml" not in files:
            files.append(name + ".yml")
    return {
        "key": key,
        "family": family,
        "pkg_family": PACKAGE_FAMILIES.get(family),
        "architecture": arch,
        "supported": supported,
        "problem": problem,
        "vars_files": files,
    }


def serves_gpus(nvidia, require_gpu=True):
    """Whether a role has work on a host: it has an NVIDIA GPU or is a Jetson,
    or the role was told not to require one (``<role>_require_gpu: false``,
    which ``gpufleet_force_without_gpu: true`` sets for every role).

    ``nvidia``: ``ansible_facts.nvidia`` (may be empty or None).
    """
    nvidia = nvidia or {}
    try:
        gpus = int(nvidia.get("gpu_count") or 0)
    except (TypeError, ValueError):
        gpus = 0
    jetson = bool((nvidia.get("host") or {}).get("jetson"))
    return gpus > 0 or jetson or not require_gpu
