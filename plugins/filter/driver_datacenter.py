# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datacenter decisions of the ``driver`` and ``dcgm`` roles, as pure functions.

``driver_datacenter_plan``
    from ``ansible_facts.nvidia`` and the role's options: Fabric Manager,
    NVLSM (+ libnvsdm), IMEX and nvidia-peermem, each on or off with the
    reason, the packages at the driver's exact version, the units to enable,
    the packages to hold with the driver, and every reason to refuse.
``driver_installed_version``
    the driver version the package manager has installed (package_facts).
``driver_module_params``
    the kernel module parameters: NVIDIA's known defaults for this host merged
    with ``driver_module_params``.
``driver_modprobe_conf``
    those parameters rendered to one modprobe.d file.
``driver_fabric_problem``
    after Fabric Manager started, the GPUs' fabric state (re-gathered facts):
    an empty string, or what is wrong and what to do.
``dcgm_packages``
    NVIDIA's DCGM 4 package for the driver's CUDA major version.

Documentation is in the ``.yml`` files next to this one; the sources of every
package name and default are in docs/host-classes/datacenter.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

SWITCHES = ("auto", "true", "false")
MODULES = ("nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_peermem", "nvidia_drm")
# modprobe's names for the modules (modprobe treats - and _ alike; the file uses the
# module names as lsmod prints them)
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
# The driver packages whose version is the driver's, most telling first
# (CUDA repository APT/DNF, Ubuntu, Debian).
_DRIVER_PACKAGE_NAMES = [
    re.compile(r"^libnvidia-compute(-\d+)?$"),
    re.compile(r"^nvidia-driver-cuda-libs$"),
    re.compile(r"^nvidia-kernel-common(-\d+)?$"),
    re.compile(r"^libcuda1$"),
    re.compile(r"^nvidia-open(-\d+)?$"),
    re.compile(r"^cuda-drivers(-\d+)?$"),
    re.compile(r"^nvidia-driver(-\d+)?$"),
]
FABRIC_MANAGER_SERVICE = "nvidia-fabricmanager"
IMEX_SERVICE = "nvidia-imex"


def _switch(options, name):
    value = options.get(name, "auto")
    if isinstance(value, bool):
        return "true" if value else "false"
    value = str(value).strip().lower()
    if value in ("yes", "on", "1"):
        return "true"
    if value in ("no", "off", "0"):
        return "false"
    return value


def _branch_of(version, branch):
    if branch not in (None, ""):
        try:
            return int(str(branch))
        except ValueError:
            raise AnsibleFilterError("driver_datacenter_plan: branch %r is not a number" % (branch,))
    match = _VERSION.match(str(version or ""))
    return int(match.group(1)) if match else None


def _versioned(names, version, family):
    """``name=<version>-*`` (APT, any package revision) or ``name-<version>`` (DNF)."""
    if not version:
        return list(names)
    if family == "apt":
        return ["%s=%s-*" % (name, version) for name in names]
    return ["%s-%s" % (name, version) for name in names]


def _named(base, branch, renamed_from=580, first_branch=None):
    """NVIDIA's names: ``<base>-<branch>`` before 580, ``<base>`` from 580 on (None: not packaged)."""
    if branch is None:
        return base
    if first_branch is not None and branch < first_branch:
        return None
    return base if branch >= renamed_from else "%s-%s" % (base, branch)


