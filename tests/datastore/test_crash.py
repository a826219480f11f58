"""Crash test: SIGKILL a process in the middle of commits, again and again, and reopen.

A child process (``crash_child.py``) commits 200-key rounds forever; the test kills it with
SIGKILL after a random delay, reopens the datastore (which replays an interrupted commit) and
checks that live is exactly the state after some round ``R`` — never a mix of two rounds — and
that no commit that returned in the child was lost. The next child continues from ``R + 1`` on
the same datastore, so the history grows and replay runs on a datastore with many generations.
The default run kills 20 children (``FAST_TRIALS``), the ``slow`` run 200 (``TRIALS``).

The delays come from a seeded ``random.Random`` (``THAR_CRASH_SEED`` overrides the seed), scaled
by the measured start-up time of the child and the time of one round (measured again every
``RECALIBRATE_EVERY`` trials, as the speed of the disk varies). Half the kills land uniformly
within the first rounds after start-up. The commit itself is short next to staging 200 files,
so the other half are aimed at it: the test waits until the child has staged the last key of
its first round (``extra.r<start>``, staged after the ``kNNN`` keys, appears in
``pending/crash/``) and kills it a random part of a commit's time later. Timing still varies
between runs, so a failure names the seed, the trial and the delay, and leaves the datastore
in ``tmp_path`` for inspection.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from thar.datastore import LIVE, FilesystemDataStore, Version, create_new_datastore

from .crash_child import (
    KEY_COUNT,
    PREFIX,
    TX,
    commit_round,
    expected_live,
    extra_key,
    key_name,
    log_returned,
    stage_round,
)

TRIALS = 200  # the slow run
FAST_TRIALS = 20  # the default run
SEED = int(os.environ.get("THAR_CRASH_SEED", "20261125"))
KILL_WINDOW_ROUNDS = 2.0  # uniform kills land within this many rounds after the child's start-up
AIMED_SHARE = 0.5  # the share of kills aimed at the commit (not the staging) of the first round
AIMED_SPAN = 1.2  # aimed kills land within this many commit times after staging ended
RECALIBRATE_EVERY = 40
CHILD_TIMEOUT = 20.0  # seconds for a child to stage its first round (it takes well under one)
CHILD = Path(__file__).with_name("crash_child.py")
VALUE = re.compile(r'"r([0-9]+)-k[0-9]+"')  # to_json(f"r{round}-k{i}")
TEMP_MARK = "~"  # temporary and dropped-transaction names contain it (datastore/README.md)


@dataclass(frozen=True)
class Timing:
    """How long the child's steps take, in seconds (measured by ``Calibration``)."""

    startup: float  # interpreter start-up and imports of the child
    open: float  # opening the datastore
    staging: float  # staging one round's keys
    commit: float  # committing them, and logging that the commit returned

    @property
    def round(self) -> float:
        return self.staging + self.commit

    def __str__(self) -> str:
        ms = {name: f"{getattr(self, name) * 1000:.1f} ms" for name in ("startup", "open", "staging", "commit")}
        return ", ".join(f"{name} {value}" for name, value in ms.items())


@dataclass(frozen=True)
class Trial:
    number: int
    start: int  # the first round this child commits
    settled: int  # the round live showed before this child ran (durable: it was reopened and closed)
    aim: str
    fraction: float  # drawn from the seeded generator: where in its window the kill lands
    # Staging writes a new file (a temporary file, then a rename), so a new inode shows that
    # this child staged its first round even when a killed child left that round staged.
    stale: int | None  # the inode of _staged_marker(base, start) before the child started


