# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""driver_packages_installed over package lists of real package names; driver_cuda_toolkit_packages."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.driver_branch import driver_options_problems
from ansible_collections.gpufleet.nvidia.plugins.filter.driver_packages import (
    FilterModule, driver_cuda_toolkit_packages, driver_packages_installed)

# Debian 12 with Debian's driver (what the default Molecule scenario installs)
# and the toolkit; dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n'
DEBIAN = "".join("%s\t%s\t%s \n" % entry for entry in [
    ("docker.io", "20.10.24+dfsg1-1+deb12u1+b2", "ii"),
    ("dkms", "3.0.10-8+deb12u1", "ii"),
    ("firmware-nvidia-gsp", "535.261.03-1", "ii"),
    ("glx-alternative-mesa", "1.2.2", "ii"),
    ("glx-alternative-nvidia", "1.2.2", "ii"),
    ("libcuda1", "535.261.03-1", "ii"),
    ("libnvidia-container-tools", "1.17.8-1", "ii"),
    ("libnvidia-container1", "1.17.8-1", "ii"),
    ("libnvidia-ml1", "535.261.03-1", "ii"),
    ("libnvidia-ptxjitcompiler1", "535.261.03-1", "ii"),
    ("nvidia-alternative", "535.261.03-1", "ii"),
    ("nvidia-container-toolkit", "1.17.8-1", "ii"),
    ("nvidia-container-toolkit-base", "1.17.8-1", "ii"),
    ("nvidia-kernel-dkms", "535.261.03-1", "hi"),
    ("nvidia-kernel-support", "535.261.03-1", "ii"),
    ("nvidia-modprobe", "535.171.04-1", "ii"),
    ("nvidia-persistenced", "535.171.04-1", "ii"),
    ("nvidia-smi", "535.261.03-1", "ii"),
    ("nvidia-support", "20151021+13", "ii"),
    ("nvidia-cuda-toolkit", "12.0.140~12.0.1-4", "ii"),
    ("nvidia-old-removed", "535.0-1", "rc"),
    ("update-glx", "1.2.2", "ii"),
])

# NVIDIA's CUDA repository on Ubuntu 22.04 (open modules, branch 580)
UBUNTU = [
    "cuda-drivers-580\t580.95.05-0ubuntu1\tii ",
    "cuda-toolkit-12-9\t12.9.1-1\tii ",
    "libnvidia-compute-580\t580.95.05-0ubuntu1\tii ",
    "libnvidia-decode-580\t580.95.05-0ubuntu1\tii ",
    "nvidia-dkms-580-open\t580.95.05-0ubuntu1\tii ",
    "nvidia-driver-580-open\t580.95.05-0ubuntu1\tii ",
    "nvidia-kernel-common-580\t580.95.05-0ubuntu1\tii ",
    "nvidia-open\t580.95.05-0ubuntu1\tii ",
    "nvidia-docker2\t2.13.0-1\tii ",
    "xserver-xorg-video-nvidia-580\t580.95.05-0ubuntu1\tii ",
]

# RHEL 9, module stream 580-open (rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\tii \n')
RHEL = [
    "kmod-nvidia-open-dkms\t580.95.05-1.el9\tii ",
    "nvidia-driver\t580.95.05-1.el9\tii ",
    "nvidia-driver-cuda-libs\t580.95.05-1.el9\tii ",
    "nvidia-persistenced\t580.95.05-1.el9\tii ",
    "nvidia-container-toolkit\t1.17.8-1\tii ",
    "libnvidia-container1\t1.17.8-1\tii ",
]


def test_registered():
    assert sorted(FilterModule().filters()) == ["apt_history_dependencies", "apt_simulated_removals",
                                                "driver_cuda_toolkit_packages", "driver_packages_installed"]


def test_debian_driver_without_toolkit_or_unrelated_packages():
    assert driver_packages_installed(DEBIAN) == [
        "firmware-nvidia-gsp", "glx-alternative-nvidia", "libcuda1", "libnvidia-ml1", "libnvidia-ptxjitcompiler1",
        "nvidia-alternative", "nvidia-kernel-dkms", "nvidia-kernel-support", "nvidia-modprobe",
        "nvidia-persistenced", "nvidia-smi", "nvidia-support"]


def test_cuda_toolkit_only_on_request():
    assert "nvidia-cuda-toolkit" in driver_packages_installed(DEBIAN, cuda_toolkit=True)
    assert "cuda-toolkit-12-9" in driver_packages_installed(UBUNTU, cuda_toolkit=True)
    assert "cuda-toolkit-12-9" not in driver_packages_installed(UBUNTU)


def test_cuda_repository_packages():
    assert driver_packages_installed(UBUNTU) == [
        "cuda-drivers-580", "libnvidia-compute-580", "libnvidia-decode-580", "nvidia-dkms-580-open",
        "nvidia-driver-580-open", "nvidia-kernel-common-580", "nvidia-open", "xserver-xorg-video-nvidia-580"]


def test_datacenter_packages_of_the_driver():
    # Fabric Manager, NSCQ, NVLSM, IMEX and libnvsdm come at the driver's version with it
    lines = ["nvidia-fabricmanager-580\t580.95.05-1\tii ", "libnvidia-nscq-580\t580.95.05-1\tii ",
             "nvlsm\t2025.06.6-1\tii ", "nvidia-imex-580\t580.95.05-1\tii ", "libnvsdm-580\t580.95.05-1\tii ",
             "datacenter-gpu-manager-4-cuda13\t1:4.4.1-1\tii "]
    assert driver_packages_installed(lines) == [
        "libnvidia-nscq-580", "libnvsdm-580", "nvidia-fabricmanager-580", "nvidia-imex-580", "nvlsm"]


