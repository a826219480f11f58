"""``host-ctr``: Bottlerocket's host container runner (core-kit ``sources/host-ctr``), on ``ctr``.

    host-ctr [--containerd-socket PATH] [--namespace NS] run --container-id ID --source REF
        [--superpowered true|false] [--registry-config FILE] [--container-type host|bootstrap]
        [--use-cached-image]
    host-ctr ... pull-image --source REF [--registry-config FILE] [--skip-if-image-exists] [--label K=V]
    host-ctr ... clean-up --container-id ID

``run`` pulls the image, replaces a stale container of the same id, creates and starts the task
and waits for it in the foreground; its exit status is the task's. SIGTERM or SIGINT stop the
task (SIGTERM, then SIGKILL after a grace period) and delete it and the container.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from thar.paths import thar_root

from .ctr import Ctr, CtrError
from .mounts import ContainerType, MountError, run_flags
from .registry import RegistryConfig, RegistryConfigError, reference_host, registry_host_dir

__all__ = ["HostCtrError", "main"]

DEFAULT_SOCKET = "run/host-containerd/containerd.sock"  # below the root
DEFAULT_NAMESPACE = "default"
# host-ctr's pullImage: 5 retries, 1 s doubling to 30 s, plus 2-6 s of jitter
PULL_RETRIES = 5
# host-ctr's runCtr: 20 s between SIGTERM and SIGKILL
STOP_GRACE = 20.0


class HostCtrError(Exception):
    """What host-ctr reports before exiting 1."""


def info(message: str) -> None:
    # host-ctr's logsplit: info and below on stdout, errors on stderr
    print(f"host-ctr: {message}", flush=True)


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {value!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="host-ctr", description="manage host containers")
    parser.add_argument(
        "--containerd-socket",
        "-s",
        type=Path,
        help="path to the containerd socket (default: $THAR_ROOT/run/host-containerd/containerd.sock)",
    )
    parser.add_argument("--namespace", "-n", default=DEFAULT_NAMESPACE, help="the containerd namespace to operate in")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run host container with the specified image")
    run.add_argument("--source", required=True, help="the image source")
    run.add_argument("--container-id", required=True, help="the id of the container to manage")
    run.add_argument("--superpowered", type=_bool, nargs="?", const=True, default=False)
    run.add_argument("--registry-config", type=Path, help="path to image registry configuration")
    run.add_argument("--container-type", default="host", help="specifies one of: [host, bootstrap]")
    run.add_argument("--use-cached-image", type=_bool, nargs="?", const=True, default=False)
    pull = sub.add_parser("pull-image", help="pull the specified container image")
    pull.add_argument("--source", required=True, help="the image source")
    pull.add_argument("--registry-config", type=Path, help="path to image registry configuration")
    pull.add_argument("--skip-if-image-exists", type=_bool, nargs="?", const=True, default=False)
    pull.add_argument("--label", action="append", default=[], help="label to add to the pulled image (key=value)")
    clean = sub.add_parser("clean-up", help="delete specified container's resources if it exists")
    clean.add_argument("--container-id", required=True, help="the id of the container to clean up")
    return parser


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise HostCtrError(f"{name}={raw!r} is not a number") from None


def pull(ctr: Ctr, source: str, registry_config: Path | None, labels: Sequence[str] = ()) -> None:
    """Pull and unpack ``source`` as host-ctr's ``pullImage``: the registry config's mirrors and
    credentials, retried with backoff (``HOST_CTR_PULL_RETRIES``, default 5)."""
    config = RegistryConfig.load(registry_config) if registry_config else RegistryConfig()
    host = reference_host(source)
    retries = int(_env_number("HOST_CTR_PULL_RETRIES", PULL_RETRIES))
    with tempfile.TemporaryDirectory(prefix="host-ctr-hosts.") as hosts:
        registry_host_dir(config, host, Path(hosts))
        args = ["images", "pull", "--hosts-dir", hosts]
        credential = config.credential(host)
        if credential and (user := credential.user()):
            args += ["--user", user]
        if credential and credential.identitytoken:
            args += ["--refresh", credential.identitytoken]
        for label in labels:
            args += ["--label", label]
        interval = 1.0
        for attempt in range(retries + 1):
            try:
                ctr.call([*args, source], what=f"pulling image {source}", timeout=600)
                info(f"pulled image {source}")
                return
            except CtrError as e:
                if attempt == retries:
                    suffix = f" (retries exhausted after {retries})" if retries else ""
                    raise HostCtrError(f"{e}{suffix}") from e
                wait = interval + random.uniform(2, 6)
                info(f"failed to pull image {source}: {e}; waiting {wait:.1f} s before retrying")
                time.sleep(wait)
                interval = min(interval * 2, 30)


def fetch(ctr: Ctr, source: str, registry_config: Path | None, cached: bool, labels: Sequence[str] = ()) -> None:
    if cached and source in ctr.images():
        info(f"image {source} exists, using the cached image")
        return
    pull(ctr, source, registry_config, labels)


def clean_up(ctr: Ctr, container_id: str) -> None:
    """Kill and delete the task, delete the container and its snapshot (host-ctr's ``cleanUp``)."""
    if container_id not in ctr.containers():
        info(f"container {container_id} does not exist, no clean up necessary")
        return
    if ctr.task_status(container_id) is not None:
        ctr.call(["tasks", "delete", "--force", container_id], what=f"deleting the task of container {container_id}")
        info(f"killed existing task of container {container_id}")
    ctr.call(["containers", "delete", container_id], what=f"deleting container {container_id}")
    info(f"deleted container {container_id}")


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal = 0

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signum
        self.event.set()


def _tee(stream: object, keep: list[str]) -> None:
    """Copy ctr's stderr (the container's too) to ours, keeping its last line."""
    for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
        if line.strip():
            keep[:] = [line.decode(errors="replace").strip()]


def run(ctr: Ctr, args: argparse.Namespace) -> int:
    ctype = ContainerType(args.container_type)
    if ctype.name not in ("host", "bootstrap"):
        raise HostCtrError(f"invalid container type {args.container_type!r} (expected host or bootstrap)")
    if ctype.name == "bootstrap" and args.superpowered:
        raise HostCtrError("bootstrap containers can't be superpowered")
    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ctr.check_socket()
        fetch(ctr, args.source, args.registry_config, args.use_cached_image)
        if stop.event.is_set():
            raise HostCtrError(f"stopped by signal {stop.signal} before container {args.container_id} started")
        name = args.container_id
        container_id = ctype.prefix + name
        # host-ctr takes over a still-running task; here a stale container is replaced (README)
        if container_id in ctr.containers():
            info(f"replacing the stale container {container_id}")
            clean_up(ctr, container_id)
        try:
            flags = run_flags(thar_root(), name, ctype, args.superpowered)
        except MountError as e:
            raise HostCtrError(f"container {container_id}: {e}") from e
        # runc's root and the stdio FIFOs beside the socket: /run/host-containerd/{runc,fifo}
        state = ctr.socket.parent
        argv = ctr.argv(
            "run",
            "--runc-root",
            str(state / "runc"),
            "--fifo-dir",
            str(state / "fifo"),
            *flags,
            args.source,
            container_id,
        )
        return _supervise(ctr, argv, container_id, stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _supervise(ctr: Ctr, argv: list[str], container_id: str, stop: _Stop) -> int:
    last: list[str] = []
    child = subprocess.Popen(argv, stderr=subprocess.PIPE)
    tee = threading.Thread(target=_tee, args=(child.stderr, last), daemon=True)
    tee.start()
    info(f"started container {container_id}")
    stopping = False
    try:
        while (code := child.poll()) is None:
            if stop.event.wait(0.1) and not stopping:
                stopping = True
                info(f"received signal {stop.signal}, stopping container {container_id}")
                _stop_task(ctr, child, container_id)
        tee.join(5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        # ctr run deletes the task when it ends; the container (and its snapshot) is deleted here
        try:
            clean_up(ctr, container_id)
        except CtrError as e:
            print(f"host-ctr: failed to clean up container {container_id}: {e}", file=sys.stderr, flush=True)
    if code != 0 and last and last[0].startswith("ctr: "):
        raise HostCtrError(f"container {container_id}: {last[0].removeprefix('ctr: ')}")
    info(f"container {container_id} exited with status {code}")
    return code


def _stop_task(ctr: Ctr, child: subprocess.Popen[bytes], container_id: str) -> None:
    grace = _env_number("HOST_CTR_STOP_GRACE", STOP_GRACE)
    for sig, wait in (("SIGTERM", grace), ("SIGKILL", 45.0)):
        try:
            ctr.call(
                ["tasks", "kill", "--signal", sig, container_id], what=f"sending {sig} to container {container_id}"
            )
        except CtrError as e:
            if child.poll() is not None:
                return
            print(f"host-ctr: {e}", file=sys.stderr, flush=True)
        try:
            child.wait(wait)
            return
        except subprocess.TimeoutExpired:
            info(f"container {container_id} still running {wait:g} s after {sig}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    socket = args.containerd_socket or thar_root() / DEFAULT_SOCKET
    try:
        ctr = Ctr(socket, args.namespace)
        if args.command == "run":
            return run(ctr, args)
        ctr.check_socket()
        if args.command == "pull-image":
            for label in args.label:
                if len(label) > 4096:
                    raise HostCtrError(f"label {label[:40]}... is longer than 4096 bytes")
            fetch(ctr, args.source, args.registry_config, args.skip_if_image_exists, args.label)
        else:
            clean_up(ctr, args.container_id)
        return 0
    except (HostCtrError, CtrError, RegistryConfigError) as e:
        print(f"host-ctr: {e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