def driver_datacenter_plan(nvidia, options):
    """What the driver role installs and starts on a datacenter server.

    ``nvidia`` is ``ansible_facts.nvidia``; ``options`` has ``fabric_manager``,
    ``nvlsm``, ``imex``, ``gpudirect_rdma`` (auto/true/false), ``source``
    (cuda_repo/distro/runfile), ``family`` (apt/dnf), ``distribution`` (e.g.
    ``Ubuntu``), ``branch``, ``version`` (the exact driver version, selected or
    installed) and ``arch`` (the CUDA repository arch: x86_64/sbsa).
    """
    if not isinstance(nvidia, dict):
        raise AnsibleFilterError("driver_datacenter_plan: input must be ansible_facts.nvidia (a dict)")
    options = options or {}
    switches = {}
    problems = []
    for name in ("fabric_manager", "nvlsm", "imex", "gpudirect_rdma"):
        switches[name] = _switch(options, name)
        if switches[name] not in SWITCHES:
            problems.append("driver_%s must be auto, true or false, not %r." % (name, options.get(name)))
    if problems:
        return {"fabric_manager": _off("invalid option"), "nvlsm": _off("invalid option"),
                "imex": _off("invalid option"), "peermem": _off("invalid option"),
                "packages": [], "hold": [], "services": [], "problems": problems}
    version = str(options.get("version") or "")
    branch = _branch_of(version, options.get("branch"))
    source = options.get("source", "cuda_repo")
    family = options.get("family", "apt")
    distribution = str(options.get("distribution") or "")
    arch = options.get("arch") or "x86_64"
    switch = nvidia.get("nvswitch") or {}
    nvlink = nvidia.get("nvlink") or {}
    rdma = nvidia.get("rdma") or {}
    host = nvidia.get("host") or {}

    fm = _decide(switches["fabric_manager"], bool(switch.get("fabric_manager_required")),
                 "%s NVSwitch(es) (generation %s) need Fabric Manager" % (switch.get("count", 0),
                                                                          switch.get("generation")),
                 "no NVSwitch on this host")
    nvlsm = _decide(switches["nvlsm"], bool(switch.get("nvlsm_required")),
                    "NVLink 5 NVSwitches (%d management port(s)) need NVLSM"
                    % len(switch.get("management_ports") or []),
                    "no NVLink 5 NVSwitch on this host")
    multi_node = bool(nvlink.get("multi_node"))
    imex = _decide(switches["imex"], multi_node,
                   "multi-node NVLink (%s) needs IMEX" % (host.get("superchip") or "NVLink domain"),
                   "no multi-node NVLink domain on this host")
    peermem = _decide(switches["gpudirect_rdma"], int(rdma.get("count") or 0) > 0,
                      "%s RDMA device(s): GPUDirect RDMA through nvidia-peermem" % rdma.get("count"),
                      "no RDMA device on this host")
    if nvlsm["enabled"] and not fm["enabled"] and switches["fabric_manager"] != "false":
        fm = dict(fm, enabled=True, reason="NVLSM runs with Fabric Manager")
    if nvlsm["enabled"] and switches["fabric_manager"] == "false":
        problems.append("driver_nvlsm is on but driver_fabric_manager is false: NVLSM runs with Fabric Manager "
                        "(nvidia-fabricmanager-start.sh); turn Fabric Manager on or NVLSM off.")

    packages, hold, services = [], [], []
    needs_packages = fm["enabled"] or nvlsm["enabled"] or imex["enabled"]
    if needs_packages and source == "runfile":
        problems.append(
            "driver_source runfile: Fabric Manager, NVLSM and IMEX must match the driver exactly and are not part "
            "of the .run file; install NVIDIA's fabricmanager archive for driver %s yourself and set "
            "driver_fabric_manager/driver_nvlsm/driver_imex: false, or use driver_source cuda_repo."
            % (version or "(this version)"))
    elif needs_packages and source == "distro" and distribution != "Ubuntu":
        problems.append(
            "driver_source distro: %s does not package Fabric Manager, NVLSM or IMEX for its driver; use "
            "driver_source cuda_repo (NVIDIA's packages at the driver's version), or set "
            "driver_fabric_manager/driver_nvlsm/driver_imex: false." % (distribution or "this distribution"))
    elif needs_packages and branch is None:
        problems.append("Fabric Manager/NVLSM/IMEX must match the driver version, but neither driver_version nor "
                        "an installed driver tells it; set driver_version or driver_branch.")
    elif needs_packages:
        if fm["enabled"]:
            if source == "distro":
                # Ubuntu's fabric-manager-<branch> source package builds nvidia-fabricmanager-<branch>
                names = ["nvidia-fabricmanager-%s" % branch]
            else:
                names = [_named("nvidia-fabricmanager", branch), _named("libnvidia-nscq", branch)]
            fm["packages"] = _versioned(names, version, family)
            fm["service"] = FABRIC_MANAGER_SERVICE
            packages += fm["packages"]
            hold += names
            services.append(FABRIC_MANAGER_SERVICE)
        if nvlsm["enabled"]:
            if source == "distro" or branch < 570:
                problems.append("NVLSM (NVLink 5 NVSwitches) needs driver branch 570 or newer from NVIDIA's CUDA "
                                "repository (this host: branch %s, driver_source %s)." % (branch, source))
            else:
                nvlsm["packages"] = ["nvlsm", "infiniband-diags"]
                sdm = _named("libnvsdm", branch, first_branch=560)
                if sdm and arch != "sbsa":
                    # libnvsdm follows the driver's version; NVIDIA ships it for x86_64 only
                    nvlsm["packages"] += _versioned([sdm], version, family)
                    hold.append(sdm)
                packages += nvlsm["packages"]
        if imex["enabled"]:
            name = _named("nvidia-imex", branch, first_branch=550)
            if source == "distro" or not name:
                problems.append("IMEX (multi-node NVLink) needs driver branch 550 or newer from NVIDIA's CUDA "
                                "repository (this host: branch %s, driver_source %s)." % (branch, source))
            else:
                imex["packages"] = _versioned([name], version, family)
                imex["service"] = IMEX_SERVICE
                packages += imex["packages"]
                hold.append(name)
                services.append(IMEX_SERVICE)
    return {"fabric_manager": fm, "nvlsm": nvlsm, "imex": imex, "peermem": peermem,
            "packages": packages, "hold": hold, "services": services, "problems": problems}


