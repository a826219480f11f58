"""early-boot-config end to end: the real apiserver in a thar-dev sandbox, user data in the
sandbox's files, the command as a process (spec/early-boot-config.md)."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.early_boot_config.sandbox import Sandbox

USER_DATA = """\
[settings]
motd = "hello from user data"

[settings.ntp]
time-servers = ["https://time.example.com"]

[settings.kernel.sysctl]
"vm.max_map_count" = "262144"

[other]
ignored = true
"""


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def assert_user_data_applied(sandbox: Sandbox) -> None:
    pending = sandbox.pending()
    assert pending["motd"] == "hello from user data"
    assert pending["ntp"]["time-servers"] == ["https://time.example.com"]
    assert pending["kernel"]["sysctl"]["vm.max_map_count"] == "262144"


def test_user_data_is_staged_in_the_launch_transaction(fresh: Sandbox) -> None:
    write(fresh.user_data, USER_DATA)
    before = fresh.pending()
    result = fresh.run("early_boot_config")
    assert result.returncode == 0, result.stderr
    assert_user_data_applied(fresh)
    pending = fresh.pending()
    assert pending["ntp"]["options"] == before["ntp"]["options"]  # defaults merge per key
    assert "settings" not in fresh.live()  # never committed here
    assert fresh.marker.exists()
    assert "Found user data via user data from" in result.stdout


def test_gzip_user_data_is_detected(fresh: Sandbox) -> None:
    write(fresh.user_data, gzip.compress(USER_DATA.encode()))
    result = fresh.run("early_boot_config")
    assert result.returncode == 0, result.stderr
    assert_user_data_applied(fresh)


def test_the_user_data_flag_names_another_file(fresh: Sandbox, tmp_path: Path) -> None:
    other = write(tmp_path / "elsewhere.toml", USER_DATA)
    result = fresh.run("early_boot_config", "--user-data", other)
    assert result.returncode == 0, result.stderr
    assert_user_data_applied(fresh)


def test_invalid_toml_names_line_and_column_and_changes_nothing(fresh: Sandbox) -> None:
    write(fresh.user_data, '[settings]\nmotd = "fine"\nntp = {time-servers = [}\n')
    before = fresh.pending()
    result = fresh.run("early_boot_config")
    assert result.returncode == 1
    assert str(fresh.user_data) in result.stderr
    assert "line 3, column" in result.stderr
    assert fresh.pending() == before
    assert not fresh.marker.exists()


def test_a_duplicate_table_is_an_error(fresh: Sandbox) -> None:
    write(fresh.user_data, '[settings]\nmotd = "a"\n[settings]\nmotd = "b"\n')
    result = fresh.run("early_boot_config")
    assert result.returncode == 1
    assert "line 3" in result.stderr


def test_an_invalid_setting_names_the_setting_and_the_rule_and_changes_nothing(fresh: Sandbox) -> None:
    # The defaults file is fine; the user data has two problems: nothing at all is applied.
    write(fresh.root / "local/user-data-defaults.toml", '[settings]\nmotd = "from defaults"\n')
    write(
        fresh.user_data,
        '[settings]\nmotd = 5\n[settings.ntp]\ntime-servers = ["how are you"]\n[settings.kernel]\nnot-a-setting = 1\n',
    )
    before = fresh.pending()
    result = fresh.run("early_boot_config")
    assert result.returncode == 1
    message = result.stderr
    assert "thar-dev" in message and str(fresh.user_data) in message
    assert "settings.motd = 5: must be a string" in message
    assert "settings.ntp.time-servers[0]" in message and "how are you" in message
    assert "settings.kernel" in message and "not-a-setting" in message
    assert fresh.pending() == before
    assert not fresh.marker.exists()


def test_the_variant_flag_checks_with_the_model_here(fresh: Sandbox) -> None:
    write(fresh.user_data, '[settings]\nmotd = "fine"\n[settings.network]\nhostname = "Not_Valid"\n')
    before = fresh.pending()
    result = fresh.run("early_boot_config", "--variant", "thar-dev")
    assert result.returncode == 1
    assert "variant 'thar-dev' (1 problem(s))" in result.stderr
    assert 'settings.network.hostname = "Not_Valid"' in result.stderr
    assert fresh.pending() == before
    write(fresh.user_data, '[settings]\nmotd = "fine"\n')
    result = fresh.run("early_boot_config", "--variant", "thar-dev")
    assert result.returncode == 0, result.stderr
    assert "User data fits the settings of variant 'thar-dev'" in result.stdout
    assert fresh.pending()["motd"] == "fine"


def test_the_check_leaves_no_scratch_transaction(fresh: Sandbox) -> None:
    write(fresh.user_data, "[settings]\nmotd = 5\n")
    assert fresh.run("early_boot_config").returncode == 1
    write(fresh.user_data, '[settings]\nmotd = "five"\n')
    assert fresh.run("early_boot_config").returncode == 0
    assert fresh.client().get_json("/tx/list") == ["bottlerocket-launch"]


def test_without_validation_the_api_still_rejects_bad_settings(fresh: Sandbox) -> None:
    write(fresh.user_data, "[settings]\nmotd = 5\n")
    before = fresh.pending()
    result = fresh.run("early_boot_config", "--no-validate")
    assert result.returncode == 1
    assert "settings.motd" in result.stderr
    assert fresh.pending() == before


def test_a_date_is_named_with_its_setting(fresh: Sandbox) -> None:
    write(fresh.user_data, "[settings]\nmotd = 1979-05-27\n")
    result = fresh.run("early_boot_config")
    assert result.returncode == 1
    assert "settings.motd = 1979-05-27: a TOML date/time cannot be a setting" in result.stderr


def test_a_table_declared_twice_is_named_with_both_lines(fresh: Sandbox) -> None:
    write(fresh.user_data, '[settings.ntp]\ntime-servers = ["a"]\n\n[settings.ntp]\noptions = []\n')
    result = fresh.run("early_boot_config")
    assert result.returncode == 1
    assert "table [settings.ntp] is declared twice: at line 4, first at line 1" in result.stderr
    assert "('settings'" not in result.stderr


def test_user_data_without_settings_is_an_error(fresh: Sandbox) -> None:
    write(fresh.user_data, '[kubernetes]\ncluster-name = "x"\n')
    result = fresh.run("early_boot_config")
    assert result.returncode == 1
    assert "TOML data did not contain 'settings' section" in result.stderr


def test_an_empty_file_is_no_user_data(fresh: Sandbox) -> None:
    write(fresh.user_data, "")
    before = fresh.pending()
    result = fresh.run("early_boot_config")
    assert result.returncode == 0, result.stderr
    assert "exists but is empty" in result.stdout
    assert fresh.pending() == before
    assert fresh.marker.exists()


def test_whitespace_only_is_not_empty(fresh: Sandbox) -> None:
    write(fresh.user_data, "  \n")
    result = fresh.run("early_boot_config")
    assert result.returncode == 1
    assert "did not contain 'settings'" in result.stderr


def test_no_user_data_at_all_still_writes_the_marker(fresh: Sandbox) -> None:
    before = fresh.pending()
    result = fresh.run("early_boot_config")
    assert result.returncode == 0, result.stderr
    assert fresh.pending() == before
    assert fresh.marker.exists()


def test_the_marker_prevents_a_second_run(fresh: Sandbox) -> None:
    write(fresh.user_data, USER_DATA)
    assert fresh.run("early_boot_config").returncode == 0
    write(fresh.user_data, '[settings]\nmotd = "second boot"\n')
    result = fresh.run("early_boot_config")
    assert result.returncode == 0, result.stderr
    assert "already ran" in result.stdout
    assert fresh.pending()["motd"] == "hello from user data"


def test_later_sources_override_earlier_ones_key_by_key(fresh: Sandbox) -> None:
    write(
        fresh.root / "local/user-data-defaults.toml",
        '[settings]\nmotd = "defaults"\n[settings.ntp]\ntime-servers = ["https://a.example"]\noptions = ["iburst"]\n',
    )
    write(fresh.user_data, '[settings]\nmotd = "user"\n[settings.ntp]\ntime-servers = ["https://b.example"]\n')
    write(fresh.root / "local/user-data-overrides.toml", '[settings]\nmotd = "overrides"\n')
    result = fresh.run("early_boot_config")
    assert result.returncode == 0, result.stderr
    pending = fresh.pending()
    assert pending["motd"] == "overrides"
    assert pending["ntp"] == {"time-servers": ["https://b.example"], "options": ["iburst"]}


def _provider(directory: Path, name: str, body: str) -> Path:
    """A provider program in ``directory/bin`` linked as ``directory/links/name``."""
    program = write(directory / "bin" / name, "#!/bin/sh\n" + body + "\n")
    program.chmod(0o755)
    link = directory / "links" / name
    link.parent.mkdir(exist_ok=True)
    os.symlink(program, link)
    return link


def test_providers_directory_protocol(fresh: Sandbox, tmp_path: Path) -> None:
    d = tmp_path / "p"
    _provider(
        d,
        "10-first",
        """echo 'first says hi' >&2; echo '{"json": {"motd": "first", "ntp": {"options": ["a"]}}, "desc": "one"}'""",
    )
    _provider(d, "20-nothing", "echo")
    _provider(d, "30-second", """echo '{"json": {"motd": "second"}, "desc": "two"}'""")
    regular = write(d / "links" / "25-regular-file", '#!/bin/sh\necho \'{"json": {"motd": "regular"}, "desc": "x"}\'\n')
    regular.chmod(0o755)
    result = fresh.run("early_boot_config", "--providers-dir", d / "links")
    assert result.returncode == 0, result.stderr
    pending = fresh.pending()
    assert pending["motd"] == "second"  # later wins; the regular file is not a provider
    assert pending["ntp"]["options"] == ["a"]
    assert "Provider '10-first': first says hi" in result.stdout
    assert "No user data found via 20-nothing" in result.stdout


def test_providers_start_at_once(fresh: Sandbox, tmp_path: Path) -> None:
    # The first provider only answers once the last has started: serial starts would never finish.
    d = tmp_path / "p"
    flag = tmp_path / "last-started"
    _provider(
        d,
        "10-waits",
        f"""i=0
