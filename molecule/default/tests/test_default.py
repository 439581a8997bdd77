"""Docker host (host class 1) on Debian 12 without a GPU in the instance.

The driver packages are Debian's real ones (non-free). The container toolkit
comes from the TEST FIXTURE repository built by tests/molecule/fixture_repo.sh:
nvidia-container-toolkit-base and nvidia-container-toolkit are NVIDIA's real
programs built from source with the source's own packaging;
libnvidia-container1 and libnvidia-container-tools are STAND-INS (not NVIDIA
software). The scenario asks for the runtime's debug log in config.toml
(container_toolkit_config, written by the real nvidia-ctk config --set), which
proves that Docker went through the real runtime.
"""
import json
import os

PINNED = "1.20.0-1"
UPSTREAM = PINNED.split("-", maxsplit=1)[0]
REAL = ["nvidia-container-toolkit", "nvidia-container-toolkit-base"]
STAND_INS = ["libnvidia-container-tools", "libnvidia-container1"]
TOOLKIT = REAL + STAND_INS
RUNTIME_LOG = "/var/log/nvidia-container-runtime.log"


def test_systemd_is_pid1(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


def test_fixture_toolkit_installed_at_pinned_version(host):
    for name in TOOLKIT:
        pkg = host.package(name)
        assert pkg.is_installed, name
        assert pkg.version == PINNED, (name, pkg.version)


def test_real_toolkit_programs(host):
    for path in ("/usr/bin/nvidia-ctk", "/usr/bin/nvidia-container-runtime",
                 "/usr/bin/nvidia-container-runtime-hook", "/usr/bin/nvidia-cdi-hook"):
        # compiled programs, not the stand-ins' scripts
        assert host.check_output("head -c 4 %s | od -An -c | tr -d ' '" % path) == "177ELF", path
    assert "NVIDIA Container Toolkit CLI version %s" % UPSTREAM in host.check_output("nvidia-ctk --version")
    runtime = host.run("nvidia-container-runtime --version")
    assert runtime.rc == 0, runtime.stderr
    assert "NVIDIA Container Runtime version %s" % UPSTREAM in runtime.stdout
    assert "runc version" in runtime.stdout  # it found the low-level runtime it hands over to
    hook = host.run("nvidia-container-runtime-hook -version")
    assert UPSTREAM in hook.stdout + hook.stderr


def test_packages_real_and_stand_ins_say_what_they_are(host):
    for name in REAL:
        fields = host.check_output("dpkg-query -W -f '${Maintainer}|${Description}' %s" % name)
        assert fields.startswith("NVIDIA CORPORATION"), fields
        assert "STAND-IN" not in fields
    for name in STAND_INS:
        assert "STAND-IN" in host.check_output("dpkg-query -W -f '${Description}' %s" % name)


def test_config_toml_from_the_packages_postinst_with_the_scenario_settings(host):
    # the real postinst wrote the default file; nvidia-ctk config --set added the settings
    shown = host.check_output("nvidia-ctk config")
    assert 'debug = "%s"' % RUNTIME_LOG in shown
    assert "accept-nvidia-visible-devices-envvar-when-unprivileged = false" in shown
    assert 'mode = "auto"' in shown
    default = host.check_output("nvidia-ctk config default")
    # everything else is the toolkit's own default
    assert 'runtimes = ["runc", "crun"]' in default and 'runtimes = ["runc", "crun"]' in shown


def test_cdi_refresh_units_installed_and_skipped_without_a_kernel_module(host):
    # the package's postinst enabled them; Debian's nvidia-smi is installed but no
    # kernel module is built or loaded, so the service's ExecCondition skips it
    assert host.check_output("systemctl is-enabled nvidia-cdi-refresh.path") == "enabled"
    assert host.check_output("systemctl is-active nvidia-cdi-refresh.path") == "active"
    assert host.run("systemctl is-failed --quiet nvidia-cdi-refresh.service").rc != 0
    assert not host.file("/var/run/cdi/nvidia.yaml").exists


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
    before = host.run("wc -l < %s" % RUNTIME_LOG).stdout.strip() or "0"
    run = host.run("docker run --rm --runtime=nvidia local/busybox:fixture true")
    assert run.rc == 0, run.stderr
    after = host.check_output("wc -l < %s" % RUNTIME_LOG)
    # the real runtime wrote its debug log: Docker really went through it
    assert int(after) > int(before)
    new = host.check_output("tail -n +%d %s" % (int(before) + 1, RUNTIME_LOG))
    assert "Using OCI specification file path" in new, new
    # no GPU requested, none present: the 1.20 runtime's auto mode picks just-in-time CDI
    assert "Auto-detected mode as 'jit-cdi'" in new, new


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


def test_key_file_with_an_extra_key_was_replaced_by_exactly_the_wanted_key(host):
    """prepare left the repository key plus Debian's key in the signed-by file; the role replaced it."""
    listing = host.check_output(
        "home=$(mktemp -d); gpg --homedir $home --batch --with-colons --show-keys "
        "/etc/apt/keyrings/nvidia-container-toolkit.asc 2>/dev/null; rm -rf $home")
    primaries = [line for line in listing.splitlines() if line.startswith("pub:")]
    assert len(primaries) == 1, listing
    fingerprint = listing.split("\nfpr:", 1)[1].split(":")[8]
    assert fingerprint == os.environ["GPUFLEET_FIXTURE_FINGERPRINT"]
    # byte for byte the key the repository publishes
    assert host.file("/etc/apt/keyrings/nvidia-container-toolkit.asc").content_string == \
        host.file("/var/lib/gpufleet-test/repo-key.asc").content_string
