# -*- coding: utf-8 -*-
"""Hypothesis properties of containerd_config.plan on generated containerd configs."""
import copy
import difflib

from hypothesis import given, settings, strategies as st, HealthCheck

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _containerd_config as cc
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _toml_edit as te

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

NVIDIA = "/usr/bin/nvidia-container-runtime"
option_keys = st.sampled_from(["SystemdCgroup", "NoNewKeyring", "Root", "IoUid", "CriuPath", "ShimCgroup"])
# nan and inf are TOML floats like any other (issue 11, finding 9)
option_values = st.one_of(st.booleans(), st.integers(0, 5), st.sampled_from(["", "/x", "it's"]),
                          st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.5]))
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
        assert te.values_equal(tomllib.loads(text), old)
    p = params(set_as_default=set_as_default, cdi=cdi)
    once = cc.plan(text, None, p, major)["main"]
    new = te.loads(once)
    if tomllib is not None:
        assert te.values_equal(tomllib.loads(once), new)
    rt = te.get_path(new, cc.cri_prefix(version) + ("containerd", "runtimes", "nvidia"))
    assert rt["options"]["BinaryName"] == NVIDIA and rt["runtime_type"] == "io.containerd.runc.v2"
    # apply twice == once
    assert cc.plan(once, None, p, major)["main"] == once
    # every key that is not ours survives, with its value
    assert te.values_equal(strip_ours(new, version), strip_ours(old, version))
    # present then absent returns the original bytes (default options)
    back = cc.plan(once, None, params(state="absent"), major)["main"]
    assert te.values_equal(strip_ours(te.loads(back), version), strip_ours(old, version))
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
    assert te.values_equal(new, old)


# imports arrays as people write them (issue 11, finding 8) --------------------------

PATTERN = "/etc/containerd/conf.d/*.toml"


@st.composite
def import_arrays(draw):
    """``imports = [...]`` in one of the layouts found in real files, and its entries."""
    entries = draw(st.lists(st.sampled_from(["/etc/containerd/site.toml", "/etc/containerd/runtimes/*.toml",
                                             "/opt/a b.toml", "/x/it's.toml"]), max_size=3, unique=True))
    literal = draw(st.booleans())

    def q(value):
        return te.dumps_string(value, literal)
    layout = draw(st.sampled_from(["one-per-line", "aligned", "one-line"]))
    if layout == "one-line" or (layout == "aligned" and not entries):
        trail = draw(st.sampled_from(["", ", "])) if entries else draw(st.sampled_from(["", " "]))
        return "imports = [%s%s]%s\n" % (", ".join(q(e) for e in entries), trail,
                                         draw(st.sampled_from(["", "  # imports"]))), entries
    if layout == "aligned":
        return "imports = [" + (",\n" + " " * 11).join(q(e) for e in entries) + "]\n", entries
    indent = draw(st.sampled_from(["  ", "    ", "\t"]))
    lines = ["imports = [\n"]
    for i, entry in enumerate(entries):
        if draw(st.booleans()):
            lines.append("%s# about %d\n" % (indent, i))
        last = i == len(entries) - 1
        comma = "," if not last or draw(st.booleans()) else ""
        comment = draw(st.sampled_from(["", "  # why", " #"]))
        lines.append("%s%s%s%s\n" % (indent, q(entry), comma, comment))
    if not entries or draw(st.booleans()):
        lines.append("%s# end\n" % indent)
    lines.append("]\n")
    return "".join(lines), entries


