"""Crash safety of storewolf (issue 12): SIGKILL it during a first boot, then boot again.

Each trial runs the real ``storewolf`` as its unit does — ``--data-store-base-path`` and
``--inventory-file-symlink-path`` only, in a sandbox ``THAR_ROOT`` whose
``etc/storewolf/defaults.toml`` holds the thar-dev variant's defaults merged and whose
``usr/lib/os-release`` names 1.26.1 — on an empty datastore directory, and kills it:

* at each step: the test watches the filesystem from outside and sends SIGKILL as soon as it
  shows the step done (``STEPS``: a datastore directory, its journal, the staged settings, the
  first metadata, the other defaults, each version link, the inventory symlink); the step a
  kill really left (the process may get further before the signal lands) is reported;
* at seeded random moments (``THAR_STOREWOLF_CRASH_SEED`` overrides the seed), half anywhere in
  a run's measured duration, half in the part of it that writes to disk.

Then storewolf runs again, to completion. Every such run must exit 0 and leave one datastore,
exactly what an uninterrupted run leaves: ``current -> v1 -> v1.26 -> v1.26.1 -> v1.26.1_<suffix>``
and nothing else in the base directory (no temporary names anywhere below it), byte for byte
the live keys, metadata and launch transaction of a reference run, a journal that opens, and
the inventory symlink. Failures are collected over all trials, each naming the seed, the trial,
where the kill was aimed and what it left, and the datastore is kept for inspection.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import toml

from thar.datastore import FilesystemDataStore
from thar.datastore.journal import JOURNAL_FILE
from thar.storewolf import INVENTORY_PATH, LAUNCH_TRANSACTION, load_variant_defaults

from .helpers import datastore_files, storewolf_command, storewolf_env, write

SEED = int(os.environ.get("THAR_STOREWOLF_CRASH_SEED", "20261212"))
VERSION = "1.26.1"
LINKS = {"current": "v1", "v1": "v1.26", "v1.26": "v1.26.1"}  # and v1.26.1 -> the datastore directory
DATASTORE_DIR = re.compile(r"v1\.26\.1_[A-Za-z0-9]{16}")
RUN_TIMEOUT = 30.0


def _directories(base: Path) -> list[Path]:
    """The real directories directly in ``base``: datastore directories, finished or not."""
    try:
        return [Path(e.path) for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _in_a_datastore(relative: str) -> Callable[[Path, Path], bool]:
    return lambda base, _: any((d / relative).exists() for d in _directories(base))


def _link(name: str) -> Callable[[Path, Path], bool]:
    return lambda base, _: (base / name).is_symlink()


#: What a first boot does, each as a test of the filesystem that tells it has been done.
STEPS: list[tuple[str, Callable[[Path, Path], bool]]] = [
    ("datastore directory", lambda base, _: bool(_directories(base))),
    ("journal", _in_a_datastore(JOURNAL_FILE)),
    ("settings staged", _in_a_datastore(f"pending/{LAUNCH_TRANSACTION}")),
    ("metadata", _in_a_datastore("live/settings")),
    ("other defaults", _in_a_datastore("live/configuration-files")),
    ("link v1.26.1", _link("v1.26.1")),
    ("named v1.26.1_…", lambda base, _: any(DATASTORE_DIR.fullmatch(d.name) for d in _directories(base))),
    ("link v1.26", _link("v1.26")),
    ("link v1", _link("v1")),
    ("link current", _link("current")),
    ("inventory symlink", lambda _, inventory: inventory.is_symlink()),
]


def _steps_done(base: Path, inventory: Path) -> str:
    return ", ".join(name for name, done in STEPS if done(base, inventory)) or "nothing"


@dataclass
class Sandbox:
    root: Path  # THAR_ROOT

    def paths(self, name: str) -> tuple[Path, Path]:
        """A datastore base directory and an inventory symlink path of their own."""
        return self.root / name / "datastore", self.root / name / "inventory" / "application.json"

    def start(self, base: Path, inventory: Path) -> subprocess.Popen[bytes]:
        command = storewolf_command("--data-store-base-path", base, "--inventory-file-symlink-path", inventory)
        return subprocess.Popen(
            command, env=storewolf_env(self.root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def run(self, base: Path, inventory: Path) -> subprocess.CompletedProcess[str]:
        command = storewolf_command("--data-store-base-path", base, "--inventory-file-symlink-path", inventory)
        return subprocess.run(command, env=storewolf_env(self.root), capture_output=True, text=True, timeout=60)


@pytest.fixture
def sandbox(thar_root: Path) -> Sandbox:
    table = load_variant_defaults("thar-dev").table
    text = toml.dumps(table)
    assert tomllib.loads(text) == table  # the merged file holds exactly the variant's defaults
    write(thar_root / "etc/storewolf/defaults.toml", text)
    write(thar_root / "usr/lib/os-release", f'NAME=thar\nVERSION_ID="{VERSION}"\n')
    return Sandbox(thar_root)


@dataclass(frozen=True)
class Timing:
    total: float  # from starting the process to its exit
    first_write: float  # from starting it to its first change on disk

    def __str__(self) -> str:
        return f"{self.total * 1000:.1f} ms, writing from {self.first_write * 1000:.1f} ms"


def _measure(sandbox: Sandbox, runs: int = 3) -> Timing:
    totals, first_writes = [], []
    for n in range(runs):
        base, inventory = sandbox.paths(f"calibration{n}")
        started = time.perf_counter()
        child = sandbox.start(base, inventory)
        first = None
        while child.poll() is None:
            if first is None and base.exists():
                first = time.perf_counter() - started
        totals.append(time.perf_counter() - started)
        assert child.returncode == 0, f"a clean run exited {child.returncode}"
        first_writes.append(first if first is not None else totals[-1])
        shutil.rmtree(base.parent)
    return Timing(statistics.median(totals), statistics.median(first_writes))


def _kill_at_step(child: subprocess.Popen[bytes], step: int, base: Path, inventory: Path) -> bool:
    """SIGKILL ``child`` once STEPS[step] shows; True if it was still running then."""
    done = STEPS[step][1]
    deadline = time.perf_counter() + RUN_TIMEOUT
    while not done(base, inventory):
        if child.poll() is not None:
            return False
        assert time.perf_counter() < deadline, f"storewolf did not reach '{STEPS[step][0]}' in {RUN_TIMEOUT} s"
    return _kill(child)


def _kill_after(child: subprocess.Popen[bytes], delay: float) -> bool:
    time.sleep(delay)
    return _kill(child)


def _kill(child: subprocess.Popen[bytes]) -> bool:
    child.kill()  # SIGKILL; a process that has exited already is not signalled
    child.wait(RUN_TIMEOUT)
    return child.returncode == -signal.SIGKILL


def _problems(base: Path, inventory: Path, sandbox: Sandbox, reference: dict[str, bytes]) -> list[str]:
    """How the datastore after a completed rerun differs from what a clean run leaves."""
    names = sorted(os.listdir(base))
    real = [n for n in names if DATASTORE_DIR.fullmatch(n) and (base / n).is_dir() and not (base / n).is_symlink()]
    if names != sorted([*LINKS, "v1.26.1", *real]) or len(real) != 1:
        return [f"the base directory holds {names}, not the four links and one datastore directory"]
    problems = []
    chain = {**LINKS, "v1.26.1": real[0]}
    for link, target in chain.items():
        if not (base / link).is_symlink() or os.readlink(base / link) != target:
            problems.append(f"{link} is not a link to {target}")
    temporary = [os.path.join(d, n) for d, dirs, files in os.walk(base) for n in dirs + files if "~" in n]
    if temporary:
        problems.append(f"temporary names are left: {temporary[:5]}")
    files = datastore_files(base) if not problems else {}
    if not problems and files != reference:
        missing, extra = sorted(reference.keys() - files.keys()), sorted(files.keys() - reference.keys())
        wrong = sorted(k for k in reference.keys() & files.keys() if reference[k] != files[k])
        problems.append(
            f"the datastore differs from a clean run's: missing {missing[:5]} ({len(missing)}), "
            f"unexpected {extra[:5]} ({len(extra)}), different {wrong[:5]} ({len(wrong)})"
        )
    if not problems:
        ds = FilesystemDataStore(base / "current", durable=False)
        try:
            if ds.history(limit=1):
                problems.append("the journal records a commit")
        finally:
            ds.close()
    target = str(sandbox.root / INVENTORY_PATH.relative_to("/"))
    if not inventory.is_symlink() or os.readlink(inventory) != target:
        problems.append(f"the inventory symlink does not point to {target}")
    return problems


def _run_trials(sandbox: Sandbox, step_rounds: int, random_trials: int) -> None:
    reference_base, reference_inventory = sandbox.paths("reference")
    clean = sandbox.run(reference_base, reference_inventory)
    assert clean.returncode == 0, clean.stderr
    reference = datastore_files(reference_base)
    assert _problems(reference_base, reference_inventory, sandbox, reference) == []
    assert any(name.startswith(f"pending/{LAUNCH_TRANSACTION}/") for name in reference)
    assert sum(".affected-services" in name for name in reference) >= 10  # the metadata are there
    timing = _measure(sandbox)

    rng = random.Random(SEED)
    aims: list[int | None] = [step for _ in range(step_rounds) for step in range(len(STEPS))]
    aims += [None] * random_trials
    left: Counter[str] = Counter()
    failures: list[str] = []
    attempts = 0
    for number, aim in enumerate(aims):
        while True:  # until a kill lands while storewolf runs
            attempts += 1
            assert attempts <= 4 * len(aims), f"too few kills landed before storewolf exited: {dict(left)}"
            base, inventory = sandbox.paths(f"trial{number}")
            if base.parent.exists():
                shutil.rmtree(base.parent)
            if aim is None:
                delay = (
                    rng.uniform(0, timing.total)
                    if rng.random() < 0.5
                    else rng.uniform(timing.first_write, timing.total)
                )
                where = f"after {delay * 1000:.1f} ms (a run takes {timing})"
                landed = _kill_after(sandbox.start(base, inventory), delay)
            else:
                where = f"at step '{STEPS[aim][0]}'"
                landed = _kill_at_step(sandbox.start(base, inventory), aim, base, inventory)
            if landed:
                break
        state = _steps_done(base, inventory)
        left[state] += 1
        context = f"seed {SEED} (THAR_STOREWOLF_CRASH_SEED), trial {number}: killed {where}, leaving [{state}]"
        rerun = sandbox.run(base, inventory)
        if rerun.returncode != 0:
            failures.append(f"{context}: the next run exited {rerun.returncode}: {rerun.stderr.strip()}")
            continue
        problems = _problems(base, inventory, sandbox, reference)
        if problems:
            failures.append(f"{context}: after the next run, {'; '.join(problems)} ({base})")
            continue
        shutil.rmtree(base.parent)

    print(
        f"\nstorewolf crash test: seed {SEED}, {len(aims)} kills ({attempts} runs started), "
        f"a run takes {timing}; what the kills left:\n"
        + "".join(f"  {count:3} [{state}]\n" for state, count in sorted(left.items(), key=lambda i: -i[1]))
    )
    assert not failures, f"{len(failures)} of {len(aims)} trials failed:\n" + "\n".join(failures[:10])


def test_a_run_killed_at_any_step_is_completed_by_the_next(sandbox: Sandbox) -> None:
    _run_trials(sandbox, step_rounds=1, random_trials=3)


@pytest.mark.slow
def test_a_run_killed_at_100_moments_is_completed_by_the_next(sandbox: Sandbox) -> None:
    _run_trials(sandbox, step_rounds=4, random_trials=100 - 4 * len(STEPS))
