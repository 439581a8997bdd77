# -*- coding: utf-8 -*-
"""container_toolkit's state machine: the state scan read, the CDI state, the steps decided.

The scans are real outputs of roles/container_toolkit/templates/state_scan.sh.j2
(tests/fixtures/toolkit-scan/README.md says where each was recorded).  The two
checks other plugins own are passed in as the filter passes them: the real
repo_key_problem and docker_daemon_json_plan (through the filter's wrapper,
which reports a #daemon line that is not base64 instead of raising).
"""
import base64
import hashlib
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.gpufleet.nvidia.plugins.filter.container_toolkit_plan import scan_daemon_json_plan
from ansible_collections.gpufleet.nvidia.plugins.filter.repo_key import repo_key_problem
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _toolkit_state as ts

SCANS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "toolkit-scan")
PACKAGES = ["libnvidia-container1", "libnvidia-container-tools", "nvidia-container-toolkit-base", "nvidia-container-toolkit"]
LEGACY = ["nvidia-docker2", "nvidia-container-runtime", "nvidia-docker"]


def scan(name):
    with open(os.path.join(SCANS, name), "rb") as handle:
        return handle.read().decode("utf-8")


def wanted(**changes):
    """The wanted state of the role's defaults on Debian 12 with Docker (no CDI, no config)."""
    base = {
        "packages": PACKAGES, "version": "1.20.0-1", "legacy_packages": LEGACY, "migrate_legacy": True,
        "use_repo": True, "pkg_family": "apt", "repo_key_inline": False,
        "repo_key_fingerprint": "C95B321B61E88C1809C4F759DDCAE044F796ECB0",
        "source_path": "/etc/apt/sources.list.d/nvidia-container-toolkit.sources",
        "pin_path": "/etc/apt/preferences.d/nvidia-container-toolkit",
        "source_sha1": "0" * 40, "pin_sha1": "1" * 40, "pin_version": True, "config_sets": [],
        "jetson": False, "systemd": True, "cdi": False, "cdi_stamp": "toolkit=1.20.0-1 driver=none",
        "check_mode": False, "docker_runtime": True, "docker_installed": True, "docker_registration": "daemon_json",
        "docker_daemon_json": "/etc/docker/daemon.json", "runtime_name": "nvidia",
        "runtime_path": "/usr/bin/nvidia-container-runtime", "runtime_args": None, "docker_default_runtime": None,
    }
    base.update(changes)
    return base


def plan(text, want):
    return ts.plan(text, want, key_problem=repo_key_problem, daemon_json_plan=scan_daemon_json_plan)


# --- the H200 host of docs/testing.md: toolkit from local packages, Docker installed, nothing yet


def test_h200_fresh_host_installs_and_registers():
    text = scan("h200-fresh-local-packages.txt")
    found = ts.parse(text)
    assert found["installed"] == {}
    assert found["gpg_present"] is True
    assert found["config_state"] == "unknown"
    assert found["complete"] is True
    got = plan(text, wanted(use_repo=False))
    # the same decision the Jinja version made on that host (docker-proof.txt)
    assert got["steps"] == ["install", "docker"]
    assert got["outdated"] == PACKAGES
    assert got["new_hook"] is True
    assert got["daemon_json_plan"] == {"changed": True, "default_runtime": None, "error": None,
                                       "reload_required": "sighup", "runtimes": ["nvidia"]}
    assert got["stale_found"] == [] and got["legacy_installed"] == []


def test_h200_fresh_host_without_docker_installs_only():
    got = plan(scan("h200-fresh-local-packages.txt"), wanted(use_repo=False, docker_installed=False))
    assert got["steps"] == ["install"]
    assert got["new_hook"] is False


def test_check_mode_before_install_keeps_docker_but_not_the_tools():
    got = plan(scan("h200-fresh-local-packages.txt"),
               wanted(use_repo=False, check_mode=True, cdi=True, config_sets=["a=b"], jetson=True))
    assert got["steps"] == ["install", "docker"]


