#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: docker_runtime
short_description: Register the NVIDIA container runtime in Docker's daemon.json
version_added: "0.1.0"
description:
  - Adds, corrects or removes a runtime entry (by default C(nvidia)) in Docker's C(daemon.json),
    optionally makes it the default runtime and sets C(features.cdi). Same result as
    C(nvidia-ctk runtime configure --runtime=docker).
  - Every key and value that is not the module's own is kept exactly, numbers included (a float
    keeps its text, integers of any size stay exact), and so is the key order. The module owns
    only C(runtimes.<name>.path), C(runtimes.<name>.runtimeArgs), C(default-runtime) (set when
    asked, removed only when it names this runtime) and C(features.cdi) when O(cdi) is given.
  - A missing, empty or whitespace-only file counts as C({}). A file that already has the wanted
    content is never rewritten, however it is formatted; RV(ignore:changed) is true only when the
    content changes.
  - A new file gets mode C(0644) and a missing parent directory C(0755). Symbolic links are
    followed and their target is written.
  - When rewritten, the file keeps its indent (a new file gets 4 spaces, like C(nvidia-ctk)),
    existing keys keep their order, new keys are appended to their object, and the file ends
    with a newline.
  - Invalid JSON, a JSON value that is not an object, C(runtimes) or C(features) that are not
    objects, a C(default-runtime) that is not a string, and duplicate keys (Docker silently uses
    the last one) make the module fail with a message naming the file and the problem; the file
    is left untouched.
  - Before replacing the file, the new content is checked with C(dockerd --validate) when the
    installed dockerd has that option (Docker 23.0 and later); otherwise the check is skipped and
    RV(validation) says why.
  - Then dockerd is told about the change, as O(reload) says. Registering or changing a runtime
    and setting C(default-runtime) are applied by a SIGHUP (running containers are not touched);
    C(features.cdi), removing C(default-runtime) and removing the last runtime need a restart.
author:
  - gpufleet maintainers (@gpufleet)
extends_documentation_fragment:
  - gpufleet.nvidia.runtime
  - gpufleet.nvidia.runtime.edit_cycle
