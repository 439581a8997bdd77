# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of ``playbooks/upgrade_driver.yml``, as pure functions.

The playbook reads a host with ``playbooks/files/gpufleet-driver-state.sh``
(GPU processes, loaded modules, loaded/built/installed driver versions, units,
processes holding ``/dev/nvidia*``, running Docker containers) and hands the
output to these filters:

``upgrade_driver_state``
    the script's output parsed into a dict.
``upgrade_driver_plan``
    whether the host needs the upgrade, what blocks it, which units to stop
    and start again, which containers to stop, whether to drain a Kubernetes
    node, how the modules are expected to be reloaded, and the plan as text.
``upgrade_driver_reload``
    after the units are stopped and the driver role ran: unload and load the
    modules (and in which order), or reboot, and why.
``upgrade_driver_stopped``
    the message of a host whose upgrade failed: where the rolling run
    stopped, what was left stopped on the host, and that the rest is
    untouched.
``upgrade_driver_kubectl_argv``
    the ``kubectl`` command lines the playbook runs for a Kubernetes node
    (read whether it is cordoned, drain, uncordon).

Documentation is in the ``.yml`` files next to this one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible.errors import AnsibleFilterError

SECTIONS = ("smi", "modules", "loaded", "built", "packages", "services", "holders", "containers")

# Units that keep /dev/nvidia* open, in the order they are stopped (started
# again in the reverse order), and the process name (comm, 15 characters at
# most) each runs under.
DEFAULT_SERVICES = ["nvidia-dcgm", "dcgm", "nvidia-fabricmanager", "nvidia-persistenced"]
SERVICE_COMMS = {
    "nvidia-dcgm": ["nv-hostengine"],
    "dcgm": ["nv-hostengine"],
    "nvidia-fabricmanager": ["nv-fabricmanage", "nv-fabricmanager"],
    "nvidia-persistenced": ["nvidia-persiste", "nvidia-persistenced"],
}

# Kernel modules of the driver, users before the modules they use: the unload
# order. Loading goes the other way.
MODULE_ORDER = ["nvidia_peermem", "nvidia_fs", "nvidia_uvm", "nvidia_drm", "nvidia_modeset",
                "nvidia_vgpu_vfio", "nvidia"]

# Packages whose version is the driver's (kernel module packages first).
_PACKAGE_PATTERNS = [
    r"^nvidia-(open-)?kernel-(open-)?dkms$",      # Debian non-free
    r"^nvidia-dkms-\d+(-open|-server|-server-open)?$",  # Ubuntu
    r"^kmod-nvidia.*$",                            # RHEL (precompiled)
    r"^nvidia-kmod.*$",                            # RHEL (DKMS)
    r"^nvidia-driver-\d+(-open|-server|-server-open)?$",
    r"^nvidia-open(-\d+)?$",                        # CUDA repository
    r"^cuda-drivers(-\d+)?$",
    r"^nvidia-driver$",
    r"^libnvidia-compute-\d+(-server)?$",
    r"^libcuda1$",
]

_VERSION_RE = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)")
_OFF_VALUES = ("", "void", "none")


def _text(value, what):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AnsibleFilterError("%s: the input must be the state script's output (a string), not %s"
                                 % (what, type(value).__name__))
    return value


def _sections(stdout):
    """``{section: [lines]}`` of the ``#section`` markers (CR LF tolerated)."""
    parts = {}
    current = None
    for raw in stdout.replace("\r", "").split("\n"):
        if raw.startswith("#") and re.match(r"^#[a-z]+$", raw.strip()):
            current = raw.strip()[1:]
            if current == "end":
                current = None
                continue
            parts.setdefault(current, [])
            continue
        if current is not None:
            parts[current].append(raw)
    return parts


def upstream_version(version):
    """``535.247.01`` of ``535.247.01-1~deb12u1``, ``1:580.95.05-0ubuntu1`` or ``580.95.05-1.el9``."""
    match = re.match(r"^(?:\d+:)?(\d+\.\d+(?:\.\d+)?)", (version or "").strip())
    return match.group(1) if match else None


