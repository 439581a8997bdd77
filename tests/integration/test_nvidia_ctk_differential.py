# -*- coding: utf-8 -*-
"""Differential test: our configuration planners against NVIDIA's real nvidia-ctk.

For every daemon.json fixture (``tests/fixtures/docker/*``), every containerd
``config.toml`` fixture (``tests/fixtures/containerd/*.toml`` and
``invalid/*.toml``: versions 1, 2 and 3) and every CRI-O fixture
(``tests/fixtures/crio/*``) the test runs ``nvidia-ctk runtime configure``
1.20.0 (built from source by ``../shared/toolkit/build.sh``, see
``nvidia_ctk.py``) and the pure planning code of our modules
(``docker_config.plan``, ``containerd_config.plan``, ``crio_config.plan``)
on the same input with the same options, in the variants

* ``default``: register the runtime;
* ``set-as-default``: ``--set-as-default`` / ``set_as_default=True``;
* ``cdi``: ``--cdi.enabled`` / ``cdi=True`` (Docker and containerd only:
  nvidia-ctk ignores the flag for CRI-O and ``crio_runtime`` has no such
  option),

for containerd in place and through a drop-in file (read by containerd 1.x
for config versions 1 and 2, 2.x for version 3, and once more by 2.x for
version 2 files: mode ``drop-in-2.x``), for CRI-O through its drop-in
``crio.conf.d/99-nvidia.conf``.  nvidia-ctk always
gets ``--config`` and ``--drop-in-config`` under a temporary directory (its
defaults are under /etc), and a module fixture checks that nothing under
/etc/docker, /etc/containerd and /etc/crio changed.

It then compares the configuration each daemon would *load*: daemon.json
parsed as JSON (numbers exactly, as decimals); containerd's main file with
every file its ``imports`` name merged over it as containerd does
(containerd 1.x: each plugin section of an imported file replaces the whole
section; 2.x: tables merged key by key; only imports inside the temporary
directory are followed); CRI-O's main file with
the files of ``crio.conf.d`` merged over it in lexical order, table by table.
A side that refuses the input (our ``*ConfigError``, a non-zero exit of
nvidia-ctk) or crashes (a Go panic) is compared by that outcome.

Every difference must be explained by one of the ``INTENDED`` classifiers
below (each with a minimal example, listed with its outputs in
docs/design.md, "Intended differences from nvidia-ctk"); any other
difference fails with a readable listing.  ``test_every_intended_difference_
occurs`` fails when a classifier no longer matches any fixture, and
``test_minimal_example`` runs each classifier's own example through both
tools.
"""
import collections
import copy
import decimal
import fnmatch
import functools
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

try:
    import tomllib
except ImportError:  # pragma: no cover - the integration suite runs on Python 3.11
    tomllib = None

if __name__ == "__main__":  # run as a script: make tests/ and the collection importable
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)),
                    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

import nvidia_ctk  # noqa: E402
from conftest import FIXTURES  # noqa: E402

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _containerd_config as containerd_config  # noqa: E402
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _crio_config as crio_config  # noqa: E402
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _docker_config as docker_config  # noqa: E402

pytestmark = pytest.mark.skipif(tomllib is None, reason="needs Python 3.11+ (tomllib)")

MISSING = type("Missing", (), {"__repr__": lambda self: "<absent>"})()
RUNTIME = "nvidia"
CTD_RUNTIME_PATH = "/usr/bin/nvidia-container-runtime"
DOCKER_RUNTIME_PATH = "nvidia-container-runtime"
CRI = containerd_config.CRI_PLUGINS
CTK_TIMEOUT = 60

DOCKER_DIR = os.path.join(FIXTURES, "docker")
CONTAINERD_DIR = os.path.join(FIXTURES, "containerd")
CRIO_DIR = os.path.join(FIXTURES, "crio")

# Inputs a repository should not hold as bytes are stored plain and transformed
# when read (as in tests/unit/plugins/module_utils/test_docker_config.py).
TRANSFORMS = {
    "bom": lambda text: u"\ufeff" + text,
    "crlf": lambda text: text.replace("\n", "\r\n"),
}


# ---------------------------------------------------------------------------
# nvidia-ctk


@pytest.fixture(scope="session")
def ctk():
    try:
        path, reason = nvidia_ctk.locate()
    except nvidia_ctk.ToolkitBuildError as exc:
        pytest.fail("nvidia-ctk %s is needed for the differential test and cannot be had: %s"
                    % (nvidia_ctk.TOOLKIT_VERSION, exc))
    if path is None:
        pytest.skip(reason)
    first = nvidia_ctk.version(path)
    assert first == "NVIDIA Container Toolkit CLI version %s" % nvidia_ctk.TOOLKIT_VERSION, first
    return path


def _etc_state():
    """Size and mtime of everything under the daemons' /etc folders."""
    state = {}
    for top in ("/etc/docker", "/etc/containerd", "/etc/crio", "/etc/nvidia-container-runtime"):
        for root, dirs, files in os.walk(top):
            for name in [root] + [os.path.join(root, f) for f in files]:
                try:
                    st = os.lstat(name)
                except OSError:
                    continue
                state[name] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return state


@pytest.fixture(scope="module", autouse=True)
def etc_untouched():
    before = _etc_state()
    yield
    if "base" in _TMP:
        shutil.rmtree(_TMP.pop("base"), ignore_errors=True)
    assert _etc_state() == before, "nvidia-ctk or the test changed something under /etc"


Outcome = collections.namedtuple("Outcome", "kind files message")
# kind: "ok" (files: {absolute path: text or None}), "error" or "panic" (message)


