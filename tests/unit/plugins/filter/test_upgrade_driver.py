# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade_driver_* filters over the state script's real and assembled output
(tests/fixtures/driver-state/README.md says where each file comes from)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.upgrade_driver import (
    MODULE_ORDER, FilterModule, unload_order, upgrade_driver_kubectl_argv, upgrade_driver_plan, upgrade_driver_reload,
    upgrade_driver_state, upgrade_driver_stopped, upstream_version)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "driver-state")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_filters_are_registered():
    assert sorted(FilterModule().filters()) == ["upgrade_driver_kubectl_argv", "upgrade_driver_plan", "upgrade_driver_reload",
                                                "upgrade_driver_state", "upgrade_driver_stopped"]


def test_state_of_the_real_h200_host():
    state = upgrade_driver_state(fixture("h200-busy.txt"))
    assert state["loaded_version"] == "580.159.04"
    assert state["loaded_kernel_module"] == "open"
    assert state["built_version"] is None and state["installed_version"] is None
    assert state["smi"] == {"available": True, "error": None, "processes": [
        {"pid": 456, "name": "python3", "gpu_uuid": "GPU-2f49a933-9d48-1ffe-ed1f-2adbc41a6df8", "used_mib": 774}]}
    # the kernel shows "-" for refcount and users there
    assert state["modules"] == {"nvidia_uvm": {"refcount": None, "users": [], "state": "Live"},
                                "nvidia": {"refcount": None, "users": [], "state": "Live"}}
    assert state["holders"] == [{"pid": 456, "comm": "python3"}]
    # no systemctl on that host: every unit's state is empty
    assert state["services"] == {"nvidia-persistenced": "unknown", "nvidia-fabricmanager": "unknown",
                                 "nvidia-dcgm": "unknown", "dcgm": "unknown"}
    assert state["containers"] == {"available": False, "running": [], "gpu": []}


def test_idle_h200_has_no_gpu_process():
    state = upgrade_driver_state(fixture("h200-idle.txt"))
    assert state["smi"]["processes"] == [] and state["smi"]["error"] is None
    assert state["holders"] == []


def test_state_of_the_debian_host():
    state = upgrade_driver_state(fixture("debian12-busy.txt"))
    assert state["loaded_version"] == "535.216.01" and state["loaded_kernel_module"] == "proprietary"
    assert state["installed_version"] == "535.261.03" and state["installed_from"] == "modinfo"
    assert state["packages"]["nvidia-kernel-dkms"] == "535.261.03-1"  # held ("hi") counts as installed
    assert state["modules"]["nvidia"] == {"refcount": 5, "users": ["nvidia_uvm", "nvidia_modeset"], "state": "Live"}
    assert state["services"]["nvidia-persistenced"] == "active" and state["services"]["dcgm"] == "inactive"
    gpu = dict((c["name"], c["why"]) for c in state["containers"]["gpu"])
    assert state["containers"]["running"] == ["trainer", "inference", "web", "encoder", "cuda-job"]
    assert gpu == {
        "trainer": "--gpus all",
        "inference": "--gpus 0,1",
        "cuda-job": "runtime nvidia with NVIDIA_VISIBLE_DEVICES=GPU-2f49a933-9d48-1ffe-ed1f-2adbc41a6df8",
    }  # "web": the variable under runc gives no GPU; "encoder": void


def test_installed_version_falls_back_to_the_packages():
    text = fixture("debian12-busy.txt").replace("#built\n535.261.03\n", "#built\n")
    state = upgrade_driver_state(text)
    assert state["installed_version"] == "535.261.03" and state["installed_from"] == "nvidia-kernel-dkms"


@pytest.mark.parametrize("raw, upstream", [
    ("535.261.03-1", "535.261.03"), ("1:580.95.05-0ubuntu1", "580.95.05"), ("580.95.05-1.el9", "580.95.05"),
    ("550.163.01-2", "550.163.01"), ("570.86", "570.86"), ("", None), ("garbage", None)])
def test_upstream_version(raw, upstream):
    assert upstream_version(raw) == upstream


def test_missing_sections_are_refused_with_a_clear_message():
    with pytest.raises(AnsibleFilterError, match="lacks section.*holders, containers"):
        upgrade_driver_state(fixture("h200-idle.txt").split("#holders")[0])
    with pytest.raises(AnsibleFilterError, match="a string"):
        upgrade_driver_state({"smi": ""})


