# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe reading and atomic writing of the configuration files we edit.

Shared by every module that edits a file on a host (``docker_runtime``,
``containerd_runtime``).  The contract:

* ``read_text`` follows symlinks and reports a missing file as ``None``;
* ``write_atomic`` writes to a temporary file in the *same directory* as the
  real target (symlinks resolved), fsyncs it, copies mode and owner of the
  file it replaces (new files get ``new_mode``, owned by the caller), renames
  it over the target, then fsyncs the directory.  Any failure before the
  rename removes the temporary file and leaves the original byte-identical.

Everything here runs on Python 3.6+ (Jetson Nano / Ubuntu 18.04 targets).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import tempfile
import time


class FileEditError(Exception):
    """A file could not be read or written; the message names the file."""


def resolve_target(path):
    """Return the real path a write to ``path`` must go to (symlinks followed)."""
    return os.path.realpath(path)


def read_text(path, encoding="utf-8"):
    """Return the text of ``path`` or ``None`` when it does not exist.

    Raises ``FileEditError`` for anything else (a directory, no permission,
    undecodable bytes) with a message that names the file.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.EISDIR:
            raise FileEditError("%s is a directory, not a file" % path)
        raise FileEditError("cannot read %s: %s" % (path, exc.strerror or exc))
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileEditError("%s is not valid %s text: %s" % (path, encoding.upper(), exc))


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
                raise FileEditError("cannot create directory %s: %s" % (directory, exc.strerror or exc))
        else:
            os.chmod(directory, mode)
            created.append(directory)
    return created


def backup_file(path):
    """Copy ``path`` to ``path.<timestamp>~`` keeping its metadata; return the copy's path."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S")
    dest = "%s.%d.%s~" % (path, os.getpid(), stamp)
    try:
        shutil.copy2(path, dest)
    except (IOError, OSError) as exc:
        raise FileEditError("cannot back up %s to %s: %s" % (path, dest, exc))
    return dest


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


ANY = object()


def _current_matches(target, expected, encoding):
    try:
        with open(target, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        return expected is None and exc.errno == errno.ENOENT
    return expected is not None and data == expected.encode(encoding)


def write_atomic(path, content, new_mode=0o644, encoding="utf-8", _before_rename=None, expected=ANY):
    """Atomically replace the file at ``path`` (symlinks followed) with ``content``.

    ``content`` is text.  Mode and owner of an existing file are kept; a new
    file gets ``new_mode``.  ``expected`` (optional) is the text the caller
    read (``None``: the file did not exist); when the file no longer holds
    it just before the rename (another process edited it meanwhile), nothing
    is written and ``FileEditError`` is raised.  ``_before_rename`` is a test
    hook called with the temporary path just before the rename.  Returns the
    real path written.
    """
    target = resolve_target(path)
    directory = os.path.dirname(target) or "."
    ensure_parent_dir(target)
    try:
        st = os.stat(target)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise FileEditError("cannot stat %s: %s" % (target, exc.strerror or exc))
        st = None
    if st is not None and not os.access(target, os.W_OK) and os.geteuid() != 0:
        raise FileEditError("%s is not writable by uid %d" % (target, os.geteuid()))

    data = content.encode(encoding)
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), suffix=".tmp", dir=directory)
    except (IOError, OSError) as exc:
        raise FileEditError("cannot create a temporary file in %s to write %s: %s"
                            % (directory, target, exc.strerror or exc))
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if st is not None:
            os.chmod(tmp_path, st.st_mode & 0o7777)
            if hasattr(os, "chown"):
                try:
                    os.chown(tmp_path, st.st_uid, st.st_gid)
                except OSError as exc:
                    if exc.errno != errno.EPERM:
                        raise
        else:
            os.chmod(tmp_path, new_mode)
        if _before_rename is not None:
            _before_rename(tmp_path)
        if expected is not ANY and not _current_matches(target, expected, encoding):
            raise FileEditError("%s was changed by another process while it was being edited; nothing was "
                                "written, run again" % target)
        os.rename(tmp_path, target)
    except BaseException as exc:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        if isinstance(exc, (IOError, OSError)):
            raise FileEditError("cannot write %s: %s (the original file is unchanged)"
                                % (target, getattr(exc, "strerror", None) or exc))
        raise
    _fsync_dir(directory)
    return target
