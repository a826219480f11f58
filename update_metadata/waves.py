"""Update waves: which seeds may take an update at a given time (updates.md §3.3).

A wave table maps a wave's *starting seed* to the time that wave starts. A host's seed
(0…2047, ``settings.updates.seed``) falls in the wave that ends at the smallest key ``>= seed``
and started at the largest key ``< seed`` — so a seed equal to a key belongs to the wave
*ending* there. Inside a wave, seeds are spread over the wave's span at ``per_seed =
span / (end_key - start_key)`` nanoseconds each, and a host is ready at ``start + per_seed ×
seed`` (the absolute seed, Bottlerocket's arithmetic: a seed past ``end_key - start_key``
becomes ready only at the wave's end). The first wave (no key below the seed) is ready at
once; the last (no key at or above the seed) is ready from its start, unspread.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import SeedError, WavesError
from .timestamps import NS_PER_SECOND, Timestamp

__all__ = ["MAX_SEED", "Wave", "div_duration", "ready", "wave_for_seed", "waves_from_policy"]

MAX_SEED = 2048


@dataclass(frozen=True)
class Wave:
    """The wave a seed falls in. ``start`` is None for the initial wave, ``end`` None for the last."""

    start: tuple[int, Timestamp] | None
    end: tuple[int, Timestamp] | None

    @property
    def kind(self) -> str:
        """``initial``, ``general`` or ``last``."""
        if self.start is None:
            return "initial"
        return "last" if self.end is None else "general"


def _check_seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise SeedError(f"Seed {seed} is outside 0…{MAX_SEED}; waves cannot place it")


def wave_for_seed(waves: Mapping[int, Timestamp], seed: int) -> Wave | None:
    """The wave ``seed`` falls in, or None for an empty table (a seed outside 0…2048 → SeedError)."""
    if not waves:
        return None
    _check_seed(seed)
    below = [k for k in waves if k < seed]
    at_or_above = [k for k in waves if seed <= k <= MAX_SEED]
    start = (max(below), waves[max(below)]) if below else None
    end = (min(at_or_above), waves[min(at_or_above)]) if at_or_above else None
    if start is None and end is None:
        return None
    return Wave(start, end)


def div_duration(ns: int, divisor: int) -> int:
    """chrono's ``TimeDelta / i32`` for a positive span: whole seconds and nanoseconds divided apart.

    ``(secs / d) s + ((secs % d) × 10⁹ / d + nanos / d) ns``, each division truncating — which can
    be one nanosecond less than dividing the total (e.g. 1.000000002 s / 3 = 333333333 ns).
    """
    secs, nanos = divmod(ns, NS_PER_SECOND)
    return (secs // divisor) * NS_PER_SECOND + (secs % divisor) * NS_PER_SECOND // divisor + nanos // divisor


def ready(waves: Mapping[int, Timestamp], seed: int, now: Timestamp | dt.datetime) -> bool:
    """Whether a host with ``seed`` may take an update with these waves at ``now`` (exact, in ns)."""
    if isinstance(now, dt.datetime):
        now = Timestamp.from_datetime(now)
    wave = wave_for_seed(waves, seed)
    if wave is None or wave.start is None:
        return True  # no waves, or the initial wave: ready whatever the time
    start_seed, start_time = wave.start
    if wave.end is None:
        return start_time <= now  # the last wave is not spread
    end_seed, end_time = wave.end
    if end_time <= now:
        return True
    if start_time > now:
        return False
    per_seed = div_duration(end_time.ns - start_time.ns, end_seed - start_seed)
    return now.ns >= start_time.ns + per_seed * seed


def waves_from_policy(start: Timestamp, policy: Sequence[tuple[int, int]]) -> dict[int, Timestamp]:
    """Waves from a policy of ``(start_after_ns, fleet_percentage)`` steps, as Bottlerocket's repo tool makes them.

    The first wave has key 0; wave *i* ≥ 1 has key ``floor(pct[i-1] / 100 × 2048)``; the last
    percentage creates no key. Percentages must be 1…100 and the times strictly ascending.
    """
    waves: dict[int, Timestamp] = {}
    seed = 0
    for after, percentage in policy:
        if not 0 < percentage <= 100:
            raise WavesError(f"Fleet percentage must be 1…100, got {percentage}")
        waves[seed] = start + after
        seed = percentage * MAX_SEED // 100
    times = [waves[k] for k in sorted(waves)]
    if any(a >= b for a, b in itertools.pairwise(times)):
        raise WavesError("Waves are not ordered; percentages and dates must be in ascending order")
    return waves
