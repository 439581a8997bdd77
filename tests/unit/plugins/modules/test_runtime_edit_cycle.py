# -*- coding: utf-8 -*-
"""The edit cycle as the three runtime modules use it: concurrency, odd files, check mode, rollback, defaults."""
import errno
import inspect
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.gpufleet.nvidia.plugins.doc_fragments.runtime import ModuleDocFragment
from ansible_collections.gpufleet.nvidia.plugins.filter import docker_daemon
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _dockerd_reload as dockerd_reload
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _edit_cycle, _atomic_file as atomic_file
from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import loads
from ansible_collections.gpufleet.nvidia.plugins.modules import containerd_runtime, crio_runtime, docker_runtime
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakehost import HUP_COUNTER  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..", "..", "..")
FIXTURES = os.path.join(REPO, "tests", "fixtures")
NVIDIA = "/usr/bin/nvidia-container-runtime"
V2 = "io.containerd.grpc.v1.cri"


@pytest.fixture(autouse=True)
def no_host_docker(monkeypatch):
    """Keep the host's dockerd and systemd out of these tests."""
    monkeypatch.setattr(docker_runtime, "find_dockerd", lambda module: None)
    monkeypatch.setattr(dockerd_reload, "systemd_unit_state", lambda module, service: None)
    monkeypatch.setattr(dockerd_reload, "init_script_restart", lambda module, service: None)
    global_warnings = getattr(ansible_warnings, "_global_warnings", None)
    if isinstance(global_warnings, list):
        del global_warnings[:]


