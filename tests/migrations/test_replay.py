"""Replay Bottlerocket's real migration history (spec/migrations.md §4, issue 7).

The migrations are generated at test time from ``bottlerocket-migrations.json``: one
executable per entry, named as in the update manifest, plus a ``manifest.json`` built from the
table's transitions (the order within a version is the manifest's, not alphabetical). A
datastore is created at the oldest version (0.3.1) for an ``aws-k8s-1.24`` host, seeded from the
table itself — every setting or metadata a replacement touches first is given the value the
replacement expects — plus user settings, a pending transaction, and inputs for the custom
migrations. The migrator takes it forward through all 247 migrations to 1.26.1, each a process of its own,
and back through all of them again as chainable migrations (one chain: the datastore is read
and written once).

Expectations are derived from the table, never copied from it: the replacement chains are
simulated in plain Python (string and list equality only), a round trip must restore every
seeded key that no backward step removes, and everything added at the new version must be gone
after the downgrade. All twelve custom migrations are implemented (``history.py``); none is skipped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from thar.datastore import LIVE, FilesystemDataStore, Key, KeyConflict, Pending, datastore_version, meta_key, to_json
from thar.migrations.links import current_version
from thar.migrations.migration_helpers import Variant, matches

from .conftest import REPO, Sandbox, read_state
from .history import CUSTOM, TABLE, load_table

VARIANT = "aws-k8s-1.24"
REGION = "us-west-2"
ECR = f"328549459982.dkr.ecr.{REGION}.amazonaws.com"  # ecr-prefix of us-west-2 (spec/schnauzer.md §6.4)
ARCH = os.uname().machine
TX = "user-tx"

pytestmark = pytest.mark.skipif(not TABLE.is_file(), reason="conformance data not found")


def effective(entry: dict[str, Any]) -> dict[str, Any]:
    """The spec that runs on VARIANT: a variant condition resolved to its branch."""
    if entry["helper"] != "VariantConditional":
        return entry
    args = entry["args"]
    branch = args["then"] if matches(args["when"], Variant.parse(VARIANT)) else args["otherwise"]
    return {**branch, "name": entry["name"], "version": entry["version"]}


def ordered_entries(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's entries in manifest order (transition by transition)."""
    by_file = {e["file"]: e for e in table["migrations"]}
    return [by_file[name] for t in table["transitions"] for name in t["migrations"]]


@dataclass
class Plan:
    """What the replay seeds and what it expects, derived from the table."""

    entries: list[dict[str, Any]]
    live: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per key / (setting, metadata): the ordered replacement steps (old, new) when only plain
    # replacements touch it, else None
    chains: dict[str, list[tuple[Any, Any]] | None] = field(default_factory=dict)
    meta_chains: dict[tuple[str, str], list[tuple[Any, Any]] | None] = field(default_factory=dict)
    added_settings: set[str] = field(default_factory=set)
    added_prefixes: set[str] = field(default_factory=set)
    added_metadata: set[tuple[str, str]] = field(default_factory=set)
    removed_metadata: set[tuple[str, str]] = field(default_factory=set)
    removal_rules: list[tuple[str, str]] = field(default_factory=list)

    def removed_on_downgrade(self, key: str) -> bool:
        return (
            key in self.added_settings
            or any(key.startswith(p) for p in self.added_prefixes)
            or any(key.startswith(s) and key.endswith(e) for s, e in self.removal_rules)
        )


def _touch(chains: dict[Any, list[tuple[Any, Any]] | None], target: Any, step: tuple[Any, Any] | None) -> bool:
    """Record a step on ``target``; True if this is its first toucher (so it may be seeded)."""
    first = target not in chains
    if step is None:
        chains[target] = None
    elif first:
        chains[target] = [step]
    elif chains[target] is not None:
        chains[target].append(step)  # type: ignore[union-attr]
    return first


