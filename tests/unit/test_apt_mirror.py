# -*- coding: utf-8 -*-
"""tests/apt_mirror.py: the machine's Debian mirror from its APT configuration."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import apt_mirror  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "apt")


def test_deb822_machine(tmp_path):
    os.makedirs(str(tmp_path / "etc/apt/sources.list.d"))
    shutil.copy(os.path.join(FIXTURES, "debian12-machine.sources"), str(tmp_path / "etc/apt/sources.list.d/debian.sources"))
    assert apt_mirror.debian_mirror(root=str(tmp_path)) == "http://mirror.example.internal/debian"
    assert apt_mirror.debian_mirror("security", root=str(tmp_path)) == "http://mirror.example.internal/debian-security"


def test_one_line_installer_list(tmp_path):
    os.makedirs(str(tmp_path / "etc/apt/sources.list.d"))
    shutil.copy(os.path.join(FIXTURES, "debian12-installer.list"), str(tmp_path / "etc/apt/sources.list"))
    assert apt_mirror.debian_mirror(root=str(tmp_path)) == "http://mirror.example.internal/debian"
    assert apt_mirror.debian_mirror("security", root=str(tmp_path)) == "http://mirror.example.internal/debian-security"


def test_no_sources(tmp_path):
    assert apt_mirror.debian_mirror(root=str(tmp_path)) is None
