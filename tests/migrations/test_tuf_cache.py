"""After an update's reboot: the migrator runs the release's migrations from the cache updog wrote
(migrations.md §1, updates.md §4.5), verified offline without expiry checks, then clears what
storewolf writes from the new image's defaults (updates.md §10.2).

The cache is made by updog's own code (``cache_migrations`` against a TUF repository served on
127.0.0.1); the migrator and storewolf run as real processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lz4.frame
import pytest

from tests.tuf_repo import TufRepo, serve, update_entry
from thar.datastore import LIVE, FilesystemDataStore, Key, Version, datastore_version, to_json
from thar.update_metadata import Version as UpdateVersion
from thar.updog.cli import METADATA_CACHE, MIGRATIONS_DIR, cache_migrations
from thar.updog.repo import QueryFetcher, load_repository

from .conftest import Sandbox, read_state

VARIANT = "thar-dev"
ARCH = platform.machine()
REPO = Path(__file__).resolve().parents[2]

# Manifest order is not name order: a runs second, and only "mid" → "new" after b made "old" → "mid".
MIGRATIONS = {
    "migrate_v1.1.0_b.lz4": 'ReplaceStringMigration("settings.motd", "old", "mid")',
    "migrate_v1.1.0_a.lz4": 'ReplaceStringMigration("settings.motd", "mid", "new")',
}


def script(expression: str) -> bytes:
    return (
        f"#!{sys.executable}\nimport sys\nfrom thar.migrations.migration_helpers import *\n\n"
        f"sys.exit(migrate({expression}))\n"
    ).encode()


@dataclass
class Update:
    """A host after updog cached the 1.0.0 → 1.1.0 update, with its datastore still at 1.0.0."""

    sandbox: Sandbox
    repo: TufRepo
    original: Path  # the 1.0.0 datastore directory

    @property
    def targets_dir(self) -> Path:
        return self.sandbox.root / MIGRATIONS_DIR

    @property
    def metadata_dir(self) -> Path:
        return self.sandbox.root / METADATA_CACHE

    @property
    def trusted_root(self) -> Path:
        return self.sandbox.root / "usr/share/updog/root.json"

    def cached(self, name: str) -> Path:
        sha = self.repo.targets.signed.targets[name].hashes["sha256"]
        return self.targets_dir / f"{sha}.{name}"

    def migrator(self, *extra: str) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable,
            "-m",
            "thar.migrations",
            "--datastore-path",
            str(self.sandbox.current),
            "--migration-directory",
            str(self.targets_dir),
            "--root-path",
            str(self.trusted_root),
            "--metadata-directory",
            str(self.metadata_dir),
            "--migrate-to-version-from-os-release",
            "--no-sync",
            *extra,
        ]
        env = {**self.sandbox.env(), "PYTHONPATH": str(REPO)}
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    def untouched(self) -> None:
        assert self.sandbox.current.resolve() == self.original
        assert datastore_version(self.sandbox.datastore) == Version(1, 0, 0)
        live, _, _ = read_state(self.sandbox.current)
        assert live["settings.motd"] == '"old"'


def cache_update(tmp: Path, root: Path, *, rotate_root: bool = False) -> TufRepo:
    """Publish the release and run updog's cache step for 1.0.0 → 1.1.0 into ``root`` (the host
    trusts ``1.root.json``; ``rotate_root``: the repository has rotated to ``2.root.json``)."""
    repo = TufRepo(tmp / "repo", VARIANT, ARCH)
    trusted_bytes = repo.root_bytes
    if rotate_root:
        repo.rotate_root()
    for name, expression in MIGRATIONS.items():
        repo.add_target(name, lz4.frame.compress(script(expression)))
    repo.manifest["updates"].append(update_entry(VARIANT, ARCH, "1.1.0"))
    repo.manifest["migrations"] = {"(1.0.0, 1.1.0)": list(MIGRATIONS)}
    repo.publish()
    trusted = root / "usr/share/updog/root.json"
    trusted.parent.mkdir(parents=True, exist_ok=True)
    trusted.write_bytes(trusted_bytes)
    with serve(tmp / "repo") as (url, _):
        metadata_url = f"{url}/meta/2020-07-07/{VARIANT}/{ARCH}"
        repository = load_repository(trusted, metadata_url, f"{url}/targets", QueryFetcher({}))
        try:
            manifest = repository.load_manifest()
            names = cache_migrations(repository, manifest, UpdateVersion.parse("1.0.0"), manifest.updates[0], {}, root)
        finally:
            repository.close()
    assert names == [*MIGRATIONS, "manifest.json"]
    return repo


@pytest.fixture
def update(sandbox: Sandbox, tmp_path: Path) -> Iterator[Update]:
    original = sandbox.create("1.0.0", live={"settings.motd": "old", "settings.hostname": "mine"})
    repo = cache_update(tmp_path, sandbox.root)
    sandbox.os_release("1.1.0", VARIANT)
    yield Update(sandbox, repo, original)


def test_cached_migrations_run_in_manifest_order_and_the_links_flip(update: Update) -> None:
    run = update.migrator()
    assert run.returncode == 0, run.stderr
    assert "[1/2] Running migrate_v1.1.0_b --forward" in run.stdout
    assert "[2/2] Running migrate_v1.1.0_a --forward" in run.stdout
    assert datastore_version(update.sandbox.datastore) == Version(1, 1, 0)
    new = update.sandbox.current.resolve()
    assert new != update.original and new.name.startswith("v1.1.0_")
    live, _, _ = read_state(update.sandbox.current)
    assert live["settings.motd"] == '"new"'  # b then a; a alone or a first would leave "mid"/"old"
    assert live["settings.hostname"] == '"mine"'
    assert read_state(update.original)[0]["settings.motd"] == '"old"'  # the 1.0.0 datastore is kept


def test_expired_metadata_is_still_accepted(sandbox: Sandbox, tmp_path: Path) -> None:
    original = sandbox.create("1.0.0", live={"settings.motd": "old"})
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    repo = cache_update(tmp_path, sandbox.root)
    # the timestamp in the mirror is now long expired (as after an update downloaded weeks ago)
    metadata = sandbox.root / METADATA_CACHE
    repo.resign_timestamp(past)
    (metadata / "timestamp.json").write_bytes((repo.meta_dir / "timestamp.json").read_bytes())
    assert json.loads((metadata / "timestamp.json").read_bytes())["signed"]["expires"] < dt.datetime.now(
        dt.UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    sandbox.os_release("1.1.0", VARIANT)
    run = Update(sandbox, repo, original).migrator()
    assert run.returncode == 0, run.stderr
    assert read_state(sandbox.current)[0]["settings.motd"] == '"new"'
    assert datastore_version(sandbox.datastore) == Version(1, 1, 0)


def test_a_tampered_migration_fails_naming_it_and_leaves_the_links(update: Update) -> None:
    path = update.cached("migrate_v1.1.0_a.lz4")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    run = update.migrator()
    assert run.returncode == 1
    assert f"{path.name}: sha256 does not match the targets metadata" in run.stderr
    assert "Running" not in run.stdout  # everything is verified before anything runs
    update.untouched()


def test_a_missing_migration_fails(update: Update) -> None:
    path = update.cached("migrate_v1.1.0_b.lz4")
    path.unlink()
    run = update.migrator()
    assert run.returncode == 1
    assert f"{path}: missing: target migrate_v1.1.0_b.lz4 was not cached" in run.stderr
    update.untouched()


def test_tampered_metadata_fails(update: Update) -> None:
    path = update.metadata_dir / "1.targets.json"
    doc = json.loads(path.read_bytes())
    doc["signed"]["targets"]["migrate_v1.1.0_a.lz4"]["length"] += 1
    path.write_text(json.dumps(doc))
    run = update.migrator()
    assert run.returncode == 1
    assert "1.targets.json: signature check failed" in run.stderr
    update.untouched()


def test_a_root_the_mirror_is_not_signed_by_fails(update: Update, tmp_path: Path) -> None:
    other = TufRepo(tmp_path / "other", VARIANT, ARCH)
    update.trusted_root.write_bytes(other.root_bytes)
    run = update.migrator()
    assert run.returncode == 1
    assert "timestamp.json: signature check failed" in run.stderr
    update.untouched()


def test_the_mirror_needs_the_trusted_root(update: Update) -> None:
    env = {**update.sandbox.env(), "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "thar.migrations",
            "--datastore-path",
            str(update.sandbox.current),
            "--migration-directory",
            str(update.targets_dir),
            "--metadata-directory",
            str(update.metadata_dir),
            "--migrate-to-version",
            "1.1.0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "--root-path is needed" in run.stderr
    update.untouched()


def test_the_root_chain_is_followed_and_checked(sandbox: Sandbox, tmp_path: Path) -> None:
    original = sandbox.create("1.0.0", live={"settings.motd": "old"})
    repo = cache_update(tmp_path, sandbox.root, rotate_root=True)
    sandbox.os_release("1.1.0", VARIANT)
    update = Update(sandbox, repo, original)
    rotated = update.metadata_dir / "2.root.json"
    assert rotated.is_file()
    good = rotated.read_bytes()
    doc = json.loads(good)
    doc["signed"]["expires"] = "2099-01-01T00:00:00Z"  # changed after signing
    rotated.write_text(json.dumps(doc))
    run = update.migrator()
    assert run.returncode == 1
    assert "2.root.json: signature check failed" in run.stderr
    update.untouched()
    rotated.write_bytes(good)
    run = update.migrator()
    assert run.returncode == 0, run.stderr
    assert read_state(sandbox.current)[0]["settings.motd"] == '"new"'


# -- the update boot path: migrator, then storewolf with the new image's defaults (§10.2) ------------

OLD_DEFAULTS = """\
[settings]
motd = "old"
[services.motd]
configuration-files = ["motd"]
restart-commands = []
[services.legacy]
configuration-files = ["legacy"]
restart-commands = []
[configuration-files.motd]
path = "/etc/motd"
template-path = "/usr/share/templates/motd"
[configuration-files.legacy]
path = "/etc/legacy"
template-path = "/usr/share/templates/legacy"
[metadata.settings.motd]
affected-services = ["motd", "legacy"]
"""

NEW_DEFAULTS = """\
[settings]
motd = "old"
hostname = "default-host"
[settings.ntp]
time-servers = ["time.example.com"]
[services.motd]
configuration-files = ["motd"]
restart-commands = ["/bin/true"]
[services.ntp]
configuration-files = ["chrony-conf"]
restart-commands = []
[configuration-files.motd]
path = "/etc/motd"
template-path = "/usr/share/templates/motd-v2"
[configuration-files.chrony-conf]
path = "/etc/chrony.conf"
template-path = "/usr/share/templates/chrony-conf"
[metadata.settings.motd]
affected-services = ["motd"]
[metadata.settings.ntp]
affected-services = ["ntp"]
"""


STOREWOLF = [sys.executable, "-m", "thar.storewolf", "--data-store-base-path"]


def storewolf(sandbox: Sandbox, defaults: str, version: str) -> None:
    path = sandbox.root / f"defaults-{version}.toml"
    path.write_text(defaults)
    run = subprocess.run(
        [*STOREWOLF, str(sandbox.datastore), "--version", version, "--defaults", str(path)],
        env={**sandbox.env(), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def commit_launch(sandbox: Sandbox) -> None:
    ds = FilesystemDataStore(sandbox.current, durable=False)
    try:
        if "bottlerocket-launch" in ds.list_transactions():
            ds.commit_transaction("bottlerocket-launch")
    finally:
        ds.close()


def test_after_the_update_storewolf_writes_the_new_images_defaults(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.datastore.mkdir(parents=True, exist_ok=True)
    storewolf(sandbox, OLD_DEFAULTS, "1.0.0")  # the first boot of 1.0.0
    commit_launch(sandbox)
    ds = FilesystemDataStore(sandbox.current, durable=False)
    try:
        ds.set_key(Key("settings.hostname"), to_json("mine"), LIVE)  # the user's setting
    finally:
        ds.close()
    original = sandbox.current.resolve()
    orphan = sandbox.datastore / "v1.0.0_leftOverFromACrash"  # no link leads to it
    orphan.mkdir()
    repo = cache_update(tmp_path, sandbox.root)
    sandbox.os_release("1.1.0", VARIANT)

    run = Update(sandbox, repo, original).migrator()
    assert run.returncode == 0, run.stderr
    assert not orphan.exists()
    assert "Removed old datastore v1.0.0_leftOverFromACrash" in run.stdout
    live, _, meta = read_state(sandbox.current)
    assert not [k for k in live if k.startswith(("services.", "configuration-files."))]
    assert meta == {}
    assert live["settings.hostname"] == '"mine"'

    storewolf(sandbox, NEW_DEFAULTS, "1.1.0")  # the first boot of 1.1.0
    commit_launch(sandbox)
    live, _, meta = read_state(sandbox.current)
    assert live["settings.hostname"] == '"mine"'  # the user's setting is kept
    assert live["settings.motd"] == '"new"'  # as the migrations left it
    assert live["settings.ntp.time-servers"] == '["time.example.com"]'  # a new default
    assert live["services.ntp.configuration-files"] == '["chrony-conf"]'
    assert live["services.motd.restart-commands"] == '["/bin/true"]'  # the new image's, not the old
    assert live["configuration-files.motd.template-path"] == '"/usr/share/templates/motd-v2"'
    assert not [k for k in live if k.startswith(("services.legacy", "configuration-files.legacy"))]
    assert meta["settings.motd"] == {"affected-services": '["motd"]'}
    assert meta["settings.ntp"] == {"affected-services": '["ntp"]'}
    assert os.readlink(sandbox.datastore / "v1.1.0").startswith("v1.1.0_")
