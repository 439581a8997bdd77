# -*- coding: utf-8 -*-
"""docker_runtime against a real dockerd (Debian's docker.io).

The test starts its own dockerd (own data root, exec root, pid file, socket,
containerd namespace; no bridge, no iptables) so it never touches the host's
Docker or one used by the Molecule tests, runs the module through the
``ansible`` command line, and checks with the docker CLI that:

* the runtime and the default runtime are live after the module's SIGHUP,
  without a restart (same dockerd PID) and without disturbing a running
  container;
* a container started with ``--runtime nvidia`` runs (the runtime path is a
  test double that hands over to runc: no NVIDIA software is involved);
* a second run changes nothing and sends no signal;
* dockerd starts with the file the module wrote;
* removing the default runtime needs a restart, as the module reports; asked
  for a SIGHUP the module refuses it (on this docker.io 20.10 such a reload
  crashes dockerd: nil pointer in fillPlatformInfo), and after a restart the
  runtime is gone;
* present then absent gives back the original file byte for byte (a file in
  the module's format: 2-space indent, one array element a line).

Skipped only when not run as root.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starting a dockerd needs root")

ORIGINAL = (
    '{\n'
    '  "log-driver": "json-file",\n'
    '  "log-opts": {\n'
    '    "max-size": "10m",\n'
    '    "max-file": "2"\n'
    '  },\n'
    '  "labels": [\n'
    '    "gpufleet-integration=1"\n'
    '  ],\n'
    '  "max-concurrent-downloads": 4,\n'
    '  "runtimes": {\n'
    '    "other": {\n'
    '      "path": "%(shim)s"\n'
    '    }\n'
    '  }\n'
    '}\n'
)

SHIM = """#!/bin/sh
# Test double for the NVIDIA container runtime: hands every call to runc.
exec %s "$@"
"""


def _which(name):
    for directory in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class Dockerd(object):
    """One private dockerd instance."""

    def __init__(self, base, config):
        self.base = base
        self.config = config
        self.sock = os.path.join(base, "docker.sock")
        self.pidfile = os.path.join(base, "docker.pid")
        self.log = os.path.join(base, "dockerd.log")
        self.proc = None
        self.dockerd = _which("dockerd")
        self.docker = _which("docker")
        assert self.dockerd and self.docker, "dockerd and docker are needed: apt-get install -y docker.io"

    def start(self):
        cmd = [
            self.dockerd,
            "--config-file", self.config,
            "--data-root", os.path.join(self.base, "data"),
            "--exec-root", os.path.join(self.base, "exec"),
            "--pidfile", self.pidfile,
            "-H", "unix://" + self.sock,
            "--containerd-namespace", "gpufleet-it",
            "--containerd-plugins-namespace", "gpufleet-it-plugins",
            "--storage-driver", "vfs",
            "--bridge=none", "--iptables=false", "--ip6tables=false",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dockerd exited with %s:\n%s" % (self.proc.returncode, self.tail()))
            if os.path.exists(self.sock) and self.cli("version", check=False).returncode == 0:
                return
            time.sleep(0.3)
        raise AssertionError("dockerd did not answer in 90 s:\n%s" % self.tail())

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self):
        with open(self.log, "rb") as handle:
            return handle.read()[-4000:].decode("utf-8", "replace")

    def cli(self, *args, **kwargs):
        check = kwargs.pop("check", True)
        stdin = kwargs.pop("stdin", None)
        result = subprocess.run([self.docker, "-H", "unix://" + self.sock] + list(args), input=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if check and result.returncode != 0:
            raise AssertionError("docker %s failed: %s\n%s" % (" ".join(args), result.stderr.decode(), self.tail()))
        return result

    def info(self, template):
        return json.loads(self.cli("info", "--format", "{{json %s}}" % template).stdout.decode())

    def wait_for(self, template, predicate, timeout=20):
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.info(template)
            if predicate(value):
                return value
            time.sleep(0.2)
        return value


def make_image(daemon, base):
    """A tiny image without a registry: /bin/sleep and the libraries ldd lists."""
    root = os.path.join(base, "rootfs")
    os.makedirs(os.path.join(root, "bin"))
    sleep = os.path.realpath(_which("sleep"))
    shutil.copy2(sleep, os.path.join(root, "bin", "sleep"))
    out = subprocess.run(["ldd", sleep], stdout=subprocess.PIPE, check=True).stdout.decode()
    for line in out.splitlines():
        parts = line.split()
        lib = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if lib.startswith("/"):
            dest = os.path.join(root, lib.lstrip("/"))
            if not os.path.isdir(os.path.dirname(dest)):
                os.makedirs(os.path.dirname(dest))
            shutil.copy2(os.path.realpath(lib), dest)
    tar = subprocess.run(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE, check=True).stdout
    daemon.cli("import", "-", "gpufleet-it/sleep:1", stdin=tar)
    return "gpufleet-it/sleep:1"


def collections_root():
    """The sys.path entry tests/conftest.py added for ``ansible_collections.gpufleet.nvidia``."""
    for entry in sys.path:
        if os.path.isdir(os.path.join(entry, "ansible_collections", "gpufleet", "nvidia")):
            return entry
    raise AssertionError("the collection is not importable; run from the repository root")


def run_module(daemon, **module_args):
    """Run gpufleet.nvidia.docker_runtime through the ansible CLI; return its result."""
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([collections_root()] + site),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(daemon.base, "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(daemon.base, "ansible-remote"),
    })
    args = {"path": daemon.config, "pidfile": daemon.pidfile}
    args.update(module_args)
    cmd = [ansible, "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-m", "gpufleet.nvidia.docker_runtime", "-a", json.dumps(args)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    try:
        report = json.loads(proc.stdout.decode())
        return report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout.decode(), proc.stderr.decode()))


def dockerd_pid(daemon):
    with open(daemon.pidfile) as handle:
        return int(handle.read().strip())


@pytest.fixture
def daemon():
    base = tempfile.mkdtemp(prefix="gfdk-", dir="/tmp")
    os.chmod(base, 0o755)
    shim = os.path.join(base, "bin", "gpufleet-test-runtime")
    os.makedirs(os.path.dirname(shim))
    runc = _which("runc")
    assert runc, "runc is needed (a dependency of docker.io)"
    with open(shim, "w") as handle:
        handle.write(SHIM % runc)
    os.chmod(shim, 0o755)
    config = os.path.join(base, "etc", "docker", "daemon.json")
    os.makedirs(os.path.dirname(config))
    with open(config, "w") as handle:
        handle.write(ORIGINAL % {"shim": shim})
    instance = Dockerd(base, config)
    instance.shim = shim
    instance.start()
    try:
        yield instance
    finally:
        try:
            ids = instance.cli("ps", "-aq", check=False).stdout.decode().split()
            if ids:
                instance.cli("rm", "-f", *ids, check=False)
        finally:
            instance.stop()
            for mounted in ("exec", "data"):
                subprocess.run(["umount", "-R", os.path.join(base, mounted)], stderr=subprocess.DEVNULL, check=False)
            shutil.rmtree(base, ignore_errors=True)


def test_register_reload_restart_remove(daemon):
    with open(daemon.config, "rb") as handle:
        original_bytes = handle.read()
    image = make_image(daemon, daemon.base)
    daemon.cli("run", "-d", "--network", "none", "--name", "keeps-running", image, "/bin/sleep", "600")
    started = daemon.cli("inspect", "-f", "{{.State.StartedAt}}", "keeps-running").stdout
    pid = dockerd_pid(daemon)
    assert "nvidia" not in daemon.info(".Runtimes")

    # 1. register as default: a SIGHUP, no restart
    result = run_module(daemon, runtime_path=daemon.shim, set_as_default=True)
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["reload_required"] == "sighup"
    assert result["reloaded"] == "sighup", result
    assert result["reload_method"] == "SIGHUP to dockerd pid %d (%s)" % (pid, daemon.pidfile)
    assert result["validation"].startswith(("passed", "skipped: dockerd")), result["validation"]

    runtimes = daemon.wait_for(".Runtimes", lambda r: "nvidia" in r)
    assert runtimes["nvidia"]["path"] == daemon.shim
    assert "other" in runtimes and "runc" in runtimes
    assert daemon.wait_for(".DefaultRuntime", lambda d: d == "nvidia") == "nvidia"
    assert dockerd_pid(daemon) == pid and daemon.proc.poll() is None, "dockerd was not restarted"
    state = daemon.cli("inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", "keeps-running").stdout
    assert state == b"true " + started, "the running container was not disturbed"
    assert daemon.info(".Labels") == ["gpufleet-integration=1"]

    # the registered runtime is used, by name and as the default
    daemon.cli("run", "--rm", "--network", "none", "--runtime", "nvidia", image, "/bin/sleep", "0")
    daemon.cli("create", "--network", "none", "--name", "by-default", image, "/bin/sleep", "0")
    assert daemon.cli("inspect", "-f", "{{.HostConfig.Runtime}}", "by-default").stdout.strip() == b"nvidia"

    with open(daemon.config) as handle:
        written = json.load(handle)
    assert written["log-opts"] == {"max-size": "10m", "max-file": "2"}
    assert written["runtimes"]["other"] == {"path": daemon.shim}
    assert written["max-concurrent-downloads"] == 4

    # 2. a second run changes nothing and signals nothing
    again = run_module(daemon, runtime_path=daemon.shim, set_as_default=True)
    assert again["changed"] is False
    assert again["reloaded"] == "none"

    # 3. dockerd starts with the file the module wrote
    daemon.stop()
    daemon.start()
    assert daemon.info(".DefaultRuntime") == "nvidia"
    assert daemon.info(".Runtimes")["nvidia"]["path"] == daemon.shim

    # 4. removal needs a restart, and the module says so; asked for a SIGHUP
    #    it refuses, because the reload would leave a dangling default runtime
    removed = run_module(daemon, state="absent", reload="sighup")
    assert removed["changed"] is True, json.dumps(removed, indent=1)
    assert removed["reload_required"] == "restart"
    assert removed["reloaded"] == "none"
    assert removed["reload_method"].startswith("SIGHUP refused"), removed["reload_method"]
    with open(daemon.config, "rb") as handle:
        assert handle.read() == original_bytes, "present then absent restores the file byte for byte"
    time.sleep(1)
    assert daemon.proc.poll() is None and daemon.info(".DefaultRuntime") == "nvidia"

    #    a restart applies it
    auto = run_module(daemon, state="absent")
    assert auto["changed"] is False
    daemon.stop()
    daemon.start()
    assert daemon.info(".DefaultRuntime") == "runc"
    assert "nvidia" not in daemon.info(".Runtimes")
    assert "other" in daemon.info(".Runtimes")
