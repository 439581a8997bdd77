# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Deliver a configuration reload (SIGHUP) or restart to the dockerd that reads a file.

Used by ``docker_runtime`` after it changed ``daemon.json``.  A dockerd is
told about a change only when it reads that file: its command line
(``/proc/<pid>/cmdline``) names it with ``--config-file``, or names no
``--config-file`` and the file is dockerd's default ``/etc/docker/daemon.json``.
A trial run on a scratch file therefore never reloads the production dockerd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gpufleet.nvidia.plugins.module_utils._docker_config import (
    RELOAD_NONE,
    RELOAD_RESTART,
    RELOAD_SIGHUP,
)

DEFAULT_PIDFILE = "/var/run/docker.pid"
DEFAULT_CONFIG_FILE = "/etc/docker/daemon.json"
PROC = "/proc"


def config_file_from_argv(argv, cwd=None):
    """The configuration file a dockerd with command line ``argv`` reads (pure).

    dockerd's flags (pflag): ``--config-file PATH`` or ``--config-file=PATH``;
    the last one wins; without it ``/etc/docker/daemon.json``.  A relative path
    is taken relative to ``cwd`` (dockerd's working directory).
    """
    found = None
    args = list(argv[1:])
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            break
        if arg == "--config-file" and index + 1 < len(args):
            found = args[index + 1]
            index += 2
            continue
        if arg.startswith("--config-file="):
            found = arg[len("--config-file="):]
        index += 1
    if not found:
        return DEFAULT_CONFIG_FILE
    if not os.path.isabs(found) and cwd:
        found = os.path.join(cwd, found)
    return os.path.normpath(found)


def process_argv(pid, proc=PROC):
    """``(argv, cwd)`` of a running process from /proc, or ``(None, None)`` when it cannot be read."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
            raw = handle.read()
    except (IOError, OSError):
        return None, None
    argv = [to_native(part, errors="surrogate_or_strict") for part in raw.split(b"\0")]
    if argv and argv[-1] == "":
        argv.pop()
    try:
        cwd = os.readlink(os.path.join(proc, str(pid), "cwd"))
    except OSError:
        cwd = None
    return argv, cwd


def same_file(a, b):
    """Do paths ``a`` and ``b`` name the same file (symlinks resolved; inode when both exist)?"""
    try:
        sa, sb = os.stat(a), os.stat(b)
        return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def reads_config(pid, path, proc=PROC):
    """``(True|False|None, config file)``: does dockerd ``pid`` read ``path``? ``None``: unknown."""
    argv, cwd = process_argv(pid, proc)
    if not argv:
        return None, None
    config = config_file_from_argv(argv, cwd)
    return same_file(config, path), config


def systemd_unit_state(module, service):
    """``None`` without systemd or when the unit is not active, else the unit's main PID (0 if unknown)."""
    if not os.path.isdir("/run/systemd/system"):
        return None
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return None
    rc, out, dummy = module.run_command([systemctl, "show", "--property=ActiveState", "--property=MainPID", service])
    if rc != 0:
        return None
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if props.get("ActiveState") not in ("active", "reloading"):
        return None
    try:
        return int(props.get("MainPID", "0"))
    except ValueError:
        return 0


def dockerd_pid(pidfile, proc=PROC):
    """PID of the running dockerd named in ``pidfile``, else ``None``."""
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().strip())
    except (IOError, OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        with open(os.path.join(proc, str(pid), "comm")) as handle:
            comm = handle.read().strip()
    except (IOError, OSError):
        return None
    return pid if comm.startswith("dockerd") else None


def init_script_restart(module, service):
    """``service <name> restart`` when an init script exists (no systemd), else ``None``."""
    tool = module.get_bin_path("service")
    if tool and os.path.exists(os.path.join("/etc/init.d", service)):
        return [tool, service, "restart"]
    return None


def _run_or_fail(module, path, cmd):
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(msg="%s was written but '%s' failed: %s" % (path, " ".join(cmd), (err or out).strip()))
    return " ".join([os.path.basename(cmd[0])] + cmd[1:])


def deliver(module, action, path, pidfile, service):
    """Send ``action`` to the dockerd that reads ``path``; return ``(done, method)``.

    The service manager is used only when it runs that dockerd: a systemd
    unit whose main PID is the one in ``pidfile`` (or when there is no pid
    file), an init script only for the default pid file.  Any other running
    dockerd (a second instance with its own pid file) gets a SIGHUP
    directly and is never restarted.  A dockerd whose command line shows it
    reads another configuration file gets nothing (a warning says so).
    """
    main_pid = systemd_unit_state(module, service)
    pid = dockerd_pid(pidfile)
    by_systemd = main_pid is not None and (pid is None or main_pid in (0, pid))
    if not by_systemd and pid is None:
        return RELOAD_NONE, "dockerd is not running; it reads the file when it starts"

    seen = pid if pid is not None else (main_pid or None)
    if seen is not None:
        reads, config = reads_config(seen, path)
        if reads is False:
            module.warn("dockerd pid %d reads %s, not %s; it was not told about the change" % (seen, config, path))
            return RELOAD_NONE, "dockerd pid %d reads %s, not %s: not signalled" % (seen, config, path)
        if reads is None:
            module.warn("cannot read the command line of dockerd pid %d to see which file it reads; it was not told "
                        "about the change to %s" % (seen, path))
            return RELOAD_NONE, "dockerd pid %d: its configuration file is unknown, not signalled" % seen

    if action == RELOAD_SIGHUP:
        if by_systemd:
            return RELOAD_SIGHUP, _run_or_fail(module, path, [module.get_bin_path("systemctl", required=True),
                                                              "reload", service])
        try:
            os.kill(pid, signal.SIGHUP)
        except OSError as exc:
            module.fail_json(msg="%s was written but SIGHUP to dockerd pid %d failed: %s"
                             % (path, pid, to_native(exc)))
        return RELOAD_SIGHUP, "SIGHUP to dockerd pid %d (%s)" % (pid, pidfile)
    if by_systemd:
        return RELOAD_RESTART, _run_or_fail(module, path, [module.get_bin_path("systemctl", required=True),
                                                           "restart", service])
    cmd = init_script_restart(module, service) if os.path.realpath(pidfile) == os.path.realpath(DEFAULT_PIDFILE) else None
    if cmd is None:
        module.warn("dockerd (pid %d, %s) is not run by the %s service; restart it yourself so that the change "
                    "takes effect" % (pid, pidfile, service))
        return RELOAD_NONE, "dockerd pid %d is not run by a service manager the module can use" % pid
    return RELOAD_RESTART, _run_or_fail(module, path, cmd)
