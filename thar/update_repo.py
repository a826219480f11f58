"""``thar-update-repo``: publish a thar update repository with python-tuf, laid out as
Bottlerocket's (spec/updates.md §2, §5.1), for updog to update hosts from.

    thar-update-repo create --repo DIR --key KEY --variant V [--arch A] [--days N]
    thar-update-repo add-update --repo DIR --key KEY --variant V [--arch A] --version X
                     --boot FILE --root FILE --hash FILE [--wave SEED=TIME]... [--migration FILE]...
    thar-update-repo resign --repo DIR --key KEY --variant V [--arch A] [--days N]

The repository ``DIR`` holds one TUF repository per variant and architecture, with consistent
snapshots, as Bottlerocket's ``https://updates.bottlerocket.aws/`` does:

- ``DIR/2020-07-07/<variant>/<arch>/``: ``N.root.json``, ``timestamp.json``,
  ``N.snapshot.json``, ``N.targets.json`` (settings.updates.metadata-base-url);
- ``DIR/targets/<sha256>.<name>``: every target, ``manifest.json`` included, shared by all
  variants (settings.updates.targets-base-url).

``KEY`` is an RSA private key (PEM, made by ``create`` when missing, mode 0600) that signs all
four roles with ``rsassa-pss-sha256``, as Bottlerocket's roots do; keep it off the web server.
``create`` writes ``1.root.json`` (the trust anchor: install it on hosts as
``/usr/share/updog/root.json``) and an empty manifest. ``add-update`` compresses the three
images (LZ4 frames) and the migrations into targets, adds the release to ``manifest.json``
(every release of the variant and arch gets the new ``max_version``; the migrations go under
``(previous version, X)``) and signs new targets, snapshot and timestamp metadata.
``resign`` only re-signs them with new expiry dates (``--days``, default 30). Serve ``DIR``
with any static web server, e.g. ``python3 -m http.server -d DIR -b 127.0.0.1 8000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lz4.frame
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from thar.update_metadata import ManifestError, Version, VersionError
from thar.update_metadata.manifest import manifest_to_dict, parse_manifest

__all__ = ["RepoError", "UpdateRepo", "main"]

ROLES = (Root.type, Timestamp.type, Snapshot.type, Targets.type)
METADATA_DIR = "2020-07-07"  # Bottlerocket's metadata prefix, kept in every metadata-base-url
MANIFEST = "manifest.json"
_ROOT_FILE = re.compile(r"^(\d+)\.root\.json$")


class RepoError(Exception):
    """A repository, key or input that cannot be used; the message says which and why."""


def _in(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


def load_key(path: Path, *, create: bool = False) -> CryptoSigner:
    """The signer of the PEM private key at ``path`` (with ``create``: a new RSA key when missing)."""
    if not path.exists() and create:
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as err:
        raise RepoError(f"cannot read the key {path}: {err.strerror or err}") from err
    except (ValueError, TypeError) as err:
        raise RepoError(f"{path} is not an unencrypted PEM private key: {err}") from err
    return CryptoSigner(private)


class UpdateRepo:
    """One variant's and architecture's metadata below ``base`` and the shared targets."""

    def __init__(self, base: Path, variant: str, arch: str, signer: CryptoSigner) -> None:
        self.base = base
        self.variant, self.arch = variant, arch
        self.meta_dir = base / METADATA_DIR / variant / arch
        self.targets_dir = base / "targets"
        self.signer = signer

    # -- reading what is published ---------------------------------------------------------------

    def _load(self) -> tuple[Metadata[Root], Metadata[Targets], Metadata[Snapshot], Metadata[Timestamp]]:
        roots = sorted(int(m[1]) for p in self.meta_dir.glob("*.root.json") if (m := _ROOT_FILE.match(p.name)))
        if not roots:
            raise RepoError(f"no repository for {self.variant} {self.arch} in {self.meta_dir}: run create first")
        root: Metadata[Root] = Metadata.from_file(str(self.meta_dir / f"{roots[-1]}.root.json"))
        keyid = self.signer.public_key.keyid
        if any(keyid not in root.signed.roles[role].keyids for role in ROLES):
            raise RepoError(f"the key does not sign this repository's roles ({self.meta_dir})")
        timestamp: Metadata[Timestamp] = Metadata.from_file(str(self.meta_dir / "timestamp.json"))
        snapshot_file = self.meta_dir / f"{timestamp.signed.snapshot_meta.version}.snapshot.json"
        snapshot: Metadata[Snapshot] = Metadata.from_file(str(snapshot_file))
        targets_file = self.meta_dir / f"{snapshot.signed.meta['targets.json'].version}.targets.json"
        targets: Metadata[Targets] = Metadata.from_file(str(targets_file))
        return root, targets, snapshot, timestamp

    def manifest(self, targets: Metadata[Targets]) -> dict[str, Any]:
        info = targets.signed.targets.get(MANIFEST)
        if info is None:
            return {"updates": [], "migrations": {}}
        data = (self.targets_dir / f"{info.hashes['sha256']}.{MANIFEST}").read_bytes()
        return manifest_to_dict(parse_manifest(data))

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, md: Metadata[Any], name: str) -> None:
        md.signatures.clear()
        md.sign(self.signer)
        md.to_file(str(self.meta_dir / name), JSONSerializer(compact=False))

    def add_target(self, targets: Metadata[Targets], name: str, data: bytes) -> None:
        info = TargetFile.from_data(name, data, ["sha256"])
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        (self.targets_dir / f"{info.hashes['sha256']}.{name}").write_bytes(data)
        targets.signed.targets[name] = info

    def create(self, days: float) -> Path:
        """``1.root.json``, an empty manifest and the first targets, snapshot and timestamp."""
        if (self.meta_dir / "1.root.json").exists():
            raise RepoError(f"{self.meta_dir} already holds a repository")
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        root = Root(expires=_in(365), consistent_snapshot=True)
        for role in ROLES:
            root.add_key(self.signer.public_key, role)
        self._write(Metadata(root), "1.root.json")
        targets = Metadata(Targets(expires=_in(days)))
        self.add_target(targets, MANIFEST, json.dumps({"updates": [], "migrations": {}}, indent=2).encode())
        self._publish(targets, Metadata(Snapshot(expires=_in(days))), Metadata(Timestamp(expires=_in(days))), days)
        return self.meta_dir / "1.root.json"

    def _publish(
        self, targets: Metadata[Targets], snapshot: Metadata[Snapshot], timestamp: Metadata[Timestamp], days: float
    ) -> None:
        first = not (self.meta_dir / "timestamp.json").exists()
        for md in (targets, snapshot, timestamp):
            md.signed.expires = _in(days)
            if not first:
                md.signed.version += 1
        self._write(targets, f"{targets.signed.version}.targets.json")
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        self._write(snapshot, f"{snapshot.signed.version}.snapshot.json")
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        self._write(timestamp, "timestamp.json")

    def resign(self, days: float) -> None:
        _, targets, snapshot, timestamp = self._load()
        self._publish(targets, snapshot, timestamp, days)

    def add_update(
        self,
        version: str,
        images: dict[str, Path],
        *,
        waves: dict[str, str],
        migrations: Sequence[Path] = (),
        days: float,
    ) -> dict[str, Any]:
        """Publish release ``version``; the manifest's new entry."""
        try:
            new = Version.parse(version)
        except VersionError as err:
            raise RepoError(f"--version {version!r}: {err}") from err
        _, targets, snapshot, timestamp = self._load()
        manifest = self.manifest(targets)
        mine = [u for u in manifest["updates"] if (u["variant"], u["arch"]) == (self.variant, self.arch)]
        if any(u["version"] == version for u in mine):
            raise RepoError(f"{self.variant} {self.arch} {version} is already published")
        stem = f"thar-{self.variant}-{self.arch}-{version}"
        names = {"boot": f"{stem}-boot.ext4.lz4", "root": f"{stem}-root.ext4.lz4", "hash": f"{stem}-root.verity.lz4"}
        for kind, path in images.items():
            self.add_target(targets, names[kind], _compressed(path))
        older = [Version.parse(u["version"]) for u in mine if Version.parse(u["version"]) < new]
        if older or migrations:
            if not older:
                raise RepoError("--migration needs an earlier release to migrate from")
            key = f"({max(older)}, {version})"
            listed = []
            for path in migrations:
                name = path.name if path.name.endswith(".lz4") else f"{path.name}.lz4"
                self.add_target(targets, name, _compressed(path))
                listed.append(name)
            manifest["migrations"][key] = listed
        newest = max([new, *(Version.parse(u["max_version"]) for u in mine)])
        for update in mine:
            update["max_version"] = str(newest)
        entry = {
            "variant": self.variant,
            "arch": self.arch,
            "version": version,
            "max_version": str(newest),
            "waves": waves,
            "images": names,
        }
        manifest["updates"].append(entry)
        try:
            text = json.dumps(manifest_to_dict(parse_manifest(json.dumps(manifest))), indent=2)
        except ManifestError as err:
            raise RepoError(f"the new manifest is not valid: {err}") from err
        self.add_target(targets, MANIFEST, text.encode())
        self._publish(targets, snapshot, timestamp, days)
        return entry


