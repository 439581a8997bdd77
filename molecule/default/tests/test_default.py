"""Docker host scenario."""


def test_systemd_is_pid1(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


def test_docker_active(host):
    assert host.service("docker").is_running
