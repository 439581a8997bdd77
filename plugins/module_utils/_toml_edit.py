# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""A small TOML 1.0 reader that remembers where everything is, for surgical edits.

Target hosts have neither ``tomlkit`` nor (before Python 3.11) ``tomllib``, so
the modules that edit TOML files carry this pure-Python reader.  ``parse``
returns a :class:`Document` holding

* ``data``: the decoded document as plain dicts/lists/scalars, equal to what
  ``tomllib.loads`` returns for the same text (the test-suite checks this on
  a corpus and on generated documents);
* ``tables``: every table in file order (the root table first) with the
  offsets of its header line and of the end of its last key/value line;
* ``entries``: every key/value line with the offsets of the line and of the
  value.

Edits are expressed as ``(start, end, replacement)`` spans over the original
text (:func:`apply_edits`), so every byte outside the edited spans, comments
and formatting included, is kept.  The table-definition rules of TOML 1.0
(no table or key defined twice, no header on a dotted-key table, inline
tables and arrays are immutable) are enforced, so an edit that would make a
document invalid is caught by re-parsing the result.

Nesting deeper than :data:`MAX_DEPTH` levels (tables, dotted keys, arrays,
inline tables) is refused with :class:`TomlNestingError` before the reader
recurses, so a hostile or broken file cannot exhaust the stack.  ``nan`` and
``inf`` are ordinary TOML floats: :func:`values_equal` compares documents
with ``nan`` equal to ``nan``.

Runs on Python 3.6+.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import math
import re


class TomlError(ValueError):
    """Invalid TOML; ``line`` and ``col`` are 1-based."""

    def __init__(self, msg, line=None, col=None):
        self.msg = msg
        self.line = line
        self.col = col
        where = " (line %d, column %d)" % (line, col) if line is not None else ""
        ValueError.__init__(self, msg + where)


class TomlNestingError(TomlError):
    """The document nests tables and arrays deeper than :data:`MAX_DEPTH` levels."""


# How deep a key path (tables, dotted keys, array elements) may go.  Real
# containerd and CRI-O files stay under 10 levels; the limit keeps every
# recursive walk of a parsed document far from Python's recursion limit.
MAX_DEPTH = 64


class Table(object):
    """A table header (or the root table) and the span of its body."""

    def __init__(self, path, is_array, header_start, header_end, indent):
        self.path = path                  # tuple of keys
        self.is_array = is_array          # [[...]] element
        self.header_start = header_start  # offset of the header line start
        self.header_end = header_end      # offset just after the header line
        self.content_end = header_end     # offset just after its last key/value line
        self.indent = indent              # leading whitespace of the header line
        self.entries = []

    def __repr__(self):
        return "Table(%r, array=%r, %d-%d)" % (self.path, self.is_array, self.header_start, self.content_end)


class Entry(object):
    """One ``key = value`` line."""

    def __init__(self, table, key, line_start, value_start, value_end, line_end, indent):
        self.table = table                # owning Table
        self.key = key                    # tuple, relative to the table
        self.path = table.path + key      # absolute tuple
        self.line_start = line_start
        self.value_start = value_start
        self.value_end = value_end
        self.line_end = line_end          # just after the newline (or EOF)
        self.indent = indent

    def __repr__(self):
        return "Entry(%r)" % (self.path,)


class Document(object):
    def __init__(self, text, data, tables, entries):
        self.text = text
        self.data = data
        self.tables = tables
        self.entries = entries

    @property
    def root(self):
        return self.tables[0]

    def find_entry(self, path):
        path = tuple(path)
        for entry in self.entries:
            if entry.path == path and not _in_array(entry.table):
                return entry
        return None

    def header_tables(self, path):
        """Header tables (not arrays) whose path is ``path``."""
        path = tuple(path)
        return [t for t in self.tables[1:] if t.path == path and not t.is_array]

    def tables_under(self, prefix):
        """Header tables whose path starts with ``prefix`` (inclusive)."""
        prefix = tuple(prefix)
        return [t for t in self.tables[1:] if t.path[:len(prefix)] == prefix]

    def entries_under(self, prefix):
        prefix = tuple(prefix)
        return [e for e in self.entries if e.path[:len(prefix)] == prefix]


def _in_array(table):
    return table.is_array


