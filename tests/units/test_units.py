"""The systemd units of ``units/``: each parses, the dependency graph is the boot order of the
spec (migrator → storewolf → apiserver → early-boot-config → sundog → settings-applier), every
program is one of thar's console scripts, thar-boot follows the same order, and the installed
units pass ``systemd-analyze verify`` where the machine has it."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from thar.sandbox.steps import BOOT_STEPS

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "units"
BOOT_ORDER = [
    "migrator.service",
    "storewolf.service",
    "apiserver.service",
    "early-boot-config.service",
    "sundog.service",
    "settings-applier.service",
]
# Units of systemd itself that thar's units may name.
SYSTEMD_UNITS = {"network-online.target", "multi-user.target", "sockets.target", "systemd-logind.service"}
DEPENDENCIES = ("After", "Before", "Requires", "Wants", "RequiredBy", "WantedBy")
KNOWN_SECTIONS = {"Unit", "Service", "Socket", "Install"}


@dataclass
class Unit:
    name: str
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def values(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def names(self, section: str, key: str) -> list[str]:
        """A space-separated list setting, every occurrence."""
        return [name for value in self.values(section, key) for name in value.split()]

    def one(self, section: str, key: str) -> str:
        values = self.values(section, key)
        assert len(values) == 1, f"{self.name}: [{section}] {key}= given {len(values)} times"
        return values[0]


class UnitSyntaxError(Exception):
    pass


def parse_unit(path: Path) -> Unit:
    """systemd's unit file syntax: [Section] headers, Key=Value lines (a key may repeat),
    `#`/`;` comments, a trailing backslash continues the line."""
    unit = Unit(path.name)
    section: str | None = None
    lines = iter(enumerate(path.read_text(encoding="utf-8").splitlines(), 1))
    for number, raw in lines:
        line = raw.strip()
        while line.endswith("\\"):
            more = next(lines, None)
            if more is None:
                raise UnitSyntaxError(f"{path.name}:{number}: continuation at the end of the file")
            line = line[:-1].rstrip() + " " + more[1].strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise UnitSyntaxError(f"{path.name}:{number}: bad section header {line!r}")
            section = line[1:-1]
            unit.sections.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        if section is None or not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()):
            raise UnitSyntaxError(f"{path.name}:{number}: not a Key=Value line in a section: {line!r}")
        unit.sections[section].setdefault(key.strip(), []).append(value.strip())
    return unit


def unit_files() -> list[Path]:
    return sorted(p for p in UNITS.iterdir() if p.suffix in (".service", ".socket", ".target"))


@pytest.fixture(scope="module")
def units() -> dict[str, Unit]:
    return {path.name: parse_unit(path) for path in unit_files()}


def thar_scripts() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(project["project"]["scripts"])


def commands(unit: Unit) -> Iterator[tuple[str, list[str]]]:
    for key in ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop", "ExecReload"):
        for value in unit.values("Service", key):
            yield key, shlex.split(value.lstrip("-@+!:"))


def order_edges(units: dict[str, Unit]) -> set[tuple[str, str]]:
    """(earlier, later) for every After= and Before= between thar's units."""
    edges = set()
    for name, unit in units.items():
        edges |= {(other, name) for other in unit.names("Unit", "After") if other in units}
        edges |= {(name, other) for other in unit.names("Unit", "Before") if other in units}
    return edges


