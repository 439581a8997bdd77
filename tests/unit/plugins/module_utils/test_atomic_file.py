# -*- coding: utf-8 -*-
"""atomic_file: the original survives every failure; mode and owner are kept."""
import os
import stat

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _atomic_file as af


def test_read_missing_is_none(tmp_path):
    assert af.read_text(str(tmp_path / "nope.json")) is None


def test_read_directory_names_the_file(tmp_path):
    with pytest.raises(af.FileEditError) as err:
        af.read_text(str(tmp_path))
    assert str(tmp_path) in str(err.value)


def test_read_rejects_bad_utf8(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(af.FileEditError) as err:
        af.read_text(str(path))
    assert "bad.json" in str(err.value)


def test_new_file_gets_mode_and_parent(tmp_path):
    path = tmp_path / "etc" / "docker" / "daemon.json"
    written = af.write_atomic(str(path), "{}\n")
    assert written == str(path)
    assert path.read_text() == "{}\n"
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(str(path.parent)).st_mode) == 0o755


def test_existing_mode_kept(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("old")
    os.chmod(str(path), 0o600)
    af.write_atomic(str(path), "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600


def test_symlink_target_written_link_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    af.write_atomic(str(link), "new")
    assert os.path.islink(str(link))
    assert real.read_text() == "new"


def test_failure_before_rename_leaves_original(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_bytes(b'{"a": 1}')

    def boom(tmp):
        assert os.path.exists(tmp)
        raise OSError(28, "No space left on device")

    with pytest.raises(af.FileEditError) as err:
        af.write_atomic(str(path), "{}", _before_rename=boom)
    assert "No space left" in str(err.value)
    assert path.read_bytes() == b'{"a": 1}'
    assert os.listdir(str(tmp_path)) == ["daemon.json"]


def test_backup_copies_content(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("keep me")
    dest = af.backup_file(str(path))
    assert open(dest).read() == "keep me"
    assert dest.endswith("~")


def _snapshot(path):
    st = os.stat(str(path))
    return path.read_bytes(), st.st_mtime_ns, st.st_ino, stat.S_IMODE(st.st_mode)


def _only(tmp_path, name):
    assert sorted(os.listdir(str(tmp_path))) == [name], "no temporary file left behind"


def test_disk_full_while_writing_leaves_original(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_bytes(b'{"debug": true}\n')
    before = _snapshot(path)

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(af.os, "write", full)
    with pytest.raises(af.FileEditError) as err:
        af.write_atomic(str(path), '{"debug": false}\n' * 1000)
    assert "No space left on device" in str(err.value)
    assert str(path) in str(err.value)
    assert _snapshot(path) == before
    _only(tmp_path, "daemon.json")


def test_fsync_failure_leaves_original(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_bytes(b"{}\n")
    before = _snapshot(path)

    def eio(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(af.os, "fsync", eio)
    with pytest.raises(af.FileEditError):
        af.write_atomic(str(path), '{"a": 1}\n')
    assert _snapshot(path) == before
    _only(tmp_path, "daemon.json")


def test_rename_failure_leaves_original(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_bytes(b"{}\n")
    before = _snapshot(path)

    def busy(src, dst):
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(af.os, "rename", busy)
    with pytest.raises(af.FileEditError) as err:
        af.write_atomic(str(path), '{"a": 1}\n')
    assert "original file is unchanged" in str(err.value)
    assert _snapshot(path) == before
    _only(tmp_path, "daemon.json")


def test_read_only_filesystem_reported(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_bytes(b"{}\n")
    before = _snapshot(path)

    def erofs(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(af.tempfile, "mkstemp", erofs)
    with pytest.raises(af.FileEditError) as err:
        af.write_atomic(str(path), '{"a": 1}\n')
    assert "Read-only file system" in str(err.value)
    assert str(path) in str(err.value)
    assert _snapshot(path) == before


def test_read_only_file_for_non_root_refused(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_bytes(b"{}\n")
    os.chmod(str(path), 0o444)
    before = _snapshot(path)
    monkeypatch.setattr(af.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(af.os, "access", lambda p, mode: False)
    with pytest.raises(af.FileEditError) as err:
        af.write_atomic(str(path), '{"a": 1}\n')
    assert "not writable" in str(err.value)
    assert _snapshot(path) == before
    _only(tmp_path, "daemon.json")


def test_interrupt_before_rename_cleans_up_and_propagates(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_bytes(b"{}\n")
    before = _snapshot(path)

    def interrupt(tmp):
        raise KeyboardInterrupt()

    with pytest.raises(KeyboardInterrupt):
        af.write_atomic(str(path), '{"a": 1}\n', _before_rename=interrupt)
    assert _snapshot(path) == before
    _only(tmp_path, "daemon.json")


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_kept_when_root(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    os.chown(str(path), 4321, 4322)
    os.chmod(str(path), 0o640)
    af.write_atomic(str(path), '{"a": 1}\n')
    st = os.stat(str(path))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 4322, 0o640)


def test_dangling_symlink_creates_target(tmp_path):
    real = tmp_path / "real" / "daemon.json"
    link = tmp_path / "daemon.json"
    link.symlink_to(real)
    written = af.write_atomic(str(link), "{}\n")
    assert written == str(real)
    assert os.path.islink(str(link))
    assert real.read_text() == "{}\n"
    assert stat.S_IMODE(os.stat(str(real)).st_mode) == 0o644


def test_replacement_is_a_new_inode(tmp_path):
    # readers holding the old file keep reading the old, complete content
    path = tmp_path / "daemon.json"
    path.write_text("old")
    with open(str(path)) as reader:
        af.write_atomic(str(path), "new")
        assert reader.read() == "old"
    assert path.read_text() == "new"


def test_backup_keeps_mode_and_mtime(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("keep")
    os.chmod(str(path), 0o600)
    os.utime(str(path), (1000000000, 1000000000))
    dest = af.backup_file(str(path))
    st = os.stat(dest)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert int(st.st_mtime) == 1000000000


def test_concurrent_edit_detected_and_nothing_written(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"a": 1}\n')

    def someone_else(tmp):
        path.write_text('{"a": 2}\n')

    with pytest.raises(af.FileEditError) as err:
        af.write_atomic(str(path), '{"a": 1, "b": 2}\n', expected='{"a": 1}\n', _before_rename=someone_else)
    assert "changed by another process" in str(err.value)
    assert path.read_text() == '{"a": 2}\n', "the other writer's content survives"
    _only(tmp_path, "daemon.json")


def test_expected_missing_file(tmp_path):
    path = tmp_path / "daemon.json"
    af.write_atomic(str(path), "{}\n", expected=None)
    assert path.read_text() == "{}\n"
    with pytest.raises(af.FileEditError):
        af.write_atomic(str(path), "{}\n", expected=None)


def test_expected_unchanged_writes(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("old")
    af.write_atomic(str(path), "new", expected="old")
    assert path.read_text() == "new"
