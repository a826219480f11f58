"""The filesystem datastore, in Bottlerocket's on-disk layout.

::

    <base>/live/<enc(seg1)>/…/<enc(segN)>                   a live value
    <base>/live/<enc(seg1)>/…/<enc(segN)>.<enc(meta)>       metadata (always live)
    <base>/pending/<enc(tx)>/<enc(seg1)>/…/<enc(segN)>      a pending value of transaction tx
    <base>/journal.sqlite3                                  thar's commit journal (history)

Each file holds the value's compact JSON with no trailing newline. ``enc`` percent-encodes
every byte outside ``[A-Za-z0-9_-]`` with upper-case hex, so ``.`` in a segment becomes
``%2E`` and the first literal ``.`` in a path always starts a metadata name.

Beyond Bottlerocket: files outside commits are replaced by writing a temporary file and
renaming it; a dropped transaction is renamed away before it is removed; and commits go
through the journal (``base.DataStore.commit_changes``): one fsync of the journal per
commit, then live files rewritten in place (a cut-short write is redone from the journal),
with ``syncfs(2)`` of the datastore's filesystem only at checkpoints. A staging step (``stage``)
first records what the transaction held in ``pending/.~undo-<hex>``; a step cut short is undone
from it when the store is opened. Temporary names contain
``~``, which no encoded key contains, so listings (thar's and Bottlerocket's) never see them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import queue
import re
import secrets
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote_to_bytes

from .base import LIVE, Committed, DataStore, Live, Pending
from .errors import (
    Corruption,
    InvalidKey,
    KeyConflict,
    KeyRead,
    KeyWrite,
    ListedKeyNotPresent,
    OutOfSpace,
    PathTraversal,
)
from .journal import JOURNAL_FILE, Change, Journal
from .key import Key, KeyType, _trusted, quote_segment, valid_segment

__all__ = ["FilesystemDataStore", "decode_segment", "encode_segment"]

_LITERAL = re.compile(r"[A-Za-z0-9_\-]*")
_LITERAL_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_TEMP_MARK = "~"  # never produced by encode_segment, so never part of a key's path
_UNDO = ".~undo-"  # pending/.~undo-<hex>: what a transaction held before a staging step
_DETACHED = ".~commit-"  # pending/.~commit-<generation>-<enc(tx)>: a transaction being committed
_COMMITTING = ".~committing"  # <base>/.~committing: a commit has new files staged in live
_FULL = (errno.ENOSPC, errno.EDQUOT)


@functools.lru_cache(maxsize=8192)
def encode_segment(segment: str) -> str:
    """Percent-encode a segment or transaction name: only ``[A-Za-z0-9_-]`` stay literal.

    ``a.b -> a%2Eb``, ``a/b -> a%2Fb``, ``test transaction -> test%20transaction``.
    """
    if _LITERAL.fullmatch(segment):
        return segment
    return "".join(chr(b) if b in _LITERAL_BYTES else f"%{b:02X}" for b in segment.encode("utf-8"))


def decode_segment(text: str) -> str:
    """Decode ``%XX`` (any hex case); a malformed ``%`` stays literal; the bytes must be UTF-8.

    Raises UnicodeDecodeError for bytes that are not UTF-8 (``%C3%28``).
    """
    if "%" not in text:
        return text
    return unquote_to_bytes(text).decode("utf-8")


def _load_syncfs() -> object | None:
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    except OSError:
        return None


_syncfs = _load_syncfs()


class FilesystemDataStore(DataStore):
    """A datastore rooted at ``base`` (normally ``…/datastore/current``).

    Opening one replays any commit the journal holds but live does not yet show (a commit
    interrupted by a crash), so it is never seen half-applied.
    """

    def __init__(self, base: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.base = Path(base)
        if not self.base.is_dir():
            raise Corruption(self.base, "Datastore does not exist, did storewolf run?")
        self._base = str(self.base)
        self.durable = durable
        self._base_fd = os.open(self._base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._doomed: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._cleaner: threading.Thread | None = None
        fresh = not (self.base / JOURNAL_FILE).exists()
        self.journal = Journal(self.base / JOURNAL_FILE, durable=durable)
        if fresh:
            self._barrier()  # SQLite does not fsync the directory entries of its new files
        self._undo_interrupted_staging()
        self._settle_detached_transactions()
        self._sweep_dropped_transactions()
        if os.path.exists(os.path.join(self._base, _COMMITTING)):
            self._before_replay()  # a commit died with new files staged beside live ones
            _unlink_quietly(os.path.join(self._base, _COMMITTING))
        self._replay()

    def close(self) -> None:
        if self._base_fd < 0:
            return
        if self._cleaner is not None:
            self._doomed.put(None)
            self._cleaner.join()
        super().close()
        os.close(self._base_fd)
        self._base_fd = -1

    # -- paths --------------------------------------------------------------------------------
    def _root(self, committed: Committed) -> str:
        if isinstance(committed, Live):
            return f"{self._base}/live"
        return f"{self._base}/pending/{encode_segment(committed.tx)}"

    def data_path(self, key: Key, committed: Committed) -> str:
        """The file that holds ``key`` in ``committed``."""
        # Encoded segments hold no "/" (nor "." or ".."), so plain joining is exact.
        path = self._root(committed) + "/" + "/".join(map(encode_segment, key.segments))
        if path == self._base or not path.startswith(self._base + os.sep):
            raise PathTraversal(key.name, path)
        return path

    def metadata_path(self, metadata: Key, key: Key) -> str:
        """The file that holds metadata ``metadata`` of ``key``: beside the live data file."""
        return self.data_path(key, LIVE) + "." + encode_segment(metadata.segments[0])

    # -- values ---------------------------------------------------------------------------------
    def key_populated(self, key: Key, committed: Committed) -> bool:
        return os.path.exists(self.data_path(key, committed))

    def get_key(self, key: Key, committed: Committed) -> str | None:
        return self._read(self.data_path(key, committed), key.name)

    def set_key(self, key: Key, value: str, committed: Committed) -> None:
        if isinstance(committed, Live) and self.journal.last_generation > self._checkpointed:
            self.checkpoint()  # so that replaying a commit can never undo this write
        self._write(self.data_path(key, committed), value, key, committed)

    def unset_key(self, key: Key, committed: Committed) -> None:
        if isinstance(committed, Live) and self.journal.last_generation > self._checkpointed:
            self.checkpoint()
        self._remove(self.data_path(key, committed), key.name, self._root(committed))

    def list_populated_keys(self, prefix: str, committed: Committed) -> set[Key]:
        return {key for key, _, _ in self._walk(self._listing_root(committed), prefix, data=True, meta=False)}

    def get_prefix(self, prefix: str, committed: Committed) -> dict[Key, str]:
        # Reads each file as the walk finds it, rather than listing first and reading after.
        found: dict[Key, str] = {}
        for key, _, path in self._walk(self._listing_root(committed), prefix, data=True, meta=False):
            value = self._read(path, key.name)
            if value is None:
                raise ListedKeyNotPresent(key.name)
            found[key] = value
        return found

    def _listing_root(self, committed: Committed) -> str:
        root = self._root(committed)
        if isinstance(committed, Live) and not os.path.isdir(root):
            raise Corruption(root, "Live datastore missing")
        return root

    # -- metadata -------------------------------------------------------------------------------
    def get_metadata_raw(self, metadata: Key, key: Key) -> str | None:
        return self._read(self.metadata_path(metadata, key), f"{key.name}.{metadata.name}")

    def set_metadata(self, metadata: Key, key: Key, value: str) -> None:
        self._write(self.metadata_path(metadata, key), value, key, LIVE)

    def unset_metadata(self, metadata: Key, key: Key) -> None:
        self._remove(self.metadata_path(metadata, key), f"{key.name}.{metadata.name}", self._root(LIVE))

    def list_populated_metadata(self, prefix: str, metadata: Key | None = None) -> dict[Key, set[Key]]:
        out: dict[Key, set[Key]] = {}
        for key, meta, _ in self._walk(self._root(LIVE), prefix, data=False, meta=True):
            assert meta is not None
            if metadata is None or meta == metadata:
                out.setdefault(key, set()).add(meta)
        return out

    # -- staging ----------------------------------------------------------------------------------
    def stage(self, tx: str, values: Mapping[Key, str], removed: Iterable[Key] = ()) -> None:
        pending = Pending(tx)
        root = self._root(pending)
        removed = list(removed)
        if not values and not removed:
            return
        existed = os.path.isdir(root)
        before: dict[str, str | None] = {}
        if existed:
            for key in (*removed, *values):
                before[key.name] = self._read_or_none(self.data_path(key, pending), key.name)
        undo = self._write_undo(tx, existed, before)
        try:
            for key in removed:
                self.unset_key(key, pending)
            for key, value in values.items():
                self.set_key(key, value, pending)
        except BaseException:
            with contextlib.suppress(Exception):  # else the next open undoes it
                self._undo_staging(undo)
            raise
        _unlink_quietly(undo)

    def _write_undo(self, tx: str, existed: bool, before: Mapping[str, str | None]) -> str:
        """Record, complete or not at all (a temporary file renamed), how to undo a staging step."""
        path = os.path.join(self._base, "pending", _UNDO + secrets.token_hex(8))
        data = json.dumps({"tx": tx, "existed": existed, "before": before}).encode("utf-8")
        temp = path + ".part"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            os.rename(temp, path)
        except OSError as exc:
            _unlink_quietly(temp)
            raise _write_error(f"pending transaction {tx}", path, exc) from exc
        return path

    def _undo_staging(self, undo: str) -> None:
        """Put a transaction back as an undo record describes it, then remove the record."""
        with open(undo, "rb") as f:
            record = json.load(f)
        tx = record["tx"]
        if not record["existed"]:
            self._drop_transaction(tx)
        else:
            pending = Pending(tx)
            for name, value in record["before"].items():
                key = Key(name)
                if value is None:
                    self.unset_key(key, pending)
                else:
                    self.set_key(key, value, pending)
        os.unlink(undo)

    def _undo_interrupted_staging(self) -> None:
        try:
            names = [n for n in os.listdir(os.path.join(self._base, "pending")) if n.startswith(_UNDO)]
        except FileNotFoundError:
            return
        for name in names:
            if not name.endswith(".part"):
                self._undo_staging(os.path.join(self._base, "pending", name))

    # -- transactions -----------------------------------------------------------------------------
    def delete_transaction(self, tx: str) -> set[Key]:
        keys = {key for key, _, _ in self._walk(self._root(Pending(tx)), "settings.", data=True, meta=False)}
        self._drop_transaction(tx)
        return keys

    def _drop_transaction(self, tx: str) -> None:
        root = self._root(Pending(tx))
        # Rename first, so a crash part-way through the removal never leaves half a transaction.
        doomed = os.path.join(self._base, "pending", f".{_TEMP_MARK}drop-{secrets.token_hex(8)}")
        try:
            os.rename(root, doomed)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise KeyWrite(f"pending transaction {tx}", root, exc.strerror or str(exc)) from exc
        # The transaction is gone once renamed; removing its files is left to a thread, off the
        # caller's path (close() waits for it; a leftover is swept when the store is opened).
        if self._cleaner is None:
            self._cleaner = threading.Thread(target=self._clean, name="thar-drop-tx", daemon=True)
            self._cleaner.start()
        self._doomed.put(doomed)

    def _detach_transaction(self, tx: str, generation: int) -> object:
        root = self._root(Pending(tx))
        detached = os.path.join(self._base, "pending", f"{_DETACHED}{generation}-{encode_segment(tx)}")
        try:
            os.rename(root, detached)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _write_error(f"pending transaction {tx}", root, exc) from exc
        return (detached, root)

    def _settle_detached_transactions(self) -> None:
        """A commit killed after taking its transaction out of the listing: drop the transaction
        if the commit was recorded (replay finishes it), else put it back."""
        pending = os.path.join(self._base, "pending")
        try:
            names = [n for n in os.listdir(pending) if n.startswith(_DETACHED)]
        except FileNotFoundError:
            return
        for name in names:
            generation, _, encoded = name.removeprefix(_DETACHED).partition("-")
            path = os.path.join(pending, name)
            if generation.isdigit() and int(generation) <= self.journal.last_generation:
                shutil.rmtree(path, ignore_errors=True)
            elif encoded and not os.path.exists(os.path.join(pending, encoded)):
                os.rename(path, os.path.join(pending, encoded))

    def _reattach_transaction(self, detached: object) -> None:
        assert isinstance(detached, tuple)
        os.rename(detached[0], detached[1])

    def _release_transaction(self, detached: object) -> None:
        assert isinstance(detached, tuple)
        if self._cleaner is None:
            self._cleaner = threading.Thread(target=self._clean, name="thar-drop-tx", daemon=True)
            self._cleaner.start()
        self._doomed.put(detached[0])

    def _clean(self) -> None:
        while (doomed := self._doomed.get()) is not None:
            shutil.rmtree(doomed, ignore_errors=True)

    def list_transactions(self) -> set[str]:
        names: set[str] = set()
        try:
            entries = os.scandir(os.path.join(self._base, "pending"))
        except FileNotFoundError:
            return names
        with entries:
            for entry in entries:
                if _TEMP_MARK in entry.name or not entry.is_dir(follow_symlinks=False):
                    continue
                try:
                    names.add(decode_segment(entry.name))
                except UnicodeDecodeError:
                    continue
        return names

    # -- commits -----------------------------------------------------------------------------------
    def _prepare(self, changes: Mapping[Key, str | None]) -> dict[Key, Change]:
        removed = {key.segments for key, value in changes.items() if value is None}
        written = {key.segments for key, value in changes.items() if value is not None}
        record: dict[Key, Change] = {}
        for key, value in changes.items():
            segs = key.segments
            path = self.data_path(key, LIVE)
            try:
                data = _read_file(path)
            except IsADirectoryError:
                if value is not None:
                    raise KeyConflict(key.name, f"{key.name}.*") from None
                data = None  # removing a key that only prefixes others: nothing to remove
            except NotADirectoryError:
                # A value lies on the path (ENOENT would mean every existing ancestor is a
                # directory); that is fine only if this change-set removes it.
                data = None
                ancestor = self._blocking_ancestor(key, LIVE)
                if value is not None and Key(ancestor).segments not in removed:
                    raise KeyConflict(key.name, ancestor) from None
            except OSError as exc:
                raise KeyRead(key.name, path, exc.strerror or str(exc)) from exc
            if value is not None:
                for n in range(1, len(segs)):
                    if segs[:n] in written:
                        raise KeyConflict(key.name, Key.from_segments(segs[:n]).name)
            record[key] = Change(self._decode(data, path, key.name), value)
        return record

    def _stage_live(self, changes: Mapping[Key, str | None]) -> object:
        """Write each new value that needs more room than its live file holds (a new key, a
        longer value) to a temporary file beside it; the rest are rewritten in place, which
        needs no new room. A full disk is found here, before the record, with nothing to undo."""
        staged = _Staged()
        marker = os.path.join(self._base, _COMMITTING)
        current = "the commit marker"
        try:
            for key, value in changes.items():
                if value is None:
                    continue
                data = value.encode("utf-8")
                path = self.data_path(key, LIVE)
                try:
                    if os.stat(path).st_size >= len(data):
                        continue
                except (FileNotFoundError, NotADirectoryError):
                    pass
                directory = os.path.dirname(path)
                current = f"'{key.name}'"
                if not staged.temps:
                    _touch(marker)  # so that a crash from here on is cleaned up at the next open
                if not self._make_dirs(directory, staged.dirs):
                    continue  # a value lies on the path, removed by this commit: written then
                temp = os.path.join(directory, f".{_TEMP_MARK}{secrets.token_hex(6)}")
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
                staged.temps[key] = temp
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)
        except OSError as exc:
            self._discard_staged(staged)
            raise _write_error(current, exc.filename or self._base, exc) from exc
        except BaseException:
            self._discard_staged(staged)
            raise
        return staged

    def _make_dirs(self, directory: str, created: list[str]) -> bool:
        """Create ``directory`` and its missing parents, noting each one made; False when a file
        lies on the path."""
        missing = []
        while not os.path.isdir(directory):
            if os.path.lexists(directory):
                return False
            missing.append(directory)
            directory = os.path.dirname(directory)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except (FileExistsError, NotADirectoryError):
                return False
            created.append(path)
        return True

    def _discard_staged(self, staged: object) -> None:
        if not isinstance(staged, _Staged):
            return
        for temp in staged.temps.values():
            _unlink_quietly(temp)
        for directory in reversed(staged.dirs):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        staged.temps.clear()
        staged.dirs.clear()
        _unlink_quietly(os.path.join(self._base, _COMMITTING))

    def _apply_live(self, changes: Mapping[Key, str | None], staged: object = None) -> None:
        live = self._root(LIVE)
        temps = staged.temps if isinstance(staged, _Staged) else {}
        for key, value in changes.items():
            if value is None:
                self._remove(self.data_path(key, LIVE), key.name, live)
        for key, value in changes.items():
            if value is None:
                continue
            path = self.data_path(key, LIVE)
            temp = temps.pop(key, None)
            if temp is None:
                self._overwrite(path, value, key)
                continue
            try:
                os.rename(temp, path)
            except IsADirectoryError:
                raise KeyConflict(key.name, f"{key.name}.*") from None
            except OSError as exc:
                temps[key] = temp  # still to discard
                raise KeyWrite(key.name, path, exc.strerror or str(exc)) from exc
        if isinstance(staged, _Staged):
            staged.dirs.clear()  # in use now
            _unlink_quietly(os.path.join(self._base, _COMMITTING))

    def _barrier(self) -> None:
        if not self.durable:
            return
        if _syncfs is not None:
            if _syncfs(self._base_fd) != 0:  # type: ignore[operator]
                err = ctypes.get_errno()
                raise KeyWrite("datastore", self._base, f"syncfs failed: {os.strerror(err)}")
        else:
            os.sync()

    def _before_replay(self) -> None:
        """Remove temporary files left by a commit that was killed while writing, and the
        directories of live it had made for new keys (empty ones: they hold no key)."""
        for top in ("live", "pending"):
            for dirpath, dirnames, filenames in os.walk(os.path.join(self._base, top)):
                for name in filenames:
                    if _TEMP_MARK in name:
                        _unlink_quietly(os.path.join(dirpath, name))
                dirnames[:] = [d for d in dirnames if _TEMP_MARK not in d]
        live = os.path.join(self._base, "live")
        for dirpath, _, _ in os.walk(live, topdown=False):
            if dirpath != live:
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)  # only empty ones go

    def _sweep_dropped_transactions(self) -> None:
        try:
            entries = list(os.scandir(os.path.join(self._base, "pending")))
        except FileNotFoundError:
            return
        for entry in entries:
            if _TEMP_MARK in entry.name:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    _unlink_quietly(entry.path)

    # -- file primitives ---------------------------------------------------------------------------
    def _read(self, path: str, name: str) -> str | None:
        try:
            data = _read_file(path)
        except NotADirectoryError:
            return None
        except IsADirectoryError:
            raise KeyRead(name, path, "it is a directory of other keys, not a value") from None
        except OSError as exc:
            raise KeyRead(name, path, exc.strerror or str(exc)) from exc
        return self._decode(data, path, name)

    def _read_or_none(self, path: str, name: str) -> str | None:
        """The value at ``path``; None also when the path is a directory of other keys."""
        try:
            return self._read(path, name)
        except KeyRead as exc:
            if os.path.isdir(path):
                return None
            raise exc

    @staticmethod
    def _decode(data: bytes | None, path: str, name: str) -> str | None:
        try:
            return None if data is None else data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Corruption(path, f"value of '{name}' is not UTF-8: {exc}") from exc

    def _write(self, path: str, value: str, key: Key, committed: Committed) -> None:
        """Replace ``path`` with ``value`` atomically: a temporary file, then a rename."""
        directory, _ = os.path.split(path)
        temp = os.path.join(directory, f".{_TEMP_MARK}{secrets.token_hex(6)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self._unsynced = True
        try:
            try:
                fd = os.open(temp, flags, 0o666)
            except (FileNotFoundError, NotADirectoryError):
                # Create the parent directories only when they are missing (a mkdir per write
                # costs as much as the write itself).
                try:
                    os.makedirs(directory, exist_ok=True)
                except (FileExistsError, NotADirectoryError):
                    raise KeyConflict(key.name, self._blocking_ancestor(key, committed)) from None
                fd = os.open(temp, flags, 0o666)
            try:
                _write_all(fd, value.encode("utf-8"))
            finally:
                os.close(fd)
            os.rename(temp, path)
        except IsADirectoryError:
            _unlink_quietly(temp)
            raise KeyConflict(key.name, f"{key.name}.*") from None
        except OSError as exc:
            _unlink_quietly(temp)
            raise _write_error(key.name, path, exc) from exc

    def _overwrite(self, path: str, value: str, key: Key) -> None:
        """Write ``value`` over ``path`` in place. Only for commits: a write cut short here is
        redone from the journal, so the temporary file and rename of ``_write`` are not needed
        (and rewriting an existing file without truncating it first is ten times cheaper)."""
        data = value.encode("utf-8")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise KeyConflict(key.name, self._blocking_ancestor(key, LIVE)) from None
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except IsADirectoryError:
            raise KeyConflict(key.name, f"{key.name}.*") from None
        except OSError as exc:
            raise KeyWrite(key.name, path, exc.strerror or str(exc)) from exc
        try:
            _write_all(fd, data)
            os.ftruncate(fd, len(data))
        except OSError as exc:
            raise _write_error(key.name, path, exc) from exc
        finally:
            os.close(fd)

    def _blocking_ancestor(self, key: Key, committed: Committed) -> str:
        for n in range(1, len(key.segments)):
            prefix = Key.from_segments(key.segments[:n])
            if os.path.isfile(self.data_path(prefix, committed)):
                return prefix.name
        return key.name

    def _remove(self, path: str, name: str, stop: str) -> None:
        """Remove a file, then every parent directory left empty, up to (not including) ``stop``."""
        self._unsynced = True
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except IsADirectoryError:
            return  # the key only prefixes others; it holds no value to remove
        except OSError as exc:
            raise KeyWrite(name, path, exc.strerror or str(exc)) from exc
        parent = os.path.dirname(path)
        while parent.startswith(stop + os.sep):
            try:
                os.rmdir(parent)
            except FileNotFoundError:
                pass  # keep going up
            except OSError:
                break  # not empty (or not ours to remove): stop quietly
            parent = os.path.dirname(parent)

    def _walk(self, root: str, prefix: str, *, data: bool, meta: bool) -> Iterator[tuple[Key, Key | None, str]]:
        """Yield (data key, metadata key or None, file path) for the files under ``root`` whose data key's
        canonical name starts with ``prefix``. Does not follow symlinks or cross filesystems;
        files whose names are not keys are skipped, as Bottlerocket skips them."""
        try:
            root_dev = os.stat(root).st_dev
        except FileNotFoundError:
            return
        stack: list[tuple[str, tuple[str, ...], str]] = [(root, (), "")]
        while stack:
            path, segs, cname = stack.pop()
            try:
                entries = os.scandir(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    name = entry.name
                    if _TEMP_MARK in name:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if "." in name:
                            continue  # not an encoded segment; Bottlerocket cannot read these either
                        seg = _decode_or_none(name)
                        if seg is None or not valid_segment(seg):
                            continue
                        child = cname + quote_segment(seg) + "."
                        if not (child.startswith(prefix) or prefix.startswith(child)):
                            continue  # nothing below can match the prefix
                        if entry.stat(follow_symlinks=False).st_dev != root_dev:
                            continue
                        stack.append((entry.path, (*segs, seg), child))
                    elif entry.is_file(follow_symlinks=False):
                        dot = name.find(".")
                        if dot < 0:
                            if not data:
                                continue
                            leaf, meta_name = name, None
                        else:
                            if not meta:
                                continue
                            leaf, meta_name = name[:dot], name[dot + 1 :]
                        seg = _decode_or_none(leaf)
                        if seg is None or not valid_segment(seg):
                            continue
                        full = cname + quote_segment(seg)
                        if not full.startswith(prefix):
                            continue
                        try:
                            key = _trusted((*segs, seg), full)
                            meta_key = Key(meta_name, KeyType.META) if meta_name is not None else None
                        except InvalidKey:
                            continue
                        yield key, meta_key, entry.path


class _Staged:
    """What ``_stage_live`` wrote: temporary files by key, directories it made (in order)."""

    def __init__(self) -> None:
        self.temps: dict[Key, str] = {}
        self.dirs: list[str] = []


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less, e.g. when the disk fills up)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _touch(path: str) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))


def _write_error(name: str, path: str, exc: OSError) -> KeyWrite:
    if exc.errno in _FULL:
        return OutOfSpace(name if name.startswith(("'", "pending", "the ")) else f"'{name}'", path,
                          exc.strerror or str(exc))  # fmt: skip
    return KeyWrite(name, path, exc.strerror or str(exc))


def _read_file(path: str) -> bytes | None:
    """The bytes of ``path``, or None when it does not exist (cheaper than ``open()``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _decode_or_none(text: str) -> str | None:
    try:
        return decode_segment(text)
    except UnicodeDecodeError:
        return None


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
