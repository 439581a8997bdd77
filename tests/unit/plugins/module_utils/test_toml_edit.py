# -*- coding: utf-8 -*-
"""toml_edit: the reader against tomllib, value writer, spans and edits."""
import datetime
import math

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from ansible_collections.gpufleet.nvidia.plugins.module_utils import _toml_edit as te

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

needs_tomllib = pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")

VALID = [
    'a = 1\nb = -0\nc = +17\nd = 1_000\nhex = 0xDEAD_beef\noct = 0o755\nbin = 0b1101\n',
    'f1 = 1.0\nf2 = -3.14e-2\nf3 = 5e+22\nf4 = 6.626_070E-34\ninf1 = inf\ninf2 = -inf\n',
    'b1 = true\nb2 = false\n',
    's = "tab\\t quote\\" back\\\\ uni\\u00e9 \\U0001F600"\nl = \'C:\\path\\x\'\n',
    'ml = """\nRoses are red\nViolets are blue"""\nml2 = """a \\\n    b \\\n  c"""\nml3 = """x""""\n',
    "lit = '''\nfirst\n  second\n'''\nq = '''two '' quotes'''''\n",
    'arr = [ 1, 2, 3, ]\nnested = [[1, 2], ["a", \'b\'], [ {x = 1} ]]\nmulti = [\n  "a", # c\n  "b",\n]\n',
    'it = { a = 1, b.c = "x", d = { e = [] } }\nempty = {}\n',
    '[a]\n[a.b]\nc = 1\n[a."quoted key".\'lit\']\nd = 2\n',
    '[ plugins . "io.containerd.grpc.v1.cri" . containerd ]\n  default_runtime_name = "runc"\n',
    '[[products]]\nname = "Hammer"\n[[products]]\n[[products]]\nname = "Nail"\n[products.dim]\nx = 1\n',
    '[[fruit]]\nname = "apple"\n[fruit.physical]\ncolor = "red"\n[[fruit.variety]]\nname = "red delicious"\n'
    '[[fruit]]\nname = "banana"\n[[fruit.variety]]\nname = "plantain"\n',
    'fruit.apple.color = "red"\nfruit.apple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n',
    '[x.y.z.w]\n[x]\na = 1\n',
    'odt1 = 1979-05-27T07:32:00Z\nodt2 = 1979-05-27T00:32:00-07:00\nodt3 = 1979-05-27T00:32:00.999999+01:30\n'
    'ldt = 1979-05-27T07:32:00\nld = 1979-05-27\nlt = 07:32:00.5\nsp = 1979-05-27 07:32:00Z\n',
    '# only a comment\n\n\n   # indented comment\n',
    'a = 1\r\nb = "x"\r\n[t]\r\nc = """\r\nline\r\n"""\r\n',
    '"" = 1\n\'c d\' = 2\n"a.b" = 3\n',
    'key = "value" # comment with "quotes" and # hashes\n',
    '',
]

INVALID = [
    'a = 1\na = 2\n',
    '[t]\n[t]\n',
    '[t]\nx = 1\n[t.x]\n',
    'a.b = 1\n[a]\n',
    'a = {b = 1}\n[a]\n',
    'a = {b = 1}\na.c = 2\n',
    'a = [1]\n[[a]]\n',
    '[[a]]\n[a]\n',
    'a = 1 b = 2\n',
    'a = "unterminated\n',
    "a = 'x\n",
    'a = """x\n',
    'a = 01\n',
    'a = 1__0\n',
    'a = _1\n',
    'a = 0x\n',
    'a = 1.\n',
    'a = .5\n',
    'a = "\\x"\n',
    'a = tru\n',
    '= 1\n',
    '[a\n',
    '[]\n',
    'a = [1 2]\n',
    'a = {b = 1,}\n',
    'a = {b = 1\n, c = 2}\n',
    'a = 1979-02-30\n',
    'a = "\x01"\n',
    '# \x00 nul\n',
    'a = 1\n[x]\nb.c = 1\n[x.b]\n',
]


@needs_tomllib
@pytest.mark.parametrize("text", VALID)
def test_valid_documents_match_tomllib(text):
    assert te.loads(text) == tomllib.loads(text)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_documents_are_rejected(text):
    if tomllib is not None:
        with pytest.raises(tomllib.TOMLDecodeError):
            tomllib.loads(text)
    with pytest.raises(te.TomlError) as err:
        te.loads(text)
    assert err.value.line >= 1


def test_error_position():
    with pytest.raises(te.TomlError) as err:
        te.loads('a = 1\n\n[t]\nb = "x" junk\n')
    assert (err.value.line, err.value.col) == (4, 9)
    assert "line 4" in str(err.value)


