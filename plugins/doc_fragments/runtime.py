# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Options and notes shared by docker_runtime, containerd_runtime and crio_runtime."""

    # Options every runtime module has, with the same type and default.
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Name of the runtime entry (C(docker run --runtime=<name>), the handler of a Kubernetes
        RuntimeClass).
    type: str
    default: nvidia
  runtime_path:
    description:
      - The NVIDIA container runtime binary the entry points to.
      - The same default in every module of the collection and in its roles.
      - Ignored when O(state=absent).
    type: path
    default: /usr/bin/nvidia-container-runtime
  state:
    description:
      - V(present) registers the runtime; V(absent) removes what V(present) added.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Before changing or removing a file, keep a copy of it named C(<file>.<pid>.<timestamp>~)
        beside it. The copy is written atomically and keeps mode, owner, times and extended
        attributes; it is returned as RV(backup_file).
    type: bool
    default: false
"""

    # How the files are edited (the edit cycle in module_utils/_edit_cycle.py).
    EDIT_CYCLE = r"""
options: {}
notes:
  - "Files are edited in one locked cycle: an advisory lock (C(flock) on C(.<name>.lock) beside
    the file, removed again afterwards) is held from reading the file until the last write, so
    concurrent runs on one host do not lose each other's changes; just before each file is
    replaced, the module checks that it still holds what was read (compare-and-swap) and re-reads
    and re-plans up to three times when another program changed it."
  - Each file is written to a temporary file in its own directory, fsynced and renamed over the
    original, keeping its mode, owner and extended attributes (POSIX ACLs, SELinux label). When
    one of several files cannot be written, the files already written are restored.
  - A FIFO, device, socket or directory given as a file is refused, without waiting on it.
    Temporary files left by a run that was killed (C(.<name>.XXXXXXXX.tmp), older than ten
    minutes) are removed.
  - In check mode nothing is written or locked, not even a temporary file; validation of the new
    content (which needs a temporary file) runs only outside check mode, in a private temporary
    directory.
"""
