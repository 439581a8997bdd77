# -*- coding: utf-8 -*-
"""containerd_runtime module: files, check/diff mode, backup, symlinks, faults."""
import os
import stat

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _edit_cycle, _atomic_file as atomic_file
from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import loads
from ansible_collections.gpufleet.nvidia.plugins.modules import containerd_runtime

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "fixtures", "containerd")
NVIDIA = "/usr/bin/nvidia-container-runtime"
V2 = "io.containerd.grpc.v1.cri"
V3 = "io.containerd.cri.v1.runtime"


def fixture(name):
    with open(os.path.join(CORPUS, name), "rb") as handle:
        return handle.read()


@pytest.fixture
def etc(tmp_path):
    d = tmp_path / "containerd"
    d.mkdir()
    return d


def args(etc, **kw):
    a = {"path": str(etc / "config.toml"), "drop_in_path": str(etc / "conf.d" / "99-nvidia.toml"),
         "containerd_binary": "/nonexistent/containerd"}
    a.update(kw)
    return a


def fake_containerd(tmp_path, version="1.7.24", dump_ok=True, dump_extra=""):
    """A stand-in containerd: --version, config dump (echoes the file), config default."""
    bindir = tmp_path / "bin"
    if not bindir.exists():
        bindir.mkdir()
    script = bindir / "containerd"
    script.write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = --version ]; then echo 'containerd github.com/containerd/containerd %s abc'; exit 0; fi\n"
        "if [ \"$1\" = config ] && [ \"$2\" = default ]; then cat '%s'; exit 0; fi\n"
        "if [ \"$3\" = config ] && [ \"$4\" = dump ]; then %s cat \"$2\"; echo '%s'; exit 0; fi\n"
        "exit 2\n" % (version, os.path.join(CORPUS, "default-trixie-1.7.24.toml"),
                      "" if dump_ok else "echo 'containerd: invalid config' >&2; exit 1;", dump_extra))
    script.chmod(0o755)
    return str(script)


def test_adds_runtime_and_is_idempotent(etc, run_module):
    cfg = etc / "config.toml"
    cfg.write_bytes(fixture("kubeadm-systemd-v2.toml"))
    cfg.chmod(0o600)
    res = run_module(containerd_runtime, args(etc, set_as_default=True))
    assert res["changed"] and res["restart_required"] and not res["failed"]
    assert res["config_version"] == 2 and res["cri_plugin"] == V2
    assert res["default_runtime_name"] == "nvidia" and res["base_runtime"] == "runc"
    assert res["runtime"]["options"]["SystemdCgroup"] is True
    data = loads(cfg.read_text())
    assert data["plugins"][V2]["containerd"]["runtimes"]["nvidia"]["options"]["BinaryName"] == NVIDIA
    assert stat.S_IMODE(os.stat(str(cfg)).st_mode) == 0o600
    before = cfg.read_bytes()
    again = run_module(containerd_runtime, args(etc, set_as_default=True))
    assert not again["changed"] and not again["restart_required"]
    assert cfg.read_bytes() == before


def test_check_mode_and_diff(etc, run_module):
    cfg = etc / "config.toml"
    original = fixture("default-sid-2.1.9.toml")
    cfg.write_bytes(original)
    res = run_module(containerd_runtime, args(etc), check_mode=True, diff=True)
    assert res["changed"] and res["restart_required"]
    assert cfg.read_bytes() == original
    (d,) = res["diff"]
    assert d["before"] == original.decode() and "runtimes.nvidia]" in d["after"]
    assert d["before_header"] == str(cfg)


def test_missing_file_is_created_0644(etc, run_module):
    res = run_module(containerd_runtime, args(etc, config_version="3"))
    assert res["changed"]
    cfg = etc / "config.toml"
    assert stat.S_IMODE(os.stat(str(cfg)).st_mode) == 0o644
    assert loads(cfg.read_text())["plugins"][V3]["containerd"]["runtimes"]["nvidia"]["options"]["BinaryName"] == NVIDIA


def test_missing_file_from_containerd_default(etc, tmp_path, run_module):
    binary = fake_containerd(tmp_path)
    res = run_module(containerd_runtime, args(etc, containerd_binary=binary, missing_config="containerd_default",
                                              validate=False))
    assert res["changed"] and res["containerd_version"] == "1.7.24"
    text = (etc / "config.toml").read_text()
    assert "max_container_log_line_size" in text  # from `containerd config default`
    assert loads(text)["plugins"][V2]["containerd"]["runtimes"]["nvidia"]["options"]["BinaryName"] == NVIDIA


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(CORPUS, "invalid"))))
def test_invalid_file_is_left_byte_identical(etc, run_module, name):
    cfg = etc / "config.toml"
    original = fixture(os.path.join("invalid", name))
    cfg.write_bytes(original)
    res = run_module(containerd_runtime, args(etc))
    assert res["failed"]
    assert str(cfg) in res["msg"]
    assert cfg.read_bytes() == original
    assert sorted(os.listdir(str(etc))) == ["config.toml"]


def test_undecodable_file(etc, run_module):
    cfg = etc / "config.toml"
    cfg.write_bytes(b"version = 2\n# \xff\xfe\n")
    res = run_module(containerd_runtime, args(etc))
    assert res["failed"] and "not valid UTF-8" in res["msg"]
    assert cfg.read_bytes() == b"version = 2\n# \xff\xfe\n"