def _median_seconds(action: Callable[[int], object], runs: int) -> float:
    times = []
    for n in range(runs):
        t0 = time.perf_counter()
        action(n)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Calibration:
    """Times the child's start-up once, and staging and commit on a scratch datastore whenever
    asked (the disk is not equally fast all along)."""

    def __init__(self, tmp_path: Path) -> None:
        self.startup = _median_seconds(
            lambda _: subprocess.run([sys.executable, str(CHILD), "--exit-after-imports"], check=True), 3
        )
        create_new_datastore(tmp_path / "calibration", Version(1, 0, 0))
        self.path = tmp_path / "calibration" / "current"
        self.log = tmp_path / "calibration.log"
        self.round = 0
        self.measure(rounds=1)  # the first round creates the directories: not representative

    def measure(self, rounds: int = 2) -> Timing:
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        t0 = time.perf_counter()
        ds = FilesystemDataStore(self.path, durable=False)
        opening = time.perf_counter() - t0
        stage_times, commit_times = [], []
        try:
            for _ in range(rounds):
                self.round += 1
                t0 = time.perf_counter()
                stage_round(ds, self.round)
                t1 = time.perf_counter()
                commit_round(ds, self.round)
                log_returned(fd, self.round)
                stage_times.append(t1 - t0)
                commit_times.append(time.perf_counter() - t1)
        finally:
            ds.close()
            os.close(fd)
        return Timing(self.startup, opening, statistics.median(stage_times), statistics.median(commit_times))


def _returned_rounds(log: Path) -> list[int]:
    """The rounds whose commit returned in a child (the complete lines of the returned log)."""
    try:
        text = log.read_text()
    except FileNotFoundError:
        return []
    return [int(line) for line in text.split("\n")[:-1]]


def _temporary_names(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        found += [os.path.join(dirpath, n) for n in dirnames + filenames if TEMP_MARK in n]
    return found


def _raw_live(base: Path) -> dict[str, str]:
    """The files below ``live/settings/crash`` read directly (the layout of README.md), as
    ``{key name: file content}``; temporary files are left out."""
    root = base / "live" / "settings" / "crash"
    raw: dict[str, str] = {}
    for dirpath, _, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).parts
        for name in filenames:
            if TEMP_MARK in name or "." in name:
                continue
            with contextlib.suppress(FileNotFoundError):
                raw[PREFIX + ".".join((*rel, name))] = (Path(dirpath) / name).read_bytes().decode("utf-8", "replace")
    return raw


def _staged_marker(base: Path, round_: int) -> Path:
    """The file of the last key the child stages in round ``round_`` (see crash_child.staged)."""
    return base / "pending" / TX / Path(*extra_key(round_).split("."))


@dataclass(frozen=True)
class Leftovers:
    """What the killed child left on disk, read before reopening (only to classify the kill)."""

    pending_tx: bool  # the transaction being staged (or committed)
    staged: bool  # … holding the last key staged for the round after ``baseline``
    dropping: bool  # a dropped transaction renamed away, its files not yet all removed
    raw: dict[str, str]  # live below PREFIX, file by file

    @classmethod
    def read(cls, base: Path, baseline: int, stale: int | None) -> Leftovers:
        """``stale``: the inode the marker (``_staged_marker``) of round ``baseline + 1`` had
        before the child started, if an earlier child had staged that round already."""
        pending = base / "pending"
        return cls(
            pending_tx=(pending / TX).is_dir(),
            staged=_inode(_staged_marker(base, baseline + 1)) not in (None, stale),
            dropping=pending.is_dir() and any(TEMP_MARK in n for n in os.listdir(pending)),
            raw=_raw_live(base),
        )

    def phase(self, baseline: int, now: int) -> str:
        """Where the kill landed, given the round live shows after reopening; ``baseline`` is
        the newest round known to have committed before the kill."""
        if now == baseline:
            if self.staged:
                return "staged, commit not yet recorded"
            return "staging" if self.pending_tx else "start-up, or between rounds"
        if self.raw == expected_live(baseline):
            return "commit recorded, live not yet written"
        if self.raw != expected_live(now):
            return "writing live (a torn live that replay completed)"
        if self.pending_tx:
            return "live written, transaction not yet dropped"
        if self.dropping:
            return "transaction dropped, its files being removed"
        return "commit done, returned log not yet written"


def _round_of(value: str) -> int | None:
    """The round a ``kNNN`` value was written by (``"r12-k7"`` → 12), None if it is no such value."""
    match = VALUE.fullmatch(value)
    return int(match[1]) if match else None


