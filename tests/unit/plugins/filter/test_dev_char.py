# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""container_toolkit_dev_char_plan over output in the probe's format (195 is the
nvidia character device major; nvidia-uvm's major is allocated at load time)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.dev_char import container_toolkit_dev_char_plan

NODES = ("node /dev/nvidia0 195:0 no\nnode /dev/nvidiactl 195:255 no\n"
         "node /dev/nvidia-uvm 507:0 yes\n")


def probe(**kwargs):
    base = {"systemd": "yes", "cgroup": "v2", "docker_cgroup_driver": "", "containerd_systemd_cgroup": "no",
            "kubelet_cgroup_driver": ""}
    base.update(kwargs)
    return "".join("%s=%s\n" % item for item in base.items()) + NODES


def test_docker_with_systemd_cgroup_driver():
    plan = container_toolkit_dev_char_plan(probe(docker_cgroup_driver="systemd", cgroup="v1"))
    assert plan == {"wanted": True, "reason": "Docker use(s) the systemd cgroup driver",
                    "missing": ["/dev/nvidia0", "/dev/nvidiactl"]}


def test_containerd_and_kubelet():
    plan = container_toolkit_dev_char_plan(probe(containerd_systemd_cgroup="yes", kubelet_cgroup_driver="systemd",
                                                 cgroup="v1"))
    assert plan["wanted"] and plan["reason"] == "containerd and kubelet use(s) the systemd cgroup driver"


def test_cgroup_v2_default():
    assert container_toolkit_dev_char_plan(probe())["wanted"] is True


def test_cgroupfs_driver_on_v1_is_not_affected():
    plan = container_toolkit_dev_char_plan(probe(cgroup="v1", docker_cgroup_driver="cgroupfs"))
    assert plan["wanted"] is False and plan["reason"] == "no container engine uses the systemd cgroup driver"


def test_docker_cgroupfs_on_v2_is_not_affected():
    assert container_toolkit_dev_char_plan(probe(docker_cgroup_driver="cgroupfs"))["wanted"] is False


def test_no_systemd():
    plan = container_toolkit_dev_char_plan(probe(systemd="no", docker_cgroup_driver="systemd"))
    assert plan["wanted"] is False and plan["reason"] == "the host does not run systemd"


def test_switch():
    assert container_toolkit_dev_char_plan(probe(systemd="no"), True)["wanted"] is True
    assert container_toolkit_dev_char_plan(probe(docker_cgroup_driver="systemd"), "false")["wanted"] is False
    with pytest.raises(AnsibleFilterError, match="auto, true or false"):
        container_toolkit_dev_char_plan(probe(), "sometimes")


def test_no_nodes_no_missing():
    assert container_toolkit_dev_char_plan("systemd=yes\ncgroup=v2\n")["missing"] == []
