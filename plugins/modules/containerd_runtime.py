#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: containerd_runtime
short_description: Register the NVIDIA container runtime in containerd's config.toml
version_added: "0.1.0"
description:
  - Adds (or removes) the C(nvidia) runtime in containerd's CRI plugin configuration, the way
    C(nvidia-ctk runtime configure --runtime=containerd) does, but without touching anything else
    in the file. Comments, order and formatting of every other line are kept byte for byte.
  - The new runtime is a copy of the existing low-level runtime (C(runc), else C(crun), else the
    default runtime when it is runc-based and not an C(nvidia*) one), so C(SystemdCgroup) and
    the other runc options carry over; C(runtime_type) and C(options.BinaryName) are then set.
    A runtime that is not runc-based (Kata, gVisor) is never used as the template.
  - "Config versions. C(version = 2) (containerd 1.x) edits C([plugins.\"io.containerd.grpc.v1.cri\"]);
    C(version = 3) (containerd 2.x) edits C([plugins.\"io.containerd.cri.v1.runtime\"]); a file
    without C(version) is a legacy version 1 file and edits C([plugins.cri]) (no drop-in support).
    A missing or empty file gets a minimal file of O(config_version)."
  - The file is read and written by a TOML editor shipped in the collection (no C(tomlkit) or
    C(tomllib) needed on the host). The result is parsed again and compared key by key with the
    expected document before it is written; any mismatch is an error and the file is left alone.
  - Invalid TOML, or a wrong type where a table is needed, fails with a message naming the file
    and the problem; the file is not changed. Symbolic links are followed for O(path); the
    drop-in, which the module owns, may not be a symbolic link.
  - containerd reads its configuration only at start, so RV(restart_required) is true whenever a
    file changed; restart containerd in a handler.
author:
  - gpufleet maintainers (@gpufleet)
extends_documentation_fragment:
  - gpufleet.nvidia.runtime
  - gpufleet.nvidia.runtime.edit_cycle
attributes:
  check_mode:
    support: full
    description: Computes the change, the diff and RV(restart_required) from the files as they are; writes, locks
      and validates nothing.
  diff_mode:
    support: full
    description: Before and after text of each file the module would write (the main file, the drop-in), headed by its path.
options:
  path:
    description: containerd's main configuration file.
    type: path
    default: /etc/containerd/config.toml
  runtime_path:
    description:
      - The NVIDIA runtime binary, written to C(options.BinaryName).
      - The same default in every module of the collection and in its roles.
  runtime_type:
    description: containerd shim of the runtime.
    type: str
    default: io.containerd.runc.v2
  set_as_default:
    description:
      - Make the runtime containerd's C(default_runtime_name).
      - When false and the default currently is O(name), the default goes back to the runtime
        used as the template (usually C(runc)).
    type: bool
    default: false
  systemd_cgroup:
    description:
      - Set C(options.SystemdCgroup) of the runtime. By default the value of the template runtime
        is kept (containerd's default, false, when there is none).
    type: bool
  cdi:
    description:
      - Set C(enable_cdi) in the CRI plugin (true or false). Left as it is when not given.
    type: bool
  cdi_spec_dirs:
    description: With O(cdi=true), set C(cdi_spec_dirs) in the CRI plugin.
    type: list
    elements: path
  drop_in:
    description:
      - Write the runtime to its own file O(drop_in_path) and add the import pattern
        C(<dir of drop_in_path>/*.toml) to C(imports) of O(path), unless an entry already covers it.
        Our runtime is removed from O(path) so the two never disagree.
      - O(path) is written first and the drop-in after it; when the drop-in cannot be written,
        O(path) is restored, so a failure leaves both files as they were.
      - containerd 1.x replaces a whole plugin section with the one of an imported file, so with
        C(version = 2) on containerd 1.x the module refuses a drop-in when O(path) already has
        settings under C(plugins."io.containerd.grpc.v1.cri") (they would be lost). containerd 2.x
        merges imported files key by key, so there a drop-in is always safe.
    type: bool
    default: false
  drop_in_path:
    description: Our drop-in file (the module owns the whole file; a symbolic link there is refused).
    type: path
    default: /etc/containerd/conf.d/99-nvidia.toml
  config_version:
    description:
      - Config version of a file the module creates (missing or empty O(path), new drop-in).
        C(auto) is 3 when the installed containerd is 2.x, else 2. An existing file keeps its version.
    type: str
    choices: [auto, "2", "3"]
    default: auto
  missing_config:
    description:
      - What a missing or empty O(path) starts from. C(minimal) is a file with just the version and
        our settings; C(containerd_default) is the output of C(containerd config default).
    type: str
    choices: [minimal, containerd_default]
    default: minimal
  state:
    description:
      - V(absent) removes our runtime tables, resets C(default_runtime_name) if it named O(name),
        deletes O(drop_in_path) and removes our C(imports) entry (kept while other C(*.toml) files
        remain in that directory). CDI settings are left as they are.
  validate:
    description:
      - Before writing, run C(containerd --config <candidate> config dump) on the new files and check
        that containerd sees the runtime. The candidates are written to a private temporary
        directory, never beside the real files.
      - Skipped (RV(validated) false) in check mode, when containerd is not installed, and for a
        main file with relative C(imports) entries (they resolve only beside the real file; a
        warning says so).
    type: bool
    default: true
  containerd_binary:
    description: The containerd binary used for the version check, validation and C(config default).
    type: path
    default: containerd
notes:
  - Reference behaviour is C(nvidia-ctk runtime configure --runtime=containerd) from the NVIDIA Container
    Toolkit; differences are listed in the collection's docs/modules/containerd_runtime.md.
seealso:
  - module: gpufleet.nvidia.docker_runtime
"""

EXAMPLES = r"""
- name: Register the NVIDIA runtime with containerd (Kubernetes node)
  gpufleet.nvidia.containerd_runtime:
    set_as_default: true
  notify: Restart containerd

- name: Same, in /etc/containerd/conf.d/99-nvidia.toml (containerd 2.x)
  gpufleet.nvidia.containerd_runtime:
    drop_in: true
    cdi: true
  notify: Restart containerd

- name: Remove it again
  gpufleet.nvidia.containerd_runtime:
    state: absent
  notify: Restart containerd
"""

RETURN = r"""
restart_required:
  description: A file changed, so containerd must be restarted to pick it up.
  returned: always
  type: bool
path:
  description: The main configuration file.
  returned: always
  type: str
drop_in_path:
  description: Our drop-in file (written only with O(drop_in=true)).
  returned: always
  type: str
config_version:
  description: Config version of the edited configuration.
  returned: always
  type: int
  sample: 2
cri_plugin:
  description: Name of the CRI plugin whose runtimes were edited.
  returned: always
  type: str
  sample: io.containerd.grpc.v1.cri
runtime:
  description: The runtime table as written (with O(state=present)).
  returned: when state is present
  type: dict
  sample: {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": "/usr/bin/nvidia-container-runtime", "SystemdCgroup": true}}
base_runtime:
  description: The runtime copied as the template, or null when none was found.
  returned: when state is present
  type: str
  sample: runc
default_runtime_name:
  description: containerd's default runtime after the change (runc when not set).
  returned: always
  type: str
containerd_version:
  description: Version of the installed containerd, or null when not found.
  returned: always
  type: str
  sample: 1.6.20
validated:
  description: The new files were checked with C(containerd config dump).
  returned: always
  type: bool
backup_file:
  description: Backup of the main file.
  returned: when backup is true and the main file changed
  type: str
drop_in_backup_file:
  description: Backup of the drop-in file.
  returned: when backup is true and an existing drop-in changed
  type: str
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gpufleet.nvidia.plugins.module_utils._edit_cycle import (
    EditCycle,
    candidate_file,
    run_with_retries,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic_file import FileEditError
from ansible_collections.gpufleet.nvidia.plugins.module_utils._containerd_config import (
    ConfigError,
    parse_containerd_version,
    plan,
    runtime_in_dump,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import TomlError, loads

ARGUMENT_SPEC = dict(
    path=dict(type="path", default="/etc/containerd/config.toml"),
    name=dict(type="str", default="nvidia"),
    runtime_path=dict(type="path", default="/usr/bin/nvidia-container-runtime"),
    runtime_type=dict(type="str", default="io.containerd.runc.v2"),
    set_as_default=dict(type="bool", default=False),
    systemd_cgroup=dict(type="bool"),
    cdi=dict(type="bool"),
    cdi_spec_dirs=dict(type="list", elements="path"),
    drop_in=dict(type="bool", default=False),
    drop_in_path=dict(type="path", default="/etc/containerd/conf.d/99-nvidia.toml"),
    config_version=dict(type="str", default="auto", choices=["auto", "2", "3"]),
    missing_config=dict(type="str", default="minimal", choices=["minimal", "containerd_default"]),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    backup=dict(type="bool", default=False),
    validate=dict(type="bool", default=True),
    containerd_binary=dict(type="path", default="containerd"),
)


def find_containerd(module):
    binary = module.params["containerd_binary"]
    if os.sep in binary:
        return binary if os.access(binary, os.X_OK) else None
    return module.get_bin_path(binary, opt_dirs=["/usr/local/bin", "/usr/bin", "/usr/sbin"])


def containerd_version(module, binary):
    """The installed containerd's version tuple, or ``None``."""
    if not binary:
        return None
    rc, out, dummy = module.run_command([binary, "--version"])
    return parse_containerd_version(out) if rc == 0 else None


def starting_text(module, binary, main_text):
    """What a missing or empty main file starts from (``missing_config``)."""
    p = module.params
    if (p["state"] != "present" or p["drop_in"] or p["missing_config"] != "containerd_default"
            or (main_text is not None and main_text.strip())):
        return main_text
    if not binary:
        module.fail_json(msg="missing_config=containerd_default needs containerd, which was not found")
    rc, out, err = module.run_command([binary, "config", "default"])
    if rc != 0:
        module.fail_json(msg="containerd config default failed: %s" % (err.strip() or out.strip()))
    return out


def other_drop_ins(drop_in_path):
    """Other ``*.toml`` files in the drop-in directory (then ``state=absent`` keeps our import)."""
    return [f for f in glob.glob(os.path.join(os.path.dirname(drop_in_path), "*.toml"))
            if os.path.realpath(f) != os.path.realpath(drop_in_path)]


def relative_imports(text):
    try:
        imports = loads(text).get("imports")
    except TomlError:
        return []
    if not isinstance(imports, list):
        return []
    return [entry for entry in imports if isinstance(entry, str) and not os.path.isabs(entry)]


def validate_candidate(module, binary, text, target, runtime_path, version):
    """``containerd --config <candidate> config dump``; return an error string or ``None``."""
    with candidate_file(text, target, target) as tmp:
        rc, out, err = module.run_command([binary, "--config", tmp, "config", "dump"])
    if rc != 0:
        return "containerd rejects the new configuration: %s" % (err.strip() or out.strip()).replace(tmp, target)
    if runtime_path is not None:
        return runtime_in_dump(out, version, module.params["name"], runtime_path)
    return None


def validate(module, binary, cycle, version, warnings):
    """Check every changed file with containerd; fail (nothing written) when it rejects one."""
    p = module.params
    if module.check_mode or not p["validate"] or not binary:
        return False
    want_path = p["runtime_path"] if p["state"] == "present" else None
    checks = []
    if p["path"] in cycle.changed_paths() and cycle.new_text(p["path"]) is not None:
        checks.append((p["path"], None if p["drop_in"] else want_path))
    if p["drop_in_path"] in cycle.changed_paths() and cycle.new_text(p["drop_in_path"]) is not None:
        checks.append((p["drop_in_path"], want_path))
    validated = True
    for path, runtime_path in checks:
        text = cycle.new_text(path)
        relative = relative_imports(text) if path == p["path"] else []
        if relative:
            warnings.append("%s was not validated: its relative imports (%s) resolve only beside the real file"
                            % (path, ", ".join(relative)))
            validated = False
            continue
        error = validate_candidate(module, binary, text, cycle.target(path), runtime_path, version)
        if error:
            module.fail_json(msg="%s: %s; nothing was written" % (path, error), path=p["path"],
                             drop_in_path=p["drop_in_path"])
    return validated


def report(module, result, cycle, version_tuple):
    """Return values and warnings for a plan ``result``: ``(ret, warnings)``."""
    p = module.params
    version = ".".join(str(x) for x in version_tuple) if version_tuple else None
    ret = dict(
        changed=cycle.changed,
        restart_required=cycle.changed,
        path=p["path"],
        drop_in_path=p["drop_in_path"],
        config_version=result["version"],
        cri_plugin=result["plugin"],
        default_runtime_name=result["default_runtime_name"],
        containerd_version=version,
        validated=False,
    )
    if p["state"] == "present":
        ret["runtime"] = result["runtime"]
        ret["base_runtime"] = result["base_runtime"]
    warnings = list(result["warnings"])
    if p["cdi"] and version_tuple and version_tuple[:2] < (1, 7) and p["state"] == "present":
        warnings.append("containerd %s ignores enable_cdi: CDI needs containerd 1.7 or later" % version)
    if module._diff:
        ret["diff"] = [cycle.diff(path) for path in cycle.changed_paths()]
    return ret, warnings


def edit(module, binary, version_tuple):
    """One locked cycle over the main file and the drop-in: read, plan, diff, validate, back up, write.

    Returns ``(return values, warnings)``; warnings are emitted by the caller, once, after any retry.
    """
    p = module.params
    path, drop_in_path = p["path"], p["drop_in_path"]
    with EditCycle([path, drop_in_path], check_mode=module.check_mode, owned=[drop_in_path]) as cycle:
        main_text = cycle.text(path)
        try:
            result = plan(starting_text(module, binary, main_text), cycle.text(drop_in_path), dict(p),
                          containerd_major=version_tuple[0] if version_tuple else None,
                          drop_in_dir_has_others=bool(other_drop_ins(drop_in_path)))
        except ConfigError as exc:
            module.fail_json(msg=to_native(exc), path=path, drop_in_path=drop_in_path)
        if result["main"] is not None:
            cycle.set(path, result["main"])
        cycle.set(drop_in_path, result["drop_in"])
        ret, warnings = report(module, result, cycle, version_tuple)
        if cycle.changed:
            ret["validated"] = validate(module, binary, cycle, result["version"], warnings)
            # the main file (imports) first: the drop-in goes live only after it, and a failed
            # drop-in write restores the main file
            backups = cycle.commit(order=[path, drop_in_path], backup=p["backup"])
            if path in backups:
                ret["backup_file"] = backups[path]
            if drop_in_path in backups:
                ret["drop_in_backup_file"] = backups[drop_in_path]
    return ret, warnings


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not module.params["name"]:
        module.fail_json(msg="name must not be empty")
    binary = find_containerd(module)
    version_tuple = containerd_version(module, binary)
    try:
        ret, warnings = run_with_retries(lambda: edit(module, binary, version_tuple))
    except FileEditError as exc:
        module.fail_json(msg=to_native(exc), changed=False, restart_required=False, path=module.params["path"],
                         drop_in_path=module.params["drop_in_path"])
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**ret)


if __name__ == "__main__":
    main()
