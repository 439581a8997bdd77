"""Air-gapped Docker host (host class 5): the toolkit is installed from a
directory of local .deb files (the TEST FIXTURE packages, not NVIDIA software)
while apt has no source and an unreachable proxy."""
import json

PINNED = "1.17.8-1"


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
    assert PINNED.split("-", maxsplit=1)[0] in host.check_output("nvidia-ctk --version")


def test_docker_runtime_registered(host):
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert "nvidia" in runtimes
    assert host.run("docker run --rm --runtime=nvidia local/busybox:fixture true").rc == 0
