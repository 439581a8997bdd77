"""Kubernetes-style node on containerd (host class 2), Debian 12 (containerd 1.6)
and Debian 13 (containerd 1.7). The toolkit comes from the TEST FIXTURE
repository (NVIDIA's real toolkit programs built from source;
libnvidia-container* are STAND-INS, not NVIDIA software)."""
import re

RUNTIME_TABLE = 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia'


def _dump(host):
    return host.check_output("containerd config dump")


def _table(text, name):
    """Body of TOML table [name] in `containerd config dump` output."""
    match = re.search(r"^\s*\[%s\]\s*$(.*?)(?=^\s*\[)" % re.escape(name), text, re.M | re.S)
    assert match, "table [%s] missing from containerd config dump" % name
    return match.group(1)


def test_fixture_toolkit_installed(host):
    assert host.package("nvidia-container-toolkit").is_installed
    assert host.package("nvidia-container-toolkit").version == "1.20.0-1"
    assert "NVIDIA Container Toolkit CLI version 1.20.0" in host.check_output("nvidia-ctk --version")


def test_real_runtime_finds_the_nodes_runc(host):
    # containerd calls BinaryName for every nvidia container: the real runtime
    # must start and find the low-level runtime it hands over to
    out = host.run("nvidia-container-runtime --version")
    assert out.rc == 0, out.stderr
    assert "NVIDIA Container Runtime version 1.20.0" in out.stdout
    assert "runc version" in out.stdout


def test_containerd_active_after_restart(host):
    assert host.service("containerd").is_running
    assert host.check_output("systemctl is-active containerd") == "active"
    assert host.check_output("systemctl show -p NRestarts --value containerd") == "0"


def test_nvidia_runtime_in_config_dump(host):
    dump = _dump(host)
    body = _table(dump, RUNTIME_TABLE)
    assert re.search(r'runtime_type\s*=\s*"io\.containerd\.runc\.v2"', body)
    options = _table(dump, RUNTIME_TABLE + ".options")
    assert re.search(r'BinaryName\s*=\s*"/usr/bin/nvidia-container-runtime"', options)


def test_systemd_cgroup_kept(host):
    dump = _dump(host)
    runc = _table(dump, 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options')
    assert re.search(r"SystemdCgroup\s*=\s*true", runc)
    nvidia = _table(dump, RUNTIME_TABLE + ".options")
    assert re.search(r"SystemdCgroup\s*=\s*true", nvidia), "nvidia runtime must follow the node's cgroup driver"
    assert 'sandbox_image = "registry.k8s.io/pause:3.9"' in dump


def test_containerd_was_restarted_by_converge(host):
    before = host.file("/var/lib/gpufleet-test/containerd.pid").content_string.strip()
    assert host.check_output("systemctl show -p MainPID --value containerd") != before


def test_no_docker_on_the_node(host):
    assert not host.package("docker.io").is_installed
