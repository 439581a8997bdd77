"""Simulated Jetson / L4T host (host class 4): prepare writes
/etc/nv_tegra_release and, as STAND-INS, the L4T CSV mount specifications,
the libraries they list and two /dev/nvhost-* nodes. The toolkit comes from
the TEST FIXTURE repository: NVIDIA's real programs built from source, so CSV
mode, the CDI spec and the container below are the real toolkit's work."""
import json
import re

import yaml

L4T_LIB = "/usr/lib/aarch64-linux-gnu/nvidia/libcuda.so.1.1"

DGPU_PACKAGES = ["nvidia-driver", "cuda-drivers", "nvidia-kernel-dkms",
                 "nvidia-open-kernel-dkms", "nvidia-kernel-open-dkms", "nvidia-driver-libs"]


def test_no_dgpu_driver_installed(host):
    for name in DGPU_PACKAGES:
        assert not host.package(name).is_installed, name
    listed = host.run("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 'nvidia-driver*' 'cuda-driver*'")
    assert not re.search(r" ii", listed.stdout)


def test_no_cuda_repository_added(host):
    # a CUDA repository source, on any mirror, names the /compute/cuda/repos/ tree
    out = host.run("grep -rhs '/compute/cuda/repos' /etc/apt/sources.list.d")
    assert out.stdout.strip() == ""


def test_toolkit_in_csv_mode(host):
    assert "NVIDIA Container Toolkit CLI version 1.20.0" in host.check_output("nvidia-ctk --version")
    conf = host.file("/etc/nvidia-container-runtime/config.toml").content_string
    section = re.search(r"^\[nvidia-container-runtime\]\s*$(.*?)(?=^\[)", conf, re.M | re.S)
    assert section
    assert re.search(r'^mode\s*=\s*"csv"\s*$', section.group(1), re.M)
    # as the real tool reads it
    shown = host.check_output("nvidia-ctk config")
    assert 'mode = "csv"' in shown
    assert 'mount-spec-path = "/etc/nvidia-container-runtime/host-files-for-container.d"' in shown


def test_csv_container_gets_the_l4t_devices_and_libraries(host):
    # the real runtime in CSV mode reads the L4T CSV files and injects what they list
    run = host.run("docker run --rm --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all local/busybox:fixture "
                   "ls /dev/nvhost-ctrl /dev/nvhost-ctrl-gpu %s" % L4T_LIB)
    assert run.rc == 0, run.stderr
    assert "/dev/nvhost-ctrl-gpu" in run.stdout and L4T_LIB in run.stdout
    plain = host.run("docker run --rm --runtime=nvidia local/busybox:fixture ls %s" % L4T_LIB)
    assert plain.rc != 0  # no device requested: nothing injected


def test_docker_runtime_registered(host):
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert "nvidia" in runtimes
    assert host.run("docker run --rm --runtime=nvidia local/busybox:fixture true").rc == 0


def test_cdi_spec_for_the_l4t_release(host):
    spec = host.file("/etc/cdi/nvidia.yaml")
    assert spec.exists and spec.size > 0
    # written by the real nvidia-ctk cdi generate --mode=csv from the L4T CSV files
    doc = yaml.safe_load(spec.content_string)
    assert doc["kind"] == "nvidia.com/gpu"
    devices = {d["name"]: d for d in doc["devices"]}
    assert "all" in devices
    nodes = [n["path"] for n in devices["all"]["containerEdits"]["deviceNodes"]]
    assert nodes == ["/dev/nvhost-ctrl", "/dev/nvhost-ctrl-gpu"]
    mounts = [m["hostPath"] for m in doc["containerEdits"]["mounts"]]
    assert L4T_LIB in mounts
    listed = host.check_output("nvidia-ctk cdi list")
    assert "nvidia.com/gpu=all" in listed
    stamp = host.file("/var/lib/gpufleet/container-toolkit-cdi.stamp").content_string.split()
    assert stamp[1] == "driver=l4t-36.4.3", stamp
    assert stamp[0].startswith("toolkit=")
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["features"]["cdi"] is True
    assert "nvidia" in daemon["runtimes"]