def make_plan() -> Plan:
    table = load_table()
    plan = Plan(ordered_entries(table))
    custom_settings = {
        "settings.kubernetes.pod-infra-container-image",
        "configuration-files.containerd-config-toml.template-path",
        "settings.kubernetes.cluster-dns-ip",
        "configuration-files.kubelet-server-key.path",
    }
    for name in custom_settings:
        plan.chains[name] = None
    plan.meta_chains[("settings.kubernetes.pod-infra-container-image", "setting-generator")] = None
    plan.meta_chains[("settings.kubernetes.pod-infra-container-image", "template")] = None
    for entry in plan.entries:
        spec = effective(entry)
        helper, args = spec["helper"], spec.get("args", {})
        if helper == "ReplaceStringMigration":
            if _touch(plan.chains, args["setting"], (args["old_val"], args["new_val"])):
                plan.live[args["setting"]] = args["old_val"]
        elif helper == "ReplaceListsMigration":
            for r in args["replacements"]:
                if _touch(plan.chains, r["setting"], (r["old_vals"], r["new_vals"])):
                    plan.live[r["setting"]] = r["old_vals"]
        elif helper in ("ReplaceMetadataListsMigration", "ReplaceMetadataMigration"):
            for r in args["replacements"]:
                if r.get("when") is not None and not matches(r["when"], Variant.parse(VARIANT)):
                    continue
                old, new = (r["old_vals"], r["new_vals"]) if "old_vals" in r else (r["old_val"], r["new_val"])
                if _touch(plan.meta_chains, (r["setting"], r["metadata"]), (old, new)):
                    plan.metadata.setdefault(r["setting"], {})[r["metadata"]] = old
        elif helper == "ReplaceTemplateMigration":
            _touch(plan.chains, args["setting"], None)
            _touch(plan.meta_chains, (args["setting"], "template"), None)
        elif helper == "ReplaceSchnauzerMigration":
            _touch(plan.chains, args["setting"], None)
            _touch(plan.meta_chains, (args["setting"], "setting-generator"), None)
        elif helper == "AddSettingsMigration":
            plan.added_settings.update(args["settings"])
        elif helper == "AddPrefixesMigration":
            plan.added_prefixes.update(args["prefixes"])
        elif helper == "RemoveMetadataMigration":
            for m in args["settings_metadata"]:
                for n in m["metadata"]:
                    plan.removed_metadata.add((m["setting"], n))
                    _touch(plan.meta_chains, (m["setting"], n), None)
        elif helper == "AddMetadataMigration":
            plan.added_metadata.update((m["setting"], n) for m in args["settings_metadata"] for n in m["metadata"])
        elif helper == "custom" and "remove_keys_matching" in json.dumps(spec.get("details", {})):
            rule = spec["details"]["backward"]["remove_keys_matching"]
            plan.removal_rules.append((rule["starts_with"], rule["ends_with"]))
    # Metadata that a later version adds is never seeded (the downgrade would remove it).
    for setting, name in plan.added_metadata:
        if name in plan.metadata.get(setting, {}):
            del plan.metadata[setting][name]
            plan.meta_chains[(setting, name)] = None
    # Keys in the table that cannot live together on disk (a value and a prefix): keep the first.
    for key in sorted(plan.live):
        if any(key.startswith(other + ".") for other in plan.live if other != key):
            del plan.live[key]
    return plan


def simulate(value: Any, steps: list[tuple[Any, Any]], forward: bool) -> Any:
    for old, new in steps if forward else [(n, o) for o, n in reversed(steps)]:
        if value == old:
            value = new
    return value


USER = {
    "settings.motd": "Welcome to thar",
    'settings.kernel.sysctl."net.ipv4.ip_forward"': "1",
    "settings.host-containers.mine.source": "example.com/mine:1",
    "settings.host-containers.mine.enabled": True,
    "settings.host-containers.mine.user-data": "dXNlcg==",  # removed going back below 1.0.5
    "settings.kernel.modules.foo.autoload": True,  # removed going back below 1.16.0
}
CUSTOM_SEEDS: dict[str, Any] = {
    'settings.container-registry.mirrors."docker.io"': ["https://mirror.example.com"],
    'settings.container-registry.mirrors."public.ecr.aws"': ["https://ecr-mirror.example.com"],
    "settings.kubernetes.node-taints.dedicated": "experimental:NoSchedule",
    "configuration-files.containerd-config-toml.template-path": "/usr/share/templates/containerd-config-toml_aws-k8s",
    "settings.kubernetes.pod-infra-container-image": "example.com/pause:1",
    "settings.kubernetes.cluster-dns-ip": "10.100.0.10",
    "settings.aws.region": REGION,
}
CUSTOM_META = {
    "settings.kubernetes.pod-infra-container-image": {"setting-generator": "pluto pod-infra-container-image"}
}
TEMPLATED_SETTINGS = (
    "settings.host-containers.admin.source",
    "settings.host-containers.control.source",
    "settings.updates.metadata-base-url",
)


