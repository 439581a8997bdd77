"""A host without an NVIDIA GPU: site.yml changes nothing (tests/molecule/run.sh
also checks that the FIRST converge reported changed=0)."""

SNAPSHOT = "/var/lib/gpufleet-test"


def _files_now(host):
    return host.check_output(
        "find /etc /usr/local /opt -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum")


def _packages_now(host):
    return host.check_output(
        "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n'")


def test_no_file_changed(host):
    files = _files_now(host)
    before = host.file(SNAPSHOT + "/before.files").content_string
    assert files.strip() == before.strip()


def test_no_package_changed(host):
    packages = _packages_now(host)
    before = host.file(SNAPSHOT + "/before.packages").content_string
    assert packages.strip() == before.strip()


def test_no_toolkit_and_no_driver(host):
    for name in ("nvidia-container-toolkit", "nvidia-driver", "cuda-drivers"):
        assert not host.package(name).is_installed


def test_docker_untouched(host):
    pid = host.file(SNAPSHOT + "/dockerd.pid").content_string.strip()
    assert host.check_output("systemctl show -p MainPID --value docker") == pid
    assert not host.file("/etc/docker/daemon.json").exists