def _off(reason):
    return {"enabled": False, "reason": reason, "packages": [], "service": None}


def _decide(switch, needed, why, why_not):
    if switch == "false":
        return _off("switched off" + ("" if not needed else " (" + why + ")"))
    if switch == "true":
        return {"enabled": True, "reason": "switched on" + (" (" + why + ")" if needed else ""),
                "packages": [], "service": None}
    if needed:
        return {"enabled": True, "reason": why, "packages": [], "service": None}
    return _off(why_not)


def _upstream(package_version):
    """``580.95.05-1`` / ``1:580.95.05-0ubuntu1`` / ``580.95.05`` -> ``580.95.05``."""
    text = str(package_version or "")
    if ":" in text:
        text = text.split(":", 1)[1]
    text = text.split("-", 1)[0]
    return text if _VERSION.match(text) else ""


def driver_installed_version(packages):
    """The installed driver version from ``ansible_facts.packages`` (package_facts), or ``''``."""
    if not isinstance(packages, dict):
        raise AnsibleFilterError("driver_installed_version: input must be ansible_facts.packages (a dict)")
    for pattern in _DRIVER_PACKAGE_NAMES:
        for name in sorted(packages):
            if not pattern.match(name):
                continue
            for entry in packages[name] or []:
                version = _upstream(entry.get("version"))
                if version:
                    return version
    return ""