def test_fresh_host_with_repository_gets_the_repo_step():
    got = plan(scan("h200-fresh-local-packages.txt"), wanted())
    assert got["steps"][:2] == ["repo_apt", "install"]
    assert got["key_current"] is False
    assert "no OpenPGP key" in got["key_problem"]
    assert got["source_current"] is False and got["pin_current"] is False


# --- sections and parsing


def test_sections_only_known_markers_and_banner_dropped():
    text = "Welcome\n#packages\na\tb\tii \n#comment\n#end\n"
    assert ts.sections(text) == {"packages": ["a\tb\tii ", "#comment"], "end": [""]}


def test_packages_only_installed_or_held():
    text = "#packages\nx\t1\tii \ny\t2\thi \nz\t3\trc \nw\t\tun \npackage q is not installed\n#end\n"
    assert ts.parse(text)["installed"] == {"x": "1", "y": "2"}


def test_rpm_query_lines():
    text = ("#packages\nnvidia-container-toolkit\t1.20.0-1\tii \npackage nvidia-docker2 is not installed\n"
            "#end\n")
    assert ts.parse(text)["installed"] == {"nvidia-container-toolkit": "1.20.0-1"}


def test_crlf_and_cr_read_as_lf():
    text = scan("h200-fresh-local-packages.txt")
    assert ts.parse(text.replace("\n", "\r\n")) == ts.parse(text)
    assert ts.parse(text.replace("\n", "\r")) == ts.parse(text)


def test_cut_off_scan_is_incomplete_and_daemon_unreadable():
    text = scan("h200-fresh-local-packages.txt")
    cut = text[:text.index("#daemon")]
    found = ts.parse(cut)
    assert found["complete"] is False
    got = plan(cut, wanted(use_repo=False))
    assert got["daemon_json_plan"]["error"] == "daemon.json could not be read by the state scan"
    assert "docker" in got["steps"]


def test_unreadable_daemon_json_runs_the_module():
    text = "#daemon\nunreadable\n#end\n"
    got = plan(text, wanted(use_repo=False))
    assert got["daemon_json_plan"]["changed"] is True
    assert got["steps"][-1] == "docker"


def test_parse_refuses_non_text():
    with pytest.raises(TypeError):
        ts.parse(b"#packages\n")


def test_as_bool():
    assert [ts.as_bool(v) for v in (True, "True", "yes", 1, "on")] == [True] * 5
    assert [ts.as_bool(v) for v in (False, "False", "no", 0, None, "")] == [False] * 6


# --- the CDI state


@pytest.mark.parametrize("first,jetson,systemd,method,current", [
    ("unit=yes spec=no path=enabled/active unitspec=yes driver=yes", False, True, "units", True),
    ("unit=yes spec=no path=enabled/active unitspec=no driver=no", False, True, "units", True),
    ("unit=yes spec=no path=enabled/active unitspec=no driver=yes", False, True, "units", False),
    ("unit=yes spec=no path=disabled/inactive unitspec=no driver=no", False, True, "units", False),
    ("unit=yes spec=yes path=/ unitspec=no driver=no", False, False, "generate", True),
    ("unit=yes spec=yes path=enabled/active unitspec=no driver=no", True, True, "generate", True),
    ("unit=no spec=no path=/ unitspec=no driver=no", False, True, "generate", False),
])
def test_cdi_state(first, jetson, systemd, method, current):
    got = ts.cdi_state([first, "toolkit=1.20.0-1 driver=none"], "toolkit=1.20.0-1\ndriver=none",
                       jetson=jetson, systemd=systemd)
    assert (got["method"], got["current"]) == (method, current)


def test_cdi_stamp_of_another_driver_regenerates():
    got = ts.cdi_state("unit=no spec=yes path=/ unitspec=no driver=yes\ntoolkit=1.20.0-1 driver=570.1\n",
                       "toolkit=1.20.0-1 driver=580.2")
    assert got["method"] == "generate" and got["current"] is False


# --- properties


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_raises(text):
    found = ts.parse(text)
    assert set(found) >= {"installed", "stale_found", "daemon", "cdi_lines", "complete"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(ts.SECTIONS) + ["noise", "present", "unchanged", "b64:e30=", "absent",
                                                     "x\t1\tii ", "unit=yes spec=yes path=enabled/active"]),
                max_size=30).map(lambda parts: "\n".join("#" + p if p in ts.SECTIONS else p for p in parts)))
