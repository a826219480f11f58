"""Datastore keys (spec §1): parsing names, quoting, segments, error texts and key arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thar.datastore import MAX_KEY_NAME_LENGTH, InvalidKey, Key, KeyTooLong, KeyType

DATA_AND_META = pytest.mark.parametrize("key_type", [KeyType.DATA, KeyType.META], ids=["data", "meta"])

SEGMENT_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/."


def invalid_format(name: str, msg: str) -> str:
    """The display text of most key errors (§1.3)."""
    return f"Key name '{name}' has invalid format: {msg}"


# -- §1.6, one row at a time ---------------------------------------------------------------


@DATA_AND_META
def test_single_segment_name_parses_to_one_segment(key_type: KeyType) -> None:
    key = Key("a", key_type)
    assert key.segments == ("a",)
    assert key.name == "a"
    assert key.type is key_type


def test_data_key_may_have_many_segments() -> None:
    key = Key("a.b.c.d.e.f.g", KeyType.DATA)
    assert key.segments == ("a", "b", "c", "d", "e", "f", "g")
    assert len(key.segments) == 7


def test_meta_key_with_several_segments_is_rejected() -> None:
    with pytest.raises(InvalidKey) as exc:
        Key("a.b.c.d.e.f.g", KeyType.META)
    assert str(exc.value) == invalid_format("a.b.c.d.e.f.g", "meta keys may only have one segment")


def test_quoted_segment_keeps_dot_and_name_is_kept_as_given() -> None:
    key = Key('a."b.c".d')
    assert key.segments == ("a", "b.c", "d")
    assert key.name == 'a."b.c".d'


@DATA_AND_META
def test_fully_quoted_dotted_name_is_one_segment(key_type: KeyType) -> None:
    key = Key('"b.c"', key_type)
    assert key.segments == ("b.c",)
    assert key.name == '"b.c"'


def test_from_segments_quotes_the_segment_containing_a_dot() -> None:
    key = Key.from_segments(["a", "b.c", "d"])
    assert key.name == 'a."b.c".d'
    assert key.segments == ("a", "b.c", "d")
    assert key.type is KeyType.DATA


@DATA_AND_META
def test_dash_and_underscore_are_valid_characters(key_type: KeyType) -> None:
    assert Key("a-b_c", key_type).segments == ("a-b_c",)


@DATA_AND_META
def test_name_of_exactly_255_bytes_is_accepted(key_type: KeyType) -> None:
    name = "a" * 255
    assert Key(name, key_type).segments == (name,)


@DATA_AND_META
def test_name_of_256_bytes_is_too_long(key_type: KeyType) -> None:
    name = "a" * 256
    with pytest.raises(KeyTooLong) as exc:
        Key(name, key_type)
    assert str(exc.value) == f"Key name beyond maximum length {name}: 255"


@DATA_AND_META
@pytest.mark.parametrize(
    "char", ["!", "$", "&", ";", "|", "\\"], ids=["bang", "dollar", "amp", "semi", "pipe", "bslash"]
)
def test_punctuation_is_an_invalid_character(key_type: KeyType, char: str) -> None:
    with pytest.raises(InvalidKey) as exc:
        Key(char, key_type)
    assert str(exc.value) == invalid_format(char, f"invalid character in key: '{char}'")


@DATA_AND_META
def test_trailing_separator_is_rejected(key_type: KeyType) -> None:
    with pytest.raises(InvalidKey) as exc:
        Key("a.", key_type)
    assert str(exc.value) == invalid_format("a.", "ends with separator")


@DATA_AND_META
def test_empty_name_is_rejected(key_type: KeyType) -> None:
    with pytest.raises(InvalidKey) as exc:
        Key("", key_type)
    assert str(exc.value) == invalid_format("", "cannot be empty")


@pytest.mark.parametrize("name", [".a", "a..b", '"".a'], ids=["leading-dot", "double-dot", "empty-quoted-first"])
def test_empty_segment_before_a_separator_is_rejected(name: str) -> None:
    with pytest.raises(InvalidKey) as exc:
        Key(name)
    assert str(exc.value) == invalid_format(name, "empty key segment")


@pytest.mark.parametrize("name", ['"a', 'a."b', 'a"b.c'], ids=["open-start", "open-last", "open-middle"])
def test_unclosed_quote_is_unbalanced(name: str) -> None:
    with pytest.raises(InvalidKey) as exc:
        Key(name)
    assert str(exc.value) == invalid_format(name, "unbalanced quotes")


def test_quotes_in_the_middle_of_a_segment_are_dropped() -> None:
    key = Key('a"b"c')
    assert key.segments == ("abc",)
    assert key.name == 'a"b"c'


def test_strip_prefix_removes_a_leading_name_prefix() -> None:
    key = Key("a.b.c.d").strip_prefix("a.b")
    assert key.name == "c.d"
    assert key.segments == ("c", "d")
    assert key.type is KeyType.DATA


def test_strip_prefix_that_does_not_match_leaves_key_unchanged() -> None:
    key = Key("a.b.c.d").strip_prefix("x.y")
    assert key.name == "a.b.c.d"
    assert key == Key("a.b.c.d")


def test_strip_prefix_compares_names_not_segments() -> None:
    key = Key('a."b.c".d').strip_prefix("a.b")
    assert key.name == 'a."b.c".d'
    assert key.segments == ("a", "b.c", "d")


def test_strip_prefix_with_quoted_prefix_name() -> None:
    key = Key('a."b.c".d').strip_prefix('a."b.c"')
    assert key.name == "d"
    assert key.segments == ("d",)


def test_strip_prefix_equal_to_the_whole_name_is_an_error() -> None:
    with pytest.raises(InvalidKey):
        Key("a.b.c.d").strip_prefix("a.b.c.d")


def test_strip_prefix_segments_drops_matching_leading_segments() -> None:
    key = Key("a.b.c.d").strip_prefix_segments(["a", "b"])
    assert key.name == "c.d"
    assert key.segments == ("c", "d")
    assert key.type is KeyType.DATA


def test_strip_prefix_segments_does_not_split_a_quoted_segment() -> None:
    key = Key('a."b.c".d').strip_prefix_segments(["a", "b"])
    assert key.name == 'a."b.c".d'
    assert key.segments == ("a", "b.c", "d")


def test_strip_prefix_segments_matches_a_dotted_segment() -> None:
    key = Key('a."b.c".d').strip_prefix_segments(["a", "b.c"])
    assert key.name == "d"
    assert key.segments == ("d",)


def test_strip_prefix_segments_of_all_segments_is_an_error() -> None:
    with pytest.raises(InvalidKey):
        Key("a.b.c.d").strip_prefix_segments(["a", "b", "c", "d"])


@pytest.mark.parametrize(
    ("segments", "expected"),
    [(["x"], "a.b.x"), (["x.y"], 'a.b."x.y"'), (["x", "y"], "a.b.x.y")],
    ids=["one", "dotted", "two"],
)
def test_append_segments_gives_canonical_name(segments: list[str], expected: str) -> None:
    key = Key("a.b").append_segments(segments)
    assert key.name == expected
    assert key.segments == ("a", "b", *segments)
    assert key.type is KeyType.DATA


def test_append_segments_with_invalid_character_is_an_error() -> None:
    with pytest.raises(InvalidKey):
        Key("a.b").append_segments(["@"])


@pytest.mark.parametrize(
    ("other", "expected", "segments"),
    [("c.d", "a.b.c.d", ("a", "b", "c", "d")), ('"c.d"', 'a.b."c.d"', ("a", "b", "c.d"))],
    ids=["plain", "quoted"],
)
def test_append_key_joins_segments(other: str, expected: str, segments: tuple[str, ...]) -> None:
    key = Key("a.b").append_key(Key(other))
    assert key.name == expected
    assert key.segments == segments


def test_append_key_beyond_255_bytes_is_too_long() -> None:
    with pytest.raises(KeyTooLong):
        Key("a" * 255).append_key(Key("b"))


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [(["a"], True), (['"a.b"'], False), (["a."], False)],
    ids=["first-segment", "quoted-text", "trailing-dot"],
)
def test_starts_with_segments_is_segment_wise(prefix: list[str], expected: bool) -> None:
    assert Key("a.b").starts_with_segments(prefix) is expected


# -- §1.3 error texts and ordering ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "msg"),
    [
        ("", "cannot be empty"),
        ("a..b", "empty key segment"),
        ("a.b!", "invalid character in key: '!'"),
        ('"a.b', "unbalanced quotes"),
        ("a.b.", "ends with separator"),
        ('a.""', "ends with separator"),
        ('""', "ends with separator"),
    ],
    ids=["empty", "empty-segment", "invalid-char", "unbalanced", "trailing-dot", "empty-quoted-last", "only-quotes"],
)
def test_invalid_name_error_text(name: str, msg: str) -> None:
    with pytest.raises(InvalidKey) as exc:
        Key(name)
    assert str(exc.value) == invalid_format(name, msg)


def test_meta_key_error_text_names_the_rule() -> None:
    with pytest.raises(InvalidKey) as exc:
        Key("a.b", KeyType.META)
    assert str(exc.value) == invalid_format("a.b", "meta keys may only have one segment")


def test_meta_key_with_dotted_quoted_segment_and_another_segment_is_rejected() -> None:
    with pytest.raises(InvalidKey) as exc:
        Key('a."b.c"', KeyType.META)
    assert str(exc.value) == invalid_format('a."b.c"', "meta keys may only have one segment")


def test_first_invalid_character_is_reported() -> None:
    with pytest.raises(InvalidKey) as exc:
        Key("ab$c!d")
    assert str(exc.value) == invalid_format("ab$c!d", "invalid character in key: '$'")


def test_invalid_character_is_reported_before_length() -> None:
    name = "a" * 300 + "!"
    with pytest.raises(InvalidKey) as exc:
        Key(name)
    assert not isinstance(exc.value, KeyTooLong)
    assert str(exc.value) == invalid_format(name, "invalid character in key: '!'")


def test_too_long_error_text_has_name_then_maximum() -> None:
    name = "a." * 127 + "bc"  # 256 bytes
    assert len(name.encode()) == 256
    with pytest.raises(KeyTooLong) as exc:
        Key(name)
    assert str(exc.value) == f"Key name beyond maximum length {name}: 255"
    assert isinstance(exc.value, InvalidKey)


# -- §1.2 allowed characters -----------------------------------------------------------------


@pytest.mark.parametrize(
    "char", ["é", "ß", "日", "٣", "Ａ"], ids=["e-acute", "sharp-s", "cjk", "arabic-digit", "fullwidth-a"]
)
def test_non_ascii_letters_and_digits_are_invalid(char: str) -> None:
    name = f"a{char}b"
    with pytest.raises(InvalidKey) as exc:
        Key(name)
    assert str(exc.value) == invalid_format(name, f"invalid character in key: '{char}'")


@pytest.mark.parametrize("name", ["a\ud800b", '"\udfff"'], ids=["bare", "quoted"])
def test_lone_surrogate_is_an_invalid_character(name: str) -> None:
    with pytest.raises(InvalidKey):
        Key(name)
    with pytest.raises(InvalidKey):
        Key.from_segments([name.strip('"')])


def test_space_inside_quotes_is_still_invalid() -> None:
    with pytest.raises(InvalidKey) as exc:
        Key('"a b"')
    assert str(exc.value) == invalid_format('"a b"', "invalid character in key: ' '")


def test_backslash_is_not_an_escape() -> None:
    name = 'a."b\\.c"'
    with pytest.raises(InvalidKey) as exc:
        Key(name)
    assert str(exc.value) == invalid_format(name, "invalid character in key: '\\'")


@pytest.mark.parametrize("char", [" ", "\t", "\n", "@", ":", "*", "~", "%", "+", "=", ","])
def test_other_ascii_characters_are_invalid(char: str) -> None:
    with pytest.raises(InvalidKey):
        Key(f"a{char}b")


def test_slash_is_a_valid_segment_character() -> None:
    assert Key("a/b.c").segments == ("a/b", "c")


# -- §1.3 the 255-byte limit counts the name as given, quotes included ----------------------


def test_quotes_count_toward_the_length_limit() -> None:
    ok = '"' + "a" * 253 + '"'
    assert Key(ok).segments == ("a" * 253,)
    too_long = '"' + "a" * 254 + '"'
    with pytest.raises(KeyTooLong) as exc:
        Key(too_long)
    assert str(exc.value) == f"Key name beyond maximum length {too_long}: 255"


def test_length_limit_is_on_the_name_not_the_segments() -> None:
    # 250 bytes of segments, but redundant quotes make the name 256 bytes long.
    name = '""' * 3 + "a" * 250
    assert len(name) == 256
    with pytest.raises(KeyTooLong):
        Key(name)
    assert Key('""' * 2 + "a" * 250).segments == ("a" * 250,)


def test_from_segments_length_includes_the_added_quotes() -> None:
    ok = Key.from_segments(["a.b" + "c" * 250])  # 253 characters, 255 once quoted
    assert len(ok.name) == MAX_KEY_NAME_LENGTH
    with pytest.raises(KeyTooLong):
        Key.from_segments(["a.b" + "c" * 251])


def test_from_segments_length_counts_separators() -> None:
    assert Key.from_segments(["a" * 127, "b" * 127]).name == "a" * 127 + "." + "b" * 127
    with pytest.raises(KeyTooLong):
        Key.from_segments(["a" * 127, "b" * 128])


# -- §1.1 equality and hashing by segments -----------------------------------------------------


def test_keys_compare_by_segments_only() -> None:
    quoted = Key('a."b".c')
    plain = Key("a.b.c")
    assert quoted == plain
    assert hash(quoted) == hash(plain)
    assert quoted.name == 'a."b".c'
    assert plain.name == "a.b.c"
    assert {quoted: 1}[plain] == 1


def test_differently_quoted_names_of_the_same_segments_are_one_set_element() -> None:
    keys = {Key("a.b"), Key('"a".b'), Key('a"".b'), Key.from_segments(["a", "b"])}
    assert len(keys) == 1


def test_a_quoted_dot_is_a_different_key_from_a_separator() -> None:
    assert Key('a."b.c"') != Key("a.b.c")


def test_data_and_meta_key_with_same_segment_compare_equal() -> None:
    # The spec says equality uses only the segments.
    assert Key("a", KeyType.META) == Key("a", KeyType.DATA)


# -- §1.4 from_segments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segments", "name"),
    [
        (["a"], "a"),
        (["a", "b"], "a.b"),
        (["a.b"], '"a.b"'),
        (["settings", "kernel", "sysctl", "net.ipv4.ip_forward"], 'settings.kernel.sysctl."net.ipv4.ip_forward"'),
        (["."], '"."'),
        (["a/b", "c-d_e"], "a/b.c-d_e"),
    ],
    ids=["one", "two", "dotted", "sysctl", "only-dot", "slash"],
)
def test_from_segments_quotes_only_segments_containing_a_dot(segments: list[str], name: str) -> None:
    key = Key.from_segments(segments)
    assert key.name == name
    assert key.segments == tuple(segments)


def test_from_segments_gives_the_canonical_name_whatever_the_original_quoting() -> None:
    original = Key('"a"."b"."c.d"')
    rebuilt = Key.from_segments(original.segments)
    assert rebuilt.name == 'a.b."c.d"'
    assert rebuilt == original


@pytest.mark.parametrize(
    ("segments", "bad_segment", "char"),
    [
        (["a", "b c"], "b c", " "),
        (["a", "@"], "@", "@"),
        (["x", 'q"uote'], 'q"uote', '"'),
        (["é"], "é", "é"),
        (["a", "b\\c"], "b\\c", "\\"),
    ],
    ids=["space", "at", "quote", "non-ascii", "backslash"],
)
def test_from_segments_rejects_invalid_character_with_segment_message(
    segments: list[str], bad_segment: str, char: str
) -> None:
    with pytest.raises(InvalidKey) as exc:
        Key.from_segments(segments)
    shown = ".".join(segments)
    assert str(exc.value) == invalid_format(shown, f"Segment '{bad_segment}' contains invalid character '{char}'")


@pytest.mark.parametrize("segments", [["a", ""], [""], ["", "a"]], ids=["last", "only", "first"])
def test_from_segments_rejects_an_empty_segment(segments: list[str]) -> None:
    with pytest.raises(InvalidKey):
        Key.from_segments(segments)


def test_from_segments_with_no_segments_is_an_error() -> None:
    with pytest.raises(InvalidKey):
        Key.from_segments([])


def test_from_segments_meta_key_needs_exactly_one_segment() -> None:
    assert Key.from_segments(["b.c"], KeyType.META).name == '"b.c"'
    with pytest.raises(InvalidKey) as exc:
        Key.from_segments(["a", "b"], KeyType.META)
    assert str(exc.value) == invalid_format("a.b", "meta keys may only have one segment")


# -- Properties --------------------------------------------------------------------------------

segment_text = st.text(alphabet=SEGMENT_ALPHABET, min_size=1, max_size=20)


def _encoded_length(segments: list[str]) -> int:
    return sum(len(s) + (2 if "." in s else 0) for s in segments) + len(segments) - 1


valid_segment_lists = st.lists(segment_text, min_size=1, max_size=20).filter(
    lambda segs: _encoded_length(segs) <= MAX_KEY_NAME_LENGTH
)


@settings(max_examples=200)
@given(valid_segment_lists)
def test_from_segments_name_parses_back_to_the_same_segments(segments: list[str]) -> None:
    key = Key.from_segments(segments)
    assert Key(key.name).segments == tuple(segments)
    assert Key(key.name).name == key.name


def _valid_name_part(segment: str) -> st.SearchStrategy[str]:
    """A way of writing one segment in a name: quoted if it must be, optionally quoted anyway."""
    if "." in segment:
        return st.sampled_from([f'"{segment}"', f'"{segment}"""', f'"""{segment}"'])
    return st.sampled_from([segment, f'"{segment}"', f'{segment[0]}""{segment[1:]}'])


valid_names = (
    st.lists(segment_text, min_size=1, max_size=10)
    .flatmap(lambda segs: st.tuples(*(_valid_name_part(s) for s in segs)))
    .map(".".join)
    .filter(lambda name: len(name.encode()) <= MAX_KEY_NAME_LENGTH)
)


@settings(max_examples=200)
@given(valid_names)
def test_from_segments_of_a_parsed_name_is_the_same_key(name: str) -> None:
    key = Key(name)
    rebuilt = Key.from_segments(key.segments)
    assert rebuilt == key
    assert hash(rebuilt) == hash(key)
    assert key.name == name


any_character = st.one_of(
    st.characters(),  # any code point but surrogates
    st.characters(categories=["Cs"]),  # lone surrogates, which cannot be encoded as UTF-8
    st.sampled_from(SEGMENT_ALPHABET + '"'),  # so that some names are valid
)


@settings(max_examples=300)
@given(st.text(alphabet=any_character, max_size=40))
def test_parsing_arbitrary_text_either_succeeds_or_raises_invalid_key(name: str) -> None:
    for key_type in (KeyType.DATA, KeyType.META):
        try:
            key = Key(name, key_type)
        except InvalidKey:
            continue
        assert key.name == name
        assert all(key.segments)


@settings(max_examples=200)
@given(st.text(alphabet=SEGMENT_ALPHABET + '"', max_size=300))
def test_parsing_text_over_the_key_alphabet_either_succeeds_or_raises_invalid_key(name: str) -> None:
    try:
        key = Key(name)
    except InvalidKey:
        return
    assert len(name.encode()) <= MAX_KEY_NAME_LENGTH
    assert Key.from_segments(key.segments) == key
