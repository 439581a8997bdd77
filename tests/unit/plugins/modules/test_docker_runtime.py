# -*- coding: utf-8 -*-
"""docker_runtime module, run in-process: check mode, diff, backup, symlink, errors, reload."""
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _dockerd_reload as dockerd_reload
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _edit_cycle, _atomic_file as atomic_file
from ansible_collections.gpufleet.nvidia.plugins.modules import docker_runtime
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakehost import HUP_COUNTER  # noqa: E402  pylint: disable=wrong-import-position

EXPECTED_NEW = (
    '{\n'
    '    "runtimes": {\n'
    '        "nvidia": {\n'
    '            "path": "/usr/bin/nvidia-container-runtime",\n'
    '            "runtimeArgs": []\n'
    '        }\n'
    '    }\n'
    '}\n'
)


@pytest.fixture(autouse=True)
def no_host_docker(monkeypatch):
    """Keep the host's dockerd and systemd out of unit tests unless a test brings its own."""
    monkeypatch.setattr(docker_runtime, "find_dockerd", lambda module: None)
    monkeypatch.setattr(dockerd_reload, "systemd_unit_state", lambda module, service: None)
    monkeypatch.setattr(dockerd_reload, "init_script_restart", lambda module, service: None)
    global_warnings = getattr(ansible_warnings, "_global_warnings", None)
    if isinstance(global_warnings, list):
        del global_warnings[:]


@pytest.fixture
def conf(tmp_path):
    return tmp_path / "etc" / "docker" / "daemon.json"


def args(conf, **extra):
    base = {"path": str(conf), "pidfile": str(conf.parent / "no-such.pid")}
    base.update(extra)
    return base


def snapshot(path):
    st = os.stat(str(path))
    return path.read_bytes(), st.st_mtime_ns, st.st_ino


def warnings_text():
    return " ".join(ansible_warnings.get_warning_messages())


def test_creates_missing_file_and_dir(run_module, conf):
    result = run_module(docker_runtime, args(conf))
    assert result["failed"] is False, result
    assert result["changed"] is True
    assert conf.read_text() == EXPECTED_NEW
    assert stat.S_IMODE(os.stat(str(conf)).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(str(conf.parent)).st_mode) == 0o755
    assert result["runtimes"] == ["nvidia"]
    assert result["default_runtime"] is None
    assert result["cdi"] is None
    assert result["reload_required"] == "sighup"
    assert result["reloaded"] == "none"
    assert "not running" in result["reload_method"]
    assert result["validation"] == "skipped: dockerd is not installed"


def test_second_run_changes_nothing(run_module, conf):
    run_module(docker_runtime, args(conf, set_as_default=True, cdi=True))
    before = snapshot(conf)
    result = run_module(docker_runtime, args(conf, set_as_default=True, cdi=True))
    assert result["changed"] is False
    assert result["reload_required"] == "none"
    assert result["default_runtime"] == "nvidia"
    assert result["cdi"] is True
    assert snapshot(conf) == before


def test_correct_but_differently_formatted_file_is_not_rewritten(run_module, conf):
    conf.parent.mkdir(parents=True)
    conf.write_text('{"runtimes":{"nvidia":{"path":"/usr/bin/nvidia-container-runtime","args":[]}},"debug":true}')
    before = snapshot(conf)
    result = run_module(docker_runtime, args(conf), diff=True)
    assert result["changed"] is False
    assert "diff" not in result
    assert snapshot(conf) == before


def test_check_mode_with_diff_writes_nothing(run_module, conf):
    conf.parent.mkdir(parents=True)
    conf.write_text('{\n  "log-driver": "journald"\n}\n')
    before = snapshot(conf)
    result = run_module(docker_runtime, args(conf, set_as_default=True), check_mode=True, diff=True)
    assert result["changed"] is True
    assert snapshot(conf) == before
    assert result["reloaded"] == "none"
    assert result["reload_required"] == "sighup"
    diff = result["diff"]
    assert diff["before_header"] == str(conf)
    assert diff["after_header"] == str(conf)
    assert diff["before"] == '{\n  "log-driver": "journald"\n}\n'
    assert json.loads(diff["after"]) == {
        "log-driver": "journald",
        "runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []}},
        "default-runtime": "nvidia",
    }
    assert diff["after"].startswith('{\n  "log-driver"'), "2-space indent of the file kept"