def get_path(data, path, default=None):
    """Return ``data[path[0]][path[1]]...`` or ``default`` when missing."""
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def values_equal(a, b):
    """Equality of decoded TOML values, as the documents mean them.

    Types are compared exactly (``true`` is not ``1``, ``1`` is not ``1.0``)
    and ``nan`` equals ``nan`` (whatever its sign), so a document holding
    ``nan`` equals itself.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for key, value in a.items():
            if key not in b or not values_equal(value, b[key]):
                return False
        return True
    if isinstance(a, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def array_items(text, start):
    """Spans of the elements of the array whose ``[`` is at ``text[start]``.

    Returns ``(items, close)``: ``items`` is a list of ``(value_start,
    value_end, comma)`` where ``comma`` is the offset of the comma after the
    element or ``None`` (last element without a trailing comma); ``close`` is
    the offset of the closing ``]``.  Raises :class:`TomlError`.
    """
    parser = _Parser(text)
    parser._aot_paths = set()
    parser.pos = start
    return parser.array_spans()


def apply_edits(text, edits):
    """Apply non-overlapping ``(start, end, replacement)`` edits to ``text``."""
    out = []
    pos = 0
    for start, end, repl in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            raise ValueError("overlapping edits at offset %d" % start)
        out.append(text[pos:start])
        out.append(repl)
        pos = end
    out.append(text[pos:])
    return "".join(out)


# --------------------------------------------------------------------------
# Writing values

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _can_be_literal(s):
    return "'" not in s and not any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in s)


def dumps_string(s, literal=False):
    if literal and _can_be_literal(s):
        return "'%s'" % s
    out = []
    for c in s:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return '"%s"' % "".join(out)


def dumps_key(key, literal=False):
    if _BARE_KEY.match(key):
        return key
    return dumps_string(key, literal)


def dumps_path(path, literal=False):
    return ".".join(dumps_key(k, literal) for k in path)


def dumps_value(value, literal=False):
    """Render a value as an inline TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-nan" if math.copysign(1.0, value) < 0 else "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return dumps_string(value, literal)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps_value(v, literal) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join("%s = %s" % (dumps_key(k, literal), dumps_value(v, literal))
                                for k, v in value.items()) + " }"
    raise TypeError("cannot write %r as TOML" % (value,))


# --------------------------------------------------------------------------
# Reading

_WS = " \t"
_BARE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ILLEGAL_CTRL = frozenset(chr(i) for i in range(0x20) if chr(i) != "\t") | frozenset("\x7f")

_DEC_INT = r"[+-]?(?:0|[1-9](?:_?[0-9])*)"
_INT_RE = re.compile(
    r"0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*|" + _DEC_INT)
_FLOAT_RE = re.compile(
    _DEC_INT + r"(?:\.[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?")
_SPECIAL_FLOAT_RE = re.compile(r"[+-]?(?:inf|nan)")
_DATETIME_RE = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(?:[Tt ]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(?:\.([0-9]+))?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):([0-5][0-9]))?)?")
_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(?:\.([0-9]+))?")


class _Flags(object):
    """Which tables were declared how (TOML's rules on defining tables)."""

    FROZEN = 0      # inline table / array: immutable
    EXPLICIT = 1    # declared by a header or used as a dotted-key namespace

    def __init__(self):
        self._tree = {}
        self._pending = []

    def _node(self, key, create):
        cont = self._tree
        node = None
        for k in key:
            if k not in cont:
                if not create:
                    return None
                cont[k] = {"flags": set(), "rflags": set(), "nested": {}}
            node = cont[k]
            cont = node["nested"]
        return node

    def add_pending(self, key, flag):
        self._pending.append((key, flag))

    def finalize_pending(self):
        for key, flag in self._pending:
            self.set(key, flag, recursive=False)
        self._pending = []

    def unset_all(self, key):
        cont = self._tree
        for k in key[:-1]:
            if k not in cont:
                return
            cont = cont[k]["nested"]
        cont.pop(key[-1], None)

    def set(self, key, flag, recursive):
        node = self._node(key, create=True)
        (node["rflags"] if recursive else node["flags"]).add(flag)

    def is_(self, key, flag):
        if not key:
            return False
        cont = self._tree
        for k in key[:-1]:
            if k not in cont:
                return False
            node = cont[k]
            if flag in node["rflags"]:
                return True
            cont = node["nested"]
        last = key[-1]
        if last in cont:
            node = cont[last]
            return flag in node["flags"] or flag in node["rflags"]
        return False


