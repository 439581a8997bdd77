"""Air-gapped Docker host (host class 5): the toolkit is installed from a
directory of local .deb files (the TEST FIXTURE repository's: NVIDIA's real
toolkit programs built from source, libnvidia-container* STAND-INS) while apt
has no source and an unreachable proxy. CDI is asked for: the instance has no
driver, so the role enables the toolkit's nvidia-cdi-refresh units and says
that the spec comes when the driver does."""
import json

PINNED = "1.20.0-1"
UPSTREAM = PINNED.split("-", maxsplit=1)[0]


def test_still_airgapped(host):
    assert host.run("sha256sum -c /var/lib/gpufleet-test/airgap.sha256").rc == 0
    assert host.run("apt-get update").rc != 0 or \
        host.run("grep -rls '^deb\\|^URIs' /etc/apt/sources.list /etc/apt/sources.list.d").rc != 0


def test_no_network_source_was_added(host):
    out = host.run("grep -rhs 'http' /etc/apt/sources.list /etc/apt/sources.list.d")
    assert out.stdout.strip() == ""


def test_toolkit_installed_from_local_debs(host):
    for name in ("libnvidia-container1", "libnvidia-container-tools",
                 "nvidia-container-toolkit-base", "nvidia-container-toolkit"):
        pkg = host.package(name)
        assert pkg.is_installed, name
        assert pkg.version == PINNED
    assert host.file("/usr/bin/nvidia-ctk").exists
    # the role copied the .deb files from the controller's directory
    cached = host.check_output("ls /var/cache/gpufleet/container-toolkit")
    assert "nvidia-container-toolkit_%s_amd64.deb" % PINNED in cached
    assert "NVIDIA Container Toolkit CLI version %s" % UPSTREAM in host.check_output("nvidia-ctk --version")
    assert "NVIDIA Container Runtime version %s" % UPSTREAM in host.check_output("nvidia-container-runtime --version")


def test_config_toml_written_by_the_real_postinst(host):
    conf = host.file("/etc/nvidia-container-runtime/config.toml")
    assert conf.exists and conf.user == "root"
    # the toolkit's own default, as the package's postinst (nvidia-ctk config --in-place) wrote it
    assert host.check_output("nvidia-ctk config") == host.check_output("nvidia-ctk config default")


def test_cdi_refresh_units_enabled_and_no_spec_without_driver(host):
    assert host.check_output("systemctl is-enabled nvidia-cdi-refresh.path") == "enabled"
    assert host.check_output("systemctl is-active nvidia-cdi-refresh.path") == "active"
    # the service's conditions (nvidia-smi, an nvidia.ko) are not met: skipped, not failed
    assert host.run("systemctl is-failed --quiet nvidia-cdi-refresh.service").rc != 0
    assert not host.file("/proc/driver/nvidia/version").exists
    assert not host.file("/var/run/cdi/nvidia.yaml").exists
    assert not host.file("/etc/cdi/nvidia.yaml").exists
    # the real nvidia-ctk agrees: no driver, no spec
    generate = host.run("nvidia-ctk cdi generate --output=/tmp/gpufleet-cdi-probe.yaml")
    assert generate.rc != 0 and "NVML" in generate.stderr, generate.stderr
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["features"]["cdi"] is True


def test_docker_runtime_registered(host):
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert "nvidia" in runtimes
    assert host.run("docker run --rm --runtime=nvidia local/busybox:fixture true").rc == 0
