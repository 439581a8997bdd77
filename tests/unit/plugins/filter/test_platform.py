# -*- coding: utf-8 -*-
"""The one support matrix: platform keys, vars files, the refusal message, serves_gpus."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.platform import FilterModule
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _platforms

F = FilterModule().filters()


def facts(distribution, version, family, arch="x86_64"):
    return {"distribution": distribution, "distribution_version": version,
            "distribution_major_version": version.split(".")[0], "os_family": family, "architecture": arch}


@pytest.mark.parametrize("distribution,version,family,key,files", [
    ("Ubuntu", "22.04", "Debian", "Ubuntu-22", ["Ubuntu-22.yml", "Ubuntu.yml", "Debian.yml"]),
    ("Ubuntu", "24.04", "Debian", "Ubuntu-24", ["Ubuntu-24.yml", "Ubuntu.yml", "Debian.yml"]),
    ("Debian", "12", "Debian", "Debian-12", ["Debian-12.yml", "Debian.yml"]),
    ("Debian", "13", "Debian", "Debian-13", ["Debian-13.yml", "Debian.yml"]),
    ("Rocky", "9.4", "RedHat", "RedHat-9", ["RedHat-9.yml", "Rocky.yml", "RedHat.yml"]),
    ("AlmaLinux", "8.10", "RedHat", "RedHat-8", ["RedHat-8.yml", "AlmaLinux.yml", "RedHat.yml"]),
    ("RedHat", "9.5", "RedHat", "RedHat-9", ["RedHat-9.yml", "RedHat.yml"]),
])
def test_supported_platforms(distribution, version, family, key, files):
    for arch in ("x86_64", "aarch64"):
        got = F["platform"](facts(distribution, version, family, arch))
        assert got["key"] == key
        assert got["supported"] is True
        assert got["problem"] == ""
        assert got["vars_files"] == files
        assert got["pkg_family"] == {"Debian": "apt", "RedHat": "dnf"}[family]


@pytest.mark.parametrize("f", [
    facts("Ubuntu", "18.04", "Debian"),
    facts("Debian", "11", "Debian"),
    facts("Ubuntu", "24.04", "Debian", "ppc64le"),
    facts("Fedora", "41", "RedHat"),  # os_family RedHat, but RedHat-41 is not a release we support
    facts("SLES", "15.5", "Suse"),
    facts("Archlinux", "", "Archlinux"),
])
def test_unsupported_platforms_say_what_is_supported(f):
    got = F["platform"](f)
    assert got["supported"] is False
    assert f["architecture"] in got["problem"]
    assert _platforms.SUMMARY in got["problem"]


def test_every_supported_key_is_reachable_from_facts():
    for key, _name in _platforms.SUPPORTED:
        family, major = key.split("-")
        distribution = "Ubuntu" if family == "Ubuntu" else family
        f = facts(distribution, major, "Debian" if family == "Ubuntu" else family)
        assert F["platform"](f)["key"] == key


def test_platform_refuses_non_dict():
    with pytest.raises(AnsibleFilterError, match="expected ansible_facts"):
        F["platform"]("Ubuntu")


@pytest.mark.parametrize("nvidia,require,expected", [
    ({"gpu_count": 8, "host": {"jetson": False}}, True, True),
    ({"gpu_count": 0, "host": {"jetson": True}}, True, True),
    ({"gpu_count": 0, "host": {"jetson": False}}, True, False),
    ({"gpu_count": 0, "host": {"jetson": False}}, False, True),
    ({}, True, False),
    (None, True, False),
    (None, "false", True),
    ({"gpu_count": "2"}, "yes", True),
])
def test_serves_gpus(nvidia, require, expected):
    assert F["serves_gpus"](nvidia, require) is expected


def test_serves_gpus_refuses_non_dict():
    with pytest.raises(AnsibleFilterError, match="expected ansible_facts.nvidia"):
        F["serves_gpus"]([1])