def driver_module_params(nvidia, params=None, branch=None, defaults=True):
    """Kernel module parameters: NVIDIA's known defaults for this host, then ``params`` over them.

    A parameter set to ``None`` (YAML ``null``) in ``params`` removes a default.
    Returns ``{module: {param: value}}`` with module names as lsmod prints them.
    """
    params = params or {}
    if not isinstance(params, dict):
        raise AnsibleFilterError("driver_module_params must be a dict of module name -> dict of parameters")
    result = {}
    if defaults and nvidia:
        host = (nvidia or {}).get("host") or {}
        number = _branch_of("", branch) if branch not in (None, "") else None
        if number is None:
            number = _branch_of(((nvidia or {}).get("driver") or {}).get("version"), None)
        # NVIDIA's GPU Operator driver container, from branch 580: coherent GPU memory managed by the
        # driver on Grace superchips, not onlined as a NUMA node (docs/host-classes/datacenter.md)
        if host.get("grace") and str(host.get("superchip") or "").startswith("Grace ") and number and number >= 580:
            result.setdefault("nvidia", {})["NVreg_CoherentGPUMemoryMode"] = "driver"
    for module, values in params.items():
        name = str(module).replace("-", "_")
        if name not in MODULES:
            raise AnsibleFilterError("driver_module_params: unknown module %r (one of %s)"
                                     % (module, ", ".join(MODULES)))
        if not isinstance(values, dict):
            raise AnsibleFilterError("driver_module_params.%s must be a dict of parameter -> value" % module)
        for key, value in values.items():
            key = str(key)
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise AnsibleFilterError("driver_module_params.%s: %r is not a parameter name" % (module, key))
            if value is None:
                result.get(name, {}).pop(key, None)
                continue
            if isinstance(value, bool):
                value = 1 if value else 0
            text = str(value)
            if not text or re.search(r"\s", text):
                raise AnsibleFilterError("driver_module_params.%s.%s: %r is empty or contains white space"
                                         % (module, key, value))
            result.setdefault(name, {})[key] = text
    return dict((module, values) for module, values in result.items() if values)


def driver_modprobe_conf(params):
    """One modprobe.d file: an ``options`` line per module, parameters sorted (stable, diffable)."""
    lines = ["# Managed by gpufleet.nvidia.driver (driver_module_params): NVIDIA kernel module parameters."]
    for module in sorted(params or {}):
        values = params[module]
        if not values:
            continue
        lines.append("options %s %s" % (module, " ".join("%s=%s" % (key, values[key]) for key in sorted(values))))
    return "\n".join(lines) + "\n"


def driver_fabric_problem(nvidia):
    """After Fabric Manager started: ``''`` when every GPU's fabric is ready (or reports none), else what to do."""
    nvlink = (nvidia or {}).get("nvlink") or {}
    ready = nvlink.get("fabric_ready")
    if ready is None or ready is True:
        return ""
    bad = []
    for gpu in (nvidia or {}).get("gpus") or []:
        fabric = gpu.get("fabric") or {}
        state = fabric.get("state")
        status = fabric.get("status")
        if state is None:
            continue
        if state != "completed" or (status or "Success").lower() != "success":
            bad.append("GPU %s (%s): %s%s" % (gpu.get("index"), gpu.get("pci_bus_id"), state,
                                              (", " + status) if status else ""))
    return ("The NVLink fabric is not ready after Fabric Manager started (%s). CUDA cannot use these GPUs until "
            "it is: read 'journalctl -u nvidia-fabricmanager' and /var/log/fabricmanager.log; check that "
            "nvidia-fabricmanager's version equals the driver's (nvidia-smi; dpkg -l / rpm -q "
            "'*fabricmanager*'); a GPU in a degraded state needs a GPU reset or a reboot; then run the "
            "play again." % ("; ".join(bad) or "states %s" % nvlink.get("fabric_states")))


def dcgm_packages(cuda_version, family="apt", major=4):
    """NVIDIA's DCGM 4 package for the driver's CUDA major version (``datacenter-gpu-manager-4-cuda<N>``)."""
    match = re.match(r"^(\d+)", str(cuda_version or ""))
    if not match:
        raise AnsibleFilterError("dcgm_packages: the driver's CUDA version is not known (%r); is the driver "
                                 "loaded? Set dcgm_cuda_major." % (cuda_version,))
    cuda = int(match.group(1))
    if cuda < 12:
        raise AnsibleFilterError("dcgm_packages: DCGM %d supports CUDA 12 and newer; this driver offers CUDA %s"
                                 % (major, cuda_version))
    return ["datacenter-gpu-manager-%d-cuda%d" % (major, cuda)]


class FilterModule(object):
    """Datacenter filters."""

    def filters(self):
        return {
            "driver_datacenter_plan": driver_datacenter_plan,
            "driver_installed_version": driver_installed_version,
            "driver_module_params": driver_module_params,
            "driver_modprobe_conf": driver_modprobe_conf,
            "driver_fabric_problem": driver_fabric_problem,
            "dcgm_packages": dcgm_packages,
        }
