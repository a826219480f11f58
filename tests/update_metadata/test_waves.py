"""Wave arithmetic (updates.md §3.3): exact, in nanoseconds, with Bottlerocket's absolute-seed quirk."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thar.update_metadata import MAX_SEED, SeedError, Timestamp, WavesError, ready, wave_for_seed, waves_from_policy
from thar.update_metadata.waves import div_duration

from .conftest import HOUR, MS

T = Timestamp.parse("2024-10-24T18:00:00Z")
DAY = 24 * HOUR
# Bottlerocket's default wave policy: 1h/1%, 4h/5%, 1d/15%, 2d/40%, 4d/60%, 5d/90%, 6d/100%
DEFAULT_POLICY = [(HOUR, 1), (4 * HOUR, 5), (DAY, 15), (2 * DAY, 40), (4 * DAY, 60), (5 * DAY, 90), (6 * DAY, 100)]


def test_default_policy_keys_and_times() -> None:
    waves = waves_from_policy(T, DEFAULT_POLICY)
    assert {k: v.ns - T.ns for k, v in waves.items()} == {
        0: HOUR,
        20: 4 * HOUR,
        102: DAY,
        307: 2 * DAY,
        819: 4 * DAY,
        1228: 5 * DAY,
        1843: 6 * DAY,
    }


def test_policy_rejects_bad_percentages_and_unordered_times() -> None:
    with pytest.raises(WavesError, match="1…100, got 0"):
        waves_from_policy(T, [(HOUR, 0)])
    with pytest.raises(WavesError, match="1…100, got 101"):
        waves_from_policy(T, [(HOUR, 101)])
    with pytest.raises(WavesError, match="Waves are not ordered"):
        waves_from_policy(T, [(4 * HOUR, 10), (HOUR, 100)])


def test_no_waves_is_ready_whatever_the_seed() -> None:
    assert ready({}, 0, T)
    assert ready({}, 2047, T - DAY)
    assert ready({}, 5000, T)  # no waves: the seed is never looked at


@pytest.mark.parametrize("s", range(100, 401, 25))
def test_one_millisecond_per_seed(s: int) -> None:
    """Upstream's test: waves {0: T, 2048: T+2048 ms} — seed s is ready at T+s ms, not a ms before."""
    waves = {0: T, 2048: T + 2048 * MS}
    assert not ready(waves, s, T + (s - 1) * MS)
    assert ready(waves, s, T + s * MS)


def test_upstream_facts_initial_and_passed_waves() -> None:
    now = Timestamp.now()
    waves = {0: now, 1024: now + HOUR, 2048: now + HOUR}
    assert ready(waves, 0, now)
    assert not ready(waves, 2000, now)
    assert ready({0: T - 3 * HOUR, 256: T - 2 * HOUR, 512: T - HOUR}, 1024, T)


def test_initial_wave_is_ready_at_once() -> None:
    """No key below the seed: ready even long before every wave time."""
    waves = {100: T + DAY, 200: T + 2 * DAY}
    assert wave_for_seed(waves, 100) is not None and wave_for_seed(waves, 100).kind == "initial"  # type: ignore[union-attr]
    assert ready(waves, 0, T - 100 * DAY)
    assert ready(waves, 100, T - 100 * DAY)
    assert not ready(waves, 101, T - 100 * DAY)
    # with a key 0 only seed 0 is in the initial wave
    assert ready({0: T + DAY}, 0, T)
    assert not ready({0: T + DAY}, 1, T)


def test_seed_equal_to_key_belongs_to_the_wave_ending_there() -> None:
    waves = waves_from_policy(T, DEFAULT_POLICY)
    wave = wave_for_seed(waves, 20)
    assert wave is not None and wave.start == (0, T + HOUR) and wave.end == (20, T + 4 * HOUR)
    # seed 20 with the absolute seed: 1h + 20 × (3h / 20) = the wave's end, 4h
    assert not ready(waves, 20, T + 4 * HOUR - 1)
    assert ready(waves, 20, T + 4 * HOUR)
    wave = wave_for_seed(waves, 21)
    assert wave is not None and wave.start == (20, T + 4 * HOUR) and wave.end == (102, T + DAY)


