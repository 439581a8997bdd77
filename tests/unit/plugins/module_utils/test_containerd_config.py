# -*- coding: utf-8 -*-
"""containerd_config.plan over the fixture corpus (tests/fixtures/containerd)."""
import copy
import os

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _containerd_config as cc
from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import get_path, loads, values_equal

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
    "imports-v3-commented.toml": (3, "runc", True, 2),
    "nvidia-user-keys-v2.toml": (2, "runc", True, 1),
    "nan-inf-v2.toml": (2, "runc", True, 1),
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
    assert values_equal(loads(text), tomllib.loads(text))  # nan == nan


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
        assert values_equal(tomllib.loads(new_text), new)
    prefix = cc.cri_prefix(version)
    rt = get_path(new, prefix + ("containerd", "runtimes", "nvidia"))
    assert rt["runtime_type"] == "io.containerd.runc.v2"
    assert rt["options"]["BinaryName"] == NVIDIA
    assert rt["options"].get("SystemdCgroup") == systemd
    # an existing table of ours keeps every key we do not own
    had = get_path(old, prefix + ("containerd", "runtimes", "nvidia")) or {}
    for key, value in had.items():
        if key not in ("runtime_type", "options"):
            assert values_equal(rt[key], value), key
    had_options = had.get("options") or {}
    for key, value in had_options.items():
        if key not in ("BinaryName", "SystemdCgroup"):
            assert values_equal(rt["options"][key], value), key
    if base:
        # the template's settings are copied where our table had none of its own
        template = get_path(old, prefix + ("containerd", "runtimes", base))
        for key, value in template.items():
            if key not in ("runtime_type", "options"):
                assert values_equal(rt[key], had.get(key, value)), key
        for key, value in template.get("options", {}).items():
            if key not in ("BinaryName", "SystemdCgroup"):
                assert values_equal(rt["options"][key], had_options.get(key, value)), key
    default = get_path(new, prefix + ("containerd", "default_runtime_name"))
    if set_as_default:
        assert default == "nvidia"
        assert res["default_runtime_name"] == "nvidia"
    else:
        assert default != "nvidia"
    # every key that is not ours survives
    assert values_equal(without_ours(new, version), without_ours(old, version))
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
    assert values_equal(without_ours(loads(back), version), without_ours(old, version))
    assert get_path(loads(back), prefix + ("containerd", "runtimes", "nvidia")) is None


