#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nvidia_gpu_facts
short_description: Gather facts about NVIDIA GPUs, the NVIDIA driver, the host and container engines
version_added: "0.1.0"
description:
  - Sets C(ansible_facts.nvidia) for the roles of this collection.
  - Finds every NVIDIA display/3D PCI function (vendor C(0x10de), class C(0x03xxxx)) from sysfs
    (C(/sys/bus/pci/devices)) and, when C(lspci) is installed, C(lspci -vmm -nn -D -k) for names.
    The GPU architecture, chip and compute capability are known from the PCI device id even
    when no driver is installed.
  - When a GPU exists and C(nvidia-smi) is installed, runs it once
    (C(--query-gpu=... --format=csv,noheader,nounits)). Fields that the driver is too old to know
    (C(compute_cap) before the 510 branch) are left out by the driver version the kernel module
    reports. Only when that version cannot be read and C(nvidia-smi) rejects a field does the
    module retry once without the rejected fields.
  - On datacenter servers the same sysfs pass finds NVSwitches (NVIDIA, class C(0x0680)), whose
    generation follows from the PCI device id, and NVIDIA Networking (vendor C(0x15b3)) NICs;
    C(/proc/driver/nvidia-nvswitch) adds each switch's UUID and BIOS, C(/sys/class/infiniband)
    the RDMA devices. On hosts with Blackwell datacenter GPUs the VPD of the ConnectX functions
    says which are fourth-generation NVSwitch management ports (NVLink 5, which need NVLSM).
  - The same nvidia-smi query reads each GPU's MIG current and pending mode, NVLink fabric state
    and status (C(fabric.state), C(fabric.status), from branch 535), fabric clique and cluster and
    C2C mode (from 550) and addressing mode; fields a driver is too old for are not asked.
  - The first block of C(/proc/cpuinfo) and C(/sys/devices/soc0/soc_id) tell an NVIDIA Grace CPU,
    and with the GPUs a Grace Hopper or Grace Blackwell superchip.
  - Reads C(/proc/driver/nvidia/version) (open or proprietary kernel module), C(/proc/modules),
    C(/etc/nv_tegra_release) (Jetson), C(/proc/device-tree) (Jetson, Raspberry Pi), the
    C(SecureBoot) EFI variable and the package database (C(/var/lib/dpkg/status), or one
    C(rpm -q) call on RPM hosts) for container engines and NVIDIA container components.
  - Never fails for a missing GPU, driver, C(nvidia-smi) or C(lspci); what could not be learned
    is C(null) and explained in RV(msg) and warnings.
author:
  - gpufleet maintainers (@gpufleet)
options:
  nvidia_smi_path:
    description:
      - Path to C(nvidia-smi).
      - Default is to search C(PATH), then C(/usr/local/nvidia/bin) and the usual C(bin) and C(sbin) directories.
    type: path
  lspci_path:
    description:
      - Path to C(lspci) (pciutils).
      - Default is to search C(PATH), then C(/usr/local/nvidia/bin) and the usual C(bin) and C(sbin) directories.
    type: path
  timeout:
    description:
      - Seconds to wait for each command (C(nvidia-smi), C(lspci), C(rpm)) before it is killed.
      - V(0) waits without limit.
    type: int
    default: 10
  root:
    description:
      - Directory under which C(/sys), C(/proc), C(/etc) and C(/var/lib/dpkg) are read.
      - Meant for tests and for inspecting a mounted system image; commands are still the host's.
      - Does not apply to O(gather_os_facts), which always describes the running host.
    type: path
    default: /
  gather_os_facts:
    description:
      - Also set the operating-system facts that the roles of this collection use, collected in this
        module's process by ansible-core's own C(distribution), C(platform), C(pkg_mgr) and
        C(service_mgr) fact collectors, the same code M(ansible.builtin.setup) runs, so the values
        are identical (C(ansible_facts.distribution), C(os_family), C(distribution_major_version),
        C(architecture), C(kernel), C(pkg_mgr), C(service_mgr) and the rest of those collectors).
      - A play that needs no other facts can then turn C(gather_facts) off and save one module
        run per host; C(playbooks/site.yml) does.
    type: bool
    default: false
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Only reads; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  facts:
    support: full
    description: Sets C(ansible_facts.nvidia), and the operating-system facts with O(gather_os_facts).
notes:
  - Python 3.6 or newer on the managed host.
  - The CUDA driver API version is derived from the driver branch (NVIDIA's table of CUDA toolkit
    and driver versions), so it costs no extra C(nvidia-smi) call.
  - C(lspci -nn -mm -D -k) does not print the bound driver; sysfs gives it, and the verbose
    machine-readable form C(-vmm) is run instead.
seealso:
  - name: NVIDIA System Management Interface
    description: Documentation of nvidia-smi and its query fields.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
"""

EXAMPLES = r"""
- name: Gather NVIDIA facts
  gpufleet.nvidia.nvidia_gpu_facts:

- name: Show what was found
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.nvidia.gpu_count }} GPU(s)
      {{ ansible_facts.nvidia.architectures | join(', ') }},
      driver {{ ansible_facts.nvidia.driver.version | default('none', true) }}

