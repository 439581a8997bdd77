# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Register (or remove) the NVIDIA runtime in containerd's TOML configuration.

Pure functions over strings: :func:`plan` takes the current text of
``config.toml`` (and of our drop-in file) and returns the new texts.  The
edits are span replacements computed by :mod:`toml_edit`, so comments and
formatting of the user's file survive; after editing, the result is parsed
again and compared, key by key, with the expected document, so a wrong edit
is an error instead of a broken containerd.

Behaviour follows ``nvidia-ctk runtime configure --runtime=containerd``:

* the CRI plugin is ``cri`` (config version 1), ``io.containerd.grpc.v1.cri``
  (version 2, containerd 1.x) or ``io.containerd.cri.v1.runtime`` (version 3,
  containerd 2.x);
* the new runtime is a copy of the existing low-level runtime (``runc``, then
  ``crun``, then the default runtime) so ``SystemdCgroup`` and the other
  options carry over, with ``runtime_type`` and ``options.BinaryName`` set to
  the NVIDIA runtime.  Unlike nvidia-ctk, a runtime that is not runc-based
  (kata, gVisor) is never copied, and runc comes before the default runtime
  so that making ours the default does not change the template on the next
  run.
* keys of an existing ``runtimes.<name>`` table that we do not own are
  kept (as ``docker_runtime`` keeps the other keys of its entry): we own
  ``runtime_type``, ``options.BinaryName`` and ``options.SystemdCgroup``
  (which follows the template, or the ``systemd_cgroup`` parameter); every
  other key keeps its value, and keys of the template missing from the table
  are added.  nvidia-ctk replaces the whole table instead.

Files nested deeper than ``toml_edit.MAX_DEPTH`` levels are refused with a
``ConfigError``; ``nan`` and ``inf`` values are read, written and compared
as the TOML floats they are.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import fnmatch
import os
import re

from ansible_collections.gpufleet.nvidia.plugins.module_utils._toml_edit import (
    TomlError, TomlNestingError, apply_edits, array_items, dumps_path, dumps_value, get_path, parse, values_equal,
)

CRI_PLUGINS = {1: "cri", 2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}
DEFAULT_RUNTIME_TYPE = "io.containerd.runc.v2"
BUILTIN_RUNC = {"runtime_type": DEFAULT_RUNTIME_TYPE}
RUNC_SHIMS = ("io.containerd.runc.v2", "io.containerd.runc.v1", "io.containerd.runtime.v1.linux")
DROP_IN_HEADER = (
    "# Managed by the gpufleet.nvidia containerd_runtime module: the NVIDIA\n"
    "# container runtime for containerd.  runtime_type, options.BinaryName and\n"
    "# options.SystemdCgroup are overwritten (change the module's options\n"
    "# instead); other keys of the runtime table are kept.\n"
)


class ConfigError(Exception):
    """The configuration cannot be edited safely; the message says why."""


def version_for_containerd(major):
    """Config version a containerd of this major version writes by default."""
    if major is not None and major >= 2:
        return 3
    return 2


def parse_containerd_version(output):
    """``containerd --version`` output -> (major, minor, patch) or None."""
    m = re.search(r"\s[vV]?(\d+)\.(\d+)\.(\d+)", output or "")
    if not m:
        return None
    return tuple(int(x) for x in m.groups())


def load(text, path):
    """Parse ``text`` (the content of ``path``); raise ConfigError naming the file."""
    try:
        return parse(text)
    except TomlNestingError as exc:
        raise ConfigError("%s: %s; refusing to edit it" % (path, exc))
    except TomlError as exc:
        raise ConfigError("%s is not valid TOML: %s" % (path, exc))


def document_version(doc, path):
    """Config version of a non-empty document (absent ``version`` means 1)."""
    version = doc.data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigError("%s: 'version' must be an integer, found %r" % (path, version))
    if version not in CRI_PLUGINS:
        raise ConfigError("%s: containerd config version %d is not supported (1, 2 and 3 are)" % (path, version))
    return version


def cri_prefix(version):
    return ("plugins", CRI_PLUGINS[version])


def _check_tables(data, version, path):
    """The containers on the way to our runtime must be tables."""
    node = data
    walked = []
    for key in cri_prefix(version) + ("containerd", "runtimes"):
        walked.append(key)
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
        if not isinstance(node, dict):
            raise ConfigError("%s: %s must be a table, found %s" % (path, dumps_path(walked), _type_name(node)))