def _parse_smi(lines):
    """GPU processes from ``--query-compute-apps ... --format=csv,noheader,nounits``."""
    body = [line for line in lines if line.strip()]
    if body == ["absent"]:
        return {"available": False, "error": None, "processes": []}
    rc = 0
    rows = []
    other = []
    for line in body:
        if re.match(r"^rc=\d+$", line.strip()):
            rc = int(line.strip()[3:])
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) == 4 and cells[0].isdigit():
            used = cells[3]
            rows.append({"pid": int(cells[0]), "name": cells[1], "gpu_uuid": cells[2],
                         "used_mib": int(used) if used.isdigit() else None})
        elif line.strip().startswith("No running") or "[N/A]" in line:
            continue
        else:
            other.append(line.strip())
    error = None
    if rc != 0 or other:
        error = "nvidia-smi rc=%d: %s" % (rc, " ".join(other)[:300] or "no output")
    return {"available": True, "error": error, "processes": rows}


def _parse_modules(lines):
    """``{name: {refcount, users, state}}`` of /proc/modules lines (refcount None when shown as '-')."""
    modules = {}
    for line in lines:
        cells = line.split()
        if len(cells) < 5:
            continue
        refcount = int(cells[2]) if cells[2].isdigit() else None
        users = [user for user in cells[3].split(",") if user and user != "-"]
        modules[cells[0]] = {"refcount": refcount, "users": users, "state": cells[4]}
    return modules


def _parse_packages(lines):
    packages = {}
    for line in lines:
        cells = line.split("\t")
        if len(cells) >= 2 and cells[0].strip():
            status = cells[2].strip() if len(cells) > 2 else "ii"
            if status[:2] in ("ii", "hi"):
                packages[cells[0].strip()] = cells[1].strip()
    return packages


def _installed_version(built, packages):
    """The driver version the next module load gets: modinfo's, else the driver packages'."""
    if built:
        return built, "modinfo"
    for pattern in _PACKAGE_PATTERNS:
        for name in sorted(packages):
            if re.match(pattern, name):
                version = upstream_version(packages[name])
                if version:
                    return version, name
    return None, None


def _parse_containers(lines, runtime_names):
    body = [line for line in lines if line.strip()]
    if body == ["absent"]:
        return {"available": False, "running": [], "gpu": []}
    running = []
    gpu = []
    for line in body:
        cells = line.split("\t")
        if len(cells) < 5:
            continue
        name = cells[0].strip().lstrip("/")
        runtime = cells[1].strip()
        try:
            requests = json.loads(cells[2]) or []
            env = json.loads(cells[3]) or []
            devices = json.loads(cells[4]) or []
        except ValueError:
            raise AnsibleFilterError("upgrade_driver: docker inspect line for %s is not what the state script "
                                     "prints: %r" % (name, line[:200]))
        why = []
        for request in requests:
            caps = [cap for group in (request.get("Capabilities") or []) for cap in (group or [])]
            if request.get("Driver") in ("nvidia", "cdi") or "gpu" in caps:
                ids = request.get("DeviceIDs") or []
                count = request.get("Count")
                what = ",".join(ids) if ids else ("all" if count == -1 else str(count))
                why.append("--gpus %s" % what if request.get("Driver") != "cdi" else "CDI device %s" % what)
        for device in devices:
            if str(device.get("PathOnHost", "")).startswith("/dev/nvidia"):
                why.append("device %s" % device.get("PathOnHost"))
        visible = [item.split("=", 1)[1] for item in env
                   if isinstance(item, str) and item.startswith("NVIDIA_VISIBLE_DEVICES=")]
        if runtime in runtime_names and visible and visible[-1].strip().lower() not in _OFF_VALUES:
            why.append("runtime %s with NVIDIA_VISIBLE_DEVICES=%s" % (runtime, visible[-1]))
        running.append(name)
        if why:
            gpu.append({"name": name, "runtime": runtime, "why": "; ".join(why)})
    return {"available": True, "running": running, "gpu": gpu}