- name: NVIDIA and operating-system facts in one module run (the play has gather_facts false)
  gpufleet.nvidia.nvidia_gpu_facts:
    gather_os_facts: true

- name: Use a nvidia-smi outside PATH and a short timeout
  gpufleet.nvidia.nvidia_gpu_facts:
    nvidia_smi_path: /opt/nvidia/bin/nvidia-smi
    timeout: 5

- name: Stop when an NVSwitch system's fabric is not up
  ansible.builtin.assert:
    that: ansible_facts.nvidia.nvlink.fabric_ready is not false
    fail_msg: >-
      fabric states {{ ansible_facts.nvidia.nvlink.fabric_states }}: is nvidia-fabricmanager running?
  when: ansible_facts.nvidia.nvswitch.fabric_manager_required

- name: Stop when the installed driver cannot drive a GPU
  ansible.builtin.assert:
    that: item.driver_branches.installed_driver_supported is not false
    fail_msg: "{{ item.pci_bus_id }}: {{ item.driver_branches.summary }}"
  loop: "{{ ansible_facts.nvidia.gpus }}"
  loop_control:
    label: "{{ item.pci_bus_id }}"
"""

RETURN = r"""
msg:
  description: One-line summary of what was found, and why something could not be learned.
  returned: always
  type: str
  sample: "1 NVIDIA GPU (Hopper); driver 580.159.04 (open kernel module) loaded"
commands:
  description: The commands the module ran, in order (at most one C(nvidia-smi), or two when an old binary needed the retry).
  returned: always
  type: list
  elements: str
  sample:
    - >-
      /usr/local/nvidia/bin/nvidia-smi
      --query-gpu=index,pci.bus_id,name,uuid,serial,driver_version,memory.total,compute_cap,persistence_mode,mig.mode.current,vbios_version,mig.mode.pending,fabric.state,fabric.status,fabric.cliqueId,fabric.clusterUuid,c2c.mode,addressing_mode
      --format=csv,noheader,nounits
elapsed_ms:
  description: Wall time in milliseconds spent by the module, in total and in each command.
  returned: always
  type: dict
  contains:
    total:
      description: Whole module run, commands included.
      type: float
    nvidia_smi:
      description: Time spent in nvidia-smi calls.
      type: float
    lspci:
      description: Time spent in the lspci call.
      type: float
    other_commands:
      description: Time spent in other commands (rpm).
      type: float
    os_facts:
      description: Time spent collecting the operating-system facts (with O(gather_os_facts) only).
      type: float
