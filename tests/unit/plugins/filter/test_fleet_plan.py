# -*- coding: utf-8 -*-
"""fleet_plan and fleet_uninstall_plan: what site.yml and uninstall.yml do to a host.

The NVIDIA facts are the ones nvidia_gpu_facts gathered on the H200 test host
(tests/fixtures/gpu-hosts/h200-1gpu-driver580-docker-proof/nvidia-facts.json,
Ubuntu 24.04 x86_64); the expected report lines are the ones site.yml printed
there (docs/testing.md, "Captured runs on real hardware").
"""
import copy
import json
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.fleet_plan import (
    CLASS_GROUPS,
    FilterModule,
    fleet_plan,
    fleet_uninstall_plan,
    gpu_text,
    migrate_report,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._platforms import platform

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "..", "fixtures", "gpu-hosts", "h200-1gpu-driver580-docker-proof",
                       "nvidia-facts.json")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


def h200_facts(**os_facts):
    with open(FIXTURE) as handle:
        nvidia = json.load(handle)
    facts = {"distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24",
             "os_family": "Debian", "architecture": "x86_64", "nvidia": nvidia}
    facts.update(os_facts)
    return facts


def no_gpu(facts):
    facts = copy.deepcopy(facts)
    facts["nvidia"].update(gpu_count=0, gpus=[], architectures=[])
    facts["nvidia"]["driver"].update(version=None, installed=False, loaded=False)
    return facts


def test_filters_are_registered():
    assert FilterModule().filters() == {"fleet_plan": fleet_plan, "fleet_uninstall_plan": fleet_uninstall_plan,
                                        "migrate_report": migrate_report}


def test_report_lines_of_the_real_h200_host():
    alone = fleet_plan(h200_facts(), ["ungrouped"], host="localhost")
    assert alone["report"] == (
        "Ubuntu 24.04 x86_64; 1 NVIDIA GPU(s) (Hopper); driver 580.159.04; docker -, containerd -; nothing to do: "
        "in no host-class group (gpu_docker_hosts, gpu_k8s_nodes, rpi_egpu, jetson, airgapped, nvidia_docker2_legacy)")
    assert alone["plays"] == [] and alone["problem"] == "" and alone["has_work"] is False
    docker = fleet_plan(h200_facts(), ["gpu_docker_hosts"], host="localhost")
    assert docker["report"] == ("Ubuntu 24.04 x86_64; 1 NVIDIA GPU(s) (Hopper); driver 580.159.04; docker -, "
                                "containerd -; will apply gpu_docker_hosts")
    assert docker["plays"] == ["dgpu"] and docker["problem"] == "" and docker["platform"] == "Ubuntu-24"


@pytest.mark.parametrize("groups, plays", [
    (["gpu_docker_hosts"], ["dgpu"]),
    (["rpi_egpu"], ["dgpu"]),
    (["gpu_k8s_nodes"], ["k8s"]),
    (["gpu_docker_hosts", "gpu_k8s_nodes"], ["dgpu", "k8s_containerd"]),
    (["gpu_k8s_nodes", "jetson"], ["k8s"]),
    (["jetson"], ["jetson"]),
    (["airgapped", "jetson"], ["jetson"]),
    (["airgapped"], ["toolkit"]),
    (["nvidia_docker2_legacy"], ["toolkit"]),
    (["airgapped", "gpu_docker_hosts", "nvidia_docker2_legacy"], ["dgpu"]),
    (["web", "db"], []),
    ([], []),
])
def test_plays_by_host_class(groups, plays):
    got = fleet_plan(h200_facts(), groups)
    assert got["plays"] == plays
    assert got["classes"] == [g for g in groups if g in CLASS_GROUPS]


def test_no_gpu_host_has_nothing_to_do_unless_forced():
    facts = no_gpu(h200_facts())
    plan = fleet_plan(facts, ["airgapped", "gpu_docker_hosts"], host="node-a")
    assert plan["plays"] == [] and plan["has_gpu"] is False and plan["has_work"] is False
    assert plan["report"] == (
        "Ubuntu 24.04 x86_64; no NVIDIA GPU; driver none; docker -, containerd -; nothing to do: no NVIDIA GPU and "
        "not a Jetson (gpufleet_force_without_gpu: true applies airgapped, gpu_docker_hosts anyway)")
    for forced in (True, "true", "yes"):
        plan = fleet_plan(facts, ["airgapped", "gpu_docker_hosts"], force_without_gpu=forced)
        assert plan["plays"] == ["dgpu"] and plan["has_work"] is True
        assert plan["report"].endswith("will apply airgapped, gpu_docker_hosts (forced without GPU)")