def test_check_mode_missing_file(run_module, conf):
    result = run_module(docker_runtime, args(conf), check_mode=True, diff=True)
    assert result["changed"] is True
    assert not conf.exists()
    assert not conf.parent.exists()
    assert result["diff"]["before"] == ""
    assert result["diff"]["before_header"] == "%s (absent)" % conf
    assert result["diff"]["after"] == EXPECTED_NEW


def test_absent_on_missing_file_creates_nothing(run_module, conf):
    result = run_module(docker_runtime, args(conf, state="absent"))
    assert result["changed"] is False
    assert not conf.exists()


def test_present_then_absent_restores_bytes(run_module, conf):
    original = '{\n    "data-root": "/srv/docker",\n    "runtimes": {\n        "runsc": {\n            "path": "/usr/bin/runsc"\n        }\n    }\n}\n'
    conf.parent.mkdir(parents=True)
    conf.write_text(original)
    assert run_module(docker_runtime, args(conf, set_as_default=True))["changed"] is True
    result = run_module(docker_runtime, args(conf, state="absent"))
    assert result["changed"] is True
    assert result["reload_required"] == "restart"
    assert conf.read_text() == original


def test_backup(run_module, conf):
    conf.parent.mkdir(parents=True)
    conf.write_text('{"debug": true}')
    os.chmod(str(conf), 0o600)
    result = run_module(docker_runtime, args(conf, backup=True))
    assert result["changed"] is True
    backup = result["backup_file"]
    assert os.path.dirname(backup) == str(conf.parent)
    with open(backup) as handle:
        assert handle.read() == '{"debug": true}'
    assert stat.S_IMODE(os.stat(str(conf)).st_mode) == 0o600, "mode kept"
    again = run_module(docker_runtime, args(conf, backup=True))
    assert "backup_file" not in again


def test_symlink_followed(run_module, tmp_path):
    real = tmp_path / "srv" / "docker-daemon.json"
    real.parent.mkdir()
    real.write_text('{"debug": true}\n')
    link = tmp_path / "daemon.json"
    link.symlink_to(real)
    result = run_module(docker_runtime, {"path": str(link), "pidfile": str(tmp_path / "x.pid")}, diff=True)
    assert result["changed"] is True
    assert result["path"] == str(real)
    assert result["diff"]["after_header"] == str(real)
    assert os.path.islink(str(link))
    assert json.loads(real.read_text())["runtimes"]["nvidia"]["path"] == "/usr/bin/nvidia-container-runtime"


@pytest.mark.parametrize("content,message", [
    ('{"debug": true,}', "is not valid JSON"),
    ('[]', "must contain a JSON object"),
    ('{"runtimes": "nvidia"}', '"runtimes" must be an object'),
    ('{"features": []}', '"features" must be an object'),
    ('{"debug": true, "debug": true}', 'has the key "debug" more than once'),
])
def test_bad_file_fails_and_is_untouched(run_module, conf, content, message):
    conf.parent.mkdir(parents=True)
    conf.write_text(content)
    before = snapshot(conf)
    time.sleep(0.01)
    result = run_module(docker_runtime, args(conf, backup=True))
    assert result["failed"] is True
    assert message in result["msg"]
    assert str(conf) in result["msg"]
    assert snapshot(conf) == before
    assert os.listdir(str(conf.parent)) == ["daemon.json"], "no backup or temporary file"


def test_directory_instead_of_file(run_module, conf):
    conf.mkdir(parents=True)
    result = run_module(docker_runtime, args(conf))
    assert result["failed"] is True
    assert "is a directory" in result["msg"]


def test_reserved_name_refused(run_module, conf):
    result = run_module(docker_runtime, args(conf, name="runc"))
    assert result["failed"] is True
    assert "reserved" in result["msg"]
    assert not conf.exists()


def test_failure_between_write_and_rename_keeps_original(run_module, conf, monkeypatch):
    conf.parent.mkdir(parents=True)
    conf.write_text('{"debug": true}\n')
    before = snapshot(conf)

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "rename", boom)
    result = run_module(docker_runtime, args(conf))
    assert result["failed"] is True
    assert "No space left on device" in result["msg"]
    assert str(conf) in result["msg"]
    assert snapshot(conf) == before
    assert os.listdir(str(conf.parent)) == ["daemon.json"]


# --- dockerd --validate -------------------------------------------------------

