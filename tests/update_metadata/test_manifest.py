"""manifest.json (updates.md §2): every validation, and Bottlerocket's JSON shape on the way out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from thar.update_metadata import (
    Images,
    Manifest,
    ManifestError,
    Timestamp,
    Update,
    Version,
    dump_manifest,
    load_manifest,
    parse_manifest,
)

from .conftest import manifest_json, real_transitions, update_json

WAVES = {"0": "2024-10-24T18:00:00Z", "20": "2024-10-24T21:00:00Z", "102": "2024-10-25T17:00:00Z"}


def _with(**fields: Any) -> str:
    entry = update_json("1.26.1", waves=dict(WAVES))
    entry.update(fields)
    return manifest_json([entry])


def test_parse_bottlerocket_shaped_manifest() -> None:
    text = json.dumps(
        {
            "updates": [dict(update_json("1.26.1", waves=WAVES), status="Ready")],
            "migrations": {
                "(1.25.0, 1.26.0)": ["migrate_v1.26.0_foo.lz4", "migrate_v1.26.0_bar.lz4"],
                "(1.26.0, 1.26.1)": [],
            },
            "extra": 1,
        }
    )
    m = parse_manifest(text)
    (u,) = m.updates
    assert (u.variant, u.arch, u.version, u.max_version) == (
        "aws-k8s-1.31",
        "x86_64",
        Version(1, 26, 1),
        Version(1, 26, 1),
    )
    assert u.waves[20] == Timestamp.parse("2024-10-24T21:00:00Z")
    assert u.images.hash == "bottlerocket-aws-k8s-1.31-x86_64-1.26.1-abcdef01-root.verity.lz4"
    assert m.migrations[Version(1, 25, 0), Version(1, 26, 0)] == ["migrate_v1.26.0_foo.lz4", "migrate_v1.26.0_bar.lz4"]
    assert m.migrations[Version(1, 26, 0), Version(1, 26, 1)] == []


def test_dump_is_bottlerocket_shaped() -> None:
    waves = {"1843": "2024-10-30T18:00:00+02:00", "20": "2024-10-24T21:00:00.5Z", "0": "2024-10-24T18:00:00.000001Z",
             "102": "2024-10-25T17:00:00.123456789Z"}  # fmt: skip
    text = json.dumps(
        {
            "updates": [dict(update_json("1.26.1", waves=waves), status="Ready")],
            "migrations": {"(1.9.0, 1.10.0)": ["b"], "(1.10.0,1.11.0)": ["a"], "(1.8.0, 1.9.0)": []},
        }
    )
    out = dump_manifest(parse_manifest(text))
    data = json.loads(out)
    u = data["updates"][0]
    assert list(u) == ["variant", "arch", "version", "max_version", "waves", "images"]
    assert list(u["images"]) == ["boot", "root", "hash"]
    assert u["waves"] == {
        "0": "2024-10-24T18:00:00.000001Z",
        "20": "2024-10-24T21:00:00.500Z",
        "102": "2024-10-25T17:00:00.123456789Z",
        "1843": "2024-10-30T16:00:00Z",
    }
    assert list(u["waves"]) == ["0", "20", "102", "1843"]
    # keys re-written as "(X, Y)", in string order (upstream sorts the formatted strings)
    assert list(data["migrations"]) == ["(1.10.0, 1.11.0)", "(1.8.0, 1.9.0)", "(1.9.0, 1.10.0)"]
    assert out.startswith('{\n  "updates": [\n    {\n      "variant"')
    # and what was written reads back to the same manifest, and writes the same text
    assert dump_manifest(parse_manifest(out)) == out


def test_load_from_file_and_read_errors(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(_with(), encoding="utf-8")
    assert load_manifest(path).updates[0].version == Version(1, 26, 1)
    with pytest.raises(ManifestError, match=r"Failed to read .*missing\.json"):
        load_manifest(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"migrations": {}}', r"updates: Field required"),
        ('{"updates": []}', r"migrations: Field required"),
        ("[]", r"expected a JSON object, got list"),
        ("{", r"Failed to parse manifest file: Expecting"),
        ('{"updates": {}, "migrations": {}}', r"updates: Input should be a valid list"),
        ('{"updates": [], "migrations": []}', r"migrations: .*must be a JSON object, got list"),
    ],
)
def test_top_level_errors(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(text)


@pytest.mark.parametrize("field", ["variant", "arch", "version", "max_version", "waves", "images"])
def test_every_update_field_is_required(field: str) -> None:
    entry = update_json("1.26.1")
    del entry[field]
    with pytest.raises(ManifestError, match=rf"updates\[0\]\.{field}: Field required"):
        parse_manifest(manifest_json([entry]))


@pytest.mark.parametrize("image", ["boot", "root", "hash"])
def test_every_image_is_required(image: str) -> None:
    entry = update_json("1.26.1")
    del entry["images"][image]
    with pytest.raises(ManifestError, match=rf"updates\[0\]\.images\.{image}: Field required"):
        parse_manifest(manifest_json([entry]))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": "1.2"}, r"updates\[0\]\.version: Invalid semantic version '1.2'"),
        ({"max_version": "v1.2.3"}, r"updates\[0\]\.max_version: Invalid semantic version 'v1.2.3'"),
        ({"version": 1}, r"updates\[0\]\.version: Expected a version string, got int"),
        ({"variant": 7}, r"updates\[0\]\.variant: Input should be a valid string"),
        ({"waves": {"234ab32": "2024-10-24T18:00:00Z"}}, r"updates\[0\]\.waves: Bad bound field: 234ab32"),
        ({"waves": {"-1": "2024-10-24T18:00:00Z"}}, r"Bad bound field: -1"),
        ({"waves": {"4294967296": "2024-10-24T18:00:00Z"}}, r"Bad bound field: 4294967296"),
        ({"waves": {"0": "yesterday"}}, r"wave 0: Invalid RFC 3339 timestamp 'yesterday'"),
        ({"waves": {"0": "2024-02-30T00:00:00Z"}}, r"Invalid RFC 3339 timestamp '2024-02-30T00:00:00Z'"),
        ({"waves": {"0": "2024-10-24T18:00:00"}}, r"Invalid RFC 3339 timestamp"),
        ({"waves": []}, r"waves must be a JSON object, got list"),
        ({"images": {"boot": "b", "root": "r", "hash": 3}}, r"images\.hash: Input should be a valid string"),
    ],
)
def test_update_field_errors_name_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(_with(**fields))


def test_wave_keys_as_rust_parses_u32() -> None:
    m = parse_manifest(_with(waves={"+5": "2024-10-24T18:00:00Z", "007": "2024-10-24T19:00:00Z"}))
    assert sorted(m.updates[0].waves) == [5, 7]


def test_duplicate_wave_key_in_the_json_text() -> None:
    entry = json.dumps(update_json("1.26.1", waves={"0": "2024-10-24T18:00:00Z"}))
    dup = entry.replace('"waves": {', '"waves": {"0": "2024-10-24T19:00:00Z", ')
    with pytest.raises(ManifestError, match=r"updates\[0\]\.waves: Duplicate key ID: 0"):
        parse_manifest(f'{{"updates": [{dup}], "migrations": {{}}}}')
    # "0" and "00" are the same bound
    with pytest.raises(ManifestError, match="Duplicate key ID: 0"):
        parse_manifest(_with(waves={"0": "2024-10-24T18:00:00Z", "00": "2024-10-24T19:00:00Z"}))


def test_duplicate_field_in_the_json_text() -> None:
    entry = json.dumps(update_json("1.26.1")).replace('"arch": "x86_64"', '"arch": "x86_64", "arch": "aarch64"')
    with pytest.raises(ManifestError, match=r"updates\[0\]: .*duplicate field 'arch'"):
        parse_manifest(f'{{"updates": [{entry}], "migrations": {{}}}}')


def test_empty_waves_allowed_and_unknown_fields_ignored() -> None:
    m = parse_manifest(_with(waves={}, status="Ready", notes={"a": 1}))
    assert m.updates[0].waves == {}


def test_timestamps_normalised_to_utc_with_nanoseconds() -> None:
    m = parse_manifest(_with(waves={"0": "2024-10-24T20:30:00.123456789+02:30", "1": "2024-10-24 18:00:00z"}))
    waves = m.updates[0].waves
    assert str(waves[0]) == "2024-10-24T18:00:00.123456789Z"
    assert waves[0].ns - Timestamp.parse("2024-10-24T18:00:00Z").ns == 123_456_789
    assert str(waves[1]) == "2024-10-24T18:00:00Z"


@pytest.mark.parametrize(
    ("migrations", "message"),
    [
        ({"1.0.0, 1.0.1": []}, r"Could not parse OS versions: 1.0.0, 1.0.1"),
        ({"(1.0.0 1.0.1)": []}, r"Could not parse OS versions: \(1.0.0 1.0.1\)"),
        ({"(1.0, 1.0.1)": []}, r"migrations: Could not parse OS versions: 1.0, 1.0.1"),
        ({"(1.0.0, 1.0.1)": [], "(1.0.0,1.0.1)": []}, r"Duplicate version key: \(1.0.0,1.0.1\)"),
        ({"(1.0.0, 1.0.1)": "migrate_v1.0.1_a.lz4"}, r"expected a list of migration names"),
    ],
)
def test_migration_key_errors(migrations: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(manifest_json([], migrations))


def test_migration_key_is_matched_unanchored_with_spaces() -> None:
    m = parse_manifest(manifest_json([], {"from (1.0.0,    1.0.1) on": ["a"]}))
    assert m.migrations == {(Version(1, 0, 0), Version(1, 0, 1)): ["a"]}


def test_roundtrip_of_the_real_migration_history() -> None:
    """Every transition of Bottlerocket's Release.toml, as an update manifest's migrations table."""
    transitions = real_transitions()
    table = {f"({t['from']}, {t['to']})": t["migrations"] for t in transitions}
    m = parse_manifest(manifest_json([update_json(transitions[-1]["to"])], table))
    assert len(m.migrations) == len(table)
    again = json.loads(dump_manifest(m))
    assert again["migrations"] == table
    assert list(again["migrations"]) == sorted(table)


def test_manifest_built_in_python_dumps_like_a_parsed_one() -> None:
    """What updog's and thar-be-updates' test repositories do: build a manifest, publish its JSON."""
    t = Timestamp.parse("2024-10-24T18:00:00Z")
    m = Manifest(
        updates=[
            Update(
                variant="aws-k8s-1.31",
                arch="x86_64",
                version=Version(1, 26, 1),
                max_version="1.26.1",  # type: ignore[arg-type]
                waves={20: t + 1, 0: "2024-10-24T17:00:00Z"},  # type: ignore[dict-item]
                images=Images(boot="b", root="r", hash="h"),
            )
        ],
        migrations={(Version(1, 26, 0), Version(1, 26, 1)): ["migrate_v1.26.1_x.lz4"]},
    )
    data = json.loads(dump_manifest(m))
    assert data["updates"][0]["waves"] == {"0": "2024-10-24T17:00:00Z", "20": "2024-10-24T18:00:00.000000001Z"}
    assert data["migrations"] == {"(1.26.0, 1.26.1)": ["migrate_v1.26.1_x.lz4"]}
    assert parse_manifest(dump_manifest(m)) == m
    with pytest.raises(ValidationError, match="Bad bound field: -1"):
        Update.model_validate({**data["updates"][0], "waves": {-1: "2024-10-24T17:00:00Z"}})