def test_plan_never_raises_on_scrambled_scans(text):
    got = plan(text, wanted(cdi=True, config_sets=["a=b"]))
    assert set(got["steps"]) <= {"remove_stale", "repo_apt", "install", "config_toml", "jetson", "cdi", "docker",
                                 "dev_char"}


RULE = "/etc/udev/rules.d/71-nvidia-dev-char.rules"
SYSTEMD_DOCKER_RULE_SHA1 = hashlib.sha1(ts.dev_char_rule("/usr/bin/nvidia-ctk",
                                                         "Docker use(s) the systemd cgroup driver").encode()).hexdigest()


def _converged(version, extra_packages, daemon, source_sha1, pin_sha1, crlf, banner, cgroup_driver="cgroupfs"):
    lines = ["#packages"]
    lines += ["%s\t%s\tii " % (name, version) for name in PACKAGES]
    lines += ["%s\t%s\tii " % (name, v) for name, v in extra_packages]
    lines += ["#stale", "#gpg", "present", "#key"]
    lines += ["pub:-:4096:1:DDCAE044F796ECB0:1:::-:::scESC::::::23::0:",
              "fpr:::::::::C95B321B61E88C1809C4F759DDCAE044F796ECB0:",
              "uid:-::::1:::NVIDIA CORPORATION (Open Source Projects) <cudatools@nvidia.com>::::::::::0:"]
    lines += ["#files",
              "/etc/apt/sources.list.d/nvidia-container-toolkit.sources 644:root:root %s" % source_sha1,
              "/etc/apt/preferences.d/nvidia-container-toolkit 644:root:root %s" % pin_sha1]
    if cgroup_driver == "systemd":
        lines += ["%s 644:root:root %s" % (RULE, SYSTEMD_DOCKER_RULE_SHA1)]
    lines += ["#config", "unchanged", "#daemon", "b64:" + base64.b64encode(json.dumps(daemon).encode()).decode()]
    lines += ["#dropin", "#cdi", "#devchar", "systemd=yes", "cgroup=v1", "docker_cgroup_driver=" + cgroup_driver,
              "containerd_systemd_cgroup=no", "kubelet_cgroup_driver=", "node /dev/nvidia0 195:0 yes", "#end", ""]
    text = "\n".join(lines)
    if crlf:
        text = text.replace("\n", "\r\n")
    return banner + text


@settings(max_examples=200, deadline=None)
@given(version=st.from_regex(r"\A1\.(1[3-9]|20)\.[0-9]-[1-3]\Z"),
       extra=st.lists(st.tuples(st.from_regex(r"\A[a-z][a-z0-9.+-]{1,20}\Z"), st.from_regex(r"\A[0-9][0-9.:~+-]{0,10}\Z")),
                      max_size=5),
       other_keys=st.dictionaries(st.sampled_from(["log-level", "iptables", "bridge", "data-root"]),
                                  st.one_of(st.booleans(), st.text(max_size=5)), max_size=4),
       sha=st.from_regex(r"\A[0-9a-f]{40}\Z"), pin=st.from_regex(r"\A[0-9a-f]{40}\Z"),
       crlf=st.booleans(), banner=st.sampled_from(["", "Last login: today\n", "\n"]),
       cgroup_driver=st.sampled_from(["cgroupfs", "systemd"]))