def test_failure_between_write_and_rename_keeps_original(etc, run_module, monkeypatch):
    cfg = etc / "config.toml"
    original = fixture("k3s-v2.toml")
    cfg.write_bytes(original)
    real = atomic_file.write_atomic

    def boom(path, content, **kw):
        def hook(tmp):
            assert os.path.exists(tmp)
            raise OSError(28, "No space left on device")
        return real(path, content, _before_rename=hook, **kw)

    monkeypatch.setattr(_edit_cycle, "write_atomic", boom)
    res = run_module(containerd_runtime, args(etc))
    assert res["failed"] and "No space left on device" in res["msg"]
    assert cfg.read_bytes() == original
    assert sorted(os.listdir(str(etc))) == ["config.toml"]


def test_symlink_is_followed(etc, tmp_path, run_module):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "config.toml"
    target.write_bytes(fixture("k3s-v2.toml"))
    (etc / "config.toml").symlink_to(target)
    res = run_module(containerd_runtime, args(etc))
    assert res["changed"]
    assert os.path.islink(str(etc / "config.toml"))
    assert "runtimes.nvidia" in target.read_text()


def test_backup(etc, run_module):
    cfg = etc / "config.toml"
    original = fixture("kata-v2.toml")
    cfg.write_bytes(original)
    res = run_module(containerd_runtime, args(etc, backup=True))
    assert res["changed"]
    with open(res["backup_file"], "rb") as handle:
        assert handle.read() == original


def test_absent_reverts(etc, run_module):
    cfg = etc / "config.toml"
    original = fixture("default-bookworm-1.6.20.toml")
    cfg.write_bytes(original)
    assert run_module(containerd_runtime, args(etc, set_as_default=True))["changed"]
    res = run_module(containerd_runtime, args(etc, state="absent"))
    assert res["changed"] and res["default_runtime_name"] == "runc"
    assert cfg.read_bytes() == original
    assert not run_module(containerd_runtime, args(etc, state="absent"))["changed"]


def test_drop_in_mode_and_absent(etc, tmp_path, run_module):
    cfg = etc / "config.toml"
    original = fixture("kubeadm-systemd-v3.toml")
    cfg.write_bytes(original)
    binary = fake_containerd(tmp_path, version="2.1.9")
    res = run_module(containerd_runtime, args(etc, containerd_binary=binary, drop_in=True, set_as_default=True,
                                              cdi=True), diff=True)
    assert res["changed"] and res["validated"] and len(res["diff"]) == 2
    drop_in = etc / "conf.d" / "99-nvidia.toml"
    assert stat.S_IMODE(os.stat(str(drop_in)).st_mode) == 0o644
    d = loads(drop_in.read_text())
    assert d["plugins"][V3]["containerd"]["runtimes"]["nvidia"]["options"] == {
        "BinaryName": NVIDIA, "CriuImagePath": "", "CriuWorkPath": "", "IoGid": 0, "IoUid": 0,
        "NoNewKeyring": False, "Root": "", "ShimCgroup": "", "SystemdCgroup": True}
    assert loads(cfg.read_text())["imports"] == [str(etc / "conf.d" / "*.toml")]
    assert not run_module(containerd_runtime, args(etc, containerd_binary=binary, drop_in=True,
                                                   set_as_default=True, cdi=True))["changed"]
    res = run_module(containerd_runtime, args(etc, containerd_binary=binary, state="absent"))
    assert res["changed"]
    assert not drop_in.exists()
    assert cfg.read_bytes() == original


def test_drop_in_refused_on_containerd_1(etc, tmp_path, run_module):
    cfg = etc / "config.toml"
    original = fixture("kubeadm-systemd-v2.toml")
    cfg.write_bytes(original)
    res = run_module(containerd_runtime, args(etc, containerd_binary=fake_containerd(tmp_path, "1.6.20"),
                                              drop_in=True))
    assert res["failed"] and "replaces a whole plugin section" in res["msg"]
    assert cfg.read_bytes() == original
    assert not (etc / "conf.d").exists()


def test_validation_failure_writes_nothing(etc, tmp_path, run_module):
    cfg = etc / "config.toml"
    original = fixture("k3s-v2.toml")
    cfg.write_bytes(original)
    res = run_module(containerd_runtime, args(etc, containerd_binary=fake_containerd(tmp_path, dump_ok=False)))
    assert res["failed"] and "containerd rejects the new configuration: containerd: invalid config" in res["msg"]
    assert cfg.read_bytes() == original
    assert sorted(os.listdir(str(etc))) == ["config.toml"]


def test_validation_success(etc, tmp_path, run_module):
    cfg = etc / "config.toml"
    cfg.write_bytes(fixture("k3s-v2.toml"))
    res = run_module(containerd_runtime, args(etc, containerd_binary=fake_containerd(tmp_path)))
    assert res["changed"] and res["validated"] and res["containerd_version"] == "1.7.24"
    assert sorted(os.listdir(str(etc))) == ["config.toml"]


def test_v3_file_with_containerd_1_fails(etc, tmp_path, run_module):
    cfg = etc / "config.toml"
    cfg.write_bytes(fixture("default-sid-2.1.9.toml"))
    res = run_module(containerd_runtime, args(etc, containerd_binary=fake_containerd(tmp_path, "1.6.20")))
    assert res["failed"] and "needs containerd 2.x" in res["msg"]
