# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""The container_toolkit role's state machine: the state scan read, the steps decided.

The role runs one read-only POSIX sh script on the host
(``roles/container_toolkit/templates/state_scan.sh.j2``, through ``raw``).
Its output is a series of sections, each opened by a ``#<name>`` line:

``#packages``  ``name<TAB>version<TAB>status`` per package the query knows
               (``dpkg-query -W``; ``rpm -q --qf`` prints ``ii`` for installed ones)
``#stale``     the legacy sources and keys, and conflicting lists, that exist
``#gpg``       ``present`` when gpg is installed
``#key``       ``gpg --show-keys --with-colons`` of the repository key on the host
``#files``     ``<path> <mode>:<owner>:<group> <sha1>`` of the apt source and pin
``#config``    ``unchanged`` / ``differs`` (config.toml against the wanted settings),
               empty when nvidia-ctk is not there yet
``#daemon``    ``absent``, ``unreadable`` or ``b64:<daemon.json, base64>``
``#dropin``    ``present`` when the Docker drop-in of a systemd_dropin registration exists
``#cdi``       ``unit=.. spec=.. path=<is-enabled>/<is-active> unitspec=.. driver=..``,
               then the lines of the CDI stamp (only with container_toolkit_cdi)
``#devchar``   ``systemd=``, ``cgroup=``, ``docker_cgroup_driver=``,
               ``containerd_systemd_cgroup=``, ``kubelet_cgroup_driver=`` lines, then
               ``node <path> <major>:<minor> <yes|no>`` per NVIDIA device node (whether
               ``/dev/char/<major>:<minor>`` exists); the udev rule's state is in ``#files``
``#end``

``parse`` reads that into a dict, ``cdi_state`` decides who makes the CDI spec
and whether it is current, ``dev_char_state`` whether the ``/dev/char`` links
and their udev rule are wanted, ``plan`` decides which of the role's step task
files run.  Pure functions over strings and dicts; the two checks that other
plugins own (the repository key, daemon.json) are passed in as functions by
the ``gpufleet.nvidia.container_toolkit_plan`` filter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

SECTIONS = ("packages", "stale", "gpg", "key", "files", "config", "daemon", "dropin", "cdi", "devchar", "end")
_MARKER = re.compile(r"^#(%s)$" % "|".join(SECTIONS))
# "name<TAB>version<TAB>ii" (installed) or "hi" (held); "rc", "un", ... are not installed
_PACKAGE = re.compile(r"^(\S+)\t(\S+)\t[ih]i")
_FILE = re.compile(r"^(\S+) (.*)$")
# mode, owner and group of the apt source and pin as the role writes them
WANTED_FILE_STATE = "644:root:root"
# the package whose hook dockerd looks for once, when it starts
HOOK_PACKAGE = "nvidia-container-toolkit"
DEV_CHAR_SWITCHES = ("auto", "true", "false")

_TRUE = ("1", "true", "yes", "on", "y", "t")