def test_stale_runtime_is_corrected_and_keeps_its_other_keys():
    text = read("stale-nvidia-v2.toml")
    new = loads(cc.plan(text, None, params(set_as_default=True), 1)["main"])
    rt = new["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]
    # runtime_type and BinaryName are ours and corrected; the keys the old
    # setup wrote that we do not own stay as they were
    assert rt == {"privileged_without_host_devices": False, "runtime_engine": "", "runtime_root": "",
                  "runtime_type": "io.containerd.runc.v2",
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


# issue 11: nesting, nan/inf, imports layout, keys of our runtime table ---------

def _deep_texts():
    deep = 500
    return [
        "version = 2\nx = " + "[" * deep + "]" * deep + "\n",
        "version = 2\nx = " + "{a = " * deep + "1" + "}" * deep + "\n",
        "version = 2\n[" + ".".join(["a"] * deep) + "]\n",
        "version = 2\n" + ".".join(["a"] * deep) + " = 1\n",
        "version = 2\n[plugins]\n" + ".".join(["a"] * 64) + " = 1\n",        # 65 with the header
        "version = 2\nx = " + "[" * 100000,                                   # never closed
    ]


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize("mode", [dict(), dict(drop_in=True), dict(state="absent")])
def test_nesting_deeper_than_the_limit_is_refused_cleanly(index, mode):
    text = _deep_texts()[index]
    with pytest.raises(cc.ConfigError) as err:
        cc.plan(text, None, params(**mode), 2)
    assert str(err.value).startswith("/etc/containerd/config.toml: tables and arrays are nested deeper than 64 levels")
    assert str(err.value).endswith("refusing to edit it")


def test_nesting_up_to_the_limit_is_edited():
    text = "version = 2\n[plugins]\n" + ".".join(["a"] * 62) + " = [1]\n"   # 64 levels, the array included
    res = cc.plan(text, None, params(), 1)
    assert cc.plan(res["main"], None, params(), 1)["main"] == res["main"]
    assert cc.plan(res["main"], None, params(state="absent"), 1)["main"] == text


def test_a_deep_drop_in_of_ours_is_rewritten():
    # our own file: unreadable content is replaced, as for any invalid drop-in
    res = cc.plan(read("default-sid-2.1.9.toml"), "x = " + "[" * 1000, params(drop_in=True), 2)
    assert loads(res["drop_in"])["version"] == 3


def test_nan_and_inf_are_floats_like_any_other():
    text = read("nan-inf-v2.toml")
    res = cc.plan(text, None, params(set_as_default=True, cdi=True), 1)
    throttle = loads(res["main"])["plugins"]["example.com.v1.throttle"]
    assert throttle["max_ratio"] == float("inf") and throttle["min_ratio"] == float("-inf")
    assert throttle["target"] != throttle["target"]  # nan
    for line in ("  target = nan   # not measured yet", "  fallback = -nan", "  samples = [1.5, nan, +inf]"):
        assert line in res["main"].splitlines()
    assert cc.plan(res["main"], None, params(set_as_default=True, cdi=True), 1)["main"] == res["main"]
    back = cc.plan(res["main"], None, params(state="absent"), 1)["main"]
    back_data = loads(back)
    assert back_data["plugins"]["io.containerd.grpc.v1.cri"].pop("enable_cdi") is True  # absent leaves CDI alone
    assert values_equal(without_ours(back_data, 2), without_ours(loads(text), 2))
    assert back.startswith(text[:text.index("[plugins.\"io.containerd.grpc.v1.cri\"")])


def test_nan_in_the_template_is_copied_and_stable():
    text = ('version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]\n'
            '  runtime_type = "io.containerd.runc.v2"\n'
            '  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n'
            '    CpuQuotaRatio = nan\n    Ceiling = -inf\n')
    for mode in (dict(), dict(drop_in=True)):
        res = cc.plan(text, None, params(**mode), 2)
        out = res["drop_in"] if mode else res["main"]
        options = loads(out)["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["nvidia"]["options"]
        assert options["CpuQuotaRatio"] != options["CpuQuotaRatio"] and options["Ceiling"] == float("-inf")
        again = cc.plan(res["main"], res["drop_in"], params(**mode), 2)
        assert (again["main"], again["drop_in"]) == (res["main"], res["drop_in"])
        back = cc.plan(res["main"], res["drop_in"], params(state="absent"), 2)
        # (the drop-in mode leaves the "imports = []" it added)
        assert back["main"] == (text.replace("version = 3\n", "version = 3\nimports = []\n") if mode else text)
        assert back["drop_in"] is None


def test_negative_nan_keeps_its_sign_when_written():
    from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import dumps_value
    assert dumps_value(float("nan")) == "nan"
    assert dumps_value(-float("nan")) == "-nan"
    assert dumps_value([float("inf"), -float("inf")]) == "[inf, -inf]"


DROP_IN_LINE = "'/etc/containerd/conf.d/*.toml'"


def test_multiline_imports_keep_layout_and_comments():
    text = read("imports-v3-commented.toml")
    res = cc.plan(text, None, params(drop_in=True), 2)
    want = text.replace("  '/etc/containerd/runtimes/*.toml'\n]",
                        "  '/etc/containerd/runtimes/*.toml',\n  %s\n]" % DROP_IN_LINE)
    assert res["main"] == want
    assert loads(res["main"])["imports"] == ["/etc/containerd/site.toml", "/etc/containerd/runtimes/*.toml",
                                             "/etc/containerd/conf.d/*.toml"]
    again = cc.plan(res["main"], res["drop_in"], params(drop_in=True), 2)
    assert again["main"] == res["main"]
    # absent gives the bytes back, comma and all
    assert cc.plan(res["main"], res["drop_in"], params(state="absent"), 2)["main"] == text


def test_multiline_imports_with_trailing_comma():
    text = read("imports-v3-multiline.toml")
    res = cc.plan(text, None, params(drop_in=True), 2)
    assert res["main"] == text.replace('  "/etc/containerd/runtimes/*.toml",\n',
                                       '  "/etc/containerd/runtimes/*.toml",\n  "/etc/containerd/conf.d/*.toml",\n')
    assert cc.plan(res["main"], res["drop_in"], params(state="absent"), 2)["main"] == text


@pytest.mark.parametrize("imports,added", [
    # aligned continuation lines
    ('imports = ["/a.toml",\n           "/b.toml"]\n',
     'imports = ["/a.toml",\n           "/b.toml",\n           "/etc/containerd/conf.d/*.toml"]\n'),
    # a comment after the last element, no trailing comma
    ('imports = [\n    "/a.toml" # a\n]\n', 'imports = [\n    "/a.toml", # a\n    "/etc/containerd/conf.d/*.toml"\n]\n'),
    # an empty multi-line array with a comment
    ('imports = [\n  # none yet\n]\n', 'imports = [\n  # none yet\n  "/etc/containerd/conf.d/*.toml",\n]\n'),
    # one line: the entry is appended on that line
    ('imports = ["/a.toml"]  # site\n', 'imports = ["/a.toml", "/etc/containerd/conf.d/*.toml"]  # site\n'),
    ("imports = ['/a.toml', ]\n", "imports = ['/a.toml', '/etc/containerd/conf.d/*.toml', ]\n"),
    ('imports = [ ]\n', 'imports = ["/etc/containerd/conf.d/*.toml" ]\n'),
])
@pytest.mark.parametrize("crlf", [False, True])
def test_imports_layouts(imports, added, crlf):
    text = "version = 3\n" + imports
    want = "version = 3\n" + added
    if crlf:
        text, want = text.replace("\n", "\r\n"), want.replace("\n", "\r\n")
    res = cc.plan(text, None, params(drop_in=True), 2)
    assert res["main"] == want
    assert cc.plan(res["main"], res["drop_in"], params(drop_in=True), 2)["main"] == want
    assert cc.plan(res["main"], res["drop_in"], params(state="absent"), 2)["main"] == text


def test_removing_an_import_takes_its_line_and_keeps_the_other_comments():
    text = ('version = 3\nimports = [\n  "/a.toml",  # a\n  # ours\n  "/etc/containerd/conf.d/*.toml",  # ours\n'
            '  "/b.toml",\n]\n')
    res = cc.plan(text, "version = 3\n", params(state="absent"), 2)
    assert res["main"] == 'version = 3\nimports = [\n  "/a.toml",  # a\n  # ours\n  "/b.toml",\n]\n'


def test_keys_of_our_runtime_table_that_we_do_not_own_are_kept():
    text = read("nvidia-user-keys-v2.toml")
    # converged: nothing to do, however often it runs
    assert cc.plan(text, None, params(), 1)["main"] == text
    # a new binary changes that one line; comments and the user's keys stay
    other = "/usr/local/bin/nvidia-container-runtime"
    res = cc.plan(text, None, params(runtime_path=other), 1)
    assert res["main"] == text.replace('BinaryName = "%s"' % NVIDIA, 'BinaryName = "%s"' % other)
    rt = res["runtime"]
    assert rt["privileged_without_host_devices"] is True  # the template (runc) says false: ours is kept
    assert rt["pod_annotations"] == ["nvidia.cdi.k8s.io/*"]
    assert rt["options"]["Root"] == "/run/containerd/runc-nvidia"


def test_owned_keys_follow_the_template_and_options():
    text = read("nvidia-user-keys-v2.toml").replace(
        '      runtime_type = "io.containerd.runc.v2"\n      # privileged',
        '      runtime_type = "io.containerd.runc.v1"\n      # privileged').replace(
        "        SystemdCgroup = true\n        Root", "        SystemdCgroup = false\n        Root")
    res = cc.plan(text, None, params(), 1)
    rt = loads(res["main"])["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]
    assert rt["runtime_type"] == "io.containerd.runc.v2"
    assert rt["options"]["SystemdCgroup"] is True       # runc's cgroup driver
    assert rt["privileged_without_host_devices"] is True
    assert "# privileged pods must not get every device of the host" in res["main"]
    off = cc.plan(text, None, params(systemd_cgroup=False), 1)
    assert off["runtime"]["options"]["SystemdCgroup"] is False


def test_template_keys_are_added_to_an_existing_table():
    text = ('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n'
            '  runtime_type = "io.containerd.runc.v2"\n  base_runtime_spec = "/etc/spec.json"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n'
            '  runtime_type = "io.containerd.runc.v2"\n  sandbox_mode = "podsandbox" # mine\n'
            '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]\n'
            '    BinaryName = "%s"\n' % NVIDIA)
    res = cc.plan(text, None, params(), 1)
    assert res["runtime"] == {"runtime_type": "io.containerd.runc.v2", "sandbox_mode": "podsandbox",
                              "options": {"BinaryName": NVIDIA}, "base_runtime_spec": "/etc/spec.json"}
    assert 'sandbox_mode = "podsandbox" # mine\n  base_runtime_spec = "/etc/spec.json"\n' in res["main"]
    assert cc.plan(res["main"], None, params(), 1)["main"] == res["main"]


def test_a_runtime_table_written_inline_is_rewritten_with_its_keys():
    text = ('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes]\n'
            '  nvidia = { runtime_type = "io.containerd.runc.v1", privileged_without_host_devices = true }\n')
    res = cc.plan(text, None, params(), 1)
    rt = loads(res["main"])["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]
    assert rt == {"runtime_type": "io.containerd.runc.v2", "privileged_without_host_devices": True,
                  "options": {"BinaryName": NVIDIA}}


def test_drop_in_keeps_user_keys_from_the_main_file_and_from_itself():
    text = read("kubeadm-systemd-v3.toml")
    prefix = "plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia"
    with_ours = text + "\n[%s]\n  runtime_type = 'io.containerd.runc.v2'\n  privileged_without_host_devices = true\n" % prefix
    res = cc.plan(with_ours, None, params(drop_in=True), 2)
    rt = loads(res["drop_in"])["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["nvidia"]
    assert rt["privileged_without_host_devices"] is True
    assert "nvidia" not in loads(res["main"])["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]
    again = cc.plan(res["main"], res["drop_in"], params(drop_in=True), 2)
    assert (again["main"], again["drop_in"]) == (res["main"], res["drop_in"])
    # a key added to the drop-in by hand survives the next run; owned keys are set back
    edited = res["drop_in"].replace("[%s.options]" % prefix, "[%s.options]\n  NoPivotRoot = true" % prefix).replace(
        "BinaryName = '%s'" % NVIDIA, "BinaryName = '/opt/bin/x'")
    fixed = cc.plan(res["main"], edited, params(drop_in=True), 2)
    options = loads(fixed["drop_in"])["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"][
        "nvidia"]["options"]
    assert options["NoPivotRoot"] is True and options["BinaryName"] == NVIDIA
    # and back into the main file
    main = cc.plan(fixed["main"], fixed["drop_in"], params(), 2)
    rt = loads(main["main"])["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["nvidia"]
    assert main["drop_in"] is None
    assert rt["privileged_without_host_devices"] is True and rt["options"]["NoPivotRoot"] is True


def test_plan_dispatches_one_planner_per_mode():
    assert sorted(cc._PLANNERS) == ["absent", "drop_in", "main"]
    text = read("default-sid-2.1.9.toml")
    for mode, kw in (("main", {}), ("drop_in", {"drop_in": True}), ("absent", {"state": "absent"})):
        p = params(**kw)
        via_plan = cc.plan(text, None, p, 2)
        direct = cc._PLANNERS[mode](text, cc.load(text, p["path"]), None, p, 3, 2, False)
        for key, value in direct.items():
            assert via_plan[key] == value, (mode, key)
