# -*- coding: utf-8 -*-
"""container_toolkit_plan and container_toolkit_cdi_state, as the role calls them.

Real state scans of Molecule instances and of the H200 host
(tests/fixtures/toolkit-scan/README.md), with the wanted state each host was
converged with: what the role must do on each.
"""
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.container_toolkit_plan import FilterModule

F = FilterModule().filters()
SCANS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "toolkit-scan")
PACKAGES = ["libnvidia-container1", "libnvidia-container-tools", "nvidia-container-toolkit-base", "nvidia-container-toolkit"]
# the key of the TEST FIXTURE repository the Molecule runs served (tests/molecule/fixture_repo.sh)
FIXTURE_FPR = None


class Tagged(str):
    """A str subclass, as templated values are on ansible-core 2.19."""


def scan(name):
    with open(os.path.join(SCANS, name), "rb") as handle:
        return handle.read().decode("utf-8")


def wanted(**changes):
    base = {
        "packages": PACKAGES, "version": "1.20.0-1", "legacy_packages": ["nvidia-docker2", "nvidia-container-runtime", "nvidia-docker"],
        "migrate_legacy": True, "use_repo": True, "pkg_family": "apt", "repo_key_inline": False,
        "repo_key_fingerprint": "C95B321B61E88C1809C4F759DDCAE044F796ECB0",
        "source_path": "/etc/apt/sources.list.d/nvidia-container-toolkit.sources",
        "pin_path": "/etc/apt/preferences.d/nvidia-container-toolkit",
        "source_sha1": "", "pin_sha1": "", "pin_version": True, "config_sets": [],
        "jetson": False, "systemd": True, "cdi": False, "cdi_stamp": "toolkit=1.20.0-1 driver=none",
        "check_mode": False, "docker_runtime": True, "docker_installed": True, "docker_registration": "daemon_json",
        "docker_daemon_json": "/etc/docker/daemon.json", "runtime_name": "nvidia",
        "runtime_path": "/usr/bin/nvidia-container-runtime", "runtime_args": None, "docker_default_runtime": None,
    }
    base.update(changes)
    return base


def test_filters_listed():
    assert sorted(F) == ["container_toolkit_cdi_state", "container_toolkit_plan"]


def test_wanted_must_be_a_dict():
    with pytest.raises(AnsibleFilterError):
        F["container_toolkit_plan"]("#end\n", "nope")


def test_scan_must_be_text():
    with pytest.raises(AnsibleFilterError):
        F["container_toolkit_plan"](42, wanted())


def test_h200_fresh_host_tagged_strings():
    """Templated values (str subclasses) give the same plan as plain ones."""
    text = scan("h200-fresh-local-packages.txt")
    plain = F["container_toolkit_plan"](text, wanted(use_repo=False))
    want = wanted(use_repo=False, version=Tagged("1.20.0-1"), runtime_name=Tagged("nvidia"), check_mode="False")
    tagged = F["container_toolkit_plan"](Tagged(text), want)
    assert plain == tagged
    assert plain["steps"] == ["install", "docker"]


def test_cut_off_daemon_line_is_reported_not_raised():
    got = F["container_toolkit_plan"]("#daemon\nb64:e30=x\n#end\n", wanted(use_repo=False))
    assert got["daemon_json_plan"]["changed"] is True
    assert "not base64" in got["daemon_json_plan"]["error"]
    assert got["steps"][-1] == "docker"


def test_cdi_state_from_lines_or_text():
    lines = ["unit=no spec=yes path=/ unitspec=no driver=yes", "toolkit=1.20.0-1 driver=580.1"]
    by_lines = F["container_toolkit_cdi_state"](lines, "toolkit=1.20.0-1 driver=580.1", jetson=False, systemd=True)
    by_text = F["container_toolkit_cdi_state"]("\r\n".join(lines) + "\r\n", "toolkit=1.20.0-1\ndriver=580.1")
    assert by_lines == by_text
    assert by_lines["method"] == "generate" and by_lines["current"] is True


def test_cdi_state_refuses_other_types():
    with pytest.raises(AnsibleFilterError):
        F["container_toolkit_cdi_state"](42)
