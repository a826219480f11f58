"""Applier benchmark: `thar-be-settings --all` for a thar-k8s sandbox, beside same-run baselines.

    python -m bench.apply [--runs N] [--variant thar-k8s|thar-dev]     (from the repository root)

A thar-k8s sandbox (or thar-dev's) is booted in a temporary directory (storewolf, templates installed, the
real apiserver, settings-committer, plus the values sundog and the user would add), then:

(a) wall time of `thar-be-settings --all --no-restart` (thar-k8s's restart commands are a
    real host's), steady state (every file already right) and cold (rendered files removed
    before each run), beside the wall time of `python -c pass` and of
    `apiclient get settings.motd` measured in the same run;
    and beside the time to import the render pipeline and the applier (the floor of any run),
    and that plus the settings model, which the oci_defaults helper (thar-k8s) loads only for values
    not in the model's stored form (so not in this run);
(b) in-process: `plan_apply` (render every file) + `write_plan`, with the model fetched once.
Figures are medians over N runs; ratios are thar / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thar import variants
from thar.sandbox.prepare import install_templates

BIN = Path(sys.executable).parent
# What sundog generates and a user supplies on a node joining a cluster.
NODE = {
    "updates": {"seed": 42, "metadata-base-url": "https://updates.thar.example/2020-07-07/thar-k8s/x86_64/"},
    "network": {"hostname": "node-1.example.internal"},
    "kubernetes": {
        "node-ip": "10.0.0.5",
        "api-server": "https://k8s.example.internal:6443",
        "cluster-name": "demo",
        "bootstrap-token": "abcdef.0123456789abcdef",
    },
}


def wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def boot(root: Path, env: dict[str, str], variant: str = "thar-k8s") -> subprocess.Popen[bytes]:
    """A sandbox of `variant` at `root` with its apiserver running (applier: none)."""
    (root / "usr/lib").mkdir(parents=True)
    shutil.copyfile(variants.path(variant) / "os-release", root / "usr/lib/os-release")
    datastore = root / "var/lib/bottlerocket/datastore"
    run = dict(env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([BIN / "storewolf", "--data-store-base-path", datastore, "--variant", variant], **run)  # type: ignore[call-overload]
    install_templates(variants.path(variant), root)
    sock = root / "run/api.sock"
    server = subprocess.Popen(
        [BIN / "apiserver", "--datastore-path", datastore / "current", "--socket-path", sock,
         "--variant", variant, "--applier", "none", "--log-level", "error"],
        env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(sock)
    subprocess.run([BIN / "settings-committer", "--socket-path", sock, "--log-level", "error"], **run)  # type: ignore[call-overload]
    node = NODE if variant == "thar-k8s" else {k: v for k, v in NODE.items() if k != "kubernetes"}
    subprocess.run([BIN / "apiclient", "-s", sock, "set", "--json", json.dumps(node)], **run)  # type: ignore[call-overload]
    return server


def timed(argv: list[str], env: dict[str, str], runs: int, before: object = None) -> float:
    """Median wall time (ms) of `argv`; `before()` runs untimed before each run."""
    times = []
    for _ in range(runs):
        if callable(before):
            before()
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--variant", default="thar-k8s", choices=["thar-k8s", "thar-dev"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    env = {**os.environ, "THAR_ROOT": str(root), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = boot(root, env, args.variant)
    try:
        sock = str(root / "run/api.sock")
        apply_all = [str(BIN / "thar-be-settings"), "--all", "--no-restart", "--log-level", "error"]
        subprocess.run(apply_all, env=env, check=True, stdout=subprocess.DEVNULL)  # first render
        files = sum(1 for p in (root / "etc").rglob("*") if p.is_file()) + sum(
            1 for p in (root / "root").rglob("*") if p.is_file()
        )

        def wipe() -> None:
            shutil.rmtree(root / "etc", ignore_errors=True)
            shutil.rmtree(root / "root", ignore_errors=True)

        python_ms = timed([sys.executable, "-c", "pass"], env, args.runs)
        get_ms = timed([str(BIN / "apiclient"), "-s", sock, "get", "settings.motd"], env, args.runs)
        import_ms = timed(
            [sys.executable, "-c", "import thar.schnauzer.render, thar.thar_be_settings.applier"], env, args.runs
        )
        # What a run would cost if oci_defaults had to load the settings model (values not in stored form).
        model_ms = timed(
            [
                sys.executable,
                "-c",
                "import thar.schnauzer.render, thar.thar_be_settings.applier, thar.models.settings.oci_defaults",
            ],
            env,
            args.runs,
        )
        steady_ms = timed(apply_all, env, args.runs)
        cold_ms = timed(apply_all, env, args.runs, before=wipe)

        # (b) in process: the model fetched once, then render + write.
        from thar.thar_be_settings import api
        from thar.thar_be_settings.applier import sandbox_environment, write_plan
        from thar.thar_be_settings.config import parse_files, parse_services
        from thar.thar_be_settings.plan import plan_apply

        model = api.get_object(sock, "/")
        cfg = parse_files(api.configuration_files(sock))
        services = parse_services(api.services(sock))
        henv = sandbox_environment()
        render_times, write_times = [], []
        for _ in range(args.runs):
            wipe()
            start = time.perf_counter()
            plan = plan_apply(model, services, cfg, root=root, strict=False, env=henv)
            middle = time.perf_counter()
            write_plan(plan)
            render_times.append(middle - start)
            write_times.append(time.perf_counter() - middle)
        assert not plan.failures, plan.failures
        render_ms, write_ms = statistics.median(render_times) * 1e3, statistics.median(write_times) * 1e3
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(root, ignore_errors=True)

    print(f"thar-be-settings --all, {args.variant} sandbox ({len(cfg)} configuration files, {files} on disk), "
          f"median of {args.runs} runs:")  # fmt: skip
    print(f"  baseline python -c pass:              {python_ms:7.1f} ms")
    print(f"  baseline apiclient get settings.motd: {get_ms:7.1f} ms")
    print(f"  floor: importing schnauzer + applier: {import_ms:7.1f} ms")
    print(f"  ... + the settings model (pydantic):  {model_ms:7.1f} ms   (had oci_defaults needed the model)")
    print(f"  --all, files unchanged (steady):      {steady_ms:7.1f} ms   "
          f"{steady_ms / python_ms:4.1f}x python, {steady_ms / get_ms:4.1f}x apiclient get")  # fmt: skip
    print(f"  --all, files removed first (cold):    {cold_ms:7.1f} ms   "
          f"{cold_ms / python_ms:4.1f}x python, {cold_ms / get_ms:4.1f}x apiclient get")  # fmt: skip
    print(f"  in process: render {render_ms:.1f} ms + write {write_ms:.1f} ms "
          f"({(render_ms + write_ms) / len(cfg):.2f} ms per file)")  # fmt: skip


if __name__ == "__main__":
    main()
