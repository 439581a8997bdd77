# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``/dev/char`` symlinks for the NVIDIA device nodes (container_toolkit role).

With the systemd cgroup driver, ``systemctl daemon-reload`` re-applies the
device rules of running containers from ``/dev/char/<major>:<minor>``; the
NVIDIA device nodes made outside udev have no such link, so containers lose
their GPUs ("Failed to initialize NVML: Unknown Error"). NVIDIA's answer is
``nvidia-ctk system create-dev-char-symlinks`` plus a udev rule.

``container_toolkit_dev_char_plan``
    from the role's switch and a read-only probe of the host: whether the
    links are wanted (and why), and the device nodes that lack one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _probe(text):
    """``key=value`` lines and ``node <path> <major>:<minor> <link yes|no>`` lines of the probe."""
    result = {"nodes": []}
    for line in (text or "").replace("\r", "").splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "node" and len(parts) == 4:
            result["nodes"].append({"path": parts[1], "dev": parts[2], "linked": parts[3] == "yes"})
        elif "=" in parts[0]:
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
    return result


def container_toolkit_dev_char_plan(probe, switch="auto"):
    """``{wanted, reason, missing}`` from the probe's output and ``container_toolkit_dev_char_symlinks``."""
    if isinstance(switch, bool):
        switch = "true" if switch else "false"
    switch = str(switch).strip().lower()
    if switch not in ("auto", "true", "false"):
        raise AnsibleFilterError("container_toolkit_dev_char_symlinks must be auto, true or false, not %r" % (switch,))
    found = _probe(probe)
    missing = [node["path"] for node in found["nodes"] if not node["linked"]]
    systemd = found.get("systemd") == "yes"
    drivers = []
    if found.get("docker_cgroup_driver") == "systemd":
        drivers.append("Docker")
    if found.get("containerd_systemd_cgroup") == "yes":
        drivers.append("containerd")
    if found.get("kubelet_cgroup_driver") == "systemd":
        drivers.append("kubelet")
    if switch == "false":
        return {"wanted": False, "reason": "switched off", "missing": missing}
    if switch == "true":
        return {"wanted": True, "reason": "switched on", "missing": missing}
    if not systemd:
        return {"wanted": False, "reason": "the host does not run systemd", "missing": missing}
    if drivers:
        return {"wanted": True, "reason": "%s use(s) the systemd cgroup driver" % " and ".join(drivers),
                "missing": missing}
    if found.get("cgroup") == "v2" and found.get("docker_cgroup_driver") in (None, ""):
        # Docker not answering: on cgroup v2 with systemd, Docker, containerd (kubeadm) and
        # kubelet default to the systemd cgroup driver
        return {"wanted": True, "reason": "systemd host on cgroup v2 (the systemd cgroup driver is the default)",
                "missing": missing}
    return {"wanted": False, "reason": "no container engine uses the systemd cgroup driver", "missing": missing}


class FilterModule(object):
    """/dev/char filters."""

    def filters(self):
        return {"container_toolkit_dev_char_plan": container_toolkit_dev_char_plan}
