# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Pure functions over Docker's ``daemon.json``: parse, merge, remove, render.

Nothing here touches the file system or runs a command; the
``docker_runtime`` module reads the file, calls :func:`plan` and writes the
result with ``atomic_file``.

What we own in the file, and nothing else:

* ``runtimes.<name>.path`` and ``runtimes.<name>.runtimeArgs``;
* ``default-runtime`` (set when asked; removed only when it names our runtime);
* ``features.cdi`` when the caller passes ``cdi``.

Every other key and value survives exactly: unknown keys, other runtimes,
other keys inside our runtime entry, numbers as written (floats keep their
text, integers of any size stay exact), key order.

Rendering: the indent of the existing file is kept (first indented line:
spaces or a tab); a new file gets 4 spaces, like ``nvidia-ctk``.  Existing
key order is kept, new keys are appended to their object, ``": "`` between
key and value, empty objects/arrays as ``{}``/``[]``, one trailing newline,
non-ASCII text written as UTF-8.

Refused with ``DockerConfigError`` (the message names the file): invalid
JSON, NaN/Infinity, duplicate keys, objects and arrays nested deeper than
:data:`MAX_DEPTH` levels (checked on the text, before anything recurses),
wrong types of the keys we edit, and a ``runtimeArgs`` of our runtime that
dockerd cannot load (not an array of strings) when the caller does not say
which arguments it wants.

Runs on Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

DEFAULT_INDENT = "    "

# Runtime names Docker reserves for its own runc / containerd shims.
RESERVED_RUNTIME_NAMES = frozenset([
    "runc",
    "io.containerd.runc.v1",
    "io.containerd.runc.v2",
    "io.containerd.runtime.v1.linux",
])

RELOAD_NONE = "none"
RELOAD_SIGHUP = "sighup"
RELOAD_RESTART = "restart"
_RELOAD_RANK = {RELOAD_NONE: 0, RELOAD_SIGHUP: 1, RELOAD_RESTART: 2}

_MISSING = object()

# Deepest nesting of objects and arrays we read.  Docker's own options nest
# three levels; the limit keeps every recursive walk far from Python's
# recursion limit (the json module's own included).
MAX_DEPTH = 64

# A JSON string (escapes skipped, unterminated ones too) or a bracket.
_NESTING_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[{]|[\]}]', re.S)


class DockerConfigError(ValueError):
    """The file cannot be edited safely; the message names the file and the problem."""


class JsonFloat(float):
    """A JSON number with a fraction or exponent that remembers its text.

    ``1.10``, ``1e3`` or ``1e400`` are written back exactly as read; the
    value compares as the float it denotes.
    """

    def __new__(cls, text):
        obj = float.__new__(cls, text)
        obj.text = text
        return obj

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (JsonFloat, (self.text,))


class _DuplicateKey(ValueError):
    pass