def test_spans_and_edit():
    text = '# c\nversion = 2  # v\n\n[t]\n  a = "x" # keep\n  b = [\n    1,\n  ]\n\n[t.s]\n  c = 1\n'
    doc = te.parse(text)
    assert [t.path for t in doc.tables] == [(), ("t",), ("t", "s")]
    a = doc.find_entry(("t", "a"))
    assert text[a.value_start:a.value_end] == '"x"'
    assert text[a.line_start:a.line_end] == '  a = "x" # keep\n'
    b = doc.find_entry(("t", "b"))
    assert text[b.value_start:b.value_end] == "[\n    1,\n  ]"
    t = doc.header_tables(("t",))[0]
    assert text[t.header_start:t.content_end] == '[t]\n  a = "x" # keep\n  b = [\n    1,\n  ]\n'
    assert t.indent == ""
    new = te.apply_edits(text, [(a.value_start, a.value_end, '"y"')])
    assert new == text.replace('"x"', '"y"')
    with pytest.raises(ValueError):
        te.apply_edits(text, [(0, 5, ""), (3, 6, "")])


def test_dumps_value_round_trip():
    values = {"s": 'a"b\\c\n\t\x01é', "lit": "plain/path", "i": -5, "f": 1.5, "b": True,
              "l": [1, "x", [True]], "d": {"k": 1, "a b": "v"}, "e": [], "dt": datetime.date(2024, 1, 2)}
    for literal in (False, True):
        text = "".join("%s = %s\n" % (te.dumps_key(k), te.dumps_value(v, literal)) for k, v in values.items())
        assert te.loads(text) == values
    assert te.dumps_value("x", literal=True) == "'x'"
    assert te.dumps_value("it's", literal=True) == '"it\'s"'
    assert te.dumps_value(float("inf")) == "inf"


# --- generated documents ---------------------------------------------------

key_st = st.one_of(st.sampled_from(["a", "b", "runc", "options", "SystemdCgroup", "io.containerd.x", "with space", "", "é"]),
                   st.text(alphabet="abcXYZ019_-.' \"", min_size=1, max_size=6))
string_st = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FF), max_size=12)
scalar_st = st.one_of(
    st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1),
    st.floats(allow_nan=True, width=64),
    st.booleans(),
    string_st,
    st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)),
    st.dates(),
)
value_st = st.recursive(scalar_st, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(key_st, inner, max_size=3)), max_leaves=6)


def _string(draw, s):
    style = draw(st.sampled_from(["basic", "literal", "mlbasic", "mlliteral"]))
    if style == "literal" and te._can_be_literal(s):
        return "'%s'" % s
    if style == "mlliteral" and te._can_be_literal(s.replace("\n", "")) and "'" not in s and not s.startswith("\n"):
        return "'''%s'''" % s
    if style == "mlbasic":
        body = te.dumps_string(s)[1:-1]
        return '"""%s"""' % body
    return te.dumps_string(s)


def _value(draw, v):
    if isinstance(v, str):
        return _string(draw, v)
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return te.dumps_value(v)
    if isinstance(v, list):
        sep = draw(st.sampled_from([", ", ",\n  ", " , ", ",  # c\n"]))
        trail = draw(st.sampled_from(["", ",", ",\n"])) if v else ""
        return "[" + sep.join(_value(draw, x) for x in v) + trail + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (te.dumps_key(k, draw(st.booleans())), _value(draw, x)) for k, x in v.items()) + "}"
    return te.dumps_value(v)


@st.composite
def documents(draw):
    data = draw(st.dictionaries(key_st, st.one_of(value_st, st.dictionaries(key_st, value_st, max_size=4)), max_size=5))
    lines = []
    tables = []
    if draw(st.booleans()):
        lines.append("# generated\n")
    for k, v in data.items():
        if isinstance(v, dict) and draw(st.booleans()):
            tables.append((k, v))
            continue
        comment = draw(st.sampled_from(["", "  # note", " #"]))
        lines.append("%s = %s%s\n" % (te.dumps_key(k, draw(st.booleans())), _value(draw, v), comment))
    for k, v in tables:
        indent = draw(st.sampled_from(["", "  ", "\t"]))
        lines.append("\n%s[%s]\n" % (indent, te.dumps_key(k, draw(st.booleans()))))
        for sk, sv in v.items():
            lines.append("%s  %s = %s\n" % (indent, te.dumps_key(sk, draw(st.booleans())), _value(draw, sv)))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    text = "".join(lines)
    if nl == "\r\n":
        text = text.replace("\n", "\r\n")
    return data, text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents(doc):
    data, text = doc
    if "\r\n" in text:
        data = _normalize_crlf(data)
    parsed = te.loads(text)
    assert te.values_equal(parsed, data)  # nan == nan
    assert te.values_equal(te.loads(text), parsed)
    if tomllib is not None:
        assert te.values_equal(tomllib.loads(text), parsed)


