# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""The one edit cycle of the runtime modules.

``docker_runtime``, ``containerd_runtime`` and ``crio_runtime`` edit their
files the same way::

    with EditCycle([path], check_mode=module.check_mode) as cycle:   # lock, read
        text = cycle.text(path)
        cycle.set(path, plan(text))                                   # plan
        diff = cycle.diff(path)                                       # diff
        ...validate the candidate (``candidate_file``)...             # validate
        backups = cycle.commit(backup=True)                           # backup, write

* **lock**: an advisory ``flock`` on ``.<name>.lock`` beside each file, held
  from the read to the last write.  A separate lock file survives the rename
  that replaces the file's inode; it is removed again on release (waiters
  re-check that the lock file they hold still is the one in place).  Check
  mode takes no lock and creates no file; a directory that does not exist
  yet (or cannot be written) is locked only once a write needs it.
* **read**: a FIFO, device, socket or directory is refused without blocking;
  a file the module owns (a drop-in) may not be a symbolic link.
* **write**: backups first (atomic), then every file in the caller's order,
  each atomically with compare-and-swap against what was read; if a later
  file fails, the files already written are put back.
* stale temporary files of killed runs are removed while the lock is held.

``run_with_retries`` re-runs a whole cycle when another process changed a
file in between (only a writer that does not take the lock can do that).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import random
import shutil
import stat
import tempfile
import time

try:
    import fcntl
except ImportError:  # not on Linux; the modules support Linux only
    fcntl = None

from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic_file import (
    MISSING,
    ConflictError,
    FileEditError,
    backup_file,
    clean_stale_temp_files,
    decode,
    ensure_parent_dir,
    read_bytes,
    remove_file,
    resolve_target,
    write_atomic,
)

LOCK_TIMEOUT = 120
RETRIES = 3


def lock_path_for(target):
    """The lock file of ``target``: ``.<name>.lock`` in the same directory."""
    return os.path.join(os.path.dirname(target) or ".", ".%s.lock" % os.path.basename(target))


class FileLock(object):
    """An exclusive ``flock`` on a lock file that is removed again on release."""

    def __init__(self, path, timeout=LOCK_TIMEOUT):
        self.path = path
        self.timeout = timeout
        self.fd = None

    def acquire(self):
        deadline = time.time() + self.timeout
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | \
            getattr(os, "O_NONBLOCK", 0)
        while True:
            try:
                fd = os.open(self.path, flags, 0o600)
            except (IOError, OSError) as exc:
                if exc.errno == errno.ELOOP:
                    raise FileEditError("lock file %s is a symbolic link; remove it" % self.path)
                raise
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise FileEditError("lock file %s is not a regular file; remove it" % self.path)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except (IOError, OSError) as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.time() > deadline:
                    raise FileEditError("another process has held the lock %s for more than %d seconds; "
                                        "nothing was written" % (self.path, self.timeout))
                time.sleep(0.005 + random.random() * 0.02)
                continue
            except BaseException:
                os.close(fd)
                raise
            # The holder before us may have removed the file while we waited:
            # the lock counts only if it is still the file at self.path.
            try:
                on_disk = os.stat(self.path)
                held = os.fstat(fd)
            except OSError:
                os.close(fd)
                continue
            if (on_disk.st_dev, on_disk.st_ino) != (held.st_dev, held.st_ino):
                os.close(fd)
                continue
            self.fd = fd
            return self

    def release(self):
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


class _File(object):
    def __init__(self, path, owned):
        self.path = path
        self.owned = owned
        self.target = resolve_target(path)
        self.snapshot = MISSING
        self.before = None
        self.after = None
        self.planned = False

    @property
    def changed(self):
        return self.planned and self.after != self.before


