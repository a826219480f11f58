"""The v2 template format: the upstream fixtures, the `--requires` syntax, and the grammar quirks
of spec/schnauzer.md §2 one by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from thar.schnauzer.errors import (
    FrontmatterParse,
    GrammarParse,
    HelperNameCollision,
    RequirementsParse,
    SchnauzerError,
    TemplateParse,
)
from thar.schnauzer.requirements import parse_requirement
from thar.schnauzer.template import Requirement, parse_template, split_template, template_from_requirements

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "templates" / "schnauzer-fixtures"
INPUTS: dict[str, Any] = json.loads((FIXTURES / "inputs.json").read_text())
MISC: dict[str, Any] = json.loads((FIXTURES / "misc-cases.json").read_text())
SUCCEEDS = sorted(p.stem for p in (FIXTURES / "succeeds").glob("*.template"))
FAILS = sorted(p.stem for p in (FIXTURES / "fails").glob("*.template"))
ERROR_KINDS: dict[str, type[SchnauzerError]] = {
    "GrammarParse": GrammarParse,
    "FrontmatterParse": FrontmatterParse,
    "HelperNameCollision": HelperNameCollision,
}


def requirement_set(requirements: Any) -> set[tuple[str, str, tuple[str, ...], bool]]:
    return {(r["name"], r["version"], tuple(r["helpers"]), r["optional"]) for r in requirements}


def as_set(requirements: tuple[Requirement, ...]) -> set[tuple[str, str, tuple[str, ...], bool]]:
    return {(r.name, r.version, r.helpers, r.optional) for r in requirements}


def test_fixture_counts() -> None:
    assert len(SUCCEEDS) == 8 and len(FAILS) == 5
    assert set(SUCCEEDS) == set(INPUTS["succeeds"]) and set(FAILS) == set(INPUTS["fails"])


@pytest.mark.parametrize("name", SUCCEEDS)
def test_fixture_parses(name: str) -> None:
    expected = INPUTS["succeeds"][name]
    template = parse_template((FIXTURES / "succeeds" / f"{name}.template").read_text())
    assert template.body == expected["expected_body"]
    assert as_set(template.requirements) == requirement_set(expected["expected_requirements"])
    assert len(template.requirements) == len(expected["expected_requirements"])


@pytest.mark.parametrize("name", FAILS)
def test_fixture_fails(name: str) -> None:
    kind = ERROR_KINDS[INPUTS["fails"][name]["error"]]
    with pytest.raises(TemplateParse) as info:
        parse_template((FIXTURES / "fails" / f"{name}.template").read_text())
    assert type(info.value) is kind


# -- the delimiter ---------------------------------------------------------------------------------
HEAD = '[required-extensions]\nstd = "v1"\n'


@pytest.mark.parametrize(
    ("text", "body"),
    [
        (HEAD + "+++\nbody\n", "body\n"),
        (HEAD + "+++++++++\nbody\n", "body\n"),
        (HEAD + "+++\r\nbody\r\n", "body\r\n"),
        (HEAD + "+++\rbody", "body"),
        (HEAD + "   \t+++\n  indented\n", "  indented\n"),
        ('[required-extensions]\nb = "4" +++\nx', "x"),  # need not start a line
        (HEAD + "# a comment\n\n+++\n", ""),
        (HEAD + "+++\n\n\n  {{x}}\n+++\nmore\n", "\n\n  {{x}}\n+++\nmore\n"),  # later +++ is body
        ("+++\n", ""),
        ("\n\n# only a comment\n+++\nHello", "Hello"),
    ],
)
def test_delimiter_accepted(text: str, body: str) -> None:
    assert parse_template(text).body == body


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "+++",  # no newline after the pluses
        HEAD + "+++ \nbody\n",  # trailing space
        HEAD + "+++ # comment\nbody\n",
        HEAD + "++\nbody\n",
        HEAD + "+ ++\nbody\n",
        HEAD,  # no delimiter at all
        "",
        "body only\n",
    ],
)
def test_delimiter_rejected(text: str) -> None:
    with pytest.raises(GrammarParse):
        parse_template(text)


def test_delimiter_inside_strings_is_not_a_delimiter() -> None:
    text = "[required-extensions]\na = '''\n+++\n'''\nb = '+++'\nc = \"+++\"\n+++\nbody\n"
    template = parse_template(text)
    assert as_set(template.requirements) == {
        ("a", "+++\n", (), False),
        ("b", "+++", (), False),
        ("c", "+++", (), False),
    }
    assert template.body == "body\n"


# -- the TOML subset (grammar stage) ---------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        'a.b = "v1"',  # dotted keys in pairs
        'a = """x"y"""',  # """ strings cannot contain "
        "a = 01",  # "0" is a whole integer, then "1" is no pair
        "a = 1__0",
        "a = 1979-05-27 07:32:00",  # date-time with a space
        "a = inf",
        "a = nan",
        "a = 0x1F",
        "a = .5",
        'a = "unterminated',
        "a = 'unterminated",
        "a = [1, 2",
        "a = { version = 'v1'",
        "a =",
        '= "v1"',
        "[ [required-extensions] ]",
        "[required-extensions",
        "a = tru",
    ],
)
def test_grammar_rejects(value: str) -> None:
    with pytest.raises(GrammarParse):
        parse_template(f"[required-extensions]\n{value}\n+++\n")


