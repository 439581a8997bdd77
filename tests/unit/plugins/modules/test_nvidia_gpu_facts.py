# -*- coding: utf-8 -*-
"""nvidia_gpu_facts end to end: a fake root filesystem and fake nvidia-smi / lspci.

The fake hosts are built from real captures (tests/fixtures/gpu-hosts and
tests/fixtures/lspci); every test checks how often nvidia-smi ran.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fakehost  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.gpufleet.nvidia.plugins.modules import nvidia_gpu_facts  # noqa: E402

FIELDS = ["index", "pci.bus_id", "name", "uuid", "serial", "driver_version", "memory.total",
          "compute_cap", "persistence_mode", "mig.mode.current", "vbios_version", "mig.mode.pending",
          "fabric.state", "fabric.status", "fabric.cliqueId", "fabric.clusterUuid", "c2c.mode", "addressing_mode"]
# What a 470 driver is asked: no compute_cap (510), fabric state/status and addressing mode (535),
# C2C mode and fabric clique/cluster (550).
FIELDS_470 = ["index", "pci.bus_id", "name", "uuid", "serial", "driver_version", "memory.total",
              "persistence_mode", "mig.mode.current", "vbios_version", "mig.mode.pending"]
NOT_LOADED = fakehost.load("debian12-nogpu-nvidia-smi535", "nvsmi-query-nounits.txt")[0]
NO_LIBRARY = fakehost.load("debian12-nogpu-nvidia-smi535", "nvsmi-nolib.txt")[0]


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A bare host: empty root, no commands on PATH (only the test's bin dir)."""
    root = tmp_path / "root"
    os.makedirs(str(root / "sys" / "bus" / "pci" / "devices"))
    fakehost.write(root, "proc/modules", "")
    bindir = tmp_path / "bin"
    os.makedirs(str(bindir))
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(nvidia_gpu_facts, "EXTRA_BIN_DIRS", [])
    warnings = []
    monkeypatch.setattr(nvidia_gpu_facts.AnsibleModule, "warn", lambda self, text: warnings.append(text))
    return {"root": root, "bin": bindir, "warnings": warnings}


def run(host, run_module, args, check_mode=False):
    """Run the module; the result carries the warnings it emitted (as Ansible would show them)."""
    del host["warnings"][:]
    result = run_module(nvidia_gpu_facts, args, check_mode=check_mode)
    result["warnings"] = list(host["warnings"])
    return result


def smi(host, outputs=None, default=None):
    if default is None:
        default = (fakehost.h100_nvidia_smi_answer(FIELDS), 0)
    return fakehost.fake_command(host["bin"], "nvidia-smi", outputs or [], default)


def facts_of(result):
    assert result["failed"] is False, result
    assert result["changed"] is False
    return result["ansible_facts"]["nvidia"]


def test_h100_with_driver(host, run_module):
    fakehost.h100_root(host["root"])
    fake = smi(host)
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert len(fakehost.calls(fake)) == 1
    assert fakehost.calls(fake)[0] == ("--query-gpu=%s --format=csv,noheader,nounits" % ",".join(FIELDS))
    assert nvidia["gpu_count"] == 1
    assert nvidia["architectures"] == ["Hopper"]
    gpu = nvidia["gpus"][0]
    assert gpu["pci_bus_id"] == "0000:00:06.0"
    assert (gpu["vendor_id"], gpu["device_id"]) == ("0x10de", "0x2330")
    assert (gpu["subsystem_vendor_id"], gpu["subsystem_device_id"]) == ("0x10de", "0x16c1")
    assert gpu["class_id"] == "0x030200"
    assert gpu["kernel_driver"] == "nvidia"
    assert gpu["numa_node"] is None            # sysfs says -1
    assert gpu["pcie_link"] == {"current_speed": "32.0 GT/s", "current_width": 16, "current_generation": 5,
                                "max_speed": "32.0 GT/s", "max_width": 16, "max_generation": 5}
    assert gpu["index"] == 0
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["uuid"] == "GPU-9d066124-a4f5-9f94-ff00-13f9f4666fd8"
    assert gpu["serial"] == "1651124033651"
    assert gpu["memory_total_mib"] == 81559
    assert gpu["compute_capability"] == "9.0"
    assert gpu["compute_capability_source"] == "nvidia-smi"
    assert gpu["architecture"] == "Hopper"
    assert gpu["chip"] == "GH100"
    assert gpu["persistence_mode"] is True
    assert gpu["mig_mode"] is False
    assert gpu["vbios_version"] == "96.00.DA.00.0C"
    assert gpu["minor_number"] == 0
    assert gpu["driver_branches"]["installed_driver_supported"] is True
    assert gpu["driver_branches"]["open_kernel"] == "yes"
    driver = nvidia["driver"]
    assert driver["loaded"] is True and driver["installed"] is True
    assert driver["version"] == "580.159.04"
    assert driver["branch"] == 580
    assert driver["kernel_module"] == "open"
    assert driver["cuda_version"] == "13.0"
    assert driver["nouveau_loaded"] is False
    assert driver["nvidia_smi_path"] == fake
    assert driver["nvidia_smi_error"] is None
    assert result["msg"] == "1 NVIDIA GPU (Hopper); driver 580.159.04 (open kernel module) loaded"
    assert not result.get("warnings")
    assert result["elapsed_ms"]["nvidia_smi"] > 0