def _pairs_to_dict(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _reject_constant(name):
    raise ValueError("%s is not a JSON value" % name)


def _location(text, pos):
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, column


def nesting_error(text, path="daemon.json", limit=MAX_DEPTH):
    """A message when objects/arrays in ``text`` nest deeper than ``limit``, else ``None``.

    A linear scan of the text, so it is safe on any input (valid JSON or not).
    """
    depth = 0
    for match in _NESTING_TOKEN.finditer(text):
        token = match.group(0)
        if token in "[{":
            depth += 1
            if depth > limit:
                line, column = _location(text, match.start())
                return ("%s nests objects and arrays deeper than %d levels (line %d column %d); "
                        "refusing to read it" % (path, limit, line, column))
        elif token in "]}":
            depth = max(depth - 1, 0)
    return None


def parse_config(text, path="daemon.json"):
    """Return the JSON object in ``text`` as a dict.

    ``None`` (missing file), an empty or whitespace-only text mean ``{}``.
    A UTF-8 byte-order mark is ignored (Docker ignores it too).  Raises
    ``DockerConfigError`` naming ``path`` for invalid JSON, NaN/Infinity,
    duplicate keys, nesting deeper than :data:`MAX_DEPTH`, a value that is
    not an object, and for ``runtimes``, ``features`` or ``default-runtime``
    of the wrong type.
    """
    if text is None:
        return {}
    if text.startswith(u"\ufeff"):
        text = text[1:]
    if not text.strip():
        return {}
    problem = nesting_error(text, path)
    if problem:
        raise DockerConfigError(problem)
    try:
        data = json.loads(text, object_pairs_hook=_pairs_to_dict,
                          parse_float=JsonFloat, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        raise DockerConfigError(
            "%s has the key %s more than once in one object; Docker would silently use the last one, "
            "so the file is ambiguous: remove the duplicate" % (path, json.dumps(exc.args[0], ensure_ascii=False)))
    except ValueError as exc:
        pos = getattr(exc, "pos", None)
        msg = getattr(exc, "msg", None) or str(exc)
        if pos is not None:
            line, column = _location(text, pos)
            raise DockerConfigError("%s is not valid JSON: %s at line %d column %d" % (path, msg, line, column))
        raise DockerConfigError("%s is not valid JSON: %s" % (path, msg))
    check_shape(data, path)
    return data


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string"


def check_shape(data, path="daemon.json"):
    """Raise ``DockerConfigError`` when the keys we edit have types Docker rejects."""
    if not isinstance(data, dict):
        raise DockerConfigError("%s must contain a JSON object, not %s" % (path, _json_type(data)))
    for key in ("runtimes", "features"):
        if key in data and not isinstance(data[key], dict):
            raise DockerConfigError('%s: "%s" must be an object, not %s' % (path, key, _json_type(data[key])))
    if "default-runtime" in data and not isinstance(data["default-runtime"], str):
        raise DockerConfigError('%s: "default-runtime" must be a string, not %s'
                                % (path, _json_type(data["default-runtime"])))


def copy_json(value):
    """Deep copy of parsed JSON (scalars are immutable and shared)."""
    if isinstance(value, dict):
        return dict((k, copy_json(v)) for k, v in value.items())
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def json_equal(a, b):
    """Semantic JSON equality: key order ignored, ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        for key, value in a.items():
            if key not in b or not json_equal(value, b[key]):
                return False
        return True
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


_INDENT_RE = re.compile(r'^\{[ \t]*\r?\n([ \t]+)"', re.MULTILINE)


def detect_indent(text):
    """The indent unit of an existing file (``"  "``, ``"    "``, ``"\\t"``), else 4 spaces."""
    if not text:
        return DEFAULT_INDENT
    stripped = text.lstrip(u"\ufeff").lstrip()
    match = _INDENT_RE.match(stripped)
    if not match:
        return DEFAULT_INDENT
    unit = match.group(1)
    if unit.strip(" ") == "" or unit.strip("\t") == "":
        return unit
    return DEFAULT_INDENT


def _render_string(value):
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \\udXXX escapes
        return json.dumps(value, ensure_ascii=True)
    return json.dumps(value, ensure_ascii=False)


def _render(value, indent, level, out):
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = indent * (level + 1)
        out.append("{\n")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",\n")
            first = False
            out.append(inner)
            out.append(_render_string(key))
            out.append(": ")
            _render(item, indent, level + 1, out)
        out.append("\n" + indent * level + "}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        inner = indent * (level + 1)
        out.append("[\n")
        first = True
        for item in value:
            if not first:
                out.append(",\n")
            first = False
            out.append(inner)
            _render(item, indent, level + 1, out)
        out.append("\n" + indent * level + "]")
    elif value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, JsonFloat):
        out.append(value.text)
    elif isinstance(value, (int, float)):
        out.append(json.dumps(value))
    else:
        out.append(_render_string(value))


def render_config(data, indent=DEFAULT_INDENT):
    """Render ``data`` as the text of a daemon.json (see the module docstring)."""
    out = []
    _render(data, indent, 0, out)
    out.append("\n")
    return "".join(out)


def validate_runtime_name(name):
    """Return an error message for an unusable runtime name, else ``None``."""
    if not name or not name.strip():
        return "name must not be empty"
    if name in RESERVED_RUNTIME_NAMES:
        return "name %r is reserved by Docker for its built-in runtime" % name
    return None


def ensure_runtime(data, name, runtime_path, runtime_args=None, set_as_default=None, cdi=None, path="daemon.json"):
    """Return a copy of ``data`` with runtime ``name`` registered.

    * ``runtimes.<name>`` is created as ``{"path": ..., "runtimeArgs": [...]}``
      or corrected in place (other keys of the entry are kept);
    * ``runtime_args``: ``None`` keeps existing ``runtimeArgs`` (a new entry
      gets ``[]``), and refuses one dockerd cannot load (anything but an
      array of strings: dockerd fails to start or reload with it, so it must
      not pass as converged); a list is enforced (a missing key equals
      ``[]``);
    * ``set_as_default``: ``True`` sets ``default-runtime``; ``False`` removes
      it only when it names this runtime; ``None`` leaves it alone;
    * ``cdi``: ``True``/``False`` sets ``features.cdi``; ``None`` leaves it.
    """
    check_shape(data, path)
    new = copy_json(data)
    runtimes = new.get("runtimes")
    if runtimes is None:
        runtimes = {}
        new["runtimes"] = runtimes
    entry = runtimes.get(name)
    created = not isinstance(entry, dict)
    if created:
        entry = {}
        runtimes[name] = entry
    elif "runtimeType" in entry:
        raise DockerConfigError(
            '%s: runtimes.%s sets "runtimeType" (a containerd shim); Docker does not allow "path" with it. '
            'Remove that entry or register the NVIDIA runtime under another name' % (path, name))
    if not json_equal(entry.get("path", _MISSING), runtime_path):
        entry["path"] = runtime_path
    if runtime_args is not None:
        wanted = list(runtime_args)
        if not json_equal(entry.get("runtimeArgs", []), wanted):
            entry["runtimeArgs"] = wanted
    elif created:
        entry["runtimeArgs"] = []
    else:
        _check_runtime_args(entry.get("runtimeArgs", _MISSING), name, path)
    if set_as_default is True:
        if new.get("default-runtime") != name:
            new["default-runtime"] = name
    elif set_as_default is False:
        if new.get("default-runtime") == name:
            del new["default-runtime"]
    _apply_cdi(new, cdi)
    return new


def _check_runtime_args(value, name, path):
    if value is _MISSING or (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        return
    if isinstance(value, list):
        problem = "an array with %s in it" % _json_type([item for item in value if not isinstance(item, str)][0])
    else:
        problem = _json_type(value)
    raise DockerConfigError(
        '%s: runtimes.%s.runtimeArgs must be an array of strings, not %s; dockerd does not load this file. '
        'Write the arguments as an array (e.g. ["--debug"]) or pass runtime_args to set them'
        % (path, name, problem))


def remove_runtime(data, name, cdi=None, path="daemon.json"):
    """Return a copy of ``data`` without runtime ``name``.

    ``default-runtime`` is removed only when it names ``name``; ``runtimes``
    is removed when our entry was its last one.  ``cdi`` as in
    :func:`ensure_runtime`.
    """
    check_shape(data, path)
    new = copy_json(data)
    runtimes = new.get("runtimes")
    if isinstance(runtimes, dict) and name in runtimes:
        del runtimes[name]
        if not runtimes:
            del new["runtimes"]
    if new.get("default-runtime") == name:
        del new["default-runtime"]
    _apply_cdi(new, cdi)
    return new


def _apply_cdi(new, cdi):
    if cdi is None:
        return
    features = new.get("features")
    if features is None:
        features = {}
        new["features"] = features
    if not json_equal(features.get("cdi", _MISSING), bool(cdi)):
        features["cdi"] = bool(cdi)


def reload_needed(before, after):
    """How a running dockerd must pick up the change from ``before`` to ``after``.

    Returns ``(action, reasons)`` with action ``"none"``, ``"sighup"`` or
    ``"restart"``.  From moby's daemon/reload*.go: on SIGHUP dockerd reloads
    ``runtimes`` (when the key is present) and ``default-runtime`` (when set
    to a non-empty value).  A removed ``runtimes`` key or a removed
    ``default-runtime`` is ignored by a reload (the old value stays live),
    and ``features.cdi`` only takes effect when dockerd starts (the CDI
    device driver is registered at start-up): those need a restart.
    """
    action = RELOAD_NONE
    reasons = []

    def need(level, reason):
        reasons.append(reason)
        return level if _RELOAD_RANK[level] > _RELOAD_RANK[action] else action

    keys = list(before) + [k for k in after if k not in before]
    for key in keys:
        old = before.get(key, _MISSING)
        new = after.get(key, _MISSING)
        if old is not _MISSING and new is not _MISSING and json_equal(old, new):
            continue
        if key == "runtimes":
            if new is _MISSING:
                action = need(RELOAD_RESTART, "runtimes removed: a reload keeps the previous runtimes")
            else:
                action = need(RELOAD_SIGHUP, "runtimes changed: reloaded on SIGHUP")
        elif key == "default-runtime":
            if new is _MISSING or not new:
                action = need(RELOAD_RESTART, "default-runtime removed: a reload keeps the previous default")
            else:
                action = need(RELOAD_SIGHUP, "default-runtime changed: reloaded on SIGHUP")
        elif key == "features":
            old_f = old if isinstance(old, dict) else {}
            new_f = new if isinstance(new, dict) else {}
            if not json_equal(old_f.get("cdi", _MISSING), new_f.get("cdi", _MISSING)) \
                    or not json_equal(dict((k, v) for k, v in old_f.items() if k != "cdi"),
                                      dict((k, v) for k, v in new_f.items() if k != "cdi")):
                action = need(RELOAD_RESTART, "features changed: CDI is set up only when dockerd starts")
        else:
            action = need(RELOAD_RESTART, "%s changed: not known to be reloadable" % key)
    return action, reasons


BUILTIN_RUNTIMES = frozenset(["", "runc"]) | RESERVED_RUNTIME_NAMES


def sighup_hazard(before, after):
    """Why a SIGHUP must not be sent for this change, or ``None``.

    A reload replaces ``runtimes`` (when the key is present) but keeps the
    live ``default-runtime`` when the key was removed.  If that default is
    no longer among the reloaded runtimes, dockerd is left with a default
    runtime that does not exist: Docker 20.10 crashes on such a reload
    (nil pointer in fillPlatformInfo, seen with Debian 12's docker.io) and
    newer versions fail to create containers.  ``before`` stands for the
    live configuration.
    """
    live_default = after.get("default-runtime") or before.get("default-runtime") or ""
    if live_default in BUILTIN_RUNTIMES:
        return None
    live_runtimes = after["runtimes"] if "runtimes" in after else before.get("runtimes") or {}
    if live_default in live_runtimes:
        return None
    return ("after a SIGHUP dockerd would keep default-runtime %r, which is no longer among its runtimes "
            "(Docker 20.10 crashes on such a reload); restart dockerd instead" % live_default)


def plan(text, state="present", name="nvidia", runtime_path="nvidia-container-runtime", runtime_args=None,
         set_as_default=None, cdi=None, path="daemon.json"):
    """Everything the module needs to know, from the current text of the file.

    ``text`` is ``None`` for a missing file.  Returns a dict with ``before``
    and ``after`` (data), ``changed``, ``after_text`` (``None`` when
    unchanged), ``runtimes`` (the names under ``runtimes`` after the change,
    in file order), ``reload_required``, ``reload_reasons`` and
    ``sighup_hazard`` (see :func:`sighup_hazard`).  Raises
    ``DockerConfigError``.
    """
    problem = validate_runtime_name(name)
    if problem:
        raise DockerConfigError(problem)
    before = parse_config(text, path)
    if state == "present":
        if not runtime_path:
            raise DockerConfigError("runtime_path must not be empty")
        after = ensure_runtime(before, name, runtime_path, runtime_args, set_as_default, cdi, path)
    elif state == "absent":
        after = remove_runtime(before, name, cdi, path)
    else:
        raise DockerConfigError("state must be present or absent, not %r" % (state,))
    changed = not json_equal(before, after)
    after_text = render_config(after, detect_indent(text)) if changed else None
    if changed:
        reload_required, reasons = reload_needed(before, after)
        hazard = sighup_hazard(before, after)
    else:
        reload_required, reasons, hazard = RELOAD_NONE, [], None
    runtimes = after.get("runtimes")
    return {
        "sighup_hazard": hazard,
        "before": before,
        "after": after,
        "runtimes": list(runtimes) if isinstance(runtimes, dict) else [],
        "changed": changed,
        "after_text": after_text,
        "reload_required": reload_required,
        "reload_reasons": reasons,
    }
