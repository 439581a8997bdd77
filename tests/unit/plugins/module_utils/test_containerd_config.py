# -*- coding: utf-8 -*-
"""containerd_config.plan over the fixture corpus (tests/fixtures/containerd)."""
import copy
import os

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import containerd_config as cc
from ansible_collections.gpufleet.nvidia.plugins.module_utils.toml_edit import get_path, loads

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "fixtures", "containerd")
NVIDIA = "/usr/bin/nvidia-container-runtime"

# fixture -> (config version, template runtime, SystemdCgroup of the new runtime, containerd major)
EXPECT = {
    "default-bookworm-1.6.20.toml": (2, "runc", False, 1),
    "default-trixie-1.7.24.toml": (2, "runc", False, 1),
    "default-sid-2.1.9.toml": (3, "runc", False, 2),
    "debian-bookworm-package.toml": (2, None, None, 1),
    "debian-trixie-package.toml": (2, None, None, 1),
    "debian-sid-package.toml": (2, None, None, 2),
    "kubeadm-systemd-v2.toml": (2, "runc", True, 1),
    "kubeadm-systemd-trixie-v2.toml": (2, "runc", True, 1),
    "kubeadm-systemd-v3.toml": (3, "runc", True, 2),
    "kubespray-v2.toml": (2, "runc", None, 1),
    "kubespray-v3.toml": (3, "runc", True, 2),
    "k3s-v2.toml": (2, "runc", True, 1),
    "k3s-v3-tmpl.toml": (3, "runc", True, 2),
    "comments-everywhere-v2.toml": (2, "runc", True, 1),
    "comments-everywhere-v3.toml": (3, "runc", True, 2),
    "stale-nvidia-v2.toml": (2, "runc", True, 1),
    "stale-nvidia-v3.toml": (3, "runc", True, 2),
    "nvidia-configured-v2.toml": (2, "runc", True, 1),
    "kata-v2.toml": (2, "runc", True, 1),
    "kata-default-v2.toml": (2, "runc", True, 1),
    "gvisor-v2.toml": (2, "runc", None, 1),
    "gvisor-v3.toml": (3, None, None, 2),
    "imports-v2.toml": (2, "runc", True, 1),
    "imports-v3-multiline.toml": (3, "runc", True, 2),
    "legacy-v1.toml": (1, None, None, 1),
    "empty.toml": (2, None, None, 1),
    "comments-only.toml": (2, None, None, 1),
    "crun-only-v2.toml": (2, "crun", True, 1),
    "dotted-keys-v2.toml": (2, "runc", True, 1),
    "crlf-v2.toml": (2, "runc", True, 1),
    "no-trailing-newline-v2.toml": (2, "runc", True, 1),
    "minimal-v2-no-cri.toml": (2, None, None, 1),
    "minimal-v3-no-cri.toml": (3, None, None, 2),
    "literal-and-multiline-v2.toml": (2, "runc", True, 1),
}
INVALID = {
    "syntax-error.toml": "is not valid TOML",
    "plugins-not-table.toml": "plugins must be a table",
    "runtimes-not-table.toml": "runtimes must be a table",
    "version-string.toml": "'version' must be an integer",
    "version-4.toml": "version 4 is not supported",
    "duplicate-table.toml": "defined more than once",
    "inline-runtimes.toml": "inline table",
}


def read(name):
    if name == "crlf-v2.toml":  # generated: the repository keeps LF line endings
        return read("k3s-v2.toml").replace("\n", "\r\n")
    with open(os.path.join(CORPUS, name), "rb") as handle:
        return handle.read().decode("utf-8")


def params(**kw):
    p = dict(path="/etc/containerd/config.toml", name="nvidia", runtime_path=NVIDIA,
             runtime_type="io.containerd.runc.v2", set_as_default=False, drop_in=False,
             drop_in_path="/etc/containerd/conf.d/99-nvidia.toml", config_version="auto",
             cdi=None, cdi_spec_dirs=None, systemd_cgroup=None, state="present")
    p.update(kw)
    return p


def prune(value):
    return cc._prune(value)


