"""Focused tests of the engine for each rule of spec §4 that the conformance probes leave out."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from thar.schnauzer.display import display_float, display_scalar
from thar.schnauzer.engine import (
    EngineError,
    RenderError,
    Template,
    TemplateSyntaxError,
    compile_template,
)
from thar.schnauzer.helper_api import Helper, HelperError, HelperKind, Param


def render(
    source: str,
    context: Any = None,
    helpers: Mapping[str, Helper] | None = None,
    *,
    strict: bool = True,
) -> str:
    return compile_template(source).render({} if context is None else context, helpers or {}, strict=strict)


# ------------------------------------------------------------------------------ display


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-17, "-17"),
        (2**64 + 1, "18446744073709551617"),
        ("as is <&>", "as is <&>"),
        (None, ""),
        (1.0, "1.0"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1e20, "1e20"),
        (1.5e20, "1.5e20"),
        (1e16, "1e16"),
        (1e15, "1000000000000000.0"),
        (123456789012345.6, "123456789012345.6"),
        (1e-7, "1e-7"),
        (2.5e-7, "2.5e-7"),
        (0.00001, "0.00001"),
        (0.000123, "0.000123"),
        (1e-6, "1e-6"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e308"),
    ],
)
def test_display_scalar(value: Any, text: str) -> None:
    assert display_scalar(value) == text


def test_display_scalar_rejects_containers() -> None:
    with pytest.raises(TypeError):
        display_scalar([1])
    with pytest.raises(TypeError):
        display_scalar({"a": 1})


def test_display_float_non_finite() -> None:
    assert display_float(float("inf")) == "null"
    assert display_float(float("nan")) == "null"


# ------------------------------------------------------------------------------ output


@pytest.mark.parametrize(
    ("char", "entity"),
    [
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("'", "&#x27;"),
        ("`", "&#x60;"),
        ("=", "&#x3D;"),
        ("/", "/"),
        ("é", "é"),
    ],
)
def test_escaping_table(char: str, entity: str) -> None:
    assert render("{{x}}", {"x": f"a{char}b"}) == f"a{entity}b"
    assert render("{{{x}}}", {"x": f"a{char}b"}) == f"a{char}b"
    assert render("{{&x}}", {"x": f"a{char}b"}) == f"a{char}b"


def test_raw_template_text_is_not_escaped() -> None:
    assert render("a=<'b'> & {{x}}", {"x": "="}) == "a=<'b'> & &#x3D;"


def test_proxy_line_escapes() -> None:
    context = {"settings": {"network": {"https-proxy": "http://u:p@h:1/?a=b&c"}}}
    out = render("HTTPS_PROXY={{settings.network.https-proxy}}", context)
    assert out == "HTTPS_PROXY=http://u:p@h:1/?a&#x3D;b&amp;c"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (["a", "b"], "[a, b, ]"),
        ([], "[]"),
        ([1, 2.5, True, None], "[1, 2.5, true, , ]"),
        ([["x"], {"k": 1}], "[[x, ], [object], ]"),
        ({}, "[object]"),
        (1e20, "1e20"),
        (1e-7, "1e-7"),
        (-0.0, "-0.0"),
        (12345678901234567890, "12345678901234567890"),
    ],
)
def test_value_display(value: Any, text: str) -> None:
    assert render("{{{v}}}", {"v": value}) == text


def test_array_elements_are_escaped_as_a_whole() -> None:
    assert render("{{v}}", {"v": ["a=b", "<"]}) == "[a&#x3D;b, &lt;, ]"


# ------------------------------------------------------------------------------ truthiness


@pytest.mark.parametrize(
    ("value", "truthy", "truthy_with_zero"),
    [
        (True, True, True),
        (False, False, False),
        (0, False, True),
        (0.0, False, True),
        (-0.0, False, True),
        (5e-324, False, True),  # subnormal: not a normal float
        (2.2250738585072014e-308, True, True),
        (-3, True, True),
        (0.5, True, True),
        ("", False, False),
        ("0", True, True),
        ("false", True, True),
        ([], False, False),
        ([0], True, True),
        ({}, False, False),
        ({"a": None}, True, True),
        (None, False, False),
    ],
)
def test_truthiness(value: Any, truthy: bool, truthy_with_zero: bool) -> None:
    expected = "T" if truthy else "F"
    assert render("{{#if v}}T{{else}}F{{/if}}", {"v": value}) == expected
    assert render("{{#unless v}}F{{else}}T{{/unless}}", {"v": value}) == expected
    assert render("{{#if (not v)}}F{{else}}T{{/if}}", {"v": value}) == expected
    with_zero = "T" if truthy_with_zero else "F"
    assert render("{{#if v includeZero=true}}T{{else}}F{{/if}}", {"v": value}) == with_zero


def test_include_zero_from_a_path_must_be_boolean_true() -> None:
    template = "{{#if v includeZero=z}}T{{else}}F{{/if}}"
    assert render(template, {"v": 0, "z": True}) == "T"
    assert render(template, {"v": 0, "z": 1}) == "F"
    assert render(template, {"v": 0, "z": "true"}) == "F"


def test_with_without_block_still_checks_its_value() -> None:
    assert render("[{{with o}}]", {"o": {"k": 1}}) == "[]"
    with pytest.raises(RenderError, match="#with"):
        render("{{with o}}", {"o": {}})


def test_with_uses_truthiness() -> None:
    assert render("{{#with o}}x{{else}}E{{/with}}", {"o": {}}) == "E"
    assert render("{{#with o}}{{this}}{{/with}}", {"o": 0.5}) == "0.5"
    with pytest.raises(RenderError, match="#with"):
        render("{{#with o}}x{{/with}}", {"o": {}})
    with pytest.raises(RenderError, match="#with"):
        render("{{#with o}}x{{/with}}", {"o": 0})


# ------------------------------------------------------------------------------ paths, scopes


def test_path_forms() -> None:
    context = {
        "a": {"b": {"c": "deep"}, "with space": "sp", "k-1": "hy", "ä": "uni"},
        "list": ["zero", "one", {"n": "obj"}],
    }
    assert render("{{a.b.c}} {{a/b/c}} {{this.a.b.c}} {{./a.b.c}}", context) == ("deep deep deep deep")
    assert render("{{a.[with space]}} {{[a].[k-1]}} {{a.ä}}", context) == "sp hy uni"
    assert render("{{list.0}} {{list.[1]}} {{list.2.n}}", context) == "zero one obj"


def test_non_numeric_segment_on_array_is_an_error() -> None:
    with pytest.raises(RenderError, match="array"):
        render("{{list.first}}", {"list": [1]})
    with pytest.raises(RenderError, match="array"):
        render("{{#if list.first}}x{{/if}}", {"list": [1]})


def test_out_of_range_index_and_scalar_segments_are_missing() -> None:
    assert render("{{#if list.5}}x{{else}}missing{{/if}}", {"list": [1]}) == "missing"
    assert render("{{#if s.len}}x{{else}}missing{{/if}}", {"s": "str"}) == "missing"
    with pytest.raises(RenderError, match=r'Variable "list\.5" not found'):
        render("{{list.5}}", {"list": [1]})
    with pytest.raises(RenderError, match=r'"n\.x" not found'):
        render("{{n.x}}", {"n": None})


def test_this_in_each_and_at_root() -> None:
    assert render("{{this}}", "top") == "top"
    assert render("{{#each l}}<{{this}}|{{./this}}>{{/each}}", {"l": ["a", "b"]}) == "<a|a><b|b>"


def test_parent_scopes() -> None:
    context = {
        "x": "root",
        "outer": [{"x": "o1", "inner": [{"x": "i1"}]}],
    }
    template = (
        "{{#each outer}}{{#each inner}}"
        "{{x}}/{{../x}}/{{../../x}}/{{@root.x}}"
        "{{#if x}}[{{../x}}]{{/if}}"
        "{{#with this}}({{../x}}){{/with}}"
        "{{/each}}{{/each}}"
    )
    assert render(template, context) == "i1/o1/root/root[o1](i1)"


def test_parent_deeper_than_available_is_the_current_scope() -> None:
    assert render("{{../x}}|{{../../../x}}", {"x": "top"}) == "top|top"
    assert render("{{#each l}}{{../../../this}}{{/each}}", {"l": ["a"]}) == "a"


def test_no_implicit_parent_lookup_inside_with() -> None:
    with pytest.raises(RenderError, match='"top" not found'):
        render("{{#with o}}{{top}}{{/with}}", {"o": {"k": 1}, "top": 1})


def test_local_variable_forms() -> None:
    out = render(
        "{{#each a}}{{#each b}}{{@../index}}.{{@index}}{{@index.x}} {{/each}}{{/each}}",
        {"a": [{"b": [1, 2]}, {"b": [3]}]},
    )
    assert out == "0.00 0.11 1.00 "
    # @root alone is the local variable "root", which does not exist
    with pytest.raises(RenderError, match='"@root" not found'):
        render("{{@root}}", {"root": 1})


def test_block_params_are_found_through_this() -> None:
    out = render("{{#each l as |v|}}{{this.v}}{{v}}{{/each}}", {"l": [{"v": "x"}]})
    assert out == "[object][object]"


def test_root_paths() -> None:
    context = {"settings": {"a": 1}, "l": [1, 2]}
    assert render("{{#each l}}{{@root.settings.a}}{{/each}}", context) == "11"
    assert render("{{#each l}}{{#each @root.l}}{{this}}{{/each}};{{/each}}", context) == "12;12;"


def test_each_locals() -> None:
    out = render(
        "{{#each l}}{{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}",
        {"l": ["a", "b", "c"]},
    )
    assert out == "0F 1 2L "
    out = render(
        "{{#each o}}{{@key}}={{this}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}",
        {"o": {"z": 1, "a": 2, "m": 3}},
    )
    assert out == "z=1F a=2 m=3L "


def test_locals_belong_to_the_innermost_each() -> None:
    out = render(
        "{{#each a}}{{#each b}}{{@index}}{{/each}}{{@index}};{{/each}}",
        {"a": [{"b": [1, 2]}, {"b": [3]}]},
    )
    assert out == "010;01;"
    with pytest.raises(RenderError, match='"@index" not found'):
        render("{{#each l}}{{#with this}}{{@index}}{{/with}}{{/each}}", {"l": [{"a": 1}]})
    with pytest.raises(RenderError, match='"@key" not found'):
        render("{{@key}}", {})


def test_block_params() -> None:
    context = {"l": [{"n": "a"}, {"n": "b"}], "o": {"k1": "v1", "k2": "v2"}}
    assert render("{{#each l as |item i|}}{{i}}:{{item.n}} {{/each}}", context) == "0:a 1:b "
    assert render("{{#each o as |v k|}}{{k}}={{v}} {{/each}}", context) == "k1=v1 k2=v2 "
    assert render("{{#with o as |obj|}}{{obj.k1}}{{/with}}", context) == "v1"
    out = render(
        "{{#each l as |outer|}}{{#each @root.o as |v|}}{{outer.n}}{{v}},{{/each}}{{/each}}",
        context,
    )
    assert out == "av1,av2,bv1,bv2,"


def test_each_else_and_errors() -> None:
    template = "{{#each v}}x{{else}}E{{/each}}"
    value: Any
    for value in (None, "s", 1, True, [], {}):
        assert render(template, {"v": value}) == "E"
    assert render("{{#each v}}x{{/each}}", {"v": []}) == ""
    assert render("{{#each v}}x{{/each}}", {"v": {}}) == ""
    for value in (None, "s", 1, True):
        with pytest.raises(RenderError, match="#each"):
            render("{{#each v}}x{{/each}}", {"v": value})


def test_each_iterates_in_input_order() -> None:
    assert render("{{#each o}}{{@key}}{{/each}}", {"o": {"b": 1, "a": 2, "c": 3}}) == "bac"


# ------------------------------------------------------------------------------ whitespace


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # block open/close/else alone on their lines take the line with them
        ("a\n{{#if t}}\nyes\n{{else}}\nno\n{{/if}}\nb", "a\nyes\nb"),
        ("a\n{{#if f}}\nyes\n{{else}}\nno\n{{/if}}\nb", "a\nno\nb"),
        ("a\n{{#if f}}\nyes\n{{^}}\nno\n{{/if}}\nb", "a\nno\nb"),
        # indentation before and spaces after the tag go too
        ("a\n  \t{{#if t}}  \t\n  x\n    {{/if}} \nb", "a\n  x\nb"),
        # at the template start
        ("  {{#if t}}\nx\n{{/if}}\n", "x\n"),
        # CRLF line ends
        ("a\r\n  {{#each l}}\r\n- {{this}}\r\n  {{/each}}\r\nb", "a\r\n- 1\r\n- 2\r\nb"),
        # two tags on one line: neither is standalone
        ("{{#if t}}{{#if t}}\nx\n{{/if}}{{/if}}\n", "\nx\n\n"),
        # expressions are never standalone
        ("a\n  {{v}}\nb", "a\n  1\nb"),
        ("a\n  {{eq v 1}}\nb", "a\n  true\nb"),
        # comments alone on a line disappear with it; inline ones leave the text intact
        ("a\n  {{! note }}\nb {{!-- x --}} c", "a\nb  c"),
        ("a\n{{!-- has }} inside --}}\nb", "a\nb"),
        # 4.x: a tag followed by the end of the template keeps its line
        ("x\n  {{#if t}}\ny\n  {{/if}}  ", "x\ny\n    "),
        ("x\n{{! c }}", "x\n"),
        # only one newline is removed after a standalone tag
        ("{{#if t}}\n\nx{{/if}}", "\nx"),
        # 4.x: after "~}}" a whitespace-only text is dropped whole, so the standalone line
        # removal waits for the next text kept, past any expressions in between …
        ("{{#if t~}}\n  {{v}}\n{{/if}}\nz", "1z"),
        ("{{#if t~}}\n  {{v}}\nq\n{{/if}}\nz", "1q\nz"),
        ("{{#if t~}}\n  {{v~}}\n  {{v}}\nq\n{{/if}}\nz", "11q\nz"),
        # … unless a block tag that is not standalone comes first
        ("{{#if t~}}\n  {{v}}{{#if f}}{{/if}}\nq\n{{/if}}\nz", "1\nq\nz"),
        # a lone CR ends a line for the standalone test but is not removed with it (4.x)
        ("{{#if t}}\rx{{/if}}", "\rx"),
        ("a\r  {{#if t}}\nx{{/if}}", "a\rx"),
    ],
)
def test_standalone_lines(template: str, expected: str) -> None:
    assert render(template, {"t": True, "f": False, "v": 1, "l": [1, 2]}) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("a \n\t{{~v}} b", "a1 b"),
        ("a {{v~}} \n b", "a 1b"),
        ("a {{~v~}} b", "a1b"),
        ("a\n{{~#if t~}}\n x \n{{~else~}}\n y \n{{~/if~}}\n b", "axb"),
        ("a\n{{~#if f~}}\n x \n{{~else~}}\n y \n{{~/if~}}\n b", "ayb"),
        ("a {{~{v}~}} b", "a1b"),
        ("a {{{~v~}}} b", "a1b"),
        # 4.x quirk: a comment keeps the ~}} of the tag before it in force
        ("a {{v~}} b {{! c }} d", "a 1b d"),
        ("a {{v~}} b {{! c }} d {{v}} e", "a 1b d 1 e"),
        ("a {{~&v~}} b", "a1b"),
        # all Unicode whitespace (as Rust defines it) is trimmed
        ("a\u3000\u00a0\u2028{{~v~}}\u0085\u2003b", "a1b"),
        # … but not the ASCII separator controls, which Rust does not count as whitespace
        ("a\x1c{{~v}}", "a\x1c1"),
        # ~ only reaches the immediately adjacent text
        ("a {{v}}{{~v}} b", "a 11 b"),
    ],
)
def test_tilde_whitespace_control(template: str, expected: str) -> None:
    assert render(template, {"t": True, "f": False, "v": 1}) == expected


def test_tilde_and_standalone_together() -> None:
    template = "list:\n{{#each l~}}\n  - {{this}}\n{{/each}}\nend"
    assert render(template, {"l": [1, 2]}) == "list:\n- 1\n- 2\nend"


# ------------------------------------------------------------------------------ syntax


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{{{raw}}}}{{x}} {{#if}}{{{{/raw}}}}!", "{{x}} {{#if}}!"),
        ("a\n{{{{raw}}}}\n{{x}}\n{{{{/raw}}}}\nb", "a\n{{x}}\nb"),
        ("{{{{raw}}}} \\{{{{x}}}} {{{{/raw}}}}", "{{{{x}}}} "),
        # the body never starts with whitespace (4.x)
        ("{{{{raw}}}} \t\n x{{{{/raw}}}}", "x"),
        ("{{#raw}}{{x}}{{/raw}}", "1"),
        ("\\{{x}} {{x}}", "{{x}} 1"),
        ("\\{{{{x}}}} {{x}}", "{{{{x}}}} 1"),
        ("\\\\{{x}}", "\\1"),
        ("\\\\\\{{x}}", "\\\\1"),
        ("a \\ b", "a \\ b"),
    ],
)
def test_raw_blocks_and_escaped_mustaches(template: str, expected: str) -> None:
    assert render(template, {"x": 1}) == expected


def test_call_syntax_variants() -> None:
    fn = Recorder("")
    helpers = {"h": Helper("h", HelperKind.STRING, fn)}
    render("{{h 1 k = 2 'b'}}{{h(h)\"s\"}}", {}, helpers)
    assert [(p, h) for p, h in fn.calls] == [
        ([Param(1), Param("b")], {"k": 2}),
        ([], {}),
        ([Param(""), Param("s")], {}),
    ]
    assert render("{{{{raw}}}}x{{{{/raw}}}}{{ #if t }}y{{ else }}n{{ /if }}", {"t": 1}) == "xy"


def test_subexpression_as_the_whole_expression() -> None:
    helpers = {"v": Helper("v", HelperKind.VALUE, lambda p, h: p[0].value)}
    assert render('{{(v "<")}}{{{(v "<")}}}{{(v l)}}', {"l": [1]}, helpers) == "&lt;<[1, ]"


def test_negative_zero_literal_is_a_float() -> None:
    assert render("{{#each [-0, 0]}}{{this}} {{/each}}{{eq -0 0}} {{eq 0 0}}") == ("-0.0 0 false true")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{eq s "a\\"b"}}', "true"),
        ("{{eq s 'a\"b'}}", "true"),
        ("{{eq n -1}}", "false"),
        ("{{eq i -1}}", "true"),
        ("{{eq f 1.5}}", "true"),
        ("{{eq e 2E3}}", "true"),
        ("{{eq e 2000}}", "false"),
        ("{{eq b true}}", "true"),
        ("{{eq z null}}", "true"),
        ("{{len [1, 2, 3]}}", "3"),
        ('{{len {"a": 1, "b": [2]} }}', "2"),
        ('{{len "héllo"}}', "6"),
        ("{{lookup l 1}}", "y"),
        ('{{lookup o "k"}}', "v"),
        ("{{#if (and (eq i -1) (not z))}}T{{/if}}", "T"),
        ("{{#if (or z (gt i -5))}}T{{/if}}", "T"),
        ('{{len (lookup o "k")}}', "1"),
    ],
)
def test_literals_and_subexpressions(template: str, expected: str) -> None:
    context = {
        "s": 'a"b',
        "n": 1,
        "i": -1,
        "f": 1.5,
        "e": 2000.0,
        "b": True,
        "z": None,
        "l": ["x", "y"],
        "o": {"k": "v"},
    }
    assert render(template, context) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{#if x}}open", "never closed"),
        ("{{#if x}}a{{/each}}", "does not match"),
        ("a{{/if}}", "no matching opening"),
        ("{{else}}", "outside of a block"),
        ("{{#if x}}a{{else}}b{{else}}c{{/if}}", "only one"),
        ("{{x", "Unclosed tag"),
        ('{{eq x "abc}}', "Unterminated string"),
        ("{{> partial}}", "Partials"),
        ("{{#> layout}}{{/layout}}", "Partial"),
        ("{{* deco}}", "Decorators"),
        ("{{!-- never closed", "Unclosed comment"),
        ("{{{{raw}}}}abc", "never closed"),
        ("{{a.}}", "Invalid path"),
        ("{{.}}", "Invalid path"),
        ("{{..}}", "Invalid path"),
        ("{{a.b c}}", "cannot name a helper"),
        ("{{#a.b}}x{{/a.b}}", "cannot name a helper"),
        ("{{#if (a.b c)}}x{{/if}}", "cannot name a helper"),
        ("{{&x y}}", "without arguments"),
        ("{{~! c }}", "Expected a name"),
        ("{{eq x 'bad \\q'}}", "Invalid string literal"),
        ('{{eq x "line\nbreak"}}', "Invalid string literal"),
        ("{{eq x 01}}", "Invalid number"),
        ("{{eq x 1.}}", "Invalid number"),
        ("{{eq x [1, 'a']}}", "Invalid literal"),
        ("{{foo as}}", "keyword"),
        ("{{{{raw}}}}a{{{{/other}}}}", "does not match"),
        ("{{{{raw}}}}a{{{{b}}}}{{{{/raw}}}}", "must be closed"),
    ],
)
def test_syntax_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=message):
        compile_template(template)


def test_syntax_error_position() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_template("line one\n  {{#if x}}\n{{/each}}")
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "line 2, column 3" in str(caught.value)


def test_render_error_position() -> None:
    with pytest.raises(RenderError) as caught:
        render("ok\nok {{missing}}")
    assert (caught.value.line, caught.value.column) == (2, 6)
    assert isinstance(caught.value, EngineError)


# ------------------------------------------------------------------------------ built-ins


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{eq 1 1}} {{eq 1 2}} {{ne 1 2}} {{ne 1 1}}", "true false true false"),
        ('{{eq "a" "a"}} {{eq 1 "1"}} {{eq true 1}} {{eq 0 false}}', "true false false false"),
        ("{{eq l l}} {{eq o o}}", "true true"),
        ("{{gt 2 1}} {{gt 1 1}} {{gte 1 1}} {{lt 1 2}} {{lte 2 1}}", "true false true true false"),
        ("{{gt -1 -2}}", "true"),
        ("{{and 1 0}} {{and 1 1}} {{or 0 0}} {{or 0 1}} {{or 0 0 1}}", "false true false true false"),
        ("{{not 0}} {{not 1}} {{not l}}", "true false false"),
        ("{{len l}} {{len o}} {{len 5}} {{len true}} {{len z}}", "2 1 0 0 0"),
        ("{{eq 1 1 extra}}", "true"),
        ("[{{log 'hello' 1}}]", "[]"),
    ],
)
def test_value_builtins(template: str, expected: str) -> None:
    context = {"l": [1, 2], "o": {"a": 1}, "z": None}
    assert render(template, context) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{gt 1.5 1}}", "integer"),
        ("{{gt 1 true}}", "integer"),
        ('{{lt "1" 2}}', "integer"),
        ("{{gte 1 null}}", "integer"),
        ("{{gt 9223372036854775808 1}}", "integer"),
        ("{{eq 1}}", "couldn't read parameter y"),
        ("{{not}}", "couldn't read parameter x"),
        ("{{and missing 1}}", "couldn't read parameter x"),
        ("{{len missing}}", "not found in strict mode"),
        ("{{lookup o}}", "two parameters"),
        ('{{lookup o "zz"}}', "no value"),
        ('{{lookup o "n"}}', "no value"),
        ("{{lookup l 5}}", "no value"),
        ('{{lookup l "0"}}', "no value"),
        ("{{lookup missing 0}}", "no value"),
        ("{{#if}}x{{/if}}", "needs a parameter"),
        ("{{#each}}x{{/each}}", "needs a parameter"),
    ],
)
def test_builtin_errors(template: str, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render(template, {"o": {"n": None}, "l": [1]})


def test_every_parameter_is_evaluated_even_if_unused() -> None:
    # 4.x evaluates all parameters before calling a helper: an error in an extra one counts
    with pytest.raises(RenderError, match="lookup"):
        render("{{not b (lookup o)}}", {"b": False, "o": {}})
    with pytest.raises(RenderError, match="array"):
        render("{{#if b l.x}}y{{/if}}", {"b": True, "l": []})


def test_log_writes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="thar.schnauzer.engine"):
        assert render('{{log "seen" v level="warn"}}', {"v": [1]}) == ""
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.WARNING, "seen, v: [1, ]")]
    with pytest.raises(RenderError, match="Unsupported logging level"):
        render('{{log "x" level="loud"}}')


def test_else_if_is_not_a_chain() -> None:
    template = "{{#if a}}A{{else if b}}B{{else}}C{{/if}}"
    assert render(template, {"a": False, "b": True}) == "C"
    assert render(template, {"a": False, "b": False}) == "C"
    with pytest.raises(RenderError, match='Helper not defined: "else"'):
        render(template, {"a": True, "b": True})


@pytest.mark.parametrize(
    "template",
    [
        "{{nope 1}}",
        "{{#nope}}x{{/nope}}",
        "{{#if (nope)}}x{{/if}}",
        "{{#if (a.b)}}x{{/if}}",
        "{{nope k=1}}",
        "{{{{nope}}}}x{{{{/nope}}}}",
    ],
)
def test_helper_not_defined(template: str) -> None:
    with pytest.raises(RenderError, match="Helper not defined"):
        render(template, {"nope": 1, "a": {"b": 1}})


def test_name_without_arguments_is_a_path_unless_a_helper() -> None:
    assert render("{{nope}}", {"nope": "value"}) == "value"


# ------------------------------------------------------------------------------ non-strict


def test_non_strict_mode() -> None:
    context = {"o": {}, "l": [1]}
    assert render("[{{missing}}][{{{o.x.y}}}]", context, strict=False) == "[][]"
    assert render("[{{#each missing}}x{{/each}}]", context, strict=False) == "[]"
    assert render("[{{#with missing}}x{{/with}}]", context, strict=False) == "[]"
    assert render("[{{eq missing null}}]", context, strict=False) == "[true]"
    assert render('[{{lookup o "k"}}]', context, strict=False) == "[]"
    assert render("[{{#each l}}{{@key}}{{/each}}]", context, strict=False) == "[]"
    with pytest.raises(RenderError, match="integer"):
        render("{{gt missing 1}}", context, strict=False)


# ------------------------------------------------------------------------------ custom helpers


class Recorder:
    """Records each call's parameters and hash; returns a fixed result."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.calls: list[tuple[list[Param], dict[str, Any]]] = []

    def __call__(self, params: list[Param], hash_args: Mapping[str, Any]) -> Any:
        self.calls.append((list(params), dict(hash_args)))
        return self.result