def test_busy_h200_is_blocked_and_says_by_what():
    plan = upgrade_driver_plan(fixture("h200-busy.txt"), branch="580", host="gpu-07")
    assert plan["needed"] and plan["action"] == "blocked"
    assert plan["blockers"] == ["GPU process 456 python3 on GPU-2f49a933-9d48-1ffe-ed1f-2adbc41a6df8 (774 MiB)"]
    assert plan["services_stop"] == [] and not plan["drain"]
    assert plan["text"][0] == "gpu-07: driver 580.159.04 loaded, nothing installed; target branch 580"
    assert plan["text"][2].startswith("BLOCKED, nothing will be changed on this host: GPU process 456")


def test_busy_host_may_be_interrupted_on_request():
    plan = upgrade_driver_plan(fixture("h200-busy.txt"), branch="580", allow_busy=True)
    assert plan["action"] == "upgrade" and plan["blockers"] == []
    assert plan["warnings"][0].startswith("GPU process 456 python3")
    # python3 keeps /dev/nvidia* open: only a reboot frees the module
    assert plan["expect"] == "reboot" and plan["expect_why"] == ["held by 456 python3"]


def test_idle_h200_upgrade_reloads_without_reboot():
    plan = upgrade_driver_plan(fixture("h200-idle.txt"), version="580.95.05")
    assert plan["reasons"] == ["installed nothing, wanted 580.95.05"]
    assert plan["action"] == "upgrade" and plan["expect"] == "reload"
    assert plan["unload"] == ["nvidia_uvm", "nvidia"]


def test_debian_host_blocked_by_processes_and_containers_but_not_by_the_units_it_stops():
    plan = upgrade_driver_plan(fixture("debian12-busy.txt"), host="gpu-01")
    # same branch, but 535.216.01 is loaded and 535.261.03 installed
    assert plan["reasons"] == ["loaded module 535.216.01 differs from the installed 535.261.03 (a reload is pending)"]
    assert plan["action"] == "blocked"
    # nv-hostengine runs under nvidia-dcgm, which the upgrade stops: not a blocker
    assert [b.split(" (")[0] for b in plan["blockers"]] == [
        "GPU process 456 /usr/bin/python3 on GPU-2f49a933-9d48-1ffe-ed1f-2adbc41a6df8",
        "container trainer uses GPUs", "container inference uses GPUs", "container cuda-job uses GPUs"]
    assert plan["services_stop"] == ["nvidia-dcgm", "nvidia-persistenced"]


def test_debian_host_with_containers_stopped_and_kubernetes():
    text = fixture("debian12-busy.txt").replace("456, /usr/bin/python3, GPU-2f49a933-9d48-1ffe-ed1f-2adbc41a6df8, 774\n", "")
    plan = upgrade_driver_plan(text, branch=580, stop_containers=True, kubernetes=True, node="gpu-01.k8s",
                               host="gpu-01")
    assert plan["action"] == "upgrade" and plan["blockers"] == []
    assert plan["containers_stop"] == ["trainer", "inference", "cuda-job"]
    assert plan["services_stop"] == ["nvidia-dcgm", "nvidia-persistenced"]
    assert plan["services_start"] == ["nvidia-persistenced", "nvidia-dcgm"]
    assert plan["drain"] and plan["uncordon"]
    # persistenced and nv-hostengine hold /dev/nvidia*, and both are stopped first
    assert plan["expect"] == "reload"
    assert plan["unload"] == ["nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia"]
    assert plan["text"] == [
        "gpu-01: driver 535.216.01 loaded, 535.261.03 installed; target branch 580",
        "why: installed 535.261.03, wanted branch 580",
        "1. Kubernetes: cordon and drain node gpu-01.k8s",
        "2. stop GPU containers: trainer, inference, cuda-job",
        "3. stop units holding the driver: nvidia-dcgm, nvidia-persistenced",
        "4. apply the driver role for branch 580",
        "5. unload nvidia_uvm, nvidia_drm, nvidia_modeset, nvidia and load the new modules, no reboot "
        "(nothing else holds /dev/nvidia* once the units are stopped); reboot if they are still in use",
        "6. check: NVIDIA facts, loaded version, verify checks",
        "7. start again: nvidia-persistenced, nvidia-dcgm",
        "8. start the GPU containers again: trainer, inference, cuda-job",
        "9. Kubernetes: uncordon node gpu-01.k8s",
    ]


def test_a_node_cordoned_before_stays_cordoned():
    text = fixture("debian12-stopped.txt")
    plan = upgrade_driver_plan(text, branch="550", kubernetes=True, cordoned=True, host="n1")
    assert plan["drain"] and not plan["uncordon"]
    assert plan["text"][-1] == "6. Kubernetes: leave node n1 cordoned (it was cordoned before)"