class _Parser(object):
    def __init__(self, text):
        if not isinstance(text, str):
            raise TypeError("TOML text must be str")
        self.s = text
        self.n = len(text)
        self.pos = 0
        self.data = {}
        self.flags = _Flags()
        self.tables = []
        self.entries = []
        self.header = ()
        self.table = None
        self.depth = 0      # length of the key path of the value being read

    # --- errors and positions -------------------------------------------
    def err(self, msg, pos=None):
        pos = self.pos if pos is None else pos
        line = self.s.count("\n", 0, pos) + 1
        col = pos - (self.s.rfind("\n", 0, pos) + 1) + 1
        return TomlError(msg, line, col)

    def check_depth(self, depth, pos=None):
        if depth > MAX_DEPTH:
            pos = self.pos if pos is None else pos
            line = self.s.count("\n", 0, pos) + 1
            col = pos - (self.s.rfind("\n", 0, pos) + 1) + 1
            raise TomlNestingError("tables and arrays are nested deeper than %d levels" % MAX_DEPTH, line, col)

    def peek(self, k=1):
        return self.s[self.pos:self.pos + k]

    def skip_ws(self):
        while self.pos < self.n and self.s[self.pos] in _WS:
            self.pos += 1

    def skip_comment(self):
        if self.peek() == "#":
            end = self.s.find("\n", self.pos)
            end = self.n if end < 0 else end
            for i in range(self.pos + 1, end):
                c = self.s[i]
                if c in _ILLEGAL_CTRL and not (c == "\r" and i + 1 == end and end < self.n):
                    raise self.err("control character %r in a comment" % c, i)
            self.pos = end

    def expect_eol(self, what):
        self.skip_ws()
        self.skip_comment()
        if self.pos >= self.n:
            return
        if self.s.startswith("\r\n", self.pos):
            self.pos += 2
        elif self.s[self.pos] == "\n":
            self.pos += 1
        else:
            raise self.err("expected a newline or end of file after %s, found %r" % (what, self.s[self.pos]))

    def line_start(self, pos):
        return self.s.rfind("\n", 0, pos) + 1

    # --- document ----------------------------------------------------------
    def parse(self):
        root = Table((), False, 0, 0, "")
        self.tables.append(root)
        self.table = root
        while True:
            self.skip_ws()
            if self.pos >= self.n:
                break
            c = self.s[self.pos]
            if c == "\n" or self.s.startswith("\r\n", self.pos):
                self.pos += 1 if c == "\n" else 2
                continue
            if c == "#":
                self.skip_comment()
                self.expect_eol("a comment")
                continue
            if c == "[":
                self.parse_header()
                continue
            self.parse_keyval_line()
        return Document(self.s, self.data, self.tables, self.entries)

    def parse_header(self):
        start = self.line_start(self.pos)
        indent = self.s[start:self.pos]
        self.flags.finalize_pending()
        is_array = self.s.startswith("[[", self.pos)
        self.pos += 2 if is_array else 1
        self.skip_ws()
        key = self.parse_key()
        self.check_depth(len(key), start)
        self.skip_ws()
        close = "]]" if is_array else "]"
        if not self.s.startswith(close, self.pos):
            raise self.err("expected %r to close the table header" % close)
        self.pos += len(close)
        if is_array:
            if self.flags.is_(key, _Flags.FROZEN):
                raise self.err("cannot append to the immutable array %s" % dumps_path(key), start)
            self.flags.unset_all(key)
            self.flags.set(key, _Flags.EXPLICIT, recursive=False)
            parent = self.nest(key[:-1], start)
            last = key[-1]
            if last in parent:
                lst = parent[last]
                if not isinstance(lst, list) or not self._is_aot(key):
                    raise self.err("cannot declare %s as an array of tables: it is already defined"
                                   % dumps_path(key), start)
                lst.append({})
            else:
                parent[last] = [{}]
                self._aot_paths.add(key)
        else:
            if self.flags.is_(key, _Flags.EXPLICIT) or self.flags.is_(key, _Flags.FROZEN):
                raise self.err("table %s is defined more than once" % dumps_path(key), start)
            self.flags.set(key, _Flags.EXPLICIT, recursive=False)
            self.nest(key, start)
        self.expect_eol("a table header")
        table = Table(key, is_array, start, self.pos, indent)
        self.tables.append(table)
        self.table = table
        self.header = key

    _aot_paths = None

    def _is_aot(self, key):
        return key in self._aot_paths

    def nest(self, key, errpos):
        cont = self.data
        for i, k in enumerate(key):
            if k not in cont:
                cont[k] = {}
            cont = cont[k]
            if isinstance(cont, list):
                if not cont or not isinstance(cont[-1], dict) or not self._is_aot(key[:i + 1]):
                    raise self.err("%s is not a table" % dumps_path(key[:i + 1]), errpos)
                cont = cont[-1]
            if not isinstance(cont, dict):
                raise self.err("%s is already a value, not a table" % dumps_path(key[:i + 1]), errpos)
        return cont

    def parse_keyval_line(self):
        start = self.line_start(self.pos)
        indent = self.s[start:self.pos]
        self.depth = len(self.header)
        key, vstart, value = self.parse_keyval()
        vend = self.pos
        header = self.header
        abs_parent = header + key[:-1]
        for i in range(1, len(key)):
            cont_key = header + key[:i]
            if self.flags.is_(cont_key, _Flags.EXPLICIT):
                raise self.err("cannot add keys to table %s with a dotted key: it is defined elsewhere"
                               % dumps_path(cont_key), start)
            self.flags.add_pending(cont_key, _Flags.EXPLICIT)
        if self.flags.is_(abs_parent, _Flags.FROZEN):
            raise self.err("cannot change the immutable value %s" % dumps_path(abs_parent), start)
        nest = self.nest(abs_parent, start)
        if key[-1] in nest:
            raise self.err("key %s is defined more than once" % dumps_path(header + key), start)
        if isinstance(value, (dict, list)):
            self.flags.set(header + key, _Flags.FROZEN, recursive=True)
        nest[key[-1]] = value
        self.expect_eol("a value")
        entry = Entry(self.table, key, start, vstart, vend, self.pos, indent)
        self.entries.append(entry)
        self.table.entries.append(entry)
        self.table.content_end = self.pos

    def parse_keyval(self):
        start = self.pos
        key = self.parse_key()
        outer = self.depth
        self.depth = outer + len(key)
        self.check_depth(self.depth, start)
        self.skip_ws()
        if self.peek() != "=":
            raise self.err("expected '=' after the key %s" % dumps_path(key))
        self.pos += 1
        self.skip_ws()
        vstart = self.pos
        value = self.parse_value()
        self.depth = outer
        return key, vstart, value

    # --- keys ----------------------------------------------------------------
    def parse_key(self):
        parts = [self.parse_simple_key()]
        while True:
            save = self.pos
            self.skip_ws()
            if self.peek() == ".":
                self.pos += 1
                self.skip_ws()
                parts.append(self.parse_simple_key())
            else:
                self.pos = save
                return tuple(parts)

    def parse_simple_key(self):
        c = self.peek()
        if c == '"':
            if self.s.startswith('"""', self.pos):
                raise self.err("multi-line strings cannot be keys")
            return self.parse_basic_string()
        if c == "'":
            if self.s.startswith("'''", self.pos):
                raise self.err("multi-line strings cannot be keys")
            return self.parse_literal_string()
        start = self.pos
        while self.pos < self.n and self.s[self.pos] in _BARE_CHARS:
            self.pos += 1
        if self.pos == start:
            raise self.err("expected a key, found %r" % (c or "end of file"))
        return self.s[start:self.pos]

    # --- values -------------------------------------------------------------
    def parse_value(self):
        if self.pos >= self.n:
            raise self.err("expected a value, found end of file")
        c = self.s[self.pos]
        if c == '"':
            if self.s.startswith('"""', self.pos):
                return self.parse_ml_basic_string()
            return self.parse_basic_string()
        if c == "'":
            if self.s.startswith("'''", self.pos):
                return self.parse_ml_literal_string()
            return self.parse_literal_string()
        if c == "[":
            return self.parse_array()
        if c == "{":
            return self.parse_inline_table()
        if self.s.startswith("true", self.pos):
            self.pos += 4
            return True
        if self.s.startswith("false", self.pos):
            self.pos += 5
            return False
        m = _DATETIME_RE.match(self.s, self.pos)
        if m:
            return self.make_datetime(m)
        m = _TIME_RE.match(self.s, self.pos)
        if m:
            self.pos = m.end()
            return datetime.time(int(m.group(1)), int(m.group(2)), int(m.group(3)), _micro(m.group(4)))
        m = _SPECIAL_FLOAT_RE.match(self.s, self.pos)
        if m:
            self.pos = m.end()
            return float(m.group(0))
        m_float = _FLOAT_RE.match(self.s, self.pos)
        m_int = _INT_RE.match(self.s, self.pos)
        if m_int and (not m_float or m_int.end() >= m_float.end()):
            self.pos = m_int.end()
            txt = m_int.group(0).replace("_", "")
            if txt[:2] in ("0x", "0o", "0b"):
                return int(txt[2:], {"0x": 16, "0o": 8, "0b": 2}[txt[:2]])
            return int(txt)
        if m_float and m_float.end() > self.pos:
            self.pos = m_float.end()
            return float(m_float.group(0).replace("_", ""))
        raise self.err("invalid value starting with %r" % c)

    def make_datetime(self, m):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        try:
            date = datetime.date(year, month, day)
        except ValueError as exc:
            raise self.err("invalid date: %s" % exc)
        self.pos = m.end()
        if m.group(4) is None:
            return date
        hour, minute, sec = int(m.group(4)), int(m.group(5)), int(m.group(6))
        tz = None
        if m.group(8):
            if m.group(8) in "Zz":
                tz = _UTC
            else:
                sign = -1 if m.group(8)[0] == "-" else 1
                tz = datetime.timezone(sign * datetime.timedelta(hours=int(m.group(9)), minutes=int(m.group(10))))
        try:
            return datetime.datetime(year, month, day, hour, minute, sec, _micro(m.group(7)), tzinfo=tz)
        except ValueError as exc:
            raise self.err("invalid date-time: %s" % exc)

    def parse_array(self):
        out = []
        for _start in self._array_elements():
            out.append(self.parse_value())
        return out

    def _array_elements(self):
        """Walk an array (``self.pos`` at its ``[``): yield at each element.

        ``self.pos`` is at the element's first character; the caller reads
        the element (leaving ``self.pos`` after it) before the next step.
        """
        self.check_depth(self.depth + 1)
        self.depth += 1
        self.pos += 1
        while True:
            self.skip_array_ws()
            if self.peek() == "]":
                self.pos += 1
                self.depth -= 1
                return
            yield self.pos
            self.skip_array_ws()
            c = self.peek()
            if c == ",":
                self.pos += 1
                continue
            if c == "]":
                self.pos += 1
                self.depth -= 1
                return
            raise self.err("expected ',' or ']' in an array, found %r" % (c or "end of file"))

    def array_spans(self):
        """``(items, close)`` of the array at ``self.pos`` (see :func:`array_items`)."""
        if self.peek() != "[":
            raise self.err("expected an array")
        items = []
        for vstart in self._array_elements():
            self.parse_value()
            vend = self.pos
            self.skip_array_ws()
            comma = self.pos if self.peek() == "," else None
            self.pos = vend
            items.append((vstart, vend, comma))
        return items, self.pos - 1

    def skip_array_ws(self):
        while self.pos < self.n:
            c = self.s[self.pos]
            if c in _WS or c == "\n":
                self.pos += 1
            elif self.s.startswith("\r\n", self.pos):
                self.pos += 2
            elif c == "#":
                self.skip_comment()
            else:
                return

    def parse_inline_table(self):
        self.pos += 1
        out = {}
        frozen = set()
        defined_by_dots = set()
        self.skip_ws()
        if self.peek() == "}":
            self.pos += 1
            return out
        while True:
            self.skip_ws()
            key, _vstart, value = self.parse_keyval()
            cont = out
            for i, k in enumerate(key[:-1]):
                sub = key[:i + 1]
                if sub in frozen:
                    raise self.err("cannot change the immutable value %s" % dumps_path(sub))
                if k not in cont:
                    cont[k] = {}
                    defined_by_dots.add(sub)
                cont = cont[k]
                if not isinstance(cont, dict):
                    raise self.err("%s is already a value, not a table" % dumps_path(sub))
            if key[-1] in cont:
                raise self.err("key %s is defined more than once in an inline table" % dumps_path(key))
            if isinstance(value, (dict, list)):
                frozen.add(key)
            cont[key[-1]] = value
            self.skip_ws()
            c = self.peek()
            if c == ",":
                self.pos += 1
                continue
            if c == "}":
                self.pos += 1
                return out
            raise self.err("expected ',' or '}' in an inline table, found %r" % (c or "end of file"))

    def check_char(self, c, pos, multiline):
        if c in _ILLEGAL_CTRL and not (multiline and c == "\n"):
            raise self.err("control character %r in a string" % c, pos)

    def parse_literal_string(self):
        self.pos += 1
        end = self.s.find("'", self.pos)
        nl = self.s.find("\n", self.pos)
        if end < 0 or (0 <= nl < end):
            raise self.err("unterminated literal string")
        for i in range(self.pos, end):
            self.check_char(self.s[i], i, False)
        val = self.s[self.pos:end]
        self.pos = end + 1
        return val

    def parse_ml_literal_string(self):
        self.pos += 3
        if self.s.startswith("\r\n", self.pos):
            self.pos += 2
        elif self.peek() == "\n":
            self.pos += 1
        end = self.s.find("'''", self.pos)
        if end < 0:
            raise self.err("unterminated multi-line literal string")
        # Up to two quotes may precede the closing delimiter.
        extra = 0
        while extra < 2 and self.s.startswith("'", end + 3 + extra):
            extra += 1
        end += extra
        val = self.s[self.pos:end]
        for i, c in enumerate(val):
            if c == "\r" and val[i + 1:i + 2] == "\n":
                continue
            self.check_char(c, self.pos + i, True)
        self.pos = end + 3
        return val.replace("\r\n", "\n")

    def parse_basic_string(self):
        self.pos += 1
        out = []
        while True:
            if self.pos >= self.n:
                raise self.err("unterminated string")
            c = self.s[self.pos]
            if c == '"':
                self.pos += 1
                return "".join(out)
            if c == "\\":
                out.append(self.parse_escape(False))
                continue
            if c == "\n":
                raise self.err("unterminated string (newline inside a basic string)")
            self.check_char(c, self.pos, False)
            out.append(c)
            self.pos += 1

    def parse_ml_basic_string(self):
        self.pos += 3
        if self.s.startswith("\r\n", self.pos):
            self.pos += 2
        elif self.peek() == "\n":
            self.pos += 1
        out = []
        while True:
            if self.pos >= self.n:
                raise self.err("unterminated multi-line string")
            if self.s.startswith('"""', self.pos):
                extra = 0
                while extra < 2 and self.s.startswith('"', self.pos + 3 + extra):
                    extra += 1
                out.append('"' * extra)
                self.pos += 3 + extra
                return "".join(out)
            c = self.s[self.pos]
            if c == "\\":
                out.append(self.parse_escape(True))
                continue
            if c == "\r" and self.s.startswith("\r\n", self.pos):
                out.append("\n")
                self.pos += 2
                continue
            self.check_char(c, self.pos, True)
            out.append(c)
            self.pos += 1

    def parse_escape(self, multiline):
        start = self.pos
        self.pos += 1
        c = self.peek()
        simple = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
        if c in simple and c:
            self.pos += 1
            return simple[c]
        if c in ("u", "U"):
            width = 4 if c == "u" else 8
            digits = self.s[self.pos + 1:self.pos + 1 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise self.err("invalid unicode escape", start)
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise self.err("escape is not a unicode scalar value", start)
            self.pos += 1 + width
            return chr(code)
        if multiline:
            # line-ending backslash: skip whitespace and newlines
            i = self.pos
            while i < self.n and self.s[i] in _WS:
                i += 1
            if self.s.startswith("\n", i) or self.s.startswith("\r\n", i):
                while i < self.n and (self.s[i] in _WS or self.s[i] == "\n" or self.s.startswith("\r\n", i)):
                    i += 2 if self.s.startswith("\r\n", i) else 1
                self.pos = i
                return ""
        raise self.err("invalid escape sequence", start)


_UTC = datetime.timezone.utc


def _micro(frac):
    if not frac:
        return 0
    return int((frac + "000000")[:6])


def parse(text):
    """Parse TOML text into a :class:`Document`; raise :class:`TomlError`."""
    parser = _Parser(text)
    parser._aot_paths = set()
    return parser.parse()


def loads(text):
    """Parse TOML text into plain Python values (like ``tomllib.loads``)."""
    return parse(text).data