@pytest.mark.parametrize(
    "value",
    [
        "a = 1979-05-27T07:32:00Z",
        "a = 1979-05-27T07:32:00.999-07:00",
        "a = 1979-05-27T07:32:00",
        "a = 1979-05-27",
        "a = 07:32:00.5",
        "a = 1_000",
        "a = -3.5e+10",
        "a = +7",
        "a = 6E-2",
        "a = true",
        "a = [1, 2, 3,]",
        "a = []",
        "a = {}",
        "a = { version = 'v1', }",  # trailing comma: grammar yes, TOML no
        "a = { version = 'v1',\n helpers = [] }",  # newline in an inline table: TOML no
        'a = "\\q"',  # unknown escape: the grammar accepts a lone backslash
        'a = "x" b = "y"',  # two pairs on one line
        "[[required-extensions]]",
        "[a . b]",
        "a = 1.5",
    ],
)
def test_grammar_accepts_then_frontmatter_rejects(value: str) -> None:
    """These match the grammar; the TOML parser or the schema then rejects them."""
    with pytest.raises(FrontmatterParse):
        parse_template(f"[required-extensions]\n{value}\n+++\n")


@pytest.mark.parametrize(
    ("value", "version"),
    [
        ('a = "v1"', "v1"),
        ("a = 'C:\\path'", "C:\\path"),
        ('a = "caf\\u00e9 \\U0001F600 \\t"', "café \U0001f600 \t"),
        ('a = """\nline one\\\n    two"""', "line onetwo"),
        ("a = '''\nraw \\n'''", "raw \\n"),
        ("a = '''multi\nline'''", "multi\nline"),
        ('"quoted key" = "v1"', "v1"),
        ('a = { version = "v1" }', "v1"),
        ('a = {version="v1",helpers=[],optional=true}', "v1"),
        ('a = {\tversion =\t"v1"\t}', "v1"),
        ('a = "v1" # trailing comment', "v1"),
        ('# c1\na # c2\n= # c3\n"v1"', "v1"),  # comments and newlines between tokens: TOML says no
    ],
)
def test_values(value: str, version: str) -> None:
    text = f"[required-extensions]\n{value}\n+++\n"
    if "# c2" in value:
        with pytest.raises(FrontmatterParse):
            parse_template(text)
        split_template(text)  # the grammar alone accepts it
        return
    (requirement,) = parse_template(text).requirements
    assert requirement.version == version


def test_frontmatter_span_excludes_surrounding_comments() -> None:
    frontmatter, body = split_template('# lead\n  [required-extensions]\n  a = "v1" # tail\n  # more\n+++\nB')
    assert frontmatter == '[required-extensions]\n  a = "v1"'
    assert body == "B"


# -- the frontmatter schema ------------------------------------------------------------------------
def test_string_and_table_forms() -> None:
    template = parse_template(
        "[required-extensions]\n"
        'plain = "v1"\n'
        'inline = { version = "v2", helpers = ["a", "b"], optional = true }\n'
        "[required-extensions.subtable]\n"
        'version = "v3"\n'
        'helpers = ["c"]\n'
        "+++\n"
    )
    assert template.requirements == (
        Requirement("plain", "v1"),
        Requirement("inline", "v2", ("a", "b"), True),
        Requirement("subtable", "v3", ("c",)),
    )


def test_missing_required_extensions_means_no_requirements() -> None:
    assert parse_template("+++\nx").requirements == ()
    assert parse_template("[required-extensions]\n+++\nx").requirements == ()


