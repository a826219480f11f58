"""Starting the settings applier after a commit (``POST /tx/apply``, ``commit_and_apply``,
rollbacks and reverts), as the spec's applier contract says, counted and timed.

thar: with ``wait=true`` the applier runs in the foreground (no ``--daemon``) with
``--report-fd N``, and the answer waits for it: ``launch`` starts it (under the write lock, as
the launch of a background applier is), ``finish`` waits for it and reads thar-be-settings'
JSON report (``thar_be_settings.report``) from an unnamed temporary file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Any

from .errors import ApplierFailed
from .metrics import Metrics

__all__ = ["MAX_WAIT_TIMEOUT", "WAIT_TIMEOUT", "Running", "apply", "finish", "launch", "run_applier", "wait_status"]

WAIT_TIMEOUT = 120  # seconds a waiting caller waits for the applier unless it says otherwise
MAX_WAIT_TIMEOUT = 3600
_REPORT_LIMIT = 16 * 1024 * 1024  # bytes of report read back
_ORPHANS: set[asyncio.Task[None]] = set()  # appliers still running after their caller's timeout


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
    proc = await _start((*argv, "--daemon"), keys)
    code = await proc.wait()
    if code != 0:
        shown = str(code) if code > 0 else "unknown"
        raise ApplierFailed(f"Config applier was unable to fork child, returned {shown}")


async def _start(
    argv: tuple[str, ...], keys: list[str] | None, pass_fds: tuple[int, ...] = ()
) -> asyncio.subprocess.Process:
    """Start the applier ``argv``: with ``--all`` (stdin inherited), or with ``keys`` as a JSON
    array on its stdin. ``ApplierFailed`` if it cannot be started or fed."""
    try:
        if keys is None:
            proc = await asyncio.create_subprocess_exec(*argv, "--all", pass_fds=pass_fds)
        else:
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, pass_fds=pass_fds)
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
    return proc


@dataclass
class Running:
    """A foreground applier started by ``launch``: its process (None: no applier is configured),
    the file its report goes to, and when it started."""

    proc: asyncio.subprocess.Process | None
    report: IO[bytes] | None
    started: float


async def launch(argv: tuple[str, ...], keys: list[str] | None) -> Running:
    """Start the applier in the foreground with ``--report-fd``: ``--all``, or the keys on stdin.
    ``ApplierFailed`` if it cannot be started or fed."""
    started = time.perf_counter()
    if argv == ("none",):
        return Running(None, None, started)
    report = tempfile.TemporaryFile()  # noqa: SIM115 (kept open until the applier has finished)
    try:
        proc = await _start((*argv, "--report-fd", str(report.fileno())), keys, pass_fds=(report.fileno(),))
    except ApplierFailed:
        report.close()
        raise
    return Running(proc, report, started)


async def finish(running: Running, timeout: float, metrics: Metrics) -> dict[str, Any]:
    """Wait up to ``timeout`` seconds for the applier; its outcome as the answer's report fields:
    ``status`` (``applied``, ``failed``, ``timeout``, or ``not-applied`` when no applier is
    configured), ``error``, ``exit_status``, ``files`` and ``services``."""
    outcome: dict[str, Any] = {"status": "applied", "error": None, "exit_status": None, "files": [], "services": []}
    proc, report = running.proc, running.report
    if proc is None or report is None:
        outcome["status"] = "not-applied"
        return outcome
    try:
        code = await asyncio.wait_for(asyncio.shield(proc.wait()), timeout)
    except TimeoutError:
        _reap_later(proc, report)
        metrics.applier_runs.labels("failed").inc()
        outcome.update(
            status="timeout", error=f"The config applier did not finish within {timeout:g} seconds; it is still running"
        )
        return outcome
    metrics.applier_duration.observe(time.perf_counter() - running.started)
    with report:
        report.seek(0)
        raw = report.read(_REPORT_LIMIT)
    outcome["exit_status"] = code
    document: Any = None
    if raw:
        with contextlib.suppress(ValueError):
            document = json.loads(raw)
    if isinstance(document, dict):
        outcome["files"] = [f for f in document.get("files", []) if isinstance(f, dict)]
        outcome["services"] = [s for s in document.get("services", []) if isinstance(s, dict)]
        if isinstance(document.get("error"), str):
            outcome["error"] = document["error"]
    failed = code != 0 or any(f.get("status") == "failed" for f in outcome["files"])
    failed = failed or any(s.get("status") == "failed" for s in outcome["services"])
    if failed:
        outcome["status"] = "failed"
        if outcome["error"] is None:
            shown = f"exited {code}" if code >= 0 else f"was killed by signal {-code}"
            outcome["error"] = f"Config applier {shown}"
    metrics.applier_runs.labels("failed" if failed else "ok").inc()
    return outcome


def wait_status(outcome: dict[str, Any]) -> int:
    """The HTTP status of a waited-for apply: 200 done (or nothing to run), 502 the applier or a
    restart failed, 504 it did not finish in time."""
    return {"failed": 502, "timeout": 504}.get(outcome["status"], 200)


def _reap_later(proc: asyncio.subprocess.Process, report: IO[bytes]) -> None:
    async def reap() -> None:
        try:
            await proc.wait()
        finally:
            report.close()

    task = asyncio.get_running_loop().create_task(reap())
    _ORPHANS.add(task)
    task.add_done_callback(_ORPHANS.discard)
