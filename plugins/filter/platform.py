# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the one support matrix (plugins/module_utils/_platforms.py).

``platform``: ansible_facts -> key, family, whether supported and why not, and
the vars files a role loads.  ``serves_gpus``: ansible_facts.nvidia -> whether
a role has a GPU (or a Jetson) to serve.  Documentation: ``platform.yml`` and
``serves_gpus.yml`` beside this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_string

from ansible_collections.gpufleet.nvidia.plugins.module_utils._platforms import platform, serves_gpus


def _platform(facts):
    if not isinstance(facts, dict):
        raise AnsibleFilterError("platform: expected ansible_facts (a dict), got %s" % type(facts).__name__)
    return platform(facts)


def _serves_gpus(nvidia, require_gpu=True):
    if nvidia is not None and not isinstance(nvidia, dict):
        raise AnsibleFilterError("serves_gpus: expected ansible_facts.nvidia (a dict), got %s" % type(nvidia).__name__)
    if is_string(require_gpu):
        require_gpu = require_gpu.strip().lower() in ("1", "true", "yes", "on")
    return serves_gpus(nvidia, bool(require_gpu))


class FilterModule(object):
    def filters(self):
        return {"platform": _platform, "serves_gpus": _serves_gpus}
