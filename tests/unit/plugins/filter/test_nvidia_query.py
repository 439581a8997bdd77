# -*- coding: utf-8 -*-
"""gpufleet.nvidia.nvidia_query over ansible_facts.nvidia gathered on a real H200 host."""
import copy
import json
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.nvidia.plugins.filter import nvidia_query as nq

FACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fixtures", "gpu-hosts",
                     "h200-1gpu-driver580-docker-proof", "nvidia-facts.json")
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..")
with open(os.path.join(REPO, "playbooks", "vars", "verify.yml")) as _handle:
    MIG_QUERY = yaml.safe_load(_handle)["gpufleet_verify_mig_query"]  # the verify playbook's own query


@pytest.fixture
def h200():
    with open(FACTS) as handle:
        return json.load(handle)


def test_mig_report_query_of_the_real_h200(h200):
    assert nq.nvidia_query(h200, MIG_QUERY) == [{
        "gpu": 0, "uuid": "GPU-90ea74b0-1763-a7ff-ee58-e60fa197a428", "supported": True,
        "current": False, "pending": False}]


def test_picks_gpus_by_property(h200):
    eight = copy.deepcopy(h200)
    for index in range(1, 8):
        gpu = copy.deepcopy(h200["gpus"][0])
        gpu.update(index=index, uuid="GPU-%d" % index)
        gpu["mig"]["current"] = index % 2 == 1
        eight["gpus"].append(gpu)
    assert nq.nvidia_query(eight, "gpus[?mig.current].index") == [1, 3, 5, 7]
    assert nq.nvidia_query(eight, "gpus[?architecture=='Hopper'] | length(@)") == 8
    assert nq.nvidia_query(eight, "gpus[?architecture=='Ampere'].uuid") == []


def test_tagged_string_subclasses_match():
    class Tagged(str):
        """What a templating engine may hand over instead of a plain str."""
    facts = {"gpus": [{"architecture": Tagged("Hopper"), "index": 0}]}
    assert nq.nvidia_query(facts, Tagged("gpus[?architecture=='Hopper'].index")) == [0]


@pytest.mark.parametrize("expression", ["gpus[?", "", None])
def test_bad_expression_is_refused_clearly(h200, expression):
    with pytest.raises(AnsibleFilterError, match="nvidia_query"):
        nq.nvidia_query(h200, expression)


def test_without_jmespath_the_message_says_what_to_install(h200, monkeypatch):
    monkeypatch.setattr(nq, "jmespath", None)
    monkeypatch.setattr(nq, "JMESPATH_IMPORT_ERROR", ImportError("No module named 'jmespath'"))
    with pytest.raises(AnsibleFilterError, match="needs the jmespath library"):
        nq.nvidia_query(h200, MIG_QUERY)
