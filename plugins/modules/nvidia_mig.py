#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nvidia_mig
short_description: Declare MIG mode and the MIG instance layout of NVIDIA GPUs
version_added: "0.1.0"
description:
  - Turns MIG (Multi-Instance GPU) mode on or off per GPU and creates the GPU instances and compute
    instances declared by profile name (V(1g.10gb), V(3g.40gb), V(1c.3g.40gb) ...), with
    C(nvidia-smi).
  - Only the difference is applied. Layouts are compared as NVIDIA's mig-parted compares them, as
    multisets of profiles, per GPU instance (its profile plus the sizes of its compute instances).
    A GPU instance that is already as declared is kept, one whose profile is declared but whose
    compute instances differ is reshaped in place (only the surplus compute instances go), the rest
    is destroyed (compute instances first) and what is missing is created, largest first, at
    placements the module chooses from C(nvidia-smi mig -lgipp) around the instances that stay.
  - When new GPU instances cannot be placed next to the ones that stay (fragmentation), the module
    fails and says which instances are in the way, unless O(allow_rebuild=true), which recreates all
    instances of that GPU.
  - Instances and GPUs used by running processes (the process table of C(nvidia-smi), which names
    the GPU instance and compute instance of each process) are never destroyed or switched unless
    O(force=true); even then the driver refuses an instance a CUDA context still holds.
  - A MIG mode change that the GPU applies only after a GPU reset or a reboot (the mode is then
    "pending") is reported in RV(reset_required) and a warning; the module never resets a GPU or
    reboots the host. Instances of such a GPU are created on a run after the reset.
  - State is read with one C(nvidia-smi --query-gpu) call when no GPU has or gets MIG, otherwise with
    four more (C(mig -lgip), C(-lgipp), C(-lgi), C(-lci), for all GPUs at once), plus the process
    table only when something would be destroyed or switched.
  - After the changes the state is read again and the module fails if it differs from the declaration.
  - MIG instances do not survive a reboot or GPU reset; the C(gpufleet.nvidia.gpu_config) role keeps a
    layout across reboots with a boot-time unit that runs the same planner.
author:
  - gpufleet maintainers (@gpufleet)
options:
  gpus:
    description:
      - One entry per GPU or group of GPUs. An entry for a GPU by index, UUID or PCI bus id wins over
        an entry for V(all). GPUs that no entry names are left alone.
    type: list
    elements: dict
    required: true
    suboptions:
      gpu:
        description:
          - V(all), a GPU index (V(0)), a GPU UUID (V(GPU-9ae030a0-...)) or a PCI bus id
            (V(00000000:36:00.0)).
        type: str
        default: all
      mig:
        description:
          - Whether MIG mode is on. V(false) destroys all instances of the GPU first.
        type: bool
        default: true
      instances:
        description:
          - The GPU instances wanted on the GPU (only with O(gpus[].mig=true)). Omitted leaves the
            instances as they are; V([]) removes them all.
          - An item is a GPU instance profile name as C(nvidia-smi mig -lgip) prints it without
            C(MIG), for one GPU instance with one compute instance that fills it (what
            C(nvidia-smi mig -cgi <profile> -C) creates), or a dict with C(profile), optional
            C(count) (default 1) and optional C(compute_instances), a list of compute instance
            profile names (V(1c.3g.40gb), or short V(1c)) that share the GPU instance.
          - Profile names are checked against the GPU's profiles before anything changes.
        type: list
        elements: raw
  force:
    description:
      - Destroy instances and change MIG mode even when processes use them (the driver may still
        refuse). Without it the module fails, naming the processes, and changes nothing.
    type: bool
    default: false
  allow_rebuild:
    description:
      - When new GPU instances cannot be placed next to the instances that stay, destroy and recreate
        all instances of that GPU (O(force) rules still apply) instead of failing.
    type: bool
    default: false
  nvidia_smi:
    description:
      - Path of C(nvidia-smi). By default it is looked up in C(PATH), C(/usr/bin) and
        C(/usr/local/nvidia/bin).
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the state and plans; runs no command that changes a GPU.
  diff_mode:
    support: full
    description: MIG mode and instance layout of the declared GPUs before and after.
notes:
  - Needs root (or the C(mig/config) capability) to change MIG.
  - Placements are passed as C(-cgi <profile id>:<start>) (the profile tuple with a placement
    start index that C(nvidia-smi mig -cgi) accepts), compute instances as NVML compute instance
    profile ids (C(-cci 0,1)), as the MIG User Guide shows.
  - Python 3.6 or newer on the managed host.
seealso:
  - name: NVIDIA MIG User Guide
    description: Profiles, placements and the nvidia-smi mig commands.
    link: https://docs.nvidia.com/datacenter/tesla/mig-user-guide/
  - name: NVIDIA mig-parted
    description: NVIDIA's MIG partition editor, whose layout comparison this module follows.
    link: https://github.com/NVIDIA/mig-parted
  - module: gpufleet.nvidia.nvidia_gpu_facts
"""

EXAMPLES = r"""
- name: Two 3g.71gb instances on every H200
  gpufleet.nvidia.nvidia_mig:
    gpus:
      - gpu: all
        mig: true
        instances: [3g.71gb, 3g.71gb]