class EditCycle(object):
    """Lock, read, plan, diff, validate, back up and write one or more files.

    ``paths``: the files to edit (symlinks are followed, except for
    ``owned`` paths, which the module owns and which must not be links).
    ``check_mode``: lock nothing, write nothing.
    """

    def __init__(self, paths, check_mode=False, owned=(), lock_timeout=LOCK_TIMEOUT, encoding="utf-8"):
        self.check_mode = check_mode
        self.lock_timeout = lock_timeout
        self.encoding = encoding
        self.files = []
        self._by_path = {}
        for path in paths:
            if path in self._by_path:
                continue
            entry = _File(path, path in owned)
            self.files.append(entry)
            self._by_path[path] = entry
        self._locks = {}
        self.removed_temp_files = []

    # --- lock and read ----------------------------------------------------------

    def __enter__(self):
        try:
            for entry in self.files:
                if entry.owned and os.path.islink(entry.path):
                    raise FileEditError(
                        "%s is a symbolic link to %s; the module owns this file and does not write through a "
                        "link into another file; remove the link" % (entry.path, os.readlink(entry.path)))
            if not self.check_mode:
                self._lock(tolerate_unwritable=True)
            for entry in self.files:
                entry.snapshot = read_bytes(entry.target)
                entry.before = decode(entry.snapshot, entry.target, self.encoding)
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self._unlock()
        return False

    def _lock(self, tolerate_unwritable):
        """Lock every file whose directory exists, in a fixed order (no deadlock between modules)."""
        wanted = sorted(set(lock_path_for(entry.target) for entry in self.files))
        for lock_path in wanted:
            if lock_path in self._locks or not os.path.isdir(os.path.dirname(lock_path)):
                continue
            lock = FileLock(lock_path, self.lock_timeout)
            try:
                lock.acquire()
            except (IOError, OSError) as exc:
                if tolerate_unwritable and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                    # A directory we cannot write: nothing can be written there either; the
                    # write (if one is needed) reports it.
                    continue
                raise FileEditError("cannot create the lock file %s: %s" % (lock_path, exc.strerror or exc))
            self._locks[lock_path] = lock
            for entry in self.files:
                if lock_path_for(entry.target) == lock_path:
                    self.removed_temp_files.extend(clean_stale_temp_files(entry.target))

    def _unlock(self):
        for lock_path in sorted(self._locks, reverse=True):
            self._locks[lock_path].release()
        self._locks = {}

    # --- plan and diff ----------------------------------------------------------

    def _entry(self, path):
        return self._by_path[path]

    def text(self, path):
        """The text read from ``path`` (``None``: missing)."""
        return self._entry(path).before

    def target(self, path):
        """The real file behind ``path``."""
        return self._entry(path).target

    def set(self, path, text):
        """Plan the new text of ``path``; ``None`` means the file must not exist."""
        entry = self._entry(path)
        entry.after = text
        entry.planned = True

    def new_text(self, path):
        """The planned text of ``path`` (what was read when nothing is planned; ``None``: missing)."""
        entry = self._entry(path)
        return entry.after if entry.planned else entry.before

    def changed_paths(self):
        return [entry.path for entry in self.files if entry.changed]

    @property
    def changed(self):
        return any(entry.changed for entry in self.files)

    def diff(self, path, header=None):
        """Ansible's diff dict for one file (headers name the file, ``(absent)`` when missing)."""
        entry = self._entry(path)
        header = header or entry.path
        return dict(before=entry.before or "", after=entry.after or "",
                    before_header=header if entry.before is not None else "%s (absent)" % header,
                    after_header=header if entry.after is not None else "%s (absent)" % header)

    # --- back up and write ------------------------------------------------------

    def commit(self, order=None, backup=False):
        """Write every changed file, in ``order`` (paths) if given; return ``{path: backup file}``.

        Nothing is done in check mode.  Raises ``ConflictError`` when a file
        changed since it was read (nothing written) and ``FileEditError`` when
        a write fails (files already written are restored; the message says so).
        """
        if self.check_mode:
            return {}
        entries = [self._entry(path) for path in (order or [e.path for e in self.files])]
        entries = [entry for entry in entries if entry.changed]
        if not entries:
            return {}
        for entry in entries:
            if entry.after is not None:
                ensure_parent_dir(entry.target)
        # directories created just now (or not lockable when read): lock them, then make sure
        # nothing changed in between
        if any(lock_path_for(entry.target) not in self._locks for entry in entries):
            self._lock(tolerate_unwritable=True)
        for entry in self.files:
            if not _still(entry):
                raise ConflictError("%s was changed by another process while it was being edited; nothing was "
                                    "written, run again" % entry.target)
        backups = {}
        if backup:
            for entry in entries:
                if entry.before is not None:
                    backups[entry.path] = backup_file(entry.target)
        done = []
        try:
            for entry in entries:
                if entry.after is None:
                    remove_file(entry.target, expected=entry.snapshot)
                else:
                    write_atomic(entry.target, entry.after, encoding=self.encoding, expected=entry.snapshot)
                done.append(entry)
        except FileEditError as exc:
            if not done:
                raise
            raise exc.__class__("%s; %s" % (exc, self._roll_back(done)))
        return backups

    def _roll_back(self, done):
        restored, failed = [], []
        for entry in reversed(done):
            try:
                if entry.before is None:
                    remove_file(entry.target, expected=entry.after)
                else:
                    write_atomic(entry.target, entry.before, encoding=self.encoding, expected=entry.after)
                restored.append(entry.target)
            except FileEditError as exc:
                failed.append("%s (%s)" % (entry.target, exc))
        parts = []
        if restored:
            parts.append("restored %s to what it was before" % ", ".join(restored))
        if failed:
            parts.append("could NOT restore %s" % "; ".join(failed))
        return " and ".join(parts)


def _still(entry):
    try:
        current = read_bytes(entry.target)
    except FileEditError:
        return False
    if not entry.snapshot.exists:
        return not current.exists
    return current.same(entry.snapshot)


def run_with_retries(cycle_fn, attempts=RETRIES):
    """Call ``cycle_fn()`` again (re-read, re-plan) when it raises ``ConflictError``."""
    for attempt in range(attempts):
        try:
            return cycle_fn()
        except ConflictError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


class candidate_file(object):
    """Context manager: the new text written to ``<private temp dir>/<name>`` for a validator.

    The directory is created with mode 0700 in the system's temporary
    directory (never beside the real file) and removed afterwards.
    """

    def __init__(self, text, name, purpose, encoding="utf-8"):
        self.text = text
        self.name = os.path.basename(name)
        self.purpose = purpose
        self.encoding = encoding
        self.directory = None

    def __enter__(self):
        try:
            self.directory = tempfile.mkdtemp(prefix="gpufleet-validate-")
            path = os.path.join(self.directory, self.name)
            with open(path, "wb") as handle:
                handle.write(self.text.encode(self.encoding))
        except (IOError, OSError) as exc:
            self.__exit__(None, None, None)
            raise FileEditError("cannot write a temporary copy of the new content to validate %s in %s: %s "
                                "(set TMPDIR to a writable directory, or validate=false); nothing was written"
                                % (self.purpose, self.directory or tempfile.gettempdir(), exc.strerror or exc))
        return path

    def __exit__(self, exc_type, exc, tb):
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        return False
