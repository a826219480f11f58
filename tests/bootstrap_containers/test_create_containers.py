"""``bootstrap-containers create-containers`` and ``mark-bootstrap`` (Bottlerocket's
sources/api/bootstrap-containers): per container, the environment file, the drop-in tying
its unit to configured.target, the persistent directory and user data, and the systemctl and
host-ctr calls each mode makes (recorded: no systemd here); mark-bootstrap against the real
apiserver of a sandbox."""

from __future__ import annotations

import base64
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.thar_be_settings.conftest import Sandbox

from .conftest import Recorder, run_program, settings

MakeSandbox = Callable[..., Sandbox]
IMAGE = "registry.example/thar/boot:1"


def write_config(root: Path, text: str) -> Path:
    path = root / "etc/bootstrap-containers/bootstrap-containers.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def create(root: Path, recorder: dict[str, Recorder], *args: str) -> tuple[int, str, str]:
    done = run_program(
        "thar.bootstrap_containers", *args, "create-containers", env={"THAR_ROOT": str(root)}, recorders=recorder
    )
    return done.returncode, done.stdout, done.stderr


def test_a_once_container_gets_its_env_file_drop_in_user_data_and_is_enabled(
    tmp_path: Path, recorder: dict[str, Recorder]
) -> None:
    user_data = "ʕ·͡ᴥ·ʔ\n".encode()
    write_config(
        tmp_path,
        f'["bear"]\nsource = "{IMAGE}"\nmode = "once"\nessential = true\n'
        f'user-data = "{base64.b64encode(user_data).decode()}"\n',
    )
    code, out, err = create(tmp_path, recorder)
    assert code == 0, err
    assert (tmp_path / "etc/bootstrap-containers/bear.env").read_text() == f"CTR_SOURCE={IMAGE}\nCTR_MODE=once\n"
    drop_in = tmp_path / "etc/systemd/system/bootstrap-containers@bear.service.d/overrides.conf"
    assert drop_in.read_text() == "[Install]\nRequiredBy=configured.target\n"
    stored = tmp_path / "local/bootstrap-containers/bear/user-data"
    assert stored.read_bytes() == user_data
    assert stat.S_IMODE((tmp_path / "local/bootstrap-containers").stat().st_mode) == 0o700
    assert recorder["systemctl"].calls() == [
        ["is-active", "host-containerd.service"],
        ["enable", "bootstrap-containers@bear.service", "--no-reload"],
    ]
    assert recorder["host-ctr"].calls() == []
    assert "Enabling unit 'bootstrap-containers@bear.service'" in out


def test_a_non_essential_container_is_only_wanted_by_configured_target(
    tmp_path: Path, recorder: dict[str, Recorder]
) -> None:
    write_config(tmp_path, f'["always-box"]\nsource = "{IMAGE}"\nmode = "always"\n')
    code, _, err = create(tmp_path, recorder)
    assert code == 0, err
    drop_in = tmp_path / "etc/systemd/system/bootstrap-containers@always-box.service.d/overrides.conf"
    assert drop_in.read_text() == "[Install]\nWantedBy=configured.target\n"
    assert (tmp_path / "etc/bootstrap-containers/always-box.env").read_text().endswith("CTR_MODE=always\n")
    # No user data: the persistent directory is made all the same, empty.
    assert list((tmp_path / "local/bootstrap-containers/always-box").iterdir()) == []


def test_a_leftover_container_is_cleaned_up_before_a_unit_not_yet_enabled_is_enabled(
    tmp_path: Path, recorder: dict[str, Recorder]
) -> None:
    write_config(tmp_path, f'["a"]\nsource = "{IMAGE}"\nmode = "once"\n["b"]\nsource = "{IMAGE}"\nmode = "once"\n')
    rules = {"is-active host-containerd.service": 0, "is-enabled bootstrap-containers@b": 0, "is-enabled": 1}
    recorder["systemctl"].exit_with(rules)
    code, _, err = create(tmp_path, recorder)
    assert code == 0, err
    assert recorder["host-ctr"].calls() == [["clean-up", "--container-id", "boot.a"]]  # b was enabled already
    assert ["enable", "bootstrap-containers@b.service", "--no-reload"] in recorder["systemctl"].calls()


