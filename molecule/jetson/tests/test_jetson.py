"""Simulated Jetson / L4T host (host class 4): /etc/nv_tegra_release is
written by prepare; the toolkit comes from the TEST FIXTURE repository
(stand-in packages, not NVIDIA software)."""
import json
import re

DGPU_PACKAGES = ["nvidia-driver", "cuda-drivers", "nvidia-kernel-dkms",
                 "nvidia-open-kernel-dkms", "nvidia-kernel-open-dkms", "nvidia-driver-libs"]


def test_no_dgpu_driver_installed(host):
    for name in DGPU_PACKAGES:
        assert not host.package(name).is_installed, name
    listed = host.run("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 'nvidia-driver*' 'cuda-driver*'")
    assert not re.search(r" ii", listed.stdout)


def test_no_cuda_repository_added(host):
    out = host.run("grep -rhs 'developer.download.nvidia.com' /etc/apt/sources.list.d")
    assert out.stdout.strip() == ""


def test_toolkit_in_csv_mode(host):
    conf = host.file("/etc/nvidia-container-runtime/config.toml").content_string
    section = re.search(r"^\[nvidia-container-runtime\]\s*$(.*?)(?=^\[)", conf, re.M | re.S)
    assert section
    assert re.search(r'^mode\s*=\s*"csv"\s*$', section.group(1), re.M)


def test_docker_runtime_registered(host):
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert "nvidia" in runtimes
    assert host.run("docker run --rm --runtime=nvidia local/busybox:fixture true").rc == 0


def test_cdi_spec_for_the_l4t_release(host):
    spec = host.file("/etc/cdi/nvidia.yaml")
    assert spec.exists and spec.size > 0
    stamp = host.file("/var/lib/gpufleet/container-toolkit-cdi.stamp").content_string.split()
    assert stamp[1] == "driver=l4t-36.4.3", stamp
    assert stamp[0].startswith("toolkit=")
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["features"]["cdi"] is True
    assert "nvidia" in daemon["runtimes"]
