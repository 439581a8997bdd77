#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: crio_runtime
short_description: Register the NVIDIA container runtime with CRI-O through a drop-in file
version_added: "0.1.0"
description:
  - Writes O(drop_in_path) (by default C(/etc/crio/crio.conf.d/99-nvidia.conf)) with a
    C([crio.runtime.runtimes.nvidia]) table, the way C(nvidia-ctk runtime configure --runtime=crio) does.
    No other file is changed; CRI-O merges its drop-in files key by key over C(crio.conf).
  - The runtime is a copy of the runtime CRI-O already uses (C(runc), else C(crun), else the default
    runtime), read from O(path) and the other files of the drop-in directory in CRI-O's order, with
    C(runtime_path) and C(runtime_type) set.
  - Invalid TOML in any of those files fails with a message naming the file; nothing is written.
  - CRI-O reads its configuration at start; RV(restart_required) is true whenever the file changed,
    and false when the module failed.
author:
  - gpufleet maintainers (@gpufleet)
extends_documentation_fragment:
  - gpufleet.nvidia.runtime
  - gpufleet.nvidia.runtime.edit_cycle
attributes:
  check_mode:
    support: full
    description: Computes the change and the diff of the drop-in file; writes, locks and deletes nothing.
  diff_mode:
    support: full
    description: Before and after text of O(drop_in_path).
options:
  path:
    description: CRI-O's main configuration file (read only, may be missing).
    type: path
    default: /etc/crio/crio.conf
  drop_in_path:
    description:
      - Our drop-in file; the module owns the whole file.
      - A symbolic link there is refused, so the module never writes through it into another file.
    type: path
    default: /etc/crio/crio.conf.d/99-nvidia.conf
  runtime_type:
    description: CRI-O runtime type.
    type: str
    default: oci
  set_as_default:
    description: Make it C(crio.runtime.default_runtime).
    type: bool
    default: false
  state:
    description: V(absent) deletes O(drop_in_path).
seealso:
  - module: gpufleet.nvidia.containerd_runtime
"""

EXAMPLES = r"""
- name: NVIDIA runtime for CRI-O
  gpufleet.nvidia.crio_runtime:
    set_as_default: true
  notify: Restart crio
"""

RETURN = r"""
restart_required:
  description: The drop-in changed; restart CRI-O to use it. False when the module failed.
  returned: always
  type: bool
drop_in_path:
  description: Our drop-in file.
  returned: always
  type: str
runtime:
  description: The runtime table written.
  returned: when state is present
  type: dict
  sample: {"runtime_path": "/usr/bin/nvidia-container-runtime", "runtime_type": "oci", "runtime_root": "/run/runc"}
base_runtime:
  description: The runtime copied as the template, or null.
  returned: when state is present
  type: str
backup_file:
  description: Backup of the previous drop-in.
  returned: when backup is true and the drop-in changed
  type: str
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gpufleet.nvidia.plugins.module_utils._edit_cycle import EditCycle, run_with_retries
from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic_file import FileEditError, read_text
from ansible_collections.gpufleet.nvidia.plugins.module_utils._crio_config import CrioConfigError, plan


def other_drop_ins(ours):
    """``[(path, text)]`` of the other regular files in the drop-in directory, in CRI-O's order."""
    found = []
    for other in sorted(glob.glob(os.path.join(os.path.dirname(ours), "*"))):
        if os.path.realpath(other) == os.path.realpath(ours) or not os.path.isfile(other):
            continue
        found.append((other, read_text(other)))
    return found


def edit(module):
    """One locked cycle over our drop-in: read, plan, diff, back up, write."""
    p = module.params
    ours = p["drop_in_path"]
    with EditCycle([ours], check_mode=module.check_mode, owned=[ours]) as cycle:
        our_text = cycle.text(ours)
        try:
            result = plan(read_text(p["path"]), other_drop_ins(ours), our_text, p)
        except CrioConfigError as exc:
            module.fail_json(msg=to_native(exc), changed=False, restart_required=False, drop_in_path=ours)
        cycle.set(ours, result["drop_in"])
        ret = dict(changed=cycle.changed, restart_required=cycle.changed, drop_in_path=ours)
        if p["state"] == "present":
            ret["runtime"] = result["runtime"]
            ret["base_runtime"] = result["base_runtime"]
        if module._diff:
            ret["diff"] = cycle.diff(ours)
        backups = cycle.commit(backup=p["backup"])
        if ours in backups:
            ret["backup_file"] = backups[ours]
    return ret


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/crio/crio.conf"),
            drop_in_path=dict(type="path", default="/etc/crio/crio.conf.d/99-nvidia.conf"),
            name=dict(type="str", default="nvidia"),
            runtime_path=dict(type="path", default="/usr/bin/nvidia-container-runtime"),
            runtime_type=dict(type="str", default="oci"),
            set_as_default=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    try:
        ret = run_with_retries(lambda: edit(module))
    except FileEditError as exc:
        # nothing was written: a failed run never reports a change or asks for a restart
        module.fail_json(msg=to_native(exc), changed=False, restart_required=False,
                         drop_in_path=module.params["drop_in_path"])
    module.exit_json(**ret)


if __name__ == "__main__":
    main()