def test_check_mode_same_facts(host, run_module):
    fakehost.h100_root(host["root"])
    fake = smi(host)
    normal = facts_of(run(host, run_module, {"root": str(host["root"])}))
    checked = facts_of(run(host, run_module, {"root": str(host["root"])}, check_mode=True))
    assert normal == checked
    assert len(fakehost.calls(fake)) == 2       # one per run


def test_no_gpu_never_runs_nvidia_smi(host, run_module):
    fake = smi(host, default=(NOT_LOADED, 9))
    lspci = fakehost.fake_command(host["bin"], "lspci", [], default=fakehost.load_lspci("rpi5-nogpu", "vmm"))
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert fakehost.calls(fake) == []
    assert fakehost.calls(lspci) == []          # sysfs answered: no NVIDIA function, nothing to name
    assert nvidia["gpu_count"] == 0 and nvidia["gpus"] == [] and nvidia["architectures"] == []
    assert nvidia["driver"]["installed"] is True     # nvidia-smi is there
    assert nvidia["driver"]["loaded"] is False


def test_driver_installed_not_loaded(host, run_module):
    fakehost.h100_root(host["root"], loaded=False)
    fake = smi(host, default=(NOT_LOADED, 9))
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert len(fakehost.calls(fake)) == 1
    gpu = nvidia["gpus"][0]
    assert gpu["kernel_driver"] is None
    assert gpu["architecture"] == "Hopper" and gpu["compute_capability"] == "9.0"
    assert gpu["compute_capability_source"] == "pci_id"
    assert gpu["name"] is None and gpu["index"] is None
    assert gpu["driver_branches"]["installed_driver_supported"] is None
    driver = nvidia["driver"]
    assert driver["installed"] is True and driver["loaded"] is False and driver["version"] is None
    assert "kernel module is not loaded" in driver["nvidia_smi_error"]
    assert "couldn't communicate with the NVIDIA driver" in driver["nvidia_smi_error"]
    assert "installed but not loaded" in result["msg"]
    assert any("nvidia-smi gave no GPU data" in w for w in result["warnings"])


def test_nvidia_smi_missing_uses_proc(host, run_module):
    fakehost.h100_root(host["root"])
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    gpu = nvidia["gpus"][0]
    # /proc/driver/nvidia/gpus/*/information still names the GPU.
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["uuid"] == "GPU-9d066124-a4f5-9f94-ff00-13f9f4666fd8"
    assert gpu["vbios_version"] == "96.00.DA.00.0C"
    assert gpu["compute_capability_source"] == "pci_id"
    assert nvidia["driver"]["nvidia_smi_path"] is None
    assert nvidia["driver"]["version"] == "580.159.04"
    assert any("nvidia-smi not found" in w for w in result["warnings"])
    assert result["commands"] == []


def test_nvidia_smi_without_library(host, run_module):
    fakehost.h100_root(host["root"])
    fake = smi(host, default=(NO_LIBRARY, 12))
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert len(fakehost.calls(fake)) == 1
    assert "libnvidia-ml.so" in nvidia["driver"]["nvidia_smi_error"]


def test_old_driver_chooses_fields_without_retry(host, run_module):
    fakehost.h100_root(host["root"])
    fakehost.write(host["root"], "proc/driver/nvidia/version",
                   "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.256.02  Thu May  2 14:37:44 UTC 2024\n")
    fakehost.write(host["root"], "sys/module/nvidia/version", "470.256.02\n")
    answer = fakehost.h100_nvidia_smi_answer(FIELDS_470).replace("580.159.04", "470.256.02")
    bad, bad_rc = fakehost.load(fakehost.H100, "nvsmi-query-bad.txt")
    fake = smi(host, outputs=[("compute_cap", bad.replace("not_a_field", "compute_cap"), bad_rc)],
               default=(answer, 0))
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert fakehost.calls(fake) == ["--query-gpu=%s --format=csv,noheader,nounits" % ",".join(FIELDS_470)]
    gpu = nvidia["gpus"][0]
    assert gpu["compute_capability"] == "9.0" and gpu["compute_capability_source"] == "pci_id"
    assert nvidia["driver"]["kernel_module"] == "proprietary"
    assert nvidia["driver"]["cuda_version"] == "11.4"
    # Hopper needs branch 520 or newer: the role must learn that 470 cannot drive it.
    assert gpu["driver_branches"]["installed_driver_supported"] is False
    assert any("does not support it" in w for w in result["warnings"])