FAKE_DOCKERD = """#!/bin/sh
# test double: dockerd with or without --validate
if [ "$1" = "--help" ]; then
  echo "Usage: dockerd [OPTIONS]"
  [ "%(validate)s" = yes ] && echo "      --validate                              Validate daemon configuration and exit"
  exit 0
fi
if [ "$1" = "--version" ]; then echo "Docker version %(version)s, build test"; exit 0; fi
if [ "$1" = "--validate" ]; then
  if grep -q '"reject-me"' "$3"; then
    echo "unable to configure the Docker daemon with file $3: the following directives don't match any configuration option: reject-me" >&2
    exit 1
  fi
  echo "configuration OK"
  exit 0
fi
exit 2
"""


def fake_dockerd(tmp_path, monkeypatch, validate, version="27.5.1"):
    path = tmp_path / "bin" / "dockerd"
    path.parent.mkdir(exist_ok=True)
    path.write_text(FAKE_DOCKERD % {"validate": "yes" if validate else "no", "version": version})
    os.chmod(str(path), 0o755)
    monkeypatch.setattr(docker_runtime, "find_dockerd", lambda module: str(path))
    return path


def test_validate_passes(run_module, conf, tmp_path, monkeypatch):
    fake_dockerd(tmp_path, monkeypatch, validate=True)
    result = run_module(docker_runtime, args(conf))
    assert result["changed"] is True
    assert result["validation"] == "passed: dockerd --validate (configuration OK)"


def test_validate_rejects_and_file_untouched(run_module, conf, tmp_path, monkeypatch):
    fake_dockerd(tmp_path, monkeypatch, validate=True)
    conf.parent.mkdir(parents=True)
    conf.write_text('{"reject-me": 1}\n')
    before = snapshot(conf)
    result = run_module(docker_runtime, args(conf))
    assert result["failed"] is True
    assert "dockerd rejects the new content of %s" % conf in result["msg"]
    assert "reject-me" in result["msg"]
    assert "<new content>" in result["msg"], "temporary path hidden"
    assert snapshot(conf) == before


def test_validate_skipped_on_old_dockerd(run_module, conf, tmp_path, monkeypatch):
    fake_dockerd(tmp_path, monkeypatch, validate=False, version="20.10.24+dfsg1")
    conf.parent.mkdir(parents=True)
    conf.write_text('{"reject-me": 1}\n')
    result = run_module(docker_runtime, args(conf))
    assert result["changed"] is True
    assert result["validation"] == "skipped: dockerd 20.10.24+dfsg1 has no --validate (Docker 23.0 or later has it)"


def test_validate_false(run_module, conf, tmp_path, monkeypatch):
    fake_dockerd(tmp_path, monkeypatch, validate=True)
    conf.parent.mkdir(parents=True)
    conf.write_text('{"reject-me": 1}\n')
    result = run_module(docker_runtime, args(conf, validate=False))
    assert result["changed"] is True
    assert result["validation"] == "skipped: validate=false"


# --- reload ---------------------------------------------------------------------


@pytest.fixture
def running_dockerd(tmp_path, conf):
    """A process named dockerd that reads ``conf`` (--config-file) and counts SIGHUPs, with its pid file."""
    script = tmp_path / "fake" / "dockerd"
    script.parent.mkdir()
    script.write_text(HUP_COUNTER)
    os.chmod(str(script), 0o755)
    log = tmp_path / "fake" / "hup.log"
    proc = subprocess.Popen([str(script), str(log), "--config-file", str(conf)])
    for dummy in range(100):
        if log.exists():
            break
        time.sleep(0.05)
    pidfile = tmp_path / "fake" / "docker.pid"
    pidfile.write_text("%d\n" % proc.pid)
    yield pidfile, log
    proc.kill()
    proc.wait()


def hups(log, expected):
    for dummy in range(100):
        count = log.read_text().count("HUP")
        if count >= expected:
            return count
        time.sleep(0.05)
    return log.read_text().count("HUP")


def test_auto_sends_sighup_to_running_dockerd(run_module, conf, running_dockerd):
    pidfile, log = running_dockerd
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile), set_as_default=True))
    assert result["changed"] is True
    assert result["reload_required"] == "sighup"
    assert result["reloaded"] == "sighup"
    assert result["reload_method"].startswith("SIGHUP to dockerd pid ")
    assert hups(log, 1) == 1
    again = run_module(docker_runtime, args(conf, pidfile=str(pidfile), set_as_default=True))
    assert again["changed"] is False
    assert again["reloaded"] == "none"
    time.sleep(0.2)
    assert hups(log, 1) == 1, "no signal when nothing changed"


