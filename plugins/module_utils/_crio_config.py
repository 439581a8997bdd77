# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""The NVIDIA runtime for CRI-O, as a drop-in file we own.

CRI-O reads ``/etc/crio/crio.conf`` and then every file of
``/etc/crio/crio.conf.d/`` in lexical order, merging tables key by key, so the
runtime lives in its own file (``99-nvidia.conf``) and no user file is ever
edited.  Like ``nvidia-ctk runtime configure --runtime=crio``, the runtime is
a copy of the low-level runtime already configured (``runc``, else ``crun``,
else the default runtime), with ``runtime_path`` and ``runtime_type`` set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import (
    TomlError, TomlNestingError, dumps_path, dumps_value, get_path, parse, values_equal,
)

RUNTIMES = ("crio", "runtime", "runtimes")
HEADER = (
    "# Managed by the gpufleet.nvidia crio_runtime module: the NVIDIA container\n"
    "# runtime for CRI-O.  Edits here are overwritten; change the module's options.\n"
)


class CrioConfigError(Exception):
    """A CRI-O configuration file cannot be used; the message names it."""


def merge(base, over):
    """CRI-O's merge of a later file over an earlier one (tables key by key)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def effective(files):
    """Merge ``[(path, text), ...]`` in order; raise CrioConfigError naming a bad file."""
    data = {}
    for path, text in files:
        try:
            doc = parse(text)
        except TomlNestingError as exc:
            raise CrioConfigError("%s: %s; refusing to read it" % (path, exc))
        except TomlError as exc:
            raise CrioConfigError("%s is not valid TOML: %s" % (path, exc))
        node = doc.data
        for i, key in enumerate(RUNTIMES):
            node = node.get(key) if isinstance(node, dict) else None
            if node is not None and not isinstance(node, dict):
                raise CrioConfigError("%s: %s must be a table" % (path, dumps_path(RUNTIMES[:i + 1])))
        data = merge(data, doc.data)
    return data


def template(data, name):
    runtimes = get_path(data, RUNTIMES, {})
    default = get_path(data, ("crio", "runtime", "default_runtime"))
    candidates = ["runc", "crun"]
    if isinstance(default, str) and default and not default.startswith("nvidia") and default != name:
        candidates.append(default)
    for cand in candidates:
        table = runtimes.get(cand)
        if isinstance(table, dict) and table.get("runtime_type", "oci") == "oci":
            return cand, table
    return None, None


def render(data, params):
    """(text of our drop-in, runtime table, template name)."""
    name = params["name"]
    base_name, base = template(data, name)
    runtime = copy.deepcopy(base) if base else {}
    runtime["runtime_path"] = params["runtime_path"]
    runtime["runtime_type"] = params["runtime_type"]
    lines = [HEADER]
    if params["set_as_default"]:
        lines.append("\n[crio.runtime]\ndefault_runtime = %s\n" % dumps_value(name))
    lines.append("\n[%s]\n" % dumps_path(RUNTIMES + (name,)))
    for key, value in runtime.items():
        lines.append("%s = %s\n" % (dumps_path((key,)), dumps_value(value)))
    return "".join(lines), runtime, base_name


def plan(main_text, drop_ins, our_text, params):
    """New text of our drop-in (None: must not exist) and what it holds.

    ``main_text``: crio.conf or None; ``drop_ins``: ``[(path, text)]`` of the
    other drop-ins in lexical order (ours excluded); ``our_text``: our file
    now, or None.
    """
    if params["state"] == "absent":
        return {"drop_in": None, "runtime": None, "base_runtime": None}
    files = []
    if main_text is not None:
        files.append((params["path"], main_text))
    files.extend(drop_ins)
    data = effective(files)
    text, runtime, base_name = render(data, params)
    if our_text is not None and our_text != text:
        try:
            if values_equal(parse(our_text).data, parse(text).data):
                text = our_text
        except TomlError:
            pass
    return {"drop_in": text, "runtime": runtime, "base_runtime": base_name}
