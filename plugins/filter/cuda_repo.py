# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that name NVIDIA's CUDA repository for a host.

``cuda_repo_arch``: machine (``x86_64``, ``aarch64``, ``amd64``, ``arm64``) ->
repository architecture (``x86_64`` or ``sbsa``).  ``cuda_repo_path``:
(distribution, version, machine) -> ``ubuntu2204/sbsa``, ``debian12/x86_64``,
``rhel9/sbsa`` ...  ``cuda_repo_signing_key``: repository path -> the key file
NVIDIA publishes in it and that key's fingerprint.  ``cuda_repo_plan``:
(ansible_facts, the role's options) -> the repository's path and URL, the
key's URL and the fingerprint it must have: every decision of the
cuda_repo role's repository.yml.  ``cuda_repo_rpm_key_id``: a fingerprint ->
the short key id the RPM database names the key by.

Documentation of each filter is in the YAML file of the same name next to
this one (``cuda_repo_path.yml`` ...), which ``ansible-doc -t filter`` reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.module_utils._host_facts import cuda_repo_arch as _repo_arch

# Repository trees NVIDIA publishes under .../compute/cuda/repos/, per
# distribution family and major version, with the architectures they carry.
# Debian has no sbsa tree in the releases this collection targets: arm64
# Debian hosts (Raspberry Pi OS on a Pi 5) use the Ubuntu tree of the same
# generation (glibc/gcc), as NVIDIA's arm64 users do in practice.
REPO_TREES = {
    ("ubuntu", "20.04"): ("ubuntu2004", ("x86_64", "sbsa")),
    ("ubuntu", "22.04"): ("ubuntu2204", ("x86_64", "sbsa")),
    ("ubuntu", "24.04"): ("ubuntu2404", ("x86_64", "sbsa")),
    ("debian", "12"): ("debian12", ("x86_64",)),
    ("debian", "13"): ("debian13", ("x86_64",)),
    ("rhel", "8"): ("rhel8", ("x86_64", "sbsa")),
    ("rhel", "9"): ("rhel9", ("x86_64", "sbsa")),
}

# Debian release -> Ubuntu tree used for arm64 (sbsa) on that release.
DEBIAN_SBSA_FALLBACK = {
    "12": "ubuntu2204",
    "13": "ubuntu2404",
}

# Distributions that use NVIDIA's rhel<N> trees (Ansible's distribution names).
RHEL_LIKE = ("redhat", "rhel", "rocky", "almalinux", "centos", "oraclelinux", "ol")

# Raspberry Pi OS reports itself as Debian; keep the other spellings too.
DEBIAN_LIKE = ("debian", "raspbian", "raspberry pi os")

# Signing keys of the CUDA repositories.  The long-standing key (id 3bf863cc)
# signs the trees up to debian12/ubuntu2404/rhel9; the debian13 tree is
# published with the newer key 8793f200.
CUDA_KEY_3BF863CC = {"file": "3bf863cc.pub", "fingerprint": "EB693B3035CD5710E231E123A4B469963BF863CC"}
CUDA_KEY_8793F200 = {"file": "8793F200.pub", "fingerprint": "02182E60104FCDC26EAE1B8597A5D4CB8793F200"}
SIGNING_KEYS = {"debian13": CUDA_KEY_8793F200}


def _major_version(distribution, version):
    text = str(version).strip()
    if distribution == "ubuntu":
        parts = text.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return "%s.%02d" % (int(parts[0]), int(parts[1]))
        return text
    return text.split(".", 1)[0]


def _family(distribution):
    name = str(distribution).strip().lower()
    if name in DEBIAN_LIKE:
        return "debian"
    if name == "ubuntu":
        return "ubuntu"
    if name in RHEL_LIKE:
        return "rhel"
    return None


def cuda_repo_arch(machine, jetson=False):
    """Return ``x86_64`` or ``sbsa`` for a machine name; Jetson has no dGPU repository."""
    if jetson:
        raise AnsibleFilterError(
            "cuda_repo_arch: NVIDIA Jetson (L4T) gets CUDA from the JetPack/L4T repository, "
            "not from NVIDIA's CUDA repository for discrete GPUs")
    arch = _repo_arch(machine)
    if arch is None:
        raise AnsibleFilterError(
            "cuda_repo_arch: machine %r has no CUDA repository (supported: x86_64/amd64, aarch64/arm64)"
            % (machine,))
    return arch


def cuda_repo_path(distribution, version, machine, jetson=False, debian_native_sbsa=False):
    """Return the CUDA repository path (``<distro><version>/<arch>``) for a host.

    ``distribution`` and ``version`` are Ansible's ``distribution`` and
    ``distribution_version`` (or ``distribution_major_version``) facts;
    ``machine`` is ``ansible_facts.architecture`` or a dpkg architecture.
    ``debian_native_sbsa`` uses ``debian<N>/sbsa`` on arm64 Debian instead of
    the Ubuntu tree (for mirrors that carry one).
    """
    arch = cuda_repo_arch(machine, jetson=jetson)
    family = _family(distribution)
    if family is None:
        raise AnsibleFilterError(
            "cuda_repo_path: distribution %r has no NVIDIA CUDA repository "
            "(supported: Debian, Ubuntu, RHEL and rebuilds such as Rocky/AlmaLinux)" % (distribution,))
    major = _major_version(family, version)
    tree = REPO_TREES.get((family, major))
    if tree is None:
        known = ", ".join(sorted("%s %s" % key for key in REPO_TREES))
        raise AnsibleFilterError(
            "cuda_repo_path: %s %s has no NVIDIA CUDA repository (supported: %s)"
            % (distribution, version, known))
    name, arches = tree
    if arch in arches:
        return "%s/%s" % (name, arch)
    if family == "debian" and arch == "sbsa":
        if debian_native_sbsa:
            return "%s/sbsa" % name
        return "%s/sbsa" % DEBIAN_SBSA_FALLBACK[major]
    raise AnsibleFilterError(
        "cuda_repo_path: NVIDIA publishes no %s tree for %s %s" % (arch, distribution, version))


def cuda_repo_signing_key(repo_path):
    """Return ``{file, fingerprint}`` of the key that signs the repository ``repo_path``."""
    text = str(repo_path).strip().strip("/")
    if "/" not in text:
        raise AnsibleFilterError(
            "cuda_repo_signing_key: %r is not a repository path such as ubuntu2204/x86_64" % (repo_path,))
    tree = text.split("/", 1)[0]
    return dict(SIGNING_KEYS.get(tree, CUDA_KEY_3BF863CC))


def _normal_fingerprint(fingerprint):
    return re.sub(r"[^0-9A-F]", "", str(fingerprint or "").upper())


def cuda_repo_plan(facts, options):
    """The CUDA repository for a host: ``{path, url, key_url, fingerprint}``.

    ``facts``: ``ansible_facts`` (``distribution``, ``distribution_version``,
    ``architecture``).  ``options``: the role's variables ``cuda_repo_base_url``
    (required), ``cuda_repo_path``, ``cuda_repo_gpg_key_url``,
    ``cuda_repo_gpg_fingerprint`` and ``cuda_repo_debian_native_sbsa``; an
    empty one takes the value computed from the host (the tree
    ``cuda_repo_path`` names, the key NVIDIA publishes in it, that key's
    fingerprint).
    """
    if not isinstance(facts, dict):
        raise AnsibleFilterError("cuda_repo_plan: expected ansible_facts (a dict), got %s" % type(facts).__name__)
    if not isinstance(options, dict):
        raise AnsibleFilterError("cuda_repo_plan: expected the role's options (a dict), got %s"
                                 % type(options).__name__)
    base = str(options.get("cuda_repo_base_url") or "").strip().rstrip("/")
    if not base:
        raise AnsibleFilterError("cuda_repo_plan: cuda_repo_base_url is empty")
    path = str(options.get("cuda_repo_path") or "").strip().strip("/")
    if not path:
        native = options.get("cuda_repo_debian_native_sbsa")
        if isinstance(native, str):
            native = native.strip().lower() in ("1", "true", "yes", "on")
        path = cuda_repo_path(facts.get("distribution"), facts.get("distribution_version"),
                              facts.get("architecture"), debian_native_sbsa=bool(native))
    key = cuda_repo_signing_key(path)
    return {
        "path": path,
        "url": "%s/%s/" % (base, path),
        "key_url": str(options.get("cuda_repo_gpg_key_url") or "").strip() or "%s/%s/%s" % (base, path, key["file"]),
        "fingerprint": _normal_fingerprint(options.get("cuda_repo_gpg_fingerprint") or key["fingerprint"]),
    }


def cuda_repo_rpm_key_id(fingerprint=""):
    """The RPM database's id of a key (the last 8 hex digits of its fingerprint, lower case).

    Empty: NVIDIA's long-standing CUDA key (3bf863cc).
    """
    text = _normal_fingerprint(fingerprint) or CUDA_KEY_3BF863CC["fingerprint"]
    if len(text) < 8:
        raise AnsibleFilterError("cuda_repo_rpm_key_id: %r is not a key fingerprint" % (fingerprint,))
    return text[-8:].lower()


class FilterModule(object):
    """CUDA repository filters."""

    def filters(self):
        return {
            "cuda_repo_arch": cuda_repo_arch,
            "cuda_repo_path": cuda_repo_path,
            "cuda_repo_signing_key": cuda_repo_signing_key,
            "cuda_repo_plan": cuda_repo_plan,
            "cuda_repo_rpm_key_id": cuda_repo_rpm_key_id,
        }
