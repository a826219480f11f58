"""SIGKILL the real server in the middle of large staging requests: no transaction is ever torn.

Each trial sends one request that changes every one of ``BIG`` pending keys of the transaction
``big`` — a PATCH, a JSON Patch or a ``DELETE /settings`` staging — kills the server at a random
moment (half of them aimed at the moment the transaction is being written), restarts it on the
same datastore and checks that the transaction holds exactly what it held before the request or
exactly what the request makes of it: never some keys of each. Now and then the transaction is
committed, and live must then hold one state wholly, too. A transaction that did not exist
before a killed request is not left behind empty.

``THAR_TEST_SEED`` repeats a run's delays; the long run (``slow``) makes ``SLOW_TRIALS`` kills.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import MakeServer, Response, ServerProcess

BIG = 2000
TX = "big"
FAST_TRIALS = 10
SLOW_TRIALS = 100


def sysctl(tag: str) -> dict[str, str]:
    """``BIG`` sysctl entries, always the same names, each value carrying ``tag``."""
    return {f"test.k{n:04d}": f"{tag}-{n}" for n in range(BIG)}


def request_for(kind: str, tag: str) -> tuple[str, str, Any, str | None]:
    """(method, path, body, content type) of one staging request of ``kind``."""
    if kind == "patch":
        return "PATCH", f"/settings?tx={TX}", {"kernel": {"sysctl": sysctl(tag)}}, "application/json"
    if kind == "json-patch":
        ops = [{"op": "add", "path": "/kernel/sysctl", "value": sysctl(tag)}]
        return "PATCH", f"/settings?tx={TX}", ops, "application/json-patch+json"
    return "DELETE", f"/settings?tx={TX}&keys=kernel.sysctl", None, None


def expected_after(kind: str, tag: str, before: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """What ``GET /tx`` shows once the request of ``kind`` has been staged on ``before``;
    ``defaults``: what a ``DELETE /settings`` of kernel.sysctl stages back (the variant's)."""
    kernel = dict(before.get("kernel", {}))
    if kind == "delete":
        kernel.pop("sysctl", None)
        kernel.update(defaults.get("kernel", {}))
    else:
        kernel["sysctl"] = {**kernel.get("sysctl", {}), **sysctl(tag)}
    return {**before, "kernel": kernel} if kernel else {k: v for k, v in before.items() if k != "kernel"}


def tags_of(values: dict[str, str]) -> set[str]:
    return {value.rsplit("-", 1)[0] for name, value in values.items() if name.startswith("test.")}


def send(server: ServerProcess, kind: str, tag: str, outcome: dict[str, Any]) -> None:
    method, path, body, content_type = request_for(kind, tag)
    try:
        if method == "PATCH":
            outcome["response"] = server.client().patch(path, body, content_type=content_type)
        else:
            outcome["response"] = server.client().delete(path)
    except OSError as exc:  # the server died under us
        outcome["error"] = exc


def staging_underway(base: Path) -> bool:
    """Whether a staging step is being written (its undo record exists in ``pending/``)."""
    try:
        return any(name.startswith(".~undo-") for name in os.listdir(base / "pending"))
    except FileNotFoundError:
        return False


def run_trials(make_server: MakeServer, trials: int) -> None:
    server: ServerProcess = make_server()
    seed = os.environ.get("THAR_TEST_SEED", str(time.time_ns()))
    rng = random.Random(seed)
    client = server.client()

    # Calibrate: how long each kind of request takes here (on a transaction that exists).
    durations = {}
    for kind in ("patch", "json-patch", "delete"):
        outcome: dict[str, Any] = {}
        began = time.monotonic()
        send(server, kind, "cal", outcome)
        durations[kind] = time.monotonic() - began
        assert outcome["response"].status == 204, outcome["response"]
    assert client.delete(f"/tx?tx={TX}").status == 200
    assert client.delete("/settings?tx=probe&keys=kernel.sysctl").status == 204
    defaults = client.get_json("/tx?tx=probe")
    assert client.delete("/tx?tx=probe").status == 200

    results = {"before": 0, "after": 0, "answered": 0}
    for trial in range(trials):
        kind = rng.choice(("patch", "patch", "json-patch", "delete"))
        tag = f"t{trial}"
        before = client.get_json(f"/tx?tx={TX}")
        existed = TX in client.get_json("/tx/list")
        after = expected_after(kind, tag, before, defaults)
        outcome = {}
        thread = threading.Thread(target=send, args=(server, kind, tag, outcome))
        thread.start()
        if rng.random() < 0.5:
            # Aimed: once the transaction is being written, a random part of the write's time.
            deadline = time.monotonic() + durations[kind] * 3 + 1
            while not staging_underway(server.base) and thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(durations[kind] * 0.6 * rng.random())
        else:
            time.sleep(durations[kind] * 1.2 * rng.random())
        server.kill()
        thread.join(10)
        assert not thread.is_alive()
        server.start()
        client = server.client()
        where = f"trial {trial} ({kind}; THAR_TEST_SEED={seed} repeats the delays)"
        now = client.get_json(f"/tx?tx={TX}")
        staged = now.get("kernel", {}).get("sysctl", {})
        assert now in (before, after), (
            f"{where}: the transaction is torn: sysctl tags {sorted(tags_of(staged))}, {len(staged)} sysctl keys"
        )
        response: Response | None = outcome.get("response")
        if response is not None and response.status == 204:
            results["answered"] += 1
            assert now == after, f"{where}: the request was answered 204 but is gone after the restart"
        results["before" if now == before and now != after else "after"] += 1
        if now == before != after and not existed:
            assert TX not in client.get_json("/tx/list"), f"{where}: an empty transaction was left behind"
        if trial % 4 == 3 and now:
            committed = client.post(f"/tx/commit?tx={TX}")
            assert committed.status == 200, committed
            live = client.get_json("/settings?prefix=kernel.sysctl")["kernel"]["sysctl"]
            assert len(tags_of(live)) <= 1, f"{where}: the commit made a mix live: {sorted(tags_of(live))}"
    assert server.stop() == 0, server.log()
    print(f"seed {seed}; {trials} kills; request durations {durations}; outcomes {results}")


def test_sigkill_during_large_staging_never_tears_the_transaction(make_server: MakeServer) -> None:
    run_trials(make_server, FAST_TRIALS)


@pytest.mark.slow
def test_sigkill_during_large_staging_never_tears_the_transaction_long(make_server: MakeServer) -> None:
    run_trials(make_server, SLOW_TRIALS)