def test_string_helper_output_is_never_escaped() -> None:
    fn = Recorder("<a href='x'>&</a>")
    helpers = {"s": Helper("s", HelperKind.STRING, fn)}
    out = render("{{s}}|{{{s}}}|{{s 1}}", {}, helpers)
    assert out == "<a href='x'>&</a>|<a href='x'>&</a>|<a href='x'>&</a>"
    assert len(fn.calls) == 3


def test_string_helper_as_subexpression_is_a_string() -> None:
    helpers = {"s": Helper("s", HelperKind.STRING, Recorder("false"))}
    # "false" as a string is truthy; typed false would not be
    assert render("{{#if (s)}}T{{else}}F{{/if}} {{eq (s) 'false'}}", {}, helpers) == "T true"


def test_string_helper_block_call_ignores_the_block() -> None:
    fn = Recorder("out")
    helpers = {"join_map": Helper("join_map", HelperKind.STRING, fn)}
    assert render("[{{#join_map m}}BLOCK{{else}}INV{{/join_map}}]", {"m": {}}, helpers) == "[out]"
    assert len(fn.calls) == 1


def test_value_helper_is_escaped_and_typed() -> None:
    helpers = {
        "v": Helper("v", HelperKind.VALUE, Recorder(False)),
        "arr": Helper("arr", HelperKind.VALUE, Recorder(["a=", {"k": 1}])),
        "html": Helper("html", HelperKind.VALUE, Recorder("<b>")),
    }
    assert render("{{v}} {{arr}} {{html}} {{{html}}}", {}, helpers) == ("false [a&#x3D;, [object], ] &lt;b&gt; <b>")
    assert render("{{#if (v)}}T{{else}}F{{/if}}", {}, helpers) == "F"
    assert render("{{len (arr)}}", {}, helpers) == "2"


