"""Values (spec §2) and nested JSON ⇄ flat dotted keys (spec §6)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thar.datastore import (
    Deserialization,
    Key,
    KeyType,
    Serialization,
    from_map,
    from_map_with_prefix,
    to_json,
    to_pairs,
    to_pairs_with_prefix,
)

SEGMENT_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/."
KEY_ERROR_PREFIX = "Error creating valid datastore key"


def flat(pairs: dict[Key, str]) -> dict[str, str]:
    """The pairs as ``{key name: stored string}``; every key must be a data key."""
    assert all(isinstance(key, Key) and key.type is KeyType.DATA for key in pairs)
    return {key.name: value for key, value in pairs.items()}


def keys(mapping: dict[str, str]) -> dict[Key, str]:
    """``{name: stored}`` as ``{Key: stored}``, for deserialization inputs."""
    return {Key(name): value for name, value in mapping.items()}


def strict(value: Any) -> str:
    """A type-strict, order-insensitive rendering, so ``True`` and ``1`` do not compare equal."""
    return json.dumps(value, sort_keys=True)


# -- §6.1 the examples table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"list": [3, 4, 5], "boolean": True}, {"list": "[3,4,5]", "boolean": "true"}),
        ({}, {}),
        (
            {"id": 42, "b": {"list": [5, 6, 7], "boolean": True}},
            {"id": "42", "b.list": "[5,6,7]", "b.boolean": "true"},
        ),
        ({"A": {"id": 42, "ie": 43}}, {"A.id": "42", "A.ie": "43"}),
        ({"A": {"id": "apples"}}, {"A.id": '"apples"'}),
    ],
    ids=["list-and-bool", "empty", "nested", "nested-map", "string"],
)
def test_to_pairs_without_prefix_flattens_objects(value: Any, expected: dict[str, str]) -> None:
    assert flat(to_pairs(value)) == expected


@pytest.mark.parametrize(
    ("prefix", "value", "expected"),
    [
        ("map", {"A": {"id": 42, "ie": 43}}, {"map.A.id": "42", "map.A.ie": "43"}),
        ("null", None, {}),
        ("bool", True, {"bool": "true"}),
        ("number", 42, {"number": "42"}),
        ("number", 4.2, {"number": "4.2"}),
        ("string", "hello", {"string": '"hello"'}),
        ("array", ["foo", True, 42], {"array": '["foo",true,42]'}),
        ("array", ["foo", None, True, 42], {"array": '["foo",null,true,42]'}),
        (
            "object",
            {"null": None, "bool": True, "object": {"number": 4.2}, "array": ["foo", True, None, 42]},
            {"object.bool": "true", "object.object.number": "4.2", "object.array": '["foo",true,null,42]'},
        ),
        (
            "settings",
            {"kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}}},
            {'settings.kernel.sysctl."net.ipv4.ip_forward"': '"1"'},
        ),
    ],
    ids=["map", "null", "bool", "int", "float", "string", "array", "array-with-null", "object", "sysctl"],
)
def test_to_pairs_with_prefix_table(prefix: str, value: Any, expected: dict[str, str]) -> None:
    assert flat(to_pairs_with_prefix(prefix, value)) == expected


def test_scalar_at_the_root_without_prefix_is_missing_prefix() -> None:
    with pytest.raises(Serialization):
        to_pairs(42)


@pytest.mark.parametrize("value", ["hello", True, 4.2, [1, 2], []], ids=["str", "bool", "float", "list", "empty-list"])
def test_scalar_or_list_at_the_root_without_prefix_is_an_error(value: Any) -> None:
    with pytest.raises(Serialization):
        to_pairs(value)


def test_null_at_the_root_without_prefix_produces_nothing() -> None:
    assert to_pairs(None) == {}


def test_dotted_member_name_becomes_one_quoted_segment() -> None:
    pairs = to_pairs_with_prefix("settings", {"kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}}})
    [key] = pairs
    assert key.segments == ("settings", "kernel", "sysctl", "net.ipv4.ip_forward")
    assert key == Key.from_segments(["settings", "kernel", "sysctl", "net.ipv4.ip_forward"])


def test_dotted_member_name_at_a_non_leaf_position() -> None:
    pairs = to_pairs_with_prefix("settings", {"a.b": {"c": 1}})
    assert flat(pairs) == {'settings."a.b".c': "1"}
    [key] = pairs
    assert key.segments == ("settings", "a.b", "c")


def test_prefix_may_be_a_quoted_key_name() -> None:
    pairs = to_pairs_with_prefix('a."b.c"', {"d": 1})
    assert flat(pairs) == {'a."b.c".d': "1"}
    [key] = pairs
    assert key.segments == ("a", "b.c", "d")


def test_prefix_may_be_a_key() -> None:
    assert flat(to_pairs_with_prefix(Key("settings.motd"), "hi")) == {"settings.motd": '"hi"'}


def test_invalid_prefix_is_an_error() -> None:
    with pytest.raises(Serialization):
        to_pairs_with_prefix("a b", {"c": 1})


def test_produced_keys_compare_by_segments() -> None:
    pairs = to_pairs_with_prefix("settings", {"motd": "hi"})
    assert pairs[Key('"settings"."motd"')] == '"hi"'


# -- §6.1 errors -------------------------------------------------------------------------------

INVALID_MEMBER_NAMES = pytest.mark.parametrize(
    "name",
    ["a b", "a@b", "a:b", "a*b", 'a"b', "é", "日本", ""],
    ids=["space", "at", "colon", "star", "quote", "e-acute", "cjk", "empty"],
)


@INVALID_MEMBER_NAMES
def test_invalid_member_name_with_scalar_value_is_a_key_error(name: str) -> None:
    with pytest.raises(Serialization) as exc:
        to_pairs_with_prefix("settings", {name: 1})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


@INVALID_MEMBER_NAMES
def test_invalid_member_name_without_prefix_is_a_key_error(name: str) -> None:
    with pytest.raises(Serialization) as exc:
        to_pairs({name: "x"})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


@INVALID_MEMBER_NAMES
def test_invalid_member_name_above_a_value_is_a_key_error(name: str) -> None:
    with pytest.raises(Serialization) as exc:
        to_pairs_with_prefix("settings", {"ok": {name: {"leaf": [1]}}})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


def test_one_invalid_member_name_fails_the_whole_operation() -> None:
    with pytest.raises(Serialization) as exc:
        to_pairs_with_prefix("settings", {"good": 1, "b@d": 2, "also-good": 3})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


@pytest.mark.parametrize("value", [None, {}], ids=["null", "empty-object"])
def test_invalid_member_name_is_an_error_even_when_its_value_produces_nothing(value: Any) -> None:
    # §6.1: every object member's name must be non-empty and made of valid characters or ".";
    # an invalid member name makes the whole operation fail.
    with pytest.raises(Serialization) as exc:
        to_pairs_with_prefix("settings", {"bad name": value, "motd": "hi"})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


# -- §6.1 the 255-byte limit on produced keys ----------------------------------------------------


def test_produced_key_of_255_bytes_is_accepted() -> None:
    member = "a" * (255 - len("settings."))
    assert flat(to_pairs_with_prefix("settings", {member: 1})) == {f"settings.{member}": "1"}


def test_produced_key_of_256_bytes_is_a_key_error() -> None:
    member = "a" * (256 - len("settings."))
    with pytest.raises(Serialization) as exc:
        to_pairs_with_prefix("settings", {member: 1})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


def test_quotes_around_a_dotted_member_count_toward_the_limit() -> None:
    member = "a.b" + "c" * (255 - len("settings.") - 2 - 3)
    expected = f'settings."{member}"'
    assert len(expected) == 255
    assert flat(to_pairs_with_prefix("settings", {member: 1})) == {expected: "1"}
    with pytest.raises(Serialization) as exc:
        to_pairs_with_prefix("settings", {member + "c": 1})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


def test_long_nested_key_without_prefix_is_checked() -> None:
    [name] = flat(to_pairs({"a" * 100: {"b" * 100: {"c" * 53: 1}}}))
    assert len(name) == 255
    with pytest.raises(Serialization) as exc:
        to_pairs({"a" * 100: {"b" * 100: {"c" * 54: 1}}})
    assert str(exc.value).startswith(KEY_ERROR_PREFIX)


# -- §6.1 nulls, empty objects, lists --------------------------------------------------------------


def test_nulls_are_dropped_at_any_depth_outside_lists() -> None:
    value = {"a": {"b": {"c": None, "d": 1}, "e": None}, "f": None, "g": {"h": {"i": None}}}
    assert flat(to_pairs_with_prefix("settings", value)) == {"settings.a.b.d": "1"}


def test_nulls_are_dropped_without_prefix_too() -> None:
    assert flat(to_pairs({"a": None, "b": {"c": None}, "d": 2})) == {"d": "2"}


def test_empty_objects_produce_nothing_at_any_depth() -> None:
    assert to_pairs_with_prefix("settings", {"a": {}, "b": {"c": {}}}) == {}


def test_nulls_inside_lists_are_kept_at_any_depth() -> None:
    value = {"l": [None, [None, 1], {"x": None}]}
    assert flat(to_pairs_with_prefix("settings", value)) == {"settings.l": '[null,[null,1],{"x":null}]'}


def test_objects_inside_lists_keep_member_order() -> None:
    value = {"l": [{"z": 1, "a": 2, "m": {"y": 3, "b": 4}}, {"b": 1, "a": 2}]}
    assert flat(to_pairs_with_prefix("settings", value)) == {
        "settings.l": '[{"z":1,"a":2,"m":{"y":3,"b":4}},{"b":1,"a":2}]'
    }


def test_object_member_names_inside_lists_are_not_checked_as_keys() -> None:
    value = {"l": [{"not a key!": "é"}]}
    assert flat(to_pairs_with_prefix("settings", value)) == {"settings.l": '[{"not a key!":"é"}]'}


def test_empty_list_is_stored_as_empty_json_array() -> None:
    assert flat(to_pairs_with_prefix("settings", {"l": []})) == {"settings.l": "[]"}
    assert flat(to_pairs_with_prefix("settings.l", [])) == {"settings.l": "[]"}


def test_stored_values_use_serde_json_formatting() -> None:
    value = {"motd": "héllo/日本\n", "big": 1e20, "small": 1e-7, "list": [1.5, "a/b"]}
    assert flat(to_pairs_with_prefix("settings", value)) == {
        "settings.motd": '"héllo/日本\\n"',
        "settings.big": "1e20",
        "settings.small": "1e-7",
        "settings.list": '[1.5,"a/b"]',
    }


# -- §6.2 deserialization -------------------------------------------------------------------------


def test_from_map_with_prefix_strips_the_prefix() -> None:
    assert strict(from_map_with_prefix(keys({"x.boolean": "true"}), "x")) == strict({"boolean": True})


def test_from_map_with_no_prefix_is_bad_root() -> None:
    with pytest.raises(Deserialization):
        from_map_with_prefix(keys({"x.boolean": "true"}), None)


def test_values_are_parsed_leniently() -> None:
    assert from_map_with_prefix(keys({"x.list": "[1,2, 3, 4]"}), "x") == {"list": [1, 2, 3, 4]}
    assert from_map_with_prefix(keys({"x.obj": ' { "a" : 1 } '}), "x") == {"obj": {"a": 1}}


def test_stored_null_becomes_none() -> None:
    assert from_map_with_prefix(keys({"x.n": "null"}), "x") == {"n": None}


def test_keys_are_nested_by_segment() -> None:
    pairs = keys(
        {
            "settings.motd": '"hi"',
            "settings.ntp.time-servers": '["a","b"]',
            "settings.kernel.lockdown": '"integrity"',
            "settings.kernel.modules.m1.allowed": "false",
            "settings.n": "4.2",
        }
    )
    expected = {
        "motd": "hi",
        "ntp": {"time-servers": ["a", "b"]},
        "kernel": {"lockdown": "integrity", "modules": {"m1": {"allowed": False}}},
        "n": 4.2,
    }
    assert strict(from_map_with_prefix(pairs, "settings")) == strict(expected)


def test_quoted_dotted_leaf_segment_becomes_raw_member_name() -> None:
    pairs = keys({'settings.kernel.sysctl."net.ipv4.ip_forward"': '"1"'})
    assert from_map_with_prefix(pairs, "settings") == {"kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}}}


def test_quoted_dotted_segment_at_non_leaf_position_becomes_raw_member_name() -> None:
    pairs = keys({'settings."a.b".c': "1", 'settings."a.b".d."e.f"': "2"})
    assert from_map_with_prefix(pairs, "settings") == {"a.b": {"c": 1, "d": {"e.f": 2}}}


def test_differently_quoted_keys_of_one_path_nest_by_segments() -> None:
    pairs = {Key('"settings".a.b'): "1", Key.from_segments(["settings", "a", "c"]): "2"}
    assert from_map_with_prefix(pairs, "settings") == {"a": {"b": 1, "c": 2}}


def test_prefix_may_be_quoted_or_a_key() -> None:
    pairs = keys({'a."b.c".d': "1"})
    assert from_map_with_prefix(pairs, 'a."b.c"') == {"d": 1}
    assert from_map_with_prefix(pairs, Key.from_segments(["a", "b.c"])) == {"d": 1}


def test_multi_segment_prefix_is_stripped_by_segments() -> None:
    pairs = keys({"settings.kernel.sysctl.a": '"1"', "settings.kernel.sysctl.b": '"2"'})
    assert from_map_with_prefix(pairs, "settings.kernel.sysctl") == {"a": "1", "b": "2"}


def test_from_map_defaults_the_prefix_to_settings() -> None:
    assert from_map(keys({"settings.motd": '"hi"'})) == {"motd": "hi"}


def test_empty_map_gives_empty_object() -> None:
    assert from_map_with_prefix({}, "settings") == {}


@pytest.mark.parametrize(
    "names",
    [
        ["settings.a", "settings.a.b"],
        ["settings.a.b", "settings.a"],
        ["settings.a.b", "settings.a.b.c.d"],
        ["settings.a.b.c.d", "settings.a.b"],
    ],
    ids=["leaf-first", "prefix-first", "deep-leaf-first", "deep-prefix-first"],
)
def test_key_that_is_both_leaf_and_prefix_is_an_error(names: list[str]) -> None:
    pairs = {Key(name): "1" for name in names}
    with pytest.raises(Deserialization):
        from_map_with_prefix(pairs, "settings")


def test_leaf_holding_an_object_and_a_deeper_key_conflict() -> None:
    for order in (
        [("settings.a", '{"b":1}'), ("settings.a.c", "2")],
        [("settings.a.c", "2"), ("settings.a", '{"b":1}')],
    ):
        with pytest.raises(Deserialization):
            from_map_with_prefix({Key(name): value for name, value in order}, "settings")


def test_stored_object_value_is_returned_as_an_object() -> None:
    assert from_map_with_prefix(keys({"settings.a": '{"b":{"c":1}}'}), "settings") == {"a": {"b": {"c": 1}}}


# -- §2 to_json: byte-exact serde_json output ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Welcome", '"Welcome"'),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (42, "42"),
        (-7, "-7"),
        (0, "0"),
        (4.2, "4.2"),
        (["a", "b"], '["a","b"]'),
        ([], "[]"),
        ({}, "{}"),
        ({"a": 1, "b": [1, 2], "c": {"d": None}}, '{"a":1,"b":[1,2],"c":{"d":null}}'),
        ([True, None, "x", 1], '[true,null,"x",1]'),
    ],
    ids=[
        "string",
        "true",
        "false",
        "null",
        "int",
        "negative",
        "zero",
        "float",
        "list",
        "empty-list",
        "empty-object",
        "object",
        "mixed-list",
    ],
)
def test_to_json_is_compact(value: Any, expected: str) -> None:
    assert to_json(value) == expected


def test_to_json_keeps_object_member_order() -> None:
    assert to_json({"z": 1, "a": 2, "m": 3}) == '{"z":1,"a":2,"m":3}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("é", '"é"'),
        ("日本", '"日本"'),
        ("a/b", '"a/b"'),
        ("😀", '"😀"'),
        ("\u2028\u2029", '"\u2028\u2029"'),
        ("\x7f", '"\x7f"'),
        ("\u00a0", '"\u00a0"'),
    ],
    ids=["e-acute", "cjk", "slash", "emoji", "line-separators", "del", "nbsp"],
)
def test_to_json_writes_non_ascii_and_slash_raw(text: str, expected: str) -> None:
    assert to_json(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', '"\\""'),
        ("\\", '"\\\\"'),
        ("\b", '"\\b"'),
        ("\t", '"\\t"'),
        ("\n", '"\\n"'),
        ("\f", '"\\f"'),
        ("\r", '"\\r"'),
        ("\x00", '"\\u0000"'),
        ("\x01", '"\\u0001"'),
        ("\x0b", '"\\u000b"'),
        ("\x1b", '"\\u001b"'),
        ("\x1f", '"\\u001f"'),
    ],
    ids=["quote", "backslash", "bs", "tab", "lf", "ff", "cr", "nul", "soh", "vt", "esc", "us"],
)
def test_to_json_escapes_only_quote_backslash_and_control_characters(text: str, expected: str) -> None:
    assert to_json(text) == expected


def test_to_json_escapes_in_object_member_names_and_lists() -> None:
    assert to_json({"a\nb": ["é\t", "\x1f"]}) == '{"a\\nb":["é\\t","\\u001f"]}'
    assert to_json({"é\x1b": 1.0}) == '{"é\\u001b":1.0}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e20, "1e20"),
        (1e-7, "1e-7"),
        (0.00001, "0.00001"),
        (0.000001, "1e-6"),
        (1e16, "1e16"),
        (1e15, "1000000000000000.0"),
        (4.2, "4.2"),
        (1.0, "1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (100.0, "100.0"),
        (0.1, "0.1"),
        (1.5e300, "1.5e300"),
        (123456.789e3, "123456789.0"),
        (123.456, "123.456"),
        (-1e20, "-1e20"),
        (1.2345e20, "1.2345e20"),
        (1.5e-7, "1.5e-7"),
        (0.001234, "0.001234"),
        (1.234e-5, "0.00001234"),
        (1.234e-6, "1.234e-6"),
        (9007199254740992.0, "9007199254740992.0"),
        (12345678901234567.0, "1.2345678901234568e16"),
        (1234567890123456.7, "1234567890123456.8"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e308"),
        (2.5e-5, "0.000025"),
    ],
    ids=lambda v: repr(v) if isinstance(v, float) else None,
)
def test_to_json_formats_floats_like_ryu(value: float, expected: str) -> None:
    assert to_json(value) == expected


def test_to_json_formats_floats_inside_containers() -> None:
    assert to_json([1.5, 1e20, 1, True]) == "[1.5,1e20,1,true]"
    assert to_json({"a": 1e-7, "b": ["x", 2.0], "c": {"d": 1e16}}) == '{"a":1e-7,"b":["x",2.0],"c":{"d":1e16}}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_to_json_writes_non_finite_floats_as_null(value: float) -> None:
    assert to_json(value) == "null"
    assert to_json([value, 1]) == "[null,1]"
    assert to_json({"v": value}) == '{"v":null}'


# -- Properties ------------------------------------------------------------------------------------

member_names = st.text(alphabet=SEGMENT_ALPHABET, min_size=1, max_size=8)
scalars = st.one_of(st.text(max_size=10), st.integers(), st.booleans())
leaves = st.one_of(scalars, st.lists(scalars, max_size=4))
nested_values = st.recursive(
    leaves, lambda children: st.dictionaries(member_names, children, min_size=1, max_size=4), max_leaves=12
)
settings_objects = st.dictionaries(member_names, nested_values, min_size=1, max_size=4)


@settings(max_examples=100)
@given(settings_objects)
def test_to_pairs_then_from_map_round_trips(value: dict[str, Any]) -> None:
    pairs = to_pairs_with_prefix("settings", value)
    assert all(key.segments[0] == "settings" for key in pairs)
    assert all(Key(key.name) == key for key in pairs)
    result = from_map_with_prefix(pairs, "settings")
    assert result == value
    assert strict(result) == strict(value)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=150)
@given(json_values)
def test_to_json_round_trips_through_json_loads(value: Any) -> None:
    text = to_json(value)
    assert strict(json.loads(text)) == strict(value)
    assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


RYU_FORM = re.compile(r"-?(\d+\.\d+|\d(\.\d+)?e-?\d+)")


@settings(max_examples=300)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_to_json_of_a_finite_float_parses_back_to_the_same_float(value: float) -> None:
    text = to_json(value)
    assert float(text) == value
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, value)
    assert RYU_FORM.fullmatch(text), text
    assert "+" not in text