def _check(ds: FilesystemDataStore, base: Path, trial: Trial, returned: list[int]) -> int:
    """Check the reopened datastore; return the round ``R`` that live shows."""
    # create_new_datastore makes no live/ (the first write does), and reading a missing live/
    # is an error; before the first commit lands, the state is that of no keys at all.
    if (base / "live").is_dir():
        live = {key.name: value for key, value in ds.get_prefix(PREFIX, LIVE).items()}
    else:
        live = {}

    # (a) every kNNN key carries the same round (or none exists yet): never a mix.
    numbered = {name: value for name, value in live.items() if name[len(PREFIX) :].startswith("k")}
    torn = sorted((name, value) for name, value in numbered.items() if _round_of(value) is None)
    assert not torn, f"live holds values of no round: {torn[:5]}"
    rounds = {r for value in numbered.values() if (r := _round_of(value)) is not None}
    assert len(rounds) <= 1, f"live mixes rounds {sorted(rounds)}"
    now = rounds.pop() if rounds else 0
    assert len(numbered) in (0, KEY_COUNT), f"live holds {len(numbered)} of the {KEY_COUNT} keys of round {now}"

    # (b), (c) nothing that returned is lost, nor what the previous reopen saw; at most the one
    # commit in flight at the kill is added.
    last_returned = max(returned, default=0)
    assert now >= last_returned, f"round {last_returned} returned but live shows round {now}"
    assert now >= trial.settled, f"live showed round {trial.settled} before this child, now {now}"
    assert now <= max(last_returned, trial.settled) + 1, f"live shows round {now}, beyond the commit in flight"

    # (d) the whole subtree, extra keys included, is exactly the model's state after round R.
    expected = expected_live(now)
    assert live == expected, (
        f"live differs from the state after round {now}: "
        f"missing {sorted(expected.keys() - live.keys())}, unexpected {sorted(live.keys() - expected.keys())}, "
        f"wrong values {sorted((k, live[k]) for k in live.keys() & expected.keys() if live[k] != expected[k])}"
    )

    # (e) no temporary file is left in live/ (for pending/, see _check_closed).
    assert _temporary_names(base / "live") == [], "temporary files left in live/ after reopening"

    # (f) round r is generation r, and the newest generation's changes are what live shows.
    newest = ds.history(limit=1)
    if now == 0:
        assert newest == [], f"no round committed but the journal holds generation {newest[0].generation}"
        return now
    commit = newest[0]
    assert (commit.generation, commit.transaction) == (now, TX), (
        f"newest generation is {commit.generation} of '{commit.transaction}', expected {now} of '{TX}'"
    )
    before = expected_live(now - 1)
    for key, change in commit.changes.items():
        assert change.new == live.get(key.name), (
            f"generation {now} recorded {key.name} new={change.new}, live has {live.get(key.name)}"
        )
        assert change.old == before.get(key.name), (
            f"generation {now} recorded {key.name} old={change.old}, expected {before.get(key.name)}"
        )
    must_record = {key_name(i) for i in range(KEY_COUNT)} | (expected.keys() ^ before.keys())
    missing = must_record - {key.name for key in commit.changes}
    assert not missing, f"generation {now} does not record changed keys {sorted(missing)}"
    return now


def _check_closed(base: Path) -> None:
    """(e) Once closed (a transaction dropped by replay is removed in the background until
    then), no dropped transaction is left in pending/ either."""
    pending = base / "pending"
    dropped = [n for n in os.listdir(pending) if TEMP_MARK in n] if pending.is_dir() else []
    assert dropped == [], f"dropped transactions left in pending/ after reopening and closing: {dropped}"


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _kill_after(child: subprocess.Popen[bytes], trial: Trial, timing: Timing, base: Path) -> float:
    """Kill ``child`` (SIGKILL) at the moment the trial aims at; return the delay in seconds
    from its start, or raise AssertionError if it exited by itself or never got there."""
    started = time.perf_counter()
    if trial.aim == "uniform":
        time.sleep(timing.startup + trial.fraction * KILL_WINDOW_ROUNDS * timing.round)
    else:
        marker = _staged_marker(base, trial.start)
        while _inode(marker) in (None, trial.stale):
            if child.poll() is not None or time.perf_counter() - started > CHILD_TIMEOUT:
                break
            time.sleep(0.0002)
        else:
            time.sleep(trial.fraction * AIMED_SPAN * timing.commit)
    alive = child.poll() is None
    delay = time.perf_counter() - started
    child.kill()  # SIGKILL
    child.wait()
    assert alive, f"the child exited by itself ({child.returncode})"
    assert delay < CHILD_TIMEOUT, "the child did not stage its first round in time"
    return delay