options:
  path:
    description:
      - Docker daemon configuration file. A symbolic link is followed; its target is written.
    type: path
    default: /etc/docker/daemon.json
  name:
    description:
      - Name of the runtime entry under C(runtimes) (C(docker run --runtime=<name>)).
      - Docker's own runtime names (C(runc), C(io.containerd.runc.v2) ...) are refused.
  runtime_path:
    description:
      - Value of C(runtimes.<name>.path). An absolute path (the default, what the nvidia-docker2
        package wrote) or a bare name, which dockerd looks up in its C(PATH) (what C(nvidia-ctk)
        writes).
      - An existing entry whose path differs is corrected.
      - The same default in every module of the collection and in its roles.
      - Ignored when O(state=absent).
  runtime_args:
    description:
      - Value of C(runtimes.<name>.runtimeArgs).
      - When omitted, existing C(runtimeArgs) are kept and a new entry gets C([]). When given
        (also as C([])), it is enforced; a missing C(runtimeArgs) counts as C([]).
      - Ignored when O(state=absent).
    type: list
    elements: str
  set_as_default:
    description:
      - V(true) sets C(default-runtime) to O(name).
      - V(false) removes C(default-runtime) only when it is O(name) (Docker then uses C(runc)).
      - Omitted leaves C(default-runtime) alone.
      - Ignored when O(state=absent), which always removes C(default-runtime) when it names O(name).
    type: bool
  cdi:
    description:
      - Sets C(features.cdi) to this value (Container Device Interface device requests,
        C(docker run --device nvidia.com/gpu=all)). Other C(features) are kept.
      - Omitted leaves C(features) alone. Docker 28 enables CDI by default, so V(false) writes an
        explicit C(false) that turns it off there.
      - Applies with both values of O(state).
    type: bool
  state:
    description:
      - V(present) registers the runtime; V(absent) removes it (see O(set_as_default)).
      - V(absent) also removes C(runtimes) when the runtime was its last entry. It never deletes
        the file; a file left as C({}) stays.
  backup:
    description:
      - Before changing an existing file, copy it to C(<path>.<pid>.<timestamp>~), written
        atomically, mode, owner, times and extended attributes kept. The copy is returned as
        RV(backup_file).
  validate:
    description:
      - Check the new content with C(dockerd --validate --config-file <temporary file>) before the
        file is replaced; a rejected content makes the module fail and leaves the file untouched.
      - The temporary file lives in a private temporary directory; in check mode nothing is
        written, so the check is skipped and RV(validation) says so.
      - Skipped, with the reason in RV(validation), when dockerd is not installed or is older
        than Docker 23.0 (no C(--validate)).
      - This checks the file alone; options given to dockerd on its command line that clash with
        keys in the file (for example C(-H) with C(hosts)) are not seen.
    type: bool
    default: true
  reload:
    description:
      - How a running dockerd picks the change up. Nothing is done when the file did not change,
        in check mode, or when dockerd is not running (it reads the file when it starts).
      - Only a dockerd that reads O(path) is told, one whose command line (C(/proc/<pid>/cmdline))
        names O(path) with C(--config-file), or names no C(--config-file) while O(path) is
        C(/etc/docker/daemon.json). Any other dockerd gets nothing, and a warning says which file
        it reads.
      - V(auto) does what RV(reload_required) says, a SIGHUP when that is enough (registering a
        runtime, changing C(default-runtime)), a restart only when the change needs one
        (C(features.cdi), removing C(default-runtime) or the last runtime).
      - V(sighup) sends a SIGHUP, never restarts; if a restart was needed a warning says so and
        RV(reload_required) stays V(restart). No SIGHUP is sent (a warning says why) when the reload
        would leave dockerd with a C(default-runtime) that is no longer among its runtimes (removing
        the default NVIDIA runtime while other runtimes remain), as Docker 20.10 crashes on such a
        reload.
      - V(restart) always restarts the Docker service.
      - V(none) does nothing; RV(reload_required) tells a handler what to do.
      - The module acts only on the dockerd that O(pidfile) names. When the active systemd unit
        O(service) runs that dockerd (its main PID is the one in O(pidfile), or there is no pid
        file), it uses C(systemctl reload) / C(systemctl restart). Otherwise a SIGHUP goes straight
        to the PID in O(pidfile). A restart without systemd uses C(service <service> restart), and
        only for the default O(pidfile); any other dockerd (a second instance, one started by
        hand) is never restarted by the module, which says so in a warning.
    type: str
    choices: [auto, sighup, restart, none]
    default: auto
  pidfile:
    description:
      - PID file of the running dockerd, used when systemd does not manage it.
    type: path
    default: /var/run/docker.pid
  service:
    description:
      - Name of Docker's systemd unit or init script.
    type: str
    default: docker
attributes:
  check_mode:
    support: full
    description: Computes the change, the diff and RV(reload_required); writes, locks and signals nothing.
  diff_mode:
    support: full
    description: Before and after text of the file, headed by its path.
notes:
  - Python 3.6 or newer on the managed host.
  - Docker reloads C(runtimes) and C(default-runtime) on SIGHUP, but a reload ignores keys that
    were removed from the file, and the CDI device driver is registered only when dockerd starts
    (moby C(daemon/reload_unix.go), C(cmd/dockerd/daemon.go)).
  - Compared with C(nvidia-ctk runtime configure --runtime=docker), this module keeps the other
    C(features) when it sets C(features.cdi), keeps key order and number text, keeps extra keys in
    the runtime entry, writes atomically, refuses ambiguous files, and on removal deletes
    C(default-runtime) instead of setting it to C(runc), so present-then-absent restores the file.
seealso:
  - name: nvidia-ctk runtime configure
    description: NVIDIA's tool for the same change.
    link: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html#configuring-docker
  - name: Docker daemon configuration file
    description: daemon.json keys and the configuration reload behavior.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
"""

EXAMPLES = r"""
- name: Register the NVIDIA runtime (SIGHUP if dockerd runs; running containers keep running)
  gpufleet.nvidia.docker_runtime:

- name: Make it the default runtime and enable CDI (CDI needs a Docker restart)
  gpufleet.nvidia.docker_runtime:
    set_as_default: true
    cdi: true
    backup: true

