# -*- coding: utf-8 -*-
"""Hypothesis properties of containerd_config.plan on generated containerd configs."""
import copy

from hypothesis import given, settings, strategies as st, HealthCheck

from ansible_collections.gpufleet.nvidia.plugins.module_utils import containerd_config as cc
from ansible_collections.gpufleet.nvidia.plugins.module_utils import toml_edit as te

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

NVIDIA = "/usr/bin/nvidia-container-runtime"
option_keys = st.sampled_from(["SystemdCgroup", "NoNewKeyring", "Root", "IoUid", "CriuPath", "ShimCgroup"])
option_values = st.one_of(st.booleans(), st.integers(0, 5), st.sampled_from(["", "/x", "it's"]))
runtime_keys = st.sampled_from(["privileged_without_host_devices", "pod_annotations", "base_runtime_spec",
                                "snapshotter", "sandboxer"])
runtime_values = st.one_of(st.booleans(), st.sampled_from(["", "podsandbox"]),
                           st.lists(st.sampled_from(["a.example/*", "b"]), max_size=2))


@st.composite
def configs(draw):
    version = draw(st.sampled_from([2, 3]))
    literal = version == 3 and draw(st.booleans())

    def q(value):
        return te.dumps_string(value, literal)
    prefix = "plugins.%s" % q(cc.CRI_PLUGINS[version])
    indent = draw(st.sampled_from(["", "  "]))
    blocks = []
    top = ["version = %d\n" % version]
    if draw(st.booleans()):
        top.insert(0, "# generated config\n")
    if draw(st.booleans()):
        top.append("root = %s\n" % q("/var/lib/containerd"))
    if draw(st.booleans()):
        imports = draw(st.lists(st.sampled_from(["/a.toml", "/b/*.toml"]), max_size=2, unique=True))
        top.append("imports = %s\n" % te.dumps_value(imports, literal))
    if draw(st.booleans()):
        blocks.append("[grpc]\n  address = %s\n" % q("/run/containerd/containerd.sock"))
    if draw(st.booleans()):
        blocks.append("[%s]\n%s  enable_cdi = %s # cdi\n" % (prefix, indent, te.dumps_value(draw(st.booleans()))))
    default = draw(st.sampled_from([None, "runc", "crun", "kata"]))
    if default is not None or draw(st.booleans()):
        body = "%s  default_runtime_name = %s\n" % (indent, q(default)) if default else ""
        body += "%s  snapshotter = %s\n" % (indent, q("overlayfs")) if draw(st.booleans()) else ""
        blocks.append("%s[%s.containerd]\n%s" % (indent, prefix, body))
    for name in draw(st.lists(st.sampled_from(["runc", "crun", "kata", "runsc"]), unique=True, max_size=3)):
        rtype = "io.containerd.runc.v2" if name in ("runc", "crun") else "io.containerd.%s.v2" % name
        lines = ["%s[%s.containerd.runtimes.%s]\n" % (indent * 2, prefix, name),
                 "%s  runtime_type = %s\n" % (indent * 2, q(rtype))]
        for k, v in draw(st.dictionaries(runtime_keys, runtime_values, max_size=3)).items():
            lines.append("%s  %s = %s\n" % (indent * 2, k, te.dumps_value(v, literal)))
        blocks.append("".join(lines))
        opts = draw(st.dictionaries(option_keys, option_values, max_size=4))
        if opts or draw(st.booleans()):
            lines = ["%s[%s.containerd.runtimes.%s.options]\n" % (indent * 3, prefix, name)]
            for k, v in opts.items():
                comment = draw(st.sampled_from(["", " # opt"]))
                lines.append("%s  %s = %s%s\n" % (indent * 3, k, te.dumps_value(v, literal), comment))
            blocks.append("".join(lines))
    if draw(st.booleans()):
        blocks.append("[plugins.%s]\n  path = %s\n" % (q("io.containerd.internal.v1.opt"), q("/opt/containerd")))
    order = draw(st.permutations(list(range(len(blocks)))))
    sep = draw(st.sampled_from(["\n", "", "\n# section\n"]))
    text = "".join(top) + "".join(sep + blocks[i] for i in order)
    return version, text


def params(**kw):
    p = dict(path="/etc/containerd/config.toml", name="nvidia", runtime_path=NVIDIA,
             runtime_type="io.containerd.runc.v2", set_as_default=False, drop_in=False,
             drop_in_path="/etc/containerd/conf.d/99-nvidia.toml", config_version="auto",
             cdi=None, cdi_spec_dirs=None, systemd_cgroup=None, state="present")
    p.update(kw)
    return p


def strip_ours(data, version):
    data = copy.deepcopy(data)
    containerd = te.get_path(data, cc.cri_prefix(version) + ("containerd",))
    if isinstance(containerd, dict):
        containerd.get("runtimes", {}).pop("nvidia", None)
        if version == 2 and containerd.get("runtimes", {}).get("runc") == cc.BUILTIN_RUNC:
            containerd["runtimes"].pop("runc")
        containerd.pop("default_runtime_name", None)
    cri = te.get_path(data, cc.cri_prefix(version))
    if isinstance(cri, dict):
        cri.pop("enable_cdi", None)
    return cc._prune(data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.booleans(), st.sampled_from([None, True, False]))
def test_apply_twice_keeps_keys_and_reverts(cfg, set_as_default, cdi):
    version, text = cfg
    major = 2 if version == 3 else 1
    old = te.loads(text)
    if tomllib is not None:
        assert tomllib.loads(text) == old
    p = params(set_as_default=set_as_default, cdi=cdi)
    once = cc.plan(text, None, p, major)["main"]
    new = te.loads(once)
    if tomllib is not None:
        assert tomllib.loads(once) == new
    rt = te.get_path(new, cc.cri_prefix(version) + ("containerd", "runtimes", "nvidia"))
    assert rt["options"]["BinaryName"] == NVIDIA and rt["runtime_type"] == "io.containerd.runc.v2"
    # apply twice == once
    assert cc.plan(once, None, p, major)["main"] == once
    # every key that is not ours survives, with its value
    assert strip_ours(new, version) == strip_ours(old, version)
    # present then absent returns the original bytes (default options)
    back = cc.plan(once, None, params(state="absent"), major)["main"]
    assert strip_ours(te.loads(back), version) == strip_ours(old, version)
    old_runtimes = te.get_path(old, cc.cri_prefix(version) + ("containerd", "runtimes")) or {}
    bare_runc_only = version == 2 and old_runtimes == {"runc": cc.BUILTIN_RUNC}
    if (not set_as_default and cdi is None and not bare_runc_only
            and not (version == 2 and old_runtimes and "runc" not in old_runtimes)):
        assert back == text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.booleans())
def test_drop_in_apply_twice_and_revert(cfg, set_as_default):
    version, text = cfg
    if version != 3:
        return
    p = params(drop_in=True, set_as_default=set_as_default)
    res = cc.plan(text, None, p, 2)
    again = cc.plan(res["main"], res["drop_in"], p, 2)
    assert (again["main"], again["drop_in"]) == (res["main"], res["drop_in"])
    assert te.loads(res["drop_in"])["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]["nvidia"][
        "options"]["BinaryName"] == NVIDIA
    back = cc.plan(res["main"], res["drop_in"], params(state="absent"), 2)
    assert back["drop_in"] is None
    old = te.loads(text)
    new = te.loads(back["main"])
    old.setdefault("imports", [])
    new.setdefault("imports", [])
    assert new == old