def topological_orders(nodes: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """Every order of ``nodes`` that respects ``edges`` (the graph is small)."""
    if not nodes:
        return [[]]
    free = sorted(n for n in nodes if not any(b == n and a in nodes for a, b in edges))
    return [[n, *rest] for n in free for rest in topological_orders(nodes - {n}, edges)]


# -- each unit on its own ---------------------------------------------------------------------------


# The units beside the boot steps: the socket, the two targets, and what acts on the rendered files.
OTHER_UNITS = ["apiserver.socket", "preconfigured.target", "configured.target", "set-hostname.service"]
# Bootstrap commands and containers (bootstrap_containers/), and what starts the units enabled for
# configured.target during the boot.
BOOTSTRAP_UNITS = ["bootstrap-commands.service", "bootstrap-containers@.service", "activate-configured.service"]
OTHER_UNITS += BOOTSTRAP_UNITS
OTHER_UNITS += ["host-containerd.service", "host-containers@.service"]  # host containers
OTHER_UNITS += ["mark-successful-boot.service"]  # the update system's A/B partition sets (signpost)


def test_the_units_directory_has_one_unit_per_boot_step_plus_the_socket_the_targets_and_set_hostname() -> None:
    assert sorted(p.name for p in unit_files()) == sorted([*BOOT_ORDER, *OTHER_UNITS])


@pytest.mark.parametrize("path", unit_files(), ids=lambda p: p.name)
def test_unit_parses_with_known_sections_and_a_description(path: Path) -> None:
    unit = parse_unit(path)
    assert set(unit.sections) <= KNOWN_SECTIONS, unit.sections.keys()
    assert unit.one("Unit", "Description")
    kind = {".service": "Service", ".socket": "Socket", ".target": None}[path.suffix]
    if kind is not None:
        assert kind in unit.sections


@pytest.mark.parametrize("name", BOOT_ORDER)
def test_every_program_is_a_thar_console_script_in_usr_bin(name: str, units: dict[str, Unit]) -> None:
    scripts = thar_scripts()
    found = list(commands(units[name]))
    assert found, f"{name} runs nothing"
    for key, argv in found:
        assert argv[0].startswith("/usr/bin/"), f"{name} {key}: {argv[0]} is not under /usr/bin"
        assert Path(argv[0]).name in scripts, f"{name} {key}: {argv[0]} is not one of thar's console scripts"


@pytest.mark.parametrize("name", BOOT_ORDER)
def test_boot_steps_are_oneshots_that_stay_active_and_refuse_manual_runs(name: str, units: dict[str, Unit]) -> None:
    unit = units[name]
    if name == "apiserver.service":
        assert unit.one("Service", "Type") == "notify"
        assert unit.one("Service", "Restart") == "always"
        return
    assert unit.one("Service", "Type") == "oneshot"
    assert unit.one("Service", "RemainAfterExit") == "true"
    assert unit.one("Unit", "RefuseManualStart") == "true"
    assert unit.one("Unit", "RefuseManualStop") == "true"


# -- the graph --------------------------------------------------------------------------------------


def test_every_dependency_names_a_unit_of_thar_or_of_systemd(units: dict[str, Unit]) -> None:
    unknown = {
        (name, key, other)
        for name, unit in units.items()
        for section in ("Unit", "Install")
        for key in DEPENDENCIES
        for other in unit.names(section, key)
        if other not in units and other not in SYSTEMD_UNITS
    }
    assert unknown == set()


def test_the_boot_order_is_exactly_the_specs_and_has_no_cycle(units: dict[str, Unit]) -> None:
    services = set(BOOT_ORDER)
    edges = {(a, b) for a, b in order_edges(units) if a in services and b in services}
    assert topological_orders(services, edges) == [BOOT_ORDER]


def test_a_required_unit_is_also_ordered_before(units: dict[str, Unit]) -> None:
    """Requires= without After= would start both at once."""
    edges = order_edges(units)
    for name, unit in units.items():
        for other in unit.names("Unit", "Requires"):
            if name.endswith(".service") and other.endswith(".service"):
                ordered = (other, name) in edges or other in unit.names("Unit", "After")  # systemd's own too
                assert ordered, f"{name} requires {other} but is not ordered after it"


def test_the_socket_comes_before_the_apiserver_and_listens_on_the_api_socket(units: dict[str, Unit]) -> None:
    socket_unit, apiserver = units["apiserver.socket"], units["apiserver.service"]
    assert socket_unit.one("Socket", "ListenStream") == "/run/api.sock"
    assert socket_unit.one("Socket", "SocketMode") == "0660"
    assert "apiserver.socket" in apiserver.names("Unit", "After")
    assert "apiserver.socket" in apiserver.names("Unit", "Requires")


def test_early_boot_config_runs_at_the_first_boot_only(units: dict[str, Unit]) -> None:
    unit = units["early-boot-config.service"]
    assert unit.values("Unit", "ConditionPathExists") == ["!/var/lib/bottlerocket/early-boot-config.ran"]
    assert "network-online.target" in unit.names("Unit", "After")
    assert unit.names("Unit", "Requires") == ["storewolf.service"]


@pytest.mark.parametrize("name", ["sundog.service", "settings-applier.service"])
def test_settings_committer_commits_first_then_the_program_runs(name: str, units: dict[str, Unit]) -> None:
    unit = units[name]
    assert [argv for key, argv in commands(unit) if key == "ExecStartPre"] == [["/usr/bin/settings-committer"]]
    program = {
        "sundog.service": ["/usr/bin/sundog"],
        "settings-applier.service": ["/usr/bin/thar-be-settings", "--all"],
    }
    assert [argv for key, argv in commands(unit) if key == "ExecStart"] == [program[name]]


def test_the_target_is_reached_after_the_settings_are_applied(units: dict[str, Unit]) -> None:
    target = units["preconfigured.target"]
    assert target.names("Unit", "After") == ["settings-applier.service"]
    pulled = set(target.names("Unit", "Requires")) | set(target.names("Unit", "Wants"))
    assert pulled == set(BOOT_ORDER)
    for name in BOOT_ORDER:
        install = units[name].names("Install", "RequiredBy") + units[name].names("Install", "WantedBy")
        assert install == ["preconfigured.target"], name


def test_configured_target_follows_preconfigured_and_set_hostname(units: dict[str, Unit]) -> None:
    """Bottlerocket's configured.target: After= and Requires= preconfigured.target; here it also
    pulls set-hostname.service, which runs once the files are rendered and before it."""
    target = units["configured.target"]
    assert target.names("Unit", "After") == ["preconfigured.target"]
    assert target.names("Unit", "Requires") == ["preconfigured.target"]
    assert target.names("Unit", "Wants") == ["set-hostname.service"]
    assert target.names("Install", "WantedBy") == ["multi-user.target"]
    hostname = units["set-hostname.service"]
    assert hostname.names("Unit", "After") == ["settings-applier.service"]
    assert hostname.names("Unit", "Before") == ["configured.target"]
    assert hostname.one("Service", "Type") == "oneshot"
    assert hostname.one("Service", "RemainAfterExit") == "true"
    edges = order_edges(units)
    order = topological_orders(set(units) - {"apiserver.socket"}, edges)
    assert all(o.index("settings-applier.service") < o.index("set-hostname.service") < o.index("configured.target")
               and o.index("preconfigured.target") < o.index("configured.target") for o in order)  # fmt: skip


@pytest.mark.parametrize(("content", "expected"), [("", []), ("myhost\n", [["-F", "HOSTNAME_FILE"]])])
def test_set_hostname_sets_the_rendered_name_and_leaves_an_unset_one_alone(
    tmp_path: Path, units: dict[str, Unit], content: str, expected: list[list[str]]
) -> None:
    """The unit's command, run with /etc/hostname and /bin/hostname swapped for files of the
    test: an empty file (settings.network.hostname unset) runs nothing and succeeds."""
    (command,) = [argv for key, argv in commands(units["set-hostname.service"]) if key == "ExecStart"]
    hostname_file, calls, fake = tmp_path / "hostname", tmp_path / "calls", tmp_path / "fake-hostname"
    hostname_file.write_text(content)
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    argv = [arg.replace("/bin/hostname", str(fake)).replace("/etc/hostname", str(hostname_file)) for arg in command]
    assert argv[0] == "/bin/sh"
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    recorded = [line.split() for line in calls.read_text().splitlines()] if calls.exists() else []
    assert recorded == [[a.replace("HOSTNAME_FILE", str(hostname_file)) for a in call] for call in expected]


def test_host_containerd_is_bottlerockets_unit_on_its_own_config(units: dict[str, Unit]) -> None:
    unit = units["host-containerd.service"]
    assert shlex.split(unit.one("Service", "ExecStart")) == [
        "/usr/bin/containerd",
        "--config",
        "/etc/host-containerd/config.toml",
    ]
    for key, value in [("Type", "notify"), ("Delegate", "yes"), ("KillMode", "process"), ("Restart", "always")]:
        assert unit.one("Service", key) == value, key
    assert unit.names("Unit", "After") == ["network-online.target", "preconfigured.target"]
    assert unit.names("Install", "WantedBy") == ["configured.target"]


def test_a_host_container_runs_host_ctr_on_its_environment_file_after_the_host_is_configured(
    units: dict[str, Unit],
) -> None:
    unit = units["host-containers@.service"]
    assert unit.values("Service", "EnvironmentFile") == ["/etc/network/proxy.env", "/etc/host-containers/%i.env"]
    assert shlex.split(unit.one("Service", "ExecStart")) == [
        "/usr/bin/host-ctr",
        "run",
        "--container-id=%i",
        "--source=${CTR_SOURCE}",
        "--superpowered=${CTR_SUPERPOWERED}",
        "--registry-config=/etc/host-containers/host-ctr.toml",
    ]
    assert "host-ctr" in thar_scripts()
    assert unit.one("Service", "Restart") == "always"
    assert set(unit.names("Unit", "After")) == {"host-containerd.service", "configured.target"}
    assert unit.names("Unit", "Wants") == ["host-containerd.service"]
    assert unit.names("Install", "WantedBy") == ["multi-user.target"]


def test_thar_boot_runs_the_units_steps_in_the_units_order(units: dict[str, Unit]) -> None:
    """The sandbox boot is the same boot: its steps' units, in order, are the boot order (less
    the migrator), and each step runs the program its unit runs."""
    step_units = list(dict.fromkeys(step.unit for step in BOOT_STEPS))
    assert step_units == [name for name in BOOT_ORDER if name != "migrator.service"]
    for step in BOOT_STEPS:
        programs = [(key, Path(argv[0]).name) for key, argv in commands(units[step.unit])]
        assert ("ExecStartPre" if step.pre else "ExecStart", step.program) in programs, step.name


# -- installing -------------------------------------------------------------------------------------


def install(destdir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(UNITS / "install.sh"), *options, str(destdir)], capture_output=True, text=True, timeout=60
    )


