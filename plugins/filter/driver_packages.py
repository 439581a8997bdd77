# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``driver_packages_installed``: the installed packages that belong to the NVIDIA driver.

Input: ``name<TAB>version<TAB>status`` lines (``dpkg-query -W -f``, or
``rpm -qa --qf``). The driver role's removal path purges what this returns;
the NVIDIA Container Toolkit's packages are never part of it.
``driver_cuda_toolkit_packages``: the CUDA toolkit package of NVIDIA's CUDA
repository that ``driver_cuda_toolkit`` / ``driver_cuda_toolkit_version`` ask for.
Documentation is in ``driver_packages_installed.yml`` (and the other filters'
files of the same name) next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

# Packages of the driver on Debian (non-free), Ubuntu (restricted), NVIDIA's
# CUDA repository and RHEL (module streams, precompiled kmods).
DRIVER = re.compile(
    r"^(nvidia-.*|libnvidia-.*|libcuda.*|cuda-drivers.*|firmware-nvidia-.*|xserver-xorg-video-nvidia.*"
    r"|libnvcuvid.*|libnvoptix.*|lib(gl|egl|gles|glx|gldispatch)[0-9]*-nvidia.*|libxnvctrl.*|kmod-nvidia.*"
    r"|dkms-nvidia.*|glx-alternative-nvidia|nvidia|nvlsm|libnvsdm.*)$")
# ... except the container toolkit and its predecessors, and CUDA itself.
NOT_DRIVER = re.compile(
    r"^(libnvidia-container.*|nvidia-container-.*|nvidia-docker.*|nvidia-cuda-.*|nvidia-cudnn.*"
    r"|nvidia-profiler|nvidia-visual-profiler|nvidia-nsight.*|nvidia-opencl-dev)$")
CUDA_TOOLKIT = re.compile(r"^(cuda-toolkit.*|nvidia-cuda-toolkit.*|nvidia-cuda-dev)$")
# driver_cuda_toolkit_version: a CUDA major or major.minor version (the rule
# of driver_options_problems, which refuses anything else up front).
CUDA_TOOLKIT_VERSION = re.compile(r"^[0-9]{1,2}(\.[0-9]{1,2})?$")


def driver_cuda_toolkit_packages(enabled, version=""):
    """The CUDA toolkit package of NVIDIA's CUDA repository: ``[]`` unless ``enabled``.

    ``enabled``: ``driver_cuda_toolkit``; ``version``: ``driver_cuda_toolkit_version``,
    ``12.9`` gives ``cuda-toolkit-12-9``, ``12`` gives ``cuda-toolkit-12``, empty
    gives ``cuda-toolkit`` (the newest).
    """
    try:
        enabled = boolean(enabled, strict=True)
    except TypeError:
        raise AnsibleFilterError("driver_cuda_toolkit_packages: driver_cuda_toolkit must be a boolean, not %r" % (enabled,))
    if not enabled:
        return []
    version = "" if version is None else str(version).strip()
    if not version:
        return ["cuda-toolkit"]
    if not CUDA_TOOLKIT_VERSION.match(version):
        raise AnsibleFilterError("driver_cuda_toolkit_packages: driver_cuda_toolkit_version %r is not a CUDA version "
                                 "such as \"12.9\"" % (version,))
    return ["cuda-toolkit-" + version.replace(".", "-")]


def driver_packages_installed(lines, cuda_toolkit=False):
    """Names of installed driver packages (and CUDA toolkit ones with ``cuda_toolkit``), sorted."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, (list, tuple)):
        raise AnsibleFilterError("driver_packages_installed: the input must be the package query's lines, not %s"
                                 % type(lines).__name__)
    names = set()
    for line in lines:
        cells = str(line).split("\t")
        name = cells[0].strip()
        status = cells[2].strip() if len(cells) > 2 else "ii"
        if not name or status[:2] not in ("ii", "hi", "iF", "iU", "hF", "hU"):
            continue
        if (DRIVER.match(name) and not NOT_DRIVER.match(name)) or (cuda_toolkit and CUDA_TOOLKIT.match(name)):
            names.add(name)
    return sorted(names)


_HISTORY_ENTRY = re.compile(r"([A-Za-z0-9][A-Za-z0-9+.-]*)(?::[A-Za-z0-9-]+)? \(([^)]*)\)")


def apt_history_dependencies(history, packages):
    """Packages apt installed as automatic dependencies in the transactions
    (``/var/log/apt/history.log``) that installed any of ``packages``, sorted."""
    if not isinstance(history, str):
        raise AnsibleFilterError("apt_history_dependencies: the input must be the text of apt's history.log")
    wanted = set(packages or [])
    found = set()
    for block in re.split(r"\n\s*\n", history):
        installs = [line[len("Install:"):] for line in block.splitlines() if line.startswith("Install:")]
        entries = [match for line in installs for match in _HISTORY_ENTRY.findall(line)]
        if not wanted.intersection(entry[0] for entry in entries):
            continue
        found.update(name for name, detail in entries if "automatic" in detail and name not in wanted)
    return sorted(found)


def apt_simulated_removals(stdout):
    """Names an ``apt-get -s purge|remove`` run would remove (its ``Purg``/``Remv`` lines), sorted."""
    if not isinstance(stdout, str):
        raise AnsibleFilterError("apt_simulated_removals: the input must be apt-get -s output")
    return sorted(set(re.findall(r"(?m)^(?:Purg|Remv) (\S+)", stdout)))


class FilterModule(object):
    """Driver package selection, the CUDA toolkit's package, and the dependencies an install pulled in."""

    def filters(self):
        return {
            "driver_packages_installed": driver_packages_installed,
            "apt_history_dependencies": apt_history_dependencies,
            "apt_simulated_removals": apt_simulated_removals,
            "driver_cuda_toolkit_packages": driver_cuda_toolkit_packages,
        }