def _run_ctk(binary, tmp, args):
    env = dict(os.environ)
    # nvidia-ctk's own global config file: never the one under /etc
    env["NVIDIA_CTK_CONFIG"] = os.path.join(tmp, "nvidia-ctk-config.toml")
    for arg in args:
        if arg.startswith("--config=") or arg.startswith("--drop-in-config="):
            value = arg.split("=", 1)[1]
            assert value == "" or value.startswith(tmp + os.sep), arg
    proc = subprocess.run([binary, "runtime", "configure"] + args, cwd=tmp, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=CTK_TIMEOUT, check=False)
    out = (proc.stderr + proc.stdout).strip()
    if "panic:" in out or "goroutine " in out:
        first = [line for line in out.splitlines() if line.startswith("panic:")]
        return Outcome("panic", None, (first or [out])[0])
    if proc.returncode != 0:
        lines = [line for line in out.splitlines() if "level=error" in line] or out.splitlines()[-1:]
        messages = [m.group(1).replace('\\"', '"') if m else line
                    for line, m in ((line, re.search(r'msg="(.*)"$', line)) for line in lines)]
        return Outcome("error", None, " / ".join(messages))
    return Outcome("ok", _read_tree(tmp), "")


def _read_tree(tmp):
    files = {}
    for root, dirs, names in os.walk(tmp):
        for name in names:
            if name == "nvidia-ctk-config.toml":
                continue
            path = os.path.join(root, name)
            with io.open(path, encoding="utf-8", newline="") as handle:
                files[path] = handle.read()
    return files


def _write(path, text):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with io.open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


# ---------------------------------------------------------------------------
# What each daemon loads


def load_json(text):
    """daemon.json as Docker reads it: BOM ignored, numbers exact (decimals)."""
    if text.startswith(u"\ufeff"):
        text = text[1:]
    return json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)


def _glob(files, pattern):
    directory, base = os.path.split(pattern)
    return sorted(p for p in files if os.path.dirname(p) == directory
                  and fnmatch.fnmatchcase(os.path.basename(p), base))


def _deep_merge(base, over):
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + [v for v in value if v not in out[key]]
        else:
            out[key] = copy.deepcopy(value)
    return out


def containerd_loaded(files, main, tmp, major):
    """What containerd ``major``.x loads from ``main``: imports inside ``tmp`` merged in.

    containerd 1.x: an imported file's plugin section replaces the whole
    section; 2.x: tables merged key by key.  Arrays are appended without
    duplicates, other values replaced.
    """
    text = files.get(main)
    if text is None or not text.strip():
        return {}
    data = tomllib.loads(text)
    seen = set([main])
    queue = list(data.get("imports") or [])
    while queue:
        pattern = queue.pop(0)
        if not isinstance(pattern, str) or not pattern.startswith(tmp + os.sep):
            continue
        for path in _glob(files, pattern):
            if path in seen:
                continue
            seen.add(path)
            imported = tomllib.loads(files[path])
            queue.extend(imported.get("imports") or [])
            imported.pop("imports", None)
            imported.pop("version", None)
            plugins = imported.pop("plugins", None)
            data = _deep_merge(data, imported)
            if plugins:
                if not isinstance(data.get("plugins"), dict):
                    data["plugins"] = copy.deepcopy(plugins)
                elif major >= 2:
                    data["plugins"] = _deep_merge(data["plugins"], plugins)
                else:
                    data["plugins"].update(copy.deepcopy(plugins))
    return data


def crio_loaded(files, main, drop_in_dir):
    data = {}
    paths = [main] + sorted(p for p in files if os.path.dirname(p) == drop_in_dir)
    for path in paths:
        if files.get(path) is not None:
            data = crio_config.merge(data, tomllib.loads(files[path]))
    return data


# ---------------------------------------------------------------------------
# Differences


Diff = collections.namedtuple("Diff", "path ctk ours")


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True  # nan is nan (TOML)
    return type(a) is type(b) and a == b


def diff(ctk, ours, path=()):
    """Every leaf where the two loaded configurations differ."""
    if isinstance(ctk, dict) and isinstance(ours, dict):
        out = []
        for key in list(ctk) + [k for k in ours if k not in ctk]:
            out.extend(diff(ctk.get(key, MISSING), ours.get(key, MISSING), path + (key,)))
        return out
    if isinstance(ctk, list) and isinstance(ours, list) and len(ctk) == len(ours):
        out = []
        for index, (a, b) in enumerate(zip(ctk, ours)):
            out.extend(diff(a, b, path + (index,)))
        return out
    if _same(ctk, ours):
        return []
    return [Diff(path, ctk, ours)]


# ---------------------------------------------------------------------------
# Cases


Side = collections.namedtuple("Side", "kind loaded message files")
Case = collections.namedtuple("Case", "engine fixture variant mode")


class Context(object):
    """One case: the input, both outcomes, and what the classifiers need."""

    def __init__(self, case, tmp, text, ctk, ours, **extra):
        self.case = case
        self.tmp = tmp
        self.text = text
        self.ctk = ctk
        self.ours = ours
        self.input = _try(lambda: _parse_input(case.engine, text))
        self.version = None
        self.ctk_in_place_self_import = False
        self.__dict__.update(extra)

    def describe(self):
        c = self.case
        return "%s fixture %s, variant %s%s" % (c.engine, c.fixture, c.variant, ", " + c.mode if c.mode else "")


def _try(func):
    try:
        return func()
    except Exception:  # the input is invalid: classifiers see None
        return None


def _parse_input(engine, text):
    if text is None or not text.strip(u"\ufeff \t\r\n"):
        return {}
    if engine == "docker":
        return load_json(text)
    return tomllib.loads(text)


def _side(outcome, loader):
    if outcome.kind != "ok":
        return Side(outcome.kind, None, outcome.message, None)
    return Side("ok", loader(outcome.files), "", outcome.files)