def _type_name(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def base_runtime(data, version, name):
    """Pick the runtime to copy options from: (name, table) or (None, None).

    ``runc``, then ``crun``, then the default runtime when it is runc-based and
    not an ``nvidia*`` one.  nvidia-ctk looks at the default runtime first; we
    do not, because setting our runtime as the default would then change the
    template on the next run (not idempotent), and because the NVIDIA runtime
    wraps runc, whose options are the ones to copy.
    """
    prefix = cri_prefix(version)
    runtimes = get_path(data, prefix + ("containerd", "runtimes"), {})
    default = get_path(data, prefix + ("containerd", "default_runtime_name"))
    candidates = ["runc", "crun"]
    if isinstance(default, str) and default and not default.startswith("nvidia") and default != name:
        candidates.append(default)
    found = []
    for cand in candidates:
        table = runtimes.get(cand) if isinstance(runtimes, dict) else None
        if not isinstance(table, dict):
            continue
        if table.get("runtime_type", DEFAULT_RUNTIME_TYPE) not in RUNC_SHIMS:
            continue
        found.append((cand, table))
    # A bare runc (nothing but runtime_type, as we add it for containerd 1.x)
    # has nothing to copy: prefer a runtime with settings.
    found.sort(key=lambda item: item[1] == BUILTIN_RUNC)
    return found[0] if found else (None, None)


def _overlay(template, existing):
    """``existing`` over ``template``: existing values win, tables merged key by key.

    Keys keep the order of ``existing``; keys only the template has follow.
    """
    out = {}
    for key, value in existing.items():
        if isinstance(value, dict) and isinstance(template.get(key), dict):
            out[key] = _overlay(template[key], value)
        else:
            out[key] = copy.deepcopy(value)
    for key, value in template.items():
        if key not in out:
            out[key] = copy.deepcopy(value)
    return out


def desired_runtime(base, runtime_type, runtime_path, systemd_cgroup=None, existing=None):
    """The runtime table we want: a copy of ``base`` with our binary.

    ``existing`` is our runtime table as the files hold it now (or None):
    its keys are kept, except those we own: ``runtime_type``,
    ``options.BinaryName`` and ``options.SystemdCgroup`` (from
    ``systemd_cgroup`` when given, else from the template when it sets it).
    """
    template = copy.deepcopy(base) if base else {}
    if isinstance(existing, dict):
        rt = _overlay(template, existing)
    else:
        rt = template
    if "runtime_type" in rt:
        rt["runtime_type"] = runtime_type
    else:
        rt = dict([("runtime_type", runtime_type)] + list(rt.items()))
    options = rt.get("options")
    options = copy.deepcopy(options) if isinstance(options, dict) else {}
    options["BinaryName"] = runtime_path
    base_options = template.get("options")
    if systemd_cgroup is not None:
        options["SystemdCgroup"] = bool(systemd_cgroup)
    elif isinstance(base_options, dict) and "SystemdCgroup" in base_options:
        options["SystemdCgroup"] = copy.deepcopy(base_options["SystemdCgroup"])
    rt["options"] = options
    return rt


# ---------------------------------------------------------------------------
# Rendering


def _render_table(path, table, indent, step, literal, nl):
    """Lines of ``[path]`` and its sub-tables (dict values become sub-tables)."""
    lines = ["%s[%s]%s" % (indent, dumps_path(path, literal), nl)]
    subs = []
    for key, value in table.items():
        if isinstance(value, dict):
            subs.append((key, value))
        else:
            lines.append("%s%s = %s%s" % (indent + step, dumps_path((key,), literal), dumps_value(value, literal), nl))
    for key, value in subs:
        lines.append(nl)
        lines.extend(_render_table(path + (key,), value, indent + step, step, literal, nl))
    return lines


def _style(doc, version):
    """(literal_strings, newline, header_indent, indent_step) as used in the file."""
    text = doc.text
    nl = "\r\n" if "\r\n" in text else "\n"
    prefix = cri_prefix(version)
    literal = False
    # containerd 2.x writes single-quoted strings; follow the file.
    sample = doc.tables_under(prefix)
    if sample:
        header = text[sample[0].header_start:sample[0].header_end]
        literal = "'" in header and '"' not in header
    elif version == 3 and "'" in text and '"' not in text:
        literal = True
    indent, step = "", "  "
    runtimes = prefix + ("containerd", "runtimes")
    for where in (runtimes + ("runc",), runtimes, prefix + ("containerd",)):
        found = doc.header_tables(where)
        if found:
            t = found[0]
            extra = 1 if where != runtimes + ("runc",) else 0
            if t.entries and t.entries[0].indent.startswith(t.indent) and len(t.entries[0].indent) > len(t.indent):
                step = t.entries[0].indent[len(t.indent):]
            indent = t.indent + step * extra
            break
    return literal, nl, indent, step


# ---------------------------------------------------------------------------
# Editing one document


class _Editor(object):
    """Collects span edits on one document and the semantic changes they make."""

    def __init__(self, doc, path):
        self.doc = doc
        self.path = path
        self.edits = []
        self.expected = copy.deepcopy(doc.data)
        self.block_tables = []   # (path, dict) rendered as new header tables

    # semantic mirror -------------------------------------------------------
    def _expect_set(self, path, value):
        node = self.expected
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = copy.deepcopy(value)

    def _expect_delete(self, path):
        node = get_path(self.expected, path[:-1])
        if isinstance(node, dict):
            node.pop(path[-1], None)

    # spans ------------------------------------------------------------------
    def _blank_line_before(self, start):
        text = self.doc.text
        if start == 0:
            return start
        prev = text.rfind("\n", 0, start - 1) + 1
        if text[prev:start].strip() == "":
            return prev
        return start

    def _remove(self, start, end):
        """Add a deletion, merging it with deletions it overlaps."""
        kept = []
        for edit in self.edits:
            if edit[2] == "" and edit[0] < end and start < edit[1]:
                start, end = min(start, edit[0]), max(end, edit[1])
            else:
                kept.append(edit)
        kept.append((start, end, ""))
        self.edits = kept

    def remove_subtree(self, path):
        """Remove every table and key that defines ``path`` (and below)."""
        path = tuple(path)
        doc = self.doc
        removed = False
        if get_path(doc.data, path) is not None:
            for entry in doc.entries:
                if len(entry.path) < len(path) and path[:len(entry.path)] == entry.path:
                    raise ConfigError("%s: %s is defined inside an inline table (line %d); "
                                      "rewrite it as [table] sections first"
                                      % (self.path, dumps_path(path), _line_of(doc.text, entry.line_start)))
        tables = doc.tables_under(path)
        for t in tables:
            if t.is_array:
                raise ConfigError("%s: %s contains an array of tables; edit it by hand"
                                  % (self.path, dumps_path(path)))
            self._remove(self._blank_line_before(t.header_start), t.content_end)
            removed = True
        covered = set(id(t) for t in tables)
        for entry in doc.entries_under(path):
            if id(entry.table) in covered:
                continue
            if _in_array_table(doc, entry.table):
                continue
            self._remove(entry.line_start, entry.line_end)
            removed = True
        if get_path(doc.data, path) is not None:
            self._expect_delete(path)
        return removed

    def set_scalar(self, table_path, key, value, literal, nl):
        """Set ``table_path.key = value`` (a scalar or array)."""
        doc = self.doc
        full = tuple(table_path) + (key,)
        current = get_path(doc.data, full)
        entry = doc.find_entry(full)
        if entry is not None:
            if values_equal(current, value):
                return False
            raw = doc.text[entry.value_start:entry.value_end]
            self.edits.append((entry.value_start, entry.value_end, dumps_value(value, raw.startswith("'") or literal)))
            self._expect_set(full, value)
            return True
        if current is not None:
            raise ConfigError("%s: cannot set %s: it is defined inside an inline value" % (self.path, dumps_path(full)))
        tables = doc.header_tables(table_path)
        if tables:
            table = tables[-1]
            if table.entries:
                indent = table.entries[-1].indent
            else:
                indent = table.indent + "  "
            pos = table.content_end
            prefix = ""
            if pos == len(doc.text) and not doc.text.endswith("\n"):
                prefix = nl
            line = "%s%s%s = %s%s" % (prefix, indent, dumps_path((key,), literal), dumps_value(value, literal), nl)
            self.edits.append((pos, pos, line))
        else:
            for path, table in self.block_tables:
                if path == tuple(table_path):
                    table[key] = value
                    break
            else:
                self.block_tables.append((tuple(table_path), {key: value}))
        self._expect_set(full, value)
        return True

    def delete_key(self, full):
        entry = self.doc.find_entry(full)
        if entry is None:
            return False
        self.edits.append((entry.line_start, entry.line_end, ""))
        self._expect_delete(full)
        return True

    def insert_block(self, tables, anchor_prefixes, indent, step, literal, nl):
        """Insert new header tables after the last table under the first anchor found."""
        doc = self.doc
        lines = []
        for path, table in self.block_tables + tables:
            lines.append(nl)
            lines.extend(_render_table(path, table, indent, step, literal, nl))
        for path, table in tables:
            self._expect_set(path, table)
        if not lines:
            return
        pos = None
        for anchor in anchor_prefixes:
            under = doc.tables_under(anchor)
            if under:
                pos = max(t.content_end for t in under)
                break
        if pos is None:
            pos = max(t.content_end for t in doc.tables)
        pos = self._after_trailing_comments(pos)
        text = "".join(lines)
        if pos == 0 and not doc.text:
            text = text[len(nl):]
        elif pos > 0 and doc.text[pos - 1] != "\n":
            text = nl + text
        self.edits.append((pos, pos, text))
        self.block_tables = []

    def _after_trailing_comments(self, pos):
        """Skip comment lines that hang off the end of a table.

        Comment lines right after the last key (``# BinaryName = ...``) belong
        to that table, unless they run straight into the next header (then they
        introduce it); new tables go after the former, before the latter.
        """
        text = self.doc.text
        end = pos
        while end < len(text):
            nl = text.find("\n", end)
            line_end = len(text) if nl < 0 else nl + 1
            stripped = text[end:line_end].strip()
            if not stripped.startswith("#"):
                break
            end = line_end
        if end == pos:
            return pos
        rest = text[end:].lstrip(" \t")
        if rest.startswith("[") and not rest.startswith("\n"):
            return pos
        if end == len(text) and not text.endswith("\n"):
            return pos
        return end

    def result(self):
        try:
            new_text = apply_edits(self.doc.text, self.edits)
        except ValueError as exc:
            raise ConfigError("%s: refusing to write: %s; the file was left unchanged" % (self.path, exc))
        try:
            new_doc = parse(new_text)
        except TomlError as exc:
            raise ConfigError("%s: refusing to write: the edited file would not be valid TOML (%s); "
                              "the file was left unchanged" % (self.path, exc))
        if not values_equal(_prune(new_doc.data), _prune(self.expected)):
            raise ConfigError("%s: refusing to write: the edited file does not have the expected content; "
                              "the file was left unchanged" % self.path)
        return new_text


def _prune(value):
    """Drop empty tables (an empty [table] and no table mean the same to containerd)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _prune(item)
            if isinstance(item, dict) and not item:
                continue
            out[key] = item
        return out
    return value


def _in_array_table(doc, table):
    return table.is_array or any(t.is_array and table.path[:len(t.path)] == t.path for t in doc.tables[1:]
                                 if t.header_start < table.header_start and t.path != table.path)


def _line_of(text, pos):
    return text.count("\n", 0, pos) + 1


# ---------------------------------------------------------------------------
# The plan


def _runtime_anchor(version):
    prefix = cri_prefix(version)
    return [prefix + ("containerd", "runtimes"), prefix + ("containerd",), prefix, ("plugins",)]


def _existing_runtime(primary, secondary):
    """Our runtime table as the files hold it: ``primary`` over ``secondary``."""
    if isinstance(primary, dict) and isinstance(secondary, dict):
        return _overlay(secondary, primary)
    if isinstance(primary, dict):
        return primary
    if isinstance(secondary, dict):
        return secondary
    return None


def edit_main(text, path, params, version, state, drop_in, import_pattern=None, keep_import=False,
              other_runtime=None):
    """Edit the main config text. Returns (new_text, info).

    ``other_runtime``: our runtime table in the drop-in file (or None); its
    keys that we do not own are kept when the runtime moves into this file.
    """
    doc = load(text, path)
    ed = _Editor(doc, path)
    info = {}
    name = params["name"]
    prefix = cri_prefix(version)
    runtimes = prefix + ("containerd", "runtimes")
    runtime_path = runtimes + (name,)
    default_path = prefix + ("containerd", "default_runtime_name")
    _check_tables(doc.data, version, path)
    literal, nl, indent, step = _style(doc, version)
    current_default = get_path(doc.data, default_path)

    if state == "present" and not drop_in:
        base_name, base = base_runtime(doc.data, version, name)
        info["base_runtime"] = base_name
        have = get_path(doc.data, runtime_path)
        want = desired_runtime(base, params["runtime_type"], params["runtime_path"], params.get("systemd_cgroup"),
                               existing=_existing_runtime(have, other_runtime))
        info["runtime"] = want
        new_tables = []
        if not values_equal(have, want) and not _patch_runtime(ed, doc, runtime_path, have, want, literal, nl):
            ed.remove_subtree(runtime_path)
            new_tables = [(runtime_path, want)]
        if version in (1, 2) and get_path(doc.data, runtimes + ("runc",)) is None:
            # containerd 1.x replaces its built-in runtimes by the configured
            # ones: without this, adding ours would make runc disappear.
            new_tables.insert(0, (runtimes + ("runc",), dict(BUILTIN_RUNC)))
        if params["set_as_default"]:
            if current_default != name:
                ed.set_scalar(default_path[:-1], default_path[-1], name, literal, nl)
        elif current_default == name:
            ed.set_scalar(default_path[:-1], default_path[-1], base_name or "runc", literal, nl)
        if params.get("cdi") is not None:
            ed.set_scalar(prefix, "enable_cdi", bool(params["cdi"]), literal, nl)
            if params["cdi"] and params.get("cdi_spec_dirs") is not None:
                ed.set_scalar(prefix, "cdi_spec_dirs", list(params["cdi_spec_dirs"]), literal, nl)
        ed.insert_block(new_tables, _runtime_anchor(version), indent, step, literal, nl)
    else:
        # absent, or present through a drop-in: our runtime does not belong here.
        ed.remove_subtree(runtime_path)
        left = get_path(doc.data, runtimes)
        if (state == "absent" and version in (1, 2) and isinstance(left, dict) and name in left
                and set(left) == set([name, "runc"]) and left["runc"] == BUILTIN_RUNC):
            # the bare runc we added next to ours: containerd has it built in
            ed.remove_subtree(runtimes + ("runc",))
        if current_default == name and (state == "absent" or not params["set_as_default"]):
            tables = doc.header_tables(default_path[:-1])
            others = [t for t in doc.tables_under(default_path[:-1])
                      if t.path != default_path[:-1] and t.path[:len(runtime_path)] != runtime_path]
            only_entry = (len(tables) == 1 and len(tables[0].entries) == 1
                          and tables[0].entries[0].path == default_path and not others)
            if only_entry:
                ed.remove_subtree(default_path[:-1])
            else:
                base_name, _base = base_runtime(doc.data, version, name)
                ed.set_scalar(default_path[:-1], default_path[-1], base_name or "runc", literal, nl)

    if import_pattern is not None:
        _edit_imports(ed, doc, path, import_pattern, keep_import, literal, nl)
    return ed.result(), info


def _patch_runtime(ed, doc, runtime_path, have, want, literal, nl):
    """Bring our existing runtime table to ``want`` value by value, if that can be done in place.

    ``want`` is ``have`` with some values set or added (see
    :func:`desired_runtime`), so the changed lines are edited where they
    are and the table keeps its comments and layout.  Returns False (and
    edits nothing) when a change needs a new table or touches an inline
    table: the caller then writes the whole table again.
    """
    if not isinstance(have, dict):
        return False
    changes = []

    def walk(path, old, new):
        if any(key not in new for key in old):
            return False
        for key, value in new.items():
            current = old.get(key)
            if isinstance(value, dict) and isinstance(current, dict):
                if not walk(path + (key,), current, value):
                    return False
            elif key in old and values_equal(current, value):
                continue
            elif isinstance(value, dict) or isinstance(current, dict):
                return False
            else:
                changes.append((path, key, value))
        return True

    if not walk(tuple(runtime_path), have, want):
        return False
    for table_path, key, _value in changes:
        if doc.find_entry(table_path + (key,)) is None and (
                get_path(doc.data, table_path + (key,)) is not None or not doc.header_tables(table_path)):
            return False
    for table_path, key, value in changes:
        ed.set_scalar(table_path, key, value, literal, nl)
    return True


# ---------------------------------------------------------------------------
# The imports array, edited element by element


def _edit_imports(ed, doc, path, pattern, keep, literal, nl):
    """Add (``keep``) or remove ``pattern`` in ``imports``.

    An existing array keeps its layout and comments: a new entry goes on its
    own line with the indentation of the others when the array spans several
    lines (after the last element, on one line otherwise); a removed entry
    takes its line with it when it had one to itself.
    """
    imports = doc.data.get("imports")
    if imports is not None and (not isinstance(imports, list) or not all(isinstance(i, str) for i in imports)):
        raise ConfigError("%s: 'imports' must be an array of strings" % path)
    imports = list(imports or [])
    if keep:
        if pattern in imports:
            return
        new = imports + [pattern]
    else:
        if pattern not in imports:
            return
        new = [i for i in imports if i != pattern]
    entry = doc.find_entry(("imports",))
    if entry is None:
        if imports:
            raise ConfigError("%s: 'imports' is not a plain key of the top-level table; edit it by hand" % path)
        version_entry = doc.find_entry(("version",))
        if version_entry is not None:
            pos = version_entry.line_end
        elif doc.root.entries:
            pos = doc.root.content_end
        else:
            pos = 0
        prefix = nl if pos > 0 and doc.text[pos - 1] != "\n" else ""
        ed.edits.append((pos, pos, "%simports = %s%s" % (prefix, dumps_value(new, literal), nl)))
        ed._expect_set(("imports",), new)
        return
    try:
        items, close = array_items(doc.text, entry.value_start)
    except TomlError as exc:
        raise ConfigError("%s: cannot read 'imports': %s" % (path, exc))
    if keep:
        _append_item(ed, doc.text, entry, items, close, pattern, literal, nl)
    else:
        for index, value in enumerate(imports):
            if value == pattern:
                _remove_item(ed, doc.text, entry.value_start, items, index)
    ed._expect_set(("imports",), new)


def _line_start(text, pos):
    return text.rfind("\n", 0, pos) + 1


def _end_of_line(text, pos):
    """Offset of the line break after ``pos`` when only blanks and a comment come first, else None."""
    i = pos
    while i < len(text) and text[i] in " \t":
        i += 1
    if text.startswith("#", i):
        i = text.find("\n", i)
        if i < 0:
            return None
        return i - 1 if text[i - 1] == "\r" else i
    if text.startswith("\r\n", i) or text.startswith("\n", i):
        return i
    return None


def _own_line(text, array_start, start):
    """Whether the element at ``start`` begins its line (and not the line of ``[``)."""
    line = _line_start(text, start)
    return line > array_start and text[line:start].strip() == ""


def _append_item(ed, text, entry, items, close, value, literal, nl):
    multiline = "\n" in text[entry.value_start:close]
    if items:
        literal = text.startswith("'", items[-1][0])
    item = dumps_value(value, literal)
    if not items:
        line = _line_start(text, close)
        if multiline and line > entry.value_start and text[line:close].strip() == "":
            # "]" alone on its line: the entry goes on a line before it
            ed.edits.append((line, line, "%s  %s,%s" % (text[line:close], item, nl)))
        elif multiline:
            ed.edits.append((close, close, item))
        else:
            ed.edits.append((entry.value_start + 1, entry.value_start + 1, item))
        return
    _last_start, last_end, comma = items[-1]
    if not multiline:
        if comma is None:
            ed.edits.append((last_end, last_end, ", " + item))
        else:
            ed.edits.append((comma + 1, comma + 1, " %s," % item))
        return
    indent = entry.indent + "  "
    for start, _end, _comma in (items[-1], items[0]):
        if _own_line(text, entry.value_start, start):
            indent = text[_line_start(text, start):start]
            break
    pos = comma + 1 if comma is not None else last_end
    eol = _end_of_line(text, pos)
    if comma is None:
        ed.edits.append((last_end, last_end, ","))
    if eol is not None:
        ed.edits.append((eol, eol, "%s%s%s%s" % (nl, indent, item, "," if comma is not None else "")))
    else:
        # the closing bracket follows on the same line
        ed.edits.append((pos, pos, "%s%s%s" % (nl, indent, item)))


def _remove_item(ed, text, array_start, items, index):
    start, end, comma = items[index]
    if _own_line(text, array_start, start) and (comma is None or "\n" not in text[end:comma]):
        eol = _end_of_line(text, comma + 1 if comma is not None else end)
        if eol is not None:
            ed._remove(_line_start(text, start), text.find("\n", eol) + 1)
            if comma is None and index > 0:
                # the last element, written without a trailing comma: so is its predecessor now
                ed._remove(items[index - 1][2], items[index - 1][2] + 1)
            return
    if comma is not None:
        stop = comma + 1
        while stop < len(text) and text[stop] in " \t":
            stop += 1
        ed._remove(start, stop)
    elif index > 0:
        ed._remove(items[index - 1][2], end)
    else:
        ed._remove(start, end)


def import_pattern_for(drop_in_path):
    return os.path.join(os.path.dirname(drop_in_path), "*.toml")


def imports_cover(imports, drop_in_path):
    for item in imports or []:
        if isinstance(item, str) and (item == drop_in_path or fnmatch.fnmatchcase(drop_in_path, item)):
            return True
    return False


def render_drop_in(params, version, base_name, want):
    """The whole text of our drop-in file."""
    prefix = cri_prefix(version)
    literal = version == 3
    nl = "\n"
    lines = [DROP_IN_HEADER, "version = %d%s" % (version, nl)]
    tables = []
    if params.get("cdi") is not None:
        cri = {"enable_cdi": bool(params["cdi"])}
        if params["cdi"] and params.get("cdi_spec_dirs") is not None:
            cri["cdi_spec_dirs"] = list(params["cdi_spec_dirs"])
        tables.append((prefix, cri))
    if params["set_as_default"]:
        tables.append((prefix + ("containerd",), {"default_runtime_name": params["name"]}))
    if version == 2 and base_name != "runc":
        # containerd 1.x: the runtimes of an imported CRI section replace the built-in runc
        tables.append((prefix + ("containerd", "runtimes", "runc"), dict(BUILTIN_RUNC)))
    tables.append((prefix + ("containerd", "runtimes", params["name"]), want))
    for path, table in tables:
        lines.append(nl)
        lines.extend(_render_table(path, table, "", "  ", literal, nl))
    return "".join(lines)


def _drop_in_runtime(drop_in_text, version, name):
    """Our runtime table in the current drop-in, or None (missing or unreadable: it is rewritten)."""
    if drop_in_text is None:
        return None
    try:
        data = parse(drop_in_text).data
    except TomlError:
        return None
    table = get_path(data, cri_prefix(version) + ("containerd", "runtimes", name))
    return table if isinstance(table, dict) else None


def _choose_version(main_doc, main_empty, params, containerd_major):
    """(config version, warnings) for the main file; raise ConfigError for a version we must not edit."""
    path = params["path"]
    warnings = []
    requested = str(params.get("config_version") or "auto")
    if main_empty:
        version = version_for_containerd(containerd_major) if requested == "auto" else int(requested)
    else:
        version = document_version(main_doc, path)
        if requested != "auto" and int(requested) != version:
            warnings.append("%s declares version %d; config_version=%s is used only for new files"
                            % (path, version, requested))
    if version == 1 and params["state"] == "present" and containerd_major is not None and containerd_major >= 2:
        # containerd 2.1.9 loads such a file but drops its plugins.cri runtimes
        raise ConfigError("%s is a version 1 config (no 'version' key), which containerd %d.x does not read "
                          "correctly; convert it first with 'containerd config migrate'" % (path, containerd_major))
    if version == 3 and containerd_major is not None and containerd_major < 2:
        raise ConfigError("%s: config version 3 needs containerd 2.x, but containerd %d.x is installed"
                          % (path, containerd_major))
    return version, warnings


def _plan_absent(main_text, main_doc, drop_in_text, params, version, containerd_major, drop_in_dir_has_others):
    """state=absent: our runtime out of the main file, the drop-in deleted, our import removed."""
    new_main = main_text
    if main_doc is not None and main_doc.data:
        pattern = import_pattern_for(params["drop_in_path"])
        new_main, _info = edit_main(main_text, params["path"], params, version, "absent", params["drop_in"],
                                    import_pattern=pattern if drop_in_text is not None or params["drop_in"] else None,
                                    keep_import=drop_in_dir_has_others)
    return {"main": new_main, "drop_in": None, "default_runtime_name": _effective_default(new_main, None, version)}


def _plan_in_main(main_text, main_doc, drop_in_text, params, version, containerd_major, drop_in_dir_has_others):
    """state=present, drop_in=false: the runtime in the main file; a drop-in of ours is deleted."""
    text = main_text or ""
    if main_doc is None or not main_doc.data:
        if not text.strip():
            text = "version = %d\n" % version
        else:
            # only comments: keep them, add the version line
            text = text + ("" if text.endswith("\n") else "\n") + "version = %d\n" % version
    pattern = import_pattern_for(params["drop_in_path"])
    new_main, info = edit_main(text, params["path"], params, version, "present", False,
                               import_pattern=pattern if drop_in_text is not None else None,
                               keep_import=drop_in_dir_has_others,
                               other_runtime=_drop_in_runtime(drop_in_text, version, params["name"]))
    result = {"main": new_main, "drop_in": None, "default_runtime_name": _effective_default(new_main, None, version)}
    result.update(info)
    return result


def _plan_drop_in(main_text, main_doc, drop_in_text, params, version, containerd_major, drop_in_dir_has_others):
    """state=present, drop_in=true: the runtime in our drop-in, imported by the main file."""
    path = params["path"]
    drop_in_path = params["drop_in_path"]
    main_empty = main_doc is None or not main_doc.data
    if version == 1:
        raise ConfigError("%s: config version 1 does not support imports; use drop_in=false "
                          "or migrate the file to version 2 (containerd config migrate)" % path)
    main_data = {} if main_empty else main_doc.data
    _check_tables(main_data, version, path)
    if version == 2 and (containerd_major is None or containerd_major < 2) and get_path(main_data, cri_prefix(2)):
        raise ConfigError(
            "%s: containerd 1.x replaces a whole plugin section with the one from an imported file, so a "
            "drop-in would discard your settings under plugins.\"%s\"; use drop_in=false for this host "
            "(or move those settings into the drop-in directory yourself)%s"
            % (path, CRI_PLUGINS[2], "" if containerd_major is not None else
               " (containerd was not found, so its version is unknown)"))
    name = params["name"]
    base_name, base = base_runtime(main_data, version, name)
    existing = _existing_runtime(_drop_in_runtime(drop_in_text, version, name),
                                 get_path(main_data, cri_prefix(version) + ("containerd", "runtimes", name)))
    want = desired_runtime(base, params["runtime_type"], params["runtime_path"], params.get("systemd_cgroup"),
                           existing=existing)
    new_drop_in = render_drop_in(params, version, base_name, want)
    if drop_in_text is not None and drop_in_text != new_drop_in:
        try:
            if values_equal(parse(drop_in_text).data, parse(new_drop_in).data):
                new_drop_in = drop_in_text
        except TomlError:
            pass
    pattern = import_pattern_for(drop_in_path)
    if main_empty:
        base_text = main_text if main_text and main_text.strip() else ""
        lines = "version = %d\nimports = %s\n" % (version, dumps_value([pattern], version == 3))
        if base_text:
            new_main = base_text + ("" if base_text.endswith("\n") else "\n") + lines
        else:
            new_main = lines
    else:
        cover = imports_cover(main_data.get("imports"), drop_in_path)
        new_main, _info = edit_main(main_text, path, params, version, "present", True,
                                    import_pattern=None if cover else pattern, keep_import=True)
    return {"main": new_main, "drop_in": new_drop_in, "base_runtime": base_name, "runtime": want,
            "default_runtime_name": _effective_default(new_main, new_drop_in, version)}


_PLANNERS = {"absent": _plan_absent, "main": _plan_in_main, "drop_in": _plan_drop_in}


def plan(main_text, drop_in_text, params, containerd_major=None, drop_in_dir_has_others=False):
    """Compute the new files.

    ``main_text``/``drop_in_text``: current content or None when missing.
    ``params``: path, name, runtime_path, runtime_type, set_as_default, drop_in,
    drop_in_path, config_version ('auto'|2|3 as str/int), cdi, cdi_spec_dirs,
    systemd_cgroup, state.  ``containerd_major``: installed containerd's major
    version or None.  ``drop_in_dir_has_others``: other ``*.toml`` files than
    ours live in the drop-in directory (then ``state=absent`` keeps the import).

    Returns a dict: main (new text or None = leave missing), drop_in (new text
    or None = must not exist), version, plugin, runtime, base_runtime,
    default_runtime_name, warnings.  Raises ConfigError.

    One planner per mode (:func:`_plan_absent`, :func:`_plan_in_main`,
    :func:`_plan_drop_in`); this function reads the main file once, picks
    the config version and dispatches.
    """
    main_doc = load(main_text, params["path"]) if main_text is not None else None
    main_empty = main_doc is None or not main_doc.data
    version, warnings = _choose_version(main_doc, main_empty, params, containerd_major)
    if params["state"] == "absent":
        mode = "absent"
    elif params["drop_in"]:
        mode = "drop_in"
    else:
        mode = "main"
    result = {"warnings": warnings, "base_runtime": None, "runtime": None,
              "version": version, "plugin": CRI_PLUGINS[version]}
    result.update(_PLANNERS[mode](main_text, main_doc, drop_in_text, params, version, containerd_major,
                                  drop_in_dir_has_others))
    return result


def _effective_default(main_text, drop_in_text, version):
    default = "runc"
    for text in (main_text, drop_in_text):
        if text:
            value = get_path(parse(text).data, cri_prefix(version) + ("containerd", "default_runtime_name"))
            if isinstance(value, str) and value:
                default = value
    return default


def runtime_in_dump(dump_text, version_hint, name, runtime_path):
    """Check ``containerd config dump`` output: does it show our runtime?"""
    try:
        data = parse(dump_text).data
    except TomlError as exc:
        return "cannot read containerd's config dump: %s" % exc
    version = data.get("version", version_hint)
    if version not in CRI_PLUGINS:
        return "containerd's config dump has an unknown version %r" % (version,)
    binary = get_path(data, cri_prefix(version) + ("containerd", "runtimes", name, "options", "BinaryName"))
    if binary != runtime_path:
        return "containerd's config dump does not show runtime %r with BinaryName %r" % (name, runtime_path)
    return None