def test_jetson_has_work_without_a_discrete_gpu():
    facts = no_gpu(h200_facts(architecture="aarch64"))
    facts["nvidia"]["host"].update(jetson=True, l4t_release="36.4.3")
    facts["nvidia"]["container"]["docker"].update(installed=True, version="27.5.1")
    plan = fleet_plan(facts, ["jetson"])
    assert plan["plays"] == ["jetson"] and plan["has_gpu"] is True
    assert plan["report"] == ("Ubuntu 24.04 aarch64; no NVIDIA GPU, Jetson L4T 36.4.3; driver none; docker 27.5.1, "
                              "containerd -; will apply jetson")
    facts["nvidia"]["host"]["l4t_release"] = None
    assert gpu_text(facts["nvidia"]) == "no NVIDIA GPU, Jetson L4T ?"


@pytest.mark.parametrize("os_facts", [
    {"distribution": "Ubuntu", "distribution_version": "18.04", "distribution_major_version": "18"},
    {"distribution": "CentOS", "distribution_version": "7.9", "distribution_major_version": "7", "os_family": "RedHat"},
    {"architecture": "ppc64le"},
    {"distribution": "SLES", "distribution_version": "15.5", "distribution_major_version": "15", "os_family": "Suse"},
])
def test_unsupported_os_is_a_problem_only_for_a_host_with_work(os_facts):
    facts = h200_facts(**os_facts)
    plan = fleet_plan(facts, ["gpu_k8s_nodes"], host="gpu-07")
    # the one support matrix's sentence, with the host and its groups
    assert plan["problem"] == "gpu-07: %s Remove it from gpu_k8s_nodes." % platform(facts)["problem"]
    assert "is not supported: gpufleet.nvidia supports Debian 12/13" in plan["problem"]
    assert fleet_plan(facts, ["web"], host="gpu-07")["problem"] == ""
    assert fleet_plan(no_gpu(facts), ["gpu_k8s_nodes"], host="gpu-07")["problem"] == ""


@pytest.mark.parametrize("os_facts, key", [
    ({}, "Ubuntu-24"),
    ({"distribution": "Debian", "distribution_version": "12.8", "distribution_major_version": "12"}, "Debian-12"),
    ({"distribution": "Rocky", "distribution_version": "9.5", "distribution_major_version": "9",
      "os_family": "RedHat", "architecture": "aarch64"}, "RedHat-9"),
])
def test_supported_os_has_no_problem(os_facts, key):
    plan = fleet_plan(h200_facts(**os_facts), ["gpu_docker_hosts"])
    assert plan["problem"] == "" and plan["platform"] == key


def test_bad_inputs_fail_the_template():
    with pytest.raises(AnsibleFilterError, match="expected ansible_facts"):
        fleet_plan("Ubuntu", ["gpu_docker_hosts"])
    with pytest.raises(AnsibleFilterError, match="group_names must be a list"):
        fleet_plan(h200_facts(), "gpu_docker_hosts")
    with pytest.raises(AnsibleFilterError, match="gpufleet_force_without_gpu must be a boolean"):
        fleet_plan(h200_facts(), ["gpu_docker_hosts"], force_without_gpu="maybe")
    with pytest.raises(AnsibleFilterError, match="nvidia must be a dict"):
        fleet_plan({"nvidia": [1]}, ["gpu_docker_hosts"])


