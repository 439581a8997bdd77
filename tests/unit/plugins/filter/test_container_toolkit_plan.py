# -*- coding: utf-8 -*-
"""container_toolkit_plan and container_toolkit_cdi_state, as the role calls them.

Real state scans of Molecule instances and of the H200 host
(tests/fixtures/toolkit-scan/README.md), with the wanted state each host was
converged with: what the role must do on each.
"""
import gzip
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.container_toolkit_plan import FilterModule

F = FilterModule().filters()
SCANS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "toolkit-scan")
PACKAGES = ["libnvidia-container1", "libnvidia-container-tools", "nvidia-container-toolkit-base", "nvidia-container-toolkit"]
# the keys of the TEST FIXTURE repository the Molecule runs served (tests/molecule/fixture_repo.sh
# makes a throwaway key per build): the fresh default instance's prepare left the first one, with
# Debian's archive key beside it, in the key file; the converge used the second.
FIXTURE_FPR_PREPARE = "117B5AB4D3152BE8F6CF9D670E950C7EF0F356D2"
FIXTURE_FPR = "FEE40075696657A635E5319EFFCA29A610AC63E8"
# SHA-1 of the apt source and pin the role rendered on the default instance (its #files lines)
DEFAULT_RENDERED = {"source_sha1": "d8208a2631753cdb2e2c4ccca527c44e256aa3cf",
                    "pin_sha1": "d006e9d137bbf4e4b7d957cb4e3d662e8a124c07"}
DEFAULT_CONFIG = ["nvidia-container-runtime.debug=/var/log/nvidia-container-runtime.log",
                  "accept-nvidia-visible-devices-envvar-when-unprivileged=false"]


class Tagged(str):
    """A str subclass, as templated values are on ansible-core 2.19."""


def merged(base, **changes):
    """``base`` with ``changes`` on top (a copy)."""
    result = dict(base)
    result.update(changes)
    return result


def scan(name):
    """A recorded scan; CR LF captures are kept gzipped, byte for byte (sanity allows no CR LF text files)."""
    opener = gzip.open if name.endswith(".gz") else open
    with opener(os.path.join(SCANS, name), "rb") as handle:
        return handle.read().decode("utf-8")


def wanted(**changes):
    base = {
        "packages": PACKAGES, "version": "1.20.0-1", "legacy_packages": ["nvidia-docker2", "nvidia-container-runtime", "nvidia-docker"],
        "migrate_legacy": True, "use_repo": True, "pkg_family": "apt", "repo_key_inline": False,
        "repo_key_fingerprint": "C95B321B61E88C1809C4F759DDCAE044F796ECB0",
        "source_path": "/etc/apt/sources.list.d/nvidia-container-toolkit.sources",
        "pin_path": "/etc/apt/preferences.d/nvidia-container-toolkit",
        "source_sha1": "", "pin_sha1": "", "pin_version": True, "config_sets": [],
        "jetson": False, "systemd": True, "cdi": False, "cdi_stamp": "toolkit=1.20.0-1 driver=none",
        "check_mode": False, "docker_runtime": True, "docker_installed": True, "docker_registration": "daemon_json",
        "docker_daemon_json": "/etc/docker/daemon.json", "runtime_name": "nvidia",
        "runtime_path": "/usr/bin/nvidia-container-runtime", "runtime_args": None, "docker_default_runtime": None,
    }
    base.update(changes)
    return base


def test_filters_listed():
    assert sorted(F) == ["container_toolkit_cdi_state", "container_toolkit_config_sets", "container_toolkit_local_files",
                         "container_toolkit_plan", "container_toolkit_source_problems"]


def test_wanted_must_be_a_dict():
    with pytest.raises(AnsibleFilterError):
        F["container_toolkit_plan"]("#end\n", "nope")


def test_unknown_dev_char_switch_names_the_variable():
    with pytest.raises(AnsibleFilterError, match="container_toolkit_dev_char_symlinks must be auto, true or false"):
        F["container_toolkit_plan"]("#end\n", wanted(dev_char_symlinks="sometimes"))


def test_scan_must_be_text():
    with pytest.raises(AnsibleFilterError):
        F["container_toolkit_plan"](42, wanted())


