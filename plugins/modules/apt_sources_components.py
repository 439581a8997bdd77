#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apt_sources_components
short_description: Enable archive components on the APT sources a host already has
version_added: "0.1.0"
description:
  - Adds O(components) (for the NVIDIA driver of Debian, C(contrib non-free non-free-firmware)) to the entries
    of the host's own release that carry C(main), in the sources files the host already has. The mirror those
    entries name (often an internal one) is kept; no source is added.
  - deb822 files (C(*.sources)) get the components appended to the C(Components) field of each matching
    paragraph; one-line files (C(sources.list), C(*.list)) to the components of each matching C(deb)/C(deb-src)
    line, before a trailing comment. Every other byte is kept.
  - An entry matches when it is enabled, all its suites belong to O(release) (V(bookworm), V(bookworm-updates),
    V(bookworm-security), V(bookworm-backports), V(bookworm-proposed-updates)) and its components include
    C(main). Other releases and third-party sources are never touched.
  - Fails, changing nothing, when no entry of O(release) with C(main) exists, or when a file cannot be read
    (the message names the file).
  - Each file is locked, read, planned, and written atomically with compare-and-swap, keeping mode, owner and
    extended attributes; non-regular files are refused.
author:
  - gpufleet maintainers (@gpufleet)
attributes:
  check_mode:
    support: full
    description: Computes the change and the diff; writes, locks and creates nothing.
  diff_mode:
    support: full
    description: Before and after text of each changed file.
options:
  release:
    description: Code name of the host's release (C(ansible_facts.distribution_release)), such as V(bookworm).
    type: str
    required: true
  components:
    description: Components to enable, in the order they are appended.
    type: list
    elements: str
    required: true
  paths:
    description:
      - The sources files to consider. Empty is C(/etc/apt/sources.list) and every C(*.list) and
        C(*.sources) regular file of C(/etc/apt/sources.list.d).
    type: list
    elements: path
    default: []
seealso:
  - module: ansible.builtin.deb822_repository
"""

EXAMPLES = r"""
- name: Enable contrib, non-free and non-free-firmware on the host's own Debian sources
  gpufleet.nvidia.apt_sources_components:
    release: "{{ ansible_facts.distribution_release }}"
    components: [contrib, non-free, non-free-firmware]
  register: nonfree

- name: Refresh the package lists when they changed
  ansible.builtin.apt:
    update_cache: true
  when: nonfree is changed
"""

RETURN = r"""
changed_paths:
  description: The files that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
matched_paths:
  description: The files that hold an entry of O(release) with C(main).
  returned: always
  type: list
  elements: str
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _apt_sources as apt_sources
from ansible_collections.gpufleet.nvidia.plugins.module_utils._edit_cycle import (
    EditCycle,
    run_with_retries,
)
from ansible_collections.gpufleet.nvidia.plugins.module_utils._atomic_file import FileEditError

SOURCES_LIST = "/etc/apt/sources.list"
SOURCES_DIR = "/etc/apt/sources.list.d"


def default_paths(root=""):
    """/etc/apt/sources.list and the regular *.list / *.sources files of sources.list.d."""
    paths = []
    main = root + SOURCES_LIST
    if os.path.isfile(main):
        paths.append(main)
    for pattern in ("*.list", "*.sources"):
        for path in sorted(glob.glob(os.path.join(root + SOURCES_DIR, pattern))):
            if os.path.isfile(path) and not os.path.islink(path):
                paths.append(path)
    return paths


def run(module, paths):
    release = module.params["release"]
    components = module.params["components"]

    def cycle():
        with EditCycle(paths, check_mode=module.check_mode) as edit:
            files = dict((path, edit.text(path)) for path in paths)
            plan = apt_sources.enable_components(files, release, components)
            if plan["problem"]:
                module.fail_json(msg=plan["problem"], changed=False, changed_paths=[],
                                 matched_paths=plan["matched"])
            for path, text in plan["changes"].items():
                edit.set(path, text)
            changed = edit.changed_paths()
            diff = [edit.diff(path) for path in changed]
            edit.commit(order=changed)
            return dict(changed=bool(changed), changed_paths=changed, matched_paths=plan["matched"], diff=diff)

    return run_with_retries(cycle)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            release=dict(type="str", required=True),
            components=dict(type="list", elements="str", required=True),
            paths=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    paths = module.params["paths"] or default_paths()
    try:
        apt_sources.release_suites(module.params["release"])
        result = run(module, paths)
    except (apt_sources.AptSourcesError, FileEditError) as exc:
        module.fail_json(msg=str(exc), changed=False, changed_paths=[], matched_paths=[])
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