def without_ours(data, version, name="nvidia"):
    data = copy.deepcopy(data)
    prefix = cc.cri_prefix(version)
    runtimes = get_path(data, prefix + ("containerd", "runtimes"))
    if isinstance(runtimes, dict):
        runtimes.pop(name, None)
        if version in (1, 2) and runtimes.get("runc") == cc.BUILTIN_RUNC:
            runtimes.pop("runc")  # added next to ours so containerd 1.x keeps runc
    containerd = get_path(data, prefix + ("containerd",))
    if isinstance(containerd, dict):
        containerd.pop("default_runtime_name", None)
    data.pop("version", None)
    return prune(data)


def test_corpus_is_complete():
    names = sorted(n for n in os.listdir(CORPUS) if n.endswith(".toml"))
    assert names == sorted(set(EXPECT) - set(["crlf-v2.toml"]))
    assert len(names) >= 30


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
@pytest.mark.parametrize("name", sorted(EXPECT))
def test_reader_matches_tomllib(name):
    text = read(name)
    assert loads(text) == tomllib.loads(text)


@pytest.mark.parametrize("set_as_default", [False, True])
@pytest.mark.parametrize("name", sorted(EXPECT))
def test_present_semantics_idempotence_and_revert(name, set_as_default):
    version, base, systemd, major = EXPECT[name]
    text = read(name)
    old = loads(text)
    res = cc.plan(text, None, params(set_as_default=set_as_default), containerd_major=major)
    new_text = res["main"]
    assert res["version"] == version
    assert res["base_runtime"] == base
    new = loads(new_text)
    if tomllib is not None:
        assert tomllib.loads(new_text) == new
    prefix = cc.cri_prefix(version)
    rt = get_path(new, prefix + ("containerd", "runtimes", "nvidia"))
    assert rt["runtime_type"] == "io.containerd.runc.v2"
    assert rt["options"]["BinaryName"] == NVIDIA
    assert rt["options"].get("SystemdCgroup") == systemd
    if base:
        template = get_path(old, prefix + ("containerd", "runtimes", base))
        for key, value in template.items():
            if key not in ("runtime_type", "options"):
                assert rt[key] == value, key
        for key, value in template.get("options", {}).items():
            if key != "BinaryName":
                assert rt["options"][key] == value, key
    default = get_path(new, prefix + ("containerd", "default_runtime_name"))
    if set_as_default:
        assert default == "nvidia"
        assert res["default_runtime_name"] == "nvidia"
    else:
        assert default != "nvidia"
    # every key that is not ours survives
    assert without_ours(new, version) == without_ours(old, version)
    # CRLF and comments are kept
    if "\r\n" in text:
        assert "\n" not in new_text.replace("\r\n", "")
    for line in text.splitlines():
        if line.strip().startswith("#") and "nvidia" not in line and "old toolkit" not in line:
            assert line in new_text.splitlines()
    # apply twice == once
    again = cc.plan(new_text, None, params(set_as_default=set_as_default), containerd_major=major)
    assert again["main"] == new_text
    # present then absent restores the file
    back = cc.plan(new_text, None, params(state="absent"), containerd_major=major)["main"]
    had_ours = get_path(old, prefix + ("containerd", "runtimes", "nvidia")) is not None
    old_default = get_path(old, prefix + ("containerd", "default_runtime_name"))
    other_runtimes = set(get_path(old, prefix + ("containerd", "runtimes")) or {}) - set(["nvidia"])
    runc_kept = version in (1, 2) and other_runtimes and "runc" not in other_runtimes
    if not had_ours and old and not runc_kept and (not set_as_default or (old_default is not None and old_default in ("runc", base))):
        # byte-identical (a file without a final newline gets one)
        assert back == text or (not text.endswith("\n") and back == text + "\n")
    back_default = get_path(loads(back), prefix + ("containerd", "default_runtime_name"))
    if set_as_default:
        assert back_default in (None, base or "runc")
    else:
        assert back_default == (old_default if old_default != "nvidia" else base or "runc")
    assert without_ours(loads(back), version) == without_ours(old, version)
    assert get_path(loads(back), prefix + ("containerd", "runtimes", "nvidia")) is None