def test_converged_scan_has_no_steps(version, extra, other_keys, sha, pin, crlf, banner, cgroup_driver):
    extra = [(name, v) for name, v in extra if name not in PACKAGES and name not in LEGACY]
    daemon = dict(other_keys)
    daemon["runtimes"] = {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []}}
    text = _converged(version, extra, daemon, sha, pin, crlf, banner, cgroup_driver)
    got = plan(text, wanted(version=version, source_sha1=sha, pin_sha1=pin, config_sets=["a=b"]))
    assert got["steps"] == []
    assert got["key_current"] and got["source_current"] and got["pin_current"]
    assert got["outdated"] == [] and got["new_hook"] is False
    # one thing off, one step back
    assert plan(text, wanted(version=version + "x", source_sha1=sha, pin_sha1=pin))["steps"] == ["install", "docker"]
    assert plan(text, wanted(version=version, source_sha1=pin + "0", pin_sha1=pin))["steps"] == ["repo_apt"]
    assert plan(text, wanted(version=version, source_sha1=sha, pin_sha1=pin,
                             repo_key_fingerprint="0" * 40))["steps"] == ["repo_apt"]
    # the /dev/char rule: switched the other way, the dev_char step writes or removes it
    flipped = plan(text, wanted(version=version, source_sha1=sha, pin_sha1=pin,
                                dev_char_symlinks="false" if cgroup_driver == "systemd" else "true"))
    assert flipped["steps"] == ["dev_char"]
    assert flipped["dev_char"]["remove_rule" if cgroup_driver == "systemd" else "write_rule"] is True


# --- /dev/char links (195 is the nvidia character device major; nvidia-uvm's is allocated at load time)

NODES = ["node /dev/nvidia0 195:0 no", "node /dev/nvidiactl 195:255 no", "node /dev/nvidia-uvm 507:0 yes"]


def devchar(**kwargs):
    base = {"systemd": "yes", "cgroup": "v2", "docker_cgroup_driver": "", "containerd_systemd_cgroup": "no",
            "kubelet_cgroup_driver": ""}
    base.update(kwargs)
    return ["%s=%s" % item for item in base.items()] + NODES


def test_dev_char_docker_with_systemd_cgroup_driver():
    assert ts.dev_char_state(devchar(docker_cgroup_driver="systemd", cgroup="v1")) == {
        "wanted": True, "reason": "Docker use(s) the systemd cgroup driver", "missing": ["/dev/nvidia0", "/dev/nvidiactl"]}


def test_dev_char_containerd_and_kubelet():
    got = ts.dev_char_state(devchar(containerd_systemd_cgroup="yes", kubelet_cgroup_driver="systemd", cgroup="v1"))
    assert got["wanted"] and got["reason"] == "containerd and kubelet use(s) the systemd cgroup driver"


def test_dev_char_cgroup_v2_default_when_docker_does_not_answer():
    assert ts.dev_char_state(devchar())["wanted"] is True


@pytest.mark.parametrize("changes", [{"cgroup": "v1", "docker_cgroup_driver": "cgroupfs"},
                                     {"docker_cgroup_driver": "cgroupfs"}])
def test_dev_char_cgroupfs_is_not_affected(changes):
    got = ts.dev_char_state(devchar(**changes))
    assert got["wanted"] is False and got["reason"] == "no container engine uses the systemd cgroup driver"


def test_dev_char_no_systemd():
    got = ts.dev_char_state(devchar(systemd="no", docker_cgroup_driver="systemd"))
    assert got["wanted"] is False and got["reason"] == "the host does not run systemd"


def test_dev_char_switch():
    assert ts.dev_char_state(devchar(systemd="no"), True)["wanted"] is True
    assert ts.dev_char_state(devchar(docker_cgroup_driver="systemd"), "false")["wanted"] is False
    with pytest.raises(ValueError, match="auto, true or false"):
        ts.dev_char_state(devchar(), "sometimes")


def test_dev_char_no_section_no_nodes():
    assert ts.dev_char_state([]) == {"wanted": False, "reason": "the host does not run systemd", "missing": []}
    assert ts.dev_char_state("systemd=yes\ncgroup=v2\n")["missing"] == []


def bench_wanted(**changes):
    """The fleet benchmark's variables: the TEST FIXTURE repository's key; the source and pin as rendered there."""
    return wanted(repo_key_fingerprint="9554FECBE40DC478FD274516761B958302B93C0A",
                  source_sha1="5ac8b88c9a6440182e3eeea2c995f4f3d2c41564",
                  pin_sha1="d006e9d137bbf4e4b7d957cb4e3d662e8a124c07", **changes)


