"""Atomic file writes: readers see the old file or the new one, never a part of either.

The data goes to a temporary file in the target's directory (so the rename cannot cross a file
system), which is flushed with `fsync`, given its mode, and renamed over the target; the
directory itself can be synced too, to make the rename durable.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["sync_directory", "write_atomic"]


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    owner: tuple[int, int] | None = None,
    sync: bool = True,
    sync_dir: bool = False,
) -> None:
    """Replace (or create) the file at `path` with `data` (`str` is written as UTF-8).

    `mode`: the file's permission bits, exactly (no umask); None: 0o666 less the umask, as
    `open` makes files. `owner`: (uid, gid) to give the file; where that is not permitted (not
    root), the file stays the caller's. `sync`: `fsync` the data before the rename. `sync_dir`:
    `fsync` the directory after it (an error there is raised with the file already replaced).
    A symbolic link at `path` is replaced, not followed. On any other error the temporary file
    is removed and the error raised; the target is left as it was.
    """
    target = os.fspath(path)
    directory, name = os.path.split(target)
    temp = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    # With a mode to set, the file is private until it has it (it may hold secrets).
    created = 0o600 if mode is not None else 0o666
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, created)
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if owner is not None and owner != (os.geteuid(), os.getegid()):
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, *owner)
            if mode is not None:
                os.fchmod(fd, mode)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if sync_dir:
        sync_directory(directory or ".")


def sync_directory(path: str | os.PathLike[str]) -> None:
    """`fsync` a directory, so that the renames and new names in it are durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
