# -*- coding: utf-8 -*-
"""apt_sources_components module: real sources files, check/diff mode, refusals that change nothing."""
import os
import stat

from ansible_collections.gpufleet.nvidia.plugins.modules import apt_sources_components

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "apt")
NONFREE = ["contrib", "non-free", "non-free-firmware"]


def fixture_bytes(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


def make_apt(tmp_path, files):
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    paths = []
    for name, fixture in files:
        path = apt / name
        path.write_bytes(fixture_bytes(fixture))
        paths.append(str(path))
    return apt, paths


def test_deb822_check_diff_then_write_keeping_mode(tmp_path, run_module):
    apt, paths = make_apt(tmp_path, [("sources.list.d/debian.sources", "debian12-machine.sources"),
                                     ("sources.list.d/docker.list", "third-party.list")])
    os.chmod(paths[0], 0o640)
    args = {"release": "bookworm", "components": NONFREE, "paths": paths}
    before = [open(p, "rb").read() for p in paths]
    res = run_module(apt_sources_components, args, check_mode=True, diff=True)
    assert res["changed"] and res["changed_paths"] == [paths[0]]
    assert "Components: main contrib non-free non-free-firmware" in res["diff"][0]["after"]
    assert [open(p, "rb").read() for p in paths] == before
    assert sorted(os.listdir(str(apt / "sources.list.d"))) == ["debian.sources", "docker.list"]

    res = run_module(apt_sources_components, args)
    assert res["changed"] and res["matched_paths"] == [paths[0]]
    text = open(paths[0]).read()
    assert text.count("Components: main contrib non-free non-free-firmware\n") == 2
    assert stat.S_IMODE(os.stat(paths[0]).st_mode) == 0o640
    assert open(paths[1], "rb").read() == before[1]
    # no lock or temporary file left behind
    assert sorted(os.listdir(str(apt / "sources.list.d"))) == ["debian.sources", "docker.list"]
    assert not run_module(apt_sources_components, args)["changed"]


def test_one_line_sources_list(tmp_path, run_module):
    apt, paths = make_apt(tmp_path, [("sources.list", "debian12-installer.list")])
    res = run_module(apt_sources_components, {"release": "bookworm", "components": NONFREE, "paths": paths})
    assert res["changed"]
    assert "deb http://mirror.example.internal/debian/ bookworm main non-free-firmware contrib non-free\n" in \
        open(paths[0]).read()


def test_no_entry_of_the_release_fails_and_changes_nothing(tmp_path, run_module):
    apt, paths = make_apt(tmp_path, [("sources.list.d/debian.sources", "debian12-machine.sources")])
    before = open(paths[0], "rb").read()
    res = run_module(apt_sources_components, {"release": "trixie", "components": NONFREE, "paths": paths})
    assert res["failed"] and not res["changed"]
    assert "no enabled APT source of trixie with component main" in res["msg"]
    assert open(paths[0], "rb").read() == before


def test_a_fifo_is_refused_without_hanging(tmp_path, run_module):
    apt, paths = make_apt(tmp_path, [("sources.list.d/debian.sources", "debian12-machine.sources")])
    fifo = str(apt / "sources.list.d" / "pipe.list")
    os.mkfifo(fifo)
    res = run_module(apt_sources_components, {"release": "bookworm", "components": NONFREE,
                                              "paths": paths + [fifo]})
    assert res["failed"] and "FIFO" in res["msg"] and fifo in res["msg"]


def test_a_bad_release_is_refused(tmp_path, run_module):
    apt, paths = make_apt(tmp_path, [("sources.list.d/debian.sources", "debian12-machine.sources")])
    res = run_module(apt_sources_components, {"release": "Bookworm 12", "components": NONFREE, "paths": paths})
    assert res["failed"] and "is not a Debian/Ubuntu code name" in res["msg"]


def test_default_paths_are_the_regular_sources_files(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "etc/apt/sources.list.d"))
    for name in ("etc/apt/sources.list", "etc/apt/sources.list.d/a.sources", "etc/apt/sources.list.d/b.list",
                 "etc/apt/sources.list.d/c.list.disabled"):
        open(os.path.join(root, name), "w").close()
    os.symlink(os.path.join(root, "etc/apt/sources.list"), os.path.join(root, "etc/apt/sources.list.d/link.list"))
    assert apt_sources_components.default_paths(root) == [
        os.path.join(root, "etc/apt/sources.list"),
        os.path.join(root, "etc/apt/sources.list.d/b.list"),
        os.path.join(root, "etc/apt/sources.list.d/a.sources")]