def _compressed(path: Path) -> bytes:
    """The target's bytes: the file as it is if it already is an LZ4 frame, else compressed."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RepoError(f"cannot read {path}: {err.strerror or err}") from err
    return data if data[:4] == b"\x04\x22\x4d\x18" else lz4.frame.compress(data)


def _wave(text: str) -> tuple[str, str]:
    seed, sep, moment = text.partition("=")
    if not sep or not seed.isdigit():
        raise argparse.ArgumentTypeError(f"a wave is SEED=TIME (e.g. 0=2026-12-08T10:00:00Z), not {text!r}")
    return seed, moment


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="thar-update-repo", description="Publish a thar update repository (TUF).")
    sub = p.add_subparsers(dest="command", required=True)

    def common(name: str, help: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help, description=help)
        c.add_argument("--repo", required=True, type=Path, help="the repository directory to serve")
        c.add_argument("--key", required=True, type=Path, help="the signing key (PEM; create makes it when missing)")
        c.add_argument("--variant", required=True, help="the hosts' VARIANT_ID (thar-dev, thar-k8s, …)")
        c.add_argument("--arch", default=platform.machine(), help="the hosts' architecture (default: this machine's)")
        c.add_argument("--days", type=float, default=30.0, help="days until the new metadata expires (default 30)")
        return c

    common("create", "Create the repository of a variant and architecture: its root.json and an empty manifest.")
    add = common("add-update", "Publish a release: its images, migrations and manifest entry.")
    add.add_argument("--version", required=True, help="the release's VERSION_ID (semver)")
    for kind in ("boot", "root", "hash"):
        add.add_argument(f"--{kind}", required=True, type=Path, help=f"the {kind} image (compressed to an LZ4 frame)")
    add.add_argument(
        "--wave", action="append", type=_wave, default=[], help="a wave: SEED=RFC3339 time (repeatable; none: all now)"
    )
    add.add_argument("--migration", action="append", type=Path, default=[], help="a migration (repeatable)")
    common("resign", "Sign the targets, snapshot and timestamp again with new expiry dates.")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        repo = UpdateRepo(args.repo, args.variant, args.arch, load_key(args.key, create=args.command == "create"))
        if args.command == "create":
            root = repo.create(args.days)
            print(f"created {repo.meta_dir}; install {root} on hosts as /usr/share/updog/root.json")
        elif args.command == "add-update":
            images = {"boot": args.boot, "root": args.root, "hash": args.hash}
            entry = repo.add_update(
                args.version, images, waves=dict(args.wave), migrations=args.migration, days=args.days
            )
            print(f"published {entry['variant']} {entry['arch']} {entry['version']}")
        else:
            repo.resign(args.days)
            print(f"re-signed {repo.meta_dir}")
    except RepoError as err:
        print(f"thar-update-repo: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
