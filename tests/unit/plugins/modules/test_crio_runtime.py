# -*- coding: utf-8 -*-
"""crio_runtime module: drop-in file, check/diff mode, absent, bad input."""
import os
import stat

from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import loads
from ansible_collections.gpufleet.nvidia.plugins.modules import crio_runtime

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "crio")


def make_etc(tmp_path, main=True, packaged=True):
    etc = tmp_path / "crio"
    (etc / "crio.conf.d").mkdir(parents=True)
    if main:
        with open(os.path.join(CORPUS, "crio.conf"), "rb") as handle:
            (etc / "crio.conf").write_bytes(handle.read())
    if packaged:
        with open(os.path.join(CORPUS, "10-crio.conf"), "rb") as handle:
            (etc / "crio.conf.d" / "10-crio.conf").write_bytes(handle.read())
    return etc, {"path": str(etc / "crio.conf"), "drop_in_path": str(etc / "crio.conf.d" / "99-nvidia.conf")}


def test_present_idempotent_absent(tmp_path, run_module):
    etc, args = make_etc(tmp_path)
    before = sorted(os.listdir(str(etc / "crio.conf.d")))
    res = run_module(crio_runtime, dict(args, set_as_default=True), check_mode=True, diff=True)
    assert res["changed"] and "runtimes.nvidia" in res["diff"]["after"]
    assert sorted(os.listdir(str(etc / "crio.conf.d"))) == before
    res = run_module(crio_runtime, dict(args, set_as_default=True))
    assert res["changed"] and res["restart_required"] and res["base_runtime"] == "runc"
    drop_in = etc / "crio.conf.d" / "99-nvidia.conf"
    assert stat.S_IMODE(os.stat(str(drop_in)).st_mode) == 0o644
    data = loads(drop_in.read_text())
    assert data["crio"]["runtime"]["default_runtime"] == "nvidia"
    assert data["crio"]["runtime"]["runtimes"]["nvidia"]["monitor_path"] == "/usr/libexec/crio/conmon"
    assert not run_module(crio_runtime, dict(args, set_as_default=True))["changed"]
    res = run_module(crio_runtime, dict(args, state="absent", backup=True))
    assert res["changed"] and not drop_in.exists() and os.path.exists(res["backup_file"])
    assert not run_module(crio_runtime, dict(args, state="absent"))["changed"]


def test_bad_drop_in_of_someone_else(tmp_path, run_module):
    etc, args = make_etc(tmp_path, main=False)
    (etc / "crio.conf.d" / "20-bad.conf").write_text("[crio.runtime\n")
    res = run_module(crio_runtime, args)
    assert res["failed"] and "20-bad.conf is not valid TOML" in res["msg"]
    assert not (etc / "crio.conf.d" / "99-nvidia.conf").exists()