def upgrade_driver_state(stdout, runtime_names=None):
    """The state script's output as a dict (see the module docstring)."""
    text = _text(stdout, "upgrade_driver_state")
    parts = _sections(text)
    missing = [name for name in SECTIONS if name not in parts]
    if missing:
        raise AnsibleFilterError("upgrade_driver_state: the state script's output lacks section(s) %s "
                                 "(did gpufleet-driver-state.sh run to its end?)" % ", ".join(missing))
    loaded_text = "\n".join(parts["loaded"])
    match = _VERSION_RE.search(loaded_text)
    built = "\n".join(parts["built"]).strip() or None
    packages = _parse_packages(parts["packages"])
    installed, installed_from = _installed_version(built, packages)
    services = {}
    for line in parts["services"]:
        cells = line.split(None, 1)
        if cells:
            services[cells[0]] = cells[1].strip() if len(cells) > 1 else "unknown"
    holders = []
    for line in parts["holders"]:
        cells = line.split(None, 1)
        if cells and cells[0].isdigit():
            holders.append({"pid": int(cells[0]), "comm": cells[1].strip() if len(cells) > 1 else ""})
    return {
        "smi": _parse_smi(parts["smi"]),
        "modules": _parse_modules(parts["modules"]),
        "loaded_version": match.group(1) if match else None,
        "loaded_kernel_module": ("open" if "Open Kernel Module" in loaded_text else "proprietary") if match else None,
        "built_version": built,
        "installed_version": installed,
        "installed_from": installed_from,
        "packages": packages,
        "services": services,
        "holders": holders,
        "containers": _parse_containers(parts["containers"], list(runtime_names or ["nvidia"])),
    }


def _nvidia_modules(modules):
    return [name for name in modules if name.startswith("nvidia")]


def unload_order(modules):
    """Loaded driver modules, each after every module that uses it."""
    names = _nvidia_modules(modules)
    rank = dict((name, index) for index, name in enumerate(MODULE_ORDER))
    ordered = sorted(names, key=lambda name: (rank.get(name, -1), name))
    # a user named in /proc/modules goes before the module it uses
    changed = True
    guard = 0
    while changed and guard < 100:
        changed = False
        guard += 1
        for name in list(ordered):
            for user in modules[name]["users"]:
                if user in ordered and ordered.index(user) > ordered.index(name):
                    ordered.remove(user)
                    ordered.insert(ordered.index(name), user)
                    changed = True
    return ordered


def _service_comms(services):
    comms = set()
    for unit in services:
        comms.update(SERVICE_COMMS.get(unit, [unit[:15]]))
    return comms


def _target_text(branch, version):
    if version:
        return "version %s" % version
    if branch:
        return "branch %s" % branch
    return "the branch the driver role chooses"


def _needed(state, branch, version):
    installed = state["installed_version"]
    loaded = state["loaded_version"]
    reasons = []
    if version:
        if installed != version:
            reasons.append("installed %s, wanted %s" % (installed or "nothing", version))
    elif branch:
        if not installed or installed.split(".")[0] != str(branch):
            reasons.append("installed %s, wanted branch %s" % (installed or "nothing", branch))
    elif not installed:
        reasons.append("no driver installed")
    if loaded and installed and loaded != installed and not reasons:
        reasons.append("loaded module %s differs from the installed %s (a reload is pending)" % (loaded, installed))
    return reasons


