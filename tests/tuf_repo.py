"""A local TUF repository laid out like Bottlerocket's (updates.md §5.1, §8.4), built with
python-tuf and served on 127.0.0.1 with a request log.

``TufRepo(tmp)`` writes ``meta/2020-07-07/{variant}/{arch}/`` (root, timestamp, snapshot,
targets; consistent snapshots) and ``targets/{sha256}.{name}``. ``publish()`` re-signs snapshot
and timestamp after targets change; the helpers corrupt a target, expire the timestamp or sign
it with a key the root does not trust. ``add_release`` publishes a release with real images:
random root and boot data and a dm-verity hash tree over the root (``veritysetup format``), each
LZ4-frame-compressed, and returns them with the root hash.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lz4.frame
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

__all__ = ["Release", "TufRepo", "serve", "update_entry", "verity_format"]

ROLES = (Root.type, Timestamp.type, Snapshot.type, Targets.type)


def _in(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_entry(
    variant: str, arch: str, version: str, *, max_version: str | None = None, waves: dict[str, str] | None = None
) -> dict[str, Any]:
    """One ``updates`` entry of manifest.json with image target names in Bottlerocket's pattern."""
    base = f"bottlerocket-{variant}-{arch}-{version}-abcdef01"
    return {
        "variant": variant,
        "arch": arch,
        "version": version,
        "max_version": max_version or version,
        "waves": waves or {},
        "images": {"boot": f"{base}-boot.ext4.lz4", "root": f"{base}-root.ext4.lz4", "hash": f"{base}-root.verity.lz4"},
    }


def verity_format(data: bytes) -> tuple[bytes, str]:
    """A dm-verity hash image of ``data`` (``veritysetup format``, superblock included) and its
    root hash."""
    with tempfile.TemporaryDirectory(prefix="verity-") as work:
        data_path, hash_path = Path(work, "data"), Path(work, "hash")
        data_path.write_bytes(data)
        done = subprocess.run(
            ["veritysetup", "format", str(data_path), str(hash_path)], capture_output=True, text=True, check=True
        )
        found = re.search(r"^Root hash:\s+([0-9a-f]+)$", done.stdout, re.MULTILINE)
        assert found, done.stdout
        return hash_path.read_bytes(), found.group(1)


BLOCK = 4096


@dataclass
class Release:
    """A published release: its manifest entry, its images as written to disk (decompressed, by
    kind) and the dm-verity root hash of its root image."""

    entry: dict[str, Any]
    images: dict[str, bytes]
    root_hash: str


