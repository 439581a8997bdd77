# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that check a repository signing key by its full fingerprint.

``repo_key_fingerprints`` (Python only): the primary-key fingerprints in the output of
``gpg --show-keys --with-colons`` (a subkey's fingerprint is not one).
``repo_key_problem``: empty when the listing holds exactly one primary key and
its full fingerprint is the wanted one; otherwise a sentence that says what the
file holds.  APT trusts every key of a ``signed-by`` file, so a file with an
extra key is refused as firmly as a wrong one.

``package_sha256_problems``: local package files whose SHA-256 is not the
given one (the air-gapped install of ``container_toolkit``).

Used by the ``repo_key`` role (``tasks/main.yml``), which ``cuda_repo`` and
``container_toolkit`` include, and by ``container_toolkit``'s state scan.
Documentation of each filter is in the YAML file of the same name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

_FULL_FINGERPRINT = re.compile(r"^(?:[0-9A-F]{40}|[0-9A-F]{64})$")


def _normalise(fingerprint):
    return re.sub(r"[\s:]", "", str(fingerprint or "")).upper()


def repo_key_fingerprints(listing):
    """Primary-key fingerprints, in file order, from ``gpg --with-colons`` output."""
    if listing is None:
        return []
    if not isinstance(listing, str):
        raise AnsibleFilterError("repo_key_fingerprints: expected gpg's --with-colons output as a string")
    found = []
    want_fpr = False
    for line in listing.replace("\r", "").splitlines():
        fields = line.split(":")
        record = fields[0]
        if record == "pub":
            want_fpr = True
        elif record == "fpr" and want_fpr:
            if len(fields) > 9 and fields[9]:
                found.append(fields[9].upper())
            want_fpr = False
        elif record in ("sub", "ssb", "uid", "sig", "rev"):
            want_fpr = False
    return found


def repo_key_problem(listing, fingerprint, source="the key file"):
    """Empty when ``listing`` holds exactly one primary key, ``fingerprint``; else why not."""
    wanted = _normalise(fingerprint)
    if not _FULL_FINGERPRINT.match(wanted):
        return ("the wanted fingerprint %r is not a full fingerprint (40 hexadecimal digits, 64 for a v5 "
                "key; spaces allowed); a short key id is not enough to trust a key" % (fingerprint,))
    found = repo_key_fingerprints(listing)
    if found == [wanted]:
        return ""
    if not found:
        detail = " ".join(line.strip() for line in str(listing or "").splitlines()
                          if line.startswith("gpg:"))[:300]
        return "%s holds no OpenPGP key%s; expected exactly %s" % (
            source, " (%s)" % detail if detail else "", wanted)
    if wanted in found:
        others = [fpr for fpr in found if fpr != wanted]
        return ("%s holds %d primary keys: %s besides %s; APT would trust all of them, so exactly one "
                "is required" % (source, len(found), ", ".join(others), wanted))
    return "%s holds primary key(s) %s; expected exactly %s" % (source, ", ".join(found), wanted)


def package_sha256_problems(stat_results, wanted):
    """Files whose SHA-256 is not the one ``wanted`` gives (by file name), one sentence each.

    ``stat_results``: the ``results`` of a looped ``ansible.builtin.stat`` with
    ``checksum_algorithm: sha256`` (``item`` is the file's path).  ``wanted``:
    file name -> SHA-256 (hexadecimal, any case).
    """
    if not isinstance(wanted, dict):
        raise AnsibleFilterError("package_sha256_problems: expected {file name: sha256}")
    wanted = dict((str(k), str(v).strip().lower()) for k, v in wanted.items())
    problems = []
    for result in stat_results or []:
        path = str(result.get("item", ""))
        name = path.rsplit("/", 1)[-1]
        info = result.get("stat") or {}
        if name not in wanted:
            problems.append("%s: no SHA-256 given for it" % name)
        elif not re.match(r"^[0-9a-f]{64}$", wanted[name]):
            problems.append("%s: the given SHA-256 %r is not 64 hexadecimal digits" % (name, wanted[name]))
        elif not info.get("exists", False):
            problems.append("%s: missing" % name)
        elif str(info.get("checksum", "")).lower() != wanted[name]:
            problems.append("%s: SHA-256 %s, expected %s" % (name, info.get("checksum"), wanted[name]))
    return problems


class FilterModule(object):
    """Repository key filters."""

    def filters(self):
        return {
            "repo_key_problem": repo_key_problem,
            "package_sha256_problems": package_sha256_problems,
        }
