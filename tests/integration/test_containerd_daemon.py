# -*- coding: utf-8 -*-
"""containerd_runtime against real containerd daemons.

For each containerd under test: take the config that binary prints with
``containerd config default`` (root, state, sockets moved under a temporary
directory so nothing clashes with other daemons on the machine, SystemdCgroup
switched on as on a Kubernetes node), run the module through ``ansible``,
check ``containerd config dump`` shows the NVIDIA runtime with SystemdCgroup
kept, then start containerd on the result and ask it ``ctr version`` and
``ctr plugins ls`` (the CRI plugin must load).  The same for drop-in mode.

Debian bookworm's containerd (1.6, config version 2) comes from the system
(`apt-get install containerd`; CI's .ci/run installs it).  containerd 1.7
(trixie, version 2) and 2.1 (sid, version 3) are fetched from Debian's archive
with apt into .cache/containerd/<suite>/ and unpacked with dpkg-deb; those two
are skipped, with the reason, only when the archive cannot be reached.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

try:
    import tomllib
except ImportError:  # pragma: no cover - the integration suite runs on 3.11
    tomllib = None

from apt_mirror import debian_mirror
from conftest import COLLECTIONS_ROOT, REPO_ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starting containerd needs root")

NVIDIA = "/usr/bin/nvidia-container-runtime"
CRI = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}


def _fetch(suite):
    """containerd and ctr of Debian ``suite`` unpacked under .cache; None if unreachable."""
    base = os.path.join(REPO_ROOT, ".cache", "containerd", suite)
    binary = os.path.join(base, "root", "usr", "bin", "containerd")
    if os.access(binary, os.X_OK):
        return base
    apt = os.path.join(base, "apt")
    for sub in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(apt, sub), exist_ok=True)
    mirror = debian_mirror()
    if mirror is None:
        return None
    with open(os.path.join(apt, "sources.list"), "w") as handle:
        handle.write("deb %s %s main\n" % (mirror, suite))
    opts = ["-o", "Dir::Etc::sourcelist=%s/sources.list" % apt, "-o", "Dir::Etc::sourceparts=-",
            "-o", "Dir::State::lists=%s/lists" % apt, "-o", "Dir::Cache=%s/cache" % apt,
            "-o", "APT::Get::List-Cleanup=0", "-o", "APT::Sandbox::User=root", "-qq"]
    try:
        subprocess.run(["apt-get"] + opts + ["update"], check=True, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["apt-get"] + opts + ["download", "containerd"], check=True, timeout=300, cwd=base,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    debs = [f for f in os.listdir(base) if f.startswith("containerd_") and f.endswith(".deb")]
    if not debs:
        return None
    subprocess.run(["dpkg-deb", "-x", os.path.join(base, debs[0]), os.path.join(base, "root")], check=True)
    return base


def _system():
    binary = shutil.which("containerd")
    if binary is None:
        pytest.fail("containerd is not installed: apt-get install containerd (CI's .ci/run does)")
    return os.path.dirname(binary)


@pytest.fixture(scope="session", params=["bookworm", "trixie", "sid"])
def ctd(request):
    """(bin dir, config version) of a containerd build."""
    if request.param == "bookworm":
        bindir = _system()
    else:
        base = _fetch(request.param)
        if base is None:
            pytest.skip("Debian %s's containerd could not be fetched from this machine's Debian mirror (%s)"
                        % (request.param, debian_mirror() or "none in /etc/apt"))
        bindir = os.path.join(base, "root", "usr", "bin")
    out = subprocess.run([os.path.join(bindir, "containerd"), "--version"], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    major = int(out.split()[2].lstrip("v").split(".")[0])
    return bindir, (3 if major >= 2 else 2), out.split()[2]


def _isolated_default(bindir, tmp):
    """`containerd config default`, with every path and socket moved under ``tmp``."""
    text = subprocess.run([os.path.join(bindir, "containerd"), "config", "default"], stdout=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout
    q = "'" if "root = '" in text else '"'
    subs = [("root = %s/var/lib/containerd%s" % (q, q), "root = %s%s/root%s" % (q, tmp, q)),
            ("state = %s/run/containerd%s" % (q, q), "state = %s%s/state%s" % (q, tmp, q)),
            ("address = %s/run/containerd/containerd.sock%s" % (q, q), "address = %s%s/c.sock%s" % (q, tmp, q)),
            ("path = %s/opt/containerd%s" % (q, q), "path = %s%s/opt%s" % (q, tmp, q)),
            ("socket_path = %s/var/run/nri/nri.sock%s" % (q, q), "socket_path = %s%s/nri.sock%s" % (q, tmp, q)),
            ("SystemdCgroup = false", "SystemdCgroup = true")]
    for old, new in subs:
        if old in text:
            text = text.replace(old, new)
    assert "%s/c.sock" % tmp in text
    return text


def _ansible(args):
    """Run the module the way a playbook does; return its result."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING="False",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    proc = subprocess.run([ansible, "localhost", "-c", "local", "-m", "gpufleet.nvidia.containerd_runtime",
                           "-a", json.dumps(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, timeout=120, check=False)
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def _dump(bindir, cfg):
    proc = subprocess.run([os.path.join(bindir, "containerd"), "--config", cfg, "config", "dump"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return tomllib.loads(proc.stdout)


def _serve(bindir, cfg, tmp):
    """Start containerd on ``cfg``, check it answers, stop it."""
    sock = os.path.join(tmp, "c.sock")
    log = open(os.path.join(tmp, "containerd.log"), "w")
    proc = subprocess.Popen([os.path.join(bindir, "containerd"), "--config", cfg], stdout=log, stderr=log)
    try:
        for _attempt in range(200):
            if os.path.exists(sock) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, open(os.path.join(tmp, "containerd.log")).read()[-3000:]
        ctr = os.path.join(bindir, "ctr")
        version = subprocess.run([ctr, "--address", sock, "version"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)
        assert version.returncode == 0, version.stderr
        assert "Server:" in version.stdout
        plugins = subprocess.run([ctr, "--address", sock, "plugins", "ls"], stdout=subprocess.PIPE,
                                 universal_newlines=True, timeout=30, check=True).stdout
        cri = [line.split() for line in plugins.splitlines() if line.startswith("io.containerd.grpc.v1 ")
               and line.split()[1] == "cri"]
        assert cri and cri[0][-1] == "ok", plugins
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def workdir():
    tmp = tempfile.mkdtemp(prefix="gfctd-", dir="/tmp")  # short: unix socket paths are limited
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def _runtime(dump, version):
    return dump["plugins"][CRI[version]]["containerd"]["runtimes"]["nvidia"]


def test_main_file(ctd, workdir):
    bindir, version, release = ctd
    cfg = os.path.join(workdir, "config.toml")
    original = _isolated_default(bindir, workdir)
    with open(cfg, "w") as handle:
        handle.write(original)
    common = {"path": cfg, "drop_in_path": os.path.join(workdir, "conf.d", "99-nvidia.toml"),
              "containerd_binary": os.path.join(bindir, "containerd")}
    res = _ansible(dict(common, set_as_default=True, cdi=True))
    assert res["changed"] and res["restart_required"] and res["validated"], res
    assert res["containerd_version"].startswith(release.split("~")[0].split("+")[0][:3])
    assert res["config_version"] == version
    dump = _dump(bindir, cfg)
    rt = _runtime(dump, version)
    assert rt["runtime_type"] == "io.containerd.runc.v2"
    assert rt["options"]["BinaryName"] == NVIDIA
    assert rt["options"]["SystemdCgroup"] is True
    runc = dump["plugins"][CRI[version]]["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is True
    assert dump["plugins"][CRI[version]]["containerd"]["default_runtime_name"] == "nvidia"
    if tuple(int(x) for x in res["containerd_version"].split(".")[:2]) >= (1, 7):
        assert dump["plugins"][CRI[version]]["enable_cdi"] is True
    else:
        assert any("CDI needs containerd 1.7" in w for w in res.get("warnings", [])), res
    _serve(bindir, cfg, workdir)
    assert not _ansible(dict(common, set_as_default=True, cdi=True))["changed"]
    # back to the original, byte for byte except the CDI switch we turned on
    res = _ansible(dict(common, state="absent", cdi=False))
    assert res["changed"]
    after = open(cfg).read()
    assert "nvidia" not in after
    assert "runtimes.nvidia" not in _dump(bindir, cfg)


def test_drop_in(ctd, workdir):
    bindir, version, release = ctd
    cfg = os.path.join(workdir, "config.toml")
    drop_in = os.path.join(workdir, "conf.d", "99-nvidia.toml")
    full = _isolated_default(bindir, workdir)
    common = {"path": cfg, "drop_in_path": drop_in, "containerd_binary": os.path.join(bindir, "containerd"),
              "drop_in": True, "set_as_default": True}
    if version == 2:
        # containerd 1.x replaces the CRI section of the main file by the drop-in's: refused ...
        with open(cfg, "w") as handle:
            handle.write(full)
        res = _ansible(common)
        assert res.get("failed") and "replaces a whole plugin section" in res["msg"], res
        assert open(cfg).read() == full
        assert not os.path.exists(drop_in)
        # ... but fine when the main file leaves the CRI plugin to its defaults
        main = full[:full.index("[plugins")] + '[plugins."io.containerd.internal.v1.opt"]\n  path = "%s/opt"\n' % workdir
    else:
        main = full
    with open(cfg, "w") as handle:
        handle.write(main)
    res = _ansible(common)
    assert res["changed"] and res["validated"], res
    assert os.path.exists(drop_in)
    dump = _dump(bindir, cfg)
    assert os.path.join(workdir, "conf.d", "*.toml") in dump["imports"] or drop_in in dump["imports"]
    rt = _runtime(dump, version)
    assert rt["options"]["BinaryName"] == NVIDIA
    containerd = dump["plugins"][CRI[version]]["containerd"]
    assert containerd["default_runtime_name"] == "nvidia"
    assert "runc" in containerd["runtimes"]
    if version == 3:
        assert rt["options"]["SystemdCgroup"] is True
        assert containerd["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    _serve(bindir, cfg, workdir)
    assert not _ansible(common)["changed"]
    res = _ansible(dict(common, state="absent"))
    assert res["changed"] and not os.path.exists(drop_in)
    assert open(cfg).read() == main