@pytest.mark.parametrize(
    "frontmatter",
    [
        'other = "x"',
        '[required-extensions]\na = "v1"\n[other]\nb = "v1"',
        'required-extensions = "v1"',
        "required-extensions = []",
        "[required-extensions]\na = 1",
        "[required-extensions]\na = true",
        '[required-extensions]\na = ["v1"]',
        '[required-extensions]\na = { helpers = ["x"] }',
        "[required-extensions]\na = { version = 1 }",
        '[required-extensions]\na = { version = "v1", helpers = "x" }',
        '[required-extensions]\na = { version = "v1", helpers = [1] }',
        '[required-extensions]\na = { version = "v1", optional = "yes" }',
        '[required-extensions]\na = { version = "v1", extra = 1 }',
        '[required-extensions]\na = "v1"\na = "v2"',  # duplicate key
        '[required-extensions]\n[required-extensions]\na = "v1"',  # duplicate table
    ],
)
def test_schema_rejects(frontmatter: str) -> None:
    with pytest.raises(FrontmatterParse):
        parse_template(f"{frontmatter}\n+++\n")


def test_names_and_versions_are_never_interpreted() -> None:
    template = parse_template(
        '[required-extensions]\n"kubernetes  " = "  "\noci-defaults = "not a version at all"\nstd = ""\n+++\n'
    )
    assert [(r.name, r.version) for r in template.requirements] == [
        ("kubernetes  ", "  "),
        ("oci-defaults", "not a version at all"),
        ("std", ""),
    ]


@pytest.mark.parametrize(
    "frontmatter",
    [
        '[required-extensions]\na = { version = "v1", helpers = ["h", "h"] }',
        '[required-extensions]\na = { version = "v1", helpers = ["h"] }\nb = { version = "v1", helpers = ["x", "h"] }',
    ],
)
def test_helper_collisions(frontmatter: str) -> None:
    with pytest.raises(HelperNameCollision) as info:
        parse_template(f"{frontmatter}\n+++\n")
    assert info.value.helper_names == ("h",)


def test_grammar_error_names_the_position() -> None:
    with pytest.raises(GrammarParse) as info:
        parse_template('[required-extensions]\nstd = "v1"\nbad key = 1\n+++\n')
    assert (info.value.line, info.value.column) == (3, 5)
    assert "line 3, column 5" in str(info.value)


# -- --requires ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", MISC["cli_requires_parse_ok"], ids=lambda c: c["input"])
def test_requires_parses(case: dict[str, Any]) -> None:
    assert parse_requirement(case["input"]) == Requirement(case["name"], case["version"], tuple(case["helpers"]))


@pytest.mark.parametrize("text", MISC["cli_requires_parse_fail"])
def test_requires_rejected(text: str) -> None:
    with pytest.raises(RequirementsParse):
        parse_requirement(text)


@pytest.mark.parametrize(
    ("text", "helpers"),
    [
        ("std@v1(helpers=[a,])", ("a",)),
        ("std@v1(helpers=[a , b ,c])", ("a", "b", "c")),
        ("std@v1\t(\thelpers\t=\t[\ta\t]\t)\t", ("a",)),
        ("std@v1()", ()),
    ],
)
def test_requires_whitespace_and_empty_entries(text: str, helpers: tuple[str, ...]) -> None:
    assert parse_requirement(text).helpers == helpers


@pytest.mark.parametrize(
    "text",
    ["std@", "@v1", "std@v1(helpers=[a b])", "std@v1(helpers=[,a])", "std@v1(helpers=[a,,b])", "std@v1\n(x)", "a@b@c"],
)
def test_requires_more_rejections(text: str) -> None:
    with pytest.raises(RequirementsParse):
        parse_requirement(text)


def test_requires_trailing_newline_is_whitespace() -> None:
    assert parse_requirement("std@v1\n") == Requirement("std", "v1")


def test_requirements_go_through_the_collision_check() -> None:
    reqs = [parse_requirement("a@v1(helpers=[h])"), parse_requirement("b@v1(helpers=[h])")]
    with pytest.raises(HelperNameCollision):
        template_from_requirements(reqs, "body")
    template = template_from_requirements([parse_requirement("a@v1"), parse_requirement("a@v2(helpers=[h])")], "B")
    assert template.requirements == (Requirement("a", "v2", ("h",)),)
    assert template.body == "B"
