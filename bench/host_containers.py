"""Host containers benchmark: from ``apiclient set host-containers.NAME.enabled=true`` to the
container's own first answer from the API, under Debian's real systemd.

    python -m bench.host_containers [--runs N]   (as root, from the repository root)

A throwaway thar-dev host (``thar.sandbox.host``, booted with ``host_containers=True``) serves a
local registry inside its private network, holding one image: busybox with the C library the
host's Python needs. Its command asks the API for ``settings.motd`` with the ``apiclient``
host-ctr mounts into every host container, writes the answer into the container's persistent
storage (``/.bottlerocket/host-containers/current``, the host's ``/local/host-containers/NAME``)
and waits. Timed inside the host, from before the command to the answer file's appearance
(polled every 2 ms):

- **thar**: ``apiclient set host-containers.bench.source=… …enabled=true`` → the commit →
  thar-be-settings → ``host-containers`` → ``systemctl enable --now host-containers@bench`` →
  ``host-ctr run`` (pull, then ``ctr run``) → the container's ``apiclient get``;
- **ctr run** (the baseline, same run, same image, same containerd): ``ctr run`` with exactly
  the flags and mounts host-ctr gives a host container (``thar.host_ctr.mounts.run_flags``), so
  the same ``apiclient get`` inside; "not pulled" adds ``ctr images pull`` before it.

Each case twice: the image not pulled (removed with ``ctr images rm --sync``, which deletes its
content and snapshots, before the run) and already pulled (host-ctr still asks the registry for
the manifest, as Bottlerocket's does without ``--use-cached-image``). Medians over the runs; the
ratio is thar's time over the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOCKET = "/run/host-containerd/containerd.sock"
REGISTRY_PORT = 5000
REGISTRY_STORAGE = "/var/lib/bench-registry"
REFERENCE = f"127.0.0.1:{REGISTRY_PORT}/thar/bench:v1"
NAME = "bench"
BASELINE_NAME = "benchctr"
# Ask until the API answers (it does at once: the socket is the host's), then wait for SIGTERM.
SCRIPT = (
    "cd /.bottlerocket/host-containers/current && "
    "until apiclient get settings.motd > answer.tmp; do sleep 0.01; done && mv answer.tmp answer && "
    "trap 'exit 0' TERM && while true; do sleep 1 & wait $!; done"
)
POLL = 0.002


# -- inside the host --------------------------------------------------------------------------


def _ctr(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ctr", "-a", SOCKET, *args], capture_output=True, text=True, check=check, timeout=120)


def _wait_for(path: Path, t0: float, timeout: float = 120) -> float:
    while not path.exists():
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"no answer in {path} after {timeout} s")
        time.sleep(POLL)
    return (time.monotonic() - t0) * 1000


def _forget_image() -> None:
    _ctr("images", "rm", "--sync", REFERENCE, check=False)  # absent already: fine
    if REFERENCE in _ctr("images", "ls", "-q").stdout.split():
        raise SystemExit(f"{REFERENCE} is still in host-containerd")


def _apiclient(*args: str) -> None:
    subprocess.run(["apiclient", *args], check=True, capture_output=True, timeout=120)


def inside_thar(cold: bool) -> float:
    storage = Path("/local/host-containers") / NAME
    (storage / "answer").unlink(missing_ok=True)
    if cold:
        _forget_image()
    t0 = time.monotonic()
    _apiclient(
        "set",
        f"host-containers.{NAME}.source={REFERENCE}",
        f"host-containers.{NAME}.superpowered=false",
        f"host-containers.{NAME}.enabled=true",
    )
    elapsed = _wait_for(storage / "answer", t0)
    _apiclient("set", "--wait", f"host-containers.{NAME}.enabled=false")
    unit = f"host-containers@{NAME}.service"
    deadline = time.monotonic() + 120
    while subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False).returncode == 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"{unit} did not stop")
        time.sleep(0.05)
    return elapsed


def inside_ctr(cold: bool) -> float:
    from thar.host_ctr.mounts import ContainerType, run_flags

    storage = Path("/local/host-containers") / BASELINE_NAME
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "answer").unlink(missing_ok=True)
    if cold:
        _forget_image()
    state = Path(SOCKET).parent
    flags = run_flags(Path("/"), BASELINE_NAME, ContainerType("host"), False)
    argv = ["ctr", "-a", SOCKET, "run", "--rm", "--runc-root", f"{state}/runc", "--fifo-dir", f"{state}/fifo"]
    t0 = time.monotonic()
    if cold:
        _ctr("images", "pull", "--plain-http", REFERENCE)
    child = subprocess.Popen([*argv, *flags, REFERENCE, BASELINE_NAME], stdin=subprocess.DEVNULL)
    try:
        elapsed = _wait_for(storage / "answer", t0)
    finally:
        _ctr("tasks", "kill", BASELINE_NAME, check=False)
        child.wait(timeout=60)
    return elapsed


# -- on this machine --------------------------------------------------------------------------


def _registry_storage(workdir: Path) -> Path:
    """A registry's storage holding the benchmark image (pushed to a registry on this machine,
    which is stopped again: the host serves the storage itself)."""
    from tests.containers import _stop, glibc_image, push_image, start_registry

    registry = start_registry(workdir)
    try:
        push_image(registry, "thar/bench", "v1", glibc_image(cmd=["/bin/sh", "-c", SCRIPT]))
    finally:
        _stop(registry.process)
    return registry.storage


def _serve_registry(host: object, storage: Path) -> None:
    from thar.sandbox.host import ThrowawayHost

    assert isinstance(host, ThrowawayHost)
    shutil.copytree(storage, host.root / REGISTRY_STORAGE.lstrip("/"))
    host.write(
        "/etc/bench-registry.yml",
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {REGISTRY_STORAGE}\nhttp:\n  addr: 127.0.0.1:{REGISTRY_PORT}\n",
    )


def run_benchmark(runs: int) -> dict[str, list[float]]:
    from tests.containers import REGISTRY, require
    from thar.sandbox.host import ThrowawayHost

    require(REGISTRY, "/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/usr/bin/busybox")
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-host-containers-") as tmp:
        workdir = Path(tmp)
        storage = _registry_storage(workdir / "registry")
        (workdir / "host").mkdir()
        host = ThrowawayHost(workdir / "host", variant="thar-dev", host_containers=True)
        try:
            host.create()
            _serve_registry(host, storage)
            state = host.boot()
            if state != "running":
                raise SystemExit(f"the host booted {state}: {host.systemctl('list-units', '--failed').stdout}")
            host.run(["systemd-run", "--unit=bench-registry", REGISTRY, "serve", "/etc/bench-registry.yml"])
            probe = f"import urllib.request as u; u.urlopen('http://127.0.0.1:{REGISTRY_PORT}/v2/', timeout=5)"
            deadline = time.monotonic() + 60
            while host.run(["python", "-c", probe], check=False).returncode != 0:
                if time.monotonic() > deadline:
                    raise SystemExit("the registry in the host does not answer")
                time.sleep(0.2)
            script = str(Path(__file__).resolve())
            for _ in range(runs):
                for kind in ("thar", "ctr"):
                    for cold in (True, False):
                        done = host.run(
                            ["python", script, "--inside", kind, *(["--cold"] if cold else [])], timeout=600
                        )
                        key = f"{kind} {'not pulled' if cold else 'pulled'}"
                        results.setdefault(key, []).append(json.loads(done.stdout)["ms"])
        finally:
            host.destroy()
    return results


def report(results: dict[str, list[float]]) -> str:
    lines = [f"{'case':<22}{'median ms':>10}  runs (ms)"]
    medians = {key: statistics.median(values) for key, values in results.items()}
    for key, values in results.items():
        lines.append(f"{key:<22}{medians[key]:>10.0f}  {', '.join(f'{v:.0f}' for v in values)}")
    for pulled in ("not pulled", "pulled"):
        thar, ctr = medians.get(f"thar {pulled}"), medians.get(f"ctr {pulled}")
        if thar and ctr:
            lines.append(f"ratio thar / ctr run, {pulled}: {thar / ctr:.2f} ({thar - ctr:+.0f} ms)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.host_containers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--inside", choices=("thar", "ctr"), help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        ms = (inside_thar if args.inside == "thar" else inside_ctr)(args.cold)
        print(json.dumps({"ms": ms}))
        return 0
    if os.geteuid() != 0:
        print("the host containers benchmark needs root (a throwaway systemd host)", file=sys.stderr)
        return 2
    print(report(run_benchmark(args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
