# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``nvidia_query``: a JMESPath query over ``ansible_facts.nvidia`` (or any data).

Picking GPUs by property ("the UUIDs of the Hopper GPUs in MIG mode", "each
GPU's fabric state") is one expression in JMESPath, where the built-in
filters need a chain of ``selectattr``/``map`` that no longer says which
fields come out. The controller needs the ``jmespath`` library
(``requirements.txt``); without it the filter says so.

Documentation is in ``nvidia_query.yml`` next to this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

try:
    import jmespath
    JMESPATH_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller
    jmespath = None
    JMESPATH_IMPORT_ERROR = exc


def _plain(value):
    """Plain dicts, lists and strings: JMESPath compares types exactly, and a
    templating engine may hand over tagged subclasses."""
    if isinstance(value, dict):
        return dict((_plain(key), _plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return u"".join([value])
    return value


def nvidia_query(data, expression):
    """The result of the JMESPath ``expression`` on ``data``."""
    if jmespath is None:
        raise AnsibleFilterError("nvidia_query needs the jmespath library on the controller "
                                 "(pip install jmespath, as requirements.txt says): %s" % JMESPATH_IMPORT_ERROR)
    if not isinstance(expression, str) or not expression.strip():
        raise AnsibleFilterError("nvidia_query: the expression must be a non-empty string, not %r" % (expression,))
    try:
        return jmespath.search(_plain(expression), _plain(data))
    except jmespath.exceptions.JMESPathError as exc:
        raise AnsibleFilterError("nvidia_query: %r is not a valid JMESPath expression: %s" % (expression, exc))


class FilterModule(object):
    """JMESPath queries over the NVIDIA facts."""

    def filters(self):
        return {"nvidia_query": nvidia_query}
