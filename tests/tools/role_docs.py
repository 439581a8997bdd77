# -*- coding: utf-8 -*-
"""Role variable docs from meta/argument_specs.yml, the one source.

Each role's ``meta/argument_specs.yml`` documents its variables; this program
writes them as a Markdown table into ``roles/<role>/README.md`` and
``docs/roles/<role>.md``, between the markers::

    <!-- BEGIN ROLE VARIABLES ... -->
    <!-- END ROLE VARIABLES -->

and checks that ``defaults/main.yml`` and the ``main`` entry point of the
spec name the same variables (internal ``__`` variables excluded; an option
the spec marks ``required`` has no default by design).

Usage::

    role_docs.py write   # rewrite the tables (``make docs``)
    role_docs.py check   # exit 1 if a table is stale or the keys differ (``make lint``)
"""
from __future__ import print_function

import os
import re
import sys

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEGIN = ("<!-- BEGIN ROLE VARIABLES: generated from meta/argument_specs.yml by `make docs`"
         " (tests/tools/role_docs.py); edit the spec, not this table -->")
END = "<!-- END ROLE VARIABLES -->"
BLOCK_RE = re.compile(r"<!-- BEGIN ROLE VARIABLES\b.*?-->.*?<!-- END ROLE VARIABLES -->", re.S)

# Ansible's documentation markup (as in module DOCUMENTATION) to Markdown.
_MARKUP = [
    (re.compile(r"\bL\(([^,()]+),\s*([^)]+)\)"), r"[\1](\2)"),
    (re.compile(r"\bU\(([^)]+)\)"), r"<\1>"),
    (re.compile(r"\bB\(([^)]+)\)"), r"**\1**"),
    (re.compile(r"\bI\(([^)]+)\)"), r"*\1*"),
    (re.compile(r"\b(?:C|V|O|RV|E|M)\(([^)]+)\)"), r"`\1`"),
]


def markup(text):
    """Ansible doc markup in ``text`` as Markdown, safe inside a table cell."""
    text = " ".join(str(text).split())
    for pattern, repl in _MARKUP:
        text = pattern.sub(repl, text)
    return text.replace("|", "\\|")


def _yaml_value(value):
    """A default as the YAML a user would write, on one line."""
    if isinstance(value, str):
        return '""' if value == "" else value
    if isinstance(value, bool):
        return "true" if value else "false"
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10 ** 6).strip()
    if dumped.endswith("\n..."):
        dumped = dumped[:-4].strip()
    return dumped


def describe_type(option):
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        kind = "list of %s" % option["elements"]
    if option.get("choices"):
        kind += ": " + ", ".join("`%s`" % _yaml_value(c) for c in option["choices"])
    return kind


def describe_default(option):
    if option.get("required"):
        return "required"
    if "default" not in option or option["default"] is None:
        return "none"
    return "`%s`" % _yaml_value(option["default"]).replace("|", "\\|")


def variables_table(spec):
    """The Markdown table of one entry point's options, in the spec's order."""
    lines = ["| Variable | Type | Default | Description |", "|----------|------|---------|-------------|"]
    for name, option in (spec.get("options") or {}).items():
        option = option or {}
        desc = option.get("description", "")
        if isinstance(desc, list):
            desc = " ".join(str(d) for d in desc)
        lines.append("| `%s` | %s | %s | %s |" % (name, describe_type(option), describe_default(option), markup(desc)))
    return "\n".join(lines)


def render_block(spec):
    return "%s\n%s\n%s" % (BEGIN, variables_table(spec), END)


def replace_block(document, block):
    """``document`` with its generated block replaced; None when it has no markers."""
    if not BLOCK_RE.search(document):
        return None
    return BLOCK_RE.sub(lambda _m: block, document, count=1)


def key_problems(role, spec, defaults):
    """Differences between the spec's options and the defaults' keys, as sentences."""
    options = spec.get("options") or {}
    public_defaults = set(k for k in (defaults or {}) if not k.startswith("__"))
    documented = set(k for k in options if not k.startswith("__"))
    required = set(k for k in documented if (options[k] or {}).get("required"))
    problems = []
    for name in sorted(public_defaults - documented):
        problems.append("roles/%s: %s is in defaults/main.yml but not in meta/argument_specs.yml" % (role, name))
    for name in sorted(documented - public_defaults - required):
        problems.append("roles/%s: %s is in meta/argument_specs.yml but not in defaults/main.yml "
                        "(give it a default, or mark it required in the spec)" % (role, name))
    return problems


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def roles(root=REPO_ROOT):
    base = os.path.join(root, "roles")
    return sorted(r for r in os.listdir(base) if os.path.isfile(os.path.join(base, r, "meta", "argument_specs.yml")))


def run(mode, root=REPO_ROOT):
    problems, stale, written = [], [], []
    for role in roles(root):
        role_dir = os.path.join(root, "roles", role)
        spec = (_load(os.path.join(role_dir, "meta", "argument_specs.yml")) or {}).get("argument_specs", {}).get("main")
        if spec is None:
            problems.append("roles/%s: meta/argument_specs.yml has no main entry point" % role)
            continue
        defaults_path = os.path.join(role_dir, "defaults", "main.yml")
        defaults = _load(defaults_path) if os.path.isfile(defaults_path) else {}
        problems.extend(key_problems(role, spec, defaults))
        block = render_block(spec)
        for doc in (os.path.join("roles", role, "README.md"), os.path.join("docs", "roles", role + ".md")):
            path = os.path.join(root, doc)
            if not os.path.isfile(path):
                continue
            with open(path) as handle:
                current = handle.read()
            new = replace_block(current, block)
            if new is None:
                problems.append("%s: no generated variables table (add the two ROLE VARIABLES markers)" % doc)
            elif new != current:
                if mode == "write":
                    with open(path + ".tmp", "w") as handle:
                        handle.write(new)
                    os.rename(path + ".tmp", path)
                    written.append(doc)
                else:
                    stale.append(doc)
    for doc in written:
        print("role_docs: wrote %s" % doc)
    for doc in stale:
        problems.append("%s: variables table is not what meta/argument_specs.yml says; run `make docs`" % doc)
    for problem in problems:
        print("role_docs: %s" % problem, file=sys.stderr)
    return 1 if problems else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["write"], ["check"]):
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        print("usage: role_docs.py write|check", file=sys.stderr)
        return 2
    return run(argv[0])


if __name__ == "__main__":
    sys.exit(main())