def test_install_copies_every_unit_rewrites_thars_programs_and_enables_the_target(tmp_path: Path) -> None:
    bindir = tmp_path / "venv/bin"
    result = install(tmp_path / "root", "--bindir", str(bindir))
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "root/usr/lib/systemd/system"
    assert sorted(p.name for p in installed.iterdir() if p.is_file()) == sorted(p.name for p in unit_files())
    wants = installed / "multi-user.target.wants/preconfigured.target"
    assert wants.is_symlink() and wants.resolve() == (installed / "preconfigured.target").resolve()
    for name in BOOT_ORDER:
        for key, argv in commands(parse_unit(installed / name)):
            assert Path(argv[0]).parent == bindir, f"{name} {key}: {argv[0]}"
    apiserver = parse_unit(installed / "apiserver.service").one("Service", "ExecStart")
    assert f"--applier {bindir}/thar-be-settings" in apiserver
    assert "/usr/bin/" not in apiserver


def test_install_without_a_destination_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(UNITS / "install.sh")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "usage: units/install.sh" in result.stderr
    assert install(tmp_path, "--bindir", "relative/bin").returncode == 2


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_installed_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """With thar's programs where the units say (this virtualenv's bin directory), systemd
    itself finds nothing wrong with the units."""
    bindir = Path(shutil.which("storewolf") or ROOT / ".venv/bin/storewolf").parent
    assert install(tmp_path, "--bindir", str(bindir)).returncode == 0
    installed = tmp_path / "usr/lib/systemd/system"
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in installed.iterdir() if p.is_file())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=installed,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stderr.strip() == ""


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_catches_a_program_that_is_not_there(tmp_path: Path) -> None:
    """The check above can fail: units pointing at a missing bin directory do not verify."""
    assert install(tmp_path, "--bindir", str(tmp_path / "nowhere")).returncode == 0
    installed = tmp_path / "usr/lib/systemd/system"
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(installed / "sundog.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "nowhere/sundog" in result.stderr


def test_the_parser_rejects_what_systemd_would(tmp_path: Path) -> None:
    bad = tmp_path / "bad.service"
    bad.write_text("Description=no section\n")
    with pytest.raises(UnitSyntaxError):
        parse_unit(bad)
    bad.write_text("[Unit]\nnot a setting\n")
    with pytest.raises(UnitSyntaxError):
        parse_unit(bad)


def test_install_into_another_unit_directory(tmp_path: Path) -> None:
    result = install(tmp_path, "--unitdir", "/etc/systemd/system")
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "etc/systemd/system"
    assert (installed / "sundog.service").is_file()
    assert (installed / "multi-user.target.wants/preconfigured.target").is_symlink()
    assert "ExecStart=/usr/bin/sundog" in (installed / "sundog.service").read_text()
    assert not (tmp_path / "usr").exists()


@pytest.mark.skipif(shutil.which("systemd-tmpfiles") is None, reason="systemd-tmpfiles is not installed")
def test_tmpfiles_conf_makes_the_update_lock_and_status_directories(tmp_path: Path) -> None:
    """What systemd-tmpfiles makes at boot from units/tmpfiles.conf (below a --root, never the
    machine's own /run): the directories of thar-be-updates' lock and status, mode 0755."""
    result = subprocess.run(
        ["systemd-tmpfiles", f"--root={tmp_path}", "--create", str(UNITS / "tmpfiles.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for name in ("run/lock", "run/cache/thar-be-updates"):
        assert (tmp_path / name).is_dir() and (tmp_path / name).stat().st_mode & 0o777 == 0o755, name