- name: Change the file only; let a handler reload Docker
  gpufleet.nvidia.docker_runtime:
    set_as_default: true
    reload: none
  register: nvidia_docker_runtime
  notify: Reload Docker as required

- name: What nvidia-ctk writes (a bare name, looked up in dockerd's PATH)
  gpufleet.nvidia.docker_runtime:
    runtime_path: nvidia-container-runtime
    runtime_args: []

- name: Remove the runtime (and default-runtime if it is nvidia)
  gpufleet.nvidia.docker_runtime:
    state: absent
"""

RETURN = r"""
path:
  description: The file that was read and (when changed) written; a symbolic link is resolved.
  returned: always
  type: str
  sample: /etc/docker/daemon.json
backup_file:
  description: The backup copy made before the change (O(backup=true)).
  returned: changed and a backup was made
  type: str
  sample: /etc/docker/daemon.json.4242.2026-11-23@00:10:00~
runtimes:
  description:
    - Names of the runtimes in the file after the change, in file order (Docker adds C(runc) itself).
    - The filter P(gpufleet.nvidia.docker_daemon_json_plan#filter) gives the same list in the same order.
  returned: success
  type: list
  elements: str
  sample: [nvidia, runsc]
default_runtime:
  description: C(default-runtime) after the change; C(null) when unset (Docker uses C(runc)).
  returned: success
  type: str
  sample: nvidia
cdi:
  description: C(features.cdi) after the change; C(null) when unset.
  returned: success
  type: bool
  sample: true
reload_required:
  description:
    - What a running dockerd needs to apply this change. V(none) when nothing changed.
    - V(sighup) (or C(systemctl reload docker)) suffices for C(runtimes) and C(default-runtime);
      V(restart) for C(features.cdi) and for removals a reload ignores.
    - A handler that reloads Docker itself (with O(reload=none)) should act on this value.
  returned: success
  type: str
  choices: [none, sighup, restart]
  sample: sighup
reload_reasons:
  description: Why RV(reload_required) has its value, one line per changed key.
  returned: success
  type: list
  elements: str
  sample: ["runtimes changed: reloaded on SIGHUP"]
reloaded:
  description:
    - What the module did to dockerd. V(none) in check mode, with O(reload=none), when nothing
      changed, when dockerd is not running, or when it could not be restarted (see warnings).
  returned: success
  type: str
  choices: [none, sighup, restart]
  sample: sighup
reload_method:
  description: How the reload was delivered, or why none was (for example, the running dockerd reads another file).
  returned: success
  type: str
  sample: "SIGHUP to dockerd pid 812 (/var/run/docker.pid)"
validation:
  description: Result of the C(dockerd --validate) check of the new content, or why it was skipped.
  returned: success
  type: str
  sample: "skipped: dockerd 20.10.24 has no --validate (Docker 23.0 or later has it)"
"""


from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _dockerd_reload as dockerd_reload
from ansible_collections.gpufleet.nvidia.plugins.module_utils._edit_cycle import (
    EditCycle,
    candidate_file,
    run_with_retries,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic_file import FileEditError, resolve_target
from ansible_collections.gpufleet.nvidia.plugins.module_utils._docker_config import (
    RELOAD_NONE,
    RELOAD_RESTART,
    RELOAD_SIGHUP,
    DockerConfigError,
    plan,
)


def find_dockerd(module):
    return module.get_bin_path("dockerd", opt_dirs=["/usr/bin", "/usr/sbin", "/usr/local/bin"])


def validate_content(module, content, target):
    """Return ``(ok, note)`` for ``dockerd --validate`` on ``content`` (written to a private temp dir)."""
    dockerd = find_dockerd(module)
    if not dockerd:
        return True, "skipped: dockerd is not installed"
    rc, out, err = module.run_command([dockerd, "--help"])
    if "--validate" not in out + err:
        rc, version, dummy = module.run_command([dockerd, "--version"])
        version = version.strip().split(",")[0].replace("Docker version ", "") if rc == 0 else ""
        return True, "skipped: dockerd %s has no --validate (Docker 23.0 or later has it)" % (version or dockerd)
    with candidate_file(content, "daemon.json", target) as tmp:
        rc, out, err = module.run_command([dockerd, "--validate", "--config-file", tmp])
    message = (err.strip() or out.strip()).replace(tmp, "<new content>")
    if rc != 0:
        return False, message or "dockerd --validate exited with %d" % rc
    return True, "passed: dockerd --validate (%s)" % (message or "configuration OK")


def summary(result, target):
    """The module's return values for a plan ``result``."""
    after = result["after"]
    features = after.get("features")
    cdi = features.get("cdi") if isinstance(features, dict) else None
    return dict(
        changed=result["changed"],
        path=target,
        runtimes=result["runtimes"],
        default_runtime=after.get("default-runtime"),
        cdi=cdi if isinstance(cdi, bool) else None,
        reload_required=result["reload_required"],
        reload_reasons=result["reload_reasons"],
        reloaded=RELOAD_NONE,
        reload_method="nothing changed",
        validation="not needed: nothing changed",
    )


def edit(module):
    """One locked cycle: read, plan, diff, validate, back up, write. Returns ``(out, plan result)``."""
    p = module.params
    path = p["path"]
    with EditCycle([path], check_mode=module.check_mode) as cycle:
        target = cycle.target(path)
        text = cycle.text(path)
        try:
            result = plan(text, state=p["state"], name=p["name"], runtime_path=p["runtime_path"],
                          runtime_args=p["runtime_args"], set_as_default=p["set_as_default"],
                          cdi=p["cdi"], path=path)
        except DockerConfigError as exc:
            module.fail_json(msg=to_native(exc), path=target)
        out = summary(result, target)
        if not result["changed"]:
            return out, result
        cycle.set(path, result["after_text"])
        if module._diff:
            out["diff"] = cycle.diff(path, header=target)
        if module.check_mode:
            out["validation"] = "skipped: check mode writes nothing, not even a temporary file to validate"
            out["reload_method"] = "check mode"
            return out, result
        if p["validate"]:
            ok, note = validate_content(module, result["after_text"], target)
            if not ok:
                module.fail_json(msg="dockerd rejects the new content of %s (the file is unchanged): %s"
                                 % (target, note), path=target, diff=out.get("diff"))
            out["validation"] = note
        else:
            out["validation"] = "skipped: validate=false"
        backups = cycle.commit(backup=p["backup"])
        if path in backups:
            out["backup_file"] = backups[path]
    return out, result


def reload_dockerd(module, out, result):
    p = module.params
    wanted = {"auto": result["reload_required"], "sighup": RELOAD_SIGHUP,
              "restart": RELOAD_RESTART, "none": RELOAD_NONE}[p["reload"]]
    if wanted == RELOAD_NONE:
        out["reload_method"] = "reload=none: left to the caller (see reload_required)"
    elif wanted == RELOAD_SIGHUP and result["sighup_hazard"]:
        module.warn("no SIGHUP sent: %s" % result["sighup_hazard"])
        out["reload_method"] = "SIGHUP refused: %s" % result["sighup_hazard"]
    else:
        out["reloaded"], out["reload_method"] = dockerd_reload.deliver(module, wanted, out["path"], p["pidfile"],
                                                                       p["service"])
        if out["reloaded"] == RELOAD_SIGHUP and result["reload_required"] == RELOAD_RESTART:
            module.warn("dockerd was sent SIGHUP, but this change takes effect only after a restart: %s"
                        % "; ".join(result["reload_reasons"]))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            name=dict(type="str", default="nvidia"),
            runtime_path=dict(type="path", default="/usr/bin/nvidia-container-runtime"),
            runtime_args=dict(type="list", elements="str"),
            set_as_default=dict(type="bool"),
            cdi=dict(type="bool"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            backup=dict(type="bool", default=False),
            validate=dict(type="bool", default=True),
            reload=dict(type="str", default="auto", choices=["auto", "sighup", "restart", "none"]),
            pidfile=dict(type="path", default=dockerd_reload.DEFAULT_PIDFILE),
            service=dict(type="str", default="docker"),
        ),
        supports_check_mode=True,
    )
    try:
        out, result = run_with_retries(lambda: edit(module))
    except FileEditError as exc:
        module.fail_json(msg=to_native(exc), path=resolve_target(module.params["path"]))
    if result["changed"] and not module.check_mode:
        reload_dockerd(module, out, result)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
