"""Semantic versions and timestamps, as the manifest's Rust crates (semver, chrono) read and write them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thar.update_metadata import Timestamp, TimestampError, Version, VersionError, parse_version_lock


@pytest.mark.parametrize(
    "text", ["1.2", "1", "v1.2.3", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3-", "1.2.3+", " 1.2.3", "1.2.3 "]
)
def test_strict_semver_rejects(text: str) -> None:
    with pytest.raises(VersionError, match="Invalid semantic version"):
        Version.parse(text)


@pytest.mark.parametrize("text", ["0.0.0", "1.26.1", "1.2.3-rc.1", "1.2.3+build.05", "1.2.3-alpha-1.0a+b", "10.20.30"])
def test_strict_semver_round_trips(text: str) -> None:
    assert str(Version.parse(text)) == text


def test_precedence() -> None:
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0", "1.0.0+1", "1.0.0+2", "1.0.0+10", "1.0.0+a", "1.0.1", "1.1.0", "2.0.0"]  # fmt: skip
    versions = [Version.parse(v) for v in order]
    assert sorted(reversed(versions)) == versions
    assert Version.parse("1.2.0+a") != Version.parse("1.2.0")


def test_version_lock_parsing() -> None:
    assert parse_version_lock("latest") is None
    assert parse_version_lock("v1.2.3") == Version(1, 2, 3)
    assert parse_version_lock("1.2.3") == Version(1, 2, 3)


def test_timestamp_format_and_parse() -> None:
    t = Timestamp.parse("2024-10-24T18:00:00Z")
    assert str(t) == "2024-10-24T18:00:00Z"
    assert str(t + 1) == "2024-10-24T18:00:00.000000001Z"
    assert str(t + 1000) == "2024-10-24T18:00:00.000001Z"
    assert str(t + 10**6) == "2024-10-24T18:00:00.001Z"
    assert str(t + 120 * 10**6) == "2024-10-24T18:00:00.120Z"
    assert Timestamp.parse("2024-10-24T18:00:00.1234567891Z") == t + 123_456_789  # digits past ns are cut
    assert Timestamp.parse("2024-10-24T12:00:00-06:00") == t
    assert t.to_datetime() == dt.datetime(2024, 10, 24, 18, tzinfo=dt.UTC)
    assert Timestamp.from_datetime(dt.datetime(2024, 10, 24, 20, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == t


@pytest.mark.parametrize(
    "text", ["2024-10-24", "2024-10-24T18:00Z", "2024-13-01T00:00:00Z", "2024-10-24T18:00:00+24:00"]
)
def test_timestamp_rejects(text: str) -> None:
    with pytest.raises(TimestampError, match="Invalid RFC 3339 timestamp"):
        Timestamp.parse(text)


@given(st.integers(-(10**18), 2 * 10**18))
def test_timestamp_text_round_trips(ns: int) -> None:
    assert Timestamp.parse(str(Timestamp(ns))) == Timestamp(ns)
