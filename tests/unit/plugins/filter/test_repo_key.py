# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""repo_key filters over real ``gpg --show-keys --with-colons`` listings (tests/fixtures/gpg)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter.repo_key import (
    FilterModule, repo_key_fingerprints, repo_key_problem)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "gpg")
ONE = "A11DECED02ACE369F676D0840710300E936A2B01"
TWO = "8656536E8A57A7BA181671AD58D8C513AACEEE63"
SUBKEY = "6138048F073E2890F2876E0C2832600CEFEA1E51"
DEBIAN_12 = "4D64FEC119C2029067D6E791F8D2585B8783D481"


def listing(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_one_key_is_accepted_by_its_full_fingerprint_in_any_spelling():
    text = listing("one.colons")
    assert repo_key_fingerprints(text) == [ONE]
    assert repo_key_problem(text, ONE) == ""
    assert repo_key_problem(text, ONE.lower()) == ""
    spaced = " ".join(ONE[i:i + 4] for i in range(0, 40, 4))
    assert repo_key_problem(text, spaced) == ""


def test_a_subkey_fingerprint_is_not_a_primary_key():
    text = listing("sub.colons")
    assert repo_key_fingerprints(text) == [ONE]
    assert repo_key_problem(text, ONE) == ""
    problem = repo_key_problem(text, SUBKEY)
    assert "holds primary key(s) %s; expected exactly %s" % (ONE, SUBKEY) in problem


def test_a_file_with_an_extra_key_is_refused_even_when_the_wanted_one_is_there():
    text = listing("two.colons")
    assert repo_key_fingerprints(text) == [ONE, TWO]
    problem = repo_key_problem(text, ONE, "the key from http://mirror.example.internal/gpgkey")
    assert problem.startswith("the key from http://mirror.example.internal/gpgkey holds 2 primary keys: ")
    assert TWO in problem and "APT would trust all of them" in problem


def test_a_wrong_key_is_refused():
    problem = repo_key_problem(listing("debian-bookworm-stable.colons"), ONE)
    assert problem == "the key file holds primary key(s) %s; expected exactly %s" % (DEBIAN_12, ONE)


def test_a_keyring_of_many_keys_is_refused():
    text = listing("debian-archive-keyring.colons")
    assert len(repo_key_fingerprints(text)) > 3
    assert DEBIAN_12 in repo_key_fingerprints(text)
    assert "primary keys" in repo_key_problem(text, DEBIAN_12)


def test_not_a_key_says_what_gpg_said():
    problem = repo_key_problem(listing("not-a-key.colons"), ONE)
    assert problem.startswith("the key file holds no OpenPGP key (gpg: no valid OpenPGP data found.)")
    assert repo_key_problem("", ONE).startswith("the key file holds no OpenPGP key; expected exactly")
    assert repo_key_fingerprints(None) == []


@pytest.mark.parametrize("wanted", ["", "3BF863CC", "EB693B3035CD5710E231E123A4B469963BF863C", "not hex" * 6])
def test_a_short_or_malformed_wanted_fingerprint_is_refused(wanted):
    assert "is not a full fingerprint" in repo_key_problem(listing("one.colons"), wanted)


def test_crlf_listing_from_a_terminal():
    assert repo_key_fingerprints(listing("two.colons").replace("\n", "\r\n")) == [ONE, TWO]


def test_non_string_listing_fails():
    with pytest.raises(AnsibleFilterError):
        repo_key_fingerprints(["pub"])


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"repo_key_problem", "package_sha256_problems"}


# --- package_sha256_problems (air-gapped local packages) ---

from ansible_collections.gpufleet.nvidia.plugins.filter.repo_key import package_sha256_problems  # noqa: E402

SUM_A = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SUM_B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"


def stat_result(path, checksum=None):
    info = {"exists": checksum is not None}
    if checksum is not None:
        info["checksum"] = checksum
    return {"item": path, "stat": info}


def test_package_sums_match_by_file_name():
    results = [stat_result("/srv/debs/a_1_amd64.deb", SUM_A), stat_result("/srv/debs/b_1_amd64.deb", SUM_B)]
    assert package_sha256_problems(results, {"a_1_amd64.deb": SUM_A.upper(), "b_1_amd64.deb": SUM_B}) == []


def test_package_sums_refuse_swapped_missing_unlisted_and_malformed():
    results = [stat_result("/srv/debs/a_1_amd64.deb", SUM_A), stat_result("/srv/debs/b_1_amd64.deb", SUM_B),
               stat_result("/srv/debs/c_1_amd64.deb"), stat_result("/srv/debs/d_1_amd64.deb", SUM_A)]
    wanted = {"a_1_amd64.deb": SUM_B, "b_1_amd64.deb": SUM_A, "c_1_amd64.deb": SUM_A, "d_1_amd64.deb": "abc"}
    assert package_sha256_problems(results, wanted) == [
        "a_1_amd64.deb: SHA-256 %s, expected %s" % (SUM_A, SUM_B),
        "b_1_amd64.deb: SHA-256 %s, expected %s" % (SUM_B, SUM_A),
        "c_1_amd64.deb: missing",
        "d_1_amd64.deb: the given SHA-256 'abc' is not 64 hexadecimal digits"]
    assert package_sha256_problems([stat_result("/x/e.rpm", SUM_A)], {}) == ["e.rpm: no SHA-256 given for it"]
    with pytest.raises(AnsibleFilterError):
        package_sha256_problems([], ["not", "a", "dict"])
