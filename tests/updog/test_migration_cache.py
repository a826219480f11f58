"""The migration cache step of ``update`` (updates.md §4.5): verified migrations and metadata
saved for the migrator, and the ``migrations`` query parameter on the requests after it."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.tuf_repo import update_entry
from thar.update_metadata import Version
from thar.updog.cli import TRUSTED_ROOT, cache_migrations
from thar.updog.errors import UpdogError
from thar.updog.repo import QueryFetcher, Repository, load_repository

from .conftest import ARCH, VARIANT, Host

MIGRATIONS = {"migrate_v1.1.0_a.lz4": b"first migration", "migrate_v1.2.0_b.lz4": b"second migration"}


def setup_repo(host: Host, chain: dict[str, list[str]]) -> None:
    for name, data in MIGRATIONS.items():
        host.repo.add_target(name, data)
    host.repo.manifest["updates"].append(update_entry(VARIANT, ARCH, "1.2.0"))
    host.repo.manifest["migrations"] = chain
    host.repo.publish()
    host.write()


def load(host: Host, params: dict[str, str]) -> Repository:
    return load_repository(
        host.root / TRUSTED_ROOT, host.metadata_url, f"{host.base_url}/targets", QueryFetcher(params)
    )


def test_migrations_and_metadata_are_cached_and_named_in_later_requests(host: Host) -> None:
    setup_repo(host, {"(1.0.0, 1.1.0)": ["migrate_v1.1.0_a.lz4"], "(1.1.0, 1.2.0)": ["migrate_v1.2.0_b.lz4"]})
    params = {"seed": "42", "version": "1.0.0"}
    repository = load(host, params)
    try:
        manifest = repository.load_manifest()
        update = manifest.updates[0]
        params["target"] = "1.2.0"
        names = cache_migrations(repository, manifest, Version.parse("1.0.0"), update, params, host.root)
        assert names == ["migrate_v1.1.0_a.lz4", "migrate_v1.2.0_b.lz4", "manifest.json"]
        cached = host.root / "var/lib/bottlerocket-migrations"
        manifest_sha = host.repo.targets.signed.targets["manifest.json"].hashes["sha256"]
        assert sorted(p.name for p in cached.iterdir()) == sorted(
            [f"{hashlib.sha256(d).hexdigest()}.{n}" for n, d in MIGRATIONS.items()] + [f"{manifest_sha}.manifest.json"]
        )
        metadata = host.root / "var/cache/bottlerocket-metadata"
        assert sorted(p.name for p in metadata.iterdir()) == [
            "1.root.json",
            "1.snapshot.json",
            "1.targets.json",
            "timestamp.json",
        ]
        assert (metadata / "1.targets.json").read_bytes() == (host.repo.meta_dir / "1.targets.json").read_bytes()
        assert json.loads((metadata / "timestamp.json").read_bytes())["signed"]["_type"] == "timestamp"
        host.log.clear()
        repository.read_target("manifest.json")
        (request,) = host.log
        assert urlsplit(request).path == f"/targets/{manifest_sha}.manifest.json"
        assert urlsplit(request).query == (
            "migrations=migrate_v1.1.0_a.lz4%2Cmigrate_v1.2.0_b.lz4%2Cmanifest.json&seed=42&target=1.2.0&version=1.0.0"
        )
        assert parse_qs(urlsplit(request).query)["migrations"] == [",".join(names)]
    finally:
        repository.close()


def test_a_downgrade_caches_the_same_forward_chain(host: Host) -> None:
    setup_repo(host, {"(1.0.0, 1.1.0)": ["migrate_v1.1.0_a.lz4"], "(1.1.0, 1.2.0)": ["migrate_v1.2.0_b.lz4"]})
    repository = load(host, {})
    try:
        manifest = repository.load_manifest()
        older = manifest.updates[0].model_copy(update={"version": Version.parse("1.0.0")})
        names = cache_migrations(repository, manifest, Version.parse("1.2.0"), older, {}, host.root)
        assert names == ["migrate_v1.1.0_a.lz4", "migrate_v1.2.0_b.lz4", "manifest.json"]
    finally:
        repository.close()


def test_a_gap_in_the_chain_fails_before_anything_is_written(host: Host) -> None:
    setup_repo(host, {"(1.0.0, 1.1.0)": ["migrate_v1.1.0_a.lz4"]})
    params: dict[str, str] = {}
    repository = load(host, params)
    try:
        manifest = repository.load_manifest()
        with pytest.raises(UpdogError, match=r"^Reached end of migration chain at 1\.1\.0 but target is 1\.2\.0"):
            cache_migrations(repository, manifest, Version.parse("1.0.0"), manifest.updates[0], params, host.root)
    finally:
        repository.close()
    assert not (host.root / "var/lib/bottlerocket-migrations").exists()
    assert "migrations" not in params


def test_a_corrupted_migration_is_not_cached(host: Host) -> None:
    setup_repo(host, {"(1.0.0, 1.2.0)": ["migrate_v1.1.0_a.lz4"]})
    host.repo.corrupt_target("migrate_v1.1.0_a.lz4")
    repository = load(host, {})
    try:
        manifest = repository.load_manifest()
        with pytest.raises(UpdogError, match="length or sha256 does not match"):
            cache_migrations(repository, manifest, Version.parse("1.0.0"), manifest.updates[0], {}, host.root)
    finally:
        repository.close()
    assert list((host.root / "var/lib/bottlerocket-migrations").iterdir()) == []