def test_spread_inside_a_wave_uses_the_absolute_seed() -> None:
    waves = waves_from_policy(T, DEFAULT_POLICY)
    # seed 10: S+1h + 10 × (3h/20) = S+2h30m
    assert not ready(waves, 10, T + 2 * HOUR + 30 * 60 * 10**9 - 1)
    assert ready(waves, 10, T + 2 * HOUR + 30 * 60 * 10**9)
    # seed 90 (wave 20→102: 82 seeds over 20h): target far past the wave's end → ready exactly at S+1d
    assert not ready(waves, 90, T + DAY - 1)
    assert ready(waves, 90, T + DAY)
    # seed 21 in the same wave: 4h + 21 × (20h / 82) ns, truncated
    per_seed = 20 * HOUR // 82
    assert not ready(waves, 21, T + 4 * HOUR + per_seed * 21 - 1)
    assert ready(waves, 21, T + 4 * HOUR + per_seed * 21)


def test_not_ready_before_a_general_wave_starts() -> None:
    waves = {0: T, 100: T + HOUR, 200: T + 2 * HOUR}
    assert not ready(waves, 150, T + HOUR - 1)  # wave 100→200 has not started
    assert not ready(waves, 150, T + HOUR)  # started, but 150 × 36 s lands past its end
    assert ready(waves, 150, T + 2 * HOUR)


def test_last_wave_is_ready_from_its_start_unspread() -> None:
    waves = waves_from_policy(T, DEFAULT_POLICY)
    for seed in (1844, 2000, 2047, 2048):
        wave = wave_for_seed(waves, seed)
        assert wave is not None and wave.kind == "last"
        assert not ready(waves, seed, T + 6 * DAY - 1)
        assert ready(waves, seed, T + 6 * DAY)


def test_keys_above_max_seed_are_never_the_end_of_a_wave() -> None:
    waves = {0: T, 5000: T + DAY}
    wave = wave_for_seed(waves, 10)
    assert wave is not None and wave.kind == "last"
    assert ready(waves, 10, T)


def test_seed_outside_the_range_is_an_error_not_a_crash() -> None:
    with pytest.raises(SeedError, match="Seed 2049 is outside"):
        ready({0: T}, MAX_SEED + 1, T)
    with pytest.raises(SeedError, match="Seed -1"):
        ready({0: T}, -1, T)


def test_per_seed_division_is_chronos_not_a_plain_floor() -> None:
    """1.000000002 s over 3 seeds: chrono divides seconds and nanoseconds apart → 333333333 ns, not …334."""
    assert div_duration(10**9 + 2, 3) == 333_333_333
    assert (10**9 + 2) // 3 == 333_333_334
    waves = {0: T, 3: T + (10**9 + 2)}
    assert not ready(waves, 1, T + 333_333_332)
    assert ready(waves, 1, T + 333_333_333)


def test_now_may_be_an_aware_datetime() -> None:
    waves = {0: T, 2048: T + 2048 * MS}
    moment = T.to_datetime()
    assert not ready(waves, 100, moment + dt.timedelta(milliseconds=99))
    assert ready(waves, 100, moment + dt.timedelta(milliseconds=100))
    with pytest.raises(ValueError, match="naive datetime"):
        ready(waves, 100, dt.datetime(2024, 10, 24, 18))


wave_tables = st.dictionaries(
    st.integers(0, 2100), st.integers(-(10**15), 10**15).map(lambda ns: T + ns), max_size=8
).map(lambda d: {k: d[k] for k in sorted(d)})
seeds = st.integers(0, MAX_SEED)


@given(wave_tables, seeds, st.integers(-(10**16), 10**16), st.integers(0, 10**16))
def test_ready_is_monotonic_in_time(waves: dict[int, Timestamp], seed: int, at: int, later: int) -> None:
    """Once ready, a host stays ready (ascending wave times, as the repository tool writes them)."""
    times = list(waves.values())
    if any(a >= b for a, b in itertools.pairwise(times)):
        return
    if ready(waves, seed, T + at):
        assert ready(waves, seed, T + at + later)


@given(wave_tables, seeds)
def test_everyone_is_ready_once_every_wave_time_passed(waves: dict[int, Timestamp], seed: int) -> None:
    last = max((t.ns for t in waves.values()), default=T.ns)
    assert ready(waves, seed, Timestamp(last))


@given(st.integers(1, 10**18), st.integers(1, 2048))
def test_per_seed_division_is_at_most_one_below_the_exact_quotient(ns: int, divisor: int) -> None:
    assert 0 <= ns // divisor - div_duration(ns, divisor) <= 1
