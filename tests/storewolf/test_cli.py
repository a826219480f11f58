"""The storewolf command (spec: storewolf-and-committer.md §2), run as a real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from thar import variants
from thar.datastore import LIVE, FilesystemDataStore, Key, Pending, Version, create_new_datastore
from thar.storewolf.cli import build_parser

from .helpers import SPEC_DEFAULTS, RunStorewolf, commit_launch, datastore_files, write

README = Path(__file__).resolve().parents[2] / "storewolf" / "README.md"


def test_worked_example_first_boot_writes_exactly_the_spec_files(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    defaults = write(tmp_path / "defaults.toml", SPEC_DEFAULTS)
    base = tmp_path / "datastore"
    link = tmp_path / "inventory" / "application.json"
    result = run_storewolf(
        "--data-store-base-path", base, "--version", "1.26.1", "--defaults", defaults,
        "--inventory-file-symlink-path", link,
        "--inventory-file-path", "/usr/share/bottlerocket/application-inventory.json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    # D/current -> v1 -> v1.26 -> v1.26.1 -> v1.26.1_<16 random [A-Za-z0-9]>
    assert os.readlink(base / "current") == "v1"
    assert os.readlink(base / "v1") == "v1.26"
    assert os.readlink(base / "v1.26") == "v1.26.1"
    real = os.readlink(base / "v1.26.1")
    assert re.fullmatch(r"v1\.26\.1_[A-Za-z0-9]{16}", real)
    assert (base / real).is_dir() and not (base / real).is_symlink()
    assert sorted(p.name for p in base.iterdir()) == sorted(["current", "v1", "v1.26", "v1.26.1", real])

    spec_lines = {  # §2.3, byte for byte
        "pending/bottlerocket-launch/settings/motd": b'"Welcome to Bottlerocket!"',
        "pending/bottlerocket-launch/settings/updates/version-lock": b'"latest"',
        "live/services/motd/configuration-files": b'["motd"]',
        "live/services/motd/restart-commands": b"[]",
        "live/configuration-files/motd/path": b'"/etc/motd"',
        "live/settings/motd.affected-services": b'["motd"]',
        "live/settings/updates/seed.setting-generator": b'"bork seed"',
    }
    # …and the rest of the §1 defaults, which the example leaves out.
    rest = {
        "live/configuration-files/motd/template-path": b'"/usr/share/templates/motd"',
        "live/settings/updates.affected-services": b'["updog","thar-be-updates"]',
        "live/settings/host-containers/admin/source.setting-generator": (
            b"\"schnauzer-v2 render --requires 'aws@v1(helpers=[ecr-prefix])' --template "
            b"'{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.11.13'\""
        ),
    }
    assert datastore_files(base) == spec_lines | rest
    # The metadata files exist although the settings they describe are not live yet.
    assert not (base / real / "live/settings/motd").exists()
    assert os.readlink(link) == "/usr/share/bottlerocket/application-inventory.json"


def test_second_boot_writes_nothing_new_and_drops_every_pending_transaction(
    tmp_path: Path, run_storewolf: RunStorewolf
) -> None:
    defaults = write(tmp_path / "defaults.toml", SPEC_DEFAULTS)
    base = tmp_path / "datastore"
    args = ("--data-store-base-path", base, "--version", "1.26.1", "--defaults", defaults)
    assert run_storewolf(*args).returncode == 0
    commit_launch(base)
    ds = FilesystemDataStore(base / "current", durable=False)
    ds.set_key(Key("settings.motd"), '"staged, never committed"', Pending("x"))
    ds.close()
    real = (base / "current").resolve()
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (real / "live").rglob("*") if p.is_file()}

    result = run_storewolf(*args)

    assert result.returncode == 0, result.stderr
    assert not (real / "pending").exists()  # launch transaction empty, "x" dropped
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (real / "live").rglob("*") if p.is_file()}
    assert after == before  # not one live file rewritten
    assert sorted(p.name for p in base.iterdir()) == sorted(["current", "v1", "v1.26", "v1.26.1", real.name])


def test_default_settings_never_committed_are_staged_again(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    defaults = write(tmp_path / "defaults.toml", SPEC_DEFAULTS)
    base = tmp_path / "datastore"
    args = ("--data-store-base-path", base, "--version", "1.26.1", "--defaults", defaults)
    assert run_storewolf(*args).returncode == 0
    assert run_storewolf(*args).returncode == 0
    pending = {k: v for k, v in datastore_files(base).items() if k.startswith("pending/")}
    assert pending == {
        "pending/bottlerocket-launch/settings/motd": b'"Welcome to Bottlerocket!"',
        "pending/bottlerocket-launch/settings/updates/version-lock": b'"latest"',
    }


def test_without_a_choice_the_thar_dev_variant_is_seeded_at_its_os_release_version(
    tmp_path: Path, run_storewolf: RunStorewolf
) -> None:
    base = tmp_path / "datastore"
    result = run_storewolf("--data-store-base-path", base)
    assert result.returncode == 0, result.stderr
    # thar-dev's os-release says VERSION_ID=0.1.0; THAR_ROOT has no usr/lib/os-release.
    assert [os.readlink(base / n) for n in ("current", "v0", "v0.1")] == ["v0", "v0.1", "v0.1.0"]
    files = datastore_files(base)
    assert files["pending/bottlerocket-launch/settings/motd"] == b'"Welcome to thar!"'
    assert files["live/settings/motd.affected-services"] == b'["motd"]'
    assert "variant 'thar-dev'" in result.stdout


def test_thar_root_defaults_toml_and_os_release_are_used_when_present(
    tmp_path: Path, thar_root: Path, run_storewolf: RunStorewolf
) -> None:
    write(thar_root / "etc/storewolf/defaults.toml", SPEC_DEFAULTS)
    write(thar_root / "usr/lib/os-release", 'NAME="thar"\nVERSION_ID="1.26.1"\n')
    base = tmp_path / "datastore"
    result = run_storewolf("--data-store-base-path", base)
    assert result.returncode == 0, result.stderr
    assert os.readlink(base / "v1.26") == "v1.26.1"
    assert datastore_files(base)["pending/bottlerocket-launch/settings/motd"] == b'"Welcome to Bottlerocket!"'


def test_the_os_release_under_thar_root_wins_over_the_variants(
    tmp_path: Path, thar_root: Path, run_storewolf: RunStorewolf
) -> None:
    write(thar_root / "usr/lib/os-release", "VERSION_ID=2.3.4\n")
    base = tmp_path / "datastore"
    assert run_storewolf("--data-store-base-path", base, "--variant", "thar-k8s").returncode == 0
    assert os.readlink(base / "v2.3") == "v2.3.4"


def test_a_defaults_d_directory_is_merged_in_file_name_order(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    d = tmp_path / "defaults.d"
    write(d / "10-base.toml", 'settings.motd = "first"\n[services.motd]\nrestart-commands = ["a"]\n')
    write(d / "9-later.toml", 'settings.motd = "second"\n')  # "9" sorts after "1"
    write(d / "README.md", "not toml")
    base = tmp_path / "datastore"
    result = run_storewolf("--data-store-base-path", base, "--version", "1.0.0", "--defaults", d)
    assert result.returncode == 0, result.stderr
    files = datastore_files(base)
    assert files["pending/bottlerocket-launch/settings/motd"] == b'"second"'
    assert files["live/services/motd/restart-commands"] == b'["a"]'


def test_a_hosts_defaults_d_is_used_and_validated_against_the_os_release_variant(
    tmp_path: Path, thar_root: Path, run_storewolf: RunStorewolf
) -> None:
    """What thar-install-units --variant leaves: no defaults.toml, a defaults.d/ and the
    variant's os-release. The directory is merged and checked against thar-dev's model."""
    write(thar_root / "usr/lib/os-release", "ID=thar\nVARIANT_ID=thar-dev\nVERSION_ID=0.3.0\n")
    write(
        thar_root / "etc/storewolf/defaults.d/10-a.toml",
        'settings.motd = "from the host"\n[services.motd]\nconfiguration-files = []\nrestart-commands = ["/x"]\n',
    )
    write(thar_root / "etc/storewolf/defaults.d/99-host.toml", "[services.motd]\nrestart-commands = []\n")
    base = tmp_path / "datastore"
    result = run_storewolf("--data-store-base-path", base)
    assert result.returncode == 0, result.stderr
    assert f"variant 'thar-dev' ({thar_root / 'etc/storewolf/defaults.d'})" in result.stdout
    assert os.readlink(base / "v0.3") == "v0.3.0"
    files = datastore_files(base)
    assert files["pending/bottlerocket-launch/settings/motd"] == b'"from the host"'
    assert files["live/services/motd/restart-commands"] == b"[]"

    write(thar_root / "etc/storewolf/defaults.d/50-bad.toml", 'settings.ntp.time-servers = ["how are you"]\n')
    bad = tmp_path / "bad-datastore"
    result = run_storewolf("--data-store-base-path", bad)
    assert result.returncode == 1
    assert "Defaults of variant 'thar-dev' do not fit its model" in result.stderr
    assert 'settings.ntp.time-servers[0] = "how are you"' in result.stderr
    assert not bad.exists()


@pytest.mark.parametrize("release", ["ID=debian\nVARIANT_ID=bookworm\nVERSION_ID=1.2.3\n", None], ids=["other", "none"])
def test_a_defaults_d_of_an_unknown_variant_is_not_validated(
    tmp_path: Path, thar_root: Path, run_storewolf: RunStorewolf, release: str | None
) -> None:
    if release is not None:
        write(thar_root / "usr/lib/os-release", release)
    write(thar_root / "etc/storewolf/defaults.d/10-a.toml", "settings.motd = 1\n")
    base = tmp_path / "datastore"
    result = run_storewolf("--data-store-base-path", base, "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    assert f"Defaults: {thar_root / 'etc/storewolf/defaults.d'}" in result.stdout
    assert datastore_files(base)["pending/bottlerocket-launch/settings/motd"] == b"1"


def test_defaults_toml_wins_over_defaults_d(tmp_path: Path, thar_root: Path, run_storewolf: RunStorewolf) -> None:
    write(thar_root / "etc/storewolf/defaults.toml", SPEC_DEFAULTS)
    write(thar_root / "etc/storewolf/defaults.d/10-a.toml", 'settings.motd = "not me"\n')
    base = tmp_path / "datastore"
    assert run_storewolf("--data-store-base-path", base, "--version", "1.0.0").returncode == 0
    assert datastore_files(base)["pending/bottlerocket-launch/settings/motd"] == b'"Welcome to Bottlerocket!"'


def test_inventory_symlink_replaces_what_is_there_and_defaults_below_thar_root(
    tmp_path: Path, thar_root: Path, run_storewolf: RunStorewolf
) -> None:
    link = tmp_path / "var/lib/bottlerocket/inventory/application.json"
    write(link, "an old regular file")
    result = run_storewolf(
        "--data-store-base-path", tmp_path / "datastore", "--version", "1.0.0", "--variant", "thar-dev",
        "--inventory-file-symlink-path", link,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert os.readlink(link) == str(thar_root / "usr/share/bottlerocket/application-inventory.json")


def test_no_inventory_symlink_without_its_flag(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    result = run_storewolf("--data-store-base-path", tmp_path / "datastore", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datastore", "root"]


def test_current_without_live_is_seeded_in_place(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    # Bottlerocket exits 1 ("already exists") here, on every boot from then on.
    defaults = write(tmp_path / "defaults.toml", SPEC_DEFAULTS)
    reference = tmp_path / "reference"
    clean = run_storewolf("--data-store-base-path", reference, "--defaults", defaults, "--version", "1.26.1")
    assert clean.returncode == 0, clean.stderr
    base = tmp_path / "datastore"
    real = create_new_datastore(base, Version(1, 26, 1))  # a datastore nothing was ever written to
    result = run_storewolf("--data-store-base-path", base, "--defaults", defaults, "--version", "1.26.1")
    assert result.returncode == 0, result.stderr
    assert (base / "current").resolve() == real
    assert sorted(p.name for p in base.iterdir()) == ["current", "v1", "v1.26", "v1.26.1", real.name]
    assert datastore_files(base) == datastore_files(reference)


def test_bad_toml_exits_1_naming_the_file_and_line(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    defaults = write(tmp_path / "defaults.toml", '[settings]\nmotd = "hi"\nmotd = "twice"\n')
    base = tmp_path / "datastore"
    result = run_storewolf("--data-store-base-path", base, "--version", "1.0.0", "--defaults", defaults)
    assert result.returncode == 1
    assert f"Merged defaults file '{defaults}' is not valid TOML" in result.stderr
    assert "line 3" in result.stderr
    assert not base.exists()


def test_bad_toml_in_a_defaults_d_directory_names_the_file(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    d = tmp_path / "defaults.d"
    write(d / "10-ok.toml", 'settings.motd = "hi"\n')
    bad = write(d / "20-bad.toml", "\n[services\n")
    result = run_storewolf("--data-store-base-path", tmp_path / "ds", "--version", "1.0.0", "--defaults", d)
    assert result.returncode == 1
    assert str(bad) in result.stderr and "line 2" in result.stderr


def test_a_missing_defaults_file_exits_1(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    missing = tmp_path / "nope.toml"
    result = run_storewolf("--data-store-base-path", tmp_path / "ds", "--version", "1.0.0", "--defaults", missing)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Could not read defaults from '{missing}': No such file or directory"


def test_invalid_defaults_for_the_variant_exit_1_naming_each_setting_and_write_nothing(
    tmp_path: Path, run_storewolf: RunStorewolf
) -> None:
    variant = tmp_path / "my-variant"
    write(variant / "variant.toml", 'name = "my-variant"\nextensions = ["motd", "ntp"]\n')
    write(variant / "defaults.d/10-defaults.toml", 'settings.motd = 1\nsettings.ntp.time-servers = ["how are you"]\n')
    base = tmp_path / "datastore"
    result = run_storewolf("--data-store-base-path", base, "--version", "1.0.0", "--variant", variant)
    assert result.returncode == 1
    assert "settings.motd = 1" in result.stderr
    assert 'settings.ntp.time-servers[0] = "how are you"' in result.stderr
    assert not base.exists()


def test_invalid_defaults_leave_an_existing_datastore_untouched(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    base = tmp_path / "datastore"
    assert run_storewolf("--data-store-base-path", base, "--version", "1.0.0").returncode == 0
    before = datastore_files(base)
    variant = tmp_path / "broken"
    write(variant / "variant.toml", 'extensions = ["motd"]\n')
    write(variant / "defaults.d/10.toml", "[settings.bogus]\nx = 1\n")
    result = run_storewolf("--data-store-base-path", base, "--variant", variant)
    assert result.returncode == 1 and "settings.bogus" in result.stderr
    assert datastore_files(base) == before  # the launch transaction was not even dropped


def test_metadata_with_an_integer_exits_1(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    defaults = write(tmp_path / "defaults.toml", "[metadata.settings.motd]\naffected-services = 1\n")
    result = run_storewolf("--data-store-base-path", tmp_path / "ds", "--version", "1.0.0", "--defaults", defaults)
    assert result.returncode == 1
    assert "Default settings' metadata has unexpected types" in result.stderr


def test_an_unknown_variant_exits_1_naming_thars_variants(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    result = run_storewolf("--data-store-base-path", tmp_path / "ds", "--variant", "no-such-variant")
    assert result.returncode == 1
    assert all(name in result.stderr for name in variants.names())


def test_no_version_anywhere_exits_1_asking_for_one(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    defaults = write(tmp_path / "defaults.toml", SPEC_DEFAULTS)
    result = run_storewolf("--data-store-base-path", tmp_path / "ds", "--defaults", defaults)
    assert result.returncode == 1
    assert "pass --version" in result.stderr


def test_an_existing_datastore_needs_no_version(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    defaults = write(tmp_path / "defaults.toml", SPEC_DEFAULTS)
    base = tmp_path / "ds"
    assert run_storewolf("--data-store-base-path", base, "--version", "1.0.0", "--defaults", defaults).returncode == 0
    result = run_storewolf("--data-store-base-path", base, "--defaults", defaults)
    assert result.returncode == 0, result.stderr


def test_pending_that_cannot_be_removed_exits_1(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    base = tmp_path / "ds"
    create_new_datastore(base, Version(1, 0, 0))
    ds = FilesystemDataStore(base / "current", durable=False)
    ds.set_key(Key("settings.motd"), '"hi"', LIVE)
    ds.close()
    write(base / "current" / "pending", "a file where the directory should be")
    result = run_storewolf("--data-store-base-path", base)
    assert result.returncode == 1
    assert result.stderr.startswith("Unable to clear pending transactions")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-arguments"),
        pytest.param(["--version", "1.0.0"], id="missing-data-store-base-path"),
        pytest.param(["--data-store-base-path"], id="flag-without-value"),
        pytest.param(["--data-store-base-path", "D", "--bogus"], id="unknown-argument"),
        pytest.param(["--data-store-base-path", "D", "extra"], id="positional-argument"),
        pytest.param(["--data-store-base-path", "D", "--version", "1.2"], id="bad-version"),
        pytest.param(["--data-store-base-path", "D", "--log-level", "loud"], id="bad-log-level"),
        pytest.param(["--data-store-base-path", "D", "--defaults", "f", "--variant", "v"], id="defaults-and-variant"),
        pytest.param(["--data-store-base-path", "D", "--inventory-file-path", "p"], id="inventory-target-alone"),
        pytest.param(["--data-store", "D"], id="abbreviation"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, run_storewolf: RunStorewolf, args: list[str]) -> None:
    result = run_storewolf(*args)
    assert result.returncode == 2
    assert "usage: storewolf" in result.stderr
    assert not (Path.cwd() / "D").exists()


def test_log_level_error_prints_nothing_on_success(tmp_path: Path, run_storewolf: RunStorewolf) -> None:
    quiet = run_storewolf("--data-store-base-path", tmp_path / "a", "--version", "1.0.0", "--log-level", "ERROR")
    chatty = run_storewolf("--data-store-base-path", tmp_path / "b", "--version", "1.0.0", "--log-level", "trace")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert chatty.returncode == 0
    assert re.match(r"\d\d:\d\d:\d\d \[INFO\] Storewolf started\n", chatty.stdout)
    assert "[DEBUG]" in chatty.stdout


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "storewolf"
    assert script.is_file(), "pip install -e . makes the storewolf command"
    text = script.read_text()
    assert "thar.storewolf.cli" in text


def test_every_flag_is_in_the_readme() -> None:
    readme = README.read_text()
    actions = [action for action in build_parser()._actions if action.dest != "help"]
    flags = [opt for action in actions for opt in action.option_strings]
    assert [flag for flag in flags if f"`{flag}" not in readme and f"{flag} " not in readme] == []


def test_a_merged_defaults_file_does_not_load_the_settings_model(tmp_path: Path, thar_root: Path) -> None:
    defaults = write(tmp_path / "defaults.toml", SPEC_DEFAULTS)
    code = (
        "import sys\nfrom thar.storewolf.cli import main\n"
        f"rc = main(['--data-store-base-path', {str(tmp_path / 'ds')!r}, '--version', '1.0.0',"
        f" '--defaults', {str(defaults)!r}, '--log-level', 'error'])\n"
        "print(rc, sorted(m for m in ('pydantic', 'thar.models') if m in sys.modules))\n"
    )
    env = {**os.environ, "THAR_ROOT": str(thar_root)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout == "0 []\n", result.stderr