- name: GPU 0 split for inference, GPU 1 without MIG
  gpufleet.nvidia.nvidia_mig:
    gpus:
      - gpu: "0"
        instances:
          - profile: 1g.10gb
            count: 4
          - profile: 3g.40gb
            compute_instances: [1c.3g.40gb, 2c.3g.40gb]
      - gpu: "1"
        mig: false
  register: mig

- name: Say which GPUs wait for a reset
  ansible.builtin.debug:
    msg: "{{ mig.reset_required }}"
  when: mig.reset_required | length > 0
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["enable MIG mode on GPU 0", "create GPU instance 3g.71gb at 4:4 with its full compute instance on GPU 0"]
commands:
  description: The nvidia-smi commands that changed something, in order (empty in check mode).
  returned: always
  type: list
  elements: str
  sample: ["nvidia-smi -i 0 -mig 1", "nvidia-smi mig -i 0 -cgi 9:4 -C"]
reset_required:
  description:
    - GPUs whose MIG mode change waits for a GPU reset (C(nvidia-smi -r -i <index>)) or a reboot,
      with the reason. The module does neither.
  returned: always
  type: list
  elements: dict
  sample: [{"gpu": 0, "uuid": "GPU-9ae030a0-5e59-ba6a-5dfb-1b44b8eb7d2c", "reason": "MIG mode is pending Enabled: ..."}]
gpus:
  description:
    - Every GPU after the run (in check mode as planned, new instances with C(id) null), with
      C(index), C(uuid), C(bus_id), C(mig_supported), C(mig_current), C(mig_pending) and
      C(instances) (C(id), C(profile), C(start), C(size), C(compute_instances) profile names).
  returned: always
  type: list
  elements: dict
  sample: [{"index": 0, "mig_current": "Enabled", "mig_pending": "Enabled",
            "instances": [{"id": 1, "profile": "3g.71gb", "start": 4, "size": 4, "compute_instances": ["3g.71gb"]}]}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gpufleet.nvidia.plugins.module_utils._mig import (
    MigCommandError,
    MigError,
    apply_plan,
    describe_layout,
    gather,
    needs_processes,
    plan,
    resolve_declarations,
    summary,
    unmet,
)


def find_nvidia_smi(module):
    path = module.params["nvidia_smi"]
    if path:
        return path
    return module.get_bin_path("nvidia-smi", opt_dirs=["/usr/bin", "/usr/local/nvidia/bin", "/usr/local/bin"])


def layout_text(state, indexes):
    return "".join(describe_layout(gpu) for gpu in state["gpus"] if gpu["index"] in indexes)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gpus=dict(type="list", elements="dict", required=True, options=dict(
                gpu=dict(type="str", default="all"),
                mig=dict(type="bool", default=True),
                instances=dict(type="list", elements="raw"),
            )),
            force=dict(type="bool", default=False),
            allow_rebuild=dict(type="bool", default=False),
            nvidia_smi=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    smi = find_nvidia_smi(module)
    if not smi:
        module.fail_json(msg="nvidia-smi was not found (looked in PATH, /usr/bin, /usr/local/nvidia/bin); "
                             "install the NVIDIA driver first or set nvidia_smi")

    def run(argv):
        return module.run_command([smi] + list(argv))

    declarations = p["gpus"]
    want_profiles = any(d.get("mig", True) for d in declarations) or None
    out = dict(changed=False, actions=[], commands=[], reset_required=[], gpus=[])
    try:
        state = gather(run, gpus_with_mig=want_profiles)
        result = plan(state, declarations, force=p["force"], allow_rebuild=p["allow_rebuild"])
        if needs_processes(result["actions"]):
            state = gather(run, gpus_with_mig=want_profiles, with_processes=True)
            result = plan(state, declarations, force=p["force"], allow_rebuild=p["allow_rebuild"])
    except MigError as exc:
        module.fail_json(msg=to_native(exc), **out)

    declared = set(resolve_declarations(state, declarations))
    for warning in result["warnings"]:
        module.warn(warning)
    out["actions"] = [a["description"] for a in result["actions"]]
    out["reset_required"] = result["reset_required"]
    out["changed"] = bool(result["actions"])
    out["gpus"] = summary(result["after"] if module.check_mode else state)
    if module._diff and out["changed"]:
        out["diff"] = dict(before=layout_text(state, declared), after=layout_text(result["after"], declared),
                           before_header="MIG layout", after_header="MIG layout")
    if not out["changed"] or module.check_mode:
        for item in out["reset_required"]:
            module.warn("GPU %d: %s" % (item["gpu"], item["reason"]))
        module.exit_json(**out)

    try:
        done = apply_plan(result, run)
    except MigCommandError as exc:
        out["commands"] = exc.done
        module.fail_json(msg="%s (commands that ran before: %s)" % (to_native(exc), "; ".join(exc.done) or "none"),
                         **out)
    out["commands"] = done["commands"]
    out["reset_required"] = result["reset_required"] + done["reset_required"]
    for item in out["reset_required"]:
        module.warn("GPU %d: %s" % (item["gpu"], item["reason"]))
    try:
        final = gather(run, gpus_with_mig=want_profiles)
    except MigError as exc:
        module.fail_json(msg="the changes ran but the state could not be read again: %s" % to_native(exc), **out)
    out["gpus"] = summary(final)
    waiting = set(item["gpu"] for item in out["reset_required"])
    problems = unmet(final, declarations, skip=waiting)
    if problems:
        module.fail_json(msg="after the changes the GPUs still differ from the declaration: %s" % "; ".join(problems),
                         **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