def test_params_carry_values_paths_and_missing() -> None:
    fn = Recorder("")
    helpers = {"h": Helper("h", HelperKind.STRING, fn)}
    context = {"settings": {"oci-defaults": {"capabilities": {"chown": True}}}, "n": None}
    render(
        '{{h settings.oci-defaults.capabilities "lit" 3 n absent (h) this.n k=n j="x" m=gone}}',
        context,
        helpers,
    )
    params, hash_args = fn.calls[-1]
    assert params == [
        Param({"chown": True}, False, "settings.oci-defaults.capabilities"),
        Param("lit", False, None),
        Param(3, False, None),
        Param(None, False, "n"),
        Param(None, True, "absent"),
        Param("", False, None),
        Param(None, False, "this.n"),
    ]
    assert hash_args == {"k": None, "j": "x", "m": None}


def test_param_paths_are_written_forms() -> None:
    fn = Recorder("")
    helpers = {"h": Helper("h", HelperKind.STRING, fn)}
    render("{{#each l}}{{h ../a @root.a @index this [x y]}}{{/each}}", {"a": 1, "l": [{"x y": 2}]}, helpers)
    assert [p.path for p in fn.calls[0][0]] == ["../a", "@root.a", "@index", "this", "[x y]"]
    assert [p.value for p in fn.calls[0][0]] == [1, 1, 0, {"x y": 2}, 2]


