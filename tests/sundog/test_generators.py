"""sundog's pure parts: keys, command splitting, populated-set matching, output parsing."""

from __future__ import annotations

import pytest

from thar.sundog.errors import GeneratorOutputInvalid, InvalidCommand, InvalidGeneratorKey, InvalidGenerators
from thar.sundog.generators import (
    Generator,
    flatten_leaves,
    is_populated,
    parse_generators,
    place,
    split_command,
    split_key,
)
from thar.sundog.runner import parse_output


@pytest.mark.parametrize(
    ("key", "segments"),
    [
        ("settings.motd", ("settings", "motd")),
        ('settings.kernel.sysctl."net.ipv4.ip_forward"', ("settings", "kernel", "sysctl", "net.ipv4.ip_forward")),
        ('settings."a".b', ("settings", "a", "b")),
    ],
)
def test_keys_split_into_segments(key: str, segments: tuple[str, ...]) -> None:
    assert split_key(key) == segments


@pytest.mark.parametrize("key", ["", "settings.", "settings..motd", 'settings."open', 'settings."a"b', 'a.b"c'])
def test_bad_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidGeneratorKey):
        split_key(key)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("netdog generate-hostname", ["netdog", "generate-hostname"]),
        ("  a\t b  ", ["a", "b"]),
        (
            """schnauzer-v2 render --template '{{ os.arch }}/x'""",
            ["schnauzer-v2", "render", "--template", "{{ os.arch }}/x"],
        ),
        ('''a "b \\"c\\" \\$d \\x"''', ["a", 'b "c" $d \\x']),
        ("a\\ b c", ["a b", "c"]),
        ("a '' b", ["a", "", "b"]),
        ("a 'unbalanced b", ["a"]),  # stops at the error, as upstream
        ('a b "unbalanced', ["a", "b"]),
    ],
)
def test_commands_split_like_a_posix_shell(command: str, words: list[str]) -> None:
    assert split_command("settings.x", command) == words


@pytest.mark.parametrize("command", ["", "   ", "'broken first word"])
def test_a_command_without_words_is_invalid(command: str) -> None:
    with pytest.raises(InvalidCommand, match="Generator command is invalid"):
        split_command("settings.x", command)


def test_both_generator_forms_parse() -> None:
    generators = parse_generators(
        {
            "settings.updates.seed": "bork seed",
            "settings.motd": {"command": "m", "skip-if-populated": False, "strength": "weak"},
        }
    )
    assert generators == [
        Generator("settings.motd", ("settings", "motd"), "m", False, "weak"),
        Generator("settings.updates.seed", ("settings", "updates", "seed"), "bork seed", True, "strong"),
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "expected a JSON object"),
        ({"settings.motd": 5}, "must be a command string or a table"),
        ({"settings.motd": {"skip-if-populated": True}}, "needs 'command'"),
        ({"settings.motd": {"command": "x", "skip-if-populated": "yes"}}, "must be true or false"),
        ({"settings.motd": {"command": "x", "strength": "medium"}}, "'strong' or 'weak'"),
        ({"settings.motd": {"command": "x", "extra": 1}}, "unknown field(s) extra"),
    ],
)
def test_bad_generator_metadata_is_rejected(answer: object, message: str) -> None:
    with pytest.raises(InvalidGenerators, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_generators(answer)


def test_only_settings_can_be_generated() -> None:
    with pytest.raises(InvalidGeneratorKey, match="only settings"):
        parse_generators({"services.x": "cmd"})


def test_populated_compares_by_segments() -> None:
    populated = flatten_leaves(
        {"network": {"hostname-override": "h"}, "boot": {"kernel": {"x": ["1"]}}, "motd": None}, ("settings",)
    )
    assert populated == {("settings", "network", "hostname-override"), ("settings", "boot", "kernel", "x")}
    assert is_populated(("settings", "boot"), populated)
    assert is_populated(("settings", "boot", "kernel", "x"), populated)
    assert not is_populated(("settings", "network", "hostname"), populated)
    assert not is_populated(("settings", "motd"), populated)  # null is not a value


def test_results_are_placed_at_their_keys() -> None:
    target: dict[str, object] = {}
    place(target, ("settings", "updates", "seed"), 5)
    place(target, ("settings", "network", "hostname"), "h")
    place(target, ("settings", "network"), {"https-proxy": "p"})
    assert target == {"settings": {"updates": {"seed": 5}, "network": {"hostname": "h", "https-proxy": "p"}}}


@pytest.mark.parametrize(
    ("output", "value"),
    [(b'"ip-10-0-0-1"\n', "ip-10-0-0-1"), (b" 1234 ", 1234), (b"true", True), (b'[1, "a"]', [1, "a"]), (b"null", None)],
)
def test_output_is_one_trimmed_json_value(output: bytes, value: object) -> None:
    assert parse_output(Generator("settings.x", ("settings", "x"), "c"), output) == value


@pytest.mark.parametrize("output", [b"", b"bare text", b"1 2", b"\xff\xfe", b"Infinity"])
def test_other_output_is_an_error(output: bytes) -> None:
    with pytest.raises(GeneratorOutputInvalid, match=r"settings\.x"):
        parse_output(Generator("settings.x", ("settings", "x"), "c"), output)