@pytest.mark.parametrize("containerd_active", [True, False])
def test_an_off_container_is_disabled_and_cleaned_up_when_host_containerd_runs(
    tmp_path: Path, recorder: dict[str, Recorder], containerd_active: bool
) -> None:
    write_config(tmp_path, f'["bear"]\nsource = "{IMAGE}"\nmode = "off"\nessential = false\n')
    if containerd_active:
        recorder["systemctl"].exit_with({"is-active": 0})
    code, out, err = create(tmp_path, recorder)
    assert code == 0, err
    assert recorder["systemctl"].calls() == [
        ["disable", "bootstrap-containers@bear.service", "--no-reload"],
        ["is-active", "host-containerd.service"],
    ]
    expected = [["clean-up", "--container-id", "boot.bear"]] if containerd_active else []
    assert recorder["host-ctr"].calls() == expected
    assert (tmp_path / "etc/bootstrap-containers/bear.env").read_text().endswith("CTR_MODE=off\n")
    assert "is 'off', disabling unit" in out


def test_a_failing_container_is_reported_and_the_others_are_still_handled(
    tmp_path: Path, recorder: dict[str, Recorder]
) -> None:
    write_config(
        tmp_path,
        '["a-no-source"]\nmode = "once"\n'
        f'["b-bad-data"]\nsource = "{IMAGE}"\nmode = "once"\nuser-data = "not base64!"\n'
        f'["c-good"]\nsource = "{IMAGE}"\nmode = "always"\n',
    )
    code, _, err = create(tmp_path, recorder)
    assert code == 1
    assert "Failed to handle bootstrap container 'a-no-source': missing field 'source'" in err
    assert "Failed to handle bootstrap container 'b-bad-data'" in err and "base64" in err
    assert err.strip().endswith("Failed to manage 2 of 3 bootstrap containers")
    assert ["enable", "bootstrap-containers@c-good.service", "--no-reload"] in recorder["systemctl"].calls()
    assert not (tmp_path / "etc/bootstrap-containers/a-no-source.env").exists()


def test_a_failing_systemctl_fails_the_container_and_names_the_command(
    tmp_path: Path, recorder: dict[str, Recorder]
) -> None:
    write_config(tmp_path, f'["bear"]\nsource = "{IMAGE}"\nmode = "once"\n')
    recorder["systemctl"].exit_with({"is-active": 3, "is-enabled": 1, "enable": 1})
    code, _, err = create(tmp_path, recorder)
    assert code == 1
    assert f"'{recorder['systemctl'].path} enable bootstrap-containers@bear.service --no-reload' failed" in err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[bear\n", "not TOML"),
        ('["bear"]\nsource = "x"\nmode = "twice"\n', "invalid bootstrap mode 'twice'"),
        ('["bad name"]\nsource = "x"\n', "'bad name' is not a valid name"),
        ('["bear"]\nsource = "x"\nsuperpowered = true\n', "unknown field 'superpowered'"),
    ],
)
def test_a_config_that_does_not_parse_is_refused_whole(
    tmp_path: Path, recorder: dict[str, Recorder], text: str, reason: str
) -> None:
    path = write_config(tmp_path, text)
    code, _, err = create(tmp_path, recorder)
    assert code == 1
    assert f"Failed to read settings from config at {path}: " in err and reason in err
    assert recorder["systemctl"].calls() == []


def test_a_missing_config_names_its_path(tmp_path: Path, recorder: dict[str, Recorder]) -> None:
    code, _, err = create(tmp_path, recorder, "--config-path", str(tmp_path / "nowhere.toml"))
    assert code == 1
    assert f"Failed to read settings from config at {tmp_path / 'nowhere.toml'}: No such file or directory" in err