def test_unknown_version_old_binary_retries_once(host, run_module):
    """Version unreadable (no /proc, no /sys/module) and an old nvidia-smi: one retry, no more."""
    fakehost.h100_root(host["root"])
    os.remove(str(host["root"] / "proc" / "driver" / "nvidia" / "version"))
    os.remove(str(host["root"] / "sys" / "module" / "nvidia" / "version"))
    bad, bad_rc = fakehost.load(fakehost.H100, "nvsmi-query-bad.txt")
    fake = smi(host, outputs=[("compute_cap", bad.replace("not_a_field", "compute_cap"), bad_rc)],
               default=(fakehost.h100_nvidia_smi_answer(FIELDS_470), 0))
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    made = fakehost.calls(fake)
    assert len(made) == 2
    assert "compute_cap" in made[0]
    # nvidia-smi names only the first unknown field: everything as new as it goes too
    assert made[1] == "--query-gpu=%s --format=csv,noheader,nounits" % ",".join(FIELDS_470)
    assert nvidia["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert nvidia["driver"]["version"] == "580.159.04"        # from nvidia-smi's driver_version


def test_rejected_field_twice_stops(host, run_module):
    fakehost.h100_root(host["root"])
    os.remove(str(host["root"] / "sys" / "module" / "nvidia" / "version"))
    os.remove(str(host["root"] / "proc" / "driver" / "nvidia" / "version"))
    fake = smi(host, default=('Field "index" is not a valid field to query.\n\n', 2))
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert len(fakehost.calls(fake)) == 1
    assert "does not know the field(s) index" in nvidia["driver"]["nvidia_smi_error"]


def test_odd_output_placeholders_and_short_rows(host, run_module):
    fakehost.h100_root(host["root"])
    odd = ("0, 00000000:00:06.0, NVIDIA H100 80GB HBM3, [N/A], [Not Supported], 580.159.04, [N/A], 9.0, "
           "[Unknown Error], [N/A]\n"
           "Unable to determine the device handle for GPU0000:07:00.0: Unknown Error\n")
    smi(host, default=(odd, 0))
    result = run(host, run_module, {"root": str(host["root"])})
    gpu = facts_of(result)["gpus"][0]
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["uuid"] == "GPU-9d066124-a4f5-9f94-ff00-13f9f4666fd8"     # from /proc
    assert gpu["serial"] is None and gpu["memory_total_mib"] is None
    assert gpu["persistence_mode"] is None and gpu["mig_mode"] is None
    assert gpu["vbios_version"] == "96.00.DA.00.0C"                     # from /proc
    assert any("10 values for 18 fields" in w for w in result["warnings"])
    assert any("not a GPU row" in w for w in result["warnings"])


@pytest.mark.parametrize("dump, device, arch, cc, klass", [
    ("gt750m", "0x0fe9", "Kepler", "3.0", "0x030000"),
    ("tesla-p4", "0x1bb3", "Pascal", "6.1", "0x030200"),
    ("a100", "0x20b0", "Ampere", "8.0", "0x030200"),
    ("rtx4090", "0x2684", "Ada Lovelace", "8.9", "0x030000"),
])
def test_lspci_only_when_sysfs_missing(host, run_module, dump, device, arch, cc, klass):
    """No /sys/bus/pci: real lspci output (from the dumps) is the device list."""
    os.rmdir(str(host["root"] / "sys" / "bus" / "pci" / "devices"))
    lspci = fakehost.fake_command(host["bin"], "lspci", [], default=fakehost.load_lspci(dump, "vmm"))
    fake = smi(host, default=(NOT_LOADED, 9))
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert fakehost.calls(lspci) == ["-vmm -nn -D -k"]
    assert len(fakehost.calls(fake)) == 1
    assert nvidia["gpu_count"] == 1           # the RTX 4090's audio function is not a GPU
    gpu = nvidia["gpus"][0]
    assert (gpu["device_id"], gpu["architecture"], gpu["compute_capability"], gpu["class_id"]) == \
        (device, arch, cc, klass)
    assert gpu["pci_device_name"]
    assert gpu["driver_branches"]["recommended_branch"] in (470, 580)


def test_lspci_names_gpu_found_in_sysfs(host, run_module):
    fakehost.h100_root(host["root"])
    # An A100 listed by lspci but absent from sysfs is not invented.
    vmm = fakehost.H100_LSPCI_VMM + fakehost.load_lspci("a100", "vmm")[0]
    lspci = fakehost.fake_command(host["bin"], "lspci", [], default=(vmm, 0))
    smi(host)
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert len(fakehost.calls(lspci)) == 1
    assert nvidia["gpu_count"] == 1
    assert nvidia["gpus"][0]["pci_device_name"] == "GH100 [H100 SXM5 80GB]"


def test_vfio_and_nouveau_bound_gpus(host, run_module):
    root = host["root"]
    fakehost.add_pci_device(root, "0000:3b:00.0", {"vendor": "0x10de", "device": "0x1bb3",
                                                   "class": "0x030200", "numa_node": "0",
                                                   "current_link_speed": "8.0 GT/s PCIe",
                                                   "current_link_width": "16",
                                                   "max_link_speed": "8.0 GT/s PCIe",
                                                   "max_link_width": "16"}, driver="vfio-pci")
    fakehost.add_pci_device(root, "0000:01:00.0", {"vendor": "0x10de", "device": "0x0fe9",
                                                   "class": "0x030000"}, driver="nouveau")
    fakehost.add_pci_device(root, "0000:01:00.1", {"vendor": "0x10de", "device": "0x0e1b",
                                                   "class": "0x040300"}, driver="snd_hda_intel")
    fakehost.write(root, "proc/modules", "nouveau 2818048 1 - Live 0x0000000000000000\n")
    fake = smi(host, default=(NOT_LOADED, 9))
    result = run(host, run_module, {"root": str(root)})
    nvidia = facts_of(result)
    assert len(fakehost.calls(fake)) == 1
    assert [g["pci_bus_id"] for g in nvidia["gpus"]] == ["0000:01:00.0", "0000:3b:00.0"]
    assert [g["kernel_driver"] for g in nvidia["gpus"]] == ["nouveau", "vfio-pci"]
    assert nvidia["gpus"][1]["numa_node"] == 0
    assert nvidia["gpus"][1]["pcie_link"]["max_generation"] == 3
    assert nvidia["architectures"] == ["Kepler", "Pascal"]
    assert nvidia["driver"]["nouveau_loaded"] is True
    warnings = " ".join(result["warnings"])
    assert "vfio-pci" in warnings and "blacklist nouveau" in warnings


def test_jetson_host(host, run_module, monkeypatch):
    root = host["root"]
    fakehost.write(root, "etc/nv_tegra_release",
                   "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, "
                   "DATE: Tue Aug  1 19:57:35 UTC 2023\n")
    fakehost.write(root, "proc/device-tree/model", "NVIDIA Jetson AGX Orin Developer Kit\0")
    fakehost.write(root, "proc/device-tree/compatible", "nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0"
                   "nvidia,tegra234\0")
    monkeypatch.setattr(nvidia_gpu_facts.os, "uname", lambda: ("Linux", "orin", "5.10.120-tegra", "#1", "aarch64"))
    fake = smi(host)
    result = run(host, run_module, {"root": str(root)})
    nvidia = facts_of(result)
    assert fakehost.calls(fake) == []
    h = nvidia["host"]
    assert h["jetson"] is True and h["cuda_repo_arch"] is None
    assert (h["l4t_release"], h["l4t_revision"], h["l4t_version"]) == ("35", "4.1", "35.4.1")
    assert h["soc"] == "nvidia,tegra234" and h["igpu_architecture"] == "Ampere"
    assert h["model"] == "NVIDIA Jetson AGX Orin Developer Kit"
    assert h["raspberry_pi"] is False
    assert result["msg"].startswith("NVIDIA Jetson (L4T 35.4.1)")


def test_raspberry_pi_with_secure_boot_off(host, run_module, monkeypatch):
    root = host["root"]
    fakehost.write(root, "proc/device-tree/model", "Raspberry Pi 5 Model B Rev 1.0\0")
    fakehost.write(root, "proc/device-tree/compatible", "raspberrypi,5-model-b\0brcm,bcm2712\0")
    fakehost.write(root, nvidia_gpu_facts.EFI_SECURE_BOOT, b"\x06\x00\x00\x00\x00", mode="wb")
    monkeypatch.setattr(nvidia_gpu_facts.os, "uname", lambda: ("Linux", "pi", "6.6.51+rpt-rpi-2712", "#1", "aarch64"))
    nvidia = facts_of(run(host, run_module, {"root": str(root)}))
    h = nvidia["host"]
    assert h["raspberry_pi"] is True and h["raspberry_pi_model"] == "Raspberry Pi 5 Model B Rev 1.0"
    assert h["cuda_repo_arch"] == "sbsa" and h["jetson"] is False
    assert h["efi"] is True and h["secure_boot"] is False


def test_secure_boot_enabled_and_bios(host, run_module):
    root = host["root"]
    nvidia = facts_of(run(host, run_module, {"root": str(root)}))
    assert nvidia["host"]["efi"] is False and nvidia["host"]["secure_boot"] is False
    fakehost.write(root, nvidia_gpu_facts.EFI_SECURE_BOOT, b"\x06\x00\x00\x00\x01", mode="wb")
    nvidia = facts_of(run(host, run_module, {"root": str(root)}))
    assert nvidia["host"]["secure_boot"] is True
    os.remove(os.path.join(str(root), nvidia_gpu_facts.EFI_SECURE_BOOT))
    nvidia = facts_of(run(host, run_module, {"root": str(root)}))
    assert nvidia["host"]["secure_boot"] is None       # EFI, variable unreadable


DPKG_STATUS = """Package: docker.io
Status: install ok installed
Priority: optional
Version: 20.10.24+dfsg1-1+deb12u1

Package: containerd
Status: install ok installed
Version: 1.6.20~ds1-1+b1

Package: nvidia-container-toolkit
Status: install ok installed
Version: 1.17.8-1

Package: nvidia-container-toolkit-base
Status: install ok installed
Version: 1.17.8-1

Package: nvidia-docker2
Status: deinstall ok config-files
Version: 2.13.0-1

Package: cuda-drivers-580
Status: install ok installed
Version: 580.95.05-1
"""


def test_container_components_from_dpkg(host, run_module):
    root = host["root"]
    fakehost.write(root, "var/lib/dpkg/status", DPKG_STATUS)
    docker = fakehost.fake_command(host["bin"], "docker", [])
    ctk = fakehost.fake_command(host["bin"], "nvidia-ctk", [])
    nvidia = facts_of(run(host, run_module, {"root": str(root)}))
    container = nvidia["container"]
    assert container["docker"] == {"installed": True, "version": "20.10.24", "package": "docker.io",
                                   "package_version": "20.10.24+dfsg1-1+deb12u1", "path": docker}
    assert container["containerd"]["version"] == "1.6.20"
    assert container["containerd"]["path"] is None
    assert container["nvidia_ctk"]["version"] == "1.17.8" and container["nvidia_ctk"]["path"] == ctk
    assert container["nvidia_container_runtime"]["installed"] is True
    assert container["nvidia_docker2"]["installed"] is False     # only config files left
    assert container["crio"]["installed"] is False and container["podman"]["installed"] is False
    assert fakehost.calls(docker) == [] and fakehost.calls(ctk) == []    # versions without running them
    assert nvidia["driver"]["packages"] == {"cuda-drivers-580": "580.95.05-1"}
    assert nvidia["driver"]["installed"] is True


def test_container_components_from_rpm(host, run_module):
    rpm = fakehost.fake_command(host["bin"], "rpm", [], default=(
        "package docker-ce is not installed\ncontainerd.io\t1.7.27\npodman\t5.2.2\n", 1))
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert len(fakehost.calls(rpm)) == 1
    assert nvidia["container"]["containerd"]["version"] == "1.7.27"
    assert nvidia["container"]["podman"]["version"] == "5.2.2"
    assert nvidia["container"]["docker"]["installed"] is False


def test_explicit_missing_paths_warn(host, run_module):
    fakehost.h100_root(host["root"])
    result = run(host, run_module, {"root": str(host["root"]),
                                    "nvidia_smi_path": "/nonexistent/nvidia-smi",
                                    "lspci_path": "/nonexistent/lspci"})
    nvidia = facts_of(result)
    assert nvidia["driver"]["nvidia_smi_path"] is None
    assert any("/nonexistent/nvidia-smi is not an executable file" in w for w in result["warnings"])


def test_timeout_enforced(host, run_module, tmp_path):
    """A hanging nvidia-smi is stopped by coreutils timeout and reported, not waited on."""
    fakehost.h100_root(host["root"])
    fakehost.write(host["bin"], "nvidia-smi", "#!/bin/sh\nexec /bin/sleep 30\n")
    os.chmod(str(host["bin"] / "nvidia-smi"), 0o755)
    result = run(host, run_module, {"root": str(host["root"]), "timeout": 1})
    nvidia = facts_of(result)
    assert "did not answer in time" in nvidia["driver"]["nvidia_smi_error"]
    assert 900 < result["elapsed_ms"]["nvidia_smi"] < 5000
    assert nvidia["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"     # /proc still answered


def test_negative_timeout_fails(host, run_module):
    result = run(host, run_module, {"root": str(host["root"]), "timeout": -1})
    assert result["failed"] is True
    assert "timeout must be 0" in result["msg"]


def test_nvidia_smi_not_executable_format(host, run_module):
    """An nvidia-smi that exec() refuses (wrong architecture, half-written by an upgrade)."""
    fakehost.h100_root(host["root"])
    fakehost.write(host["bin"], "nvidia-smi", b"\x7fELF\x02\x01\x01garbage", mode="wb")
    os.chmod(str(host["bin"] / "nvidia-smi"), 0o755)
    result = run(host, run_module, {"root": str(host["root"])})
    if not nvidia_gpu_facts.run_command_can_raise(nvidia_gpu_facts.AnsibleModule):       # ansible-core < 2.13 fails the module itself
        assert result["failed"] is True
        return
    nvidia = facts_of(result)
    assert "nvidia-smi could not be run" in nvidia["driver"]["nvidia_smi_error"]
    assert "Exec format error" in nvidia["driver"]["nvidia_smi_error"]
    assert nvidia["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"


def test_driver_installed_from_kernel_module_file(host, run_module):
    """DKMS built the module but it is not loaded, and nvidia-smi is not installed."""
    fakehost.h100_root(host["root"], loaded=False)
    fakehost.write(host["root"], "lib/modules/%s/modules.dep" % os.uname()[2],
                   "kernel/fs/ext4/ext4.ko.zst: kernel/fs/jbd2/jbd2.ko.zst\nupdates/dkms/nvidia.ko.zst:\n")
    result = run(host, run_module, {"root": str(host["root"])})
    driver = facts_of(result)["driver"]
    assert driver["installed"] is True and driver["loaded"] is False
    assert "NVIDIA driver installed but not loaded" in result["msg"]


def test_dpkg_status_with_non_utf8_bytes(host, run_module):
    status = DPKG_STATUS.replace("Priority: optional", "Description: caf\xe9 tool").encode("latin-1")
    fakehost.write(host["root"], "var/lib/dpkg/status", status, mode="wb")
    container = facts_of(run(host, run_module, {"root": str(host["root"])}))["container"]
    assert container["docker"]["version"] == "20.10.24"


OS_FACT_KEYS = ("ansible_os_family", "ansible_distribution", "ansible_distribution_version",
                "ansible_distribution_major_version", "ansible_distribution_release", "ansible_architecture",
                "ansible_kernel", "ansible_system", "ansible_pkg_mgr", "ansible_service_mgr")


def test_os_facts_only_when_asked(host, run_module):
    result = run(host, run_module, {"root": str(host["root"])})
    assert sorted(result["ansible_facts"]) == ["nvidia"]
    assert "os_facts" not in result["elapsed_ms"]


def test_os_facts_as_setup_names_them(host, run_module, monkeypatch):
    """The facts of ansible-core's own collectors, with setup's ansible_ prefix.

    They describe the machine running the test (not the fake root);
    tests/integration/test_playbooks.py compares them with setup's on a real host.
    """
    monkeypatch.setenv("PATH", os.defpath)  # pkg_mgr and service_mgr look for apt, dnf, systemctl
    result = run(host, run_module, {"root": str(host["root"]), "gather_os_facts": True})
    facts = result["ansible_facts"]
    assert facts_of(result)["gpu_count"] == 0
    for key in OS_FACT_KEYS:
        assert key in facts, key
    assert facts["ansible_system"] == "Linux"
    assert facts["ansible_kernel"] == os.uname()[2]
    assert facts["ansible_architecture"] == os.uname()[4]
    assert facts["ansible_distribution_version"].startswith(facts["ansible_distribution_major_version"])
    assert facts["ansible_os_family"] in ("Debian", "RedHat", "Suse", "Archlinux", "Alpine", "Gentoo")
    assert facts["ansible_pkg_mgr"] in ("apt", "dnf", "dnf5", "yum", "zypper", "pacman", "apk", "portage", "unknown")
    assert result["elapsed_ms"]["os_facts"] >= 0


def test_run_command_can_raise_from_the_signature():
    class Old(object):
        def run_command(self, args, check_rc=False):
            handle_exceptions = True  # a local of that name is not a parameter
            return handle_exceptions

    class New(object):
        def run_command(self, args, check_rc=False, handle_exceptions=True):
            return handle_exceptions

    assert nvidia_gpu_facts.run_command_can_raise(Old) is False
    assert nvidia_gpu_facts.run_command_can_raise(New) is True
    from ansible.release import __version__ as core  # pylint: disable=import-outside-toplevel
    newer = tuple(int(part) for part in core.split(".")[:2]) >= (2, 13)
    assert nvidia_gpu_facts.run_command_can_raise(nvidia_gpu_facts.AnsibleModule) is newer


# ---- datacenter facts: NVSwitch, fabric, MIG, NVLink, RDMA, Grace -----------

HGX = "hgx-h100-8gpu-nvswitch-composed"


def test_h100_datacenter_facts_of_a_lone_gpu(host, run_module):
    """The real H100 capture: MIG supported and off, no fabric, no NVSwitch, no RDMA, not a Grace."""
    fakehost.h100_root(host["root"])
    smi(host)
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    gpu = nvidia["gpus"][0]
    assert gpu["mig"] == {"supported": True, "current": False, "pending": False, "reset_pending": False}
    assert gpu["fabric"] == {"state": None, "status": None, "clique_id": None, "cluster_uuid": None}
    assert gpu["c2c_mode"] is False and gpu["addressing_mode"] == "none"
    assert nvidia["nvswitch"] == {"count": 0, "generation": None, "nvlink_version": None, "devices": [],
                                  "driver_loaded": False, "management_ports": [],
                                  "fabric_manager_required": False, "nvlsm_required": False}
    assert nvidia["nvlink"] == {"nvswitch": False, "c2c": False, "multi_node": False, "fabric_states": {},
                                "fabric_ready": None}
    assert nvidia["rdma"] == {"count": 0, "devices": [], "ib_core_loaded": False, "nvidia_peermem_loaded": False}
    assert nvidia["host"]["grace"] is False and nvidia["host"]["superchip"] is None


def test_h200_real_capture(host, run_module):
    """The H200 host as captured (sysfs ids, /proc, every query field answered on its own)."""
    fakehost.h200_root(host["root"])
    fake = smi(host, default=(fakehost.h200_nvidia_smi_answer(FIELDS), 0))
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert fakehost.calls(fake) == ["--query-gpu=%s --format=csv,noheader,nounits" % ",".join(FIELDS)]
    gpu = nvidia["gpus"][0]
    assert (gpu["pci_bus_id"], gpu["device_id"], gpu["chip"], gpu["architecture"]) == \
        ("0000:00:06.0", "0x2335", "GH100", "Hopper")
    assert (gpu["name"], gpu["memory_total_mib"], gpu["vbios_version"]) == ("NVIDIA H200", 143771, "96.00.A5.00.1A")
    assert gpu["mig"] == {"supported": True, "current": False, "pending": False, "reset_pending": False}
    assert gpu["fabric"]["state"] is None and gpu["c2c_mode"] is False and gpu["addressing_mode"] == "none"
    switch = nvidia["nvswitch"]
    assert switch["driver_loaded"] is True          # the nvidia module carries the NVSwitch driver
    assert switch["count"] == 0 and switch["fabric_manager_required"] is False
    assert nvidia["rdma"]["count"] == 0 and nvidia["rdma"]["devices"] == []
    assert nvidia["rdma"]["nvidia_peermem_loaded"] is False
    assert nvidia["nvlink"]["fabric_ready"] is None
    assert nvidia["host"]["cpu"] == {"vendor": "GenuineIntel", "model": "Intel(R) Xeon(R) Processor", "core": None,
                                     "implementer": None, "part": None, "soc_id": None, "grace": False}
    assert nvidia["host"]["grace"] is False and nvidia["host"]["superchip"] is None
    assert result["msg"] == "1 NVIDIA GPU (Hopper); driver 580.159.04 (open kernel module) loaded"
    assert not result["warnings"]


def hgx(host, answer):
    fakehost.composed_root(host["root"], HGX)
    fakehost.write(host["root"], "proc/modules", "nvidia_peermem 16384 0 - Live 0x0\nib_core 520192 1 - Live 0x0\n"
                   "nvidia 14299136 1 nvidia_peermem, Live 0x0\n")
    fakehost.write(host["root"], "proc/driver/nvidia/version",
                   "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build\n")
    return smi(host, default=(fakehost.csv_answer(HGX, answer, FIELDS), 0))


def test_hgx_nvswitches_and_completed_fabric(host, run_module):
    fake = hgx(host, "smi-fabric-completed.csv")
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert len(fakehost.calls(fake)) == 1
    assert nvidia["gpu_count"] == 8 and [g["index"] for g in nvidia["gpus"]] == list(range(8))
    switch = nvidia["nvswitch"]
    assert (switch["count"], switch["generation"], switch["nvlink_version"]) == (4, 3, 4)
    assert switch["fabric_manager_required"] is True and switch["nvlsm_required"] is False
    assert switch["driver_loaded"] is True
    first = switch["devices"][0]
    assert first == {"pci_bus_id": "0000:05:00.0", "vendor_id": "0x10de", "device_id": "0x22a3",
                     "subsystem_vendor_id": None, "subsystem_device_id": None, "class_id": "0x068000",
                     "revision": None, "kernel_driver": "nvidia-nvswitch", "numa_node": None,
                     "pci_device_name": None, "generation": 3, "chip": "LS10", "nvlink_version": 4,
                     "gpu_architecture": "Hopper", "bios_version": "96.10.55.00.01",
                     "uuid": "SWX-00000000-0000-0000-0000-000000000000", "physical_id": 8}
    assert [d["physical_id"] for d in switch["devices"]] == [8, 9, 10, 11]
    assert all(g["fabric"] == {"state": "completed", "status": "Success", "clique_id": None, "cluster_uuid": None}
               for g in nvidia["gpus"])
    assert nvidia["nvlink"] == {"nvswitch": True, "c2c": False, "multi_node": False,
                                "fabric_states": {"completed": 8}, "fabric_ready": True}
    rdma = nvidia["rdma"]
    assert rdma["count"] == 10                      # 8 ConnectX-7 + 2 BlueField-3 functions, the VF left out
    assert "0000:aa:00.2" not in [d["pci_bus_id"] for d in rdma["devices"]]
    assert [d["rdma_device"] for d in rdma["devices"]][:2] == ["mlx5_0", "mlx5_1"]
    assert rdma["devices"][0]["class_id"] == "0x020700" and rdma["devices"][0]["kernel_driver"] == "mlx5_core"
    assert rdma["nvidia_peermem_loaded"] is True and rdma["ib_core_loaded"] is True
    assert result["msg"].startswith("8 NVIDIA GPUs (Hopper); 4 NVSwitches (generation 3); driver 580.159.04")
    assert not result["warnings"]


def test_hgx_fabric_manager_not_running(host, run_module):
    hgx(host, "smi-fabric-in-progress.csv")
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert nvidia["nvlink"]["fabric_states"] == {"in_progress": 8}
    assert nvidia["nvlink"]["fabric_ready"] is False
    fabric = [w for w in result["warnings"] if "NVLink fabric registration is in progress" in w]
    assert len(fabric) == 8 and "Fabric Manager" in fabric[0]


def test_hgx_fabric_failure_and_not_started(host, run_module):
    hgx(host, "smi-fabric-failed.csv")
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert nvidia["nvlink"]["fabric_states"] == {"completed": 7, "not_started": 1}
    assert nvidia["nvlink"]["fabric_ready"] is False
    assert nvidia["gpus"][6]["fabric"]["status"] == "Insufficient Resources"
    warnings = " ".join(result["warnings"])
    assert "completed with status 'Insufficient Resources'" in warnings
    assert "0000:df:00.0" in warnings and "registration is not started" in warnings


def test_hgx_mig_modes_and_pending_changes(host, run_module):
    hgx(host, "smi-mig-mixed.csv")
    result = run(host, run_module, {"root": str(host["root"])})
    gpus = facts_of(result)["gpus"]
    assert [g["mig"]["current"] for g in gpus] == [True, True, False, True, False, False, False, False]
    assert [g["mig"]["pending"] for g in gpus] == [True, True, True, False, False, False, False, False]
    assert [g["mig"]["reset_pending"] for g in gpus] == [False, False, True, True] + [False] * 4
    assert all(g["mig"]["supported"] for g in gpus)
    assert [g["mig_mode"] for g in gpus][:3] == [True, True, False]
    pending = [w for w in result["warnings"] if "MIG mode" in w]
    assert len(pending) == 2
    assert "0000:52:00.0" in pending[0] and "enabling is pending" in pending[0]
    assert "0000:61:00.0" in pending[1] and "disabling is pending" in pending[1]


def test_old_driver_has_no_fabric_facts(host, run_module):
    """A 470 driver is not asked for fabric or C2C fields: those facts are null, MIG is still known."""
    hgx(host, "smi-fabric-completed.csv")
    fakehost.write(host["root"], "proc/driver/nvidia/version",
                   "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.256.02  Thu May  2 14:37:44 UTC 2024\n")
    fake = smi(host, default=(fakehost.csv_answer(HGX, "smi-fabric-completed.csv", FIELDS_470), 0))
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert fakehost.calls(fake) == ["--query-gpu=%s --format=csv,noheader,nounits" % ",".join(FIELDS_470)]
    gpu = nvidia["gpus"][0]
    assert gpu["fabric"]["state"] is None and gpu["c2c_mode"] is None
    assert gpu["mig"]["supported"] is True
    assert nvidia["nvlink"]["fabric_ready"] is None
    assert nvidia["nvswitch"]["fabric_manager_required"] is True     # from PCI, whatever the driver


def test_nvswitches_from_lspci_without_sysfs(host, run_module):
    """No /sys/bus/pci: lspci lists the switches (and names them)."""
    os.rmdir(str(host["root"] / "sys" / "bus" / "pci" / "devices"))
    vmm = fakehost.H100_LSPCI_VMM + (
        "Slot:\t0000:05:00.0\nClass:\tBridge [0680]\nVendor:\tNVIDIA Corporation [10de]\n"
        "Device:\tGH100 [H100 NVSwitch] [22a3]\nRev:\ta1\nDriver:\tnvidia-nvswitch\n\n")
    fakehost.fake_command(host["bin"], "lspci", [], default=(vmm, 0))
    smi(host, default=(NOT_LOADED, 9))
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    switch = nvidia["nvswitch"]
    assert switch["count"] == 1 and switch["generation"] == 3
    assert switch["devices"][0]["pci_device_name"] == "GH100 [H100 NVSwitch]"
    assert switch["devices"][0]["kernel_driver"] == "nvidia-nvswitch"


def test_vpd_not_read_without_blackwell(host, run_module):
    """The management-port VPD is only consulted on a host with Blackwell datacenter GPUs."""
    hgx(host, "smi-fabric-completed.csv")
    vpd = fakehost.compose_vpd("Nvidia ConnectX-7", [("VA", "MLX:MN=MLNX:SMDL=SW_MNG")])
    fakehost.write(host["root"], "sys/bus/pci/devices/0000:1a:00.0/vpd", vpd, mode="wb")
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert nvidia["nvswitch"]["management_ports"] == []
    assert nvidia["rdma"]["count"] == 10


def test_hgx_b200_nvlink5_management_ports(host, run_module):
    name = "hgx-b200-8gpu-nvlink5-composed"
    fakehost.composed_root(host["root"], name)
    fakehost.write(host["root"], "proc/modules", "nvidia 14299136 0 - Live 0x0\n")
    smi(host, default=(fakehost.csv_answer(name, "smi-values.csv", FIELDS), 0))
    result = run(host, run_module, {"root": str(host["root"])})
    nvidia = facts_of(result)
    assert nvidia["architectures"] == ["Blackwell"] and nvidia["gpu_count"] == 8
    switch = nvidia["nvswitch"]
    assert switch["management_ports"] == ["mlx5_1", "mlx5_3"]
    assert (switch["count"], switch["generation"], switch["nvlink_version"]) == (0, 4, 5)
    assert switch["fabric_manager_required"] is True and switch["nvlsm_required"] is True
    rdma = nvidia["rdma"]
    assert len(rdma["devices"]) == 12 and rdma["count"] == 10
    assert [d["pci_bus_id"] for d in rdma["devices"] if d["nvswitch_management"]] == ["0000:05:00.1", "0000:06:00.1"]
    assert nvidia["nvlink"]["fabric_ready"] is True and nvidia["nvlink"]["nvswitch"] is True
    assert "NVLink 5 NVSwitches (2 management ports)" in result["msg"]


def gh200(host, monkeypatch, soc_id=True):
    name = "gh200-composed"
    fakehost.composed_root(host["root"], name)
    fakehost.write(host["root"], "proc/cpuinfo", fakehost.composed(name, "cpuinfo.txt"))
    if soc_id:
        fakehost.write(host["root"], "sys/devices/soc0/soc_id", fakehost.composed(name, "soc_id.txt"))
    fakehost.write(host["root"], "proc/modules", "nvidia 14299136 0 - Live 0x0\n")
    monkeypatch.setattr(nvidia_gpu_facts.os, "uname", lambda: ("Linux", "gh", "6.8.0-1013-nvidia-64k", "#1", "aarch64"))
    return smi(host, default=(fakehost.csv_answer(name, "smi-values.csv", FIELDS), 0))


def test_grace_hopper(host, run_module, monkeypatch):
    gh200(host, monkeypatch)
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    h = nvidia["host"]
    assert h["cpu"] == {"vendor": "NVIDIA", "model": "Grace", "core": "Neoverse-V2", "implementer": "0x41",
                        "part": "0xd4f", "soc_id": "jep106:036b:0241", "grace": True}
    assert h["grace"] is True and h["superchip"] == "Grace Hopper"
    assert h["cuda_repo_arch"] == "sbsa"
    gpu = nvidia["gpus"][0]
    assert gpu["pci_bus_id"] == "0009:01:00.0" and gpu["chip"] == "GH100"
    assert gpu["c2c_mode"] is True and gpu["addressing_mode"] == "ats"
    assert nvidia["nvlink"]["c2c"] is True and nvidia["nvswitch"]["count"] == 0


def test_grace_without_soc_id_from_the_gpu(host, run_module, monkeypatch):
    """Older kernels have no /sys/devices/soc0: Neoverse V2 plus a GH200 GPU settles it."""
    gh200(host, monkeypatch, soc_id=False)
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert nvidia["host"]["cpu"]["grace"] is None
    assert nvidia["host"]["grace"] is True and nvidia["host"]["superchip"] == "Grace Hopper"


def test_neoverse_v2_with_pcie_gpu_is_not_grace(host, run_module, monkeypatch):
    """Other Neoverse V2 servers (no SoC id, a PCIe H100, no C2C) are not taken for a Grace."""
    fakehost.h100_root(host["root"])
    fakehost.write(host["root"], "proc/cpuinfo", fakehost.composed("gh200-composed", "cpuinfo.txt"))
    monkeypatch.setattr(nvidia_gpu_facts.os, "uname", lambda: ("Linux", "arm", "6.8.0", "#1", "aarch64"))
    smi(host)
    nvidia = facts_of(run(host, run_module, {"root": str(host["root"])}))
    assert nvidia["host"]["cpu"]["core"] == "Neoverse-V2"
    assert nvidia["host"]["grace"] is False and nvidia["host"]["superchip"] is None