def test_h200_fresh_host_tagged_strings():
    """Templated values (str subclasses) give the same plan as plain ones."""
    text = scan("h200-fresh-local-packages.txt")
    plain = F["container_toolkit_plan"](text, wanted(use_repo=False))
    want = wanted(use_repo=False, version=Tagged("1.20.0-1"), runtime_name=Tagged("nvidia"), check_mode="False")
    tagged = F["container_toolkit_plan"](Tagged(text), want)
    assert plain == tagged
    assert plain["steps"] == ["install", "docker"]


def test_cut_off_daemon_line_is_reported_not_raised():
    got = F["container_toolkit_plan"]("#daemon\nb64:e30=x\n#end\n", wanted(use_repo=False))
    assert got["daemon_json_plan"]["changed"] is True
    assert "not base64" in got["daemon_json_plan"]["error"]
    assert got["steps"][-1] == "docker"


def test_cdi_state_from_lines_or_text():
    lines = ["unit=no spec=yes path=/ unitspec=no driver=yes", "toolkit=1.20.0-1 driver=580.1"]
    by_lines = F["container_toolkit_cdi_state"](lines, "toolkit=1.20.0-1 driver=580.1", jetson=False, systemd=True)
    by_text = F["container_toolkit_cdi_state"]("\r\n".join(lines) + "\r\n", "toolkit=1.20.0-1\ndriver=580.1")
    assert by_lines == by_text
    assert by_lines["method"] == "generate" and by_lines["current"] is True


def test_cdi_state_refuses_other_types():
    with pytest.raises(AnsibleFilterError):
        F["container_toolkit_cdi_state"](42)


# --- real scans of the Molecule instances (tests/fixtures/toolkit-scan/README.md), with the
# wanted state each scenario converges with, and what the role must do there

def test_molecule_default_fresh():
    """A running Docker host: operator's daemon.json, a key file with an extra key, no toolkit."""
    got = F["container_toolkit_plan"](scan("molecule-default-fresh.txt"),
                                      wanted(repo_key_fingerprint=FIXTURE_FPR_PREPARE, config_sets=DEFAULT_CONFIG,
                                             **DEFAULT_RENDERED))
    # the steps the Molecule converge of the same instance included
    assert got["steps"] == ["repo_apt", "install", "config_toml", "docker"]
    assert got["key_current"] is False
    assert "2 primary keys" in got["key_problem"] and "APT would trust all of them" in got["key_problem"]
    assert got["config_state"] == "unknown"
    assert got["daemon_json_plan"]["changed"] is True and got["daemon_json_plan"]["error"] is None
    assert got["new_hook"] is True


@pytest.mark.parametrize("name", ["molecule-default-converged.txt", "molecule-default-converged-tty-crlf.txt.gz"])
def test_molecule_default_converged_has_no_step(name):
    text = scan(name)
    assert ("\r\n" in text) == name.endswith("crlf.txt.gz")
    got = F["container_toolkit_plan"](text, wanted(repo_key_fingerprint=FIXTURE_FPR, config_sets=DEFAULT_CONFIG,
                                                   **DEFAULT_RENDERED))
    assert got["steps"] == []
    assert got["installed"] == dict((name, "1.20.0-1") for name in PACKAGES)
    assert got["key_current"] and got["source_current"] and got["pin_current"]
    assert got["config_state"] == "unchanged"
    assert got["daemon_json_plan"] == {"changed": False, "error": None, "reload_required": "none",
                                       "runtimes": ["nvidia"], "default_runtime": None}
    assert got["complete"] is True


def test_molecule_default_converged_what_brings_steps_back():
    text = scan("molecule-default-converged.txt")
    base = dict(repo_key_fingerprint=FIXTURE_FPR, config_sets=DEFAULT_CONFIG, **DEFAULT_RENDERED)
    # another toolkit version: install, then config.toml and the registration again
    assert F["container_toolkit_plan"](text, wanted(**merged(base, version="1.19.0-1")))["steps"] == \
        ["install", "config_toml", "docker"]
    # a source rendered differently (another mirror): the repository step
    assert F["container_toolkit_plan"](text, wanted(**merged(base, source_sha1="0" * 40)))["steps"] == ["repo_apt"]
    # the pin switched off: the pin file must go
    assert F["container_toolkit_plan"](text, wanted(**merged(base, pin_version=False)))["steps"] == ["repo_apt"]
    # an inline key is always compared by the key check
    assert F["container_toolkit_plan"](text, wanted(**merged(base, repo_key_inline=True)))["steps"] == ["repo_apt"]
    # the runtime made the default one: daemon.json changes
    got = F["container_toolkit_plan"](text, wanted(**merged(base, docker_default_runtime=True)))
    assert got["steps"] == ["docker"] and got["daemon_json_plan"]["default_runtime"] == "nvidia"
    # drop-in registration: the docker step always runs (it compares the drop-in itself)
    assert F["container_toolkit_plan"](text, wanted(**merged(base, docker_registration="systemd_dropin")))["steps"] == ["docker"]
    # check mode on a converged host: nothing either
    assert F["container_toolkit_plan"](text, wanted(**merged(base, check_mode=True)))["steps"] == []


