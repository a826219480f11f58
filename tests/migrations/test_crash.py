"""Crash safety of the migrator (issue 7): SIGKILL it at random moments, again and again.

Each trial forks a migrator (the real ``migrations.cli.main``, in a process of its own and a
process group of its own) that migrates a small datastore between 1.0.0 and 1.1.0 — forward
and backward in turn — and kills it with SIGKILL a random time after it starts working. Then:

* its forked migrations die with it (nothing in its process group survives for long);
* the datastore is never broken: the links form a valid chain, the datastore opens, and its
  content is exactly the old version's if the links say old, the new version's if they say new;
* running the migrator again finishes the job, and leaves no more than two datastore
  directories (the current one and the one before).

The delays come from a seeded ``random.Random`` (``THAR_MIGRATOR_CRASH_SEED`` overrides the
seed) scaled by the median time of recent full runs: half land anywhere in a run, half in its
last part, where the links are switched. Trials go on until 100 kills have landed while a
migrator was running (a delay that outlasts the run kills nothing, and the datastore is then
checked all the same). A failure names the seed, the trial and the delay.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from thar.datastore import FilesystemDataStore, Version, datastore_version
from thar.migrations.cli import main as migrator_main
from thar.migrations.links import current_version

from .conftest import Sandbox, read_state

TRIALS = 100  # SIGKILLs that land while the migrator runs
SEED = int(os.environ.get("THAR_MIGRATOR_CRASH_SEED", "20261129"))
OLD, NEW = "1.0.0", "1.1.0"
PR_SET_CHILD_SUBREAPER = 36

State = tuple[dict[str, str], dict[str, dict[str, str]], dict[str, dict[str, str]]]


def without_os(state: State) -> State:
    live, pending, meta = state
    return (
        {k: v for k, v in live.items() if not k.startswith("os.")},
        {tx: {k: v for k, v in keys.items() if not k.startswith("os.")} for tx, keys in pending.items()},
        meta,
    )


def fork_migrator(box: Sandbox, target: str) -> tuple[int, int]:
    """Start a migrator in a forked process (own process group); return (pid, read end of a
    pipe that gets one byte when it has started working)."""
    ready_r, ready_w = os.pipe()
    argv = ["--datastore-path", str(box.current), "--migration-directory", str(box.migrations)]
    argv += ["--migrate-to-version", target, "--no-sync"]
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setpgid(0, 0)
            os.close(ready_r)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            os.environ["THAR_ROOT"] = str(box.root)
            os.write(ready_w, b"x")
            os.close(ready_w)
            code = migrator_main(argv)
        finally:
            os._exit(code)
    os.close(ready_w)
    return pid, ready_r


def run_to_end(box: Sandbox, target: str) -> int:
    pid, ready = fork_migrator(box, target)
    os.read(ready, 1)
    os.close(ready)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def wait_group_gone(pgid: int, timeout: float = 5.0) -> bool:
    """True once no process of group ``pgid`` is left (reaping the orphans this process adopted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-pgid, os.WNOHANG)[0] > 0:
                pass
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.002)
    return False


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """Adopt orphaned descendants (the migrations of a killed migrator), so that their end can
    be seen and reaped here rather than by init, which may take its time."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def version_dirs(box: Sandbox) -> list[str]:
    return sorted(p.name for p in box.datastore.iterdir() if "_" in p.name and not p.name.startswith("."))


@pytest.mark.slow
def test_sigkill_at_random_moments(sandbox: Sandbox) -> None:
    sandbox.os_release(NEW)
    live = {f"settings.group{i % 4}.key{i}": f"value {i}" for i in range(12)}
    live["settings.motd"] = "old motd"
    sandbox.create(
        OLD,
        live=live,
        pending={"tx": {"settings.motd": "old motd", "settings.group0.key0": "pending"}},
        metadata={"settings.motd": {"affected-services": ["motd"]}, "settings.added": {"affected-services": ["x"]}},
    )
    sandbox.python_migration("migrate_v1.1.0_motd", 'ReplaceStringMigration("settings.motd", "old motd", "new motd")')
    # "added" and "meta" run as one chain, "motd" as a process of its own
    sandbox.chainable_migration("migrate_v1.1.0_added", 'AddSettingsMigration(["settings.group1.key1"])')
    sandbox.chainable_migration(
        "migrate_v1.1.0_meta", 'AddMetadataMigration([SettingMetadata("settings.added", ["affected-services"])])'
    )
    # Calibrate: a full run each way gives the two states and how long the work takes. The
    # first downgrade drops the setting 1.1.0 added, so the states are taken from the second cycle.
    first_state = without_os(read_state(sandbox.current))
    assert run_to_end(sandbox, NEW) == 0
    assert run_to_end(sandbox, OLD) == 0
    back_state = without_os(read_state(sandbox.current))
    assert back_state[0] == {k: v for k, v in first_state[0].items() if k != "settings.group1.key1"}
    started = time.perf_counter()
    assert run_to_end(sandbox, NEW) == 0
    work = time.perf_counter() - started
    print(f"a full run takes {work:.3f} s")
    new_state = without_os(read_state(sandbox.current))
    assert new_state[0]["settings.motd"] == '"new motd"'
    assert run_to_end(sandbox, OLD) == 0
    assert without_os(read_state(sandbox.current)) == back_state
    expected = {Version.parse(NEW): new_state, Version.parse(OLD): back_state}

    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    at = Version.parse(OLD)
    with subreaper():
        at = run_trials(sandbox, rng, work, expected, outcomes, at)
    print(f"outcomes: {dict(outcomes)}")
    # the kills really landed on both sides of the switch
    assert outcomes["found old"] > 0 and outcomes["found new"] > 0, outcomes


def run_trials(
    sandbox: Sandbox,
    rng: random.Random,
    work: float,
    expected: dict[Version, State],
    outcomes: Counter[str],
    at: Version,
) -> Version:
    recent = [work]  # the times of recent full runs: the machine's speed varies
    trial = -1
    while outcomes["killed"] < TRIALS:  # a trial whose delay outlasts the run kills nothing
        trial += 1
        assert trial < 4 * TRIALS, f"too few kills landed before the runs ended: {dict(outcomes)}"
        target = NEW if at == Version.parse(OLD) else OLD
        work = statistics.median(recent[-9:])
        # half anywhere in the run, half aimed at its end (the switch of the links and the cleanup)
        delay = rng.uniform(0, work * 1.1) if trial % 2 else rng.uniform(work * 0.7, work * 1.1)
        where = f"seed {SEED}, trial {trial}, delay {delay:.4f}s, {at} -> {target}"
        pid, ready = fork_migrator(sandbox, target)
        os.read(ready, 1)
        os.close(ready)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        outcomes["finished" if os.WIFEXITED(status) else "killed"] += 1
        assert not os.WIFEXITED(status) or os.WEXITSTATUS(status) == 0, where
        assert wait_group_gone(pid), f"a migration outlived its migrator ({where})"

        # Never broken: a valid chain, old or new, and the content that version must have.
        version = datastore_version(sandbox.datastore)
        assert version == current_version(sandbox.datastore), where
        assert version in expected, where
        FilesystemDataStore(sandbox.current, durable=False).close()
        assert without_os(read_state(sandbox.current)) == expected[version], where
        outcomes["found " + ("old" if version == at else "new")] += 1

        # Running again completes the job and keeps at most two datastores.
        started = time.perf_counter()
        assert run_to_end(sandbox, target) == 0, where
        if version == at:  # the whole migration ran again
            recent.append(time.perf_counter() - started)
        at = Version.parse(target)
        assert datastore_version(sandbox.datastore) == at, where
        assert without_os(read_state(sandbox.current)) == expected[at], where
        assert len(version_dirs(sandbox)) <= 2, f"{version_dirs(sandbox)} ({where})"
    return at


def test_each_link_step_leaves_old_or_new(sandbox: Sandbox) -> None:
    """Stopping the switch after any of its four renames leaves a chain that names the old or
    the new version, and leads to that version's directory."""
    from thar.datastore.version import BUILDING_PREFIX, _replace_link

    old_dir = sandbox.create("1.5.2", live={"settings.a": 1})
    new_dir = sandbox.datastore / "v1.6.0_0123456789abcdef"
    new_dir.mkdir()
    steps = [("v1.6.0", new_dir.name), ("v1.6", "v1.6.0"), ("v1", "v1.6"), ("current", "v1")]
    seen = []
    for link, target in steps:
        _replace_link(sandbox.datastore, link, target)
        version = datastore_version(sandbox.datastore)
        resolved = sandbox.current.resolve()
        assert (version, resolved) in {(Version(1, 5, 2), old_dir), (Version(1, 6, 0), new_dir)}
        seen.append(str(version))
    assert seen == ["1.5.2", "1.5.2", "1.6.0", "1.6.0"]  # a minor update switches at vX
    assert not list(sandbox.datastore.glob(BUILDING_PREFIX + "*"))  # no temporary link left
