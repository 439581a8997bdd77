# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Safe reading and atomic writing of the configuration files we edit.

The file-level steps of the edit cycle (``_edit_cycle.py`` holds the lock and
drives them for ``docker_runtime``, ``containerd_runtime`` and
``crio_runtime``).  The contract:

* ``read_snapshot`` / ``read_text`` follow symlinks, report a missing file as
  ``None`` and refuse anything that is not a regular file (a FIFO, a device,
  a socket, a directory) without blocking on it;
* ``write_atomic`` writes to a temporary file in the *same directory* as the
  real target (symlinks resolved), copies mode, owner and every extended
  attribute (POSIX ACLs and SELinux labels are extended attributes) of the
  file it replaces (new files get ``new_mode``, owned by the caller), fsyncs
  it, checks that the target still is what the caller read
  (compare-and-swap), renames it over the target, then fsyncs the directory.
  Any failure before the rename removes the temporary file and leaves the
  original byte-identical;
* ``backup_file`` writes the copy the same way, so a failed backup (a full
  disk) leaves no truncated file behind;
* ``clean_stale_temp_files`` removes the temporary files of earlier runs that
  were killed between creating and renaming them.

Everything here runs on Python 3.6+ (Jetson Nano / Ubuntu 18.04 targets).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import stat
import tempfile
import time


class FileEditError(Exception):
    """A file could not be read or written; the message names the file."""


class ConflictError(FileEditError):
    """The file changed between reading it and replacing it (compare-and-swap failed)."""


ANY = object()

# Temporary files are named by tempfile.mkstemp: ".<name>." + 8 characters + ".tmp".
TEMP_SUFFIX = ".tmp"
TEMP_RANDOM = r"[a-z0-9_]{8}"
STALE_TEMP_AGE = 600
_READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def resolve_target(path):
    """Return the real path a write to ``path`` must go to (symlinks followed)."""
    return os.path.realpath(path)


def _strerror(exc):
    return getattr(exc, "strerror", None) or str(exc)


