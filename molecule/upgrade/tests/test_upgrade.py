"""playbooks/upgrade_driver.yml on two hosts whose loaded driver (STAND-IN
files, see molecule.yml) is older than the installed packages: converge
reloaded the modules through the stand-in modprobe without a reboot and
restarted the stand-in nvidia-dcgm unit; check mode prints the plan per host
and changes nothing; a host with a GPU container stops the run there."""
import os
import re
import subprocess

import pytest

STANDIN = "/var/lib/gpufleet-standin"
OLD = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.216.01  (gpufleet test stand-in, not NVIDIA software)\n"
OLD_MODULES = ("nvidia_uvm 1531904 0 - Live 0xffffffffc1a6d000 (POE)\n"
               "nvidia 56487936 1 nvidia_uvm, Live 0xffffffffbe000000 (POE)\n")


def _installed(host):
    version = host.check_output("dpkg-query -W -f='${Version}' nvidia-kernel-dkms")
    return re.sub(r"-[^-]*$", "", version)


def _upgrade(*args):
    root = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    proc = subprocess.run(
        ["ansible-playbook", "-i", os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")]
        + list(args) + [os.path.join(root, "playbooks", "upgrade_driver.yml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    return proc.returncode, proc.stdout


def _make_old(host):
    host.run("printf %%s '%s' >%s/nvidia-version && printf %%s '%s' >%s/proc-modules"
             % (OLD, STANDIN, OLD_MODULES, STANDIN))


def test_converge_reloaded_the_modules_without_a_reboot(host):
    assert host.file(STANDIN + "/modprobe.log").content_string.splitlines() == [
        "-r nvidia_uvm nvidia", "nvidia", "nvidia_uvm"]
    # the stand-in now names the installed driver (Debian's current 535 release)
    assert _installed(host).startswith("535.")
    assert "Kernel Module  %s  " % _installed(host) in host.file(STANDIN + "/nvidia-version").content_string
    # the driver packages stayed on the branch asked for
    assert host.package("nvidia-kernel-dkms").is_installed


def test_the_stand_in_dcgm_unit_was_stopped_and_started_again(host):
    assert host.service("nvidia-dcgm").is_running
    # started by prepare, then stopped and started again by the upgrade
    started = host.check_output("systemctl show -p ExecMainStartTimestampMonotonic --value nvidia-dcgm")
    assert int(started) > int(host.file("/var/lib/gpufleet-test/dcgm.started").content_string)


@pytest.fixture(scope="module")
def check_run():
    # both hosts are made to need the upgrade again (the stand-in says 535.216.01 is loaded)
    import testinfra
    hosts = [testinfra.get_host("ansible://%s?ansible_inventory=%s" % (
        name, os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")))
        for name in ("gpufleet-upgrade-a", "gpufleet-upgrade-b")]
    for each in hosts:
        _make_old(each)
        each.run("cp %s/modprobe.log %s/modprobe.log.before" % (STANDIN, STANDIN))
    rc, out = _upgrade("--check")
    return hosts, rc, out


def test_check_mode_prints_the_plan_per_host_and_changes_nothing(check_run):
    hosts, rc, out = check_run
    assert rc == 0, out[-3000:]
    # one batch per host (serial: 1)
    assert out.count("PLAY [Rolling NVIDIA driver upgrade]") == 2, out[-3000:]
    for name, each in zip(("gpufleet-upgrade-a", "gpufleet-upgrade-b"), hosts):
        assert '"%s: driver 535.216.01 loaded, %s installed; target branch 535"' % (name, _installed(each)) in out, \
            out[-3000:]
    assert '"1. stop units holding the driver: nvidia-dcgm"' in out
    assert '"3. unload nvidia_uvm, nvidia and load the new modules, no reboot' in out
    for each in hosts:
        assert each.file(STANDIN + "/nvidia-version").content_string == OLD
        assert each.file(STANDIN + "/modprobe.log").content_string == \
            each.file(STANDIN + "/modprobe.log.before").content_string
        assert each.service("nvidia-dcgm").is_running


def test_a_busy_host_stops_the_run_there_and_the_next_host_is_untouched(check_run):
    hosts = check_run[0]
    first = hosts[0]
    # A container that uses a GPU by device. The instance has no GPU and a
    # container with the NVIDIA runtime cannot start without a driver, so
    # /dev/nvidia0 here is a STAND-IN node (mknod, major 195 as the driver's;
    # no process opens it) that the container is given with --device.
    first.run("[ -e /dev/nvidia0 ] || mknod -m 666 /dev/nvidia0 c 195 0")
    started = first.run("docker rm -f gpu-job >/dev/null 2>&1; docker run -d --name gpu-job --device /dev/nvidia0 "
                        "local/busybox:fixture sleep 600")
    assert started.rc == 0, started.stderr
    try:
        rc, out = _upgrade()
    finally:
        first.run("docker rm -f gpu-job; rm -f /dev/nvidia0")
    assert rc != 0, out[-3000:]
    assert "upgrade_driver.yml stopped at gpufleet-upgrade-a (host 1 of 2" in out, out[-3000:]
    assert "not started: gpufleet-upgrade-b" in out
    assert "container gpu-job uses GPUs (device /dev/nvidia0)" in out
    # neither host was changed: max_fail_percentage 0 ended the run at the first host
    for each in hosts:
        assert each.file(STANDIN + "/nvidia-version").content_string == OLD
        assert each.service("nvidia-dcgm").is_running
    assert '"gpufleet-upgrade-b: driver' not in out


def test_the_run_goes_on_once_the_host_is_free(check_run):
    hosts = check_run[0]
    rc, out = _upgrade()
    assert rc == 0, out[-3000:]
    for each in hosts:
        assert "Kernel Module  %s  " % _installed(each) in each.file(STANDIN + "/nvidia-version").content_string
        assert each.service("nvidia-dcgm").is_running