def test_host_at_the_target_needs_nothing_and_nothing_blocks_it():
    text = fixture("debian12-busy.txt").replace("Kernel Module  535.216.01", "Kernel Module  535.261.03")
    for kwargs in ({}, {"branch": "535"}, {"version": "535.261.03"}):
        plan = upgrade_driver_plan(text, host="gpu-01", kubernetes=True, **kwargs)
        assert not plan["needed"] and plan["action"] == "nothing"
        assert plan["blockers"] == [] and plan["services_stop"] == [] and not plan["drain"]
        assert plan["text"][1].startswith("nothing to do")


def test_host_without_gpu_is_left_alone_unless_forced():
    text = fixture("debian12-stopped.txt")
    plan = upgrade_driver_plan(text, branch="550", gpu_count=0, require_gpu=True, host="cpu-01")
    assert not plan["needed"] and plan["no_gpu"] and plan["action"] == "nothing"
    assert plan["text"][1].startswith("nothing to do: no NVIDIA GPU")
    forced = upgrade_driver_plan(text, branch="550", gpu_count=0, require_gpu=False)
    assert forced["needed"] and not forced["no_gpu"]


def test_downgrade_by_exact_version():
    text = fixture("debian12-stopped.txt").replace("Kernel Module  535.216.01", "Kernel Module  535.261.03")
    plan = upgrade_driver_plan(text, version="535.247.01", branch="535")
    assert plan["needed"] and plan["reasons"] == ["installed 535.261.03, wanted 535.247.01"]