MIGRATION_FPR = "ED044842C7D59FAE97DC72D58E103E26300E7265"
MIGRATION_RENDERED = {"source_sha1": "fe961e152bd7faace24f88f26330db516829a9fe",
                      "pin_sha1": "d006e9d137bbf4e4b7d957cb4e3d662e8a124c07"}


def test_molecule_migration_legacy_host():
    """nvidia-docker2 over toolkit 1.13.5, NVIDIA's old list and trusted.gpg.d key, no gpg."""
    got = F["container_toolkit_plan"](scan("molecule-migration-legacy.txt"),
                                      wanted(repo_key_fingerprint=MIGRATION_FPR, **MIGRATION_RENDERED))
    assert got["steps"] == ["remove_stale", "repo_apt", "install", "docker"]
    assert got["stale_found"] == ["/etc/apt/sources.list.d/nvidia-docker.list", "/etc/apt/trusted.gpg.d/nvidia-docker.gpg"]
    assert got["legacy_installed"] == ["nvidia-docker2"]
    assert got["outdated"] == PACKAGES
    assert got["gpg_present"] is False and got["key_current"] is False
    # the toolkit's hook is there already (1.13.5): no restart for a new hook
    assert got["new_hook"] is False
    # the legacy daemon.json names the runtime already and makes it the default: kept as it is
    assert got["daemon_json_plan"]["changed"] is False
    assert got["daemon_json_plan"]["default_runtime"] == "nvidia"


def test_molecule_migration_converged_has_no_step():
    got = F["container_toolkit_plan"](scan("molecule-migration-converged.txt"),
                                      wanted(repo_key_fingerprint=MIGRATION_FPR, **MIGRATION_RENDERED))
    assert got["steps"] == []
    # removed, its conffiles kept (rc): not installed
    assert "nvidia-docker2" not in got["installed"] and got["legacy_installed"] == []


JETSON_FPR = "5A3B3569B2EA1468308067E149479A714E5CA486"
JETSON = {"source_sha1": "e5062a88bed887982d7fc8703f296e30eebfacd5", "pin_sha1": "d006e9d137bbf4e4b7d957cb4e3d662e8a124c07",
          "jetson": True, "cdi": True, "config_sets": ["nvidia-container-runtime.mode=csv"],
          "cdi_stamp": "toolkit=1.20.0-1 driver=l4t-36.4.3", "repo_key_fingerprint": JETSON_FPR}


def test_molecule_jetson_fresh():
    """A simulated L4T 36.4.3 host with Docker and no daemon.json, CDI wanted."""
    got = F["container_toolkit_plan"](scan("molecule-jetson-fresh.txt"), wanted(**JETSON))
    assert got["steps"] == ["repo_apt", "install", "config_toml", "jetson", "cdi", "docker"]
    assert got["daemon_json_plan"]["changed"] is True
    # before the toolkit: no units yet; a Jetson's spec is generated by the role (CSV mode)
    assert got["cdi"]["unit"] is False and got["cdi_method"] == "generate" and got["cdi_current"] is False


def test_molecule_jetson_converged_only_reports():
    """Converged: only the Jetson report (it counts the nvhost nodes and CSV files on every run)."""
    got = F["container_toolkit_plan"](scan("molecule-jetson-converged.txt"), wanted(**JETSON))
    assert got["steps"] == ["jetson"]
    # the toolkit's units exist and run, but a Jetson keeps the spec the role generated in CSV mode
    assert got["cdi"]["unit"] is True and got["cdi_method"] == "generate" and got["cdi_current"] is True
    # a new L4T release makes the spec stale
    newer = F["container_toolkit_plan"](scan("molecule-jetson-converged.txt"),
                                        wanted(**merged(JETSON, cdi_stamp="toolkit=1.20.0-1 driver=l4t-36.4.4")))
    assert newer["steps"] == ["jetson", "cdi"]
    # the same host as a plain systemd host would have the units make the spec
    plain = F["container_toolkit_plan"](scan("molecule-jetson-converged.txt"), wanted(**merged(JETSON, jetson=False)))
    assert plain["cdi_method"] == "units" and plain["cdi_current"] is True