def test_bench_instance_cgroupfs_without_rule_needs_nothing():
    """A fleet benchmark instance (Debian 12, Docker on cgroup v1 with cgroupfs), converged."""
    text = scan("bench-bookworm-converged.txt")
    assert ts.parse(text)["devchar_lines"][:3] == ["systemd=yes", "cgroup=v1", "docker_cgroup_driver=cgroupfs"]
    got = plan(text, bench_wanted())
    assert got["steps"] == []
    assert got["dev_char"]["wanted"] is False and got["dev_char"]["rule_present"] is False
    # switched on: the rule is written; no NVIDIA device node there, so no link to make
    got = plan(text, bench_wanted(dev_char_symlinks=True))
    assert got["steps"] == ["dev_char"]
    assert (got["dev_char"]["write_rule"], got["dev_char"]["create_links"]) == (True, False)
    assert got["dev_char"]["rule"].endswith(
        'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"\n')
    assert "(switched on)" in got["dev_char"]["rule"]


@pytest.mark.parametrize("rule_line,write", [
    ("%s 644:root:root %s" % (RULE, SYSTEMD_DOCKER_RULE_SHA1), False),
    ("%s 664:root:root %s" % (RULE, SYSTEMD_DOCKER_RULE_SHA1), True),       # mode drifted
    ("%s 644:root:root %s" % (RULE, "0" * 40), True),                        # edited
    (None, True),                                                            # absent
])
def test_dev_char_rule_compared_by_content_mode_and_owner(rule_line, write):
    lines = ["#files"] + ([rule_line] if rule_line else [])
    lines += ["#devchar"] + devchar(docker_cgroup_driver="systemd", cgroup="v1")[:5] + ["node /dev/nvidia0 195:0 yes"]
    got = plan("\n".join(lines + ["#end"]), wanted(use_repo=False, docker_installed=False,
                                                   packages=[], legacy_packages=[]))
    assert got["dev_char"]["write_rule"] is write
    assert got["steps"] == (["dev_char"] if write else [])


def test_dev_char_missing_links_are_made():
    lines = ["#files", "%s 644:root:root %s" % (RULE, SYSTEMD_DOCKER_RULE_SHA1), "#devchar"]
    lines += devchar(docker_cgroup_driver="systemd", cgroup="v1")[:5] + NODES + ["#end"]
    got = plan("\n".join(lines), wanted(use_repo=False, docker_installed=False, packages=[], legacy_packages=[]))
    assert got["steps"] == ["dev_char"]
    assert got["dev_char"]["create_links"] and not got["dev_char"]["write_rule"]
    assert got["dev_char"]["missing"] == ["/dev/nvidia0", "/dev/nvidiactl"]


@settings(max_examples=200, deadline=None)
@given(config=st.dictionaries(st.from_regex(r"\A[a-z][a-z.-]{0,30}\Z"),
                              st.one_of(st.booleans(), st.integers(), st.text(max_size=8)), max_size=6),
       jetson_csv=st.booleans(), envvar=st.sampled_from([None, True, False]),
       mounts=st.sampled_from([None, True, False]), caps=st.sampled_from(["", "compute,utility"]))
def test_config_sets_one_per_key_and_the_roles_variables_win(config, jetson_csv, envvar, mounts, caps):
    got = ts.config_sets(config, jetson_csv, envvar, mounts, caps)
    keys = [item.split("=", 1)[0] for item in got]
    assert len(keys) == len(set(keys))
    values = dict(item.split("=", 1) for item in got)
    assert set(keys) >= set(config)
    if jetson_csv:
        assert values["nvidia-container-runtime.mode"] == "csv"
    if envvar is not None:
        assert values["accept-nvidia-visible-devices-envvar-when-unprivileged"] == str(envvar).lower()
    if mounts is not None:
        assert values["accept-nvidia-visible-devices-as-volume-mounts"] == str(mounts).lower()
    own = {"nvidia-container-runtime.mode", "accept-nvidia-visible-devices-envvar-when-unprivileged",
           "accept-nvidia-visible-devices-as-volume-mounts", "supported-driver-capabilities"}
    assert all(values[key] in ("true", "false") for key, value in config.items()
               if isinstance(value, bool) and key not in own)