def run_commit_crashes(tmp_path: Path, trials: int) -> None:
    """Kill a committing child ``trials`` times; after each kill live is whole and every commit it
    reported is there."""
    calibration = Calibration(tmp_path)
    rng = random.Random(SEED)
    root = tmp_path / "datastore"
    create_new_datastore(root, Version(1, 0, 0))
    base = (root / "current").resolve()
    log = tmp_path / "returned.log"
    stdout, stderr = tmp_path / "child.stdout", tmp_path / "child.stderr"
    outcomes: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    recent: list[str] = []
    settled = 0
    started = time.perf_counter()

    for number in range(trials):
        if number % RECALIBRATE_EVERY == 0:
            timing = calibration.measure()
        aim = "commit of the first round" if rng.random() < AIMED_SHARE else "uniform"
        trial = Trial(number, settled + 1, settled, aim, rng.random(), _inode(_staged_marker(base, settled + 1)))
        context = (
            f"seed={SEED} (THAR_CRASH_SEED) trial={number} of {trials}: child started at round {trial.start}, "
            f"killed at {trial.fraction:.3f} of its window ({aim}; {timing}); datastore {base}, "
            f"returned log {log}; previous trials: {recent[-3:]}"
        )
        before = len(_returned_rounds(log))
        with stdout.open("wb") as out, stderr.open("wb") as err:
            child = subprocess.Popen(
                [sys.executable, str(CHILD), str(root / "current"), str(trial.start), str(log)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
            try:
                delay = _kill_after(child, trial, timing, base)
            except AssertionError as exc:
                raise AssertionError(f"{context}: {exc}: {stderr.read_text()}") from exc
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        context += f"; killed after {delay * 1000:.1f} ms"
        assert stdout.read_bytes() == b"", f"{context}: the child printed {stdout.read_text()!r}"

        returned = _returned_rounds(log)
        returned_now = returned[before:]
        assert returned_now == list(range(trial.start, trial.start + len(returned_now))), (
            f"{context}: the child logged rounds {returned_now}"
        )
        baseline = max(max(returned, default=0), settled)
        leftovers = Leftovers.read(base, baseline, trial.stale if baseline + 1 == trial.start else None)
        try:
            ds = FilesystemDataStore(root / "current", durable=False)  # replays an interrupted commit
            try:
                now = _check(ds, base, trial, returned)
            finally:
                ds.close()
            _check_closed(base)
        except Exception as exc:
            raise AssertionError(f"{context}: {type(exc).__name__}: {exc}") from exc

        phase = leftovers.phase(baseline, now)
        phases[f"{aim}: {phase}"] += 1
        outcomes["R == last returned" if now == baseline else "R == last returned + 1 (the commit in flight)"] += 1
        if now == settled:
            outcomes["killed before the child's first commit"] += 1
        recent.append(f"trial {number}: rounds {trial.start}..{now}, {delay * 1000:.0f} ms, {phase}")
        settled = now

    elapsed = time.perf_counter() - started
    print(
        f"\ncrash test: seed {SEED}, {trials} trials in {elapsed:.1f} s, {settled} rounds; last timing {timing}\n"
        + "".join(f"  {name}: {count}\n" for name, count in sorted(outcomes.items()))
        + "".join(f"  {name}: {count}\n" for name, count in sorted(phases.items()))
    )


def test_sigkill_during_commits_never_tears_live_or_loses_a_returned_commit(tmp_path: Path) -> None:
    run_commit_crashes(tmp_path, FAST_TRIALS)


@pytest.mark.slow
def test_sigkill_during_commits_never_tears_live_or_loses_a_returned_commit_long(tmp_path: Path) -> None:
    run_commit_crashes(tmp_path, TRIALS)
