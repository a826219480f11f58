"""Host boot benchmark: thar's boot under Debian's real systemd, as systemd measures it.

    python -m bench.host_boot [--runs N] [--variant NAME ...]   (as root, from the repository root)

For each variant (default ``thar-dev`` and ``thar-k8s``) and run, a throwaway host
(``thar.sandbox.host``: an overlay of this machine's root on a tmpfs, prepared by
``thar-install-units --variant``, booted by ``systemd-nspawn``) boots for the first time. Read
from systemd itself:

- per unit, the time it spent activating (``systemd-analyze blame``'s figure, from the
  ``InactiveExit``/``ActiveEnter`` timestamps of ``systemctl show``);
- boot to ``configured.target``: its ``ActiveEnterTimestampMonotonic`` less the manager's
  ``UserspaceTimestampMonotonic`` (when the container's systemd started);

beside two baselines of the same run: a bare oneshot unit that runs ``python -c pass`` in the
same boot, ordered after ``configured.target`` (what one Python program costs as a unit there),
and the same variant's sandbox boot (``thar-boot --no-serve`` in a fresh directory, wall time).
Bottlerocket's published figures for the same units (its issue 1952) are printed beside thar's.
Medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thar.sandbox.host import ThrowawayHost

UNITS = [
    "migrator.service",
    "storewolf.service",
    "apiserver.service",
    "early-boot-config.service",
    "sundog.service",
    "settings-applier.service",
]
BASELINE_UNIT = "bench-python-pass.service"
BOTTLEROCKET = {  # ms, Bottlerocket's issue 1952
    "apiserver.service": "373",
    "early-boot-config.service": "396",
    "sundog.service": "1,900",
    "settings-applier.service": "1,100-2,300",
}
USER_DATA = '[settings]\nmotd = "Hello from the host boot benchmark"\n'


def baseline_unit(python: str) -> str:
    return (
        "[Unit]\nDescription=Benchmark baseline: one bare Python process\n"
        "After=configured.target\n\n"
        f"[Service]\nType=oneshot\nExecStart={python} -c pass\nRemainAfterExit=true\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def activating_ms(host: ThrowawayHost, unit: str) -> float:
    """How long ``unit`` was activating in this boot (systemd-analyze blame's figure)."""
    stamps = host.show(unit, "InactiveExitTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    return (int(stamps["ActiveEnterTimestampMonotonic"]) - int(stamps["InactiveExitTimestampMonotonic"])) / 1000


def host_boot(workdir: Path, variant: str) -> dict[str, float]:
    host = ThrowawayHost(workdir, variant=variant, user_data=USER_DATA)
    host.create()
    try:
        unit = host.write(f"/etc/systemd/system/{BASELINE_UNIT}", baseline_unit(sys.executable))
        wants = unit.parent / "multi-user.target.wants"
        wants.mkdir(exist_ok=True)
        (wants / BASELINE_UNIT).symlink_to(f"../{BASELINE_UNIT}")
        state = host.boot()
        if state != "running":
            failed = host.systemctl("list-units", "--failed", "--no-legend").stdout
            raise SystemExit(f"{variant}: the host booted {state}:\n{failed}")
        figures = {name: activating_ms(host, name) for name in [*UNITS, BASELINE_UNIT]}
        configured = int(
            host.show("configured.target", "ActiveEnterTimestampMonotonic")["ActiveEnterTimestampMonotonic"]
        )
        manager = host.systemctl("show", "--property=UserspaceTimestampMonotonic").stdout
        userspace = int(manager.strip().split("=", 1)[1])
        figures["configured.target"] = (configured - userspace) / 1000
        return figures
    finally:
        host.destroy()


def sandbox_boot(workdir: Path, variant: str) -> float:
    user_data = workdir / "user-data.toml"
    user_data.write_text(USER_DATA)
    thar_boot = str(Path(sys.executable).parent / "thar-boot")
    argv = [thar_boot, "--root", str(workdir / "root"), "--variant", variant, "--user-data", str(user_data)]
    t0 = time.perf_counter()
    subprocess.run([*argv, "--no-serve"], check=True, capture_output=True)
    return (time.perf_counter() - t0) * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.host_boot", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--variant", action="append", dest="variants")
    args = p.parse_args(argv)
    if os.geteuid() != 0 or shutil.which("systemd-nspawn") is None:
        print("bench.host_boot: needs root and systemd-nspawn (Debian's systemd-container); skipped")
        return 0
    for variant in args.variants or ["thar-dev", "thar-k8s"]:
        runs: list[dict[str, float]] = []
        sandbox: list[float] = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="thar-host-bench.") as tmp:
                runs.append(host_boot(Path(tmp) / "host", variant))
                sandbox.append(sandbox_boot(Path(tmp), variant))
        report(variant, runs, sandbox)
    return 0


def report(variant: str, runs: list[dict[str, float]], sandbox: list[float]) -> None:
    def median(name: str) -> float:
        return statistics.median(run[name] for run in runs)

    bare = median(BASELINE_UNIT)
    print(f"\n{variant}: first boot under systemd, medians of {len(runs)} (ms)")
    print(f"{'unit':28} {'thar':>8} {'÷ bare unit':>12} {'Bottlerocket':>13}")
    for name in UNITS:
        print(f"{name:28} {median(name):8.0f} {median(name) / bare:12.1f} {BOTTLEROCKET.get(name, '-'):>13}")
    print(f"{'bare python -c pass unit':28} {bare:8.0f} {1:12.1f} {'-':>13}")
    print(f"{'systemd start → configured':28} {median('configured.target'):8.0f}")
    print(f"{'sandbox boot (thar-boot)':28} {statistics.median(sandbox):8.0f}   (wall, same run)")


if __name__ == "__main__":
    sys.exit(main())