def test_check_mode_sends_nothing(run_module, conf, running_dockerd):
    pidfile, log = running_dockerd
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile)), check_mode=True)
    assert result["reloaded"] == "none"
    time.sleep(0.2)
    assert log.read_text() == ""


def test_reload_none_leaves_it_to_the_caller(run_module, conf, running_dockerd):
    pidfile, log = running_dockerd
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile), reload="none", cdi=True))
    assert result["reload_required"] == "restart"
    assert result["reloaded"] == "none"
    assert "reload=none" in result["reload_method"]
    time.sleep(0.2)
    assert log.read_text() == ""


def test_restart_needed_but_no_service_manager(run_module, conf, running_dockerd):
    pidfile, log = running_dockerd
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile), cdi=True))
    assert result["failed"] is False
    assert result["reload_required"] == "restart"
    assert result["reloaded"] == "none"
    assert "restart it yourself" in warnings_text()
    assert json.loads(conf.read_text())["features"] == {"cdi": True}


def _record_commands(monkeypatch):
    calls = []

    def fake_run(self, cmd, *a, **kw):
        calls.append(list(cmd))
        return 0, "", ""

    monkeypatch.setattr(docker_runtime.AnsibleModule, "run_command", fake_run)
    return calls


def test_restart_through_init_script_for_the_default_instance(run_module, conf, running_dockerd, monkeypatch):
    pidfile, log = running_dockerd
    calls = _record_commands(monkeypatch)
    monkeypatch.setattr(dockerd_reload, "DEFAULT_PIDFILE", str(pidfile))
    monkeypatch.setattr(dockerd_reload, "init_script_restart",
                        lambda module, service: ["/usr/sbin/service", service, "restart"])
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile), cdi=True, service="docker.io"))
    assert result["reloaded"] == "restart"
    assert result["reload_method"] == "service docker.io restart"
    assert calls == [["/usr/sbin/service", "docker.io", "restart"]]


def test_second_instance_is_never_restarted_by_the_service(run_module, conf, running_dockerd, monkeypatch):
    # a dockerd with its own pid file is not the one the init script or unit runs
    pidfile, log = running_dockerd
    calls = _record_commands(monkeypatch)
    monkeypatch.setattr(dockerd_reload, "init_script_restart",
                        lambda module, service: ["/usr/sbin/service", service, "restart"])
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile), cdi=True))
    assert result["reloaded"] == "none"
    assert calls == []
    assert "restart it yourself" in warnings_text()


def test_systemd_unit_running_another_dockerd_is_not_used(run_module, conf, running_dockerd, monkeypatch):
    pidfile, log = running_dockerd
    calls = _record_commands(monkeypatch)
    monkeypatch.setattr(dockerd_reload, "systemd_unit_state", lambda module, service: 1)
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile)))
    assert result["reloaded"] == "sighup"
    assert result["reload_method"].startswith("SIGHUP to dockerd pid ")
    assert calls == []
    assert hups(log, 1) == 1


def test_sighup_when_restart_needed_warns(run_module, conf, running_dockerd):
    pidfile, log = running_dockerd
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile), cdi=True, reload="sighup"))
    assert result["reloaded"] == "sighup"
    assert result["reload_required"] == "restart"
    assert hups(log, 1) == 1
    assert "only after a restart" in warnings_text()


def test_systemd_reload_used_when_unit_active(run_module, conf, monkeypatch):
    calls = _record_commands(monkeypatch)
    monkeypatch.setattr(dockerd_reload, "systemd_unit_state", lambda module, service: 812)
    monkeypatch.setattr(dockerd_reload, "reads_config", lambda pid, path: (True, path))
    monkeypatch.setattr(docker_runtime.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)
    result = run_module(docker_runtime, args(conf, service="docker"))
    assert result["reloaded"] == "sighup"
    assert result["reload_method"] == "systemctl reload docker"
    assert calls == [["/usr/bin/systemctl", "reload", "docker"]]
    result = run_module(docker_runtime, args(conf, cdi=True))
    assert result["reloaded"] == "restart"
    assert result["reload_method"] == "systemctl restart docker"
    assert calls[-1] == ["/usr/bin/systemctl", "restart", "docker"]