def upgrade_driver_plan(stdout, branch="", version="", services=None, stop_containers=False, allow_busy=False,
                        reboot=True, kubernetes=False, node="", cordoned=False, runtime_names=None,
                        host="", gpu_count=1, require_gpu=False):
    """What upgrade_driver.yml does on one host (see upgrade_driver_plan.yml)."""
    state = upgrade_driver_state(stdout, runtime_names=runtime_names)
    branch = str(branch or "").strip()
    version = str(version or "").strip()
    if branch and not re.match(r"^\d{3}$", branch):
        raise AnsibleFilterError("upgrade_driver_plan: driver_branch must be a driver branch such as 580, not %r "
                                 "(an exact version goes in driver_version)" % branch)
    if version and not re.match(r"^\d{3}\.\d+(\.\d+)?$", version):
        raise AnsibleFilterError("upgrade_driver_plan: driver_version must look like 580.95.05, not %r" % version)
    if branch and version and version.split(".", 1)[0] != branch:
        raise AnsibleFilterError("upgrade_driver_plan: driver_version %s is not of driver_branch %s"
                                 % (version, branch))
    units = list(DEFAULT_SERVICES if services is None else services)
    no_gpu = require_gpu and int(gpu_count or 0) == 0
    reasons = [] if no_gpu else _needed(state, branch, version)
    needed = len(reasons) > 0
    stop = [unit for unit in units if state["services"].get(unit) in ("active", "activating", "reloading")]
    comms = _service_comms(stop)
    processes = [proc for proc in state["smi"]["processes"]
                 if proc["name"].rsplit("/", 1)[-1][:15] not in comms]
    gpu_containers = state["containers"]["gpu"]
    blockers = []
    warnings = []
    if needed:
        for proc in processes:
            used = proc["used_mib"] if proc["used_mib"] is not None else "?"
            line = "GPU process %d %s on %s (%s MiB)" % (proc["pid"], proc["name"], proc["gpu_uuid"], used)
            (warnings if allow_busy else blockers).append(line)
        if not stop_containers:
            for container in gpu_containers:
                line = "container %s uses GPUs (%s)" % (container["name"], container["why"])
                (warnings if allow_busy else blockers).append(line)
        if state["smi"]["error"]:
            warnings.append("GPU processes unknown: %s" % state["smi"]["error"])
    containers_stop = [c["name"] for c in gpu_containers] if (needed and stop_containers) else []
    held_by = [h for h in state["holders"] if h["comm"] not in comms]
    modules = _nvidia_modules(state["modules"])
    if "nouveau" in state["modules"]:
        expect = "reboot"
        expect_why = ["nouveau is loaded"]
    elif not modules:
        expect = "load" if int(gpu_count or 0) > 0 else "none"
        expect_why = ["no nvidia module is loaded"] if int(gpu_count or 0) > 0 else ["no NVIDIA GPU"]
    elif held_by:
        expect = "reboot"
        expect_why = ["held by %s" % ", ".join("%d %s" % (h["pid"], h["comm"]) for h in held_by)]
    else:
        expect = "reload"
        expect_why = ["nothing else holds /dev/nvidia* once the units are stopped"]
    if expect == "reboot" and not reboot:
        expect_why.append("reboots are off (upgrade_driver_reboot: false): the host will be left pending")
    action = "nothing" if not needed else ("blocked" if blockers else "upgrade")
    drain = bool(needed and kubernetes and not blockers)
    plan = {
        "host": host,
        "needed": needed,
        "reasons": reasons,
        "action": action,
        "target": _target_text(branch, version),
        "loaded_version": state["loaded_version"],
        "installed_version": state["installed_version"],
        "blockers": blockers,
        "warnings": warnings,
        "gpu_processes": state["smi"]["processes"],
        "gpu_containers": gpu_containers,
        "containers_stop": containers_stop,
        "services_stop": stop if needed else [],
        "services_start": list(reversed(stop)) if needed else [],
        "modules": modules,
        "unload": unload_order(state["modules"]),
        "expect": expect if needed else "none",
        "expect_why": expect_why if needed else [],
        "drain": drain,
        "uncordon": drain and not cordoned,
        "no_gpu": no_gpu,
    }
    plan["text"] = plan_text(plan, node=node)
    return plan


def plan_text(plan, node=""):
    """The plan as lines for a human (what check mode prints)."""
    head = "%s: driver %s loaded, %s installed; target %s" % (
        plan["host"] or "host", plan["loaded_version"] or "not", plan["installed_version"] or "nothing",
        plan["target"])
    if plan.get("no_gpu"):
        return [head, "nothing to do: no NVIDIA GPU (gpufleet_force_without_gpu: true upgrades such hosts too)"]
    if not plan["needed"]:
        return [head, "nothing to do: the driver is at the target and the loaded module matches it"]
    lines = [head, "why: " + "; ".join(plan["reasons"])]
    if plan["action"] == "blocked":
        lines.append("BLOCKED, nothing will be changed on this host: " + "; ".join(plan["blockers"]))
        lines.append("(stop that work first, or set upgrade_driver_allow_busy: true to interrupt it"
                     + (", upgrade_driver_stop_containers: true to stop and restart GPU containers)"
                        if plan["gpu_containers"] else ")"))
        return lines
    step = [0]

    def add(text):
        step[0] += 1
        lines.append("%d. %s" % (step[0], text))

    for warning in plan["warnings"]:
        lines.append("warning: " + warning)
    if plan["drain"]:
        add("Kubernetes: cordon and drain node %s" % (node or plan["host"]))
    if plan["containers_stop"]:
        add("stop GPU containers: " + ", ".join(plan["containers_stop"]))
    add("stop units holding the driver: " + (", ".join(plan["services_stop"]) or "none running"))
    add("apply the driver role for %s" % plan["target"])
    if plan["expect"] == "reload":
        add("unload %s and load the new modules, no reboot (%s); reboot if they are still in use"
            % (", ".join(plan["unload"]), "; ".join(plan["expect_why"])))
    elif plan["expect"] == "load":
        add("load the nvidia module (%s)" % "; ".join(plan["expect_why"]))
    elif plan["expect"] == "reboot":
        add("reboot (%s)" % "; ".join(plan["expect_why"]))
    else:
        add("no module to load (%s)" % "; ".join(plan["expect_why"]))
    add("check: NVIDIA facts, loaded version, verify checks")
    if plan["services_start"]:
        add("start again: " + ", ".join(plan["services_start"]))
    if plan["containers_stop"]:
        add("start the GPU containers again: " + ", ".join(plan["containers_stop"]))
    if plan["uncordon"]:
        add("Kubernetes: uncordon node %s" % (node or plan["host"]))
    elif plan["drain"]:
        add("Kubernetes: leave node %s cordoned (it was cordoned before)" % (node or plan["host"]))
    return lines


