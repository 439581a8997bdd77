"""Migration of a legacy nvidia-docker2 host (host class 6) to the container
toolkit. The legacy host runs STAND-INS (test fixtures, not NVIDIA software):
nvidia-docker2 2.13.0-1 over toolkit 1.13.5-1. The migration upgrades it to
the TEST FIXTURE repository's toolkit 1.20.0-1, NVIDIA's real programs built
from source (libnvidia-container* stay stand-ins)."""
import json

PINNED = "1.20.0-1"
UPSTREAM = PINNED.split("-", maxsplit=1)[0]


def test_nvidia_docker2_removed(host):
    assert not host.package("nvidia-docker2").is_installed


def test_toolkit_upgraded_to_pinned_version(host):
    for name in ("nvidia-container-toolkit", "nvidia-container-toolkit-base",
                 "libnvidia-container-tools", "libnvidia-container1"):
        assert host.package(name).version == PINNED, name


def test_real_toolkit_replaced_the_legacy_stand_ins(host):
    assert "NVIDIA Container Toolkit CLI version %s" % UPSTREAM in host.check_output("nvidia-ctk --version")
    out = host.run("nvidia-container-runtime --version")
    assert out.rc == 0, out.stderr
    assert "NVIDIA Container Runtime version %s" % UPSTREAM in out.stdout
    assert "STAND-IN" not in host.check_output("dpkg-query -W -f '${Description}' nvidia-container-toolkit-base")


def test_config_toml_of_the_old_version_kept_and_read_by_the_real_tool(host):
    # The 1.13.5 stand-in shipped config.toml as a conffile with that era's
    # runtimes list; the real 1.20.0 postinst (nvidia-ctk config --in-place)
    # rewrote it in place and kept the value.
    shown = host.check_output("nvidia-ctk config")
    assert 'runtimes = ["docker-runc", "runc", "crun"]' in shown
    assert 'mode = "auto"' in shown


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
    # the legacy default runtime was kept: a plain docker run goes through the real runtime too
    assert host.check_output("docker info --format '{{.DefaultRuntime}}'") == "nvidia"
    assert host.run("docker run --rm local/busybox:fixture true").rc == 0