@pytest.mark.parametrize("groups, jetson, keep, roles", [
    (["gpu_docker_hosts"], False, False, ["container_toolkit", "driver"]),
    (["gpu_k8s_nodes"], False, False, ["containerd", "container_toolkit", "driver"]),
    (["gpu_k8s_nodes"], False, True, ["containerd", "container_toolkit"]),
    (["rpi_egpu"], False, False, ["container_toolkit", "driver"]),
    (["gpu_docker_hosts"], True, False, ["container_toolkit"]),
    (["jetson"], True, False, ["container_toolkit"]),
    (["airgapped"], False, False, ["container_toolkit"]),
    (["nvidia_docker2_legacy", "gpu_docker_hosts"], False, False, ["container_toolkit", "driver"]),
    (["web"], False, False, []),
])
def test_uninstall_plan(groups, jetson, keep, roles):
    facts = h200_facts()
    facts["nvidia"]["host"]["jetson"] = jetson
    plan = fleet_uninstall_plan(facts, groups, keep_driver=keep, host="gpu-03")
    assert plan["roles"] == roles
    assert plan["text"] == ("gpu-03: removes " + ", ".join(roles) if roles
                            else "gpu-03: nothing to remove: in no host-class group")


def test_site_yml_uses_the_filter_and_names_no_release():
    """Play 1 of site.yml takes its plan from the filter: no OS list, no plan Jinja of its own."""
    with open(os.path.join(REPO, "playbooks", "site.yml")) as handle:
        text = handle.read()
    assert "gpufleet.nvidia.fleet_plan(" in text
    for name in ("Ubuntu-22", "RedHat-9", "gpufleet_supported_os", "x86_64"):
        assert name not in text


def legacy(nvidia, docker2_version=None, ctk_version=None):
    """The H200 host's facts with nvidia-docker2 (package version) and nvidia-ctk (version) as given."""
    nvidia = copy.deepcopy(nvidia)
    container = nvidia["container"]
    if docker2_version is not None:
        container["nvidia_docker2"].update(installed=True, package="nvidia-docker2", path="/usr/bin/nvidia-docker",
                                           package_version=docker2_version or None,
                                           version=docker2_version.split("-")[0] or None)
    if ctk_version is not None:
        container["nvidia_ctk"].update(installed=True, package="nvidia-container-toolkit-base", path="/usr/bin/nvidia-ctk",
                                       package_version=ctk_version + "-1", version=ctk_version)
    return nvidia


def test_migrate_report_of_the_molecule_migration():
    """The lines the migration scenario printed: nvidia-docker2 2.13 over toolkit 1.13.5, moved to 1.20.0;
    then the idempotence run over the migrated host. The inline Jinja broke the before part over two lines."""
    nvidia = h200_facts()["nvidia"]
    before = legacy(nvidia, "2.13.0-1", "1.13.5")
    after = legacy(nvidia, ctk_version="1.20.0")
    assert migrate_report(before, after) == ("before: nvidia-docker2 2.13.0-1, toolkit 1.13.5; "
                                             "after: nvidia-docker2 absent, toolkit 1.20.0")
    assert migrate_report(after, after) == ("before: nvidia-docker2 absent, toolkit 1.20.0; "
                                            "after: nvidia-docker2 absent, toolkit 1.20.0")


def test_migrate_report_of_the_real_h200_host_and_edge_cases():
    nvidia = h200_facts()["nvidia"]
    # nothing of either on the H200 host
    assert migrate_report(nvidia, nvidia) == "before: nvidia-docker2 absent, toolkit -; after: nvidia-docker2 absent, toolkit -"
    # the package database gave no version; the removal did not happen
    stuck = legacy(nvidia, "", "1.13.5")
    assert migrate_report(stuck, stuck) == ("before: nvidia-docker2 -, toolkit 1.13.5; "
                                            "after: nvidia-docker2 still installed, toolkit 1.13.5")
    # facts without the container section: nothing installed
    assert migrate_report({}, {"container": None}) == ("before: nvidia-docker2 absent, toolkit -; "
                                                       "after: nvidia-docker2 absent, toolkit -")


@pytest.mark.parametrize("before, after, message", [
    (None, {}, "before must be ansible_facts.nvidia"),
    ({}, "x", "after must be ansible_facts.nvidia"),
    ({"container": {"nvidia_ctk": "1.17"}}, {}, "before: container.nvidia_ctk must be a dict"),
])
def test_migrate_report_refuses_other_input(before, after, message):
    with pytest.raises(AnsibleFilterError, match=message):
        migrate_report(before, after)


def test_migrate_playbook_uses_the_filter():
    with open(os.path.join(REPO, "playbooks", "migrate_nvidia_docker2.yml")) as handle:
        text = handle.read()
    assert "gpufleet.nvidia.migrate_report(ansible_facts.nvidia)" in text
    assert "still installed" not in text and "package_version" not in text