def simulate_generated(
    entries: list[dict[str, Any]], setting: str, value: str, meta: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The value and metadata of a generated setting after ``entries`` (forward), rendering the
    few template forms the history uses by substitution."""
    meta = dict(meta)
    for entry in entries:
        spec = effective(entry)
        helper, args = spec["helper"], spec.get("args", {})
        if helper == "ReplaceTemplateMigration" and args["setting"] == setting:
            if meta.get("template") == args["old_template"]:
                meta["template"] = args["new_template"]
                if value == _fill(args["old_template"]):
                    value = _fill(args["new_template"])
        elif helper == "ReplaceSchnauzerMigration" and args["setting"] == setting:
            if meta.get("setting-generator") == args["old_schnauzer_cmdline"]:
                meta["setting-generator"] = args["new_schnauzer_cmdline"]
                if value == _fill(_cmdline_template(args["old_schnauzer_cmdline"])):
                    value = _fill(_cmdline_template(args["new_schnauzer_cmdline"]))
        elif helper == "ReplaceMetadataMigration":
            for r in args["replacements"]:
                applies = r.get("when") is None or matches(r["when"], Variant.parse(VARIANT))
                if applies and r["setting"] == setting and meta.get(r["metadata"]) == r["old_val"]:
                    meta[r["metadata"]] = r["new_val"]
        elif helper == "ReplaceStringMigration" and args["setting"] == setting and value == args["old_val"]:
            value = args["new_val"]
    return value, meta


def _cmdline_template(cmdline: str) -> str:
    return cmdline.split("--template '", 1)[1].removesuffix("'")


def _first_template(entries: list[dict[str, Any]], setting: str) -> str:
    return str(
        next(
            e["args"]["old_template"]
            for e in entries
            if e["helper"] == "ReplaceTemplateMigration" and e["args"]["setting"] == setting
        )
    )


def _fill(template: str) -> str:
    """The oldest templates use only plain variables."""
    text = template.replace("{{ ecr-prefix settings.aws.region }}", ECR).replace("{{ settings.aws.region }}", REGION)
    text = text.replace("{{ os.variant_id }}", VARIANT).replace("{{ os.arch }}", ARCH)
    assert "{{" not in text, template
    return text


@dataclass
class Replay:
    box: Sandbox
    plan: Plan
    seed_live: dict[str, Any]
    seed_meta: dict[str, dict[str, Any]]
    forward: subprocess.CompletedProcess[str]
    after_forward: tuple[dict[str, str], dict[str, dict[str, str]], dict[str, dict[str, str]]]
    added_live: set[str]
    added_pending: set[str]
    forward_version: Any
    backward: subprocess.CompletedProcess[str]
    after_backward: tuple[dict[str, str], dict[str, dict[str, str]], dict[str, dict[str, str]]]
    backward_version: Any
    host_file: Path


def _write_migrations(box: Sandbox, table: dict[str, Any], *, chainable: bool) -> None:
    """One executable per entry; ``chainable`` ones declare ``MIGRATION`` (so the migrator runs
    them as one chain), the others run it at once (so each is a process of its own)."""
    for entry in table["migrations"]:
        name = entry["file"].removesuffix(".lz4")
        path = box.migrations / name
        head = (
            f"#!{sys.executable}\nimport json\nimport sys\n\nsys.path.insert(0, {str(REPO)!r})\n"
            "from thar.migrations.migration_helpers import migrate\n"
            "from tests.migrations.history import entry_migration\n\n"
            f"ENTRY = json.loads({json.dumps(entry)!r})\n"
        )
        if chainable:
            body = (
                "MIGRATION = entry_migration(ENTRY)\n\nif __name__ == '__main__':\n    sys.exit(migrate(MIGRATION))\n"
            )
        else:
            body = "sys.exit(migrate(entry_migration(ENTRY)))\n"
        path.write_text(head + body)
        path.chmod(0o755)
    manifest = {"migrations": {f"({t['from']}, {t['to']})": t["migrations"] for t in table["transitions"]}}
    (box.migrations / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    table = load_table()
    oldest, newest = table["transitions"][0]["from"], table["transitions"][-1]["to"]
    tmp = tmp_path_factory.mktemp("replay")
    box = Sandbox(tmp / "root", tmp / "root/var/lib/thar/datastore", tmp / "migrations")
    box.datastore.mkdir(parents=True)
    box.migrations.mkdir()
    _write_migrations(box, table, chainable=False)
    plan = make_plan()

    seed_live = {**plan.live, **USER, **CUSTOM_SEEDS}
    seed_meta: dict[str, dict[str, Any]] = {k: dict(v) for k, v in plan.metadata.items()}
    for setting, metas in CUSTOM_META.items():
        seed_meta.setdefault(setting, {}).update(metas)
    for setting in TEMPLATED_SETTINGS:
        template = _first_template(plan.entries, setting)
        seed_live[setting] = _fill(template)
        seed_meta.setdefault(setting, {})["template"] = template
    seed_meta = {k: v for k, v in seed_meta.items() if v}
    pending_key = next(k for k, steps in plan.chains.items() if steps and k in seed_live and len(steps) > 0)
    box.os_release(oldest, VARIANT)
    box.create(
        oldest,
        live=seed_live,
        pending={TX: {pending_key: seed_live[pending_key], "settings.motd": "pending motd"}},
        metadata=seed_meta,
    )

    box.os_release(newest, VARIANT)
    forward = box.migrator("--keep-image-defaults", target=newest)  # what the migrations wrote
    after_forward = read_state(box.current)
    forward_version = current_version(box.datastore)

    # The new version's own settings and metadata, as a user of 1.26.1 would have them.
    added_live: set[str] = set()
    ds = FilesystemDataStore(box.current, durable=False)
    try:
        new_keys = sorted(plan.added_settings) + [p + "-thar-new" for p in sorted(plan.added_prefixes)]
        for name in new_keys:
            try:
                ds.set_key(Key(name), to_json("new"), LIVE)
                added_live.add(name)
            except KeyConflict:
                continue  # a value where the table has a prefix (or the reverse): not storable
        added_pending = set(sorted(added_live)[:5])
        ds.set_keys({Key(k): to_json("new") for k in added_pending}, Pending("new-tx"))
        for setting, name in sorted(plan.added_metadata):
            ds.set_metadata(meta_key(name), Key(setting), to_json(["thar-new"]))
    finally:
        ds.close()
    host_file = box.root / "var/lib/kubelet/cpu_manager_state"
    host_file.parent.mkdir(parents=True)
    host_file.write_text("{}")

    box.os_release(oldest, VARIANT)
    _write_migrations(box, table, chainable=True)
    backward = box.migrator("--keep-image-defaults", target=oldest)
    after_backward = read_state(box.current)
    yield Replay(
        box,
        plan,
        seed_live,
        seed_meta,
        forward,
        after_forward,
        added_live,
        added_pending,
        forward_version,
        backward,
        after_backward,
        current_version(box.datastore),
        host_file,
    )


def _stored(value: Any) -> str:
    return to_json(value)


# -- forward ----------------------------------------------------------------------------------------
def test_forward_runs_every_migration_in_manifest_order(replay: Replay) -> None:
    assert replay.forward.returncode == 0, replay.forward.stderr[-3000:]
    ran = [line.split("Running ")[1].split()[0] for line in replay.forward.stdout.splitlines() if "] Running " in line]
    expected = [e["file"].removesuffix(".lz4") for e in replay.plan.entries]
    assert len(expected) == len(load_table()["migrations"]) == 247
    assert ran == expected
    assert all(f"{name} took" in replay.forward.stdout for name in expected)
    assert str(replay.forward_version) == load_table()["transitions"][-1]["to"]


def test_forward_replacement_chains(replay: Replay) -> None:
    live = replay.after_forward[0]
    checked = 0
    for key, steps in replay.plan.chains.items():
        if steps is None or key not in replay.seed_live:
            continue
        assert live.get(key) == _stored(simulate(replay.seed_live[key], steps, forward=True)), key
        checked += 1
    assert checked >= 15  # the table has about twenty such chains for this variant


def test_forward_metadata_chains(replay: Replay) -> None:
    meta = replay.after_forward[2]
    checked = 0
    for (setting, name), steps in replay.plan.meta_chains.items():
        if steps is None or name not in replay.seed_meta.get(setting, {}):
            continue
        expected = simulate(replay.seed_meta[setting][name], steps, forward=True)
        assert meta.get(setting, {}).get(name) == _stored(expected), (setting, name)
        checked += 1
    assert checked >= 5  # the table has about ten such chains for this variant
    for setting, name in replay.plan.removed_metadata:
        assert name not in meta.get(setting, {}), (setting, name)


def test_forward_keeps_user_settings_and_injects_os(replay: Replay) -> None:
    live = replay.after_forward[0]
    for key in (
        "settings.motd",
        'settings.kernel.sysctl."net.ipv4.ip_forward"',
        "settings.host-containers.mine.source",
    ):
        assert live[key] == _stored(USER[key])
    assert live["os.variant_id"] == _stored(VARIANT)
    assert live["os.version_id"] == _stored(load_table()["transitions"][-1]["to"])
    assert live["os.arch"] == _stored(ARCH)


def test_forward_custom_migrations(replay: Replay) -> None:
    live, _, meta = replay.after_forward
    mirrors = json.loads(live["settings.container-registry.mirrors"])
    assert sorted(mirrors, key=lambda m: m["registry"]) == [
        {"registry": "docker.io", "endpoint": ["https://mirror.example.com"]},
        {"registry": "public.ecr.aws", "endpoint": ["https://ecr-mirror.example.com"]},
    ]
    assert not any(k.startswith("settings.container-registry.mirrors.") for k in live)
    assert json.loads(live["settings.kubernetes.node-taints.dedicated"]) == ["experimental:NoSchedule"]
    paths = dict(
        map(tuple, next(e for e in replay.plan.entries if e["name"] == "shared-containerd-configs")["details"]["pairs"])
    )
    assert (
        json.loads(live["configuration-files.containerd-config-toml.template-path"])
        == paths[CUSTOM_SEEDS["configuration-files.containerd-config-toml.template-path"]]
    )
    paws = next(e for e in replay.plan.entries if e["name"] == "schnauzer-paws")["details"]
    pod = meta["settings.kubernetes.pod-infra-container-image"]
    assert json.loads(pod["template"]) == paws["template"]
    # its generator moved on (v1.16.0) and was removed (v1.21.0): the value is a plain setting now
    assert ("settings.kubernetes.pod-infra-container-image", "setting-generator") in replay.plan.removed_metadata
    assert "setting-generator" not in pod
    assert live["settings.kubernetes.pod-infra-container-image"] == _stored(
        CUSTOM_SEEDS["settings.kubernetes.pod-infra-container-image"]
    )


def test_forward_pending_transaction_migrated(replay: Replay) -> None:
    pending = replay.after_forward[1]
    assert set(pending) == {TX}
    tx = pending[TX]
    key = next(
        k for k in tx if k not in ("settings.motd",) and not k.startswith(("os.", "settings.container-registry"))
    )
    steps = replay.plan.chains[key]
    assert steps is not None
    assert tx[key] == _stored(simulate(replay.seed_live[key], steps, forward=True))
    assert tx["settings.motd"] == _stored("pending motd")
    # registry-mirror-representation always writes its key, even into unrelated transactions
    assert tx["settings.container-registry.mirrors"] == "[]"
    assert {k for k in tx if k.startswith("os.")} == {
        "os.arch",
        "os.variant_id",
        "os.version_id",
        "os.pretty_name",
        "os.build_id",
    }
    assert len(tx) == 2 + 1 + 5


@pytest.mark.parametrize("setting", TEMPLATED_SETTINGS)
def test_forward_templated_settings(replay: Replay, setting: str) -> None:
    live, _, meta = replay.after_forward
    value, expected_meta = simulate_generated(
        replay.plan.entries, setting, replay.seed_live[setting], replay.seed_meta[setting]
    )
    assert json.loads(live[setting]) == value
    assert {k: json.loads(v) for k, v in meta[setting].items()} == expected_meta
    # the templates really moved on (the control chain stops early: its v1.0.0 migration
    # names the key "metadata.settings.host-containers.control.source", a historical bug)
    assert expected_meta != replay.seed_meta[setting]


# -- backward -------------------------------------------------------------------------------------------
def test_backward_succeeds(replay: Replay) -> None:
    assert replay.backward.returncode == 0, replay.backward.stderr[-3000:]
    assert str(replay.backward_version) == load_table()["transitions"][0]["from"]
    assert datastore_version(replay.box.datastore) == replay.backward_version
    # backward, the migrations are chainable: one chain, each migration's time still reported
    took = re.findall(r"\[\d+/\d+\] (\S+) took", replay.backward.stdout)
    assert took == [e["file"].removesuffix(".lz4") for e in reversed(replay.plan.entries)]
    assert "as one chain" in replay.backward.stdout
    assert "--backward as one chain" in replay.backward.stdout


def test_backward_removes_everything_newer(replay: Replay) -> None:
    live, pending, meta = replay.after_backward
    assert len(replay.added_live) >= 50
    assert replay.added_live.isdisjoint(live)
    assert replay.added_pending.isdisjoint(pending.get("new-tx", {}))
    for setting, name in replay.plan.added_metadata:
        assert name not in meta.get(setting, {}), (setting, name)
    assert not replay.host_file.exists()  # kubelet-cpu-manager-state


def test_backward_round_trip_restores_the_seed(replay: Replay) -> None:
    live, _, meta = replay.after_backward
    expected: dict[str, str] = {}
    for key, value in replay.seed_live.items():
        if replay.plan.removed_on_downgrade(key):
            continue
        steps = replay.plan.chains.get(key)
        if steps:
            value = simulate(simulate(value, steps, forward=True), steps, forward=False)
        expected[key] = _stored(value)
    assert {k: v for k, v in live.items() if not k.startswith("os.")} == expected
    assert "settings.host-containers.mine.user-data" not in live
    expected_meta: dict[str, dict[str, str]] = {}
    for setting, metas in replay.seed_meta.items():
        for name, value in metas.items():
            if (setting, name) in replay.plan.removed_metadata:
                continue  # removed going forward, and nothing puts it back
            steps = replay.plan.meta_chains.get((setting, name))
            if steps:
                value = simulate(simulate(value, steps, forward=True), steps, forward=False)
            expected_meta.setdefault(setting, {})[name] = _stored(value)
    # schnauzer-paws cannot undo itself once its generator is gone: the template metadata stays
    pod = "settings.kubernetes.pod-infra-container-image"
    paws = next(e for e in replay.plan.entries if e["name"] == "schnauzer-paws")["details"]
    expected_meta[pod]["template"] = _stored(paws["template"])
    assert meta == expected_meta


def test_backward_pending_transactions(replay: Replay) -> None:
    _, pending, _ = replay.after_backward
    assert set(pending) == {TX, "new-tx"}
    assert "settings.container-registry.mirrors" not in pending[TX]  # turned back into (no) per-registry keys
    assert pending[TX]["settings.motd"] == _stored("pending motd")
    assert pending[TX]["os.version_id"] == _stored(load_table()["transitions"][0]["from"])


def test_every_custom_migration_is_implemented() -> None:
    table = load_table()
    customs = {e["name"] for e in table["migrations"] if e["helper"] == "custom" and "equivalent_to" not in e}
    nested = {
        e["name"]
        for e in table["migrations"]
        if e["helper"] == "VariantConditional"
        and "custom" in (e["args"]["then"]["helper"], e["args"]["otherwise"]["helper"])
    }
    assert customs | nested == set(CUSTOM)