def upgrade_driver_reload(stdout, loaded_before=None, services=None, reboot=True, gpu_count=1):
    """After the stops and the driver role: ``{action, unload, load, reasons}``.

    ``action`` is ``none`` (nothing loaded, nothing to load; or the loaded
    module is already the installed one), ``reload`` (unload ``unload`` in
    that order, then load ``load``), ``load``, or ``reboot``.
    """
    state = upgrade_driver_state(stdout)
    modules = state["modules"]
    loaded = _nvidia_modules(modules)
    before = [name for name in (loaded_before or []) if name.startswith("nvidia")]
    comms = _service_comms(list(DEFAULT_SERVICES if services is None else services))
    wanted_load = list(reversed(unload_order(dict(
        (name, modules.get(name, {"refcount": None, "users": [], "state": "Live"}))
        for name in sorted(set(loaded) | set(before))))))
    if not wanted_load and int(gpu_count or 0) > 0:
        wanted_load = ["nvidia"]
    reasons = []
    if "nouveau" in modules:
        reasons.append("nouveau is loaded: the nvidia module cannot bind the GPUs until a reboot")
    held = [h for h in state["holders"] if h["comm"] not in comms]
    if held:
        reasons.append("/dev/nvidia* is held by " + ", ".join("%d %s" % (h["pid"], h["comm"]) for h in held))
    for name in loaded:
        info = modules[name]
        internal = len([user for user in info["users"] if user.startswith("nvidia")])
        if info["refcount"] is not None and info["refcount"] > internal:
            others = [user for user in info["users"] if not user.startswith("nvidia")]
            reasons.append("module %s is in use (refcount %d%s)" % (
                name, info["refcount"], ", used by " + ",".join(others) if others else ""))
    current = (state["loaded_version"] is not None and state["installed_version"] is not None
               and state["loaded_version"] == state["installed_version"])
    if reasons:
        action = "reboot"
    elif loaded and current:
        action = "none"
        reasons.append("the loaded module is already %s" % state["loaded_version"])
    elif loaded:
        action = "reload"
    elif wanted_load:
        action = "load"
    else:
        action = "none"
        reasons.append("no NVIDIA GPU and no module loaded")
    if action == "reboot" and not reboot:
        action = "pending"
    return {
        "action": action,
        "unload": unload_order(modules) if action == "reload" else [],
        "load": wanted_load if action in ("reload", "load") else [],
        "reasons": reasons,
        "loaded_version": state["loaded_version"],
        "installed_version": state["installed_version"],
    }


# Tasks that fail before the host's units are stopped.
_BEFORE_STOP = ("Gather NVIDIA and operating-system facts", "Read the driver state", "Plan the host",
                "Refuse a host with GPU work (nothing was changed on it)")


