"""After site.yml and playbooks/uninstall.yml, the host is as prepare left it:
the same files under /etc/docker, /etc/containerd, the apt sources, pins and
keyrings and /etc/modprobe.d, and the same installed packages. A second
uninstall changes nothing."""
import os
import re
import subprocess

SNAPSHOT = "/var/lib/gpufleet-test"
# what the collection may touch and must give back
PATHS = ("/etc/docker/", "/etc/containerd/", "/etc/apt/sources.list", "/etc/apt/keyrings/",
         "/etc/apt/trusted.gpg", "/etc/apt/preferences.d/", "/etc/modprobe.d/", "/etc/profile.d/",
         "/etc/nvidia-container-runtime/", "/etc/cdi/", "/etc/systemd/system/docker.service.d/")


def _files(text):
    """{path: sha256} of the snapshot lines under PATHS."""
    files = {}
    for line in text.splitlines():
        digest, path = line.split("  ", 1) if "  " in line else (line, "")
        if path.startswith(PATHS):
            files[path] = digest
    return files


def _installed(text):
    return sorted(line.rsplit(" ", 1)[0] for line in text.splitlines()
                  if re.search(r" [ih]i\s*$", line))


def test_configuration_files_are_as_before(host):
    now = host.check_output(
        "find /etc /usr/local /opt -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum")
    before = host.file(SNAPSHOT + "/before.files").content_string
    assert _files(now) == _files(before)
    assert "/etc/docker/daemon.json" in _files(now) and "/etc/containerd/config.toml" in _files(now)


def _upgraded(host):
    """Packages apt upgraded (not installed) since the image was built: a
    dependency of the driver may need a newer library, which stays newer."""
    history = host.run("cat /var/log/apt/history.log").stdout
    return set(re.findall(r"([A-Za-z0-9][A-Za-z0-9+.-]*):[a-z0-9]+ \(", " ".join(
        line for line in history.splitlines() if line.startswith("Upgrade:"))))


def test_installed_packages_are_as_before(host):
    now = dict(line.split(" ", 1) for line in _installed(
        host.check_output("dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n'")))
    before = dict(line.split(" ", 1) for line in _installed(
        host.file(SNAPSHOT + "/before.packages").content_string))
    # the same packages ...
    assert sorted(now) == sorted(before)
    # ... at the same versions, but for those an install upgraded
    changed = sorted(name for name in now if now[name] != before[name])
    assert set(changed) <= _upgraded(host), changed


def test_no_driver_toolkit_or_hold_left(host):
    left = host.run("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' 'nvidia-*' 'libnvidia-*' 'libcuda*'")
    assert [line for line in left.stdout.splitlines() if re.search(r" [ih]i\s*$", line)] == []
    assert "hold" not in host.check_output("dpkg --get-selections")
    assert not host.file("/etc/apt/sources.list.d/cuda.sources").exists
    assert not host.file("/etc/apt/keyrings/cuda-archive-keyring.asc").exists


def test_engines_run_without_the_runtime(host):
    assert host.service("docker").is_running and host.service("containerd").is_running
    assert "nvidia" not in host.check_output("docker info --format '{{json .Runtimes}}'")


def test_the_check_mode_run_of_prepare_showed_both_changes(host):
    log = host.file(SNAPSHOT + "/site-check.log").content_string
    assert "--- before: /etc/docker/daemon.json" in log
    assert "--- before: /etc/containerd/config.toml" in log


def test_a_second_uninstall_changes_nothing():
    root = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    proc = subprocess.run(
        ["ansible-playbook", "-i", os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory"),
         os.path.join(root, "playbooks", "uninstall.yml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    recap = re.findall(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", proc.stdout, re.M)
    assert recap and all(changed == "0" for changed in recap), proc.stdout[-3000:]


def test_role_state_absent_removes_instead_of_installing():
    root = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    proc = subprocess.run(
        ["ansible-playbook", "-i", os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory"),
         os.path.join(root, "molecule", "uninstall", "state_absent.yml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # each role took its removal path and ended there: nothing installed, nothing left to remove
    assert proc.stdout.count("End the role here") == 4, proc.stdout[-3000:]
    assert "Install the driver" not in proc.stdout and "Read the toolkit's state on the host" not in proc.stdout
    recap = re.findall(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", proc.stdout, re.M)
    assert recap == ["0"], proc.stdout[-3000:]
