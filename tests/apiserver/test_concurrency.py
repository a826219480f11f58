"""Many writers, each on its own transaction, and readers at the same time, against the real
server: every commit lands whole, readers only ever see whole commits, and the history has
one generation per commit, attributed to this process (SO_PEERCRED)."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from thar.datastore import Caller, FilesystemDataStore

from .conftest import S_ALL, MakeServer, ServerProcess

WRITERS = 8
ROUNDS = 5
READERS = 4
PARTS = ("a", "b", "c")


def sysctl_name(writer: int, part: str) -> str:
    return f"test.w{writer}.{part}"


def key_name(writer: int, part: str) -> str:
    return f'settings.kernel.sysctl."{sysctl_name(writer, part)}"'


def value(writer: int, round_: int) -> str:
    return f"{writer}-{round_}"


def writer_task(server: ServerProcess, writer: int, start: threading.Barrier) -> list[list[str]]:
    """Stage each round's keys with several PATCHes on ``w{writer}``, then commit it."""
    client = server.client(persistent=True)
    committed = []
    start.wait()
    try:
        for round_ in range(ROUNDS):
            tx = f"w{writer}"
            v = value(writer, round_)
            client.patch_ok(f"/settings?tx={tx}", {"kernel": {"sysctl": {sysctl_name(writer, "a"): v}}})
            client.patch_ok(f"/settings?tx={tx}", {"kernel": {"sysctl": {sysctl_name(writer, "b"): v}}})
            client.patch_ok(f"/settings?tx={tx}", {"kernel": {"sysctl": {sysctl_name(writer, "c"): v}}})
            response = client.post(f"/tx/commit?tx={tx}")
            assert response.status == 200, f"commit {tx} round {round_}: {response.status} {response.body!r}"
            committed.append(response.json())
    finally:
        client.close()
    return committed


def check_consistent(settings: dict[str, Any], last_round: dict[int, int]) -> None:
    """One GET /settings: F0's settings intact, each writer's keys from one round, and no
    writer going back in time for this reader."""
    sysctl = settings["kernel"]["sysctl"]
    assert settings["motd"] == S_ALL["motd"] and settings["ntp"] == S_ALL["ntp"]
    assert sysctl["net.ipv4.ip_forward"] == "1"
    for writer in range(WRITERS):
        seen = {sysctl.get(sysctl_name(writer, part)) for part in PARTS}
        assert len(seen) == 1, f"writer {writer}: parts of different commits visible: {sorted(map(str, seen))}"
        (v,) = seen
        round_ = -1 if v is None else int(v.split("-")[1])
        assert round_ >= last_round[writer], f"writer {writer} went back from round {last_round[writer]} to {round_}"
        last_round[writer] = round_


def reader_task(server: ServerProcess, start: threading.Barrier, done: threading.Event) -> int:
    """GET /settings (and a prefix read) until the writers are done; returns the reads made."""
    client = server.client(persistent=True)
    last_round = dict.fromkeys(range(WRITERS), -1)
    reads = 0
    start.wait()
    try:
        while True:
            finished = done.is_set()  # read at least once more after the last commit
            response = client.get("/settings")
            assert response.status == 200, f"{response.status} {response.body!r}"
            check_consistent(response.json(), last_round)
            response = client.get("/settings?prefix=kernel.sysctl")
            assert response.status == 200, f"{response.status} {response.body!r}"
            sysctl = response.json()["kernel"]["sysctl"]
            for writer in range(WRITERS):
                assert len({sysctl.get(sysctl_name(writer, part)) for part in PARTS}) == 1
            reads += 2
            if finished:
                break
    finally:
        client.close()
    assert all(round_ == ROUNDS - 1 for round_ in last_round.values()), last_round
    return reads


def test_concurrent_writers_commit_whole_and_readers_see_whole_commits(make_server: MakeServer) -> None:
    server: ServerProcess = make_server()
    start = threading.Barrier(WRITERS + READERS)
    done = threading.Event()
    began = time.monotonic()
    with ThreadPoolExecutor(WRITERS + READERS) as pool:
        readers = [pool.submit(reader_task, server, start, done) for _ in range(READERS)]
        writers: list[Future[list[list[str]]]] = [
            pool.submit(writer_task, server, writer, start) for writer in range(WRITERS)
        ]
        try:
            results = [future.result(timeout=120) for future in writers]
        finally:
            done.set()
        reads = [future.result(timeout=120) for future in readers]
    elapsed = time.monotonic() - began

    # Each commit reported exactly its writer's keys.
    for writer, commits in enumerate(results):
        assert len(commits) == ROUNDS
        for keys in commits:
            assert sorted(keys) == sorted(key_name(writer, part) for part in PARTS)
    assert sum(reads) >= READERS * 2

    # Every commit is in live; nothing is left pending.
    client = server.client()
    sysctl = client.get_json("/settings?prefix=kernel.sysctl")["kernel"]["sysctl"]
    expected = {sysctl_name(w, part): value(w, ROUNDS - 1) for w in range(WRITERS) for part in PARTS}
    assert sysctl == {"net.ipv4.ip_forward": "1", **expected}
    assert client.get_json("/tx/list") == []
    assert server.stop() == 0, server.log()

    # The history: one generation per commit, in each writer's order, with our credentials.
    store = FilesystemDataStore(server.base)
    try:
        history = store.history()
    finally:
        store.close()
    assert len(history) == WRITERS * ROUNDS, [c.transaction for c in history]
    generations = sorted(commit.generation for commit in history)
    assert generations == list(range(generations[0], generations[0] + WRITERS * ROUNDS))
    assert Counter(commit.transaction for commit in history) == {f"w{w}": ROUNDS for w in range(WRITERS)}
    me = Caller(uid=os.getuid(), gid=os.getgid(), pid=os.getpid())
    rounds_seen: dict[str, list[int]] = {}
    for commit in sorted(history, key=lambda c: c.generation):
        assert commit.caller == me, f"generation {commit.generation}: caller {commit.caller}, expected {me}"
        writer = int(commit.transaction.removeprefix("w"))
        assert commit.keys == sorted(key_name(writer, part) for part in PARTS)
        news = {change.new for change in commit.changes.values()}
        assert len(news) == 1, news
        (new,) = news
        assert new is not None
        rounds_seen.setdefault(commit.transaction, []).append(int(new.strip('"').split("-")[1]))
    assert all(rounds == list(range(ROUNDS)) for rounds in rounds_seen.values()), rounds_seen
    assert elapsed < 60
