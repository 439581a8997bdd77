# -*- coding: utf-8 -*-
"""_edit_cycle and atomic_file: lock, compare-and-swap, rollback, metadata, backups, odd files."""
import errno
import multiprocessing
import os
import signal
import stat
import struct
import time

import pytest

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _edit_cycle as ec
from ansible_collections.gpufleet.nvidia.plugins.module_utils import _atomic_file as af


@pytest.fixture
def no_hang():
    """Fail a test that blocks for more than 5 s instead of hanging the run."""
    def expired(signum, frame):
        raise AssertionError("blocked for more than 5 seconds")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def listing(directory):
    return sorted(os.listdir(str(directory)))


# --- non-regular files (finding 5) ----------------------------------------------

def test_fifo_refused_without_blocking(tmp_path, no_hang):
    fifo = tmp_path / "daemon.json"
    os.mkfifo(str(fifo))
    started = time.time()
    with pytest.raises(af.FileEditError) as err:
        af.read_text(str(fifo))
    assert time.time() - started < 1
    assert "%s is a FIFO (named pipe), not a regular file" % fifo in str(err.value)


def test_fifo_refused_by_the_cycle_and_write(tmp_path, no_hang):
    fifo = tmp_path / "config.toml"
    os.mkfifo(str(fifo))
    with pytest.raises(af.FileEditError) as err:
        with ec.EditCycle([str(fifo)]):
            pass
    assert "FIFO" in str(err.value)
    with pytest.raises(af.FileEditError):
        af.write_atomic(str(fifo), "x")
    assert stat.S_ISFIFO(os.lstat(str(fifo)).st_mode)
    assert listing(tmp_path) == ["config.toml"], "lock released and removed, no temporary file"


def test_character_device_through_a_symlink_refused(tmp_path, no_hang):
    link = tmp_path / "daemon.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(af.FileEditError) as err:
        af.read_text(str(link))
    assert "daemon.json is a character device, not a regular file" in str(err.value)


def test_directory_refused(tmp_path):
    with pytest.raises(af.FileEditError) as err:
        af.read_text(str(tmp_path))
    assert "is a directory" in str(err.value)


# --- lock and compare-and-swap (finding 1) -------------------------------------