def test_strict_params() -> None:
    strict_fn = Recorder(True)
    loose_fn = Recorder(True)
    helpers = {
        "strict": Helper("strict", HelperKind.VALUE, strict_fn, strict_params=1),
        "loose": Helper("loose", HelperKind.VALUE, loose_fn),
    }
    with pytest.raises(RenderError, match=r'"x\.y" not found in strict mode'):
        render("{{strict x.y}}", {}, helpers)
    assert strict_fn.calls == []
    assert render("{{loose x.y}}", {}, helpers) == "true"
    assert loose_fn.calls[0][0] == [Param(None, True, "x.y")]
    # non-strict rendering passes the missing parameter through
    # only the declared parameters are read strictly: an extra missing one is passed through
    assert render("{{strict 1 x.y}}", {}, helpers) == "true"
    assert strict_fn.calls[0][0] == [Param(1, False, None), Param(None, True, "x.y")]
    strict_fn.calls.clear()
    assert render("{{strict x.y}}", {}, helpers, strict=False) == "true"
    assert strict_fn.calls[0][0] == [Param(None, True, "x.y")]


def test_condition_helper() -> None:
    helpers = {"if_not_null": Helper("if_not_null", HelperKind.CONDITION, lambda p, h: p[0].value is not None)}
    template = "{{#each l}}{{#if_not_null this.v}}[{{this.v}}{{../top}}]{{else}}-{{/if_not_null}}{{/each}}"
    context = {"top": "T", "l": [{"v": 0}, {"v": None}, {"v": ""}, {}]}
    assert render(template, context, helpers) == "[0T]-[T]-"
    assert render("[{{#if_not_null n}}x{{/if_not_null}}]", {"n": None}, helpers) == "[]"
    assert render("[{{if_not_null n}}]", {"n": 1}, helpers) == "[]"
    assert render("[{{len (if_not_null n)}}]", {"n": 1}, helpers) == "[0]"