def as_bool(value):
    """A role variable as a boolean (``True``, ``"true"``, ``"yes"``, 1 ...)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in _TRUE


def sections(text):
    """``{name: [lines]}`` of the scan's output; CR LF and CR line ends are read as LF.

    Only the scan's own markers open a section; lines before the first one
    are dropped (a login banner).  ``complete`` (in ``parse``) says whether
    ``#end`` was reached.
    """
    found = {}
    current = None
    for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        match = _MARKER.match(line.strip())
        if match:
            current = match.group(1)
            found.setdefault(current, [])
        elif current is not None:
            found[current].append(line)
    return found


def parse(text):
    """The scan's output as values.

    Returns ``{installed, stale_found, gpg_present, key_listing, files,
    config_state, daemon, dropin_present, cdi_lines, devchar_lines, complete}``:
    ``installed`` maps installed package names to versions; ``files`` maps
    a path to ``"<mode>:<owner>:<group> <sha1>"``; ``config_state`` is
    ``unchanged``, ``differs`` or ``unknown``; ``daemon`` is the stripped
    ``#daemon`` line.
    """
    if text is not None and not isinstance(text, str):
        raise TypeError("the state scan output must be a string, not %s" % type(text).__name__)
    parts = sections(text)
    installed = {}
    for line in parts.get("packages", []):
        match = _PACKAGE.match(line)
        if match:
            installed[match.group(1)] = match.group(2)
    files = {}
    for line in parts.get("files", []):
        match = _FILE.match(line.strip())
        if match:
            files[match.group(1)] = match.group(2)
    config = " ".join(parts.get("config", [])).strip()
    return {
        "installed": installed,
        "stale_found": [line.strip() for line in parts.get("stale", []) if line.strip()],
        "gpg_present": any(line.strip() == "present" for line in parts.get("gpg", [])),
        "key_listing": "\n".join(parts.get("key", [])),
        "files": files,
        "config_state": config if config in ("unchanged", "differs") else "unknown",
        "daemon": ([line.strip() for line in parts.get("daemon", []) if line.strip()] or [""])[0],
        "dropin_present": any(line.strip() == "present" for line in parts.get("dropin", [])),
        "cdi_lines": [line for line in parts.get("cdi", []) if line.strip()],
        "devchar_lines": [line for line in parts.get("devchar", []) if line.strip()],
        "complete": "end" in parts,
    }


def cdi_state(lines, stamp="", jetson=False, systemd=True):
    """Who makes the CDI spec and whether it is current, from the CDI probe's lines.

    ``lines``: the probe's output (a string or a list of lines): its first line
    ``unit=.. spec=.. path=<enabled>/<active> unitspec=.. driver=..``, then the
    stamp the role wrote when it generated the spec.  ``stamp``: what the spec
    must have been generated for (toolkit and driver versions).

    ``method`` is ``units`` (the toolkit's nvidia-cdi-refresh units, 1.18 or
    later, on a systemd host that is not a Jetson in CSV mode) or ``generate``
    (the role runs nvidia-ctk cdi generate).  ``current``: the units enabled and
    running and their spec written when a driver is loaded; or the role's spec
    generated for this ``stamp``.
    """
    if isinstance(lines, str):
        lines = lines.replace("\r", "").split("\n")
    lines = [str(line).replace("\r", "") for line in (lines or []) if str(line).strip()]
    first = lines[0] if lines else ""
    fields = dict(item.split("=", 1) for item in first.split() if "=" in item)
    unit = fields.get("unit") == "yes"
    driver = fields.get("driver") == "yes"
    unitspec = fields.get("unitspec") == "yes"
    spec = fields.get("spec") == "yes"
    method = "units" if unit and as_bool(systemd) and not as_bool(jetson) else "generate"
    if method == "units":
        current = fields.get("path") == "enabled/active" and (unitspec or not driver)
    else:
        current = spec and " ".join(line.strip() for line in lines[1:]) == " ".join(str(stamp or "").split())
    return {"unit": unit, "driver": driver, "unitspec": unitspec, "spec": spec, "method": method, "current": current}


def _dev_char_probe(lines):
    """``key=value`` lines and ``node <path> <major>:<minor> <yes|no>`` lines of the ``#devchar`` section."""
    if isinstance(lines, str):
        lines = lines.replace("\r", "").split("\n")
    found = {"nodes": []}
    for line in lines or []:
        parts = str(line).split()
        if not parts:
            continue
        if parts[0] == "node" and len(parts) == 4:
            found["nodes"].append({"path": parts[1], "dev": parts[2], "linked": parts[3] == "yes"})
        elif "=" in parts[0]:
            key, value = str(line).split("=", 1)
            found[key.strip()] = value.strip()
    return found