def _ours(func, errors):
    try:
        return Outcome("ok", func(), "")
    except errors as exc:
        return Outcome("error", None, str(exc))


# Minimal examples of the intended differences, run like fixtures
# (see INTENDED); keys are (engine, name).
INLINE = {}


def _fixture_text(engine, name):
    if (engine, name) in INLINE:
        return INLINE[(engine, name)]
    if engine == "docker":
        return docker_input(name)
    return _read_fixture(os.path.join(CONTAINERD_DIR if engine == "containerd" else CRIO_DIR, name))


def _read_fixture(path, transform=None):
    if not os.path.exists(path):
        return None
    with io.open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    return TRANSFORMS[transform](text) if transform else text


_TMP = {}


def _case_dir(case):
    if "base" not in _TMP:
        _TMP["base"] = tempfile.mkdtemp(prefix="gpufleet-ctk-diff-")
    path = os.path.join(_TMP["base"], "-".join(x for x in case if x).replace("/", "_"))
    os.makedirs(path)
    return path


# -- Docker ------------------------------------------------------------------

DOCKER_CASES = sorted(os.listdir(DOCKER_DIR))


def docker_input(name):
    base = os.path.join(DOCKER_DIR, name)
    with io.open(os.path.join(base, "case.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    return _read_fixture(os.path.join(base, "input.json"), meta.get("input_transform"))


def run_docker(binary, case):
    tmp = _case_dir(case)
    path = os.path.join(tmp, "daemon.json")
    text = _fixture_text("docker", case.fixture)
    if text is not None:
        _write(path, text)
    args = ["--runtime=docker", "--config=" + path]
    if case.variant == "set-as-default":
        args.append("--set-as-default")
    if case.variant == "cdi":
        args.append("--cdi.enabled")
    ctk = _side(_run_ctk(binary, tmp, args), lambda files: load_json(files[path]))

    def plan():
        result = docker_config.plan(text, runtime_path=DOCKER_RUNTIME_PATH,
                                    set_as_default=True if case.variant == "set-as-default" else None,
                                    cdi=True if case.variant == "cdi" else None, path=path)
        return {path: result["after_text"] if result["changed"] else text}

    ours = _side(_ours(plan, docker_config.DockerConfigError), lambda files: load_json(files[path]))
    return Context(case, tmp, text, ctk, ours)


# -- containerd ----------------------------------------------------------------

CONTAINERD_CASES = sorted(
    [f for f in os.listdir(CONTAINERD_DIR) if f.endswith(".toml")]
    + ["invalid/" + f for f in os.listdir(os.path.join(CONTAINERD_DIR, "invalid")) if f.endswith(".toml")])


def _toml_version(text):
    data = _try(lambda: tomllib.loads(text))
    if data is None:
        return None
    if not data:
        return 0
    return data.get("version", 1)


# The containerd that reads each config version: 1.x for versions 1 and 2, 2.x
# for 3; unknown for an empty file (a new file then gets version 2, as from
# nvidia-ctk).  Mode "drop-in-2.x" runs version 2 files as read by containerd
# 2.x (after an upgrade that kept the old file).
MAJOR_FOR_VERSION = {1: 1, 2: 1, 3: 2}


def _containerd_ctk(binary, tmp, main, drop, variant, drop_in):
    args = ["--runtime=containerd", "--config=" + main, "--drop-in-config=" + (drop if drop_in else "")]
    if variant == "set-as-default":
        args.append("--set-as-default")
    if variant == "cdi":
        args.append("--cdi.enabled")
    return _run_ctk(binary, tmp, args)


def run_containerd(binary, case):
    tmp = _case_dir(case)
    main = os.path.join(tmp, "config.toml")
    drop = os.path.join(tmp, "conf.d", "99-nvidia.toml")
    text = _fixture_text("containerd", case.fixture)
    _write(main, text)
    drop_in = case.mode.startswith("drop-in")
    version = _toml_version(text)
    major = 2 if case.mode == "drop-in-2.x" else MAJOR_FOR_VERSION.get(version)
    loader = functools.partial(containerd_loaded, main=main, tmp=tmp, major=major or 1)
    outcome = _containerd_ctk(binary, tmp, main, drop, case.variant, drop_in)
    extra = {"version": version, "major": major}
    if not drop_in and outcome.kind == "ok" and version in (0, 2, 3):
        # nvidia-ctk 1.20.0 has no in-place mode for config version 2 and 3
        # (see ctk_in_place_writes_top_level_only): check the shape of what it
        # wrote, then take what its drop-in run makes containerd load instead.
        extra["ctk_in_place_self_import"] = _self_import_only(text, outcome.files, main, tmp)
        extra["ctk_in_place_raw"] = outcome
        if extra["ctk_in_place_self_import"]:
            ref = os.path.join(tmp, "drop-in-reference")
            os.makedirs(ref)
            _write(os.path.join(ref, "config.toml"), text)
            second = _containerd_ctk(binary, ref, os.path.join(ref, "config.toml"),
                                     os.path.join(ref, "conf.d", "99-nvidia.toml"), case.variant, True)
            if second.kind == "ok":
                second = Outcome("ok", dict((p.replace(ref, tmp), t.replace(ref, tmp))
                                            for p, t in second.files.items()), "")
            outcome = second
    ctk = _side(outcome, loader)

    params = {
        "path": main, "drop_in_path": drop, "name": RUNTIME, "runtime_path": CTD_RUNTIME_PATH,
        "runtime_type": "io.containerd.runc.v2", "set_as_default": case.variant == "set-as-default",
        "systemd_cgroup": None, "cdi": True if case.variant == "cdi" else None, "cdi_spec_dirs": None,
        "drop_in": drop_in, "config_version": "auto", "state": "present",
    }

    def plan():
        result = containerd_config.plan(text, None, params, containerd_major=major)
        files = {}
        if result["main"] is not None:
            files[main] = result["main"]
        if result["drop_in"] is not None:
            files[drop] = result["drop_in"]
        return files

    ours = _side(_ours(plan, containerd_config.ConfigError), loader)
    return Context(case, tmp, text, ctk, ours, **extra)


def _self_import_only(text, files, main, tmp):
    """nvidia-ctk's in-place output: the input, plus only an import of its own folder."""
    if set(files) != set([main]):
        return False
    before = tomllib.loads(text)
    after = tomllib.loads(files[main])
    pattern = os.path.join(tmp, "*.toml")
    imports = after.pop("imports", None)
    if imports != list(before.pop("imports", [])) + [pattern]:
        return False
    if not before:
        return after == {"version": 2}
    return not diff(after, before)


# -- CRI-O ---------------------------------------------------------------------

CRIO_CASES = sorted(os.listdir(CRIO_DIR))
CRIO_DROP_IN = "99-nvidia.conf"


def run_crio(binary, case):
    tmp = _case_dir(case)
    main = os.path.join(tmp, "crio.conf")
    conf_d = os.path.join(tmp, "crio.conf.d")
    drop = os.path.join(conf_d, CRIO_DROP_IN)
    text = _fixture_text("crio", case.fixture)
    # a name starting with a digit (10-crio.conf) is a drop-in beside ours,
    # any other the main crio.conf
    if not case.fixture[:1].isdigit():
        _write(main, text)
        main_text, others = text, []
    else:
        other = os.path.join(conf_d, case.fixture)
        _write(other, text)
        main_text, others = None, [(other, text)]
    args = ["--runtime=crio", "--config=" + main, "--drop-in-config=" + drop]
    if case.variant == "set-as-default":
        args.append("--set-as-default")
    loader = functools.partial(crio_loaded, main=main, drop_in_dir=conf_d)
    ctk = _side(_run_ctk(binary, tmp, args), loader)
    params = {"path": main, "drop_in_path": drop, "name": RUNTIME, "runtime_path": CTD_RUNTIME_PATH,
              "runtime_type": "oci", "set_as_default": case.variant == "set-as-default", "state": "present"}

    def plan():
        result = crio_config.plan(main_text, others, None, params)
        files = {}
        if main_text is not None:
            files[main] = main_text
        files.update(others)
        files[drop] = result["drop_in"]
        return files

    ours = _side(_ours(plan, crio_config.CrioConfigError), loader)
    return Context(case, tmp, text, ctk, ours)


RUNNERS = {"docker": run_docker, "containerd": run_containerd, "crio": run_crio}


def all_cases():
    cases = []
    for name in DOCKER_CASES:
        for variant in ("default", "set-as-default", "cdi"):
            cases.append(Case("docker", name, variant, ""))
    for name in CONTAINERD_CASES:
        for variant in ("default", "set-as-default", "cdi"):
            modes = ["in-place", "drop-in"]
            if _toml_version(_fixture_text("containerd", name)) == 2:
                modes.append("drop-in-2.x")
            for mode in modes:
                cases.append(Case("containerd", name, variant, mode))
    for name in CRIO_CASES:
        for variant in ("default", "set-as-default"):
            cases.append(Case("crio", name, variant, "drop-in"))
    return cases


CASES = all_cases()
_RESULTS = {}


def run_case(binary, case):
    if case not in _RESULTS:
        ctx = RUNNERS[case.engine](binary, case)
        _RESULTS[case] = (ctx, classify(ctx))
    return _RESULTS[case]


# ---------------------------------------------------------------------------
# Classification


OUTCOME = ("<outcome>",)


def differences(ctx):
    if ctx.ctk.kind != "ok" or ctx.ours.kind != "ok":
        if ctx.ctk.kind == ctx.ours.kind:
            return []  # both refuse the input
        return [Diff(OUTCOME, _outcome_text(ctx.ctk), _outcome_text(ctx.ours))]
    return diff(ctx.ctk.loaded, ctx.ours.loaded)


def _outcome_text(side):
    return side.kind if side.kind == "ok" else "%s: %s" % (side.kind, side.message)


def classify(ctx):
    """[(diff, intended name or None)] for every difference of this case."""
    out = []
    for d in differences(ctx):
        names = [i.name for i in INTENDED if i.engine in (ctx.case.engine, "any") and i.match(ctx, d)]
        out.append((d, names[0] if names else None))
    return out


def _fmt(value, ctx):
    text = repr(value) if value is MISSING else json.dumps(value, default=str, sort_keys=True)
    return text.replace(ctx.tmp, "$TMP")


def report(ctx, unexplained):
    lines = ["%s: %d difference(s) no intended difference explains" % (ctx.describe(), len(unexplained))]
    for d in unexplained:
        lines.append("  at %s" % ".".join(str(p) for p in d.path))
        lines.append("    nvidia-ctk: %s" % _fmt(d.ctk, ctx)[:600])
        lines.append("    ours:       %s" % _fmt(d.ours, ctx)[:600])
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Intended differences


Intended = collections.namedtuple("Intended", "name engine summary example match")
Example = collections.namedtuple("Example", "engine text variant mode name")
INTENDED = []
DEFAULT_MODE = {"docker": "", "containerd": "in-place", "crio": "drop-in"}


def intended(engine, summary, text, variant="default", mode=None, name=None):
    """Register a classifier ``match(ctx, diff) -> bool`` with its minimal example.

    The example is ``text`` as the input file of ``engine`` (``any`` means
    Docker for the example), run in ``variant`` and ``mode``.
    """
    def register(func):
        where = "docker" if engine == "any" else engine
        example = Example(where, text, variant, DEFAULT_MODE[where] if mode is None else mode,
                          name or "example-%s%s" % (func.__name__, ".json" if where == "docker" else ".toml"))
        INTENDED.append(Intended(func.__name__, engine, summary, example, func))
        return func
    return register


def get_in(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = data[key]
    return data


def _runtime_path(ctx):
    """Path of our runtime's entry in the loaded configuration."""
    if ctx.case.engine == "docker":
        return ("runtimes", RUNTIME)
    if ctx.case.engine == "crio":
        return ("crio", "runtime", "runtimes", RUNTIME)
    return ("plugins", CRI[_cri_version(ctx)], "containerd", "runtimes", RUNTIME)


def _cri_version(ctx):
    """Config version of the case (a new file gets version 2)."""
    return ctx.version if ctx.version in CRI else 2


def _refusal(ctx, d, *needles):
    """Ours refuses with one of ``needles`` in the message; nvidia-ctk goes on."""
    return (d.path == OUTCOME and ctx.ctk.kind == "ok" and ctx.ours.kind == "error"
            and any(n in ctx.ours.message for n in needles))


# -- Docker ----------------------------------------------------------------------

@intended("docker", "nvidia-ctk writes the runtime's arguments as `args`, a key Docker does not read "
          "(Docker's is `runtimeArgs`); we write `runtimeArgs: []` for a new entry",
          '{}\n')
def ctk_writes_args_not_runtime_args(ctx, d):
    entry = _runtime_path(ctx)
    if d.path == entry + ("args",):
        return d.ctk == [] and d.ours is MISSING
    if d.path == entry + ("runtimeArgs",):
        return d.ctk is MISSING and d.ours == [] and get_in(ctx.input, entry + ("runtimeArgs",)) in (MISSING, [])
    return False


@intended("any", "nvidia-ctk replaces an existing entry of our runtime: in daemon.json by `{path, args}` "
          "(its `runtimeArgs` and any other key are lost), in containerd's config by a copy of the template "
          "runtime (a key of the entry set by hand, such as `privileged_without_host_devices = true`, gets "
          "the template's value or is lost); we correct what we own and keep the other keys of the entry",
          '{"runtimes": {"nvidia": {"path": "/usr/bin/nvidia-container-runtime", '
          '"runtimeArgs": ["--debug"]}}}\n')
def ctk_replaces_existing_entry(ctx, d):
    entry = _runtime_path(ctx)
    owned = [("path",), ("args",), ("runtime_type",), ("options", "BinaryName"), ("options", "SystemdCgroup")]
    return (len(d.path) > len(entry) and d.path[:len(entry)] == entry and d.path[len(entry):] not in owned
            and d.ours is not MISSING and _same_value(d.ours, get_in(ctx.input, d.path)))


def _same_value(a, b):
    return not diff(a, b)


@intended("docker", "nvidia-ctk replaces `features` by `{\"cdi\": true}` when it enables CDI: every other "
          "feature (buildkit, containerd-snapshotter, ...) is lost; we set only `features.cdi`",
          '{"features": {"buildkit": true}}\n', variant="cdi")
def ctk_cdi_drops_other_features(ctx, d):
    return (ctx.case.variant == "cdi" and len(d.path) == 2 and d.path[0] == "features" and d.path[1] != "cdi"
            and d.ctk is MISSING and d.ours == get_in(ctx.input, d.path))


@intended("docker", "nvidia-ctk decodes numbers into float64: integers beyond 2^53 are rounded and a "
          "number beyond the float64 range makes it fail; we keep every number as written",
          '{"max-concurrent-downloads": 12345678901234567891}\n')
def ctk_numbers_through_float64(ctx, d):
    if d.path == OUTCOME:
        return (ctx.ctk.kind == "error" and "into Go value of type float64" in ctx.ctk.message
                and ctx.ours.kind == "ok")
    return (isinstance(d.ctk, decimal.Decimal) and isinstance(d.ours, decimal.Decimal)
            and float(d.ctk) == float(d.ours))


@intended("docker", "nvidia-ctk fails on a file that starts with a UTF-8 byte-order mark; Docker ignores "
          "the mark and so do we",
          u'\ufeff{}\n')
def ctk_rejects_byte_order_mark(ctx, d):
    return (d.path == OUTCOME and ctx.text is not None and ctx.text.startswith(u"\ufeff")
            and ctx.ctk.kind == "error" and "invalid character" in ctx.ctk.message and ctx.ours.kind == "ok")


@intended("docker", "nvidia-ctk fails on an empty or whitespace-only daemon.json (EOF); we treat it as `{}` "
          "like a missing file",
          '\n')
def ctk_rejects_empty_file(ctx, d):
    return (d.path == OUTCOME and ctx.text is not None and not ctx.text.strip()
            and ctx.ctk.kind == "error" and "EOF" in ctx.ctk.message and ctx.ours.kind == "ok")


@intended("docker", "nvidia-ctk reads only the first JSON value and silently drops what follows it; we "
          "refuse the file (Docker refuses it too)",
          '{"debug": true} {"debug": false}\n')
def ctk_ignores_trailing_data(ctx, d):
    return _refusal(ctx, d, "is not valid JSON: Extra data")


@intended("docker", "A key given twice in one object: nvidia-ctk silently keeps the last value; we refuse "
          "the ambiguous file",
          '{"debug": true, "debug": false}\n')
def ours_refuses_duplicate_keys(ctx, d):
    return _refusal(ctx, d, "more than once in one object")


@intended("docker", "`default-runtime` that is not a string, `features` that is not an object, or "
          "`runtimeArgs` of our entry that is not an array of strings: Docker cannot load the file; "
          "nvidia-ctk writes it back (or overwrites the value); we refuse it (for `runtimeArgs`, unless "
          "`runtime_args` is given)",
          '{"default-runtime": 1}\n')
def ours_refuses_wrong_types(ctx, d):
    return _refusal(ctx, d, '"default-runtime" must be a string', '"features" must be an object',
                    "runtimeArgs must be an array of strings")


@intended("docker", "A daemon.json nested deeper than 64 levels: we refuse to read it (a bound on the "
          "parser's recursion on the hosts' Python); nvidia-ctk (Go, up to 10000 levels) reads it",
          '{"x": ' + '[' * 70 + ']' * 70 + '}\n')
def ours_refuses_deep_nesting(ctx, d):
    return _refusal(ctx, d, "nests objects and arrays deeper than")


@intended("docker", "An existing `runtimes.nvidia` with `runtimeType` (a containerd shim): nvidia-ctk "
          "replaces it silently; we refuse, naming the entry",
          '{"runtimes": {"nvidia": {"runtimeType": "io.containerd.runc.v2"}}}\n')
def ours_refuses_runtime_type_entry(ctx, d):
    return _refusal(ctx, d, 'sets "runtimeType"')


@intended("docker", "`runtimes` that is not an object: nvidia-ctk panics (Go interface conversion); we "
          "refuse with a message",
          '{"runtimes": []}\n')
def ctk_panics_on_non_object_runtimes(ctx, d):
    return (d.path == OUTCOME and ctx.ctk.kind == "panic" and ctx.ours.kind == "error"
            and '"runtimes" must be an object' in ctx.ours.message)


# -- containerd ------------------------------------------------------------------

@intended("containerd", "In place, for config version 2 and 3, nvidia-ctk 1.20.0 writes the runtime to the "
          "main file and then overwrites that file with the top-level document plus "
          "`imports = [\"<its own folder>/*.toml\"]`: the runtime is lost.  The test checks that shape and "
          "compares our in-place edit with what nvidia-ctk's drop-in run makes containerd load; the import "
          "that run adds is not part of an in-place edit",
          'version = 2\n', mode="in-place")
def ctk_in_place_writes_top_level_only(ctx, d):
    if not ctx.ctk_in_place_self_import or d.path != ("imports",):
        return False
    pattern = os.path.join(ctx.tmp, "conf.d", "*.toml")
    return (isinstance(d.ctk, list) and d.ctk[-1:] == [pattern]
            and d.ctk[:-1] == (d.ours if d.ours is not MISSING else []))


@intended("containerd", "Drop-in for a version 2 file with CRI settings, read by containerd 1.x (which "
          "replaces a whole plugin section by the imported one): nvidia-ctk copies the whole CRI section "
          "into its drop-in, freezing it there (later edits of the main file's CRI section are ignored); "
          "we refuse and ask for drop_in=false",
          'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "pause:3.9"\n',
          mode="drop-in")
def ours_refuses_v2_drop_in_on_containerd_1(ctx, d):
    return _refusal(ctx, d, "replaces a whole plugin section with the one from an imported file")


@intended("containerd", "Config version 1 or 2: we add the built-in `runc` "
          "(`runtime_type = \"io.containerd.runc.v2\"`) next to ours when the file has no runc, since on "
          "containerd 1.x a configured `runtimes` table replaces the built-in ones: `containerd config "
          "dump` (1.6.20) of a file with only `runtimes.nvidia` has no runc while `default_runtime_name` "
          "stays `runc`.  nvidia-ctk does not add it.  On 2.x reading a version 2 file it is redundant "
          "and harmless",
          'version = 2\n', mode="drop-in")
def ours_adds_builtin_runc(ctx, d):
    return (d.path[-2:] == ("runtimes", "runc") and d.ctk is MISSING
            and d.ours == {"runtime_type": "io.containerd.runc.v2"} and ctx.version in (0, 1, 2))


@intended("containerd", "With no runtime to copy, nvidia-ctk writes `runtime_root = \"\"`, "
          "`runtime_engine = \"\"` and `privileged_without_host_devices = false`, containerd's own "
          "defaults; we leave them out (same meaning)",
          'version = 2\n', mode="drop-in")
def ctk_spells_out_runtime_defaults(ctx, d):
    entry = _runtime_path(ctx)
    return (len(d.path) == len(entry) + 1 and d.path[:-1] == entry and d.ours is MISSING
            and (d.path[-1], d.ctk) in (("runtime_root", ""), ("runtime_engine", ""),
                                        ("privileged_without_host_devices", False)))


def _default_template(ctx):
    """The input's default runtime when it is not runc-based (kata, gVisor), else None."""
    if ctx.input is None:
        return None
    prefix = ("plugins", CRI[_cri_version(ctx)], "containerd")
    default = get_in(ctx.input, prefix + ("default_runtime_name",))
    if not isinstance(default, str) or default.startswith("nvidia") or default in ("runc", "crun"):
        return None
    table = get_in(ctx.input, prefix + ("runtimes", default))
    if not isinstance(table, dict):
        return None
    if table.get("runtime_type", containerd_config.DEFAULT_RUNTIME_TYPE) in containerd_config.RUNC_SHIMS:
        return None
    return table


@intended("containerd", "The default runtime is Kata or gVisor: nvidia-ctk copies it as the template "
          "(runtime_type `io.containerd.kata.v2` / `runsc`, its ConfigPath, TypeUrl) and so builds a "
          "runtime that does not run the NVIDIA runtime as runc; we copy runc (or crun), or start empty",
          'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd]\n  default_runtime_name = "kata"\n'
          '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.kata]\n'
          '  runtime_type = "io.containerd.kata.v2"\n', mode="drop-in")
def ctk_copies_non_runc_default_as_template(ctx, d):
    template = _default_template(ctx)
    entry = _runtime_path(ctx)
    if template is None or d.path[:len(entry)] != entry or len(d.path) == len(entry):
        return False
    sub = d.path[len(entry):]
    if sub == ("options", "BinaryName"):
        return False
    if sub == ("runtime_type",):
        return d.ctk == template.get("runtime_type") and d.ours == "io.containerd.runc.v2"
    if d.ctk is MISSING:  # a key of runc's that ours copied
        return get_in(template, sub) is MISSING and d.ours is not MISSING
    return get_in(template, sub) == d.ctk


@intended("containerd", "Our runtime was the default and is no longer to be: nvidia-ctk deletes "
          "`default_runtime_name`; we set it to the runtime we copied (`runc`), which is what containerd "
          "assumes when the key is absent",
          'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "nvidia"\n'
          '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n'
          '  runtime_type = "io.containerd.runc.v2"\n')
def ctk_deletes_default_runtime_name(ctx, d):
    prefix = ("plugins", CRI[_cri_version(ctx)], "containerd", "default_runtime_name")
    return (d.path == prefix and d.ctk is MISSING and d.ours == "runc"
            and get_in(ctx.input, prefix) == RUNTIME and ctx.case.variant != "set-as-default")


@intended("containerd", "Drop-in for a file whose `default_runtime_name` is ours, without set-as-default, read "
          "by containerd 2.x (tables merged key by key): nvidia-ctk removes the key only in its copy of the "
          "CRI section, so the main file's `nvidia` stays the default; we set it back to the runtime we "
          "copied (`runc`) in the main file",
          'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "nvidia"\n'
          '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n'
          '  runtime_type = "io.containerd.runc.v2"\n', mode="drop-in-2.x")
def ctk_drop_in_keeps_main_default(ctx, d):
    prefix = ("plugins", CRI[_cri_version(ctx)], "containerd", "default_runtime_name")
    return (d.path == prefix and d.ctk == RUNTIME and d.ours == "runc" and ctx.major == 2
            and ctx.case.mode.startswith("drop-in") and get_in(ctx.input, prefix) == RUNTIME
            and ctx.case.variant != "set-as-default")


@intended("containerd", "Config version 1: nvidia-ctk adds `version = 1` (an absent version means 1) and "
          "`options.Runtime` (read only by the removed io.containerd.runtime.v1.linux shim); we add neither",
          '[plugins.cri.containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n')
def ctk_v1_extra_keys(ctx, d):
    if ctx.version != 1:
        return False
    if d.path == ("version",):
        return d.ctk == 1 and d.ours is MISSING
    return d.path == _runtime_path(ctx) + ("options", "Runtime") and d.ctk == CTD_RUNTIME_PATH and d.ours is MISSING


@intended("containerd", "Config version 1 with CDI: nvidia-ctk sets `plugins.cri.containerd.enable_cdi`, "
          "where containerd does not read it; we set `plugins.cri.enable_cdi`",
          '[plugins.cri.containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n', variant="cdi")
def ctk_v1_cdi_in_wrong_table(ctx, d):
    if ctx.version != 1 or ctx.case.variant != "cdi":
        return False
    if d.path == ("plugins", "cri", "containerd", "enable_cdi"):
        return d.ctk is True and d.ours is MISSING
    return d.path == ("plugins", "cri", "enable_cdi") and d.ctk is MISSING and d.ours is True


@intended("containerd", "Drop-in for a config version 1 file: nvidia-ctk writes a whole version 1 config to "
          "the drop-in path and imports nothing, so containerd never reads it; we refuse (version 1 has "
          "no imports)",
          '[plugins.cri.containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n',
          mode="drop-in")
def ctk_v1_drop_in_never_imported(ctx, d):
    return (_refusal(ctx, d, "config version 1 does not support imports")
            and _strip_version(ctx.ctk.loaded) == _strip_version(ctx.input))


def _strip_version(data):
    data = dict(data or {})
    data.pop("version", None)
    return data


@intended("containerd", "A file containerd itself cannot load (`plugins` or `runtimes` not a table, "
          "config version 4, our runtime in an inline table): nvidia-ctk rewrites it; we refuse, naming "
          "the key",
          'version = 2\nplugins = "cri"\n')
def ours_refuses_malformed_config(ctx, d):
    return _refusal(ctx, d, "must be a table, found", "is not supported (1, 2 and 3 are)",
                    "is defined inside an inline table")


# -- CRI-O -----------------------------------------------------------------------

@intended("crio", "nvidia-ctk takes the runtime to copy only from crio.conf, not from the drop-ins "
          "CRI-O also reads (e.g. the packaged 10-crio.conf); we merge them as CRI-O does and copy the "
          "runtime from the result",
          '[crio.runtime.runtimes.runc]\nruntime_root = "/run/runc"\n', name="10-example.conf")
def ctk_crio_template_from_main_file_only(ctx, d):
    entry = _runtime_path(ctx)
    return (ctx.case.fixture[:1].isdigit() and d.path[:len(entry)] == entry and len(d.path) > len(entry)
            and d.ctk is MISSING and d.ours is not MISSING
            and d.path[len(entry)] not in ("runtime_path", "runtime_type"))


# ---------------------------------------------------------------------------
# Tests


def _case_id(case):
    return "-".join(x for x in case if x)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_loaded_configuration(ctk, case):
    """What the daemon loads is the same, up to the intended differences."""
    ctx, result = run_case(ctk, case)
    unexplained = [d for d, name in result if name is None]
    assert not unexplained, report(ctx, unexplained)


def test_every_intended_difference_occurs(ctk):
    """A classifier no fixture needs any more is stale: remove it (and its docs entry)."""
    seen = collections.Counter()
    for case in CASES:
        for _d, name in run_case(ctk, case)[1]:
            seen[name] += 1
    stale = [i.name for i in INTENDED if not seen[i.name]]
    assert not stale, "intended differences that no fixture shows any more: %s" % ", ".join(stale)


def _example_case(item):
    ex = item.example
    INLINE[(ex.engine, ex.name)] = ex.text
    return Case(ex.engine, ex.name, ex.variant, ex.mode)


@pytest.mark.parametrize("item", INTENDED, ids=lambda i: i.name)
def test_minimal_example(ctk, item):
    """Each classifier's own example shows that difference, and nothing unexplained."""
    ctx, result = run_case(ctk, _example_case(item))
    names = set(name for _d, name in result)
    assert item.name in names, "%s: the minimal example shows %s" % (item.name, sorted(n for n in names if n))
    unexplained = [d for d, name in result if name is None]
    assert not unexplained, report(ctx, unexplained)


def test_names_and_docs_agree():
    """docs/design.md lists every intended difference, and nothing else."""
    with io.open(os.path.join(os.path.dirname(FIXTURES), "..", "docs", "design.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## Intended differences from nvidia-ctk", 1)[-1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^### `([a-z0-9_]+)`", section, re.MULTILINE))
    assert documented == set(i.name for i in INTENDED)


@pytest.mark.parametrize("ci, expect", [("", "skip"), ("true", "fail")])
def test_locate_without_toolkit_source(monkeypatch, tmp_path, ci, expect):
    """No source and nothing built: a skip with the reason locally, a failure in CI."""
    monkeypatch.delenv("GPUFLEET_NVIDIA_CTK", raising=False)
    monkeypatch.setenv("GPUFLEET_TOOLKIT_SRC", str(tmp_path / "absent"))
    monkeypatch.setenv("GPUFLEET_TOOLKIT_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("CI", ci)
    if expect == "fail":
        with pytest.raises(nvidia_ctk.ToolkitBuildError, match="source folder .* is absent"):
            nvidia_ctk.locate()
    else:
        path, reason = nvidia_ctk.locate()
        assert path is None and "is absent" in reason and "GPUFLEET_NVIDIA_CTK" in reason


def test_locate_failed_build_is_an_error(monkeypatch, tmp_path):
    """A source folder whose build.sh fails is never a skip, not even outside CI."""
    src = tmp_path / "toolkit"
    src.mkdir()
    (src / "build.sh").write_text("echo no Go here >&2; exit 3\n")
    monkeypatch.delenv("GPUFLEET_NVIDIA_CTK", raising=False)
    monkeypatch.setenv("GPUFLEET_TOOLKIT_SRC", str(src))
    monkeypatch.setenv("GPUFLEET_TOOLKIT_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("CI", "")
    with pytest.raises(nvidia_ctk.ToolkitBuildError, match=r"failed \(rc=3\):\nno Go here"):
        nvidia_ctk.locate()


def test_locate_override_must_be_executable(monkeypatch, tmp_path):
    monkeypatch.setenv("GPUFLEET_NVIDIA_CTK", str(tmp_path / "nvidia-ctk"))
    with pytest.raises(nvidia_ctk.ToolkitBuildError, match="not an executable file"):
        nvidia_ctk.locate()


# ---------------------------------------------------------------------------
# The docs/design.md section, from the minimal examples:
#   .venv/bin/python tests/integration/test_nvidia_ctk_differential.py


def _files_text(side, ctx, compact):
    if side.kind != "ok":
        return "(%s) %s" % (side.kind, side.message.replace(ctx.tmp, "$TMP"))
    out = []
    for path in sorted(side.files):
        text = side.files[path]
        if ctx.text is not None and text == ctx.text:
            continue  # unchanged input
        text = text.replace(ctx.tmp, "$TMP").rstrip("\n")
        if compact:
            out.append(re.sub(r"([\[{])\s+", r"\1", re.sub(r"\s+([]}])", r"\1", re.sub(r"\s*\n\s*", " ", text))))
        else:
            out.append("# %s\n%s" % (path.replace(ctx.tmp, "$TMP"), text))
    return "\n".join(out) if out else "(input unchanged)"


def markdown(binary):
    """The examples section of docs/design.md, from live runs of both tools."""
    lines = []
    for item in INTENDED:
        case = _example_case(item)
        ctx, _result = run_case(binary, case)
        ctk_side, label = ctx.ctk, "nvidia-ctk"
        if ctx.ctk_in_place_self_import and item.name == "ctk_in_place_writes_top_level_only":
            ctk_side = _side(ctx.ctk_in_place_raw, lambda files: None)
        elif ctx.ctk_in_place_self_import:
            label = "nvidia-ctk (its drop-in run, see `ctk_in_place_writes_top_level_only`)"
        lines.append("### `%s`\n" % item.name)
        lines.append("%s.\n" % item.summary)
        where = "%s, %s%s" % (case.engine, case.variant, ", " + case.mode if case.mode else "")
        if case.engine == "docker":
            shown = ctx.text.strip().replace(u"\ufeff", "<BOM>") or "(empty file)"
            lines.append("- input (%s): `%s`" % (where, shown))
            lines.append("- %s: `%s`" % (label, _files_text(ctk_side, ctx, True)))
            lines.append("- ours: `%s`\n" % _files_text(ctx.ours, ctx, True))
        else:
            if case.engine == "crio" and case.fixture[:1].isdigit():
                where += "; the input is `crio.conf.d/%s`, there is no crio.conf" % case.fixture
            lines.append("Input (%s):\n\n```toml\n%s\n```\n" % (where, ctx.text.rstrip("\n")))
            lines.append("%s:\n\n```toml\n%s\n```\n" % (label, _files_text(ctk_side, ctx, False)))
            lines.append("ours:\n\n```toml\n%s\n```\n" % _files_text(ctx.ours, ctx, False))
    shutil.rmtree(_TMP.pop("base"), ignore_errors=True)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown(nvidia_ctk.locate()[0]))