def _one_comma_more(old, new):
    return len(new) == len(old) + 1 and any(new[i] == "," and new[:i] + new[i + 1:] == old for i in range(len(new)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(import_arrays(), st.booleans())
def test_imports_keep_their_layout(arr, crlf):
    imports_text, entries = arr
    text = "# node\nversion = 3\n" + imports_text + "\n[grpc]\n  address = '/run/containerd/containerd.sock'\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    res = cc.plan(text, None, params(drop_in=True), 2)
    main = res["main"]
    assert te.loads(main)["imports"] == entries + [PATTERN]
    if tomllib is not None:
        assert tomllib.loads(main)["imports"] == entries + [PATTERN]
    old_lines, new_lines = text.splitlines(), main.splitlines()
    added = [line for line in new_lines if PATTERN in line]
    assert len(added) == 1
    if "\n" in imports_text.strip():
        # a multi-line array: one new line, indented as the entries (or as "]" plus a step when
        # it had none); at most one old line changed, and only by a comma
        extra = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            assert tag in ("insert", "replace")
            news = new_lines[j1:j2]
            for old in old_lines[i1:i2]:
                # (with "]" right after the last entry, the bracket moves to the new line)
                match = [n for n in news if _one_comma_more(old, n) or (old.endswith("]") and n == old[:-1] + ",")]
                assert match, old
                news.remove(match[0])
            extra.extend(news)
        assert extra == added
        indent = added[0][:len(added[0]) - len(added[0].lstrip())]
        if entries:
            last = [line for line in new_lines if entries[-1] in line][0]
            assert indent == last[:len(last) - len(last.lstrip())]
        else:
            assert indent == "  "
    else:
        # one line: that line alone changes
        assert [o for o in old_lines if o not in new_lines] == [o for o in old_lines if o.startswith("imports")]
    if crlf:
        assert "\n" not in main.replace("\r\n", "")
    # idempotent, and absent gives the bytes back
    assert cc.plan(main, res["drop_in"], params(drop_in=True), 2)["main"] == main
    assert cc.plan(main, res["drop_in"], params(state="absent"), 2)["main"] == text


# keys of an existing runtimes.nvidia table (issue 11, finding 10) -------------------

user_runtime_keys = st.dictionaries(st.sampled_from(["privileged_without_host_devices", "pod_annotations",
                                                     "container_annotations", "sandboxer", "io_type"]),
                                    runtime_values, min_size=1, max_size=3)
user_option_keys = st.dictionaries(st.sampled_from(["Root", "NoPivotRoot", "CriuPath", "IoGid"]), option_values,
                                   max_size=3)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), user_runtime_keys, user_option_keys, st.sampled_from([None, True, False]),
       st.booleans(), st.booleans())
def test_keys_of_our_table_that_we_do_not_own_survive(cfg, user, user_options, systemd, stale, drop_in):
    version, text = cfg
    major = 2 if version == 3 else 1
    prefix = "plugins.%s.containerd.runtimes.nvidia" % te.dumps_string(cc.CRI_PLUGINS[version])
    table = {"runtime_type": "io.containerd.runc.v1" if stale else "io.containerd.runc.v2"}
    table.update(user)
    lines = ["\n[%s]\n" % prefix] + ["  %s = %s\n" % (k, te.dumps_value(v)) for k, v in table.items()]
    options = dict(user_options, BinaryName="/old/nvidia-container-runtime" if stale else NVIDIA)
    lines.append("[%s.options]\n" % prefix)
    lines.extend("  %s = %s # user\n" % (k, te.dumps_value(v)) for k, v in options.items())
    text += "".join(lines)
    p = params(systemd_cgroup=systemd, drop_in=drop_in and version == 3)
    res = cc.plan(text, None, p, major)
    out = res["drop_in"] if p["drop_in"] else res["main"]
    rt = te.get_path(te.loads(out), cc.cri_prefix(version) + ("containerd", "runtimes", "nvidia"))
    assert te.values_equal(rt, res["runtime"])
    assert rt["runtime_type"] == "io.containerd.runc.v2" and rt["options"]["BinaryName"] == NVIDIA
    for key, value in user.items():
        assert te.values_equal(rt[key], value), key
    for key, value in user_options.items():
        assert te.values_equal(rt["options"][key], value), key
    if systemd is not None:
        assert rt["options"]["SystemdCgroup"] is systemd
    again = cc.plan(res["main"], res["drop_in"], p, major)
    assert (again["main"], again["drop_in"]) == (res["main"], res["drop_in"])
    runtimes = te.get_path(te.loads(text), cc.cri_prefix(version) + ("containerd", "runtimes"))
    runc_added = version == 2 and "runc" not in runtimes  # containerd 1.x would lose its runc otherwise
    if not p["drop_in"] and not stale and not runc_added and te.values_equal(rt, dict(table, options=options)):
        assert res["main"] == text  # nothing of ours to correct: not a byte changes