def dev_char_state(lines, switch="auto"):
    """Whether ``/dev/char`` links for the NVIDIA device nodes are wanted, why, and which nodes lack one.

    With the systemd cgroup driver, ``systemctl daemon-reload`` re-applies the
    device rules of running containers from ``/dev/char/<major>:<minor>``; the
    NVIDIA device nodes made outside udev have no such link, so containers lose
    their GPUs ("Failed to initialize NVML: Unknown Error").  NVIDIA's answer is
    ``nvidia-ctk system create-dev-char-symlinks`` plus a udev rule.

    ``lines``: the ``#devchar`` section (a string or a list of lines).
    ``switch``: ``container_toolkit_dev_char_symlinks`` (``auto``, ``true``,
    ``false`` or a boolean); anything else raises ValueError.  Returns
    ``{wanted, reason, missing}``.
    """
    if isinstance(switch, bool):
        switch = "true" if switch else "false"
    switch = str(switch).strip().lower()
    if switch not in DEV_CHAR_SWITCHES:
        raise ValueError("container_toolkit_dev_char_symlinks must be auto, true or false, not %r" % (switch,))
    found = _dev_char_probe(lines)
    missing = [node["path"] for node in found["nodes"] if not node["linked"]]
    drivers = []
    if found.get("docker_cgroup_driver") == "systemd":
        drivers.append("Docker")
    if found.get("containerd_systemd_cgroup") == "yes":
        drivers.append("containerd")
    if found.get("kubelet_cgroup_driver") == "systemd":
        drivers.append("kubelet")
    if switch != "auto":
        wanted, reason = switch == "true", "switched " + ("on" if switch == "true" else "off")
    elif found.get("systemd") != "yes":
        wanted, reason = False, "the host does not run systemd"
    elif drivers:
        wanted, reason = True, "%s use(s) the systemd cgroup driver" % " and ".join(drivers)
    elif found.get("cgroup") == "v2" and not found.get("docker_cgroup_driver"):
        # Docker not answering: on cgroup v2 with systemd, Docker, containerd (kubeadm) and
        # kubelet default to the systemd cgroup driver
        wanted, reason = True, "systemd host on cgroup v2 (the systemd cgroup driver is the default)"
    else:
        wanted, reason = False, "no container engine uses the systemd cgroup driver"
    return {"wanted": wanted, "reason": reason, "missing": missing}


def dev_char_rule(ctk, reason):
    """The udev rule that makes the links again whenever the nvidia driver binds."""
    return ("# Managed by gpufleet.nvidia.container_toolkit (container_toolkit_dev_char_symlinks):\n"
            "# /dev/char links for the NVIDIA device nodes (%s).\n"
            'ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", RUN+="%s system create-dev-char-symlinks --create-all"\n'
            % (reason, ctk))


def _dev_char_plan(found, wanted):
    """``dev_char_state`` plus what the ``dev_char`` step does: write the rule (absent, other
    content, mode or owner), create the missing links, or remove the rule."""
    state = dev_char_state(found["devchar_lines"], wanted.get("dev_char_symlinks", "auto"))
    rule_path = str(wanted.get("dev_char_rule") or "/etc/udev/rules.d/71-nvidia-dev-char.rules")
    rule = dev_char_rule(str(wanted.get("dev_char_ctk") or "/usr/bin/nvidia-ctk"), state["reason"])
    on_host = found["files"].get(rule_path)
    rule_current = on_host == "%s %s" % (WANTED_FILE_STATE, hashlib.sha1(rule.encode("utf-8")).hexdigest())
    state.update({
        "rule_path": rule_path, "rule": rule, "rule_present": on_host is not None, "rule_current": rule_current,
        "write_rule": state["wanted"] and not rule_current,
        "create_links": state["wanted"] and bool(state["missing"]),
        "remove_rule": not state["wanted"] and on_host is not None,
    })
    return state


def config_sets(config=None, jetson_csv=False, accept_envvar=None, accept_volume_mounts=None,
                supported_capabilities=""):
    """The ``nvidia-ctk config --set`` arguments (``key=value``, booleans lower-case) of the
    role's config.toml settings, in order: ``container_toolkit_config`` first, then the
    settings its own variables give (a Jetson in CSV mode; the two accept switches when not
    None; the supported driver capabilities when not empty), which win over the same key."""
    settings = dict(config or {})
    if as_bool(jetson_csv):
        settings["nvidia-container-runtime.mode"] = "csv"
    if accept_envvar is not None:
        settings["accept-nvidia-visible-devices-envvar-when-unprivileged"] = as_bool(accept_envvar)
    if accept_volume_mounts is not None:
        settings["accept-nvidia-visible-devices-as-volume-mounts"] = as_bool(accept_volume_mounts)
    if supported_capabilities:
        settings["supported-driver-capabilities"] = supported_capabilities
    sets = []
    for key, value in settings.items():
        text = str(value)
        sets.append("%s=%s" % (key, {"True": "true", "False": "false"}.get(text, text)))
    return sets


