"""Docker host (host class 1) on Debian 12 without a GPU in the instance.

The driver packages are Debian's real ones (non-free). The container toolkit
comes from the TEST FIXTURE repository built by tests/molecule/fixture_repo.sh:
stand-in packages with the real names, versions and file layout, not NVIDIA
software. Their nvidia-container-runtime logs each call and hands over to runc.
"""
import json

PINNED = "1.17.8-1"
TOOLKIT = ["nvidia-container-toolkit", "nvidia-container-toolkit-base",
           "libnvidia-container-tools", "libnvidia-container1"]


def test_systemd_is_pid1(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


def test_fixture_toolkit_installed_at_pinned_version(host):
    for name in TOOLKIT:
        pkg = host.package(name)
        assert pkg.is_installed, name
        assert pkg.version == PINNED, (name, pkg.version)


def test_toolkit_came_from_signed_fixture_repository(host):
    policy = host.check_output("apt-cache policy nvidia-container-toolkit")
    assert "*** %s" % PINNED in policy
    sources = host.check_output("grep -rh '^deb\\|^URIs\\|^Signed-By' /etc/apt/sources.list.d/ || true")
    assert "/stable/deb/" in sources
    assert "signed-by" in sources.lower()


def test_docker_lists_nvidia_runtime(host):
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert "nvidia" in runtimes
    assert runtimes["nvidia"]["path"].endswith("nvidia-container-runtime")


def test_container_runs_with_nvidia_runtime(host):
    log = "/var/log/nvidia-container-runtime.log"
    before = host.run("wc -l < %s" % log).stdout.strip() or "0"
    run = host.run("docker run --rm --runtime=nvidia local/busybox:fixture true")
    assert run.rc == 0, run.stderr
    after = host.check_output("wc -l < %s" % log)
    # the fixture runtime logged the call: Docker really went through it
    assert int(after) > int(before)


def test_operator_keys_survived(host):
    conf = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert conf["log-driver"] == "json-file"
    assert conf["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert conf["registry-mirrors"] == ["https://registry-mirror.gpufleet.invalid"]
    assert "nvidia" in conf["runtimes"]


def test_workload_survived_reload_not_restart(host):
    pid_before = host.file("/var/lib/gpufleet-test/dockerd.pid").content_string.strip()
    pid_now = host.check_output("systemctl show -p MainPID --value docker")
    assert pid_now == pid_before, "dockerd was restarted, not reloaded"
    started_before = host.file("/var/lib/gpufleet-test/survivor.started").content_string.strip()
    state = json.loads(host.check_output("docker inspect gpufleet-survivor"))[0]["State"]
    assert state["Running"] is True
    assert state["StartedAt"] == started_before


def test_debian_driver_packages_installed_without_kernel_build(host):
    assert host.package("nvidia-driver").is_installed or host.package("nvidia-kernel-dkms").is_installed
    # driver_kernel_headers: false -> no headers, so DKMS built nothing
    headers = host.run("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 'linux-headers-*'")
    assert " ii" not in headers.stdout
    assert not host.file("/lib/modules/%s/updates/dkms/nvidia.ko" % host.check_output("uname -r")).exists


def test_nouveau_blacklisted(host):
    out = host.run("grep -rhs '^blacklist nouveau' /etc/modprobe.d /usr/lib/modprobe.d /lib/modprobe.d")
    assert "blacklist nouveau" in out.stdout


def test_driver_components_added_to_the_hosts_own_source(host):
    """driver_source distro: contrib non-free non-free-firmware on the host's source, its mirror kept."""
    text = host.file("/etc/apt/sources.list.d/debian.sources").content_string
    components = [line for line in text.splitlines() if line.startswith("Components:")]
    assert components and all(line == "Components: main contrib non-free non-free-firmware" for line in components)
    others = [line for line in text.splitlines() if not line.startswith("Components:")]
    assert others == host.file("/var/lib/gpufleet-test/debian.sources.other-lines").content_string.splitlines()
    assert not host.file("/etc/apt/sources.list.d/gpufleet-debian-nonfree.sources").exists


def test_driver_packages_held(host):
    """driver_hold: dpkg holds the driver packages."""
    selections = host.check_output("dpkg --get-selections nvidia-kernel-dkms nvidia-smi libcuda1")
    assert [line.split()[1] for line in selections.splitlines()] == ["hold", "hold", "hold"]