class TufRepo:
    """The repository on disk: one ed25519 key per role, everything at version 1 at first."""

    def __init__(self, base: Path, variant: str, arch: str) -> None:
        self.base = base
        self.meta_dir = base / "meta" / "2020-07-07" / variant / arch
        self.targets_dir = base / "targets"
        self.meta_dir.mkdir(parents=True)
        self.targets_dir.mkdir()
        self.signers = {role: CryptoSigner.generate_ed25519() for role in ROLES}
        root = Root(expires=_in(365), consistent_snapshot=True)
        for role, signer in self.signers.items():
            root.add_key(signer.public_key, role)
        self.root = Metadata(root)
        self.targets = Metadata(Targets(expires=_in(14)))
        self.snapshot = Metadata(Snapshot(expires=_in(14)))
        self.timestamp = Metadata(Timestamp(expires=_in(7)))
        self._write(self.root, "1.root.json", Root.type)
        self.manifest: dict[str, Any] = {"updates": [], "migrations": {}}

    def _write(self, md: Metadata[Any], name: str, role: str, signer: CryptoSigner | None = None) -> None:
        md.signatures.clear()
        md.sign(signer or self.signers[role])
        md.to_file(str(self.meta_dir / name), JSONSerializer(compact=False))

    @property
    def root_bytes(self) -> bytes:
        return (self.meta_dir / "1.root.json").read_bytes()

    def add_target(self, name: str, data: bytes) -> TargetFile:
        info = TargetFile.from_data(name, data, ["sha256"])
        (self.targets_dir / f"{info.hashes['sha256']}.{name}").write_bytes(data)
        self.targets.signed.targets[name] = info
        return info

    def add_release(
        self,
        variant: str,
        arch: str,
        version: str,
        *,
        root_size: int = 1 << 20,
        boot_size: int = 128 << 10,
        stored: dict[str, bytes] | None = None,
        os_release: str | None = None,
    ) -> Release:
        """Add a release's manifest entry and its three images as targets (not published yet).
        ``stored`` replaces the stored (compressed) bytes of the kinds it names. Random images,
        unless ``os_release`` (the release's) makes them bootable by ``tests/os_images.py``'s
        firmware: ROOT starts with it (one 4 KiB block), BOOT holds ``root_hash=…``, as the
        kernel command line of Bottlerocket's grub.cfg does."""
        root = os.urandom(root_size)
        if os_release is not None:
            header = os_release.encode()
            assert len(header) <= BLOCK, "the os-release must fit in one block"
            root = header + bytes(BLOCK - len(header)) + root[BLOCK:]
        hash_image, root_hash = verity_format(root)
        boot = os.urandom(boot_size)
        if os_release is not None:
            command_line = f"root_hash={root_hash}\n".encode()
            boot = command_line + bytes(boot_size - len(command_line))
        images = {"root": root, "boot": boot, "hash": hash_image}
        entry = update_entry(variant, arch, version)
        for kind, data in images.items():
            self.add_target(entry["images"][kind], (stored or {}).get(kind) or lz4.frame.compress(data))
        self.manifest["updates"].append(entry)
        return Release(entry, images, root_hash)

    def target_path(self, name: str) -> Path:
        return self.targets_dir / f"{self.targets.signed.targets[name].hashes['sha256']}.{name}"

    def rotate_root(self) -> None:
        """Publish ``N+1.root.json`` with a new root key, signed by the old and the new key."""
        old = self.signers[Root.type]
        new = CryptoSigner.generate_ed25519()
        root = self.root.signed
        root.revoke_key(old.public_key.keyid, Root.type)
        root.add_key(new.public_key, Root.type)
        root.version += 1
        self.root.signatures.clear()
        self.root.sign(old, append=True)
        self.root.sign(new, append=True)
        self.root.to_file(str(self.meta_dir / f"{root.version}.root.json"), JSONSerializer(compact=False))
        self.signers[Root.type] = new

    def publish(
        self,
        *,
        timestamp_expires: dt.datetime | None = None,
        timestamp_signer: CryptoSigner | None = None,
        snapshot_expires: dt.datetime | None = None,
        targets_expires: dt.datetime | None = None,
        manifest: bytes | None = None,
    ) -> None:
        """Write manifest.json as a target (``manifest``: these bytes instead of ``self.manifest``;
        ``b""``: no manifest target at all), then targets, snapshot and timestamp at new versions."""
        if manifest is None:
            manifest = json.dumps(self.manifest, indent=2).encode()
        if manifest:
            self.add_target("manifest.json", manifest)
        else:
            self.targets.signed.targets.pop("manifest.json", None)
        self.targets.signed.expires = targets_expires or _in(14)
        self.snapshot.signed.expires = snapshot_expires or _in(14)
        for md in (self.targets, self.snapshot, self.timestamp):
            if (self.meta_dir / "timestamp.json").exists():
                md.signed.version += 1
        targets, snapshot = self.targets.signed, self.snapshot.signed
        self._write(self.targets, f"{targets.version}.targets.json", Targets.type)
        snapshot.meta["targets.json"] = MetaFile(version=targets.version)
        self._write(self.snapshot, f"{snapshot.version}.snapshot.json", Snapshot.type)
        self.timestamp.signed.snapshot_meta = MetaFile(version=snapshot.version)
        self.timestamp.signed.expires = timestamp_expires or _in(7)
        self._write(self.timestamp, "timestamp.json", Timestamp.type, timestamp_signer)

    def resign_timestamp(self, expires: dt.datetime) -> None:
        """Re-sign ``timestamp.json`` in place with a new expiry (same version, same snapshot)."""
        self.timestamp.signed.expires = expires.replace(microsecond=0)
        self._write(self.timestamp, "timestamp.json", Timestamp.type)

    def corrupt_target(self, name: str) -> None:
        """Flip one byte of a stored target (same length, wrong sha256)."""
        path = self.target_path(name)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[str]

    def do_GET(self) -> None:
        self.log.append(self.path)
        super().do_GET()  # SimpleHTTPRequestHandler drops the query when mapping to a file

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``directory`` on 127.0.0.1; yields the base URL and the log of request paths
    (with their query strings)."""
    log: list[str] = []

    def handler(*args: Any, **kwargs: Any) -> _Handler:
        handler_class: type[_Handler] = type("Handler", (_Handler,), {"log": log})
        return handler_class(*args, directory=str(directory), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