def upgrade_driver_stopped(host, hosts, batch=None, task="", result=None, plan=None, node=""):
    """The message of the rescue of ``upgrade_driver.yml`` for ``host``.

    ``hosts``: every host of the play, in order (``ansible_play_hosts_all``);
    ``batch``: the hosts of the current batch; ``task`` and ``result``: the
    failed task's name and result; ``plan``: the host's
    ``upgrade_driver_plan`` (none when it failed before the plan).
    """
    hosts = [str(name) for name in hosts or []]
    if host not in hosts:
        raise AnsibleFilterError("upgrade_driver_stopped: %s is not among the play's hosts" % host)
    batch = [str(name) for name in batch or []]
    index = hosts.index(host)
    position = "host %d of %d; before it: %s; not started: %s" % (
        index + 1, len(hosts), ", ".join(hosts[:index]) or "none",
        ", ".join(name for name in hosts[index + 1:] if name not in batch) or "none")
    result = result if isinstance(result, dict) else {}
    error = result.get("msg") or result.get("stderr") or "failed"
    plan = plan if isinstance(plan, dict) else {}
    task = task or "?"
    text = 'upgrade_driver.yml stopped at %s (%s), in "%s": %s. ' % (host, position, task, error)
    stopped = plan.get("services_stop") or []
    if stopped and task not in _BEFORE_STOP:
        text += "Stopped on it and not started again: %s. " % ", ".join(stopped)
    if plan.get("drain"):
        text += "Node %s may be cordoned. " % node
    return text + "The remaining hosts were not touched."


# kubectl drain's arguments unless upgrade_driver_drain_args says otherwise.
DEFAULT_DRAIN_ARGS = ["--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s"]
KUBECTL_COMMANDS = ("cordoned", "drain", "uncordon")


def _kubectl_text(options, key, variable):
    value = options.get(key)
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise AnsibleFilterError("upgrade_driver_kubectl_argv: %s must be a string, not %s"
                                 % (variable, type(value).__name__))
    return str(value).strip()


def upgrade_driver_kubectl_argv(options, command):
    """The argv of one ``kubectl`` command for the host's Kubernetes node.

    ``options``: ``kubectl`` (``upgrade_driver_kubectl``; ``None`` or
    missing: ``kubectl``), ``kubeconfig`` (``upgrade_driver_kubeconfig``; empty: none
    given), ``node`` (``upgrade_driver_k8s_node``) and ``drain_args``
    (``upgrade_driver_drain_args``; ``None`` or ``""``, not set:
    ``DEFAULT_DRAIN_ARGS``; an empty list: none).  ``command``: ``cordoned`` (prints ``true`` when the
    node is cordoned), ``drain`` or ``uncordon``.
    """
    if not isinstance(options, dict):
        raise AnsibleFilterError("upgrade_driver_kubectl_argv: expected a dict of the kubectl options, got %s"
                                 % type(options).__name__)
    if command not in KUBECTL_COMMANDS:
        raise AnsibleFilterError("upgrade_driver_kubectl_argv: command %r is not one of %s"
                                 % (command, ", ".join(KUBECTL_COMMANDS)))
    kubectl = "kubectl" if options.get("kubectl") is None else _kubectl_text(options, "kubectl", "upgrade_driver_kubectl")
    if not kubectl:
        raise AnsibleFilterError("upgrade_driver_kubectl_argv: upgrade_driver_kubectl is empty; "
                                 "give the kubectl command (default kubectl)")
    node = _kubectl_text(options, "node", "upgrade_driver_k8s_node")
    if not node:
        raise AnsibleFilterError("upgrade_driver_kubectl_argv: upgrade_driver_k8s_node is empty; "
                                 "give the host's Kubernetes node name")
    argv = [kubectl]
    kubeconfig = _kubectl_text(options, "kubeconfig", "upgrade_driver_kubeconfig")
    if kubeconfig:
        argv += ["--kubeconfig", kubeconfig]
    if command == "cordoned":
        return argv + ["get", "node", node, "-o", "jsonpath={.spec.unschedulable}"]
    if command == "uncordon":
        return argv + ["uncordon", node]
    drain_args = options.get("drain_args")
    if drain_args is None or drain_args == "":
        drain_args = DEFAULT_DRAIN_ARGS
    elif not isinstance(drain_args, (list, tuple)):
        raise AnsibleFilterError("upgrade_driver_kubectl_argv: upgrade_driver_drain_args must be a list of "
                                 "arguments, not %s" % type(drain_args).__name__)
    return argv + ["drain", node] + [str(arg) for arg in drain_args]


class FilterModule(object):
    """Decisions of playbooks/upgrade_driver.yml."""

    def filters(self):
        return {
            "upgrade_driver_state": upgrade_driver_state,
            "upgrade_driver_plan": upgrade_driver_plan,
            "upgrade_driver_reload": upgrade_driver_reload,
            "upgrade_driver_stopped": upgrade_driver_stopped,
            "upgrade_driver_kubectl_argv": upgrade_driver_kubectl_argv,
        }
