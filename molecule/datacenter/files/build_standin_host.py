"""Build the STAND-IN host tree of the datacenter scenario (gpufleet.nvidia test suite).

Usage: build_standin_host.py FAKEHOST_DIR GPU_HOSTS_DIR ROOT
The COMPOSED HGX H100 fixture (sysfs PCI functions, NVSwitch /proc entries,
/sys/class/infiniband) laid out under ROOT by the unit tests' fakehost.py, plus
a /proc/modules and a driver version file saying 580.95.05 is loaded.
"""
import sys

sys.path.insert(0, sys.argv[1])
import fakehost  # noqa: E402  pylint: disable=wrong-import-position

fakehost.GPU_HOSTS = sys.argv[2]
root = sys.argv[3]
fakehost.composed_root(root, "hgx-h100-8gpu-nvswitch-composed")
fakehost.write(root, "proc/modules", "nvidia_peermem 16384 0 - Live 0x0\nib_core 520192 1 - Live 0x0\n"
               "nvidia 14299136 1 nvidia_peermem, Live 0x0\n")
fakehost.write(root, "proc/driver/nvidia/version",
               "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build"
               "  (gpufleet test STAND-IN, not NVIDIA software)\n")
