"""The driver role on a stand-in HGX H100 host (facts from the COMPOSED fixture):
Fabric Manager at the driver's version, held with it, running; NSCQ; modprobe.d;
nvidia-peermem at boot. Every package here is a STAND-IN (see MANIFEST)."""

DRIVER_VERSION = "580.95.05-1"


def _selection(host, package):
    return host.check_output("dpkg --get-selections %s" % package).split()[-1]


def test_fabric_manager_matches_the_driver_and_is_held(host):
    for package in ("nvidia-open-580", "nvidia-fabricmanager", "libnvidia-nscq"):
        pkg = host.package(package)
        assert pkg.is_installed, package
        assert pkg.version == DRIVER_VERSION, package
        assert _selection(host, package) == "hold", package


def test_the_packages_are_the_named_stand_ins(host):
    description = host.check_output("dpkg-query -W -f '${Description}' nvidia-fabricmanager")
    assert description.startswith("STAND-IN for NVIDIA Fabric Manager")


def test_fabric_manager_service_enabled_and_running(host):
    service = host.service("nvidia-fabricmanager")
    assert service.is_enabled and service.is_running
    assert host.service("nvidia-persistenced").is_running


def test_no_nvlsm_or_imex_on_an_nvlink4_board(host):
    for package in ("nvlsm", "libnvsdm", "nvidia-imex"):
        assert not host.package(package).is_installed, package


def test_one_modprobe_file_with_the_parameters(host):
    conf = host.file("/etc/modprobe.d/gpufleet-nvidia.conf")
    assert conf.mode == 0o644 and conf.user == "root"
    assert conf.content_string == (
        "# Managed by gpufleet.nvidia.driver (driver_module_params): NVIDIA kernel module parameters.\n"
        "options nvidia NVreg_RestrictProfilingToAdminUsers=0\n")


def test_peermem_loaded_at_boot(host):
    conf = host.file("/etc/modules-load.d/gpufleet-nvidia-peermem.conf")
    assert "nvidia-peermem\n" in conf.content_string


def test_nouveau_blacklisted_and_driver_source(host):
    assert "blacklist nouveau" in host.file("/etc/modprobe.d/blacklist-nouveau.conf").content_string
    assert host.file("/etc/apt/sources.list.d/cuda.sources").exists


def test_dcgm_for_the_drivers_cuda_major(host):
    assert host.package("datacenter-gpu-manager-4-cuda13").is_installed      # driver 580: CUDA 13
    service = host.service("nvidia-dcgm")
    assert service.is_enabled and service.is_running


def test_dev_char_udev_rule(host):
    """containerd's configuration says SystemdCgroup = true (prepare): the rule is wanted."""
    rule = host.file("/etc/udev/rules.d/71-nvidia-dev-char.rules")
    assert rule.mode == 0o644
    assert ('ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", '
            'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"\n') in rule.content_string
    assert "containerd use(s) the systemd cgroup driver" in rule.content_string