def test_helper_errors_name_the_helper() -> None:
    def failing(params: list[Param], hash_args: Mapping[str, Any]) -> str:
        raise HelperError("parameter 'x' must be a string, got 5")

    def buggy(params: list[Param], hash_args: Mapping[str, Any]) -> str:
        raise KeyError("oops")

    helpers = {
        "fails": Helper("fails", HelperKind.STRING, failing),
        "buggy": Helper("buggy", HelperKind.STRING, buggy),
        "wrong": Helper("wrong", HelperKind.STRING, Recorder(5)),
    }
    with pytest.raises(RenderError, match="Helper \"fails\" failed: parameter 'x'"):
        render("ok {{fails 5}}", {}, helpers)
    with pytest.raises(RenderError, match='Helper "buggy" failed unexpectedly: KeyError'):
        render("{{buggy}}", {}, helpers)
    with pytest.raises(RenderError, match='Helper "wrong" returned int'):
        render("{{wrong}}", {}, helpers)


def test_custom_helper_takes_precedence_over_context_names() -> None:
    helpers = {"name": Helper("name", HelperKind.STRING, Recorder("helper"))}
    assert render("{{name}} {{this.name}}", {"name": "value"}, helpers) == "helper value"


# ------------------------------------------------------------------------------ API


def test_compile_is_cached_by_source() -> None:
    first = compile_template("cached {{x}}")
    assert compile_template("cached {{x}}") is first
    assert compile_template("cached {{y}}") is not first
    assert isinstance(first, Template)


def test_render_does_not_modify_the_context() -> None:
    context = {"l": [{"a": [1, 2]}, {"a": []}], "o": {"k": {"n": None}}}
    before = copy.deepcopy(context)
    helpers = {"h": Helper("h", HelperKind.VALUE, lambda p, h: p[0].value)}
    out = render(
        "{{#each l as |x i|}}{{#each x.a}}{{this}}{{/each}}{{else}}{{/each}}{{#with o}}{{h k}}{{/with}}",
        context,
        helpers,
    )
    assert out == "12[object]"
    assert context == before


def test_template_renders_many_times() -> None:
    template = compile_template("{{#each l}}{{this}}{{/each}}")
    assert [template.render({"l": list(range(n))}, {}) for n in range(4)] == [
        "",
        "0",
        "01",
        "012",
    ]
