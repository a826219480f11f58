"""Boot-time settings benchmark: early-boot-config and sundog against a running apiserver,
beside baselines measured in the same run.

    python -m bench.boot_config [--runs N]      (from the repository root)

A thar-dev sandbox (storewolf's defaults, the real apiserver) is made once; then, N times each:

(a) ``early-boot-config`` with a user-data file: checked by the API in a scratch transaction
    (the default), checked here with ``--variant thar-dev`` (imports the pydantic model), and
    not checked (``--no-validate``), beside the baseline ``python -c pass``;
(b) ``sundog`` with thar-dev's generators (two built-in, one templated ``schnauzer-v2 render``
    rendered in-process), beside the baseline ``python -c pass`` plus one ``schnauzer-v2
    render`` process, which is what running the templated generator as a program costs.

Figures are medians in ms of the whole process (wall time); ratios are thar / baseline.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from thar import variants
from thar.datastore import Version
from thar.storewolf import load_variant_defaults, seed

BIN = Path(sys.executable).parent
USER_DATA = """\
[settings]
motd = "Hello from the benchmark"
[settings.ntp]
time-servers = ["https://time.bench.example"]
[settings.kernel.sysctl]
"vm.max_map_count" = "262144"
"""
TEMPLATE = "https://updates.thar.example/2020-07-07/{{ os.variant_id }}/{{ os.arch }}/"


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def call(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode()}")


def start_server(root: Path) -> subprocess.Popen[bytes]:
    base = root / "var/lib/bottlerocket/datastore"
    seed(base, load_variant_defaults("thar-dev"), Version.parse("0.1.0"), durable=False)
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text((variants.path("thar-dev") / "os-release").read_text())
    sock = root / "run/api.sock"
    sock.parent.mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "thar.apiserver", "--datastore-path", str(base / "current"), "--applier", "none"],
        env={**os.environ, "THAR_ROOT": str(root)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(sock))
            return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("apiserver did not start") from None
            time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thar-bench-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "THAR_ROOT": str(root), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        server = start_server(root)
        try:
            user_data = root / "user-data.toml"
            user_data.write_text(USER_DATA)
            marker = root / "marker"
            ebc = [str(BIN / "early-boot-config"), "--user-data", str(user_data), "--marker", str(marker)]
            bare = [sys.executable, "-c", "pass"]
            schnauzer = [str(BIN / "schnauzer-v2"), "render", "--template", TEMPLATE]
            call([str(BIN / "settings-committer")], env)  # defaults live, as the sundog unit has them
            rows: dict[str, list[float]] = {
                k: [] for k in ("ebc", "ebc-model", "ebc-nv", "bare", "sundog", "schnauzer")
            }
            for _ in range(args.runs):
                for key, argv in (
                    ("ebc", ebc),
                    ("ebc-model", [*ebc, "--variant", "thar-dev"]),
                    ("ebc-nv", [*ebc, "--no-validate"]),
                ):
                    marker.unlink(missing_ok=True)
                    rows[key].append(timed(lambda argv=argv: call(argv, env)))  # type: ignore[misc]
                rows["bare"].append(timed(lambda: call(bare, env)))
                rows["sundog"].append(timed(lambda: call([str(BIN / "sundog")], env)))
                rows["schnauzer"].append(timed(lambda: call(schnauzer, env)))
        finally:
            server.terminate()
            server.wait()
    med = {k: statistics.median(v) for k, v in rows.items()}
    sundog_base = med["bare"] + med["schnauzer"]
    print(f"boot-time settings, medians of {args.runs} runs (wall time of the whole process)")
    print(f"{'':52} {'ms':>8} {'baseline ms':>12} {'ratio':>7}")
    for key, label in (
        ("ebc", "early-boot-config (user data checked by the API)"),
        ("ebc-model", "early-boot-config --variant thar-dev (model here)"),
        ("ebc-nv", "early-boot-config --no-validate"),
    ):
        print(f"{label:52} {med[key]:8.1f} {med['bare']:12.1f} {med[key] / med['bare']:7.2f}")
    print(f"{'sundog, thar-dev generators (template in-process)':52} {med['sundog']:8.1f} {sundog_base:12.1f} "
          f"{med['sundog'] / sundog_base:7.2f}")  # fmt: skip
    print(f"{'  (baseline: python -c pass + one schnauzer-v2 render)':52} {'':8} "
          f"{med['bare']:6.1f}+{med['schnauzer']:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
