"""find_migrations (updates.md §4.5, migrations.md §1.3): the forward chain, reversed going back."""

from __future__ import annotations

import pytest

from thar.update_metadata import Manifest, MissingMigration, Version, find_migrations, parse_manifest

from .conftest import manifest_json, real_transitions


def V(text: str) -> Version:
    return Version.parse(text)


TABLE = {
    "(1.0.0, 1.0.1)": ["migrate_v1.0.1_a.lz4"],
    "(1.0.1, 1.0.2)": ["migrate_v1.0.2_b.lz4", "migrate_v1.0.2_a.lz4"],
    "(1.0.1, 1.0.3)": ["migrate_v1.0.3_skip.lz4"],
    "(1.0.3, 1.1.0)": [],
    "(1.1.0, 1.2.0)": ["migrate_v1.2.0_c.lz4"],
}


@pytest.fixture
def manifest() -> Manifest:
    return parse_manifest(manifest_json([], TABLE))


def test_same_version_needs_nothing(manifest: Manifest) -> None:
    assert find_migrations(V("1.0.1"), V("1.0.1"), manifest) == []
    assert find_migrations(V("9.9.9"), V("9.9.9"), manifest) == []  # not even looked up


def test_multi_hop_takes_the_furthest_step_not_past_the_target(manifest: Manifest) -> None:
    # from 1.0.1 the entry to 1.0.3 beats the one to 1.0.2; the empty 1.0.3 → 1.1.0 step adds nothing
    assert find_migrations(V("1.0.0"), V("1.2.0"), manifest) == [
        "migrate_v1.0.1_a.lz4",
        "migrate_v1.0.3_skip.lz4",
        "migrate_v1.2.0_c.lz4",
    ]
    # target 1.0.2: the 1.0.3 entry is past it, so the 1.0.2 entry, in listed (not sorted) order
    assert find_migrations(V("1.0.0"), V("1.0.2"), manifest) == [
        "migrate_v1.0.1_a.lz4",
        "migrate_v1.0.2_b.lz4",
        "migrate_v1.0.2_a.lz4",
    ]


def test_backward_is_the_forward_list_reversed(manifest: Manifest) -> None:
    assert find_migrations(V("1.2.0"), V("1.0.0"), manifest) == [
        "migrate_v1.2.0_c.lz4",
        "migrate_v1.0.3_skip.lz4",
        "migrate_v1.0.1_a.lz4",
    ]


def test_gap_in_the_chain(manifest: Manifest) -> None:
    with pytest.raises(MissingMigration, match=r"Reached end of migration chain at 1\.2\.0 but target is 1\.3\.0"):
        find_migrations(V("1.0.0"), V("1.3.0"), manifest)
    # going backward the message still names the forward walk
    with pytest.raises(MissingMigration, match=r"chain at 0\.9\.0 but target is 1\.0\.1"):
        find_migrations(V("1.0.1"), V("0.9.0"), manifest)
    # a version between entries has no entry of its own
    with pytest.raises(MissingMigration, match=r"chain at 1\.0\.2 but target is 1\.1\.0"):
        find_migrations(V("1.0.2"), V("1.1.0"), manifest)


def test_entries_that_do_not_move_forward_are_not_taken() -> None:
    table = {(V("1.0.0"), V("1.0.0")): ["loop"], (V("1.0.0"), V("1.0.1")): ["a"]}
    assert find_migrations(V("1.0.0"), V("1.0.1"), table) == ["a"]
    with pytest.raises(MissingMigration):
        find_migrations(V("1.0.0"), V("1.0.2"), {(V("1.0.0"), V("1.0.0")): ["loop"]})


def test_real_history_end_to_end_and_backward() -> None:
    transitions = real_transitions()
    table = {f"({t['from']}, {t['to']})": t["migrations"] for t in transitions}
    manifest = parse_manifest(manifest_json([], table))
    everything = [name for t in transitions for name in t["migrations"]]
    first, last = transitions[0]["from"], transitions[-1]["to"]
    assert find_migrations(V(first), V(last), manifest) == everything
    assert find_migrations(V(last), V(first), manifest) == everything[::-1]
    # any span of consecutive releases: exactly those transitions' lists
    i, j = len(transitions) // 3, 2 * len(transitions) // 3
    span = [name for t in transitions[i:j] for name in t["migrations"]]
    assert find_migrations(V(transitions[i]["from"]), V(transitions[j - 1]["to"]), manifest) == span
    assert span  # the span chosen carries real migrations