def test_systemd_unit_state_parses_systemctl_show(monkeypatch):
    class Module(object):
        def get_bin_path(self, name, required=False, opt_dirs=None):
            return "/bin/systemctl"

        def run_command(self, cmd):
            assert cmd == ["/bin/systemctl", "show", "--property=ActiveState", "--property=MainPID", "docker"]
            return 0, self.out, ""

    monkeypatch.undo()
    monkeypatch.setattr(dockerd_reload.os.path, "isdir", lambda p: p == "/run/systemd/system" or os.path.lexists(p))
    module = Module()
    module.out = "MainPID=812\nActiveState=active\n"
    assert dockerd_reload.systemd_unit_state(module, "docker") == 812
    module.out = "MainPID=0\nActiveState=inactive\n"
    assert dockerd_reload.systemd_unit_state(module, "docker") is None


def test_pidfile_of_another_process_is_ignored(run_module, conf, tmp_path):
    pidfile = tmp_path / "docker.pid"
    pidfile.write_text("%d\n" % os.getpid())  # pytest, not dockerd
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile)))
    assert result["reloaded"] == "none"
    assert "not running" in result["reload_method"]


def test_sighup_refused_when_it_would_leave_a_dangling_default(run_module, conf, running_dockerd):
    pidfile, log = running_dockerd
    conf.parent.mkdir(parents=True)
    conf.write_text('{"default-runtime": "nvidia", "runtimes": {"nvidia": {"path": "n"}, "runsc": {"path": "r"}}}')
    result = run_module(docker_runtime, args(conf, pidfile=str(pidfile), state="absent", reload="sighup"))
    assert result["changed"] is True
    assert result["reload_required"] == "restart"
    assert result["reloaded"] == "none"
    assert "SIGHUP refused" in result["reload_method"]
    assert "no SIGHUP sent" in warnings_text()
    time.sleep(0.2)
    assert log.read_text() == ""
    assert json.loads(conf.read_text()) == {"runtimes": {"runsc": {"path": "r"}}}


def test_concurrent_edit_is_not_overwritten(run_module, conf, monkeypatch):
    conf.parent.mkdir(parents=True)
    conf.write_text('{"debug": true}\n')
    real_write = atomic_file.write_atomic

    def racing_write(path, content, **kwargs):
        def other_writer(tmp):
            conf.write_text('{"debug": false}\n')
        return real_write(path, content, _before_rename=other_writer, **kwargs)

    monkeypatch.setattr(_edit_cycle, "write_atomic", racing_write)
    result = run_module(docker_runtime, args(conf))
    assert result["failed"] is True
    assert "changed by another process" in result["msg"]
    assert conf.read_text() == '{"debug": false}\n'


@pytest.mark.parametrize("content, extra", [
    (None, {}),
    ('{"runtimes": {"runsc": {"path": "/usr/bin/runsc"}, "kata": {"path": "/usr/bin/kata"}}}', {}),
    ('{"runtimes": {"zz": {"path": "z"}, "nvidia": {"path": "old"}, "aa": {"path": "a"}}}', {}),
    ('{"runtimes": {"zz": {"path": "z"}, "nvidia": {"path": "n"}, "aa": {"path": "a"}}}', {"state": "absent"}),
    ('{"runtimes": {"nvidia": {"path": "n"}}}', {"state": "absent"}),
    ('{"default-runtime": "runsc", "runtimes": {"runsc": {"path": "r"}}}', {"name": "nv", "set_as_default": True}),
])
def test_runtimes_in_the_same_order_as_the_filter(run_module, conf, content, extra):
    """The container_toolkit role decides with docker_daemon_json_plan whether to run the module: same list, same order."""
    from ansible_collections.gpufleet.nvidia.plugins.filter.docker_daemon import docker_daemon_json_plan

    if content is not None:
        conf.parent.mkdir(parents=True)
        conf.write_text(content)
    planned = docker_daemon_json_plan(content, path=str(conf), **extra)
    result = run_module(docker_runtime, args(conf, reload="none", **extra))
    assert not result["failed"], result
    assert result["runtimes"] == planned["runtimes"]
    assert result["changed"] is planned["changed"]
    assert result["default_runtime"] == planned["default_runtime"]
    # and the file's order
    assert result["runtimes"] == list(json.loads(conf.read_text()).get("runtimes", {}))
