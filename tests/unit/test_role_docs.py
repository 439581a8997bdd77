# -*- coding: utf-8 -*-
"""tests/tools/role_docs.py: role variable tables from argument_specs, and the key check."""
import os
import shutil
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

import role_docs  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_markup_to_markdown():
    text = "Set C(enable_cdi) to V(true); see O(containerd_cdi), RV(msg), I(never) B(always) U(https://x.example)."
    assert role_docs.markup(text) == (
        "Set `enable_cdi` to `true`; see `containerd_cdi`, `msg`, *never* **always** <https://x.example>.")
    assert role_docs.markup("a | b\n   c") == "a \\| b c"
    assert role_docs.markup("L(the guide, https://d.example/g)") == "[the guide](https://d.example/g)"


def test_type_and_default_cells():
    assert role_docs.describe_type({"type": "list", "elements": "str"}) == "list of str"
    assert role_docs.describe_type({"type": "str", "choices": ["auto", "2", "3"]}) == "str: `auto`, `2`, `3`"
    assert role_docs.describe_type({}) == "str"
    assert role_docs.describe_default({"required": True}) == "required"
    assert role_docs.describe_default({"type": "bool"}) == "none"
    assert role_docs.describe_default({"default": ""}) == '`""`'
    assert role_docs.describe_default({"default": False}) == "`false`"
    assert role_docs.describe_default({"default": ["gpg"]}) == "`[gpg]`"
    assert role_docs.describe_default({"default": {"a": 1}}) == "`{a: 1}`"


def test_key_problems_both_ways_internal_and_required():
    spec = {"options": {"r_a": {}, "r_b": {}, "r_req": {"required": True}}}
    defaults = {"r_a": 1, "r_c": 2, "__r_internal": 3}
    assert role_docs.key_problems("r", spec, defaults) == [
        "roles/r: r_c is in defaults/main.yml but not in meta/argument_specs.yml",
        "roles/r: r_b is in meta/argument_specs.yml but not in defaults/main.yml "
        "(give it a default, or mark it required in the spec)",
    ]
    assert role_docs.key_problems("r", {"options": {"r_a": {}}}, {"r_a": None}) == []


def _role_tree(tmp_path):
    """A repository with one role taken from this one (driver), its README and docs page."""
    root = tmp_path / "repo"
    shutil.copytree(os.path.join(REPO, "roles", "driver", "meta"), str(root / "roles" / "driver" / "meta"))
    shutil.copytree(os.path.join(REPO, "roles", "driver", "defaults"), str(root / "roles" / "driver" / "defaults"))
    doc = "# driver\n\n## Variables\n\n<!-- BEGIN ROLE VARIABLES -->\nold table\n<!-- END ROLE VARIABLES -->\n\nAfter.\n"
    (root / "roles" / "driver" / "README.md").write_text(doc)
    (root / "docs" / "roles").mkdir(parents=True)
    (root / "docs" / "roles" / "driver.md").write_text(doc)
    return root


def test_write_then_check_then_stale(tmp_path, capsys):
    root = _role_tree(tmp_path)
    assert role_docs.run("check", str(root)) == 1
    assert "is not what meta/argument_specs.yml says" in capsys.readouterr().err
    assert role_docs.run("write", str(root)) == 0
    readme = (root / "roles" / "driver" / "README.md").read_text()
    assert readme.endswith("<!-- END ROLE VARIABLES -->\n\nAfter.\n")
    spec = yaml.safe_load((root / "roles" / "driver" / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    for name in options:
        assert "| `%s` |" % name in readme
    assert readme == (root / "docs" / "roles" / "driver.md").read_text()
    assert role_docs.run("check", str(root)) == 0
    # a new variable in the spec and in defaults: the tables are stale until `make docs`
    specs_path = root / "roles" / "driver" / "meta" / "argument_specs.yml"
    spec["argument_specs"]["main"]["options"]["driver_new_thing"] = {"type": "bool", "default": False,
                                                                     "description": "New."}
    specs_path.write_text(yaml.safe_dump(spec))
    with open(str(root / "roles" / "driver" / "defaults" / "main.yml"), "a") as handle:
        handle.write("driver_new_thing: false\n")
    capsys.readouterr()
    assert role_docs.run("check", str(root)) == 1
    assert capsys.readouterr().err.count("run `make docs`") == 2
    assert role_docs.run("write", str(root)) == 0
    assert "| `driver_new_thing` | bool | `false` | New. |" in (root / "roles" / "driver" / "README.md").read_text()


def test_missing_markers_and_missing_default(tmp_path, capsys):
    root = _role_tree(tmp_path)
    (root / "docs" / "roles" / "driver.md").write_text("# driver\n")
    with open(str(root / "roles" / "driver" / "defaults" / "main.yml"), "a") as handle:
        handle.write("driver_undocumented: 1\n")
    assert role_docs.run("write", str(root)) == 1
    err = capsys.readouterr().err
    assert "docs/roles/driver.md: no generated variables table" in err
    assert "driver_undocumented is in defaults/main.yml but not in meta/argument_specs.yml" in err
