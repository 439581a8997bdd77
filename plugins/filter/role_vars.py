# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that check a role's variables against its ``meta/argument_specs.yml``.

Ansible validates a role's arguments when the role starts, but it converts
leniently: a string becomes a one-element list (``"--debug"`` ->
``["--debug"]``), and a misspelt variable is simply not an argument.  These
filters close both gaps, so a role fails (or warns) in its first task with the
variable's name:

- ``role_vars_problems``: values whose type the spec does not allow without a
  conversion the user did not ask for (a string for a list or a dict, a list
  for a string, a non-boolean string for a bool, a value outside ``choices``);
- ``role_vars_unknown``: variable names with the role's prefix that are not
  options of the role (nor facts the role sets), each with the closest option
  name as a suggestion.

Documentation of each filter is in the YAML file of the same name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

import yaml

from ansible.errors import AnsibleFilterError

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # PyYAML without libyaml
    _Loader = yaml.SafeLoader

try:
    from ansible.module_utils.six import string_types
except ImportError:  # pragma: no cover
    string_types = (str,)

BOOL_STRINGS = ("true", "false", "yes", "no", "on", "off", "1", "0")


def _load(path):
    try:
        with open(path, "rb") as handle:
            return yaml.load(handle, Loader=_Loader)  # nosec - a safe loader
    except (IOError, OSError, yaml.YAMLError) as exc:
        raise AnsibleFilterError("role_vars: cannot read the argument specs %s: %s" % (path, exc))


def _options(spec, entry_point="main"):
    # the spec, or the path of meta/argument_specs.yml (read with libyaml: a
    # role checks its variables on every host, so this is kept cheap)
    if _is_text(spec):
        spec = _load(str(spec))
    if not isinstance(spec, dict):
        raise AnsibleFilterError("role_vars: expected the parsed meta/argument_specs.yml, got %r"
                                 % type(spec).__name__)
    specs = spec.get("argument_specs", spec)
    entry = specs.get(entry_point)
    if not isinstance(entry, dict):
        raise AnsibleFilterError("role_vars: the argument specs have no entry point %r" % (entry_point,))
    return entry.get("options") or {}


def _is_text(value):
    return isinstance(value, string_types)


def _type_name(value):
    for kind, name in ((bool, "bool"), (dict, "dict"), (list, "list"), (int, "int"), (float, "float")):
        if isinstance(value, kind):
            return name
    return "str" if _is_text(value) else type(value).__name__


def _type_problem(name, option, value):
    kind = option.get("type", "str")
    if value is None:
        return ""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if kind == "list":
        if not isinstance(value, list):
            return "%s must be a list (YAML [a, b]), got %s %s" % (name, _type_name(value), shown)
        elements = option.get("elements")
        if elements == "str":
            bad = [item for item in value if not _is_text(item)]
            if bad:
                return "%s must be a list of strings, got %s" % (name, shown)
        return ""
    if kind == "dict":
        if not isinstance(value, dict):
            return "%s must be a dict (YAML mapping), got %s %s" % (name, _type_name(value), shown)
        return ""
    if kind == "bool":
        if isinstance(value, bool) or (_is_text(value) and value.strip().lower() in BOOL_STRINGS):
            return ""
        return "%s must be true or false, got %s" % (name, shown)
    if kind == "int":
        if isinstance(value, bool):
            return "%s must be an integer, got %s" % (name, shown)
        if isinstance(value, int) or (_is_text(value) and value.strip().lstrip("-").isdigit()):
            return ""
        return "%s must be an integer, got %s" % (name, shown)
    if kind in ("str", "path"):
        if isinstance(value, (list, dict, bool)):
            return "%s must be a string, got %s %s" % (name, _type_name(value), shown)
        return ""
    return ""


def role_vars_problems(values, spec, entry_point="main"):
    """Messages, each naming its variable, for ``values`` the spec's types or choices refuse."""
    if not isinstance(values, dict):
        raise AnsibleFilterError("role_vars_problems: expected {variable: value}")
    options = _options(spec, entry_point)
    problems = []
    for name in sorted(values):
        option = options.get(name)
        if option is None:
            continue
        value = values[name]
        problem = _type_problem(name, option, value)
        if not problem and option.get("choices") and value is not None:
            choices = option["choices"]
            candidates = value if isinstance(value, list) else [value]
            bad = [item for item in candidates if item not in choices]
            if bad:
                problem = "%s must be one of %s, got %r" % (name, ", ".join(str(c) for c in choices), value)
        if problem:
            problems.append(problem)
    return problems


def role_vars_unknown(names, spec, known=None, entry_point="main"):
    """Names that are neither options of the role nor in ``known``, with a suggestion each."""
    if _is_text(names):
        names = [names]
    options = sorted(_options(spec, entry_point))
    known = set(known or [])
    messages = []
    for name in sorted(set(names or [])):
        if name in options or name in known:
            continue
        close = difflib.get_close_matches(name, options, n=1, cutoff=0.75)
        messages.append("%s is not a variable of this role%s" % (
            name, " (did you mean %s?)" % close[0] if close else ""))
    return messages


def role_vars_check(values, spec, prefix, known=None, hostvars=None, hosts=None, entry_point="main"):
    """Problems and unknown names of the current host and of the other ``hosts`` of the batch.

    ``values``: the current host's ``{name: value}`` of every variable with
    ``prefix`` (play variables, extra variables and role defaults included).
    ``hostvars``/``hosts``: Ansible's ``hostvars`` and ``ansible_play_batch``;
    for the other hosts their inventory variables with ``prefix`` are checked
    too, so a role checks a whole batch in one task (``run_once``) instead of
    once per host.  Messages about other hosts name them.  Returns
    ``{"problems": [...], "unknown": [...]}``.
    """
    if not isinstance(values, dict):
        raise AnsibleFilterError("role_vars_check: expected {variable: value}")
    known = list(known or [])
    options = _options(spec, entry_point)
    spec = {"argument_specs": {entry_point: {"options": options}}}
    problems = list(role_vars_problems(values, spec, entry_point))
    unknown = list(role_vars_unknown(list(values), spec, known, entry_point))
    per_message = {}
    order = []
    for host in list(hosts or []):
        if hostvars is None:
            break
        try:
            host_vars = hostvars[host]
            names = [name for name in host_vars.keys() if str(name).startswith(prefix)]
        except (KeyError, TypeError):
            continue
        mine = dict((name, values.get(name)) for name in names if name in values)
        theirs = {}
        for name in names:
            value = host_vars[name]
            if name not in mine or mine[name] != value:
                theirs[name] = value
        for message in role_vars_problems(theirs, spec, entry_point) + role_vars_unknown(
                [n for n in theirs if n not in values], spec, known, entry_point):
            if message in problems or message in unknown:
                continue
            if message not in per_message:
                per_message[message] = []
                order.append(message)
            per_message[message].append(str(host))
    for message in order:
        text = "%s (%s)" % (message, ", ".join(per_message[message]))
        (unknown if " is not a variable of this role" in message else problems).append(text)
    return {"problems": problems, "unknown": unknown}


class FilterModule(object):
    """Role variable filters."""

    def filters(self):
        return {
            "role_vars_problems": role_vars_problems,
            "role_vars_unknown": role_vars_unknown,
            "role_vars_check": role_vars_check,
        }
