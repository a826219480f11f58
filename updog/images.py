"""Writing update images to the inactive partition set (updates.md §4.4, §8.3; updog's
``write_target_to_disk``).

Each image is a TUF target holding an LZ4 frame. It is downloaded and verified first (length and
sha256, so a corrupted target never reaches the disk), then decoded and written chunk by chunk —
memory stays bounded by :data:`CHUNK` whatever the image's size — and synced before the caller
marks the set valid.

Where a partition's bytes go depends on the OS disk:

- a block device (a real disk, a loop device): the partition's own node (``/dev/nvme0n1p9``,
  ``…/disk9``), written from offset 0. It must be a block device: a missing node or a regular
  file in its place is refused, never created.
- a disk image file (tests, the sandbox): the partition's byte range of that file, written with
  ``os.pwrite`` at ``first_lba × 512`` and never past the partition's end. The file is never
  created or truncated.

Either way, more data than the partition holds fails with ``No space left on device``.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

import lz4.frame

from thar.signpost.state import Partition

from .errors import UpdogError
from .repo import Repository

__all__ = ["CHUNK", "Destination", "destination", "write_image"]

CHUNK = 1 << 20


@dataclass(frozen=True)
class Destination:
    """Where one image goes: ``size`` bytes of ``path`` from ``offset``; ``device`` when ``path``
    is the partition's block device, else the partition's range of a disk image file."""

    path: str
    offset: int
    size: int
    device: bool


def destination(os_disk: str, partition: Partition) -> Destination:
    """The place to write ``partition`` of ``os_disk`` (see the module's docstring)."""
    try:
        disk = os.stat(os_disk)
    except OSError as exc:
        raise UpdogError(f"Failed to open OS disk {os_disk}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(disk.st_mode):
        if os.path.realpath(os_disk).startswith("/dev/"):
            # a regular file in devtmpfs is a missing device node that something wrote to
            raise UpdogError(f"OS disk {os_disk} is a regular file below /dev, not a block device")
        return Destination(os_disk, partition.offset, partition.size, device=False)
    if not stat.S_ISBLK(disk.st_mode):
        raise UpdogError(f"OS disk {os_disk} is neither a block device nor a disk image file")
    try:
        node = os.stat(partition.path)
    except OSError as exc:
        raise UpdogError(f"Failed to open partition {partition.path}: {exc.strerror or exc}") from exc
    if not stat.S_ISBLK(node.st_mode):
        raise UpdogError(f"Failed to open partition {partition.path}: not a block device")
    return Destination(partition.path, 0, partition.size, device=True)


def _open(dest: Destination) -> tuple[int, int]:
    """The opened destination (no create, no truncate) and how many bytes may be written."""
    try:
        fd = os.open(dest.path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise UpdogError(f"Failed to open partition {dest.path}: {exc.strerror or exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if dest.device and not stat.S_ISBLK(mode):
            raise UpdogError(f"Failed to open partition {dest.path}: not a block device")
        if not dest.device and not stat.S_ISREG(mode):
            raise UpdogError(f"Failed to open partition {dest.path}: not a disk image file")
        limit = dest.size
        if dest.device:
            limit = min(limit, os.lseek(fd, 0, os.SEEK_END))
    except BaseException:
        os.close(fd)
        raise
    return fd, limit


def _no_space() -> UpdogError:
    return UpdogError(f"Failed writing update data to disk: {os.strerror(errno.ENOSPC)}")


def _write_all(fd: int, data: bytes, position: int, dest: Destination, limit: int) -> int:
    """Write ``data`` at ``position``; like a full device, what fits is written before the error."""
    view = memoryview(data)[: max(0, limit - position)]
    overflow = len(data) > len(view)
    while view:
        try:
            written = os.pwrite(fd, view, dest.offset + position)
        except OSError as exc:
            raise UpdogError(f"Failed writing update data to disk: {exc.strerror or exc}") from exc
        if written == 0:
            raise _no_space()
        view = view[written:]
        position += written
    if overflow:
        raise _no_space()
    return position


def write_image(repository: Repository, name: str, dest: Destination) -> int:
    """Target ``name``, LZ4-frame-decoded, written from the start of ``dest`` and synced; returns
    the number of bytes written."""
    with repository.download_target(name) as path, open(path, "rb") as source:
        fd, limit = _open(dest)
        try:
            decoder = lz4.frame.LZ4FrameDecompressor()
            position = 0
            while not decoder.eof:
                data = b""
                if decoder.needs_input:
                    data = source.read(CHUNK)
                    if not data:
                        raise UpdogError(f"Failed to decode LZ4-compressed target {name}: the frame is truncated")
                try:
                    out = decoder.decompress(data, max_length=CHUNK)
                except (RuntimeError, ValueError, EOFError) as exc:
                    raise UpdogError(f"Failed to decode LZ4-compressed target {name}: {exc}") from exc
                position = _write_all(fd, out, position, dest, limit)
            try:
                os.fsync(fd)
            except OSError as exc:
                raise UpdogError(f"Failed writing update data to disk: {exc.strerror or exc}") from exc
            return position
        finally:
            os.close(fd)
