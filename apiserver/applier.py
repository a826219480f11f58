"""Starting the settings applier after a commit (``POST /tx/apply``, ``commit_and_apply``,
rollbacks and reverts), as the spec's applier contract says, counted and timed."""

from __future__ import annotations

import asyncio
import json
import time

from .errors import ApplierFailed
from .metrics import Metrics

__all__ = ["apply", "run_applier"]


async def apply(argv: tuple[str, ...], keys: list[str] | None, metrics: Metrics) -> None:
    """``run_applier``, counted (``ok``/``failed``) and timed in ``metrics``."""
    started = time.perf_counter()
    try:
        await run_applier(argv, keys)
    except ApplierFailed:
        metrics.applier_runs.labels("failed").inc()
        raise
    finally:
        metrics.applier_duration.observe(time.perf_counter() - started)
    metrics.applier_runs.labels("ok").inc()


async def run_applier(argv: tuple[str, ...], keys: list[str] | None) -> None:
    """Start the settings applier and wait for its first process: ``--daemon --all`` with stdin
    inherited, or ``--daemon`` with the keys on stdin. An applier of ``none`` means none is
    configured: changes are committed, not applied."""
    if argv == ("none",):
        return
    try:
        if keys is None:
            proc = await asyncio.create_subprocess_exec(*argv, "--daemon", "--all")
        else:
            proc = await asyncio.create_subprocess_exec(*argv, "--daemon", stdin=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise ApplierFailed(f"Unable to start config applier: {exc} ") from exc
    if keys is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(keys, separators=(",", ":"), ensure_ascii=False).encode())
            await proc.stdin.drain()
            proc.stdin.close()
        except (OSError, RuntimeError) as exc:  # the applier closed its stdin (or exited) first
            await proc.wait()
            raise ApplierFailed(f"Unable to send input to config applier: {exc}") from exc
    code = await proc.wait()
    if code != 0:
        shown = str(code) if code > 0 else "unknown"
        raise ApplierFailed(f"Config applier was unable to fork child, returned {shown}")
