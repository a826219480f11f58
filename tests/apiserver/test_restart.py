"""Stopping the real server in the middle of a big commit.

- SIGKILL: after a restart on the same datastore the commit is wholly present (and its
  transaction gone) or wholly absent (and its transaction still pending, intact) — never a mix.
- SIGTERM: the commit in flight finishes (its response arrives, or its keys are all there
  after a restart) and the server exits 0.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conftest import MakeServer, Response, ServerProcess

BIG = 500
KILL_TRIALS = 5
TERM_TRIALS = 2


def big_settings(tag: str) -> dict[str, str]:
    """BIG sysctl entries (``kernel.sysctl``) tagged ``tag``."""
    return {f"test.{tag}.k{n:03d}": f"{tag}-{n}" for n in range(BIG)}


def big_keys(tag: str) -> set[str]:
    return {f'settings.kernel.sysctl."{name}"' for name in big_settings(tag)}


@dataclass
class Outcome:
    """What a commit request in a thread got: its response, or the error it died with."""

    response: Response | None = None
    error: BaseException | None = None
    finished: threading.Event = field(default_factory=threading.Event)


def commit_in_thread(server: ServerProcess, path: str) -> tuple[threading.Thread, Outcome]:
    outcome = Outcome()

    def run() -> None:
        try:
            outcome.response = server.client().post(path)
        except BaseException as exc:  # the server died under us
            outcome.error = exc
        finally:
            outcome.finished.set()

    thread = threading.Thread(target=run, name=f"commit {path}")
    thread.start()
    return thread, outcome


def wait_for_live_key(base: Path, tag: str, outcome: Outcome, timeout: float = 10.0) -> bool:
    """Poll live until the first key of ``tag`` appears (the commit is being applied) or the
    commit request is over; True if the key was seen first."""
    sysctl = base / "live/settings/kernel/sysctl"
    marker = f"test%2E{tag}%2E"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with os.scandir(sysctl) as entries:
                if any(entry.name.startswith(marker) for entry in entries):
                    return True
        except FileNotFoundError:
            pass
        if outcome.finished.is_set():
            return False
    raise AssertionError(f"the commit of {tag} neither started nor finished in {timeout}s")


def committed_part(sysctl: dict[str, Any], tag: str) -> dict[str, Any]:
    return {name: v for name, v in sysctl.items() if name.startswith(f"test.{tag}.")}


def check_all_or_nothing(server: ServerProcess, tag: str, tx: str, others: dict[str, dict[str, Any]]) -> bool:
    """After a restart: ``tag``'s keys are all live with their values and ``tx`` is gone, or
    none is live and ``tx`` still holds all of them. ``others`` (tx → pending settings) must
    be untouched. Returns whether the commit is present."""
    client = server.client()
    sysctl = client.get_json("/settings?prefix=kernel.sysctl")["kernel"]["sysctl"]
    part = committed_part(sysctl, tag)
    expected = big_settings(tag)
    assert len(part) in (0, BIG), f"{tag}: {len(part)} of {BIG} keys live after restart (a partial commit)"
    pending = client.get_json("/tx/list")
    for other, settings in others.items():
        assert client.get_json(f"/tx?tx={other}") == settings, f"transaction {other} changed"
    if part:
        assert part == expected, f"{tag}: live values differ from the committed ones"
        assert tx not in pending, f"{tag} is live but transaction {tx} is still pending"
        assert client.get_json(f"/tx?tx={tx}") == {}
        return True
    assert tx in pending, f"{tag} is not live and transaction {tx} is gone"
    assert client.get_json(f"/tx?tx={tx}") == {"kernel": {"sysctl": expected}}, f"transaction {tx} not intact"
    return False


def stage_big(server: ServerProcess, tx: str, tag: str) -> None:
    server.client().patch_ok(f"/settings?tx={tx}", {"kernel": {"sysctl": big_settings(tag)}})


def test_sigkill_during_big_commit_leaves_it_all_or_nothing(make_server: MakeServer) -> None:
    server: ServerProcess = make_server()
    seed = os.environ.get("THAR_TEST_SEED", str(time.time_ns()))
    rng = random.Random(seed)
    others = {"other": {"motd": "untouched"}}
    server.client().patch_ok("/settings?tx=other", others["other"])

    # Calibrate: how long a commit of BIG keys takes here.
    stage_big(server, "calibrate", "cal")
    began = time.monotonic()
    response = server.client().post("/tx/commit?tx=calibrate")
    duration = time.monotonic() - began
    assert response.status == 200 and set(response.json()) == big_keys("cal")

    outcomes: list[tuple[int, bool, bool, bool]] = []
    for trial in range(KILL_TRIALS):
        tag, tx = f"t{trial}", f"big{trial}"
        stage_big(server, tx, tag)
        thread, outcome = commit_in_thread(server, f"/tx/commit?tx={tx}")
        if trial % 2:
            # Kill as soon as the commit has begun writing live.
            mid_commit = wait_for_live_key(server.base, tag, outcome)
        else:
            # Kill after a random delay within about a commit's duration, more often early
            # (before the commit is recorded, which makes it absent after the restart).
            time.sleep(duration * 1.5 * rng.random() ** 2)
            mid_commit = False
        server.kill()
        assert server.proc is not None and server.proc.returncode == -signal.SIGKILL
        thread.join(10)
        assert not thread.is_alive()
        server.start()
        try:
            present = check_all_or_nothing(server, tag, tx, others)
        except AssertionError as exc:
            raise AssertionError(f"trial {trial} (THAR_TEST_SEED={seed} repeats the delays): {exc}") from exc
        got_response = outcome.response is not None and outcome.response.status == 200
        if got_response:
            assert present, f"trial {trial} (seed {seed}): the commit answered 200 but its keys are gone after restart"
        if mid_commit:
            # Live was being written: the journal must finish the commit on restart.
            assert present, f"trial {trial} (seed {seed}): killed while live was being written, commit lost"
        outcomes.append((trial, mid_commit, got_response, present))
        # Earlier commits (the calibration's, earlier trials') are as they were.
        sysctl = server.client().get_json("/settings?prefix=kernel.sysctl")["kernel"]["sysctl"]
        assert committed_part(sysctl, "cal") == big_settings("cal")
        for earlier, _, _, was_present in outcomes:
            assert committed_part(sysctl, f"t{earlier}") == (big_settings(f"t{earlier}") if was_present else {})

    assert server.stop() == 0, server.log()
    print(f"seed {seed}; commit of {BIG} keys: {duration * 1000:.1f} ms; (trial, mid-commit, 200, present): {outcomes}")


def test_sigterm_during_commit_lets_it_finish_and_exits_0(make_server: MakeServer) -> None:
    server: ServerProcess = make_server()
    for trial in range(TERM_TRIALS):
        tag, tx = f"t{trial}", f"big{trial}"
        stage_big(server, tx, tag)
        thread, outcome = commit_in_thread(server, f"/tx/commit?tx={tx}")
        wait_for_live_key(server.base, tag, outcome)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        code = server.wait_exit()
        thread.join(10)
        assert not thread.is_alive()
        assert code == 0, f"trial {trial}: exit status {code} after SIGTERM:\n{server.log()}"
        server.start()
        present = check_all_or_nothing(server, tag, tx, {})
        response = outcome.response
        assert response is not None or present, f"trial {trial}: commit neither answered nor applied"
        assert present, f"trial {trial}: commit in flight at SIGTERM was lost"
        # The request was being handled when SIGTERM came: graceful stop answers it.
        assert response is not None, f"trial {trial}: no response to the commit in flight: {outcome.error!r}"
        assert response.status == 200, f"{response.status} {response.body!r}"
        assert set(response.json()) == big_keys(tag)
    assert server.stop() == 0, server.log()


def test_sigterm_during_commit_and_apply_waits_for_the_applier(make_server: MakeServer) -> None:
    """A deterministic in-flight request: SIGTERM while the applier launched by
    commit_and_apply is still running (the write lock is held until it exits)."""
    server: ServerProcess = make_server()
    server.set_applier(exit_code=0, sleep=0.3)
    stage_big(server, "default", "ca")
    thread, outcome = commit_in_thread(server, "/tx/commit_and_apply")
    deadline = time.monotonic() + 10
    while not server.applier_record.exists():
        assert time.monotonic() < deadline and not outcome.finished.is_set(), "applier never started"
        time.sleep(0.005)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    code = server.wait_exit()
    thread.join(10)
    assert code == 0, f"exit status {code} after SIGTERM:\n{server.log()}"
    assert outcome.error is None, f"commit_and_apply got no response: {outcome.error!r}"
    assert outcome.response is not None and outcome.response.status == 200, outcome.response
    assert set(outcome.response.json()) == big_keys("ca")
    (call,) = server.applier_calls()
    assert call.argv == ["--daemon"] and call.stdin is not None
    assert set(json.loads(call.stdin)) == big_keys("ca")
    server.set_applier(exit_code=0)
    server.start()
    assert check_all_or_nothing(server, "ca", "default", {})
    assert server.stop() == 0, server.log()