def _normalize_crlf(value):
    # multi-line strings turn CRLF into LF; generated strings carry no raw newlines outside escapes
    return value


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='ab=[]{}"\'.,#\n 1tf-:', max_size=30))
def test_garbage_never_crashes_and_agrees_with_tomllib(text):
    try:
        ours = te.loads(text)
    except te.TomlError:
        ours = None
    if tomllib is not None:
        try:
            theirs = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            theirs = None
        assert ours == theirs


# nesting limit (issue 11, finding 4) --------------------------------------------

def _nest(kind, depth):
    """A document whose deepest value has a key path of ``depth`` levels."""
    if kind == "array":
        return "a = " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"
    if kind == "inline":
        return "a = " + "{ b = " * (depth - 1) + "1" + " }" * (depth - 1) + "\n"
    if kind == "dotted":
        return ".".join(["k"] * depth) + " = 1\n"
    if kind == "header":
        return "[" + ".".join(["k"] * (depth - 1)) + "]\nv = 1\n"
    # mixed: a header, dotted keys, an inline table and arrays
    third = max(depth // 3, 1)
    rest = depth - 2 * third
    return ("[" + ".".join(["h"] * third) + "]\n" + ".".join(["d"] * third) + " = "
            + "[" * (rest - 1) + "{x = 1}" + "]" * (rest - 1) + "\n")


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["array", "inline", "dotted", "header", "mixed"]), st.integers(min_value=3, max_value=400))
def test_nesting_limit(kind, depth):
    text = _nest(kind, depth)
    if depth <= te.MAX_DEPTH:
        parsed = te.loads(text)
        if tomllib is not None:
            assert tomllib.loads(text) == parsed
    else:
        with pytest.raises(te.TomlNestingError) as err:
            te.loads(text)
        assert err.value.msg == "tables and arrays are nested deeper than 64 levels"
        assert err.value.line is not None


def test_nesting_far_beyond_the_recursion_limit():
    for text in ("a = " + "[" * 200000, "a = " + "{b = " * 200000, "[" + "k." * 200000 + "k]\n"):
        with pytest.raises(te.TomlNestingError):
            te.loads(text)


# nan, inf and equality (finding 9) -----------------------------------------------

def test_values_equal():
    nan = float("nan")
    assert te.values_equal({"a": [nan, 1.0]}, {"a": [float("nan"), 1.0]})
    assert te.values_equal(-nan, nan)
    assert not te.values_equal(nan, 1.0)
    assert not te.values_equal(True, 1) and not te.values_equal(1, 1.0) and not te.values_equal(0, False)
    assert not te.values_equal({"a": 1}, {"a": 1, "b": 2}) and not te.values_equal([1], [1, 2])
    assert not te.values_equal({"a": 1}, {"b": 1})
    assert te.values_equal(datetime.date(2020, 1, 1), datetime.date(2020, 1, 1))
    assert not te.values_equal(datetime.date(2020, 1, 1), datetime.datetime(2020, 1, 1))


@pytest.mark.parametrize("text", ["x = nan", "x = +nan", "x = -nan", "x = inf", "x = +inf", "x = -inf",
                                  "x = [nan, inf]", "x = { y = nan }"])
def test_special_floats_round_trip(text):
    data = te.loads(text)
    assert te.values_equal(te.loads("x = %s" % te.dumps_value(data["x"])), data)
    if tomllib is not None:
        assert te.values_equal(tomllib.loads(text), data)


# element spans of an array (finding 8) -------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(scalar_st, max_size=5))
def test_array_items_spans(data, values):
    text = "x = %s # after\n" % _value(data.draw, values)
    start = text.index("[")
    items, close = te.array_items(text, start)
    assert text[close] == "]" and text[close + 1:] == " # after\n"
    assert len(items) == len(values)
    parsed = te.loads(text)["x"]
    for index, (vstart, vend, comma) in enumerate(items):
        # each span is exactly one element's text
        assert te.values_equal(te.loads("v = " + text[vstart:vend])["v"], parsed[index])
        if comma is not None:
            assert text[comma] == "," and text[vend:comma].strip(" \t\r\n") == ""
    for (_s, _e, comma), nxt in zip(items, items[1:]):
        assert comma is not None and comma < nxt[0]
