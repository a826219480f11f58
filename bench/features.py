"""Benchmark of thar's API additions: watch fan-out, and history and rollback over a long history.

    python -m bench.features [--watchers N] [--rounds R] [--generations G]   (from the repository root)

(a) Watch fan-out: N clients (default 100) long-poll ``GET /settings/watch?prefix=settings.motd``
    on the real apiserver; one client then stages and commits a change of ``motd``. Measured: the
    time from sending the commit to the last watcher's answer, beside the commit's own latency
    (sending ``POST /tx/commit`` to its answer) in the same round. Medians over R rounds.
(b) History: a datastore with G generations (default 10,000; built through the datastore's own
    commits before the server starts), then ``GET /tx/history`` (all G entries),
    ``GET /tx/history?limit=20``, ``GET /tx/history/{G/2}`` (a JSON Patch) and
    ``POST /tx/rollback?to=…`` (alternately to G/2 and back to the newest state), beside
    ``GET /settings`` and a one-key commit on the same server. Medians over R runs each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thar import variants
from thar.datastore import LIVE, FilesystemDataStore, Key, to_json, to_pairs_with_prefix
from thar.models import load_variant


def seed(base: Path, generations: int) -> None:
    """thar-dev's default settings in live, then ``generations`` commits (motd and one of 100 sysctls)."""
    base.mkdir(parents=True)
    store = FilesystemDataStore(base, durable=False)
    try:
        store.set_keys(to_pairs_with_prefix("settings", load_variant(variants.path("thar-dev")).defaults["settings"]),
                       LIVE)  # fmt: skip
        for n in range(generations):
            changes: dict[Key, str | None] = {
                Key("settings.motd"): to_json(f"generation {n + 1}"),
                Key(f'settings.kernel.sysctl."bench.k{n % 100:02d}"'): to_json(str(n)),
            }
            store.commit_changes(changes, f"bench-{n + 1}")
    finally:
        store.close()


class Server:
    def __init__(self, workdir: Path, base: Path) -> None:
        self.socket = workdir / "api.sock"
        os_release = workdir / "os-release"
        os_release.write_text((variants.path("thar-dev") / "os-release").read_text())
        argv = [
            sys.executable,
            "-m",
            "thar.apiserver",
            "--datastore-path",
            str(base),
            "--socket-path",
            str(self.socket),
            "--os-release",
            str(os_release),
            "--applier",
            "none",
            "--variant",
            "thar-dev",
            "--log-level",
            "error",
        ]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(str(self.socket))
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the apiserver did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def request(path: Path, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += "Content-Type: application/json\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    data = await reader.read()
    writer.close()
    status = int(data[9:12])
    if status >= 400:
        raise RuntimeError(f"{method} {target} -> {data[:200]!r}")
    return status, data.partition(b"\r\n\r\n")[2]


async def waiting(path: Path) -> int:
    _, body = await request(path, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("thar_watches_waiting "):
            return int(float(line.split()[1]))
    return 0


async def fan_out_round(path: Path, watchers: int, n: int) -> tuple[float, float]:
    """(commit latency, commit sent -> last watcher answered), in seconds."""
    done: list[float] = []

    async def watch() -> None:
        await request(path, "GET", "/settings/watch?prefix=settings.motd&timeout=120")
        done.append(time.perf_counter())

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    while await waiting(path) < watchers:
        await asyncio.sleep(0.01)
    await request(path, "PATCH", "/settings?tx=fan", json.dumps({"motd": f"round {n}"}).encode())
    start = time.perf_counter()
    await request(path, "POST", "/tx/commit?tx=fan")
    committed = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return committed, max(done) - start


async def timed(path: Path, method: str, target: str, body: bytes = b"") -> float:
    start = time.perf_counter()
    await request(path, method, target, body)
    return time.perf_counter() - start


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def bench_fan_out(workdir: Path, watchers: int, rounds: int) -> None:
    base = workdir / "fan-out"
    seed(base, 0)
    (workdir / "fan-out-server").mkdir()
    server = Server(workdir / "fan-out-server", base)
    try:
        results = [await fan_out_round(server.socket, watchers, n) for n in range(rounds)]
    finally:
        server.stop()
    commit, last = ms([r[0] for r in results]), ms([r[1] for r in results])
    print(f"(a) watch fan-out, {watchers} watchers on settings.motd, median of {rounds} rounds")
    print(f"    one commit (POST /tx/commit)              {commit:8.2f} ms   (baseline)")
    print(f"    commit sent -> last watcher answered      {last:8.2f} ms   ratio {last / commit:5.2f}")
    print(f"    per watcher beyond the commit             {(last - commit) / watchers:8.3f} ms")


async def bench_history(workdir: Path, generations: int, rounds: int) -> None:
    base = workdir / "history"
    started = time.perf_counter()
    seed(base, generations)
    built = time.perf_counter() - started
    (workdir / "history-server").mkdir()
    server = Server(workdir / "history-server", base)
    path, half = server.socket, generations // 2
    try:
        rows: list[tuple[str, list[float]]] = []
        rows.append(("GET /settings (baseline)", [await timed(path, "GET", "/settings") for _ in range(rounds)]))
        commits = []
        for n in range(rounds):
            await request(path, "PATCH", "/settings?tx=one", json.dumps({"motd": f"one {n}"}).encode())
            commits.append(await timed(path, "POST", "/tx/commit?tx=one"))
        rows.append(("one-key commit (baseline)", commits))
        rows.append((f"GET /tx/history ({generations + rounds} entries)",
                     [await timed(path, "GET", "/tx/history") for _ in range(rounds)]))  # fmt: skip
        rows.append(
            ("GET /tx/history?limit=20", [await timed(path, "GET", "/tx/history?limit=20") for _ in range(rounds)])
        )
        rows.append((f"GET /tx/history/{half} (JSON Patch)",
                     [await timed(path, "GET", f"/tx/history/{half}") for _ in range(rounds)]))  # fmt: skip
        back, forth = [], []
        for _ in range(rounds):
            _, body = await request(path, "GET", "/tx/history?limit=1")
            newest = json.loads(body)[0]["generation"]
            back.append(await timed(path, "POST", f"/tx/rollback?to={half}"))
            forth.append(await timed(path, "POST", f"/tx/rollback?to={newest}"))
        rows.append((f"POST /tx/rollback?to={half} (~100 keys)", back))
        rows.append(("POST /tx/rollback back to the newest", forth))
    finally:
        server.stop()
    print(f"(b) history with {generations} generations (built in {built:.1f} s), median of {rounds} runs")
    baseline = ms(rows[0][1])
    for name, values in rows:
        print(f"    {name:44s} {ms(values):8.2f} ms   ratio to GET /settings {ms(values) / baseline:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--generations", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thar-bench-") as tmp:
        workdir = Path(tmp)
        asyncio.run(bench_fan_out(workdir, args.watchers, args.rounds))
        asyncio.run(bench_history(workdir, args.generations, args.rounds))


if __name__ == "__main__":
    main()
