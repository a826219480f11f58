"""API benchmark: throughput and latency over the Unix socket, beside two same-run floors.

    python -m bench.api [--seconds S] [--connections C]      (from the repository root)

(a) For ``GET /settings?keys=settings.motd``, the full ``GET /settings`` and PATCH + commit,
    C keep-alive clients (in a separate process) hammer the real apiserver for S seconds; the
    same requests then go to a bare aiohttp handler returning the same bytes (the floor of
    the stack) and to a minimal asyncio protocol answering fixed bytes (the raw floor).
(b) Wall time of ``apiclient get settings.motd`` beside ``curl --unix-socket`` doing the same
    request (if curl is installed).
(c) The apiserver's RSS after all of the above (well over 10,000 requests).
Figures are medians over runs; ratios are thar / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from thar import variants
from thar.datastore import LIVE, FilesystemDataStore, Version, create_new_datastore, to_pairs, to_pairs_with_prefix
from thar.models import load_variant

Request = tuple[str, str, bytes]  # method, target, body


def http_request(method: str, target: str, body: bytes = b"") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _client(path: str, sequence: list[Request], deadline: float, n: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_unix_connection(path)
    i = 0
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for method, target, body in sequence:
            target = target.replace("{n}", f"{n}-{i}")
            writer.write(http_request(method, target, body))
            status = await _read_response(reader)
            if status >= 400:
                raise RuntimeError(f"{method} {target} -> {status}")
        latencies.append(time.perf_counter() - start)
        i += 1
    writer.close()


def _load(path: str, sequence: list[Request], seconds: float, connections: int, out: Any) -> None:
    import uvloop

    async def main() -> list[float]:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(path, sequence, deadline, n, latencies) for n in range(connections)))
        return latencies

    out.send(uvloop.run(main()))


def load(path: str, sequence: list[Request], seconds: float, connections: int) -> tuple[float, float, float]:
    """(operations per second, p50 ms, p99 ms) from a client process."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.Process(target=_load, args=(path, sequence, seconds, connections, sender))
    proc.start()
    latencies = sorted(receiver.recv())
    proc.join()
    count = len(latencies)
    return count / seconds, latencies[count // 2] * 1e3, latencies[int(count * 0.99)] * 1e3


def wait_for(path: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {path}")


BASELINE_AIOHTTP = """
import sys, uvloop
from aiohttp import web
bodies = {}
async def handler(request):
    return web.Response(body=bodies.get(request.path_qs, b''), status=200 if request.method == 'GET' else 204,
                        content_type='application/json')
bodies.update({k: v.encode('latin-1') for k, v in __import__('json').loads(sys.argv[2]).items()})
app = web.Application()
app.router.add_route('*', '/{tail:.*}', handler)
uvloop.run(web._run_app(app, path=sys.argv[1], print=None, access_log=None))
"""

BASELINE_RAW = """
import asyncio, sys, uvloop
body = sys.argv[2].encode('latin-1')
reply = b'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n' % len(body) + body
class Proto(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.buf = b''
    def data_received(self, data):
        self.buf += data
        while True:
            head_end = self.buf.find(b'\\r\\n\\r\\n')
            if head_end < 0: return
            head = self.buf[:head_end].lower(); n = 0
            for line in head.split(b'\\r\\n'):
                if line.startswith(b'content-length:'): n = int(line.split(b':')[1])
            if len(self.buf) < head_end + 4 + n: return
            self.buf = self.buf[head_end + 4 + n:]
            self.t.write(reply)
async def main():
    server = await asyncio.get_running_loop().create_unix_server(Proto, sys.argv[1])
    await server.serve_forever()
uvloop.run(main())
"""


def seed(root: Path) -> Path:
    variant = load_variant(variants.path("thar-dev"))
    create_new_datastore(root / "datastore", Version(0, 1, 0))
    ds = FilesystemDataStore(root / "datastore" / "current")
    ds.set_keys(to_pairs_with_prefix("settings", variant.defaults["settings"]), LIVE)
    rest = {k: v for k, v in variant.defaults.items() if k not in ("settings", "metadata")}
    ds.set_keys(to_pairs(rest), LIVE)
    ds.close()
    (root / "os-release").write_text(variant.os_release or "")
    return root / "datastore" / "current"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_runs(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="load duration per figure")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thar-bench-") as tmp:
        root = Path(tmp)
        datastore = seed(root)
        sock = str(root / "api.sock")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "thar.apiserver",
                "--datastore-path",
                str(datastore),
                "--socket-path",
                sock,
                "--os-release",
                str(root / "os-release"),
                "--variant",
                "thar-dev",
                "--applier",
                "none",
                "--log-level",
                "error",
            ]
        )
        try:
            wait_for(sock)
            small = http_get(sock, "/settings?keys=settings.motd")
            full = http_get(sock, "/settings")
            cases: list[tuple[str, list[Request], bytes]] = [
                ("GET /settings?keys=settings.motd", [("GET", "/settings?keys=settings.motd", b"")], small),
                ("GET /settings (all)", [("GET", "/settings", b"")], full),
                (
                    "PATCH /settings + POST /tx/commit",
                    [("PATCH", "/settings?tx=b{n}", b'{"motd":"bench"}'), ("POST", "/tx/commit?tx=b{n}", b"")],
                    b'["settings.motd"]',
                ),
            ]
            rows = []
            floor_rss = 0.0
            for label, sequence, body in cases:
                ours = load(sock, sequence, args.seconds, args.connections)
                floors = []
                for script in (BASELINE_AIOHTTP, BASELINE_RAW):
                    path = str(root / "baseline.sock")
                    bodies = json.dumps({target: body.decode("latin-1") for _, target, _ in sequence})
                    argv = [
                        sys.executable,
                        "-c",
                        script,
                        path,
                        bodies if script is BASELINE_AIOHTTP else body.decode("latin-1"),
                    ]
                    baseline = subprocess.Popen(argv)
                    try:
                        wait_for(path)
                        floors.append(load(path, sequence, args.seconds, args.connections))
                        if script is BASELINE_AIOHTTP:
                            floor_rss = max(floor_rss, rss_mb(baseline.pid))
                    finally:
                        baseline.terminate()
                        baseline.wait()
                        Path(path).unlink(missing_ok=True)
                rows.append((label, ours, floors))
            # The console script beside this interpreter (the virtualenv's), else the one on PATH.
            beside = Path(sys.executable).with_name("apiclient")
            client_bin = str(beside) if beside.exists() else shutil.which("apiclient")
            apiclient = [client_bin or "apiclient", "--socket-path", sock, "get", "settings.motd"]
            client_ms = timed_runs(apiclient, 15) if client_bin else float("nan")
            curl = shutil.which("curl")
            curl_ms = (
                timed_runs([curl, "-s", "--unix-socket", sock, "http://localhost/?prefix=settings.motd"], 15)
                if curl
                else float("nan")
            )
            rss = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait()
    title = f"API benchmark ({args.connections} connections)"
    print(f"{title:<36} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8}   vs aiohttp floor   vs raw floor")
    for label, (ops, p50, p99), ((a_ops, _, _), (r_ops, _, _)) in rows:
        versus = f"{ops / a_ops:>5.2f}x ({a_ops:>6.0f})   {ops / r_ops:>5.2f}x ({r_ops:>6.0f})"
        print(f"{label:<36} {ops:>9.0f} {p50:>8.2f} {p99:>8.2f}   {versus}")
    print(
        f"apiclient get settings.motd: {client_ms:.1f} ms median; curl --unix-socket: {curl_ms:.1f} ms "
        f"({client_ms / curl_ms:.1f}x)"
    )
    print(
        f"apiserver RSS after the runs: {rss:.1f} MB; bare aiohttp + uvloop server: {floor_rss:.1f} MB "
        f"({rss / floor_rss:.2f}x)"
    )


def http_get(path: str, target: str) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall(http_request("GET", target) + b"")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        while len(body) < length:
            body += s.recv(65536)
        return body


if __name__ == "__main__":
    main()
