"""Write-path benchmark: 1-key PATCH and 1-key commit over the API, beside an fsync write.

    python -m bench.writes [--repeat N]      (from the repository root)

A real apiserver serves a seeded thar-dev datastore in a temporary directory. One keep-alive
client sends, in turn and ``repeat`` times: ``PATCH /settings?tx=bench`` with one key, then
``POST /tx/commit?tx=bench``; between them, in the same process, on the datastore's own
filesystem, the baseline runs: one temporary-file write + fsync + rename (the least a durable
write costs). Figures are medians; a ratio is thar / baseline. A 2,000-key PATCH is timed too.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.api import seed, wait_for
from bench.datastore import fsync_write


class Connection:
    """One keep-alive HTTP/1.1 connection over the Unix socket (no client library in the way)."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.buffer = b""

    def request(self, method: str, target: str, body: bytes = b"") -> int:
        head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head_bytes, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head_bytes.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(self.buffer) < length:
            self.buffer += self.sock.recv(65536)
        self.buffer = self.buffer[length:]
        status = int(head_bytes[9:12])
        if status >= 400:
            raise RuntimeError(f"{method} {target} -> {status}")
        return status

    def close(self) -> None:
        self.sock.close()


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200, help="runs per figure (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thar-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        datastore = seed(root)
        sock = str(root / "api.sock")
        argv = [sys.executable, "-m", "thar.apiserver", "--datastore-path", str(datastore), "--socket-path", sock,
                "--os-release", str(root / "os-release"), "--variant", "thar-dev", "--applier", "none",
                "--log-level", "error"]  # fmt: skip
        server = subprocess.Popen(argv)
        plain = root / "plain"
        plain.mkdir()
        try:
            wait_for(sock)
            conn = Connection(sock)
            patch, commit, base = [], [], []
            for i in range(args.repeat):
                body = json.dumps({"motd": f"bench {i}"}).encode()
                patch.append(timed(conn.request, "PATCH", "/settings?tx=bench", body))
                base.append(timed(fsync_write, plain, "one", b'"value"'))
                commit.append(timed(conn.request, "POST", "/tx/commit?tx=bench"))
            big = {"kernel": {"sysctl": {f"net.bench.key{i}": str(i) for i in range(2000)}}}
            large = []
            for _ in range(max(3, args.repeat // 20)):
                large.append(timed(conn.request, "PATCH", "/settings?tx=big", json.dumps(big).encode()))
                conn.request("DELETE", "/tx?tx=big")
            conn.close()
        finally:
            server.terminate()
            server.wait()
    fsync = statistics.median(base)
    title = f"write-path benchmark (median of {args.repeat})"
    print(f"{title:<44} {'thar':>10} {'fsync write':>12} {'ratio':>7}")
    for label, times in (("PATCH /settings, 1 key", patch), ("POST /tx/commit, 1 key", commit)):
        ours = statistics.median(times)
        print(f"{label:<44} {ours * 1e3:>8.3f}ms {fsync * 1e3:>10.3f}ms {ours / fsync:>6.2f}x")
    print(f"{'PATCH /settings, 2,000 keys':<44} {statistics.median(large) * 1e3:>8.3f}ms")


if __name__ == "__main__":
    main()