ansible_facts:
  description:
    - Facts set by the module.
    - With O(gather_os_facts), also the facts of ansible-core's C(distribution), C(platform),
      C(pkg_mgr) and C(service_mgr) collectors, named as M(ansible.builtin.setup) names them.
  returned: always
  type: dict
  contains:
    nvidia:
      description: NVIDIA GPUs, driver, host and container facts.
      type: dict
      contains:
        gpu_count:
          description: Number of NVIDIA display/3D PCI functions.
          type: int
          sample: 1
        architectures:
          description: Unique GPU architectures, oldest first.
          type: list
          elements: str
          sample: ["Hopper"]
        gpus:
          description: One entry per NVIDIA display/3D PCI function, sorted by PCI bus id.
          type: list
          elements: dict
          contains:
            index:
              description: nvidia-smi index; null when nvidia-smi did not answer.
              type: int
            pci_bus_id:
              description: PCI address, C(domain:bus:device.function) with a 4-digit domain.
              type: str
              sample: "0000:00:06.0"
            vendor_id:
              description: PCI vendor id.
              type: str
              sample: "0x10de"
            device_id:
              description: PCI device id.
              type: str
              sample: "0x2330"
            subsystem_vendor_id:
              description: PCI subsystem vendor id.
              type: str
            subsystem_device_id:
              description: PCI subsystem device id.
              type: str
            class_id:
              description: PCI class code (C(0x030000) VGA, C(0x030200) 3D controller).
              type: str
            revision:
              description: PCI revision id.
              type: str
            pci_device_name:
              description: Device name from the PCI ID database (lspci); null without lspci.
              type: str
              sample: "GH100 [H100 SXM5 80GB]"
            kernel_driver:
              description: Kernel driver bound to the function (C(nvidia), C(nouveau), C(vfio-pci)), null if none.
              type: str
            numa_node:
              description: NUMA node of the device; null when the platform reports none.
              type: int
            pcie_link:
              description: PCIe link state from sysfs.
              type: dict
              contains:
                current_speed:
                  description: Current link speed per lane.
                  type: str
                  sample: "32.0 GT/s"
                current_width:
                  description: Current link width (lanes).
                  type: int
                current_generation:
                  description: PCIe generation of the current speed.
                  type: int
                max_speed:
                  description: Maximum link speed per lane.
                  type: str
                max_width:
                  description: Maximum link width (lanes).
                  type: int
                max_generation:
                  description: PCIe generation of the maximum speed.
                  type: int
            architecture:
              description: GPU architecture (from nvidia-smi's compute capability, else the PCI device id).
              type: str
              sample: "Hopper"
            chip:
              description: Chip family from the PCI device id.
              type: str
              sample: "GH100"
            compute_capability:
              description: CUDA compute capability.
              type: str
              sample: "9.0"
            compute_capability_source:
              description: Where the compute capability came from, C(nvidia-smi) or C(pci_id).
              type: str
            driver_branches:
              description: Driver branch support for the GPU's architecture (null if the architecture is unknown).
              type: dict
              contains:
                min_branch:
                  description: First driver branch that drives the architecture.
                  type: int
                max_branch:
                  description: Last driver branch that supports it; null while still supported.
                  type: int
                open_kernel:
                  description: Open kernel modules C(no), C(yes) (either kernel module type) or C(required).
                  type: str
                max_cuda:
                  description: Newest CUDA version that still builds for it; null for current.
                  type: str
                recommended_branch:
                  description: Branch installed when nothing else is asked for.
                  type: int
                installed_driver_supported:
                  description: Whether the installed driver's branch supports the GPU; null without driver.
                  type: bool
                summary:
                  description: Human summary of the support range.
                  type: str
            name:
              description: Product name reported by the driver.
              type: str
              sample: "NVIDIA H100 80GB HBM3"
            uuid:
              description: GPU UUID reported by the driver.
              type: str
            serial:
              description: Board serial number (null on consumer GPUs).
              type: str
            memory_total_mib:
              description: Total framebuffer memory in MiB.
              type: int
            persistence_mode:
              description: Whether persistence mode is enabled; null if unknown.
              type: bool
            mig_mode:
              description: Whether MIG mode is enabled; null if the GPU has no MIG (same as RV(ansible_facts.nvidia.gpus[].mig.current)).
              type: bool
            mig:
              description: MIG (Multi-Instance GPU) modes from nvidia-smi.
              type: dict
              contains:
                supported:
                  description: True when nvidia-smi printed a MIG mode, false when it printed C([N/A]) (no MIG on this GPU), null when not asked or no answer.
                  type: bool
                current:
                  description: Whether MIG mode is enabled now.
                  type: bool
                pending:
                  description: The MIG mode after the next GPU reset.
                  type: bool
                reset_pending:
                  description: The pending mode differs from the current one; a GPU reset or reboot applies it.
                  type: bool
            fabric:
              description:
                - NVLink fabric registration of the GPU (NVSwitch systems, Hopper and newer), from nvidia-smi.
                - Every key is null on GPUs without a fabric (C(N/A)) and on drivers older than 535 (550 for the clique and cluster).
              type: dict
              contains:
                state:
                  description: C(completed), C(in_progress), C(not_started) or C(not_supported).
                  type: str
                  sample: completed
                status:
                  description: C(Success) or NVML's error text once the state is completed.
                  type: str
                  sample: Success
                clique_id:
                  description: Fabric clique of the GPU (multi-node NVLink).
                  type: int
                cluster_uuid:
                  description: Fabric cluster UUID of the GPU (multi-node NVLink).
                  type: str
            c2c_mode:
              description: Whether the GPU is joined to the CPU by NVLink-C2C (Grace superchips); null before driver 550 or when not supported.
              type: bool
            addressing_mode:
              description: How the GPU addresses system memory, C(hmm), C(ats) or C(none); null if unknown.
              type: str
            vbios_version:
              description: Video BIOS version.
              type: str
            minor_number:
              description: Minor number of C(/dev/nvidiaN).
              type: int
        driver:
          description: NVIDIA driver state.
          type: dict
          contains:
            installed:
              description: Whether an NVIDIA driver is installed (module loaded, nvidia-smi, a kernel module or a driver package).
              type: bool
            loaded:
              description: Whether the C(nvidia) kernel module is loaded.
              type: bool
            version:
              description: Driver version.
              type: str
              sample: "580.159.04"
            branch:
              description: Driver branch (major version).
              type: int
              sample: 580
            kernel_module:
              description: Kernel module type, C(open) or C(proprietary); null when not loaded.
              type: str
            cuda_version:
              description: CUDA driver API version the driver provides.
              type: str
              sample: "13.0"
            nouveau_loaded:
              description: Whether the nouveau module is loaded.
              type: bool
            nvidia_smi_path:
              description: Path of nvidia-smi, null if not found.
              type: str
            nvidia_smi_error:
              description: Why nvidia-smi gave no answer (null when it answered or was not run).
              type: str
            packages:
              description: Installed driver packages (name to version) from the package database.
              type: dict
        host:
          description: Host facts that decide how to install.
          type: dict
          contains:
            machine:
              description: Kernel machine name.
              type: str
              sample: "x86_64"
            cuda_repo_arch:
              description: Architecture directory of NVIDIA's CUDA repository (C(x86_64), C(sbsa)); null for Jetson.
              type: str
            jetson:
              description: Whether the host is an NVIDIA Jetson (L4T).
              type: bool
            l4t_release:
              description: L4T major release, e.g. C(35).
              type: str
            l4t_revision:
              description: L4T revision, e.g. C(4.1).
              type: str
            l4t_version:
              description: Full L4T version, e.g. C(35.4.1).
              type: str
            soc:
              description: Tegra SoC from the device tree (C(nvidia,tegra234)).
              type: str
            igpu_architecture:
              description: Architecture of a Jetson's integrated GPU.
              type: str
            model:
              description: Device-tree model string (Jetson, Raspberry Pi, other boards).
              type: str
            raspberry_pi:
              description: Whether the host is a Raspberry Pi.
              type: bool
            raspberry_pi_model:
              description: Raspberry Pi model string.
              type: str
            efi:
              description: Whether the host booted with UEFI.
              type: bool
            secure_boot:
              description: Whether UEFI Secure Boot is enabled; false on BIOS boot; null if unreadable.
              type: bool
            cpu:
              description: The CPU, from the first block of C(/proc/cpuinfo) and C(/sys/devices/soc0/soc_id).
              type: dict
              contains:
                vendor:
                  description: C(GenuineIntel), C(AuthenticAMD), C(NVIDIA) (SoC id), C(Arm) ...
                  type: str
                model:
                  description: Model name (x86), C(Grace), or the Arm core name.
                  type: str
                core:
                  description: Arm core from the implementer and part numbers (C(Neoverse-V2) ...).
                  type: str
                implementer:
                  description: Arm CPU implementer (C(0x41) Arm).
                  type: str
                part:
                  description: Arm CPU part number (C(0xd4f) Neoverse V2).
                  type: str
                soc_id:
                  description: SMCCC SoC id (C(jep106:036b:0241) for Grace).
                  type: str
                grace:
                  description: What the CPU facts alone say (null when a Neoverse V2 has no SoC id); see RV(ansible_facts.nvidia.host.grace).
                  type: bool
            grace:
              description: Whether the CPU is an NVIDIA Grace (from the SoC id, or from a superchip GPU or NVLink-C2C when there is no SoC id).
              type: bool
            superchip:
              description: C(Grace Hopper), C(Grace Blackwell), C(Grace) (CPU superchip), or null.
              type: str
        nvswitch:
          description: NVSwitches and what they need.
          type: dict
          contains:
            count:
              description: NVSwitch PCI functions (NVIDIA, class C(0x0680)); fourth-generation switches are no PCI function and are not counted.
              type: int
            generation:
              description: Newest NVSwitch generation (2 A100, 3 H100/H200, 4 NVLink 5 from management ports); null when none or unknown.
              type: int
            nvlink_version:
              description: NVLink version of that generation.
              type: int
            devices:
              description: One entry per NVSwitch PCI function, sorted by bus id.
              type: list
              elements: dict
              contains:
                pci_bus_id:
                  description: PCI address.
                  type: str
                device_id:
                  description: PCI device id (C(0x22a3) H100 NVSwitch).
                  type: str
                generation:
                  description: NVSwitch generation from the device id; null for an unknown id.
                  type: int
                chip:
                  description: C(LR10) (generation 2) or C(LS10) (generation 3).
                  type: str
                nvlink_version:
                  description: NVLink version.
                  type: int
                gpu_architecture:
                  description: GPU architecture the switch generation serves.
                  type: str
                kernel_driver:
                  description: Bound driver (C(nvidia-nvswitch)).
                  type: str
                uuid:
                  description: Switch UUID from C(/proc/driver/nvidia-nvswitch) (C(SWX-...)).
                  type: str
                bios_version:
                  description: Switch BIOS version from C(/proc/driver/nvidia-nvswitch).
                  type: str
                physical_id:
                  description: Physical location id from C(/proc/driver/nvidia-nvswitch).
                  type: int
            driver_loaded:
              description: Whether C(/proc/driver/nvidia-nvswitch) exists (the nvidia module carries the NVSwitch driver).
              type: bool
            management_ports:
              description: RDMA devices that are fourth-generation NVSwitch management ports (ConnectX VPD C(SMDL=SW_MNG)).
              type: list
              elements: str
            fabric_manager_required:
              description: NVSwitches are present, so CUDA needs NVIDIA Fabric Manager.
              type: bool
            nvlsm_required:
              description: Fourth-generation NVSwitches, so Fabric Manager also needs the NVLink Subnet Manager.
              type: bool
        nvlink:
          description: What the GPUs' fabric fields and the NVSwitch facts say together.
          type: dict
          contains:
            nvswitch:
              description: The GPUs are joined by NVSwitches.
              type: bool
            c2c:
              description: A GPU is joined to the CPU by NVLink-C2C.
              type: bool
            multi_node:
              description: A GPU belongs to a multi-node NVLink cluster (non-zero fabric cluster UUID; GB200/GB300 NVL racks).
              type: bool
            fabric_states:
              description: Number of GPUs per fabric state.
              type: dict
              sample: {"completed": 8}
            fabric_ready:
              description: Every GPU with a fabric state has completed registration with status Success; null when no GPU reports one.
              type: bool
        rdma:
          description: RDMA-capable NICs for GPUDirect RDMA.
          type: dict
          contains:
            count:
              description: RDMA NICs, NVSwitch management ports left out.
              type: int
            devices:
              description:
                - NVIDIA Networking (Mellanox) network physical functions and every C(/sys/class/infiniband) device,
                  with C(pci_bus_id), C(vendor_id), C(device_id), C(class_id), C(kernel_driver), C(numa_node),
                  C(rdma_device) (C(mlx5_0), null without the RDMA driver) and C(nvswitch_management).
              type: list
              elements: dict
            ib_core_loaded:
              description: Whether the C(ib_core) module is loaded.
              type: bool
            nvidia_peermem_loaded:
              description: Whether the C(nvidia_peermem) module (GPUDirect RDMA) is loaded.
              type: bool
        container:
          description: >-
            Container engines and NVIDIA container components. Keys C(docker), C(containerd), C(crio),
            C(podman), C(nvidia_ctk), C(nvidia_container_runtime), C(nvidia_docker2), each with
            C(installed) (bool), C(version) (upstream version from the package database, or null),
            C(package), C(package_version) and C(path) (binary on PATH, or null).
          type: dict
"""

import io
import os
import threading
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.nvidia.plugins.module_utils import (
    _gpu_arch as gpu_arch,
    _gpu_facts as gpu_facts,
    _host_facts as host_facts,
    _lspci as lspci,
    _nvidia_smi as nvidia_smi,
    _pci as pci,
)

# Searched after PATH: NVIDIA's container-host location, then the usual system dirs.
EXTRA_BIN_DIRS = ["/usr/local/nvidia/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
EFI_SECURE_BOOT = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0ac7d8c1ec2"


def run_command_can_raise(module_class):
    """ansible-core 2.13+ can let run_command raise instead of failing the module."""
    # from the code object, not inspect.signature: importing inspect costs
    # more than this module's own work
    code = getattr(module_class.run_command, "__code__", None)
    if code is None:
        return False
    return "handle_exceptions" in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]


class Gatherer(object):
    """Reads files and runs commands for one facts run; parsing lives in module_utils."""

    def __init__(self, module):
        self.module = module
        self.root = module.params["root"] or "/"
        self.timeout = module.params["timeout"]
        self.commands = []
        self.elapsed = {"nvidia_smi": 0.0, "lspci": 0.0, "other_commands": 0.0}
        self.warnings = []
        self._path_dirs = None
        self.can_raise = run_command_can_raise(type(module))

    # ---- input -------------------------------------------------------
    def path(self, relative):
        return os.path.join(self.root, relative)

    def read(self, relative, binary=False):
        """File content (text as UTF-8, whatever the locale), or ``None`` when unreadable."""
        try:
            if binary:
                with open(self.path(relative), "rb") as handle:
                    return handle.read()
            with io.open(self.path(relative), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def find_binary(self, name, explicit=None):
        if explicit:
            if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
                return explicit
            self.warnings.append("%s is not an executable file" % explicit)
            return None
        if self._path_dirs is None:
            dirs = os.environ.get("PATH", "").split(os.pathsep) + EXTRA_BIN_DIRS
            self._path_dirs = [d for i, d in enumerate(dirs) if d and d not in dirs[:i]]
        for directory in self._path_dirs:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    def run(self, argv, bucket):
        """Run a command, killed after ``timeout`` seconds; returns (rc, stdout, stderr).

        The timeout is a timer armed on the process run_command starts (no
        coreutils ``timeout`` wrapper: wrapped, one call in a few dozen
        stalled a full second in run_command's select loop; see
        tests/perf/bench_command_timeout.py).  A killed command gives rc 124.
        """
        self.commands.append(" ".join(argv))
        state = {"timer": None, "expired": False}

        def expire(process):
            state["expired"] = True
            try:
                process.kill()
            except OSError:
                pass

        def arm(process):
            if self.timeout > 0:
                state["timer"] = threading.Timer(self.timeout, expire, (process,))
                state["timer"].daemon = True
                state["timer"].start()

        options = {"environ_update": {"LC_ALL": "C"}, "before_communicate_callback": arm}
        if self.can_raise:
            # Report "Text file busy" (nvidia-smi replaced by an upgrade) or
            # "Exec format error" as facts instead of failing the module.
            options["handle_exceptions"] = False
        started = time.time()
        try:
            rc, out, err = self.module.run_command(argv, **options)
        except (IOError, OSError) as error:
            rc, out, err = 126, "", "%s: %s" % (argv[0], error)
        finally:
            if state["timer"] is not None:
                state["timer"].cancel()
        self.elapsed[bucket] += (time.time() - started) * 1000.0
        if state["expired"]:
            rc = 124
        return rc, out or "", err or ""

    # ---- sysfs -------------------------------------------------------
    def sysfs_pci(self):
        """NVIDIA display functions, NVSwitches and NVIDIA Networking NICs from sysfs.

        Returns ``{"gpus": [...], "nvswitches": [...], "nics": [...]}`` of
        :func:`pci.device_from_sysfs` results, or ``None`` when sysfs has no PCI
        bus.  Only the ``vendor`` file is read for other functions.
        """
        base = self.path("sys/bus/pci/devices")
        try:
            entries = sorted(os.listdir(base))
        except OSError:
            return None
        found = {"gpus": [], "nvswitches": [], "nics": []}
        for entry in entries:
            directory = os.path.join("sys/bus/pci/devices", entry)
            vendor = (self.read(os.path.join(directory, "vendor")) or "").strip().lower()
            if vendor not in (pci.NVIDIA_VENDOR_ID, pci.MELLANOX_VENDOR_ID):
                continue
            klass = (self.read(os.path.join(directory, "class")) or "").strip()
            if pci.is_nvidia_display(vendor, klass):
                kind = "gpus"
            elif pci.is_nvswitch(vendor, klass):
                kind = "nvswitches"
            elif pci.is_mellanox_network(vendor, klass) and not os.path.lexists(self.path(os.path.join(directory, "physfn"))):
                kind = "nics"      # physical functions only: SR-IOV virtual functions add nothing
            else:
                continue
            found[kind].append(self.pci_device(entry, directory, self.ATTRIBUTES[kind]))
        return found

    # sysfs attribute files read per kind of function: GPUs all (PCIe link
    # included), NVSwitches their ids, NICs only what the RDMA facts show.
    ATTRIBUTES = {
        "gpus": pci.SYSFS_ATTRIBUTES,
        "nvswitches": pci.SYSFS_ATTRIBUTES[:7],
        "nics": ("vendor", "device", "class", "numa_node"),
    }

    def pci_device(self, entry, directory, names):
        attributes = {}
        for name in names:
            value = self.read(os.path.join(directory, name))
            if value is not None:
                attributes[name] = value.strip()
        try:
            driver_link = os.readlink(self.path(os.path.join(directory, "driver")))
        except OSError:
            driver_link = None
        return pci.device_from_sysfs(entry, attributes, driver_link)

    def proc_nvswitches(self):
        """``(driver present, {bus id: information})`` from ``/proc/driver/nvidia-nvswitch``."""
        base = "proc/driver/nvidia-nvswitch"
        if not os.path.isdir(self.path(base)):
            return False, {}
        try:
            entries = os.listdir(self.path(os.path.join(base, "devices")))
        except OSError:
            entries = []
        found = {}
        for entry in entries:
            text = self.read(os.path.join(base, "devices", entry, "information"))
            if text is not None:
                found[entry] = host_facts.parse_nvswitch_information(text)
        return True, found

    def infiniband(self, read_vpd, known):
        """RDMA devices of ``/sys/class/infiniband`` with their PCI function.

        ``known``: PCI functions already read (bus id -> device facts), not read
        again.  The VPD (to find NVSwitch management ports) is read only when
        ``read_vpd``: a VPD read goes to the device and takes milliseconds.
        """
        base = "sys/class/infiniband"
        try:
            entries = sorted(os.listdir(self.path(base)))
        except OSError:
            return []
        devices = []
        for name in entries:
            device_dir = os.path.join(base, name, "device")
            try:
                bus_id = pci.normalize_bus_id(os.path.basename(os.readlink(self.path(device_dir))))
            except OSError:
                bus_id = None
            if bus_id is None:
                continue        # software RDMA (rxe, siw): no PCI function
            if bus_id in known:
                info = dict(known[bus_id])
            else:
                info = self.pci_device(bus_id, device_dir, self.ATTRIBUTES["nics"])
            info["name"] = name
            info["nvswitch_management"] = False
            if read_vpd and info["vendor_id"] == pci.MELLANOX_VENDOR_ID:
                info["nvswitch_management"] = pci.vpd_is_nvswitch_management(
                    self.read(os.path.join(device_dir, "vpd"), binary=True))
            devices.append(info)
        return devices

    def read_head(self, relative, size=4096):
        """The first ``size`` bytes of a file as text (``/proc/cpuinfo`` is generated per CPU on read)."""
        try:
            with io.open(self.path(relative), "rb") as handle:
                return handle.read(size).decode("utf-8", "replace")
        except (IOError, OSError):
            return None

    def proc_gpus(self):
        base = "proc/driver/nvidia/gpus"
        try:
            entries = os.listdir(self.path(base))
        except OSError:
            return {}
        found = {}
        for entry in entries:
            text = self.read(os.path.join(base, entry, "information"))
            if text is not None:
                found[entry] = host_facts.parse_gpu_information(text)
        return found

    # ---- commands ----------------------------------------------------
    def lspci_devices(self, lspci_bin):
        """Every PCI function lspci lists (parsed); empty when lspci failed."""
        rc, out, err = self.run([lspci_bin, "-vmm", "-nn", "-D", "-k"], "lspci")
        if rc != 0:
            self.warnings.append("lspci failed (rc=%s): %s" % (rc, (err or out).strip()[:200]))
            return []
        return lspci.parse_vmm(out)

    def nvidia_smi(self, smi_bin, driver_version):
        """One query (two only if an unknown-version nvidia-smi rejects a field): (rows, error or None)."""
        fields = nvidia_smi.fields_for_driver(driver_version)
        calls = 0
        while True:
            calls += 1
            rc, out, err = self.run([smi_bin] + nvidia_smi.query_arguments(fields), "nvidia_smi")
            failure = nvidia_smi.classify_failure(rc, out + "\n" + err)
            if failure is None:
                rows, warnings = nvidia_smi.parse_query_output(out, fields)
                self.warnings.extend(warnings)
                return rows, None
            if failure["kind"] == "invalid_field" and calls == 1:
                reduced = nvidia_smi.fields_after_rejection(fields, failure["fields"])
                if reduced:
                    fields = reduced
                    continue
            message = failure["message"]
            if failure.get("detail"):
                message += " (nvidia-smi said: %s)" % failure["detail"]
            return [], message


def gather(module):
    started = time.time()
    g = Gatherer(module)
    params = module.params

    # Driver state from the kernel, before any command.
    proc_version = g.read("proc/driver/nvidia/version")
    parsed_version = host_facts.parse_driver_version(proc_version)
    module_version = (g.read("sys/module/nvidia/version") or "").strip() or None
    loaded_modules = host_facts.parse_proc_modules(g.read("proc/modules"))
    kernel_version = parsed_version["version"] or module_version

    # GPUs (and NVSwitches, NICs) from sysfs, the driver's /proc view, then lspci for names.
    sysfs = g.sysfs_pci()
    sysfs_devices = sysfs["gpus"] if sysfs is not None else None
    proc_gpus = g.proc_gpus()
    lspci_bin = g.find_binary("lspci", params["lspci_path"])
    lspci_all = []
    if lspci_bin and (sysfs_devices is None or sysfs_devices):
        lspci_all = g.lspci_devices(lspci_bin)
    lspci_devices = lspci.nvidia_display_devices(lspci_all)
    if sysfs_devices is None and not lspci_bin:
        g.warnings.append("%s is not readable and lspci is not installed: PCI devices cannot be listed"
                          % g.path("sys/bus/pci/devices"))
    have_gpu = bool(sysfs_devices or lspci_devices or proc_gpus)

    # One nvidia-smi call, only when there is an NVIDIA GPU.
    smi_bin = g.find_binary("nvidia-smi", params["nvidia_smi_path"])
    smi_rows, smi_error = [], None
    if smi_bin and have_gpu:
        smi_rows, smi_error = g.nvidia_smi(smi_bin, kernel_version)

    smi_version = next((row.get("driver_version") for row in smi_rows if row.get("driver_version")), None)
    version = kernel_version or smi_version

    # Packages (one dpkg status read, or one rpm call).
    dpkg_status = g.read("var/lib/dpkg/status")
    package_source = None
    container_pkgs, driver_pkgs = {}, {}
    if dpkg_status is not None:
        package_source = "dpkg"
        names = "|".join(name.replace(".", r"\.") for name in host_facts.container_packages())
        installed = host_facts.parse_dpkg_status(dpkg_status, names + "|" + host_facts.DRIVER_PACKAGE_PATTERN)
        wanted = set(host_facts.container_packages())
        container_pkgs = dict((k, v) for k, v in installed.items() if k in wanted)
        driver_pkgs = dict((k, v) for k, v in installed.items() if k not in wanted)
    else:
        rpm_bin = g.find_binary("rpm")
        if rpm_bin:
            package_source = "rpm"
            query = [rpm_bin, "-q", "--qf", "%{NAME}\t%{VERSION}\n"] + host_facts.container_packages()
            _rc, out, _err = g.run(query, "other_commands")
            container_pkgs = host_facts.parse_rpm_query(out)
    binaries = {}
    for _key, names, _pkgs in host_facts.CONTAINER_COMPONENTS:
        for name in names:
            binaries[name] = g.find_binary(name)

    loaded = proc_version is not None or "nvidia" in loaded_modules
    release = os.uname()[2]
    modules_dep = g.read(os.path.join("lib/modules", release, "modules.dep"), binary=True) or b""
    kernel_module_present = b"/nvidia.ko" in modules_dep
    driver = {
        "installed": bool(loaded or smi_bin or kernel_module_present or driver_pkgs),
        "loaded": loaded,
        "version": version,
        "branch": nvidia_smi.driver_branch(version),
        "kernel_module": parsed_version["kernel_module"],
        "cuda_version": host_facts.cuda_version_for_driver(version),
        "nouveau_loaded": "nouveau" in loaded_modules,
        "nvidia_smi_path": smi_bin,
        "nvidia_smi_error": smi_error,
        "packages": driver_pkgs,
    }

    # Host.
    machine = os.uname()[4]
    tegra = host_facts.parse_tegra_release(g.read("etc/nv_tegra_release"))
    model_list = host_facts.device_tree_strings(g.read("proc/device-tree/model", binary=True))
    compatible = host_facts.device_tree_strings(g.read("proc/device-tree/compatible", binary=True))
    model = model_list[0] if model_list else None
    soc = host_facts.tegra_soc(compatible)
    jetson = bool(tegra) or soc is not None
    pi_model = host_facts.raspberry_pi_model(model, compatible)
    efi = os.path.isdir(g.path("sys/firmware/efi"))
    secure_boot = host_facts.secure_boot_from_efivar(g.read(EFI_SECURE_BOOT, binary=True)) if efi else False
    host = {
        "machine": machine,
        "cuda_repo_arch": host_facts.cuda_repo_arch(machine, jetson),
        "jetson": jetson,
        "l4t_release": tegra["release"] if tegra else None,
        "l4t_revision": tegra["revision"] if tegra else None,
        "l4t_version": tegra["version"] if tegra else None,
        "soc": soc,
        "igpu_architecture": host_facts.TEGRA_SOCS.get(soc) if soc else None,
        "model": model,
        "raspberry_pi": pi_model is not None,
        "raspberry_pi_model": pi_model,
        "efi": efi,
        "secure_boot": secure_boot,
    }

    gpus = gpu_facts.merge_gpus(sysfs_devices, lspci_devices, proc_gpus, smi_rows, driver["branch"])

    # Datacenter servers: NVSwitches, RDMA NICs, Grace.
    switch_driver, proc_switches = g.proc_nvswitches()
    # Fourth-generation NVSwitches come only with Blackwell datacenter GPUs; only then
    # is the VPD of the ConnectX functions read to find their management ports.
    nics = sysfs["nics"] if sysfs is not None else []
    ib_devices = g.infiniband(any(gpu_arch.nvlink5_capable(gpu["device_id"]) for gpu in gpus),
                              dict((nic["pci_bus_id"], nic) for nic in nics))
    nvswitch = gpu_facts.nvswitch_facts(
        sysfs["nvswitches"] if sysfs is not None else None, lspci.nvswitch_devices(lspci_all),
        proc_switches, switch_driver, [d["name"] for d in ib_devices if d["nvswitch_management"]])
    cpu = host_facts.cpu_facts(machine, g.read_head("proc/cpuinfo"), g.read("sys/devices/soc0/soc_id"))
    host["cpu"] = cpu
    host["grace"], host["superchip"] = gpu_facts.superchip(cpu, gpus)
    facts = {
        "gpu_count": len(gpus),
        "architectures": gpu_facts.architectures(gpus),
        "gpus": gpus,
        "driver": driver,
        "host": host,
        "container": host_facts.container_facts(binaries, container_pkgs, package_source),
        "nvswitch": nvswitch,
        "nvlink": gpu_facts.nvlink_facts(gpus, nvswitch),
        "rdma": gpu_facts.rdma_facts(nics, ib_devices, loaded_modules),
    }

    warnings = list(g.warnings)
    if have_gpu and not smi_bin:
        warnings.append("nvidia-smi not found (searched PATH and %s): serial, memory and "
                        "compute capability from the driver are unknown" % ", ".join(EXTRA_BIN_DIRS))
    elif smi_error:
        warnings.append("nvidia-smi gave no GPU data: %s" % smi_error)
    warnings.extend(gpu_facts.gpu_warnings(gpus, driver, smi_bin is not None and smi_error is None))
    if driver["nouveau_loaded"] and gpus:
        warnings.append("the nouveau module is loaded; the NVIDIA driver needs it blacklisted")

    elapsed = dict((key, round(value, 2)) for key, value in g.elapsed.items())
    elapsed["total"] = round((time.time() - started) * 1000.0, 2)
    return facts, warnings, g.commands, elapsed


def gather_os_facts(module):
    """The facts setup's distribution, platform, pkg_mgr and service_mgr collectors return.

    Run here the way setup runs them (``ansible_`` prefix, each collector
    seeing what the ones before it found), so that a play can skip setup.
    Imported only when asked for: the facts package loads every collector
    (about 0.1 s of CPU on a small host), which a plain facts run should not pay.
    """
    # pylint: disable=import-outside-toplevel
    from ansible.module_utils.facts.namespace import PrefixFactNamespace
    from ansible.module_utils.facts.system.distribution import DistributionFactCollector
    from ansible.module_utils.facts.system.pkg_mgr import PkgMgrFactCollector
    from ansible.module_utils.facts.system.platform import PlatformFactCollector
    from ansible.module_utils.facts.system.service_mgr import ServiceMgrFactCollector

    namespace = PrefixFactNamespace(namespace_name="ansible", prefix="ansible_")
    collected = {}
    # In this order: pkg_mgr reads os_family, service_mgr reads system and distribution.
    for collector_class in (PlatformFactCollector, DistributionFactCollector, PkgMgrFactCollector,
                            ServiceMgrFactCollector):
        found = collector_class(namespace=namespace).collect_with_namespace(module=module, collected_facts=collected)
        collected.update(found)
    return collected


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nvidia_smi_path=dict(type="path"),
            lspci_path=dict(type="path"),
            timeout=dict(type="int", default=10),
            root=dict(type="path", default="/"),
            gather_os_facts=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if module.params["timeout"] < 0:
        module.fail_json(msg="timeout must be 0 (no limit) or a positive number of seconds, got %d"
                         % module.params["timeout"])
    facts, warnings, commands, elapsed = gather(module)
    for warning in warnings:
        module.warn(warning)
    ansible_facts = {"nvidia": facts}
    if module.params["gather_os_facts"]:
        started = time.time()
        ansible_facts.update(gather_os_facts(module))
        elapsed["os_facts"] = round((time.time() - started) * 1000.0, 2)
    module.exit_json(changed=False, msg=gpu_facts.summary(facts), commands=commands,
                     elapsed_ms=elapsed, ansible_facts=ansible_facts)


if __name__ == "__main__":
    main()
