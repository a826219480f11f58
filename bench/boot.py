"""Boot benchmark: wall time of the whole sandbox boot, per variant and per step, beside a
same-run baseline of starting as many bare Python processes.

    python -m bench.boot [--runs N] [--variant NAME ...]      (from the repository root)

For each variant (default ``thar-dev`` and ``thar-k8s``) and each run, ``thar-boot --root DIR
--no-serve`` boots a fresh sandbox (the first boot: datastore created, user data applied,
everything generated and rendered), then boots the same sandbox again (the next boot: the
datastore is there, early-boot-config is skipped). The wall time is measured around the
``thar-boot`` process; the per-step times come from the boot's own timeline
(``DIR/run/thar/boot-timeline.json``). The baseline, measured in the same run right after each
boot, starts the same number of Python processes one after the other (``python -c pass``): one
for thar-boot, one per step that ran, and one per restart command recorded in the sandbox's
``restarts.log`` when the recorder is the Python console script (a sandbox's own
``DIR/usr/bin/thar-record-restart``, the shell script thar-boot installs, is not a Python
process; the restarts are shown in their own column). Figures are medians; the ratio is wall /
baseline. Goal: a thar-dev first boot under 1 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

THAR_BOOT = str(Path(sys.executable).parent / "thar-boot")
USER_DATA = """\
[settings]
motd = "Hello from the boot benchmark"

[settings.ntp]
time-servers = ["time.bench.example"]

[settings.kernel.sysctl]
"vm.max_map_count" = "262144"
"""
GOAL_SECONDS = 1.0


@dataclass
class Sample:
    wall: float
    total: float  # the boot's own timeline total: without thar-boot's start-up and the apiserver's stop
    processes: int
    restarts: int
    baseline: float
    steps: dict[str, float]


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    failure: str | None = None


def restarts(root: Path) -> int:
    log = root / "run/thar/restarts.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def baseline(processes: int) -> float:
    start = time.perf_counter()
    for _ in range(processes):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def boot_once(root: Path, variant: str, user_data: Path | None) -> Sample:
    before = restarts(root)
    argv = [THAR_BOOT, "--root", str(root), "--variant", variant, "--no-serve"]
    if user_data is not None:
        argv += ["--user-data", str(user_data)]
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(" ".join(line.strip() for line in result.stderr.strip().splitlines()[:2]) or "failed")
    timeline: dict[str, Any] = json.loads((root / "run/thar/boot-timeline.json").read_text())
    steps: dict[str, float] = {}
    ran = 0
    for step in timeline["steps"]:
        if step["status"] != "ok":
            continue
        label = f"{step['name']} ({step['unit'].removesuffix('.service')})" if step["unit"] != "-" else step["name"]
        steps[label] = step["seconds"]
        ran += step["name"] != "prepare"
    recorded = restarts(root) - before
    recorder = root / "usr/bin/thar-record-restart"
    shell = recorder.is_file() and recorder.read_bytes().startswith(b"#!/bin/sh")
    processes = 1 + ran + (0 if shell else recorded)
    return Sample(wall, timeline["total"], processes, recorded, baseline(processes), steps)


def run(variants: list[str], runs: int) -> dict[tuple[str, str], Series]:
    results: dict[tuple[str, str], Series] = {(v, kind): Series() for v in variants for kind in ("first", "next")}
    with tempfile.TemporaryDirectory(prefix="thar-bench-boot-") as tmp:
        user_data = Path(tmp) / "user-data.toml"
        user_data.write_text(USER_DATA)
        for i in range(runs):
            for variant in variants:
                root = Path(tmp) / f"{variant}-{i}"
                for kind, data in (("first", user_data), ("next", None)):
                    series = results[(variant, kind)]
                    if series.failure is not None:
                        continue
                    try:
                        series.samples.append(boot_once(root, variant, data))
                    except RuntimeError as exc:
                        series.failure = str(exc)
                shutil.rmtree(root, ignore_errors=True)
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def report(results: dict[tuple[str, str], Series], runs: int) -> None:
    print(f"thar-boot --no-serve: median of {runs} run(s); times in ms")
    print("wall: the thar-boot process; steps: its timeline's total (without its own start-up and the")
    print("apiserver's stop); baseline: as many `python -c pass` as the boot started Python processes;")
    print("restarts: the restart commands recorded (not Python processes when run by the sandbox's recorder)")
    print()
    heads = ("wall", "steps", "procs", "restarts", "baseline", "ratio")
    widths = (7, 7, 6, 9, 9, 7)
    print(f"{'variant':<10} {'boot':<6}" + "".join(f" {c:>{w}}" for c, w in zip(heads, widths, strict=True)))
    for (variant, kind), series in results.items():
        if series.failure is not None:
            print(f"{variant:<10} {kind:<6} FAILED: {series.failure}")
            continue
        wall = statistics.median(s.wall for s in series.samples)
        total = statistics.median(s.total for s in series.samples)
        base = statistics.median(s.baseline for s in series.samples)
        procs = statistics.median(s.processes for s in series.samples)
        recorded = statistics.median(s.restarts for s in series.samples)
        print(
            f"{variant:<10} {kind:<6} {ms(wall):>7} {ms(total):>7} {procs:>6.0f} {recorded:>9.0f} {ms(base):>9} "
            f"{wall / base:>6.1f}x"
        )
    print()
    columns = [key for key, series in results.items() if series.samples]
    labels: list[str] = []
    for key in columns:
        for sample in results[key].samples:
            labels += [label for label in sample.steps if label not in labels]
    header = "".join(f" {variant + ' ' + kind:>15}" for variant, kind in columns)
    print(f"per step (median ms; the apiserver's is start to ready, in the background){header}")
    for label in labels:
        cells = ""
        for key in columns:
            values = [s.steps[label] for s in results[key].samples if label in s.steps]
            cells += f" {ms(statistics.median(values)) if values else '-':>15}"
        print(f"  {label:<72}{cells}")
    dev = results.get(("thar-dev", "first"))
    if dev is not None and dev.samples:
        wall = statistics.median(s.wall for s in dev.samples)
        total = statistics.median(s.total for s in dev.samples)
        verdict = "met" if wall < GOAL_SECONDS else "met by the steps alone" if total < GOAL_SECONDS else "NOT met"
        goal = f"thar-dev first boot under {ms(GOAL_SECONDS)} ms"
        print(f"\ngoal: {goal}: {verdict} (wall {ms(wall)}, steps {ms(total)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.boot", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--variant", action="append", dest="variants", help="thar-dev and thar-k8s by default")
    args = parser.parse_args(argv)
    variants = args.variants or ["thar-dev", "thar-k8s"]
    report(run(variants, args.runs), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
