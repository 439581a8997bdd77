# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cuda_repo_* filters: every supported distribution/version/machine, fallbacks, errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.cuda_repo import (
    FilterModule, cuda_repo_arch, cuda_repo_path, cuda_repo_plan, cuda_repo_rpm_key_id, cuda_repo_signing_key)

OLD_KEY = "EB693B3035CD5710E231E123A4B469963BF863CC"
NEW_KEY = "02182E60104FCDC26EAE1B8597A5D4CB8793F200"


@pytest.mark.parametrize("distribution, version, machine, expected", [
    ("Ubuntu", "20.04", "x86_64", "ubuntu2004/x86_64"),
    ("Ubuntu", "20.04", "aarch64", "ubuntu2004/sbsa"),
    ("Ubuntu", "22.04", "x86_64", "ubuntu2204/x86_64"),
    ("Ubuntu", "22.04", "aarch64", "ubuntu2204/sbsa"),
    ("Ubuntu", "24.04", "x86_64", "ubuntu2404/x86_64"),
    ("Ubuntu", "24.04", "arm64", "ubuntu2404/sbsa"),
    ("Ubuntu", "24.4", "amd64", "ubuntu2404/x86_64"),
    ("Debian", "12", "x86_64", "debian12/x86_64"),
    ("Debian", "12.7", "amd64", "debian12/x86_64"),
    ("Debian", "13", "x86_64", "debian13/x86_64"),
    ("RedHat", "8.10", "x86_64", "rhel8/x86_64"),
    ("RedHat", "8", "aarch64", "rhel8/sbsa"),
    ("RedHat", "9.4", "x86_64", "rhel9/x86_64"),
    ("RedHat", "9", "aarch64", "rhel9/sbsa"),
    ("Rocky", "9.3", "x86_64", "rhel9/x86_64"),
    ("Rocky", "8.9", "aarch64", "rhel8/sbsa"),
    ("AlmaLinux", "9.4", "x86_64", "rhel9/x86_64"),
    ("CentOS", "8", "x86_64", "rhel8/x86_64"),
    ("OracleLinux", "9.2", "x86_64", "rhel9/x86_64"),
])
def test_supported_trees(distribution, version, machine, expected):
    assert cuda_repo_path(distribution, version, machine) == expected


@pytest.mark.parametrize("distribution, version, expected", [
    ("Debian", "12", "ubuntu2204/sbsa"),      # Raspberry Pi 5, Raspberry Pi OS bookworm
    ("Debian", "12.5", "ubuntu2204/sbsa"),
    ("Raspbian", "12", "ubuntu2204/sbsa"),
    ("Debian", "13", "ubuntu2404/sbsa"),
])
def test_debian_arm64_falls_back_to_ubuntu_tree(distribution, version, expected):
    assert cuda_repo_path(distribution, version, "aarch64") == expected


def test_debian_arm64_native_tree_on_request():
    assert cuda_repo_path("Debian", "12", "aarch64", debian_native_sbsa=True) == "debian12/sbsa"
    # the option changes nothing on x86_64
    assert cuda_repo_path("Debian", "12", "x86_64", debian_native_sbsa=True) == "debian12/x86_64"


@pytest.mark.parametrize("distribution, version, machine, message", [
    ("Ubuntu", "18.04", "x86_64", "Ubuntu 18.04 has no NVIDIA CUDA repository"),
    ("Debian", "11", "x86_64", "Debian 11 has no NVIDIA CUDA repository"),
    ("RedHat", "7.9", "x86_64", "RedHat 7.9 has no NVIDIA CUDA repository"),
    ("Fedora", "40", "x86_64", "distribution 'Fedora' has no NVIDIA CUDA repository"),
    ("Ubuntu", "22.04", "ppc64le", "machine 'ppc64le' has no CUDA repository"),
    ("Debian", "12", "armv7l", "machine 'armv7l' has no CUDA repository"),
])
def test_unsupported(distribution, version, machine, message):
    with pytest.raises(AnsibleFilterError, match=message):
        cuda_repo_path(distribution, version, machine)


def test_jetson_has_no_dgpu_repository():
    with pytest.raises(AnsibleFilterError, match="Jetson"):
        cuda_repo_path("Ubuntu", "22.04", "aarch64", jetson=True)
    with pytest.raises(AnsibleFilterError, match="JetPack"):
        cuda_repo_arch("aarch64", jetson=True)


@pytest.mark.parametrize("machine, expected", [
    ("x86_64", "x86_64"), ("amd64", "x86_64"), ("aarch64", "sbsa"), ("arm64", "sbsa"),
    ("AARCH64", "sbsa"), ("sbsa", "sbsa"),
])
def test_repo_arch(machine, expected):
    assert cuda_repo_arch(machine) == expected


@pytest.mark.parametrize("path, fingerprint, key_file", [
    ("ubuntu2004/x86_64", OLD_KEY, "3bf863cc.pub"),
    ("ubuntu2204/sbsa", OLD_KEY, "3bf863cc.pub"),
    ("ubuntu2404/x86_64", OLD_KEY, "3bf863cc.pub"),
    ("debian12/x86_64", OLD_KEY, "3bf863cc.pub"),
    ("rhel9/sbsa", OLD_KEY, "3bf863cc.pub"),
    ("debian13/x86_64", NEW_KEY, "8793F200.pub"),
    ("/debian13/x86_64/", NEW_KEY, "8793F200.pub"),
])
def test_signing_key(path, fingerprint, key_file):
    key = cuda_repo_signing_key(path)
    assert key == {"file": key_file, "fingerprint": fingerprint}
    assert len(key["fingerprint"]) == 40 and key["fingerprint"].upper() == key["fingerprint"]