def local_files(packages, directory, version, pkg_family, arch):
    """The package files of an air-gapped install, in the given (dependency) order:
    ``<dir>/<name>_<version>_<arch>.deb`` (apt) or ``<dir>/<name>-<version>.<arch>.rpm`` (dnf)."""
    directory = str(directory or "").rstrip("/")
    if pkg_family == "apt":
        pattern = "%s/%s_%s_%s.deb"
    elif pkg_family == "dnf":
        pattern = "%s/%s-%s.%s.rpm"
    else:
        raise ValueError("package family must be apt or dnf, not %r" % (pkg_family,))
    return [pattern % (directory, name, version, arch) for name in packages or []]


def source_problems(manage_repo, local_packages_dir, repo_base_url):
    """What is missing to know where the packages come from (empty when nothing is)."""
    if as_bool(manage_repo) and not local_packages_dir and not repo_base_url:
        return ["container_toolkit_repo_base_url is not set: set it to the stable repository URL of the NVIDIA"
                " Container Toolkit install guide or to your mirror of it (or set container_toolkit_local_packages_dir,"
                " or container_toolkit_manage_repo: false)."]
    return []


def _want_fingerprint(fingerprint):
    return re.sub(r"[^0-9A-F]", "", str(fingerprint or "").upper())


def _daemon_content(found):
    """``(content, readable)`` of the ``#daemon`` line: base64 text, or None for no file."""
    if found == "absent":
        return None, True
    if found.startswith("b64:"):
        return found[4:], True
    return None, False


