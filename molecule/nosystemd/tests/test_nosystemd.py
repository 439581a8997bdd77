"""A host without systemd (PID 1 is `sleep`; dockerd installed, not running):
the container_toolkit role installs NVIDIA's real toolkit 1.20.0-1 from local
.deb files (TEST FIXTURE repository; libnvidia-container* are STAND-INS),
writes config.toml and daemon.json, manages no unit and, with CDI asked for
and no driver, writes no spec (it says so in the run)."""
import json

UPSTREAM = "1.20.0"


def test_no_systemd_here(host):
    assert host.file("/proc/1/comm").content_string.strip() == "sleep"
    assert not host.file("/run/systemd/system").exists


def test_real_toolkit_installed_from_local_packages(host):
    for name in ("nvidia-container-toolkit-base", "nvidia-container-toolkit"):
        assert host.package(name).version == UPSTREAM + "-1", name
    assert "NVIDIA Container Toolkit CLI version %s" % UPSTREAM in host.check_output("nvidia-ctk --version")
    out = host.run("nvidia-container-runtime --version")
    assert out.rc == 0, out.stderr
    assert "NVIDIA Container Runtime version %s" % UPSTREAM in out.stdout and "runc version" in out.stdout


def test_config_toml_written_by_the_postinst_without_systemd(host):
    assert host.check_output("nvidia-ctk config") == host.check_output("nvidia-ctk config default")


def test_no_unit_started_and_no_spec_without_driver(host):
    # the package's postinst only records the units (deb-systemd-helper); nothing runs them here
    assert host.file("/lib/systemd/system/nvidia-cdi-refresh.path").exists
    assert not host.file("/run/systemd/system").exists
    assert not host.file("/etc/cdi/nvidia.yaml").exists
    assert not host.file("/var/run/cdi/nvidia.yaml").exists
    assert not host.file("/var/lib/gpufleet/container-toolkit-cdi.stamp").exists


def test_runtime_registered_for_the_next_dockerd_start(host):
    conf = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert conf["runtimes"]["nvidia"]["path"] == "/usr/bin/nvidia-container-runtime"
    assert conf["features"]["cdi"] is True
    assert host.run("pidof dockerd").rc != 0  # left as it was: not running
