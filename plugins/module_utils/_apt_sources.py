# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils file is private to the gpufleet.nvidia collection.  Its
# interface may change at any time, without notice; do not use it from
# outside the collection.
"""Enable archive components on the APT sources a host already has.

A host's sources already name its mirror (often an internal one). The driver
needs Debian's ``contrib non-free non-free-firmware`` components; rather than
adding a source that names a mirror, these functions add the missing
components to the entries of the host's own release that carry ``main``:

- deb822 files (``*.sources``): the ``Components:`` field of each matching
  paragraph; every other byte (comments, field order, other paragraphs) is
  kept;
- one-line files (``sources.list``, ``*.list``): the components of each
  matching ``deb``/``deb-src`` line, before a trailing comment.

An entry matches when it is enabled, all its suites belong to ``release``
(``bookworm``, ``bookworm-updates``, ``bookworm-security``,
``bookworm-backports``, ``bookworm-proposed-updates``) and its components
include ``main``: third-party sources (other suites, no ``main``) and other
releases are never touched.

Pure functions over strings; Python 3.6 compatible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SUITE_SUFFIXES = ("", "-updates", "-security", "-backports", "-proposed-updates")

_FIELD = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):(.*)$")
_ONE_LINE = re.compile(r"^(\s*)(deb|deb-src)(\s+)(.*)$")


class AptSourcesError(ValueError):
    """A sources file this module cannot read safely."""


def release_suites(release):
    """The suite names of ``release`` (``bookworm`` -> bookworm, bookworm-updates ...)."""
    release = str(release).strip()
    if not release or not re.match(r"^[a-z][a-z0-9]*$", release):
        raise AptSourcesError("release %r is not a Debian/Ubuntu code name such as bookworm" % (release,))
    return tuple(release + suffix for suffix in SUITE_SUFFIXES)


def _merge(existing, wanted):
    """``existing`` components plus the ``wanted`` ones it lacks, in order."""
    return list(existing) + [comp for comp in wanted if comp not in existing]


def _paragraphs(lines):
    """Split deb822 lines (with line ends) into runs: (is_paragraph, [lines])."""
    runs = []
    current = []
    blank = None
    for line in lines:
        is_blank = line.strip() == ""
        if blank is None or is_blank != blank:
            if current:
                runs.append((not blank, current))
            current = []
            blank = is_blank
        current.append(line)
    if current:
        runs.append((not blank, current))
    return runs


def _fields(paragraph):
    """{lower-case field name: (index of its first line, index after its last line, value)}."""
    fields = {}
    index = 0
    while index < len(paragraph):
        line = paragraph[index]
        if line.lstrip().startswith("#"):
            index += 1
            continue
        match = _FIELD.match(line.rstrip("\r\n"))
        if not match:
            if line[:1] in (" ", "\t"):
                raise AptSourcesError("continuation line without a field: %r" % line.rstrip("\r\n"))
            raise AptSourcesError("not a deb822 field: %r" % line.rstrip("\r\n"))
        start = index
        value = [match.group(2).strip()]
        index += 1
        while index < len(paragraph) and paragraph[index][:1] in (" ", "\t") and paragraph[index].strip():
            if not paragraph[index].lstrip().startswith("#"):
                value.append(paragraph[index].strip())
            index += 1
        fields[match.group(1).lower()] = (start, index, " ".join(v for v in value if v))
    return fields


def _line_end(line):
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith("\n"):
        return "\n"
    return ""


def enable_components_deb822(text, release, components):
    """Return ``(new_text, matched)`` for a deb822 ``.sources`` file.

    ``matched`` counts the enabled paragraphs of ``release`` with ``main``
    (whether or not they needed a change).
    """
    suites = release_suites(release)
    lines = text.splitlines(True)
    out = []
    matched = 0
    for is_paragraph, run in _paragraphs(lines):
        if not is_paragraph:
            out.extend(run)
            continue
        fields = _fields(run)
        types = fields.get("types", (0, 0, ""))[2].split()
        enabled = fields.get("enabled", (0, 0, "yes"))[2].strip().lower() not in ("no", "false", "0")
        entry_suites = fields.get("suites", (0, 0, ""))[2].split()
        comps_field = fields.get("components")
        comps = comps_field[2].split() if comps_field else []
        if (not enabled or not ({"deb", "deb-src"} & set(types)) or not entry_suites
                or any(suite not in suites for suite in entry_suites) or "main" not in comps):
            out.extend(run)
            continue
        matched += 1
        merged = _merge(comps, components)
        if merged == comps:
            out.extend(run)
            continue
        start, end, _value = comps_field
        first = run[start]
        name = first.split(":", 1)[0]
        new_line = "%s: %s%s" % (name, " ".join(merged), _line_end(run[end - 1]) or "\n")
        out.extend(run[:start] + [new_line] + run[end:])
    return "".join(out), matched


def enable_components_one_line(text, release, components):
    """Return ``(new_text, matched)`` for a one-line ``sources.list`` file."""
    suites = release_suites(release)
    out = []
    matched = 0
    for line in text.splitlines(True):
        end = _line_end(line)
        body = line[:len(line) - len(end)] if end else line
        match = _ONE_LINE.match(body)
        if not match:
            out.append(line)
            continue
        rest = match.group(4)
        comment = ""
        if "#" in rest:
            at = rest.index("#")
            rest, comment = rest[:at], rest[at:]
        options = ""
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise AptSourcesError("unclosed [options] in %r" % body)
            options, rest = rest[:close + 1], rest[close + 1:]
        words = rest.split()
        if len(words) < 3 or words[1] not in suites or "main" not in words[2:]:
            out.append(line)
            continue
        matched += 1
        comps = words[2:]
        merged = _merge(comps, components)
        if merged == comps:
            out.append(line)
            continue
        stripped = rest.rstrip()
        trailing = rest[len(stripped):] or (" " if comment else "")
        new_rest = stripped + " " + " ".join(merged[len(comps):]) + trailing
        out.append(match.group(1) + match.group(2) + match.group(3) + options + new_rest + comment + end)
    return "".join(out), matched


def enable_components(files, release, components):
    """Plan the edit of a host's sources files.

    ``files``: {path: text} of ``/etc/apt/sources.list`` and the
    ``/etc/apt/sources.list.d/*.list`` / ``*.sources`` files.  Returns
    ``{"changes": {path: new_text}, "matched": [paths with an entry of the
    release], "problem": ""}``; ``problem`` names the file and the reason
    when a file cannot be read, or when no entry of ``release`` with
    ``main`` exists to extend.
    """
    wanted = [str(comp).strip() for comp in components if str(comp).strip()]
    changes = {}
    matched = []
    for path in sorted(files):
        text = files[path]
        if text is None:
            continue
        try:
            if path.endswith(".sources"):
                new_text, count = enable_components_deb822(text, release, wanted)
            elif path.endswith(".list"):
                new_text, count = enable_components_one_line(text, release, wanted)
            else:
                continue
        except AptSourcesError as exc:
            return {"changes": {}, "matched": [], "problem": "%s: %s; nothing was changed" % (path, exc)}
        if count:
            matched.append(path)
        if new_text != text:
            changes[path] = new_text
    problem = ""
    if not matched:
        problem = ("no enabled APT source of %s with component main in %s: add the entry of your "
                   "mirror for %s (main), then run again; nothing was changed"
                   % (release, ", ".join(sorted(files)) or "/etc/apt", release))
    return {"changes": changes if not problem else {}, "matched": matched, "problem": problem}