NOSYSTEMD = {"use_repo": False, "cdi": True, "systemd": False}


def test_molecule_nosystemd_fresh():
    """A container without systemd (PID 1 is not systemd), local package files, CDI wanted."""
    got = F["container_toolkit_plan"](scan("molecule-nosystemd-fresh.txt"), wanted(**NOSYSTEMD))
    assert got["steps"] == ["install", "cdi", "docker"]
    assert got["cdi_method"] == "generate"


def test_molecule_nosystemd_converged():
    """The toolkit's units are installed but cannot run: the role generates the spec, once a driver is loaded."""
    got = F["container_toolkit_plan"](scan("molecule-nosystemd-converged.txt"), wanted(**NOSYSTEMD))
    # no driver, so no spec yet: the CDI step comes back (and says so) until there is one
    assert got["steps"] == ["cdi"]
    assert got["cdi"]["unit"] is True and got["cdi"]["driver"] is False
    assert got["cdi_method"] == "generate" and got["cdi_current"] is False
    assert got["daemon_json_plan"]["changed"] is False
    # without CDI nothing at all
    assert F["container_toolkit_plan"](scan("molecule-nosystemd-converged.txt"),
                                       wanted(**merged(NOSYSTEMD, cdi=False)))["steps"] == []


# --- the role's variables: config.toml settings, air-gapped package files, package source


def test_config_sets_in_order_with_the_roles_variables_winning():
    got = F["container_toolkit_config_sets"](
        {"nvidia-container-cli.no-cgroups": True, "accept-nvidia-visible-devices-as-volume-mounts": False},
        jetson_csv=True, accept_envvar=False, accept_volume_mounts="yes", supported_capabilities="compute,utility")
    assert got == ["nvidia-container-cli.no-cgroups=true", "accept-nvidia-visible-devices-as-volume-mounts=true",
                   "nvidia-container-runtime.mode=csv", "accept-nvidia-visible-devices-envvar-when-unprivileged=false",
                   "supported-driver-capabilities=compute,utility"]


def test_config_sets_defaults_are_empty():
    assert F["container_toolkit_config_sets"]({}) == []
    assert F["container_toolkit_config_sets"](None, jetson_csv="False", accept_envvar=None) == []


def test_config_sets_refuses_a_list():
    with pytest.raises(AnsibleFilterError, match="container_toolkit_config must be a dict"):
        F["container_toolkit_config_sets"](["a=b"])


def test_local_files_per_family():
    names = ["libnvidia-container1", "nvidia-container-toolkit"]
    assert F["container_toolkit_local_files"](names, "/srv/pkgs//", "1.17.8-1", "apt", "amd64") == [
        "/srv/pkgs/libnvidia-container1_1.17.8-1_amd64.deb", "/srv/pkgs/nvidia-container-toolkit_1.17.8-1_amd64.deb"]
    assert F["container_toolkit_local_files"](names, "/srv/pkgs", "1.17.8-1", "dnf", "aarch64") == [
        "/srv/pkgs/libnvidia-container1-1.17.8-1.aarch64.rpm", "/srv/pkgs/nvidia-container-toolkit-1.17.8-1.aarch64.rpm"]
    with pytest.raises(AnsibleFilterError, match="apt or dnf"):
        F["container_toolkit_local_files"](names, "/srv", "1", "zypper", "x86_64")
    with pytest.raises(AnsibleFilterError, match="list of package names"):
        F["container_toolkit_local_files"]("nvidia-container-toolkit", "/srv", "1", "apt", "amd64")


@pytest.mark.parametrize("manage,local,url,problem", [
    (True, "", "", True), ("true", "", "", True), (True, "/srv/pkgs", "", False), (True, "", "https://mirror/stable", False),
    (False, "", "", False),
])
def test_source_problems(manage, local, url, problem):
    got = F["container_toolkit_source_problems"](manage, local, url)
    assert bool(got) is problem
    if problem:
        assert got[0].startswith("container_toolkit_repo_base_url is not set")
