"""The migrator end to end (spec/migrations.md §1), as a real process on a real datastore."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thar.datastore import Version, datastore_version
from thar.migrations.links import current_version

from .conftest import Sandbox, read_state

RECORD = 'echo "$@" >> {result}\nmkdir "$5"\n'


def entries(base: Path) -> set[str]:
    return {p.name for p in base.iterdir()}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


# -- command line (§1.1) ----------------------------------------------------------------------------
def test_first_boot_without_a_datastore_exits_0(sandbox: Sandbox) -> None:
    result = sandbox.migrator(target="1.1.0")
    assert result.returncode == 0, result.stderr
    assert f"Data store does not exist at given path, exiting ({sandbox.current})" in result.stderr


def test_first_boot_is_checked_while_parsing(sandbox: Sandbox) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "thar.migrations", "--datastore-path", str(sandbox.current)],
        capture_output=True,
        text=True,
        env=sandbox.env(),
    )
    assert result.returncode == 0
    assert "Data store does not exist" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-color"], "Unable to parse input '--no-color'"),
        (["--bogus"], "Unable to parse input '--bogus'"),
        ([], "--migrate-to-version"),
        (["--migrate-to-version", "1.x"], "Invalid version"),
        (["--migrate-to-version", "1.1.0", "--log-level", "loud"], "Invalid log level"),
    ],
)
def test_usage_errors_exit_2(sandbox: Sandbox, args: list[str], message: str) -> None:
    sandbox.create("1.0.0")
    result = sandbox.migrator(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Usage: migrator" in result.stderr


def test_without_a_tuf_mirror_the_directory_is_read_as_executables(sandbox: Sandbox) -> None:
    real = sandbox.create("1.0.0")
    result = sandbox.migrator(
        "--root-path", "/nonexistent/root.json", "--metadata-directory", "/nonexistent", target="1.0.1"
    )
    assert result.returncode == 0, result.stderr
    assert (sandbox.current).resolve() == real  # no migrations: the links move to the same directory
    assert current_version(sandbox.datastore) == Version(1, 0, 1)


def test_target_from_os_release_last_flag_wins(sandbox: Sandbox) -> None:
    sandbox.create("1.0.0")
    sandbox.os_release("1.2.0")
    result = sandbox.migrator("--migrate-to-version", "1.5.0", "--migrate-to-version-from-os-release")
    assert result.returncode == 0, result.stderr
    assert current_version(sandbox.datastore) == Version(1, 2, 0)
    result = sandbox.migrator("--migrate-to-version-from-os-release", "--migrate-to-version", "1.3.0")
    assert result.returncode == 0, result.stderr
    assert current_version(sandbox.datastore) == Version(1, 3, 0)


# -- algorithm (§1.2, §1.4, §1.5) ------------------------------------------------------------------------
def test_same_version_is_a_no_op_that_leaves_the_links(sandbox: Sandbox) -> None:
    sandbox.create("1.0.0")
    before = {p.name: os.readlink(p) for p in sandbox.datastore.iterdir() if p.is_symlink()}
    result = sandbox.migrator(target="1.0.0")
    assert result.returncode == 0
    assert "nothing to do" in result.stdout
    assert {p.name: os.readlink(p) for p in sandbox.datastore.iterdir() if p.is_symlink()} == before


def test_no_migrations_flips_links_to_the_existing_directory(sandbox: Sandbox) -> None:
    real = sandbox.create("1.25.0")
    result = sandbox.migrator(target="1.26.0")
    assert result.returncode == 0, result.stderr
    d = sandbox.datastore
    assert os.readlink(d / "v1.26.0") == real.name
    assert (os.readlink(d / "v1.26"), os.readlink(d / "v1"), os.readlink(d / "current")) == ("v1.26.0", "v1.26", "v1")
    assert os.readlink(d / "v1.25.0") == real.name  # the old links remain
    assert os.readlink(d / "v1.25") == "v1.25.0"


def _three(sandbox: Sandbox, result: Path, fail_third: bool = False) -> None:
    for name in ("a", "b", "c"):
        body = RECORD.format(result=result)
        if fail_third and name == "c":
            body += "exit 3\n"
        sandbox.shell_migration(f"migrate_v0.99.1_{name}", body)


def test_success_forward_then_backward(sandbox: Sandbox, tmp_path: Path) -> None:
    result_txt = tmp_path / "result.txt"
    sandbox.create("0.99.0")
    _three(sandbox, result_txt)
    run = sandbox.migrator(target="0.99.1")
    assert run.returncode == 0, run.stderr
    recorded = lines(result_txt)
    assert [line.split()[0] for line in recorded] == ["--forward"] * 3
    assert [line.split()[1:4:2] for line in recorded] == [["--source-datastore", "--target-datastore"]] * 3
    names = entries(sandbox.datastore)
    assert {n for n in names if "_" not in n} == {"current", "v0", "v0.99", "v0.99.0", "v0.99.1"}
    assert sorted(n.split("_")[0] for n in names if "_" in n) == ["v0.99.0", "v0.99.1"]
    assert sandbox.current.resolve().name.startswith("v0.99.1_")
    # each migration read the previous one's result
    targets = [line.split()[4] for line in recorded]
    assert [line.split()[2] for line in recorded][1:] == targets[:-1]
    assert "[1/3] Running migrate_v0.99.1_a --forward" in run.stdout
    assert "migrate_v0.99.1_c took" in run.stdout

    result_txt.unlink()
    back = sandbox.migrator(target="0.99.0")
    assert back.returncode == 0, back.stderr
    recorded = lines(result_txt)
    assert [line.split()[0] for line in recorded] == ["--backward"] * 3
    assert "[1/3] Running migrate_v0.99.1_c --backward" in back.stdout
    assert "[3/3] Running migrate_v0.99.1_a --backward" in back.stdout
    assert sandbox.current.resolve().name.startswith("v0.99.0_")


def test_failure_leaves_links_and_names_the_migration(sandbox: Sandbox, tmp_path: Path) -> None:
    real = sandbox.create("0.99.0")
    _three(sandbox, tmp_path / "result.txt", fail_third=True)
    run = sandbox.migrator(target="0.99.1")
    assert run.returncode == 1
    assert "migrate_v0.99.1_c failed: exit status 3" in run.stderr
    assert sandbox.current.resolve() == real
    assert current_version(sandbox.datastore) == Version(0, 99, 0)
    leftovers = [n for n in entries(sandbox.datastore) if n.startswith("v0.99.1_")]
    assert len(leftovers) == 2  # the last good intermediate and the failed target
    assert "v0.99.1" not in entries(sandbox.datastore)


def test_migration_that_cannot_start_fails_cleanly(sandbox: Sandbox) -> None:
    real = sandbox.create("1.0.0")
    path = sandbox.migrations / "migrate_v1.0.1_broken"
    path.write_text("#!/nonexistent/interpreter\n")
    path.chmod(0o755)
    run = sandbox.migrator(target="1.0.1")
    assert run.returncode == 1
    assert "migrate_v1.0.1_broken failed: cannot run it" in run.stderr
    assert sandbox.current.resolve() == real


def test_non_migration_files_are_ignored(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.create("1.0.0")
    sandbox.shell_migration("migrate_v1.0.1_good", RECORD.format(result=tmp_path / "r.txt"))
    sandbox.shell_migration("migrate_v1.0.1_bad.lz4", "exit 1")
    sandbox.shell_migration("README", "exit 1")
    (sandbox.migrations / "migrate_v1.0.1_dir").mkdir()
    run = sandbox.migrator(target="1.0.1")
    assert run.returncode == 0, run.stderr
    assert len(lines(tmp_path / "r.txt")) == 1


@pytest.mark.parametrize("spawn", [False, True], ids=["forked", "spawned"])
def test_python_migration_moves_live_pending_and_metadata(sandbox: Sandbox, spawn: bool) -> None:
    sandbox.create(
        "1.0.0",
        live={"settings.motd": "old", "settings.ntp.time-servers": ["a", "b"], 'settings.kernel.sysctl."a.b"': "1"},
        pending={"tx one": {"settings.motd": "old"}, "default": {"settings.other": 1}},
        metadata={"settings.motd": {"affected-services": ["motd"]}, "settings.ntp": {"affected-services": ["ntp"]}},
    )
    sandbox.python_migration("migrate_v1.1.0_motd", 'ReplaceStringMigration("settings.motd", "old", "new")')
    sandbox.python_migration(
        "migrate_v1.1.0_ntp",
        'AddMetadataMigration([SettingMetadata("settings.ntp", ["affected-services"])])',
    )
    sandbox.os_release("1.1.0", "aws-dev")
    mode = ["--keep-image-defaults", *(["--spawn-migrations"] if spawn else [])]  # the metadata migrated, not cleared
    run = sandbox.migrator(*mode, target="1.1.0")
    assert run.returncode == 0, run.stderr
    live, pending, meta = read_state(sandbox.current)
    os_keys = {
        "os.variant_id": '"aws-dev"',
        "os.version_id": '"1.1.0"',
        "os.pretty_name": '"Thar OS 1.1.0"',
        "os.build_id": '"0123abcd"',
    }
    assert {k: v for k, v in live.items() if k != "os.arch"} == {
        "settings.motd": '"new"',
        "settings.ntp.time-servers": '["a","b"]',
        'settings.kernel.sysctl."a.b"': '"1"',
        **os_keys,
    }
    assert set(pending) == {"tx one", "default"}
    assert pending["tx one"]["settings.motd"] == '"new"'
    assert pending["default"]["settings.other"] == "1"
    assert pending["default"]["os.variant_id"] == '"aws-dev"'
    assert meta == {
        "settings.motd": {"affected-services": '["motd"]'},
        "settings.ntp": {"affected-services": '["ntp"]'},
    }

    back = sandbox.migrator(*mode, target="1.0.0")
    assert back.returncode == 0, back.stderr
    live, _, meta = read_state(sandbox.current)
    assert live["settings.motd"] == '"old"'
    assert meta == {"settings.motd": {"affected-services": '["motd"]'}, "settings.ntp": {}} or meta == {
        "settings.motd": {"affected-services": '["motd"]'}
    }
    assert datastore_version(sandbox.datastore) == Version(1, 0, 0)


def test_python_migration_error_is_reported(sandbox: Sandbox) -> None:
    real = sandbox.create("1.0.0", live={"settings.hi": [0]})
    sandbox.python_migration(
        "migrate_v1.1.0_lists", 'ReplaceListsMigration([ListReplacement("settings.hi", ["a"], ["b"])])'
    )
    run = sandbox.migrator(target="1.1.0")
    assert run.returncode == 1
    assert "non-string element" in run.stderr  # the migration's stderr, logged as an error
    assert "migrate_v1.1.0_lists failed: exit status 1" in run.stderr
    assert sandbox.current.resolve() == real


def test_progress_lines_are_shown(sandbox: Sandbox) -> None:
    sandbox.create("1.0.0")
    sandbox.shell_migration("migrate_v1.0.1_p", 'echo "progress: wrote 10000/20000 keys"\necho quiet\nmkdir "$5"')
    run = sandbox.migrator(target="1.0.1")
    assert run.returncode == 0, run.stderr
    assert "migrate_v1.0.1_p: wrote 10000/20000 keys" in run.stdout
    assert "quiet" not in run.stdout
    debug = sandbox.migrator("--log-level", "debug", target="1.0.2")
    assert debug.returncode == 0


def test_old_datastores_beyond_the_last_two_are_removed(sandbox: Sandbox) -> None:
    sandbox.create("1.0.0", live={"settings.motd": "hi"})
    sandbox.python_migration("migrate_v1.1.0_noop", "NoOpMigration()")
    sandbox.python_migration("migrate_v1.2.0_noop", "NoOpMigration()")
    sandbox.python_migration("migrate_v1.3.0_noop", "NoOpMigration()")
    dirs = []
    for version in ("1.1.0", "1.2.0", "1.3.0"):
        run = sandbox.migrator(target=version)
        assert run.returncode == 0, run.stderr
        dirs.append(sandbox.current.resolve().name)
        real_dirs = sorted(n for n in entries(sandbox.datastore) if "_" in n)
        assert len(real_dirs) <= 2
    assert sorted(n for n in entries(sandbox.datastore) if "_" in n) == sorted(dirs[-2:])
    # links that lead nowhere went with their directories; the chain to the previous one stays
    names = entries(sandbox.datastore)
    assert {"v1.0.0", "v1.0", "v1.1.0", "v1.1"}.isdisjoint(names)
    assert {"current", "v1", "v1.3", "v1.3.0", "v1.2", "v1.2.0"} <= names
    assert read_state(sandbox.current)[0]["settings.motd"] == '"hi"'


def test_failed_leftovers_are_removed_by_the_next_success(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.create("0.99.0")
    _three(sandbox, tmp_path / "result.txt", fail_third=True)
    assert sandbox.migrator(target="0.99.1").returncode == 1
    _three(sandbox, tmp_path / "result.txt")
    run = sandbox.migrator(target="0.99.1")
    assert run.returncode == 0, run.stderr
    assert len([n for n in entries(sandbox.datastore) if n.startswith("v0.99.1_")]) == 1


def test_manifest_orders_migrations(sandbox: Sandbox, tmp_path: Path) -> None:
    result = tmp_path / "r.txt"
    sandbox.create("1.0.4")
    for name in ("a", "b", "c"):
        sandbox.shell_migration(f"migrate_v1.0.5_{name}", f'echo {name} >> {result}\nmkdir "$5"')
    (sandbox.migrations / "manifest.json").write_text(
        '{"migrations": {"(1.0.4, 1.0.5)": ["migrate_v1.0.5_c.lz4", "migrate_v1.0.5_a", "migrate_v1.0.5_b.lz4"]}}'
    )
    run = sandbox.migrator(target="1.0.5")
    assert run.returncode == 0, run.stderr
    assert lines(result) == ["c", "a", "b"]
    result.unlink()
    assert sandbox.migrator(target="1.0.4").returncode == 0
    assert lines(result) == ["b", "a", "c"]


# -- the migration executable's own command line (§2.1) -----------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["--forward", "--source-datastore", "/a"],
        ["--forward", "--backward", "--source-datastore", "/a", "--target-datastore", "/b"],
        ["--source-datastore", "/a", "--target-datastore", "/b"],
        ["--forward", "--source-datastore", "/a", "--target-datastore", "/a"],
        ["--forward", "--source-datastore", "/a", "--target-datastore", "/b", "--extra"],
    ],
)
def test_migration_usage_errors_exit_2(sandbox: Sandbox, args: list[str]) -> None:
    path = sandbox.python_migration("migrate_v1.0.1_x", "NoOpMigration()")
    result = subprocess.run([str(path), *args], capture_output=True, text=True, env=sandbox.env())
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_migration_arguments_in_any_order(sandbox: Sandbox, tmp_path: Path) -> None:
    real = sandbox.create("1.0.0", live={"settings.a": 1})
    path = sandbox.python_migration("migrate_v1.0.1_x", "NoOpMigration()")
    target = tmp_path / "out"
    result = subprocess.run(
        [str(path), "--target-datastore", str(target), "--backward", "--source-datastore", str(real)],
        capture_output=True,
        text=True,
        env=sandbox.env(),
    )
    assert result.returncode == 0, result.stderr
    assert read_state(target)[0]["settings.a"] == "1"


# -- chains of Python migrations ------------------------------------------------------------------
def chainable(sandbox: Sandbox, name: str, expression: str) -> Path:
    return sandbox.chainable_migration(name, expression)


CHAIN = [
    ("migrate_v1.1.0_a", 'ReplaceStringMigration("settings.motd", "one", "two")'),
    ("migrate_v1.1.0_b", 'ReplaceStringMigration("settings.motd", "two", "three")'),
    ("migrate_v1.1.0_c", 'ReplaceListsMigration([ListReplacement("settings.l", ["x"], ["y"])])'),
    ("migrate_v1.2.0_d", 'AddSettingsMigration(["settings.new"])'),
    ("migrate_v1.2.0_e", 'AddMetadataMigration([SettingMetadata("settings.motd", ["m"])])'),
]


def _chain_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.create(
        "1.0.0",
        live={"settings.motd": "one", "settings.l": ["x"], "settings.new": 1},
        pending={"tx": {"settings.motd": "one"}},
        metadata={"settings.motd": {"m": "v", "n": "w"}},
    )
    for name, expression in CHAIN:
        chainable(sandbox, name, expression)
    sandbox.shell_migration("migrate_v1.1.0_zz", f'echo zz >> {tmp_path / "shell.txt"}\ncp -a "$3" "$5"')


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_chained_migrations_match_one_by_one(sandbox: Sandbox, tmp_path: Path, direction: str) -> None:
    _chain_sandbox(sandbox, tmp_path)
    other = Sandbox(tmp_path / "other", tmp_path / "other/var/lib/thar/datastore", sandbox.migrations)
    other.datastore.mkdir(parents=True)
    other.os_release("1.0.0")
    other.create(
        "1.0.0",
        live={"settings.motd": "one", "settings.l": ["x"], "settings.new": 1},
        pending={"tx": {"settings.motd": "one"}},
        metadata={"settings.motd": {"m": "v", "n": "w"}},
    )
    for box in (sandbox, other):
        box.os_release("1.2.0")
    chained = sandbox.migrator(target="1.2.0")
    single = other.migrator("--spawn-migrations", target="1.2.0")
    assert chained.returncode == 0, chained.stderr
    assert single.returncode == 0, single.stderr
    if direction == "backward":
        for box in (sandbox, other):
            box.os_release("1.0.0")
        chained = sandbox.migrator(target="1.0.0")
        single = other.migrator("--spawn-migrations", target="1.0.0")
        assert chained.returncode == 0, chained.stderr
        assert single.returncode == 0, single.stderr
    assert read_state(sandbox.current) == read_state(other.current)
    assert "as one chain" in chained.stdout
    assert "as one chain" not in single.stdout
    assert all(f"{name} took" in chained.stdout for name, _ in CHAIN)
    live = read_state(sandbox.current)[0]
    assert live["settings.motd"] == ('"three"' if direction == "forward" else '"one"')


def test_a_failing_chained_migration_is_named(sandbox: Sandbox, tmp_path: Path) -> None:
    real = sandbox.create("1.0.0", live={"settings.motd": "one", "settings.l": [0]})
    chainable(sandbox, "migrate_v1.1.0_a", CHAIN[0][1])
    chainable(sandbox, "migrate_v1.1.0_b", CHAIN[2][1])
    chainable(sandbox, "migrate_v1.1.0_c", CHAIN[1][1])
    run = sandbox.migrator(target="1.1.0")
    assert run.returncode == 1
    assert "migrate_v1.1.0_b failed: exit status 1" in run.stderr
    assert "non-string element" in run.stderr
    assert sandbox.current.resolve() == real


def test_a_chainable_migration_is_still_an_executable(sandbox: Sandbox, tmp_path: Path) -> None:
    real = sandbox.create("1.0.0", live={"settings.motd": "one"})
    path = chainable(sandbox, "migrate_v1.1.0_a", CHAIN[0][1])
    result = subprocess.run(
        [str(path), "--forward", "--source-datastore", str(real), "--target-datastore", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=sandbox.env(),
    )
    assert result.returncode == 0, result.stderr
    assert read_state(tmp_path / "out")[0]["settings.motd"] == '"two"'
