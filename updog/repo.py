"""The TUF repository: loading it as updog does through tough, with python-tuf's ngclient
(updates.md §5), and the query parameters sent with every request (§4.6; updog's ``transport.rs``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from tuf.api.exceptions import (
    BadVersionNumberError,
    DownloadError,
    DownloadHTTPError,
    ExpiredMetadataError,
    LengthOrHashMismatchError,
    RepositoryError,
    UnsignedMetadataError,
)
from tuf.ngclient import Updater, UpdaterConfig, Urllib3Fetcher
from urllib3.exceptions import HTTPError

from thar.atomic import write_atomic
from thar.update_metadata import Manifest, ManifestError, parse_manifest

from .errors import UpdogError

__all__ = ["MANIFEST", "QueryFetcher", "Repository", "load_repository"]

MANIFEST = "manifest.json"
MIB = 1024 * 1024

# tough's limits (updates.md §5.2): root and timestamp 1 MiB, targets 10 MiB, 1024 root rotations
LIMITS = UpdaterConfig(
    max_root_rotations=1024,
    root_max_length=MIB,
    timestamp_max_length=MIB,
    snapshot_max_length=MIB,
    targets_max_length=10 * MIB,
    prefix_targets_with_hash=True,
)

FETCH_ERRORS = (RepositoryError, DownloadError, HTTPError, OSError)


class QueryFetcher(Urllib3Fetcher):
    """Appends ``params``, sorted by name and form-encoded (``,`` → ``%2C``), to every URL it fetches:
    metadata and targets alike. ``params`` is shared: updog adds ``target`` and ``migrations``
    part-way through an update, and later requests carry them."""

    def __init__(self, params: MutableMapping[str, str]) -> None:
        super().__init__()
        self.params = params

    def _fetch(self, url: str) -> Iterator[bytes]:
        if self.params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(sorted(self.params.items()))}"
        return super()._fetch(url)


# what went wrong, in words, before python-tuf's own detail
_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (UnsignedMetadataError, "signature check failed"),
    (ExpiredMetadataError, "metadata has expired"),
    (LengthOrHashMismatchError, "length or sha256 does not match the signed metadata"),
    (BadVersionNumberError, "bad version number"),
)


def describe(exc: BaseException) -> str:
    """A failed fetch or check in one line: its kind, then python-tuf's detail."""
    if isinstance(exc, DownloadHTTPError):
        return f"HTTP status {exc.status_code}: {exc}"
    for kind, words in _KINDS:
        if isinstance(exc, kind):
            return f"{words}: {exc}"
    return str(exc) or type(exc).__name__


def _write(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise UpdogError(f"Failed to write '{path}': {exc.strerror or exc}") from exc


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class Repository:
    """A loaded repository: the verified top-level metadata and the targets it lists."""

    def __init__(self, updater: Updater, workdir: tempfile.TemporaryDirectory[str]) -> None:
        self.updater = updater
        self._workdir = workdir

    def close(self) -> None:
        """Remove the per-run metadata directory."""
        self._workdir.cleanup()

    def read_target(self, name: str) -> bytes:
        """The bytes of target ``name`` once its length and sha256 match the targets metadata."""
        with self.download_target(name) as path:
            return path.read_bytes()

    @contextmanager
    def download_target(self, name: str) -> Iterator[Path]:
        """Target ``name`` in a temporary file, verified (length and sha256) before it is yielded;
        removed afterwards. Not listed → ``Target not found: {name}``."""
        try:
            info = self.updater.get_targetinfo(name)
        except FETCH_ERRORS as exc:
            raise UpdogError(f"Metadata error: {describe(exc)}") from exc
        if info is None:
            raise UpdogError(f"Target not found: {name}")
        path = Path(self._workdir.name, "targets", info.path.replace("/", "_"))
        path.parent.mkdir(exist_ok=True)
        try:
            try:
                self.updater.download_target(info, filepath=str(path))
            except FETCH_ERRORS as exc:
                raise UpdogError(f"Failed to load target '{name}' from the repository: {describe(exc)}") from exc
            yield path
        finally:
            path.unlink(missing_ok=True)

    def cache(self, metadata_dir: Path, targets_dir: Path, names: list[str]) -> None:
        """A consistent-snapshot mirror the migrator reads offline (updates.md §4.5): each target of
        ``names`` as ``{sha256}.{name}`` in ``targets_dir`` (verified first), and the metadata this
        run verified in ``metadata_dir`` — the root chain ``N.root.json``, ``timestamp.json``,
        ``{v}.snapshot.json``, ``{v}.targets.json``. Existing files are overwritten, none removed."""
        for folder in (metadata_dir, targets_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UpdogError(f"Failed to create directory '{folder}': {exc.strerror or exc}") from exc
        for name in names:
            data = self.read_target(name)
            info = self.updater.get_targetinfo(name)
            assert info is not None  # read_target found it
            _write(targets_dir / f"{info.hashes['sha256']}.{name}", data)
        verified = Path(self._workdir.name)
        for root in sorted((verified / "root_history").glob("*.root.json")):
            _write(metadata_dir / root.name, root.read_bytes())
        _write(metadata_dir / "timestamp.json", (verified / "timestamp.json").read_bytes())
        for role in ("snapshot", "targets"):
            data = (verified / f"{role}.json").read_bytes()
            version = json.loads(data)["signed"]["version"]
            _write(metadata_dir / f"{version}.{role}.json", data)

    def load_manifest(self) -> Manifest:
        """``manifest.json``, verified and parsed (updog's ``load_manifest``)."""
        try:
            info = self.updater.get_targetinfo(MANIFEST)
        except FETCH_ERRORS as exc:
            raise UpdogError(f"Metadata error: {describe(exc)}") from exc
        if info is None:
            raise UpdogError("Manifest not found in repository")
        try:
            data = self.read_target(MANIFEST)
        except UpdogError as exc:
            raise UpdogError(f"Manifest load error: {exc}") from exc
        try:
            return parse_manifest(data)
        except ManifestError as exc:
            raise UpdogError(f"Error parsing manifest: {exc}") from exc


def load_repository(root: Path, metadata_base_url: str, targets_base_url: str, fetcher: QueryFetcher) -> Repository:
    """Trust ``root`` (re-read every run), then fetch and verify the root chain, timestamp,
    snapshot and targets into a fresh temporary directory (no state is kept between runs)."""
    try:
        trusted = root.read_bytes()
    except OSError as exc:
        raise UpdogError(f"Failed to open trusted root metadata file {root}: {exc.strerror or exc}") from exc
    workdir = tempfile.TemporaryDirectory(prefix="updog-")
    try:
        updater = Updater(
            metadata_dir=workdir.name,
            metadata_base_url=_with_slash(metadata_base_url),
            target_base_url=_with_slash(targets_base_url),
            target_dir=None,
            fetcher=fetcher,
            config=LIMITS,
            bootstrap=trusted,
        )
        updater.refresh()
    except (*FETCH_ERRORS, ValueError) as exc:
        workdir.cleanup()
        raise UpdogError(f"Metadata error: {describe(exc)}") from exc
    return Repository(updater, workdir)