@pytest.mark.parametrize("kwargs, message", [
    ({"branch": "580.95.05"}, "driver_branch must be a driver branch such as 580"),
    ({"branch": "abc"}, "driver_branch must be"),
    ({"version": "580"}, "driver_version must look like 580.95.05"),
    ({"version": "580.95.05", "branch": "570"}, "driver_version 580.95.05 is not of driver_branch 570"),
])
def test_malformed_targets_are_refused(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        upgrade_driver_plan(fixture("h200-idle.txt"), **kwargs)


def test_nouveau_means_reboot():
    text = fixture("debian12-stopped.txt").replace(
        "#modules\n", "#modules\nnouveau 2600000 0 - Live 0xffffffffc0800000\n")
    plan = upgrade_driver_plan(text, branch="550")
    assert plan["expect"] == "reboot" and plan["expect_why"] == ["nouveau is loaded"]
    assert upgrade_driver_reload(text)["action"] == "reboot"


def test_reboots_off_leave_the_host_pending():
    plan = upgrade_driver_plan(fixture("h200-busy.txt"), branch="580", allow_busy=True, reboot=False)
    assert plan["expect"] == "reboot" and "left pending" in plan["expect_why"][-1]
    assert upgrade_driver_reload(fixture("h200-busy.txt"), reboot=False)["action"] == "pending"


def test_reload_after_the_units_stopped():
    result = upgrade_driver_reload(fixture("debian12-stopped.txt"),
                                   loaded_before=["nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia"])
    assert result["action"] == "reload" and result["reasons"] == []
    assert result["unload"] == ["nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia"]
    assert result["load"] == ["nvidia", "nvidia_modeset", "nvidia_drm", "nvidia_uvm"]


def test_reload_refused_while_a_module_is_in_use():
    busy = upgrade_driver_reload(fixture("debian12-busy.txt"))
    assert busy["action"] == "reboot"
    # the units still run here (their processes are not counted as holders),
    # but their references keep the refcount up
    assert busy["reasons"] == ["module nvidia is in use (refcount 5)"]
    xorg = fixture("debian12-stopped.txt").replace(
        "nvidia_drm 77824 0 - Live", "nvidia_drm 77824 4 - Live").replace("#holders\n", "#holders\n2210 Xorg\n")
    result = upgrade_driver_reload(xorg)
    assert result["action"] == "reboot"
    assert result["reasons"] == ["/dev/nvidia* is held by 2210 Xorg", "module nvidia_drm is in use (refcount 4)"]


def test_reload_on_the_real_h200_when_idle_and_not_when_busy():
    # refcounts unknown ("-"): the holders decide; modprobe -r has the last word
    assert upgrade_driver_reload(fixture("h200-idle.txt"))["action"] == "reload"
    busy = upgrade_driver_reload(fixture("h200-busy.txt"))
    assert busy["action"] == "reboot" and busy["reasons"] == ["/dev/nvidia* is held by 456 python3"]


def test_reload_when_done_or_nothing_loaded():
    done = fixture("debian12-stopped.txt").replace("Kernel Module  535.216.01", "Kernel Module  535.261.03")
    assert upgrade_driver_reload(done)["action"] == "none"
    head, rest = fixture("debian12-stopped.txt").split("#modules\n")
    empty = head + "#modules\n#loaded\n#built\n" + rest.split("#built\n", 1)[1]
    assert upgrade_driver_reload(empty)["action"] == "load"
    assert upgrade_driver_reload(empty)["load"] == ["nvidia"]
    assert upgrade_driver_reload(empty, gpu_count=0)["action"] == "none"
    assert upgrade_driver_reload(empty, loaded_before=["nvidia_uvm", "nvidia"])["load"] == ["nvidia", "nvidia_uvm"]


def test_nvidia_smi_failing_is_a_warning_not_a_crash():
    text = fixture("debian12-stopped.txt").replace(
        "#smi\nrc=0\n", "#smi\nFailed to initialize NVML: Driver/library version mismatch\nNVML library version: 535.261\nrc=18\n")
    plan = upgrade_driver_plan(text)
    assert plan["action"] == "upgrade"
    assert plan["warnings"] == ["GPU processes unknown: nvidia-smi rc=18: Failed to initialize NVML: "
                                "Driver/library version mismatch NVML library version: 535.261"]


def test_bad_docker_inspect_line_is_refused():
    text = fixture("debian12-stopped.txt").replace("#containers\n", "#containers\n/x\trunc\t{oops\t[]\t[]\n")
    with pytest.raises(AnsibleFilterError, match="docker inspect line for x"):
        upgrade_driver_state(text)


_MODULE = st.sampled_from(MODULE_ORDER + ["nvidia_extra"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_MODULE, unique=True, min_size=1), st.randoms())
def test_unload_order_puts_every_user_before_what_it_uses(names, rnd):
    # users as the kernel would report them: only modules loaded after it
    modules = {}
    for name in names:
        others = [other for other in names if other != name]
        users = [other for other in others if name == "nvidia" or (name == "nvidia_modeset" and other == "nvidia_drm")]
        users = users if rnd.random() < 0.7 else []
        modules[name] = {"refcount": len(users), "users": users, "state": "Live"}
    order = unload_order(modules)
    assert sorted(order) == sorted(names)
    for name in names:
        for user in modules[name]["users"]:
            assert order.index(user) < order.index(name)
    if "nvidia" in names:
        assert order[-1] == "nvidia"


HOSTS = ["gpu-01", "gpu-02", "gpu-03", "gpu-04", "gpu-05"]


def test_stopped_message_says_where_the_run_stopped():
    text = fixture("debian12-busy.txt").replace("456, /usr/bin/python3, GPU-2f49a933-9d48-1ffe-ed1f-2adbc41a6df8, 774\n", "")
    plan = upgrade_driver_plan(text, branch=580, stop_containers=True, kubernetes=True, node="gpu-03", host="gpu-03")
    assert plan["services_stop"] == ["nvidia-dcgm", "nvidia-persistenced"] and plan["drain"]
    text = upgrade_driver_stopped("gpu-03", HOSTS, batch=["gpu-03", "gpu-04"], task="Install the driver",
                                  result={"msg": "No package matching 'nvidia-driver-550' is available"}, plan=plan,
                                  node="gpu-03")
    assert text.startswith('upgrade_driver.yml stopped at gpu-03 (host 3 of 5; before it: gpu-01, gpu-02; '
                           'not started: gpu-05), in "Install the driver": No package matching')
    assert text.endswith("No package matching 'nvidia-driver-550' is available. Stopped on it and not started again: "
                         "nvidia-dcgm, nvidia-persistenced. Node gpu-03 may be cordoned. The remaining hosts were not touched.")


def test_stopped_before_anything_was_stopped():
    # the molecule upgrade scenario's refusal: the first of two hosts, one at a time
    plan = {"services_stop": ["nvidia-dcgm"], "drain": False}
    text = upgrade_driver_stopped("gpufleet-upgrade-a", ["gpufleet-upgrade-a", "gpufleet-upgrade-b"],
                                  batch=["gpufleet-upgrade-a"],
                                  task="Refuse a host with GPU work (nothing was changed on it)",
                                  result={"msg": "busy"}, plan=plan)
    assert text == ('upgrade_driver.yml stopped at gpufleet-upgrade-a (host 1 of 2; before it: none; not started: '
                    'gpufleet-upgrade-b), in "Refuse a host with GPU work (nothing was changed on it)": busy. '
                    "The remaining hosts were not touched.")
    # no plan yet, the error only on stderr, or nothing at all
    text = upgrade_driver_stopped("gpu-05", HOSTS, batch=["gpu-05"], result={"msg": "", "stderr": "boom"})
    assert text == ('upgrade_driver.yml stopped at gpu-05 (host 5 of 5; before it: gpu-01, gpu-02, gpu-03, gpu-04; '
                    'not started: none), in "?": boom. The remaining hosts were not touched.')
    assert ': failed. The remaining' in upgrade_driver_stopped("gpu-01", HOSTS)
    with pytest.raises(AnsibleFilterError, match="not among the play's hosts"):
        upgrade_driver_stopped("gpu-09", HOSTS)


# The options as playbooks/upgrade_driver.yml passes them with nothing set:
# upgrade_driver_kubectl kubectl, upgrade_driver_kubeconfig "", upgrade_driver_drain_args "".
KUBECTL = {"kubectl": "kubectl", "kubeconfig": "", "node": "gpu-03", "drain_args": ""}


def test_kubectl_argv_defaults():
    assert upgrade_driver_kubectl_argv(KUBECTL, "cordoned") == [
        "kubectl", "get", "node", "gpu-03", "-o", "jsonpath={.spec.unschedulable}"]
    assert upgrade_driver_kubectl_argv(KUBECTL, "drain") == [
        "kubectl", "drain", "gpu-03", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s"]
    assert upgrade_driver_kubectl_argv(KUBECTL, "uncordon") == ["kubectl", "uncordon", "gpu-03"]
    # null (not set) is the same as ""; only the node is needed
    assert upgrade_driver_kubectl_argv(dict(KUBECTL, drain_args=None), "drain") == upgrade_driver_kubectl_argv(KUBECTL, "drain")
    assert upgrade_driver_kubectl_argv({"node": "gpu-03"}, "uncordon") == ["kubectl", "uncordon", "gpu-03"]


def test_kubectl_argv_with_kubeconfig_command_and_drain_args():
    options = {"kubectl": "/usr/local/bin/kubectl", "kubeconfig": "/etc/kubernetes/admin.conf", "node": "gpu-03.lab",
               "drain_args": ["--ignore-daemonsets", "--timeout=1200s", "--force"]}
    assert upgrade_driver_kubectl_argv(options, "drain") == [
        "/usr/local/bin/kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "drain", "gpu-03.lab",
        "--ignore-daemonsets", "--timeout=1200s", "--force"]
    assert upgrade_driver_kubectl_argv(options, "cordoned")[:5] == [
        "/usr/local/bin/kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "node"]
    assert upgrade_driver_kubectl_argv(options, "uncordon") == [
        "/usr/local/bin/kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "uncordon", "gpu-03.lab"]
    # an empty list: kubectl drain with no arguments of the playbook's own
    assert upgrade_driver_kubectl_argv(dict(KUBECTL, drain_args=[]), "drain") == ["kubectl", "drain", "gpu-03"]
    # a node named by number
    assert upgrade_driver_kubectl_argv(dict(KUBECTL, node=7), "uncordon") == ["kubectl", "uncordon", "7"]


def test_kubectl_argv_does_not_change_its_default():
    first = upgrade_driver_kubectl_argv(KUBECTL, "drain")
    first.append("--force")
    assert upgrade_driver_kubectl_argv(KUBECTL, "drain")[-1] == "--timeout=600s"


@pytest.mark.parametrize("options, command, message", [
    (KUBECTL, "cordon", "command 'cordon' is not one of cordoned, drain, uncordon"),
    (["kubectl"], "drain", "expected a dict of the kubectl options, got list"),
    (dict(KUBECTL, node=""), "drain", "upgrade_driver_k8s_node is empty"),
    (dict(KUBECTL, node=None), "uncordon", "upgrade_driver_k8s_node is empty"),
    (dict(KUBECTL, kubectl=" "), "drain", "upgrade_driver_kubectl is empty"),
    (dict(KUBECTL, kubectl=["kubectl"]), "drain", "upgrade_driver_kubectl must be a string, not list"),
    (dict(KUBECTL, kubeconfig=True), "drain", "upgrade_driver_kubeconfig must be a string, not bool"),
    (dict(KUBECTL, drain_args="--force"), "drain", "upgrade_driver_drain_args must be a list of arguments, not str"),
])
def test_kubectl_argv_refuses(options, command, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        upgrade_driver_kubectl_argv(options, command)