def kind_of(mode):
    """``None`` for a regular file, else what the file is, for a message ("a FIFO (named pipe)")."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def refuse_non_regular(path, st):
    kind = kind_of(st.st_mode)
    if kind is not None:
        raise FileEditError("%s is %s, not a regular file; refusing to read or replace it" % (path, kind))


class Snapshot(object):
    """What a file held when it was read: its bytes and identity (``data`` is None: missing)."""

    __slots__ = ("data", "dev", "ino", "size", "mtime_ns")

    def __init__(self, data=None, st=None):
        self.data = data
        self.dev = st.st_dev if st is not None else None
        self.ino = st.st_ino if st is not None else None
        self.size = st.st_size if st is not None else None
        self.mtime_ns = st.st_mtime_ns if st is not None else None

    @property
    def exists(self):
        return self.data is not None

    def same(self, other):
        return (self.data == other.data and self.dev == other.dev and self.ino == other.ino
                and self.size == other.size and self.mtime_ns == other.mtime_ns)


MISSING = Snapshot()


def read_bytes(path):
    """Return a ``Snapshot`` of ``path`` (symlinks followed); ``MISSING`` when it does not exist.

    A FIFO, device, socket or directory is refused before it is opened, and
    the file is opened non-blocking and checked again, so nothing here can
    hang on a pipe that nobody writes to.
    """
    try:
        st = os.stat(path)
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return MISSING
        raise FileEditError("cannot read %s: %s" % (path, _strerror(exc)))
    refuse_non_regular(path, st)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return MISSING
        raise FileEditError("cannot read %s: %s" % (path, _strerror(exc)))
    try:
        st = os.fstat(fd)
        refuse_non_regular(path, st)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except (IOError, OSError) as exc:
        raise FileEditError("cannot read %s: %s" % (path, _strerror(exc)))
    finally:
        os.close(fd)
    return Snapshot(b"".join(chunks), st)


def decode(snapshot, path, encoding="utf-8"):
    if snapshot.data is None:
        return None
    try:
        return snapshot.data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileEditError("%s is not valid %s text: %s" % (path, encoding.upper(), exc))


def read_snapshot(path, encoding="utf-8"):
    """Return ``(text, snapshot)``; ``text`` is ``None`` when the file does not exist."""
    snapshot = read_bytes(path)
    return decode(snapshot, path, encoding), snapshot


def read_text(path, encoding="utf-8"):
    """Return the text of ``path`` or ``None`` when it does not exist.

    Raises ``FileEditError`` for anything else (a directory, a FIFO, no
    permission, undecodable bytes) with a message that names the file.
    """
    return read_snapshot(path, encoding)[0]


def ensure_parent_dir(path, mode=0o755):
    """Create the parent directory of ``path`` (and its parents) if missing.

    Returns the list of directories created, outermost first.
    """
    created = []
    parent = os.path.dirname(os.path.abspath(path))
    missing = []
    while parent and not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise FileEditError("cannot create directory %s: %s" % (directory, _strerror(exc)))
        else:
            os.chmod(directory, mode)
            created.append(directory)
    return created


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# --- metadata -------------------------------------------------------------------

_XATTR_SKIP_ERRNOS = tuple(
    e for e in (getattr(errno, "ENOTSUP", None), getattr(errno, "EOPNOTSUPP", None), errno.EPERM, errno.EACCES,
                getattr(errno, "ENODATA", None))
    if e is not None)


def copy_xattrs(source, fd):
    """Copy every extended attribute of the file ``source`` to the open file ``fd``.

    That includes ``system.posix_acl_access`` (POSIX ACLs) and
    ``security.selinux`` (the SELinux label).  A file system without extended
    attributes, or one the caller may not set (``trusted.*`` as non-root, a
    label the SELinux policy does not let it set), is tolerated: the names
    that could not be copied are returned.
    """
    if not hasattr(os, "listxattr"):
        return []
    try:
        names = os.listxattr(source)
    except (IOError, OSError) as exc:
        if exc.errno in _XATTR_SKIP_ERRNOS:
            return []
        raise
    skipped = []
    for name in names:
        try:
            value = os.getxattr(source, name)
            os.setxattr(fd, name, value)
        except (IOError, OSError) as exc:
            if exc.errno in _XATTR_SKIP_ERRNOS:
                skipped.append(name)
                continue
            raise
    return skipped


def _copy_metadata(source, st, fd):
    """Owner, mode and extended attributes of ``source`` (stat ``st``) onto ``fd``."""
    if hasattr(os, "fchown"):
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        except OSError as exc:
            if exc.errno != errno.EPERM:
                raise
    # after the chown, which clears set-id bits
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    return copy_xattrs(source, fd)


# --- temporary files -----------------------------------------------------------

def temp_prefix(target):
    return ".%s." % os.path.basename(target)


def temp_pattern(target):
    """Regular expression of the temporary files this module creates for ``target``."""
    return re.compile(r"^%s%s%s$" % (re.escape(temp_prefix(target)), TEMP_RANDOM, re.escape(TEMP_SUFFIX)))


def _write_temp(target, data, st, new_mode):
    """Write ``data`` to a new temporary file beside ``target``; return ``(tmp_path, skipped_xattrs)``.

    With ``st`` (the stat of the file being replaced or copied), its owner,
    mode and extended attributes are copied; otherwise ``new_mode`` is set.
    The file is fsynced.  On failure nothing is left behind.
    """
    directory = os.path.dirname(target) or "."
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=temp_prefix(target), suffix=TEMP_SUFFIX, dir=directory)
    except (IOError, OSError) as exc:
        hint = ""
        if exc.errno in _READ_ONLY_ERRNOS:
            hint = " (the directory is read-only or not writable for uid %d)" % os.geteuid()
        raise FileEditError("cannot create a temporary file in %s to write %s: %s%s"
                            % (directory, target, _strerror(exc), hint))
    skipped = []
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if st is not None:
                skipped = _copy_metadata(target, st, fd)
            else:
                os.fchmod(fd, new_mode)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _unlink_quietly(tmp_path)
        raise
    return tmp_path, skipped


def _current(target):
    try:
        return read_bytes(target)
    except FileEditError:
        return None


def matches(target, expected, encoding="utf-8"):
    """Does ``target`` still hold what the caller read?

    ``expected`` is a ``Snapshot`` (bytes and identity must match), text
    (bytes must match) or ``None`` (the file must not exist).
    """
    current = _current(target)
    if current is None:
        return False
    if isinstance(expected, Snapshot):
        if not expected.exists:
            return not current.exists
        return current.same(expected)
    if expected is None:
        return not current.exists
    return current.exists and current.data == expected.encode(encoding)


def _conflict(target):
    return ConflictError("%s was changed by another process while it was being edited; nothing was "
                         "written, run again" % target)


def write_atomic(path, content, new_mode=0o644, encoding="utf-8", _before_rename=None, expected=ANY):
    """Atomically replace the file at ``path`` (symlinks followed) with ``content``.

    ``content`` is text.  Mode, owner and extended attributes (ACLs, SELinux
    label) of an existing file are kept; a new file gets ``new_mode``.
    ``expected`` (optional) is what the caller read: a ``Snapshot``, the text,
    or ``None`` when the file did not exist; when the file no longer holds it
    just before the rename (another process edited it meanwhile), nothing is
    written and ``ConflictError`` is raised.  ``_before_rename`` is a test
    hook called with the temporary path just before that check.  Returns the
    real path written.
    """
    target = resolve_target(path)
    directory = os.path.dirname(target) or "."
    ensure_parent_dir(target)
    try:
        st = os.stat(target)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise FileEditError("cannot stat %s: %s" % (target, _strerror(exc)))
        st = None
    if st is not None:
        refuse_non_regular(target, st)
        if not os.access(target, os.W_OK) and os.geteuid() != 0:
            raise FileEditError("%s is not writable by uid %d" % (target, os.geteuid()))

    data = content.encode(encoding)
    tmp_path = None
    try:
        tmp_path, dummy = _write_temp(target, data, st, new_mode)
        if _before_rename is not None:
            _before_rename(tmp_path)
        if expected is not ANY and not matches(target, expected, encoding):
            raise _conflict(target)
        os.rename(tmp_path, target)
        tmp_path = None
    except BaseException as exc:
        if tmp_path is not None:
            _unlink_quietly(tmp_path)
        if isinstance(exc, (IOError, OSError)):
            raise FileEditError("cannot write %s: %s (the original file is unchanged)" % (target, _strerror(exc)))
        raise
    _fsync_dir(directory)
    return target


def remove_file(path, expected=ANY):
    """Delete ``path`` (symlinks followed) if it still holds ``expected``; ``False`` when it was missing."""
    target = resolve_target(path)
    if expected is not ANY and not matches(target, expected):
        raise _conflict(target)
    try:
        os.unlink(target)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise FileEditError("cannot remove %s: %s (the file is unchanged)" % (target, _strerror(exc)))
    _fsync_dir(os.path.dirname(target) or ".")
    return True


def backup_name(path, now=None):
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime(now))
    return "%s.%d.%s~" % (path, os.getpid(), stamp)


def backup_file(path):
    """Copy ``path`` to ``path.<pid>.<timestamp>~`` atomically; return the copy's path.

    The copy is written like every other file here (temporary file in the
    same directory, fsync, rename) and keeps mode, owner, times and extended
    attributes, so a failure (a full disk) leaves no partial backup.
    """
    target = resolve_target(path)
    dest = backup_name(target)
    try:
        snapshot = read_bytes(target)
        if not snapshot.exists:
            raise FileEditError("cannot back up %s: it does not exist" % target)
        st = os.stat(target)
        tmp_path, dummy = _write_temp(target, snapshot.data, st, None)
        try:
            os.utime(tmp_path, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.rename(tmp_path, dest)
        except BaseException:
            _unlink_quietly(tmp_path)
            raise
    except (IOError, OSError, FileEditError) as exc:
        raise FileEditError("cannot back up %s to %s: %s (no backup was written)"
                            % (target, dest, exc if isinstance(exc, FileEditError) else _strerror(exc)))
    _fsync_dir(os.path.dirname(target) or ".")
    return dest


def clean_stale_temp_files(target, max_age=STALE_TEMP_AGE, now=None):
    """Remove our temporary files for ``target`` that a killed run left behind.

    Only regular files whose names match exactly the pattern this module
    creates (``.<name>.XXXXXXXX.tmp``) and that are older than ``max_age``
    seconds are removed.  Call it while holding the edit lock.  Returns the
    paths removed.
    """
    directory = os.path.dirname(target) or "."
    pattern = temp_pattern(target)
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in sorted(names):
        if not pattern.match(name):
            continue
        candidate = os.path.join(directory, name)
        try:
            st = os.lstat(candidate)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < max_age:
            continue
        try:
            os.unlink(candidate)
        except OSError:
            continue
        removed.append(candidate)
    return removed
