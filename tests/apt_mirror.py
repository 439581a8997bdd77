# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Debian mirror of this machine, read from its own APT configuration.

Tests that fetch from Debian's archive use the mirror the machine already
uses (often an internal one), never a public host written into the code:
the first enabled ``deb`` entry of ``/etc/apt/sources.list.d/*.sources``
(deb822) or ``/etc/apt/sources.list`` (one-line) whose suites are not
``-security`` ones (``kind="security"``: the first that are).
``tests/molecule/images.sh`` reads it the same way (``apt_uri``).
"""
import glob
import os
import re


def _deb822(text):
    for block in re.split(r"\n\s*\n", text):
        fields = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line or line[:1] in " \t":
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("uris") and fields.get("suites") \
                and fields.get("enabled", ["yes"])[0].lower() != "no":
            yield fields["uris"][0], fields["suites"]


def _one_line(text):
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        line = re.sub(r"^deb\s+\[[^\]]*\]", "deb", line)
        words = line.split()
        if len(words) >= 3:
            yield words[1], [words[2]]


def entries(root="/"):
    """(uri, suites) of the enabled ``deb`` entries, deb822 files first."""
    found = []
    for path in sorted(glob.glob(os.path.join(root, "etc/apt/sources.list.d/*.sources"))):
        with open(path) as handle:
            found.extend(_deb822(handle.read()))
    for path in [os.path.join(root, "etc/apt/sources.list")] + sorted(
            glob.glob(os.path.join(root, "etc/apt/sources.list.d/*.list"))):
        if os.path.isfile(path):
            with open(path) as handle:
                found.extend(_one_line(handle.read()))
    return found


def debian_mirror(kind="main", root="/"):
    """The mirror URI (no trailing slash) of ``kind`` main or security; None when the machine has none."""
    for uri, suites in entries(root):
        security = any(suite.endswith("-security") or "/updates" in suite for suite in suites)
        if security == (kind == "security"):
            return uri.rstrip("/")
    return None