def test_under_a_sandbox_root_systemctl_acts_on_the_roots_unit_files_only(tmp_path: Path) -> None:
    """Without a systemctl given, a sandbox root's units are enabled with --root (never the
    machine's), and host-containerd is taken as not running."""
    unitdir = tmp_path / "usr/lib/systemd/system"
    unitdir.mkdir(parents=True)
    (unitdir / "bootstrap-containers@.service").write_text("[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n")
    write_config(tmp_path, f'["bear"]\nsource = "{IMAGE}"\nmode = "once"\nessential = true\n')
    done = run_program("thar.bootstrap_containers", "create-containers", env={"THAR_ROOT": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    link = tmp_path / "etc/systemd/system/configured.target.requires/bootstrap-containers@bear.service"
    assert link.is_symlink()


def test_the_rendered_settings_are_what_create_containers_reads(
    make_sandbox: MakeSandbox, recorder: dict[str, Recorder]
) -> None:
    """settings.bootstrap-containers → thar-be-settings renders the variant's template → the
    files create-containers writes."""
    sandbox = make_sandbox("thar-dev")
    data = base64.b64encode(b"hello").decode()
    done = sandbox.run(
        "apiclient", "--socket-path", str(sandbox.socket), "set",
        f"bootstrap-containers.bear.source={IMAGE}", "bootstrap-containers.bear.mode=once",
        f"bootstrap-containers.bear.user-data={data}", "bootstrap-containers.bear.essential=true",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rendered = sandbox.path("/etc/bootstrap-containers/bootstrap-containers.toml")
    sandbox.wait_for(lambda: rendered.exists() and "bear" in rendered.read_text(), "the rendered bootstrap containers")
    sandbox.wait_idle()
    code, _, err = create(sandbox.root, recorder)
    assert code == 0, err
    assert sandbox.path("/etc/bootstrap-containers/bear.env").read_text() == f"CTR_SOURCE={IMAGE}\nCTR_MODE=once\n"
    assert sandbox.path("/local/bootstrap-containers/bear/user-data").read_bytes() == b"hello"
    drop_in = sandbox.path("/etc/systemd/system/bootstrap-containers@bear.service.d/overrides.conf")
    assert "RequiredBy=configured.target" in drop_in.read_text()


@pytest.mark.parametrize(("mode", "after"), [("once", "off"), ("always", "always")])
def test_mark_bootstrap_turns_a_once_container_off_through_the_api(
    make_sandbox: MakeSandbox, mode: str, after: str
) -> None:
    sandbox = make_sandbox("thar-dev")
    done = sandbox.run(
        "apiclient", "--socket-path", str(sandbox.socket), "set",
        f"bootstrap-containers.bear.source={IMAGE}", f"bootstrap-containers.bear.mode={mode}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    marked = run_program(
        "thar.bootstrap_containers", "mark-bootstrap", "--container-id", "bear", "--mode", mode, env=sandbox.env
    )
    assert marked.returncode == 0, marked.stderr
    assert f"Mode for 'bear' is '{mode}'" in marked.stdout
    current = settings(sandbox, "settings.bootstrap-containers")
    assert current == {"settings": {"bootstrap-containers": {"bear": {"source": IMAGE, "mode": after}}}}


def test_mark_bootstrap_without_the_api_fails_and_says_so(tmp_path: Path) -> None:
    done = run_program(
        "thar.bootstrap_containers", "mark-bootstrap", "--container-id", "bear", "--mode", "once",
        env={"THAR_ROOT": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 1
    assert "Failed to set settings.bootstrap-containers.bear.mode=off: " in done.stderr


def test_mark_bootstrap_refuses_an_unknown_mode(tmp_path: Path) -> None:
    done = run_program(
        "thar.bootstrap_containers", "mark-bootstrap", "--container-id", "bear", "--mode", "twice",
        env={"THAR_ROOT": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2
    assert "invalid choice: 'twice'" in done.stderr


def test_global_flags_may_follow_the_subcommand(tmp_path: Path, recorder: dict[str, Recorder]) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text(f'["bear"]\nsource = "{IMAGE}"\nmode = "once"\n')
    done = run_program(
        "thar.bootstrap_containers", "create-containers", "--config-path", str(path), "--log-level", "error",
        env={"THAR_ROOT": str(tmp_path)}, recorders=recorder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # info lines are below --log-level error
    assert (tmp_path / "etc/bootstrap-containers/bear.env").is_file()
