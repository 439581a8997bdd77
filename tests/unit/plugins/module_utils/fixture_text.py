# -*- coding: utf-8 -*-
"""Read the framed real captures under tests/fixtures (``$ command`` first line, ``[rc=N]`` last)."""
import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures")


def framed(*parts):
    """(raw output, rc) of a framed capture; the file itself is kept verbatim."""
    with open(os.path.join(FIXTURES, *parts)) as handle:
        lines = handle.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert lines[0].startswith("$ ") and lines[-1].startswith("[rc="), parts
    return "".join(line + "\n" for line in lines[1:-1]), int(lines[-1][4:-1])


def h100(name):
    return framed("gpu-hosts", "h100-1gpu-driver580", name)


def lspci_output(host, form):
    return framed("lspci", "output", "%s.%s.txt" % (host, form))