def test_lock_file_beside_the_target_is_removed_afterwards(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    with ec.EditCycle([str(path)]) as cycle:
        assert listing(tmp_path) == [".daemon.json.lock", "daemon.json"]
        cycle.set(str(path), '{"a": 1}')
        cycle.commit()
        assert listing(tmp_path) == [".daemon.json.lock", "daemon.json"]
    assert listing(tmp_path) == ["daemon.json"]
    assert path.read_text() == '{"a": 1}'


def _hold_lock(lock_path, ready, release):
    lock = ec.FileLock(lock_path).acquire()
    ready.set()
    release.wait(10)
    lock.release()


def test_second_cycle_waits_for_the_lock(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(ec.lock_path_for(str(path)), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(af.FileEditError) as err:
            with ec.EditCycle([str(path)], lock_timeout=0.3):
                pass
        assert "held the lock" in str(err.value)
        release.set()
        started = time.time()
        with ec.EditCycle([str(path)], lock_timeout=10):
            pass
        assert time.time() - started < 5
    finally:
        release.set()
        holder.join(10)


def test_check_mode_locks_and_writes_nothing(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    stale = tmp_path / ".daemon.json.abcdefgh.tmp"
    stale.write_text("old")
    os.utime(str(stale), (1, 1))
    before = listing(tmp_path)
    with ec.EditCycle([str(path)], check_mode=True) as cycle:
        assert listing(tmp_path) == before
        cycle.set(str(path), "new")
        assert cycle.changed
        assert cycle.commit(backup=True) == {}
    assert listing(tmp_path) == before
    assert path.read_text() == "{}"


def test_writer_without_the_lock_is_detected(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"a": 1}\n')
    with pytest.raises(af.ConflictError):
        with ec.EditCycle([str(path)]) as cycle:
            cycle.set(str(path), '{"a": 1, "b": 2}\n')
            # same bytes written by another program: the inode and mtime still tell
            other = tmp_path / "other"
            other.write_text('{"a": 1}\n')
            os.rename(str(other), str(path))
            cycle.commit()
    assert path.read_text() == '{"a": 1}\n'
    assert listing(tmp_path) == ["daemon.json"]


def test_run_with_retries_replans_after_a_conflict(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("a\n")
    attempts = []

    def cycle_fn():
        with ec.EditCycle([str(path)]) as cycle:
            attempts.append(cycle.text(str(path)))
            cycle.set(str(path), cycle.text(str(path)) + "mine\n")
            if len(attempts) == 1:
                path.write_text("a\nsomeone else\n")
            cycle.commit()

    ec.run_with_retries(cycle_fn)
    assert attempts == ["a\n", "a\nsomeone else\n"]
    assert path.read_text() == "a\nsomeone else\nmine\n"


def _add_line(path, line, barrier):
    barrier.wait(10)

    def cycle_fn():
        with ec.EditCycle([path]) as cycle:
            text = cycle.text(path) or ""
            time.sleep(0.001)  # widen the read-modify-write window
            cycle.set(path, text + line + "\n")
            cycle.commit()

    ec.run_with_retries(cycle_fn)


def test_concurrent_cycles_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("fork")
    path = str(tmp_path / "list.txt")
    for number in range(30):
        barrier = ctx.Barrier(2)
        workers = [ctx.Process(target=_add_line, args=(path, "%d-%s" % (number, who), barrier)) for who in "ab"]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
            assert worker.exitcode == 0
    lines = open(path).read().splitlines()
    assert sorted(lines) == sorted("%d-%s" % (n, w) for n in range(30) for w in "ab")
    assert listing(tmp_path) == ["list.txt"]


def test_missing_directory_is_created_and_locked_only_when_writing(tmp_path):
    path = tmp_path / "etc" / "docker" / "daemon.json"
    with ec.EditCycle([str(path)]) as cycle:
        cycle.set(str(path), None)
        assert not cycle.changed
        assert cycle.commit() == {}
    assert not (tmp_path / "etc").exists()
    with ec.EditCycle([str(path)]) as cycle:
        cycle.set(str(path), "{}\n")
        cycle.commit()
    assert listing(path.parent) == ["daemon.json"]


# --- several files: rollback (finding 7) ---------------------------------------

def test_failed_second_file_restores_the_first(tmp_path, monkeypatch):
    main = tmp_path / "config.toml"
    main.write_text("version = 2\n")
    drop_in = tmp_path / "conf.d" / "99-nvidia.toml"
    real_write = ec.write_atomic

    def fail_drop_in(path, content, **kwargs):
        if path.endswith("99-nvidia.toml"):
            raise af.FileEditError("cannot write %s: No space left on device (the original file is unchanged)" % path)
        return real_write(path, content, **kwargs)

    monkeypatch.setattr(ec, "write_atomic", fail_drop_in)
    with pytest.raises(af.FileEditError) as err:
        with ec.EditCycle([str(main), str(drop_in)], owned=[str(drop_in)]) as cycle:
            cycle.set(str(main), 'version = 2\nimports = ["%s/*.toml"]\n' % drop_in.parent)
            cycle.set(str(drop_in), "version = 2\n")
            cycle.commit(order=[str(main), str(drop_in)])
    assert "No space left on device" in str(err.value)
    assert "restored %s to what it was before" % main in str(err.value)
    assert main.read_text() == "version = 2\n"
    assert not drop_in.exists()
    assert listing(tmp_path) == ["conf.d", "config.toml"]


def test_owned_file_may_not_be_a_symlink(tmp_path):
    user_file = tmp_path / "10-crio.conf"
    user_file.write_text("[crio]\n")
    ours = tmp_path / "99-nvidia.conf"
    ours.symlink_to(user_file)
    with pytest.raises(af.FileEditError) as err:
        with ec.EditCycle([str(ours)], owned=[str(ours)]):
            pass
    assert "is a symbolic link to %s" % user_file in str(err.value)
    assert user_file.read_text() == "[crio]\n"


# --- metadata (finding 3) -------------------------------------------------------

def _acl_blob(uid):
    """A POSIX ACL as the kernel stores it in system.posix_acl_access: user::rw- user:<uid>:rw- group::r-- mask::rw- other::r--."""
    entries = [(0x01, 6, 0xFFFFFFFF), (0x02, 6, uid), (0x04, 4, 0xFFFFFFFF), (0x10, 6, 0xFFFFFFFF),
               (0x20, 4, 0xFFFFFFFF)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


def _set_or_skip(path, name, value):
    try:
        os.setxattr(path, name, value)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            pytest.skip("%s cannot be set on this file system or by this user: %s" % (name, exc))
        raise


def test_user_xattr_kept_by_write_and_backup(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    _set_or_skip(str(path), "user.gpufleet.test", b"kept")
    af.write_atomic(str(path), '{"a": 1}', expected="{}")
    assert os.getxattr(str(path), "user.gpufleet.test") == b"kept"
    backup = af.backup_file(str(path))
    assert os.getxattr(backup, "user.gpufleet.test") == b"kept"


def test_posix_acl_kept(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("version = 2\n")
    os.chmod(str(path), 0o664)
    _set_or_skip(str(path), "system.posix_acl_access", _acl_blob(4242))
    acl = os.getxattr(str(path), "system.posix_acl_access")
    mode = stat.S_IMODE(os.stat(str(path)).st_mode)
    with ec.EditCycle([str(path)]) as cycle:
        cycle.set(str(path), "version = 3\n")
        cycle.commit()
    assert path.read_text() == "version = 3\n"
    assert os.getxattr(str(path), "system.posix_acl_access") == acl
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == mode


@pytest.mark.skipif(os.geteuid() != 0, reason="setting security.* attributes needs root")
def test_selinux_label_kept(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    label = b"system_u:object_r:container_config_t:s0\x00"
    _set_or_skip(str(path), "security.selinux", label)
    af.write_atomic(str(path), '{"a": 1}')
    assert os.getxattr(str(path), "security.selinux") == label


def test_xattrs_unsupported_are_tolerated(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_text("{}")

    def enotsup(*args):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(af.os, "listxattr", enotsup)
    af.write_atomic(str(path), '{"a": 1}')
    assert path.read_text() == '{"a": 1}'


# --- atomic backups (finding 2) -------------------------------------------------

def test_backup_on_a_full_disk_leaves_no_partial_copy(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    content = b'{"log-driver": "journald"}\n' * 200
    path.write_bytes(content)
    real_write = af.os.write
    calls = []

    def full_after_one_block(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[:100]))

    monkeypatch.setattr(af.os, "write", full_after_one_block)
    with pytest.raises(af.FileEditError) as err:
        af.backup_file(str(path))
    assert "No space left on device" in str(err.value)
    assert "no backup was written" in str(err.value)
    assert listing(tmp_path) == ["daemon.json"]
    assert path.read_bytes() == content


def test_backup_fsync_failure_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_text("{}")

    def eio(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(af.os, "fsync", eio)
    with pytest.raises(af.FileEditError):
        af.backup_file(str(path))
    assert listing(tmp_path) == ["daemon.json"]


def test_failed_backup_in_the_cycle_writes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_text("{}")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(af.FileEditError):
        with ec.EditCycle([str(path)]) as cycle:
            cycle.set(str(path), '{"a": 1}')
            monkeypatch.setattr(af.os, "write", full)
            cycle.commit(backup=True)
    assert path.read_text() == "{}"
    assert listing(tmp_path) == ["daemon.json"]


def test_backup_is_renamed_into_place(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    renames = []
    real_rename = af.os.rename

    def record(src, dst):
        renames.append((os.path.basename(src), os.path.basename(dst)))
        return real_rename(src, dst)

    monkeypatch.setattr(af.os, "rename", record)
    dest = af.backup_file(str(path))
    assert len(renames) == 1
    assert af.temp_pattern(str(path)).match(renames[0][0])
    assert renames[0][1] == os.path.basename(dest)


# --- stale temporary files (finding 6) -------------------------------------------

def test_stale_temp_files_of_killed_runs_are_removed(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    old = time.time() - 3600
    names = {
        ".daemon.json.k1ll3d_x.tmp": old,      # ours, old: removed
        ".daemon.json.r3cent__.tmp": None,     # ours, recent: may belong to a running writer
        ".daemon.json.abcdefgh.tmp.keep": old,  # not our pattern
        ".daemon.json.abc.tmp": old,           # not our pattern
        ".daemon.jsonXabcdefgh.tmp": old,      # not our pattern
        ".other.json.abcdefgh.tmp": old,       # another file's
        "daemon.json.abcdefgh.tmp": old,       # not hidden: not ours
    }
    for name, mtime in names.items():
        (tmp_path / name).write_text("partial")
        if mtime is not None:
            os.utime(str(tmp_path / name), (mtime, mtime))
    os.mkdir(str(tmp_path / ".daemon.json.d1rector.tmp"))
    os.utime(str(tmp_path / ".daemon.json.d1rector.tmp"), (old, old))
    with ec.EditCycle([str(path)]) as cycle:
        assert cycle.removed_temp_files == [str(tmp_path / ".daemon.json.k1ll3d_x.tmp")]
    expected = sorted(set(names) - {".daemon.json.k1ll3d_x.tmp"} | {"daemon.json", ".daemon.json.d1rector.tmp"})
    assert listing(tmp_path) == expected


def test_temp_files_of_this_module_match_the_cleanup_pattern(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    path.write_text("{}")
    seen = []

    def spy(tmp):
        seen.append(os.path.basename(tmp))

    af.write_atomic(str(path), "[]", _before_rename=spy)
    assert af.temp_pattern(str(path)).match(seen[0])


# --- validation candidates (finding 15) ----------------------------------------

def test_candidate_lives_in_a_private_directory(tmp_path):
    with ec.candidate_file("version = 2\n", "/etc/containerd/config.toml", "/etc/containerd/config.toml") as tmp:
        assert os.path.basename(tmp) == "config.toml"
        assert not tmp.startswith("/etc/")
        assert stat.S_IMODE(os.stat(os.path.dirname(tmp)).st_mode) == 0o700
        assert open(tmp).read() == "version = 2\n"
    assert not os.path.exists(os.path.dirname(tmp))


def test_candidate_in_a_read_only_place_gives_a_clear_message(monkeypatch):
    def erofs(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(ec.tempfile, "mkdtemp", erofs)
    with pytest.raises(af.FileEditError) as err:
        with ec.candidate_file("x", "config.toml", "/etc/containerd/config.toml"):
            pass
    message = str(err.value)
    assert "cannot write a temporary copy of the new content to validate /etc/containerd/config.toml" in message
    assert "Read-only file system" in message and "[Errno" not in message


def test_read_only_directory_gives_a_clear_message(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text("version = 2\n")
    real_open = os.open

    def erofs_for_new_files(name, flags, mode=0o777, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(name, flags, mode, **kwargs)

    def erofs(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(ec.os, "open", erofs_for_new_files)
    monkeypatch.setattr(af.tempfile, "mkstemp", erofs)
    with ec.EditCycle([str(path)]) as cycle:
        assert cycle.text(str(path)) == "version = 2\n", "reading works without the lock"
        cycle.set(str(path), "version = 3\n")
        with pytest.raises(af.FileEditError) as err:
            cycle.commit()
    message = str(err.value)
    assert "cannot create a temporary file in %s to write %s: Read-only file system" % (tmp_path, path) in message
    assert "[Errno" not in message
    assert path.read_text() == "version = 2\n"