def plan(scan, wanted, key_problem=None, daemon_json_plan=None):
    """Which step task files of the role run, and the values they read.

    ``scan``: the state scan's output (``parse`` reads it).  ``wanted``: the
    role's wanted state, keys (booleans may be strings):

    ``packages``, ``version``, ``legacy_packages``, ``migrate_legacy``,
    ``use_repo``, ``pkg_family`` (``apt``/``dnf``), ``repo_key_inline``,
    ``repo_key_fingerprint``, ``source_path``, ``pin_path``, ``source_sha1``,
    ``pin_sha1`` (of the rendered templates), ``pin_version``,
    ``config_sets`` (``key=value`` list), ``jetson``, ``systemd``, ``cdi``,
    ``cdi_stamp``, ``check_mode``, ``docker_runtime``, ``docker_installed``,
    ``docker_registration`` (``daemon_json``/``systemd_dropin``),
    ``docker_daemon_json``, ``runtime_name``, ``runtime_path``,
    ``runtime_args`` (None keeps them), ``docker_default_runtime`` (None leaves it),
    ``dev_char_symlinks`` (``auto``/``true``/``false``), ``dev_char_rule`` (the
    udev rule's path, also listed in ``#files``), ``dev_char_ctk`` (nvidia-ctk's path).

    ``key_problem(listing, fingerprint)``: empty when the key listing holds
    exactly the wanted key (``repo_key_problem``).  ``daemon_json_plan(content,
    **options)``: what docker_runtime would do (``docker_daemon_json_plan``).

    The steps, in order: ``remove_stale``, ``repo_apt``/``repo_dnf``, ``install``,
    ``config_toml``, ``jetson``, ``cdi``, ``docker``, ``dev_char``.  A converged
    Docker host gets none.  Check mode before the packages are installed leaves out the
    steps that run the toolkit's tools, but not ``docker`` (the module needs
    no toolkit binary, so --check --diff shows its daemon.json change).
    """
    wanted = wanted or {}
    found = parse(scan)
    installed = found["installed"]
    version = str(wanted.get("version") or "")
    packages = [str(name) for name in wanted.get("packages") or []]
    outdated = [name for name in packages if installed.get(name) != version]
    legacy_installed = [str(name) for name in wanted.get("legacy_packages") or [] if str(name) in installed]
    install_needed = bool(outdated) or (as_bool(wanted.get("migrate_legacy")) and bool(legacy_installed))
    docker_installed = as_bool(wanted.get("docker_installed"))
    jetson = as_bool(wanted.get("jetson"))
    systemd = as_bool(wanted.get("systemd"))
    check_mode = as_bool(wanted.get("check_mode"))
    pkg_family = str(wanted.get("pkg_family") or "")

    # the repository key already on the host: exactly one primary key, the wanted one
    key_problem_text = "the repository key is given inline (container_toolkit_repo_key): the key check compares it"
    if not as_bool(wanted.get("repo_key_inline")):
        if not found["gpg_present"]:
            key_problem_text = "gpg is not installed: the key on the host cannot be read"
        elif key_problem is None:
            key_problem_text = "no key check given"
        else:
            key_problem_text = key_problem(found["key_listing"], _want_fingerprint(wanted.get("repo_key_fingerprint")))
    key_current = not key_problem_text

    files = found["files"]
    source_path = str(wanted.get("source_path") or "")
    pin_path = str(wanted.get("pin_path") or "")
    source_current = files.get(source_path, "") == "%s %s" % (WANTED_FILE_STATE, wanted.get("source_sha1") or "")
    if as_bool(wanted.get("pin_version")):
        pin_current = files.get(pin_path, "") == "%s %s" % (WANTED_FILE_STATE, wanted.get("pin_sha1") or "")
    else:
        pin_current = pin_path not in files

    # what docker_runtime would do to daemon.json: the module's own merge
    registration = str(wanted.get("docker_registration") or "daemon_json")
    content, readable = _daemon_content(found["daemon"])
    if not readable:
        daemon = {"changed": True, "error": "daemon.json could not be read by the state scan",
                  "reload_required": "none", "runtimes": [], "default_runtime": None}
    elif daemon_json_plan is None:
        daemon = {"changed": True, "error": None, "reload_required": "none", "runtimes": [], "default_runtime": None}
    else:
        default_runtime = wanted.get("docker_default_runtime")
        daemon = daemon_json_plan(
            content, base64_encoded=True,
            path=str(wanted.get("docker_daemon_json") or "/etc/docker/daemon.json"),
            state="present" if registration == "daemon_json" else "absent",
            name=str(wanted.get("runtime_name") or "nvidia"),
            runtime_path=str(wanted.get("runtime_path") or "/usr/bin/nvidia-container-runtime"),
            runtime_args=wanted.get("runtime_args"),
            set_as_default=None if default_runtime is None else as_bool(default_runtime),
            cdi=True if as_bool(wanted.get("cdi")) else None)

    cdi = cdi_state(found["cdi_lines"], wanted.get("cdi_stamp"), jetson=jetson, systemd=systemd)
    config_sets = list(wanted.get("config_sets") or [])

    steps = []
    if found["stale_found"]:
        steps.append("remove_stale")
    if as_bool(wanted.get("use_repo")) and (pkg_family != "apt" or not (key_current and source_current and pin_current)):
        steps.append("repo_" + pkg_family)
    if install_needed:
        steps.append("install")
    if not (check_mode and outdated):
        if config_sets and (found["config_state"] != "unchanged" or outdated):
            steps.append("config_toml")
        if jetson:
            steps.append("jetson")
        if as_bool(wanted.get("cdi")) and (outdated or not cdi["current"]):
            steps.append("cdi")
    if (as_bool(wanted.get("docker_runtime")) and docker_installed
            and (registration == "systemd_dropin" or install_needed or found["dropin_present"]
                 or daemon.get("changed") or daemon.get("error"))):
        steps.append("docker")
    dev_char = _dev_char_plan(found, wanted)
    if dev_char["write_rule"] or dev_char["create_links"] or dev_char["remove_rule"]:
        steps.append("dev_char")

    return {
        "steps": steps,
        "installed": installed,
        "outdated": outdated,
        "legacy_installed": legacy_installed,
        "install_needed": install_needed,
        # dockerd finds the toolkit's hook only when it starts: a first install needs a restart
        "new_hook": docker_installed and HOOK_PACKAGE in outdated and HOOK_PACKAGE not in installed,
        "stale_found": found["stale_found"],
        "gpg_present": found["gpg_present"],
        "key_current": key_current,
        "key_problem": key_problem_text,
        "source_current": source_current,
        "pin_current": pin_current,
        "config_state": found["config_state"],
        "dropin_present": found["dropin_present"],
        "daemon_json_plan": daemon,
        "cdi": cdi,
        "cdi_method": cdi["method"],
        "cdi_current": cdi["current"],
        "dev_char": dev_char,
        "complete": found["complete"],
    }
