# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""apt_sources: components added to the host's own sources, over real files and generated ones."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _apt_sources as apt_sources

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "apt")
NONFREE = ["contrib", "non-free", "non-free-firmware"]


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_deb822_of_a_debian12_machine_gets_the_components_and_keeps_every_other_line():
    text = fixture("debian12-machine.sources")
    new, matched = apt_sources.enable_components_deb822(text, "bookworm", NONFREE)
    assert matched == 2
    assert new.count("Components: main contrib non-free non-free-firmware\n") == 2
    old_lines = [line for line in text.splitlines() if not line.startswith("Components:")]
    new_lines = [line for line in new.splitlines() if not line.startswith("Components:")]
    assert old_lines == new_lines
    # the mirror the host names is kept
    assert "URIs: http://mirror.example.internal/debian\n" in new
    again, matched = apt_sources.enable_components_deb822(new, "bookworm", NONFREE)
    assert again == new and matched == 2


def test_one_line_installer_sources_list():
    text = fixture("debian12-installer.list")
    new, matched = apt_sources.enable_components_one_line(text, "bookworm", NONFREE)
    assert matched == 6
    assert ("deb http://mirror.example.internal/debian/ bookworm main non-free-firmware contrib non-free\n"
            in new)
    assert ("deb-src http://mirror.example.internal/debian-security bookworm-security main non-free-firmware "
            "contrib non-free\n" in new)
    # the disabled cdrom line and the comments are untouched
    assert new.splitlines()[0] == text.splitlines()[0]
    assert [l for l in new.splitlines() if l.startswith("#")] == [l for l in text.splitlines() if l.startswith("#")]
    assert apt_sources.enable_components_one_line(new, "bookworm", NONFREE) == (new, 6)


def test_third_party_sources_are_never_touched():
    text = fixture("third-party.list")
    assert apt_sources.enable_components_one_line(text, "bookworm", NONFREE) == (text, 0)


def test_other_release_disabled_and_mixed_entries_are_not_touched():
    text = ("Types: deb\nURIs: http://m/debian\nSuites: trixie\nComponents: main\n\n"
            "Types: deb\nURIs: http://m/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n"
            "Types: deb\nURIs: http://m/debian\nSuites: bookworm trixie\nComponents: main\n\n"
            "Types: deb\nURIs: http://m/x\nSuites: bookworm\nComponents: stable\n")
    assert apt_sources.enable_components_deb822(text, "bookworm", NONFREE) == (text, 0)


def test_one_line_options_and_trailing_comment():
    text = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=amd64] http://m/debian bookworm main # ours\n"
    new, matched = apt_sources.enable_components_one_line(text, "bookworm", ["contrib"])
    assert matched == 1
    assert new == ("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=amd64] http://m/debian "
                   "bookworm main contrib # ours\n")


def test_crlf_and_missing_final_newline_are_kept():
    text = "Types: deb\r\nURIs: http://m/debian\r\nSuites: bookworm\r\nComponents: main\r\n"
    new = apt_sources.enable_components_deb822(text, "bookworm", ["contrib"])[0]
    assert new == "Types: deb\r\nURIs: http://m/debian\r\nSuites: bookworm\r\nComponents: main contrib\r\n"
    text = "deb http://m/debian bookworm main"
    assert apt_sources.enable_components_one_line(text, "bookworm", ["contrib"])[0] == \
        "deb http://m/debian bookworm main contrib"


def test_enable_components_plans_across_files_and_names_the_problem():
    files = {
        "/etc/apt/sources.list.d/debian.sources": fixture("debian12-machine.sources"),
        "/etc/apt/sources.list.d/docker.list": fixture("third-party.list"),
        "/etc/apt/sources.list": None,
    }
    plan = apt_sources.enable_components(files, "bookworm", NONFREE)
    assert plan["problem"] == ""
    assert list(plan["changes"]) == ["/etc/apt/sources.list.d/debian.sources"]
    assert plan["matched"] == ["/etc/apt/sources.list.d/debian.sources"]

    plan = apt_sources.enable_components({"/etc/apt/sources.list.d/docker.list": fixture("third-party.list")},
                                         "bookworm", NONFREE)
    assert plan["changes"] == {}
    assert "no enabled APT source of bookworm with component main" in plan["problem"]
    assert "/etc/apt/sources.list.d/docker.list" in plan["problem"]


def test_a_broken_file_is_named_and_nothing_is_planned():
    files = {"/etc/apt/sources.list.d/a.sources": "Types: deb\nthis line is not a field\n",
             "/etc/apt/sources.list.d/debian.sources": fixture("debian12-machine.sources")}
    plan = apt_sources.enable_components(files, "bookworm", NONFREE)
    assert plan["changes"] == {}
    assert plan["problem"].startswith("/etc/apt/sources.list.d/a.sources: ")
    assert "nothing was changed" in plan["problem"]


@pytest.mark.parametrize("release", ["", "Bookworm", "bookworm stable", None])
def test_release_must_be_a_code_name(release):
    with pytest.raises(apt_sources.AptSourcesError):
        apt_sources.release_suites(release)


# --- properties over generated deb822 files ---------------------------------

SUITES = ["bookworm", "bookworm-updates", "bookworm-security", "trixie", "bookworm-pgdg"]
COMPONENTS = ["main", "contrib", "non-free", "non-free-firmware", "stable"]

paragraphs = st.fixed_dictionaries({
    "types": st.sampled_from(["deb", "deb-src", "deb deb-src"]),
    "suites": st.lists(st.sampled_from(SUITES), min_size=1, max_size=3, unique=True),
    "components": st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4, unique=True),
    "enabled": st.sampled_from([None, "yes", "no"]),
    "comment": st.booleans(),
})


def render(paragraph):
    lines = ["Types: %s" % paragraph["types"]]
    if paragraph["comment"]:
        lines.append("# a comment inside the paragraph")
    lines += ["URIs: http://mirror.example.internal/debian", "Suites: %s" % " ".join(paragraph["suites"]),
              "Components: %s" % " ".join(paragraph["components"])]
    if paragraph["enabled"]:
        lines.append("Enabled: %s" % paragraph["enabled"])
    return "\n".join(lines) + "\n"


def should_match(paragraph):
    return (paragraph["enabled"] != "no" and "main" in paragraph["components"]
            and all(s in ("bookworm", "bookworm-updates", "bookworm-security") for s in paragraph["suites"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(paragraphs, min_size=1, max_size=5), st.lists(st.sampled_from(COMPONENTS), max_size=3, unique=True))
def test_property_deb822_edit(paras, wanted):
    text = "\n".join(render(p) for p in paras)
    new, matched = apt_sources.enable_components_deb822(text, "bookworm", wanted)
    assert matched == sum(1 for p in paras if should_match(p))
    # idempotent
    assert apt_sources.enable_components_deb822(new, "bookworm", wanted) == (new, matched)
    old_blocks, new_blocks = text.split("\n\n"), new.split("\n\n")
    assert len(old_blocks) == len(new_blocks)
    for para, old, block in zip(paras, old_blocks, new_blocks):
        if not should_match(para):
            assert block == old
            continue
        comps = [l for l in block.splitlines() if l.startswith("Components:")][0].split()[1:]
        # the old components first, in order, then the missing wanted ones
        assert comps[:len(para["components"])] == para["components"]
        assert set(comps) == set(para["components"]) | set(wanted)
        assert len(comps) == len(set(comps))
        assert [l for l in block.splitlines() if not l.startswith("Components:")] == \
            [l for l in old.splitlines() if not l.startswith("Components:")]