def test_signing_key_returns_a_copy():
    cuda_repo_signing_key("debian12/x86_64")["fingerprint"] = "changed"
    assert cuda_repo_signing_key("debian12/x86_64")["fingerprint"] == OLD_KEY


def test_signing_key_rejects_non_path():
    with pytest.raises(AnsibleFilterError, match="not a repository path"):
        cuda_repo_signing_key("debian12")


def test_every_tree_has_a_key_and_round_trips():
    from ansible_collections.gpufleet.nvidia.plugins.filter.cuda_repo import REPO_TREES
    for (family, version), (name, arches) in REPO_TREES.items():
        distribution = {"ubuntu": "Ubuntu", "debian": "Debian", "rhel": "RedHat"}[family]
        for arch in arches:
            path = cuda_repo_path(distribution, version, "aarch64" if arch == "sbsa" else "x86_64")
            assert path == "%s/%s" % (name, arch)
            assert cuda_repo_signing_key(path)["file"].endswith(".pub")


BASE = "https://mirror.example.internal/compute/cuda/repos"
# ansible_facts of the real H200 host (tests/fixtures/gpu-hosts/h200-1gpu-driver580-docker-proof)
NOBLE = {"distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24",
         "os_family": "Debian", "architecture": "x86_64"}
TRIXIE_ARM = {"distribution": "Debian", "distribution_version": "13.1", "os_family": "Debian", "architecture": "aarch64"}


def test_plan_from_the_host():
    assert cuda_repo_plan(NOBLE, {"cuda_repo_base_url": BASE + "//", "cuda_repo_path": "", "cuda_repo_gpg_key_url": "",
                                  "cuda_repo_gpg_fingerprint": "", "cuda_repo_debian_native_sbsa": False}) == {
        "path": "ubuntu2404/x86_64",
        "url": BASE + "/ubuntu2404/x86_64/",
        "key_url": BASE + "/ubuntu2404/x86_64/3bf863cc.pub",
        "fingerprint": OLD_KEY,
    }


def test_plan_debian_arm64_uses_the_ubuntu_tree_unless_told():
    plan = cuda_repo_plan(TRIXIE_ARM, {"cuda_repo_base_url": BASE})
    assert plan["path"] == "ubuntu2404/sbsa" and plan["fingerprint"] == OLD_KEY
    native = cuda_repo_plan(TRIXIE_ARM, {"cuda_repo_base_url": BASE, "cuda_repo_debian_native_sbsa": "true"})
    # debian13's tree is signed with the newer key
    assert native["path"] == "debian13/sbsa" and native["fingerprint"] == NEW_KEY
    assert native["key_url"] == BASE + "/debian13/sbsa/8793F200.pub"


def test_plan_options_win():
    plan = cuda_repo_plan(NOBLE, {"cuda_repo_base_url": BASE, "cuda_repo_path": "/ubuntu2204/sbsa/",
                                  "cuda_repo_gpg_key_url": "https://keys.example.internal/cuda.asc",
                                  "cuda_repo_gpg_fingerprint": "aaaa bbbb cccc dddd eeee  ffff 0000 1111 2222 3333"})
    assert plan == {"path": "ubuntu2204/sbsa", "url": BASE + "/ubuntu2204/sbsa/",
                    "key_url": "https://keys.example.internal/cuda.asc",
                    "fingerprint": "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333"}


@pytest.mark.parametrize("facts, options, message", [
    (NOBLE, {"cuda_repo_base_url": ""}, "cuda_repo_base_url is empty"),
    (dict(NOBLE, architecture="ppc64le"), {"cuda_repo_base_url": BASE}, "ppc64le"),
    (dict(NOBLE, distribution="Arch"), {"cuda_repo_base_url": BASE}, "Arch"),
    ("facts", {"cuda_repo_base_url": BASE}, "expected ansible_facts"),
    (NOBLE, ["options"], "expected the role's options"),
])
def test_plan_refuses(facts, options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        cuda_repo_plan(facts, options)


def test_rpm_key_id():
    assert cuda_repo_rpm_key_id("") == "3bf863cc"
    assert cuda_repo_rpm_key_id(None) == "3bf863cc"
    assert cuda_repo_rpm_key_id(NEW_KEY) == "8793f200"
    assert cuda_repo_rpm_key_id("02182e60 104fcdc2 6eae1b85 97a5d4cb 8793f200") == "8793f200"
    with pytest.raises(AnsibleFilterError, match="not a key fingerprint"):
        cuda_repo_rpm_key_id("12ab")


def test_filter_module_exports():
    assert sorted(FilterModule().filters()) == [
        "cuda_repo_arch", "cuda_repo_path", "cuda_repo_plan", "cuda_repo_rpm_key_id", "cuda_repo_signing_key"]
