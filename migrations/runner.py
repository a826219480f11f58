"""Running migrations: one executable at a time, or a chain of Python ones at once.

Any executable honouring the contract can be a migration. A Python one (its first line a
``#!`` naming python) is run in a forked child of the migrator instead of a new interpreter:
the child has the helper library loaded already, so it starts in a few milliseconds rather
than a hundred. It is still a separate process with the script's arguments, its own stdout and
stderr, and the script's exit status; only the interpreter is the migrator's. Consecutive
chainable ones (a module-level ``MIGRATION``) run in one forked child as one chain. Children
die with the migrator (``PR_SET_PDEATHSIG``), so a killed migrator leaves no migration
writing behind it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import runpy
import selectors
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from thar.datastore import DatastoreError, MemoryDataStore

from . import migration_helpers
from .errors import MigrationsError
from .migration_helpers import Direction

__all__ = [
    "CHAIN_FAILED",
    "CHAIN_RESULT",
    "LineSink",
    "is_chainable",
    "is_python_script",
    "preload",
    "run_chain",
    "run_executable",
]

LineSink = Callable[[str, str], None]  # (stream name "stdout" | "stderr", line)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def preload(migrations: Sequence[Path]) -> None:
    """Import what the Python migrations among ``migrations`` use, once, so that each forked
    child starts with it: the helper library and the journal's schema code always, schnauzer
    only when a migration renders templates."""
    MemoryDataStore().close()  # loads the journal's schema code, as every new target needs it
    for path in migrations:
        if is_python_script(path):
            with contextlib.suppress(OSError):
                text = path.read_bytes()
                if b"Template" in text or b"Schnauzer" in text or b"render" in text:
                    with contextlib.suppress(ImportError):
                        migration_helpers.render.preload_engine()
                    return


def is_python_script(path: Path) -> bool:
    """True when ``path`` starts with a ``#!`` line naming python."""
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def _pump(fds: dict[int, str], sink: LineSink) -> None:
    """Read every fd to its end, passing complete lines to ``sink``; closes the fds."""
    sel = selectors.DefaultSelector()
    partial: dict[int, bytes] = {}
    for fd, name in fds.items():
        sel.register(fd, selectors.EVENT_READ, name)
        partial[fd] = b""
    open_fds = len(fds)
    while open_fds:
        for key, _ in sel.select():
            fd = key.fd
            chunk = os.read(fd, 65536)
            if not chunk:
                sel.unregister(fd)
                os.close(fd)
                open_fds -= 1
                if partial[fd]:
                    sink(key.data, partial[fd].decode("utf-8", "replace"))
                continue
            *lines, partial[fd] = (partial[fd] + chunk).split(b"\n")
            for line in lines:
                sink(key.data, line.decode("utf-8", "replace"))
    sel.close()


def _fork(body: Callable[[], int], sink: LineSink) -> int:
    """Run ``body`` in a forked child whose stdout and stderr go to ``sink``; its exit status."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: become the script
        code = 1
        try:
            _die_with_parent()
            os.close(out_r)
            os.close(err_r)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
            try:
                code = body()
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    _pump({out_r: "stdout", err_r: "stderr"}, sink)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _forked(path: Path, args: Sequence[str], sink: LineSink) -> int:
    def body() -> int:
        sys.argv = [str(path), *args]
        runpy.run_path(str(path), run_name="__main__")
        return 0

    return _fork(body, sink)


def _spawned(path: Path, args: Sequence[str], sink: LineSink) -> int:
    proc = subprocess.Popen(
        [str(path), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent,  # its one other thread only removes directories
    )
    assert proc.stdout is not None and proc.stderr is not None
    _pump({os.dup(proc.stdout.fileno()): "stdout", os.dup(proc.stderr.fileno()): "stderr"}, sink)
    proc.stdout.close()
    proc.stderr.close()
    return proc.wait()


_CHAINABLE = re.compile(rb"^MIGRATION\s*(?::[^=\n]*)?=", re.MULTILINE)
CHAIN_RESULT = "thar-chain-result:"
CHAIN_FAILED = "thar-chain-failed:"


def is_chainable(path: Path) -> bool:
    """True for a Python migration that declares its migration as a module-level ``MIGRATION``
    and runs it only under ``if __name__ == "__main__":`` (see README.md)."""
    if not is_python_script(path):
        return False
    try:
        text = path.read_bytes()
    except OSError:
        return False
    return bool(_CHAINABLE.search(text)) and (b"__name__ == '__main__'" in text or b'__name__ == "__main__"' in text)


def run_chain(paths: Sequence[Path], direction: Direction, source: Path, target: Path, sink: LineSink) -> int:
    """Run chainable migrations as one chain in a forked child: each committed state is read
    once, passed through every ``MIGRATION`` in order, and written once. The child reports
    each migration's time (``thar-chain-result: [...]``) or the index of the one that failed
    (``thar-chain-failed: i``) on stdout; returns its exit status."""

    def body() -> int:
        migrations: list[migration_helpers.Migration] = []
        for index, path in enumerate(paths):
            sys.argv = [str(path)]
            try:
                namespace = runpy.run_path(str(path), run_name="thar_migration")
            except BaseException:
                print(f"{CHAIN_FAILED}{index}", flush=True)
                raise
            migration = namespace.get("MIGRATION")
            if not isinstance(migration, migration_helpers.Migration):
                print(f"{CHAIN_FAILED}{index}", flush=True)
                print(f"{path.name}: MIGRATION is not a Migration but {type(migration).__name__}", file=sys.stderr)
                return 1
            migrations.append(migration)
        timings: list[float] = []
        try:
            migration_helpers.run_migrations(migrations, source, target, direction, timings)
        except migration_helpers.ChainFailure as exc:
            print(f"{CHAIN_FAILED}{exc.index}", flush=True)
            print(f"Migration failed: {exc}", file=sys.stderr)
            return 1
        except (MigrationsError, DatastoreError) as exc:
            print(f"Migration failed: {exc}", file=sys.stderr)
            return 1
        print(f"{CHAIN_RESULT}{json.dumps(timings)}", flush=True)
        return 0

    return _fork(body, sink)


def run_executable(path: Path, args: Sequence[str], sink: LineSink, *, fork_python: bool = True) -> int:
    """Run ``path args…``; return its exit status (negative: killed by that signal).
    Raises OSError if it cannot be started."""
    if fork_python and is_python_script(path):
        if not os.access(path, os.X_OK):
            raise PermissionError(f"{path} is not executable")
        return _forked(path, args, sink)
    return _spawned(path, args, sink)