def test_stale_runtime_is_replaced():
    text = read("stale-nvidia-v2.toml")
    new = loads(cc.plan(text, None, params(set_as_default=True), 1)["main"])
    rt = new["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]
    assert rt == {"runtime_type": "io.containerd.runc.v2",
                  "options": {"SystemdCgroup": True, "BinaryName": NVIDIA}}


def test_configured_file_is_unchanged():
    text = read("nvidia-configured-v2.toml")
    assert cc.plan(text, None, params(set_as_default=True), 1)["main"] == text


def test_set_as_default_false_restores_runc():
    text = read("nvidia-configured-v2.toml")
    new = loads(cc.plan(text, None, params(set_as_default=False), 1)["main"])
    assert new["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["default_runtime_name"] == "runc"


def test_kata_default_is_not_the_template():
    res = cc.plan(read("kata-default-v2.toml"), None, params(), 1)
    assert res["base_runtime"] == "runc"
    assert res["runtime"]["options"] == {"SystemdCgroup": True, "NoNewKeyring": True, "BinaryName": NVIDIA}


def test_v3_keeps_literal_strings():
    res = cc.plan(read("default-sid-2.1.9.toml"), None, params(set_as_default=True), 2)
    assert "BinaryName = '/usr/bin/nvidia-container-runtime'" in res["main"]
    assert "default_runtime_name = 'nvidia'" in res["main"]
    assert "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia]" in res["main"]


def test_legacy_v1_uses_cri_plugin():
    res = cc.plan(read("legacy-v1.toml"), None, params(), 1)
    assert res["plugin"] == "cri"
    assert loads(res["main"])["plugins"]["cri"]["containerd"]["runtimes"]["nvidia"]["options"]["BinaryName"] == NVIDIA
    with pytest.raises(cc.ConfigError, match="version 1 does not support imports"):
        cc.plan(read("legacy-v1.toml"), None, params(drop_in=True), 1)
    # containerd 2.1.9's `config dump` of such a file has no trace of the runtime
    with pytest.raises(cc.ConfigError, match="containerd config migrate"):
        cc.plan(read("legacy-v1.toml"), None, params(), 2)
    # removing is always possible
    added = cc.plan(read("legacy-v1.toml"), None, params(), 1)["main"]
    assert cc.plan(added, None, params(state="absent"), 2)["main"] == read("legacy-v1.toml")


@pytest.mark.parametrize("major,version,plugin", [(1, 2, "io.containerd.grpc.v1.cri"), (2, 3, "io.containerd.cri.v1.runtime"),
                                                  (None, 2, "io.containerd.grpc.v1.cri")])
def test_missing_file_gets_minimal_config(major, version, plugin):
    res = cc.plan(None, None, params(set_as_default=True), major)
    data = loads(res["main"])
    assert data["version"] == version
    assert data["plugins"][plugin]["containerd"]["default_runtime_name"] == "nvidia"
    assert data["plugins"][plugin]["containerd"]["runtimes"]["nvidia"] == {
        "runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": NVIDIA}}


def test_config_version_option_and_v3_on_containerd_1():
    assert loads(cc.plan("", None, params(config_version="3"), None)["main"])["version"] == 3
    with pytest.raises(cc.ConfigError, match="needs containerd 2.x"):
        cc.plan(read("default-sid-2.1.9.toml"), None, params(), 1)


def test_missing_file_absent_is_noop():
    res = cc.plan(None, None, params(state="absent"), 1)
    assert res["main"] is None and res["drop_in"] is None


def test_systemd_cgroup_option():
    res = cc.plan(read("default-bookworm-1.6.20.toml"), None, params(systemd_cgroup=True), 1)
    assert res["runtime"]["options"]["SystemdCgroup"] is True


@pytest.mark.parametrize("name,version", [("default-trixie-1.7.24.toml", 2), ("default-sid-2.1.9.toml", 3),
                                          ("minimal-v2-no-cri.toml", 2)])
def test_cdi(name, version):
    res = cc.plan(read(name), None, params(cdi=True, cdi_spec_dirs=["/etc/cdi", "/var/run/cdi", "/opt/cdi"]),
                  2 if version == 3 else 1)
    cri = loads(res["main"])["plugins"][cc.CRI_PLUGINS[version]]
    assert cri["enable_cdi"] is True
    assert cri["cdi_spec_dirs"] == ["/etc/cdi", "/var/run/cdi", "/opt/cdi"]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_input_is_a_clear_error(name):
    text = read(os.path.join("invalid", name))
    with pytest.raises(cc.ConfigError) as err:
        cc.plan(text, None, params(), 1)
    assert INVALID[name] in str(err.value)
    assert "/etc/containerd/config.toml" in str(err.value)


# drop-in mode ---------------------------------------------------------------

def test_drop_in_v3_on_containerd_2():
    text = read("kubeadm-systemd-v3.toml")
    res = cc.plan(text, None, params(drop_in=True, set_as_default=True, cdi=True), 2)
    main = loads(res["main"])
    assert main["imports"] == ["/etc/containerd/conf.d/*.toml"]
    assert "nvidia" not in main["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]
    drop = loads(res["drop_in"])
    assert drop["version"] == 3
    cri = drop["plugins"]["io.containerd.cri.v1.runtime"]
    assert cri["enable_cdi"] is True
    assert cri["containerd"]["default_runtime_name"] == "nvidia"
    assert cri["containerd"]["runtimes"]["nvidia"]["options"]["SystemdCgroup"] is True
    assert res["main"].replace('imports = [\'/etc/containerd/conf.d/*.toml\']', "imports = []") == text
    # idempotent
    again = cc.plan(res["main"], res["drop_in"], params(drop_in=True, set_as_default=True, cdi=True), 2)
    assert again["main"] == res["main"] and again["drop_in"] == res["drop_in"]
    # absent removes drop-in and import
    back = cc.plan(res["main"], res["drop_in"], params(state="absent"), 2)
    assert back["drop_in"] is None
    assert back["main"] == text
    # ... but keeps the import while other files use it
    kept = cc.plan(res["main"], res["drop_in"], params(state="absent"), 2, drop_in_dir_has_others=True)
    assert loads(kept["main"])["imports"] == ["/etc/containerd/conf.d/*.toml"]


def test_drop_in_keeps_covering_import():
    text = read("imports-v2.toml")
    res = cc.plan(text, None, params(drop_in=True), 2)
    assert res["main"] == text


def test_drop_in_refused_on_containerd_1_with_cri_settings():
    with pytest.raises(cc.ConfigError, match="replaces a whole plugin section"):
        cc.plan(read("kubeadm-systemd-v2.toml"), None, params(drop_in=True), 1)
    with pytest.raises(cc.ConfigError, match="version is unknown"):
        cc.plan(read("kubeadm-systemd-v2.toml"), None, params(drop_in=True), None)


def test_drop_in_allowed_on_containerd_1_without_cri_settings():
    res = cc.plan(read("minimal-v2-no-cri.toml"), None, params(drop_in=True), 1)
    assert loads(res["main"])["imports"] == ["/etc/containerd/conf.d/*.toml"]
    assert loads(res["drop_in"])["version"] == 2


def test_drop_in_with_missing_main_file():
    res = cc.plan(None, None, params(drop_in=True), 2)
    assert loads(res["main"]) == {"version": 3, "imports": ["/etc/containerd/conf.d/*.toml"]}


def test_drop_in_removes_stale_runtime_from_main():
    text = read("stale-nvidia-v3.toml")
    res = cc.plan(text, None, params(drop_in=True), 2)
    runtimes = loads(res["main"])["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]
    assert "nvidia" not in runtimes


def test_switching_from_drop_in_to_main_removes_drop_in():
    res = cc.plan(read("default-sid-2.1.9.toml"), None, params(drop_in=True), 2)
    res2 = cc.plan(res["main"], res["drop_in"], params(drop_in=False), 2)
    assert res2["drop_in"] is None
    assert loads(res2["main"])["imports"] == []


def test_version_parsing():
    assert cc.parse_containerd_version("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1") == (1, 6, 20)
    assert cc.parse_containerd_version("containerd github.com/containerd/containerd/v2 2.1.9+unknown ") == (2, 1, 9)
    assert cc.parse_containerd_version("containerd containerd.io v1.7.27 05044ec") == (1, 7, 27)
    assert cc.parse_containerd_version("garbage") is None


def test_comments_hanging_off_a_table_stay_with_it():
    text = read("comments-everywhere-v2.toml")
    new = cc.plan(text, None, params(), 1)["main"]
    assert new.index('# BinaryName = "/usr/local/sbin/runc"') < new.index("runtimes.nvidia]")
    # a comment that introduces the next header stays with the header
    text = ('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "x"\n'
            '  # next: CNI\n[plugins."io.containerd.grpc.v1.cri".cni]\n  conf_dir = "/etc/cni/net.d"\n')
    new = cc.plan(text, None, params(), 1)["main"]
    assert "# next: CNI\n[plugins" in new
    assert new.index("runtimes.nvidia]") < new.index("# next: CNI")
