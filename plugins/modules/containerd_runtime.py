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
  - The file is parsed by a small TOML reader shipped in the collection (module_utils/toml_edit.py),
    because managed hosts have no C(tomlkit) and Python older than 3.11 has no C(tomllib). Editing
    on the host (rather than in an action plugin with C(tomlkit) on the controller) keeps the
    module usable from any controller, needs no extra controller library, and reads the file
    exactly once on the host. The result is parsed again and compared key by key with the
    expected document before it is written; any mismatch is an error and the file is left alone.
  - Invalid TOML, or a wrong type where a table is needed, fails with a message naming the file
    and the problem; the file is not changed. Writes are atomic (temporary file, fsync, rename),
    keep mode and owner, and follow symlinks.
  - containerd reads its configuration only at start, so RV(restart_required) is true whenever a
    file changed; restart containerd in a handler.
author:
  - gpufleet maintainers (@gpufleet)
attributes:
  check_mode:
    support: full
    description: Computes the change, the diff and RV(restart_required) from the files as they are; writes nothing.
  diff_mode:
    support: full
    description: Before and after text of each file the module would write (the main file, the drop-in), headed by its path.
options:
  path:
    description: containerd's main configuration file.
    type: path
    default: /etc/containerd/config.toml
  name:
    description: Name of the runtime to register.
    type: str
    default: nvidia
  runtime_path:
    description: The NVIDIA runtime binary, written to C(options.BinaryName).
    type: path
    default: /usr/bin/nvidia-container-runtime
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
      - containerd 1.x replaces a whole plugin section with the one of an imported file, so with
        C(version = 2) on containerd 1.x the module refuses a drop-in when O(path) already has
        settings under C(plugins."io.containerd.grpc.v1.cri") (they would be lost). containerd 2.x
        merges imported files key by key, so there a drop-in is always safe.
    type: bool
    default: false
  drop_in_path:
    description: Our drop-in file (the module owns the whole file).
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
      - C(absent) removes our runtime tables, resets C(default_runtime_name) if it named O(name),
        deletes O(drop_in_path) and removes our C(imports) entry (kept while other C(*.toml) files
        remain in that directory). CDI settings are left as they are.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description: Keep a timestamped copy of each file before changing it.
    type: bool
    default: false
  validate:
    description:
      - Before writing, run C(containerd --config <candidate> config dump) on the new files and check
        that containerd sees the runtime. Skipped (RV(validated) false) when containerd is not installed.
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
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.nvidia.plugins.module_utils.atomic_file import (
    FileEditError, backup_file, read_text, write_atomic,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils.containerd_config import (
    ConfigError, parse_containerd_version, plan, runtime_in_dump,
)


def _containerd(module):
    binary = module.params["containerd_binary"]
    if os.sep in binary:
        return binary if os.access(binary, os.X_OK) else None
    return module.get_bin_path(binary, opt_dirs=["/usr/local/bin", "/usr/bin", "/usr/sbin"])


def _validate(module, binary, text, directory, name, runtime_path, version):
    """Run containerd config dump on a candidate file; return an error string or None."""
    fd, tmp = tempfile.mkstemp(prefix=".gpufleet-validate.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        rc, out, err = module.run_command([binary, "--config", tmp, "config", "dump"])
        if rc != 0:
            return "containerd rejects the new configuration: %s" % (err.strip() or out.strip())
        if runtime_path is not None:
            return runtime_in_dump(out, version, name, runtime_path)
        return None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def main():
    module = AnsibleModule(
        argument_spec=dict(
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
        ),
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    drop_in_path = p["drop_in_path"]
    if not p["name"]:
        module.fail_json(msg="name must not be empty")

    binary = _containerd(module)
    version_tuple = None
    if binary:
        rc, out, err = module.run_command([binary, "--version"])
        if rc == 0:
            version_tuple = parse_containerd_version(out)
    containerd_version = ".".join(str(x) for x in version_tuple) if version_tuple else None
    major = version_tuple[0] if version_tuple else None

    try:
        main_text = read_text(path)
        drop_in_text = read_text(drop_in_path)
    except FileEditError as exc:
        module.fail_json(msg=str(exc))

    base_text = main_text
    if (p["state"] == "present" and not p["drop_in"] and p["missing_config"] == "containerd_default"
            and (main_text is None or not main_text.strip())):
        if not binary:
            module.fail_json(msg="missing_config=containerd_default needs containerd, which was not found")
        rc, out, err = module.run_command([binary, "config", "default"])
        if rc != 0:
            module.fail_json(msg="containerd config default failed: %s" % (err.strip() or out.strip()))
        base_text = out

    drop_in_dir = os.path.dirname(drop_in_path)
    others = [f for f in glob.glob(os.path.join(drop_in_dir, "*.toml"))
              if os.path.realpath(f) != os.path.realpath(drop_in_path)]
    try:
        result = plan(base_text, drop_in_text, dict(p), containerd_major=major,
                      drop_in_dir_has_others=bool(others))
    except ConfigError as exc:
        module.fail_json(msg=str(exc), path=path, drop_in_path=drop_in_path)

    new_main = result["main"]
    new_drop_in = result["drop_in"]
    main_changed = new_main is not None and new_main != main_text
    drop_in_changed = new_drop_in != drop_in_text
    changed = main_changed or drop_in_changed

    validated = False
    if changed and p["validate"] and binary:
        checks = []
        want_path = p["runtime_path"] if p["state"] == "present" else None
        if new_main is not None and main_changed:
            checks.append((new_main, path, None if p["drop_in"] else want_path))
        if new_drop_in is not None and drop_in_changed:
            checks.append((new_drop_in, drop_in_path, want_path))
        for text, target, runtime_path in checks:
            directory = os.path.dirname(os.path.realpath(target))
            if not os.path.isdir(directory):
                directory = None
            error = _validate(module, binary, text, directory, p["name"], runtime_path, result["version"])
            if error:
                module.fail_json(msg="%s: %s; nothing was written" % (target, error), path=path,
                                 drop_in_path=drop_in_path)
        validated = True

    ret = dict(
        changed=changed,
        restart_required=changed,
        path=path,
        drop_in_path=drop_in_path,
        config_version=result["version"],
        cri_plugin=result["plugin"],
        default_runtime_name=result["default_runtime_name"],
        containerd_version=containerd_version,
        validated=validated,
    )
    if p["state"] == "present":
        ret["runtime"] = result["runtime"]
        ret["base_runtime"] = result["base_runtime"]
    for warning in result["warnings"]:
        module.warn(warning)
    if p["cdi"] and version_tuple and version_tuple[:2] < (1, 7) and p["state"] == "present":
        module.warn("containerd %s ignores enable_cdi: CDI needs containerd 1.7 or later" % containerd_version)

    if module._diff:
        diffs = []
        if main_changed:
            diffs.append(dict(before_header=path, after_header=path,
                              before=main_text or "", after=new_main))
        if drop_in_changed:
            diffs.append(dict(before_header=drop_in_path, after_header=drop_in_path,
                              before=drop_in_text or "", after=new_drop_in or ""))
        ret["diff"] = diffs

    if changed and not module.check_mode:
        try:
            if p["state"] == "present":
                order = [("drop_in", drop_in_changed), ("main", main_changed)]
            else:
                order = [("main", main_changed), ("drop_in", drop_in_changed)]
            for which, todo in order:
                if not todo:
                    continue
                if which == "main":
                    if p["backup"] and main_text is not None:
                        ret["backup_file"] = backup_file(path)
                    write_atomic(path, new_main)
                elif new_drop_in is None:
                    if p["backup"]:
                        ret["drop_in_backup_file"] = backup_file(drop_in_path)
                    os.unlink(os.path.realpath(drop_in_path))
                else:
                    if p["backup"] and drop_in_text is not None:
                        ret["drop_in_backup_file"] = backup_file(drop_in_path)
                    write_atomic(drop_in_path, new_drop_in)
        except FileEditError as exc:
            module.fail_json(msg=str(exc), **ret)
        except (IOError, OSError) as exc:
            module.fail_json(msg="cannot remove %s: %s" % (drop_in_path, exc), **ret)

    module.exit_json(**ret)


if __name__ == "__main__":
    main()
