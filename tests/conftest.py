# -*- coding: utf-8 -*-
"""Make ``ansible_collections.gpufleet.nvidia`` importable from a plain checkout.

Tests import the collection by its real name.  When the checkout is not
already under ``.../ansible_collections/gpufleet/nvidia`` (ansible-test
places it there), a symlink tree is created under ``.cache/`` and put first
on ``sys.path``.  Works on Python 3.6+.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collection_root():
    parts = REPO_ROOT.split(os.sep)
    if len(parts) >= 3 and parts[-3:-1] == ["ansible_collections", "gpufleet"] and parts[-1] == "nvidia":
        return os.sep.join(parts[:-3])
    base = os.path.join(REPO_ROOT, ".cache", "collections")
    link_dir = os.path.join(base, "ansible_collections", "gpufleet")
    link = os.path.join(link_dir, "nvidia")
    if not os.path.islink(link):
        if not os.path.isdir(link_dir):
            os.makedirs(link_dir)
        try:
            os.symlink(REPO_ROOT, link)
        except OSError:
            if not os.path.islink(link):
                raise
    return base


COLLECTIONS_ROOT = _collection_root()
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)

FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures")
