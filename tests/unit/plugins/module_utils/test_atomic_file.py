# -*- coding: utf-8 -*-
"""atomic_file: the original survives every failure; mode and owner are kept."""
import os
import stat

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import atomic_file as af


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