while [ ! -e {flag} ]; do i=$((i+1)); [ $i -gt 200 ] && {{ echo "started alone"; exit 1; }}; sleep 0.05; done
echo '{{"json": {{"motd": "waited"}}, "desc": "waiter"}}'""",
    )
    _provider(d, "90-last", f"touch {flag}; echo")
    result = fresh.run("early_boot_config", "--providers-dir", d / "links")
    assert result.returncode == 0, result.stdout + result.stderr
    assert fresh.pending()["motd"] == "waited"


def test_a_failing_provider_stops_everything(fresh: Sandbox, tmp_path: Path) -> None:
    d = tmp_path / "p"
    _provider(d, "10-good", """echo '{"json": {"motd": "good"}, "desc": "good"}'""")
    _provider(d, "20-bad", "echo 'no metadata service here'; exit 1")
    before = fresh.pending()
    result = fresh.run("early_boot_config", "--providers-dir", d / "links")
    assert result.returncode == 1
    assert "20-bad' failed: no metadata service here (exit code 1)" in result.stderr
    assert fresh.pending() == before
    assert not fresh.marker.exists()


def test_a_provider_with_bad_output_fails(fresh: Sandbox, tmp_path: Path) -> None:
    d = tmp_path / "p"
    _provider(d, "10-chatty", "echo 'settings: yes please'")
    result = fresh.run("early_boot_config", "--providers-dir", d / "links")
    assert result.returncode == 1
    assert "10-chatty' failed: its output is not JSON" in result.stderr


def test_installed_providers_run_as_programs(fresh: Sandbox) -> None:
    write(fresh.user_data, USER_DATA)
    write(fresh.root / "local/user-data-overrides.toml", '[settings]\nmotd = "overridden"\n')
    env = {**os.environ, "THAR_ROOT": str(fresh.root)}
    done = subprocess.run(
        [sys.executable, "-m", "thar.early_boot_config", "install-providers"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    links = sorted(p.name for p in (fresh.root / "usr/libexec/early-boot-config/data-providers.d").iterdir())
    assert links == ["10-local-defaults", "20-local-user-data", "99-local-overrides"]
    try:
        result = fresh.run("early_boot_config")
        assert result.returncode == 0, result.stderr
        assert "Providers from" in result.stdout
        pending = fresh.pending()
        assert pending["motd"] == "overridden"
        assert pending["kernel"]["sysctl"]["vm.max_map_count"] == "262144"
    finally:
        shutil.rmtree(fresh.root / "usr/libexec")


def test_bad_arguments_are_a_usage_error(fresh: Sandbox) -> None:
    result = fresh.run("early_boot_config", "--nope")
    assert result.returncode == 2
    assert "usage: early-boot-config" in result.stderr