def test_rhel_packages():
    assert driver_packages_installed(RHEL) == [
        "kmod-nvidia-open-dkms", "nvidia-driver", "nvidia-driver-cuda-libs", "nvidia-persistenced"]


def test_nothing_installed_and_bad_input():
    assert driver_packages_installed("") == []
    with pytest.raises(AnsibleFilterError, match="package query's lines"):
        driver_packages_installed({"a": 1})


# /var/log/apt/history.log of a Debian 12 instance: the base image's docker.io
# transaction, then the driver role's install (trimmed lists, real format)
HISTORY = """
Start-Date: 2026-11-30  08:12:40
Commandline: apt-get install -y --no-install-recommends docker.io busybox-static
Install: runc:amd64 (1.1.5+ds1-1+deb12u1, automatic), docker.io:amd64 (20.10.24+dfsg1-1+deb12u1+b2), \
containerd:amd64 (1.6.20~ds1-1+b1, automatic), busybox-static:amd64 (1:1.35.0-4+b3)
End-Date: 2026-11-30  08:12:55

Start-Date: 2026-12-02  10:05:01
Commandline: /usr/bin/apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
--no-install-recommends install nvidia-kernel-dkms nvidia-smi libcuda1 nvidia-persistenced firmware-nvidia-gsp
Install: nvidia-kernel-dkms:amd64 (535.309.01-1), dkms:amd64 (3.0.10-8+deb12u1, automatic), \
gcc-12:amd64 (12.2.0-14, automatic), perl:amd64 (5.36.0-7+deb12u2, automatic), libcuda1:amd64 (535.309.01-1), \
nvidia-smi:amd64 (535.309.01-1), libnvidia-ml1:amd64 (535.309.01-1, automatic), lsb-release:all (12.0-1, automatic)
Upgrade: libc6:amd64 (2.36-9+deb12u9, 2.36-9+deb12u10)
End-Date: 2026-12-02  10:05:40
"""

SIMULATION = """NOTE: This is only a simulation!
Reading package lists...
The following packages will be REMOVED:
  dkms* gcc-12* perl*
Purg dkms [3.0.10-8+deb12u1]
Purg gcc-12 [12.2.0-14]
Remv perl [5.36.0-7+deb12u2]
"""


def test_apt_history_dependencies_of_the_driver_transaction_only():
    filters = FilterModule().filters()
    deps = filters["apt_history_dependencies"](HISTORY, ["nvidia-kernel-dkms", "libcuda1"])
    assert deps == ["dkms", "gcc-12", "libnvidia-ml1", "lsb-release", "perl"]
    # the docker.io transaction is not the driver's: runc and containerd stay
    assert filters["apt_history_dependencies"](HISTORY, ["nvidia-container-toolkit"]) == []
    assert filters["apt_history_dependencies"]("", ["x"]) == []
    with pytest.raises(AnsibleFilterError, match="history.log"):
        filters["apt_history_dependencies"](None, ["x"])


def test_apt_simulated_removals():
    assert FilterModule().filters()["apt_simulated_removals"](SIMULATION) == ["dkms", "gcc-12", "perl"]
    assert FilterModule().filters()["apt_simulated_removals"]("0 upgraded, 0 newly installed, 0 to remove\n") == []


@pytest.mark.parametrize("enabled, version, expected", [
    (False, "", []),
    (False, "12.9", []),
    ("no", "12.9", []),
    (True, "", ["cuda-toolkit"]),
    (True, None, ["cuda-toolkit"]),
    ("yes", "12.9", ["cuda-toolkit-12-9"]),
    (True, "13.0", ["cuda-toolkit-13-0"]),
    (True, "12", ["cuda-toolkit-12"]),
    (True, " 12.8 ", ["cuda-toolkit-12-8"]),
    (True, 13, ["cuda-toolkit-13"]),
])
def test_cuda_toolkit_package(enabled, version, expected):
    assert driver_cuda_toolkit_packages(enabled, version) == expected


def test_cuda_toolkit_package_is_removed_with_the_toolkit():
    """What the role installs with driver_cuda_toolkit, its removal path (cuda_toolkit=True) finds again."""
    for version in ("", "12", "12.9"):
        name = driver_cuda_toolkit_packages(True, version)[0]
        assert driver_packages_installed(["%s\t12.9.1-1\tii" % name], cuda_toolkit=True) == [name]
        assert driver_packages_installed(["%s\t12.9.1-1\tii" % name]) == []


@pytest.mark.parametrize("enabled, version, message", [
    ("maybe", "", "driver_cuda_toolkit must be a boolean"),
    (True, "12.9.1", "driver_cuda_toolkit_version '12.9.1' is not a CUDA version"),
    (True, "cuda-12", "driver_cuda_toolkit_version 'cuda-12' is not a CUDA version"),
    (True, "12-9", "driver_cuda_toolkit_version '12-9' is not a CUDA version"),
])
def test_cuda_toolkit_package_refuses(enabled, version, message):
    with pytest.raises(AnsibleFilterError, match=message):
        driver_cuda_toolkit_packages(enabled, version)


@given(st.one_of(st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,2}\Z"), st.text(max_size=8)))
def test_cuda_toolkit_package_takes_what_the_role_accepts(version):
    """The role refuses a driver_cuda_toolkit_version up front (driver_options_problems) exactly when this filter would."""
    refused = any(p.startswith("driver_cuda_toolkit_version") for p in driver_options_problems(
        {"driver_cuda_toolkit": True, "driver_cuda_toolkit_version": version}))
    try:
        driver_cuda_toolkit_packages(True, version)
    except AnsibleFilterError:
        assert refused
    else:
        assert not refused
