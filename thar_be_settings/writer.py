"""Writing rendered configuration files: atomically, with their mode applied every time.

Each file is written to a temporary file in its target directory, flushed with `fsync`, given
its mode (and, when it replaces a file, that file's owner where permitted), then renamed over
the target, so a reader sees the old file or the new one, never a truncated one. A symlink at
the target is followed: the file it points to is replaced. A file whose bytes are already
right is not rewritten; only its mode is (re)applied.
"""

from __future__ import annotations

import os
from pathlib import Path

from thar.atomic import write_atomic
from thar.thar_be_settings.errors import ModeError, WriteFailed

__all__ = ["DEFAULT_MODE", "parse_mode", "sync_directories", "write_file"]

DEFAULT_MODE = 0o644


def parse_mode(path: str, mode: str | None) -> int:
    """A configuration file's `mode` as an integer: octal digits with an optional leading `+`
    (`"0600"`, `"600"`, `"+600"`); None gives 0644. Anything else raises `ModeError`."""
    if mode is None:
        return DEFAULT_MODE
    digits = mode[1:] if mode.startswith("+") else mode
    if not digits or any(c not in "01234567" for c in digits):
        raise ModeError(path, mode)
    value = int(digits, 8)
    if value > 0o7777:
        raise ModeError(path, mode)
    return value


def write_file(target: Path, content: str, mode: int) -> bool:
    """Write `content` to `target` atomically with `mode`; True if the bytes changed.

    Creates missing parent directories. Raises `WriteFailed` naming the directory or file.
    """
    real = Path(os.path.realpath(target))
    directory = real.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteFailed("directory", str(directory), exc) from exc
    data = content.encode("utf-8")
    try:
        existing = os.stat(real)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise WriteFailed("file", str(target), exc) from exc
    try:
        if existing is not None and existing.st_size == len(data):
            with open(real, "rb") as current:
                if current.read() == data:
                    if existing.st_mode & 0o7777 != mode:
                        os.chmod(real, mode)
                    return False
        _replace(real, data, mode, existing)
    except OSError as exc:
        raise WriteFailed("file", str(target), exc) from exc
    return True


def _replace(real: Path, data: bytes, mode: int, existing: os.stat_result | None) -> None:
    owner = None if existing is None else (existing.st_uid, existing.st_gid)
    write_atomic(real, data, mode=mode, owner=owner)


def sync_directories(directories: set[Path]) -> None:
    """`fsync` each directory so the renames in it are durable (errors are ignored: best effort)."""
    for directory in directories:
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
