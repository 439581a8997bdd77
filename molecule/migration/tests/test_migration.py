"""Migration of a legacy nvidia-docker2 host (host class 6) to the container
toolkit. All packages involved are TEST FIXTURES (not NVIDIA software)."""
import json

PINNED = "1.17.8-1"


def test_nvidia_docker2_removed(host):
    assert not host.package("nvidia-docker2").is_installed


def test_toolkit_upgraded_to_pinned_version(host):
    for name in ("nvidia-container-toolkit", "nvidia-container-toolkit-base",
                 "libnvidia-container-tools", "libnvidia-container1"):
        assert host.package(name).version == PINNED, name


def test_legacy_source_replaced_by_signed_source(host):
    legacy = host.file("/etc/apt/sources.list.d/nvidia-docker.list")
    assert not legacy.exists or not any(
        line.startswith("deb ") for line in legacy.content_string.splitlines())
    sources = host.check_output("cat /etc/apt/sources.list.d/* 2>/dev/null")
    assert "signed-by" in sources.lower()


def test_gpg_installed_and_key_checked(host):
    # prepare removed gpg; the role installed it to read the key's fingerprint
    assert host.package("gpg").is_installed
    key = host.file("/etc/apt/keyrings/nvidia-container-toolkit.asc")
    assert key.exists and key.mode == 0o644
    assert not host.file("/etc/apt/trusted.gpg.d/nvidia-docker.gpg").exists


def test_daemon_json_migrated_with_operator_keys(host):
    conf = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert conf["log-opts"] == {"max-size": "50m"}
    assert conf["insecure-registries"] == ["registry.lab.gpufleet.invalid:5000"]
    assert conf["runtimes"]["nvidia"]["path"].endswith("nvidia-container-runtime")


def test_docker_runs_nvidia_runtime(host):
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert "nvidia" in runtimes
    assert host.run("docker run --rm --runtime=nvidia local/busybox:fixture true").rc == 0