@pytest.fixture
def no_hang():
    def expired(signum, frame):
        raise AssertionError("blocked for more than 5 seconds")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def fixture_bytes(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as handle:
        return handle.read()


def state_of(directory):
    """Every entry under ``directory`` with its bytes, inode and mtime (and the directory's own mtime)."""
    found = {".": os.stat(str(directory)).st_mtime_ns}
    for root, dirs, files in os.walk(str(directory)):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            data = open(path, "rb").read() if os.path.isfile(path) and not os.path.islink(path) else None
            found[os.path.relpath(path, str(directory))] = (data, st.st_ino, st.st_mtime_ns)
    return found


def docker_args(conf, **extra):
    base = {"path": str(conf), "pidfile": str(conf) + ".no-such.pid"}
    base.update(extra)
    return base


def containerd_args(etc, **extra):
    base = {"path": str(etc / "config.toml"), "drop_in_path": str(etc / "conf.d" / "99-nvidia.toml"),
            "containerd_binary": "/nonexistent/containerd"}
    base.update(extra)
    return base


def crio_args(etc, **extra):
    base = {"path": str(etc / "crio.conf"), "drop_in_path": str(etc / "crio.conf.d" / "99-nvidia.conf")}
    base.update(extra)
    return base


# --- finding 1: concurrent runs lose nothing --------------------------------------

def _child(run_module, module, make_args, runs, barrier, out):
    barrier.wait(10)
    failures = []
    for number in range(runs):
        result = run_module(module, make_args(number))
        if result["failed"]:
            failures.append(result.get("msg"))
    with open(out, "w") as handle:
        json.dump(failures, handle)
    os._exit(1 if failures else 0)


def _race(tmp_path, run_module, module, make_args_a, make_args_b, runs):
    """Two processes started together, each running the module ``runs`` times on the same file."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    outs = [str(tmp_path / ("failures-%s.json" % who)) for who in "ab"]
    workers = [ctx.Process(target=_child, args=(run_module, module, make_args, runs, barrier, out))
               for make_args, out in zip((make_args_a, make_args_b), outs)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    for worker, out in zip(workers, outs):
        assert worker.exitcode == 0, open(out).read() if os.path.exists(out) else "no result"


def test_concurrent_docker_runtime_runs_keep_every_runtime(tmp_path, run_module):
    conf = tmp_path / "docker" / "daemon.json"
    conf.parent.mkdir()
    conf.write_text('{\n    "log-driver": "journald"\n}\n')
    _race(tmp_path, run_module, docker_runtime,
          lambda n: docker_args(conf, name="a-%d" % n),
          lambda n: docker_args(conf, name="b-%d" % n, runtime_args=["--debug"]), 50)
    data = json.loads(conf.read_text())
    assert sorted(data["runtimes"]) == sorted("%s-%d" % (w, n) for w in "ab" for n in range(50)), \
        "every one of the 100 concurrent updates survives"
    assert data["log-driver"] == "journald"
    assert sorted(os.listdir(str(conf.parent))) == ["daemon.json"]


def test_concurrent_containerd_runtime_runs_keep_every_runtime(tmp_path, run_module):
    etc = tmp_path / "containerd"
    etc.mkdir()
    cfg = etc / "config.toml"
    cfg.write_bytes(fixture_bytes("containerd", "kubeadm-systemd-v2.toml"))
    _race(tmp_path, run_module, containerd_runtime,
          lambda n: containerd_args(etc, name="a-%d" % n),
          lambda n: containerd_args(etc, name="b-%d" % n, runtime_path="/opt/nvidia/nvidia-container-runtime"), 25)
    runtimes = loads(cfg.read_text())["plugins"][V2]["containerd"]["runtimes"]
    # 25 runs each: every run re-parses a file that grows by one runtime table, so the
    # cost grows with the square of the count
    assert set(runtimes) == set("%s-%d" % (w, n) for w in "ab" for n in range(25)) | {"runc"}, \
        "every one of the 50 concurrent updates survives"
    assert sorted(os.listdir(str(etc))) == ["config.toml"]


def test_module_rereads_when_a_writer_without_the_lock_got_in_between(tmp_path, run_module, monkeypatch):
    conf = tmp_path / "daemon.json"
    conf.write_text('{"debug": true}\n')
    real_write = _edit_cycle.write_atomic
    interfered = []

    def other_writer_once(path, content, **kwargs):
        def hook(tmp):
            if not interfered:
                interfered.append(tmp)
                conf.write_text('{"debug": true, "mtu": 1400}\n')
        return real_write(path, content, _before_rename=hook, **kwargs)

    monkeypatch.setattr(_edit_cycle, "write_atomic", other_writer_once)
    result = run_module(docker_runtime, docker_args(conf))
    assert result["failed"] is False and result["changed"] is True
    data = json.loads(conf.read_text())
    assert data["mtu"] == 1400, "the other writer's change survives"
    assert "nvidia" in data["runtimes"]


# --- finding 5: non-regular files ----------------------------------------------------

def test_fifo_as_path_is_refused_fast_by_every_module(tmp_path, run_module, no_hang):
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    etc = tmp_path / "etc"
    (etc / "crio.conf.d").mkdir(parents=True)
    cases = [
        (docker_runtime, docker_args(fifo)),
        (containerd_runtime, dict(containerd_args(etc), path=str(fifo))),
        (crio_runtime, dict(crio_args(etc), path=str(fifo))),
        (crio_runtime, dict(crio_args(etc), drop_in_path=str(fifo))),
    ]
    for module, args in cases:
        started = time.time()
        result = run_module(module, args)
        assert result["failed"] is True
        assert "%s is a FIFO (named pipe), not a regular file" % fifo in result["msg"]
        assert time.time() - started < 2
        assert result.get("changed") is not True


def test_fifo_among_crio_drop_ins_is_skipped(tmp_path, run_module, no_hang):
    etc = tmp_path / "crio"
    (etc / "crio.conf.d").mkdir(parents=True)
    os.mkfifo(str(etc / "crio.conf.d" / "50-pipe.conf"))
    result = run_module(crio_runtime, crio_args(etc))
    assert result["failed"] is False and result["changed"] is True


# --- finding 14: crio_runtime --------------------------------------------------------------

def test_crio_refuses_a_symlinked_drop_in(tmp_path, run_module):
    etc = tmp_path / "crio"
    (etc / "crio.conf.d").mkdir(parents=True)
    packaged = etc / "crio.conf.d" / "10-crio.conf"
    packaged.write_bytes(fixture_bytes("crio", "10-crio.conf"))
    (etc / "crio.conf.d" / "99-nvidia.conf").symlink_to(packaged)
    before = state_of(etc)
    result = run_module(crio_runtime, crio_args(etc))
    assert result["failed"] is True
    assert "is a symbolic link to %s" % packaged in result["msg"]
    assert result["changed"] is False and result["restart_required"] is False
    assert state_of(etc) == before


def test_crio_failed_write_reports_no_change(tmp_path, run_module, monkeypatch):
    etc = tmp_path / "crio"
    (etc / "crio.conf.d").mkdir(parents=True)

    def full(path, content, **kwargs):
        raise atomic_file.FileEditError("cannot write %s: No space left on device (the original file is unchanged)"
                                        % path)

    monkeypatch.setattr(_edit_cycle, "write_atomic", full)
    result = run_module(crio_runtime, crio_args(etc, set_as_default=True))
    assert result["failed"] is True
    assert "No space left on device" in result["msg"]
    assert result["changed"] is False and result["restart_required"] is False
    assert os.listdir(str(etc / "crio.conf.d")) == []


# --- finding 7: containerd writes both files or neither -----------------------------------

def test_containerd_drop_in_failure_restores_the_main_file(tmp_path, run_module, monkeypatch):
    etc = tmp_path / "containerd"
    etc.mkdir()
    cfg = etc / "config.toml"
    original = fixture_bytes("containerd", "kubeadm-systemd-v3.toml")
    cfg.write_bytes(original)
    real_write = _edit_cycle.write_atomic
    order = []

    def drop_in_fails(path, content, **kwargs):
        order.append(os.path.basename(path))
        if path.endswith("99-nvidia.toml"):
            raise atomic_file.FileEditError("cannot write %s: No space left on device (the original file is "
                                            "unchanged)" % path)
        return real_write(path, content, **kwargs)

    monkeypatch.setattr(_edit_cycle, "write_atomic", drop_in_fails)
    result = run_module(containerd_runtime, containerd_args(etc, drop_in=True))
    assert result["failed"] is True
    assert order[:2] == ["config.toml", "99-nvidia.toml"], "the main file (imports) is written first"
    assert "restored %s to what it was before" % cfg in result["msg"]
    assert result["changed"] is False and result["restart_required"] is False
    assert cfg.read_bytes() == original
    assert sorted(os.listdir(str(etc))) == ["conf.d", "config.toml"]
    assert os.listdir(str(etc / "conf.d")) == []


def test_containerd_drop_in_may_not_be_a_symlink(tmp_path, run_module):
    etc = tmp_path / "containerd"
    (etc / "conf.d").mkdir(parents=True)
    other = etc / "conf.d" / "10-site.toml"
    other.write_text("version = 3\n")
    (etc / "conf.d" / "99-nvidia.toml").symlink_to(other)
    (etc / "config.toml").write_bytes(fixture_bytes("containerd", "kubeadm-systemd-v3.toml"))
    result = run_module(containerd_runtime, containerd_args(etc, drop_in=True))
    assert result["failed"] is True and "is a symbolic link" in result["msg"]
    assert other.read_text() == "version = 3\n"


# --- finding 15 and check mode: nothing written -------------------------------------------

STAND_IN_CONTAINERD = """#!/bin/sh
# stand-in for containerd (the real binary is not installed here): --version and config dump
if [ "$1" = --version ]; then echo 'containerd github.com/containerd/containerd %s abc'; exit 0; fi
if [ "$3" = config ] && [ "$4" = dump ]; then cat "$2"; exit 0; fi
exit 2
"""


def stand_in_containerd(tmp_path, version="1.7.24"):
    path = tmp_path / "bin" / "containerd"
    path.parent.mkdir()
    path.write_text(STAND_IN_CONTAINERD % version)
    path.chmod(0o755)
    return str(path)


def _no_temp_dirs(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("check mode created a temporary directory")
    monkeypatch.setattr(_edit_cycle.tempfile, "mkdtemp", refuse)


def test_check_mode_writes_nothing_in_any_module(tmp_path, run_module, monkeypatch):
    _no_temp_dirs(monkeypatch)
    root = tmp_path / "etc"
    docker = root / "docker"
    docker.mkdir(parents=True)
    (docker / "daemon.json").write_text('{"debug": true}\n')
    containerd = root / "containerd"
    containerd.mkdir()
    (containerd / "config.toml").write_bytes(fixture_bytes("containerd", "kubeadm-systemd-v3.toml"))
    crio = root / "crio"
    (crio / "crio.conf.d").mkdir(parents=True)
    (crio / "crio.conf.d" / "10-crio.conf").write_bytes(fixture_bytes("crio", "10-crio.conf"))
    stale = docker / ".daemon.json.k1ll3d_x.tmp"
    stale.write_text("partial")
    os.utime(str(stale), (1, 1))
    binary = stand_in_containerd(tmp_path, "2.1.9")
    before = state_of(root)
    runs = [
        (docker_runtime, docker_args(docker / "daemon.json", backup=True, cdi=True)),
        (containerd_runtime, containerd_args(containerd, drop_in=True, backup=True, containerd_binary=binary)),
        (containerd_runtime, containerd_args(containerd, backup=True, containerd_binary=binary)),
        (crio_runtime, crio_args(crio, backup=True)),
    ]
    for module, args in runs:
        result = run_module(module, args, check_mode=True, diff=True)
        assert result["failed"] is False, result
        assert result["changed"] is True
        assert result.get("validated") in (None, False)
        assert state_of(root) == before, "%s wrote in check mode" % module.__name__


def test_docker_check_mode_says_validation_was_skipped(tmp_path, run_module, monkeypatch):
    _no_temp_dirs(monkeypatch)
    monkeypatch.setattr(docker_runtime, "find_dockerd", lambda module: "/usr/bin/false")
    result = run_module(docker_runtime, docker_args(tmp_path / "daemon.json"), check_mode=True)
    assert result["validation"].startswith("skipped: check mode")


def test_containerd_validation_candidate_is_not_beside_the_file(tmp_path, run_module, monkeypatch):
    etc = tmp_path / "containerd"
    etc.mkdir()
    (etc / "config.toml").write_bytes(fixture_bytes("containerd", "k3s-v2.toml"))
    seen = []
    real = _edit_cycle.candidate_file.__enter__

    def spy(self):
        path = real(self)
        seen.append((path, sorted(os.listdir(str(etc)))))
        return path

    monkeypatch.setattr(_edit_cycle.candidate_file, "__enter__", spy)
    result = run_module(containerd_runtime, containerd_args(etc, containerd_binary=stand_in_containerd(tmp_path)))
    assert result["validated"] is True
    (candidate, listing), = seen
    assert not candidate.startswith(str(etc))
    assert listing == [".config.toml.lock", "config.toml"], "only the lock file beside it while validating"
    assert sorted(os.listdir(str(etc))) == ["config.toml"]


def test_containerd_read_only_temp_dir_gives_a_clear_message(tmp_path, run_module, monkeypatch):
    etc = tmp_path / "containerd"
    etc.mkdir()
    original = fixture_bytes("containerd", "k3s-v2.toml")
    (etc / "config.toml").write_bytes(original)

    def eperm(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(_edit_cycle.tempfile, "mkdtemp", eperm)
    result = run_module(containerd_runtime, containerd_args(etc, containerd_binary=stand_in_containerd(tmp_path)))
    assert result["failed"] is True
    assert "cannot write a temporary copy of the new content to validate" in result["msg"]
    assert "Operation not permitted" in result["msg"] and "[Errno" not in result["msg"]
    assert (etc / "config.toml").read_bytes() == original


def test_containerd_read_only_directory_gives_a_clear_message(tmp_path, run_module, monkeypatch):
    etc = tmp_path / "containerd"
    etc.mkdir()
    original = fixture_bytes("containerd", "k3s-v2.toml")
    (etc / "config.toml").write_bytes(original)
    real_open = os.open

    def erofs_for_new_files(name, flags, mode=0o777, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(name, flags, mode, **kwargs)

    def erofs(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_edit_cycle.os, "open", erofs_for_new_files)
    monkeypatch.setattr(atomic_file.tempfile, "mkstemp", erofs)
    result = run_module(containerd_runtime, containerd_args(etc))
    assert result["failed"] is True
    assert "cannot create a temporary file in %s" % etc in result["msg"]
    assert "Read-only file system" in result["msg"] and "[Errno" not in result["msg"]
    assert (etc / "config.toml").read_bytes() == original
    unchanged = run_module(containerd_runtime, containerd_args(etc, state="absent"))
    assert unchanged["failed"] is False and unchanged["changed"] is False, "a converged file needs no write"


# --- findings 2, 3, 6 through a module -------------------------------------------------------

def test_docker_backup_on_a_full_disk(tmp_path, run_module, monkeypatch):
    conf = tmp_path / "daemon.json"
    conf.write_text('{"debug": true}\n')

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "write", full)
    result = run_module(docker_runtime, docker_args(conf, backup=True))
    assert result["failed"] is True
    assert "cannot back up" in result["msg"] and "No space left on device" in result["msg"]
    assert conf.read_text() == '{"debug": true}\n'
    assert sorted(os.listdir(str(tmp_path))) == ["daemon.json"]


def test_xattrs_kept_by_every_module(tmp_path, run_module):
    files = []
    docker = tmp_path / "daemon.json"
    docker.write_text("{}\n")
    files.append((docker, docker_runtime, docker_args(docker)))
    etc = tmp_path / "containerd"
    etc.mkdir()
    (etc / "config.toml").write_bytes(fixture_bytes("containerd", "k3s-v2.toml"))
    files.append((etc / "config.toml", containerd_runtime, containerd_args(etc)))
    crio = tmp_path / "crio"
    (crio / "crio.conf.d").mkdir(parents=True)
    (crio / "crio.conf.d" / "99-nvidia.conf").write_text("# old\n")
    files.append((crio / "crio.conf.d" / "99-nvidia.conf", crio_runtime, crio_args(crio)))
    for path, module, args in files:
        try:
            os.setxattr(str(path), "user.gpufleet.test", b"kept")
        except OSError as exc:
            pytest.skip("user extended attributes are not supported here: %s" % exc)
        result = run_module(module, dict(args, backup=True))
        assert result["changed"] is True, result
        assert os.getxattr(str(path), "user.gpufleet.test") == b"kept"
        assert os.getxattr(result["backup_file"], "user.gpufleet.test") == b"kept"


def test_stale_temp_files_removed_by_a_module_run(tmp_path, run_module):
    conf = tmp_path / "daemon.json"
    conf.write_text("{}\n")
    old = tmp_path / ".daemon.json.k1ll3d_x.tmp"
    old.write_text('{"half')
    os.utime(str(old), (time.time() - 3600,) * 2)
    recent = tmp_path / ".daemon.json.r3cent__.tmp"
    recent.write_text('{"half')
    result = run_module(docker_runtime, docker_args(conf))
    assert result["changed"] is True
    assert sorted(os.listdir(str(tmp_path))) == [".daemon.json.r3cent__.tmp", "daemon.json"]


# --- finding 12: only the dockerd that reads the file is signalled -------------------------


@pytest.fixture
def start_dockerd(tmp_path):
    """Start a stand-in process named dockerd with the given arguments; it counts SIGHUPs."""
    started = []
    script = tmp_path / "stand-in" / "dockerd"
    script.parent.mkdir()
    script.write_text(HUP_COUNTER)
    script.chmod(0o755)

    def start(*argv):
        log = tmp_path / "stand-in" / ("hup-%d.log" % len(started))
        proc = subprocess.Popen([str(script), str(log)] + list(argv), cwd=str(tmp_path))
        started.append(proc)
        for dummy in range(100):
            if log.exists():
                break
            time.sleep(0.05)
        pidfile = tmp_path / "stand-in" / ("docker-%d.pid" % len(started))
        pidfile.write_text("%d\n" % proc.pid)
        return pidfile, log

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_dockerd_reading_another_file_is_not_signalled(tmp_path, run_module, start_dockerd):
    conf = tmp_path / "scratch" / "daemon.json"
    pidfile, log = start_dockerd("--config-file", "/x/daemon.json")
    result = run_module(docker_runtime, docker_args(conf, pidfile=str(pidfile)))
    assert result["changed"] is True
    assert result["reloaded"] == "none"
    assert "reads /x/daemon.json, not %s: not signalled" % conf in result["reload_method"]
    assert "reads /x/daemon.json" in " ".join(ansible_warnings.get_warning_messages())
    time.sleep(0.2)
    assert log.read_text() == ""


def test_dockerd_with_default_config_is_not_signalled_for_a_scratch_file(tmp_path, run_module, start_dockerd):
    pidfile, log = start_dockerd()
    result = run_module(docker_runtime, docker_args(tmp_path / "daemon.json", pidfile=str(pidfile), cdi=True,
                                                    reload="restart"))
    assert result["reloaded"] == "none"
    assert "reads /etc/docker/daemon.json" in result["reload_method"]
    time.sleep(0.2)
    assert log.read_text() == ""


@pytest.mark.parametrize("form", ["separate", "equals", "relative"])
def test_dockerd_reading_the_file_is_signalled(tmp_path, run_module, start_dockerd, form):
    conf = tmp_path / "etc" / "daemon.json"
    argv = {"separate": ["--config-file", str(conf)], "equals": ["--config-file=%s" % conf],
            "relative": ["--debug", "--config-file", "etc/daemon.json"]}[form]
    pidfile, log = start_dockerd(*argv)
    result = run_module(docker_runtime, docker_args(conf, pidfile=str(pidfile)))
    assert result["reloaded"] == "sighup", result
    for dummy in range(100):
        if log.read_text():
            break
        time.sleep(0.05)
    assert log.read_text() == "HUP\n"


def test_config_file_from_argv():
    f = dockerd_reload.config_file_from_argv
    assert f(["dockerd"]) == "/etc/docker/daemon.json"
    assert f(["dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"]) == "/etc/docker/daemon.json"
    assert f(["dockerd", "--config-file", "/srv/d.json"]) == "/srv/d.json"
    assert f(["dockerd", "--config-file=/srv/d.json"]) == "/srv/d.json"
    assert f(["dockerd", "--config-file=/a.json", "--config-file", "/b.json"]) == "/b.json", "the last one wins"
    assert f(["dockerd", "--config-file", "conf/d.json"], cwd="/var/lib") == "/var/lib/conf/d.json"
    assert f(["dockerd", "--config-file"]) == "/etc/docker/daemon.json"


def test_unreadable_command_line_is_not_signalled(tmp_path, run_module, start_dockerd, monkeypatch):
    pidfile, log = start_dockerd("--config-file", str(tmp_path / "daemon.json"))
    monkeypatch.setattr(dockerd_reload, "process_argv", lambda pid, proc=None: (None, None))
    result = run_module(docker_runtime, docker_args(tmp_path / "daemon.json", pidfile=str(pidfile)))
    assert result["reloaded"] == "none"
    assert "configuration file is unknown" in result["reload_method"]
    time.sleep(0.2)
    assert log.read_text() == ""


# --- finding 13: one runtime_path default -------------------------------------------------

class _Spec(Exception):
    pass


def _argument_spec(module, monkeypatch):
    def capture(self, argument_spec, **kwargs):
        raise _Spec(argument_spec)
    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    with pytest.raises(_Spec) as spec:
        module.main()
    return spec.value.args[0]


def _documented_default(module, option):
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert "gpufleet.nvidia.runtime" in doc["extends_documentation_fragment"]
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"][option]
    merged = dict(fragment)
    merged.update(doc["options"].get(option, {}))
    return merged.get("default")


def _yaml(*parts):
    with open(os.path.join(REPO, *parts)) as handle:
        return yaml.safe_load(handle)


def test_one_runtime_path_default_everywhere(monkeypatch):
    defaults = {}
    for module in (docker_runtime, containerd_runtime, crio_runtime):
        defaults["%s argument_spec" % module.__name__] = _argument_spec(module, monkeypatch)["runtime_path"]["default"]
        defaults["%s documentation" % module.__name__] = _documented_default(module, "runtime_path")
    defaults["container_toolkit role"] = _yaml("roles", "container_toolkit", "defaults", "main.yml")[
        "container_toolkit_runtime_path"]
    defaults["containerd role"] = _yaml("roles", "containerd", "defaults", "main.yml")["containerd_runtime_path"]
    defaults["docker_daemon_json_plan filter"] = inspect.signature(
        docker_daemon.docker_daemon_json_plan).parameters["runtime_path"].default
    defaults["docker_daemon_json_plan documentation"] = _yaml("plugins", "filter", "docker_daemon_json_plan.yml")[
        "DOCUMENTATION"]["options"]["runtime_path"]["default"]
    assert set(defaults.values()) == {NVIDIA}, defaults


def test_shared_options_agree_with_the_fragment(monkeypatch):
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    for module in (docker_runtime, containerd_runtime, crio_runtime):
        spec = _argument_spec(module, monkeypatch)
        for name, option in fragment.items():
            assert spec[name].get("default") == option.get("default"), (module.__name__, name)
            assert spec[name]["type"] == option["type"], (module.__name__, name)
            assert spec[name].get("choices") == option.get("choices"), (module.__name__, name)


def test_containerd_relative_imports_are_not_validated_out_of_place(tmp_path, run_module):
    etc = tmp_path / "containerd"
    etc.mkdir()
    (etc / "config.toml").write_text('version = 2\nimports = ["site.d/*.toml"]\n')
    result = run_module(containerd_runtime, containerd_args(etc, containerd_binary=stand_in_containerd(tmp_path)))
    assert result["failed"] is False and result["changed"] is True
    assert result["validated"] is False
    warnings = ansible_warnings.get_warning_messages()
    assert len([w for w in warnings if "relative imports (site.d/*.toml)" in w]) == 1
