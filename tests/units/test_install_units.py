"""``thar-install-units`` (thar/install_units.py) and its wrapper ``units/install.sh``: the
installed tree is byte for byte what the former sed-based install.sh produced, a second run
changes nothing, ``--bindir`` rewrites only thar's programs, and mistakes are clear errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from thar import install_units

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "units"

# The body of units/install.sh before it became a wrapper: the reference for the tree installed
# (its list of thar's programs grown with the programs of the units added since).
FORMER_INSTALL_SH = r"""
set -euo pipefail
bindir="$1"; unitdir="$2"; destdir="$3"; src="$4"
target="${destdir%/}$unitdir"
mkdir -p "$target/multi-user.target.wants"
programs='migrator|storewolf|apiserver|early-boot-config|sundog|settings-committer|thar-be-settings'
programs+='|host-ctr|host-containers|bootstrap-containers|bootstrap-commands|signpost'
path=; [ "${bindir%/}" = /usr/bin ] || path="${bindir%/}:"
for unit in "$src"/*.service "$src"/*.socket "$src"/*.target; do
    sed -E -e "s#/usr/bin/($programs)([[:space:]]|\$)#${bindir%/}/\\1\\2#g" \
        -e "s#^Environment=PATH=#&$path#" "$unit" >"$target/$(basename "$unit")"
    chmod 0644 "$target/$(basename "$unit")"
done
ln -sfn ../preconfigured.target "$target/multi-user.target.wants/preconfigured.target"
"""


def former_install(destdir: Path, bindir: str = "/usr/bin", unitdir: str = "/usr/lib/systemd/system") -> None:
    subprocess.run(
        ["bash", "-c", FORMER_INSTALL_SH, "install", bindir, unitdir, str(destdir), str(UNITS)], check=True, timeout=60
    )


def tree(root: Path) -> dict[str, tuple[str, str | bytes, int]]:
    """Every entry below ``root``: (kind, content or link target, mode)."""
    found: dict[str, tuple[str, str | bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path), 0)
        elif path.is_dir():
            found[rel] = ("dir", "", 0)
        else:
            found[rel] = ("file", path.read_bytes(), path.stat().st_mode & 0o7777)
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.install_units", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"bindir": "/opt/thar/venv/bin"}, {"bindir": "/opt/thar/venv/bin/"}, {"unitdir": "/etc/systemd/system"}],
    ids=["defaults", "bindir", "bindir-slash", "unitdir"],
)
def test_the_installed_tree_is_what_the_former_install_sh_produced(tmp_path: Path, options: dict[str, str]) -> None:
    former_install(tmp_path / "before", **options)
    install_units.install(tmp_path / "after", **options)
    assert tree(tmp_path / "after") == tree(tmp_path / "before")


def test_the_wrapper_installs_the_same_tree(tmp_path: Path) -> None:
    former_install(tmp_path / "before", "/opt/v/bin")
    result = subprocess.run(
        ["bash", str(UNITS / "install.sh"), "--bindir", "/opt/v/bin", str(tmp_path / "after")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stderr
    assert tree(tmp_path / "after") == tree(tmp_path / "before")


def test_a_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    first = run("--root", str(tmp_path), "--bindir", "/opt/v/bin")
    assert first.returncode == 0, first.stderr
    before = tree(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    second = run("--root", str(tmp_path), "--bindir", "/opt/v/bin")
    assert second.returncode == 0, second.stderr
    assert tree(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes
    assert all(line.startswith(("unchanged ", "already enabled ")) for line in second.stdout.splitlines())
    assert "installed " in first.stdout and "enabled preconfigured.target" in first.stdout


def test_a_run_repairs_a_changed_unit_and_a_wrong_link(tmp_path: Path) -> None:
    install_units.install(tmp_path)
    expected = tree(tmp_path)
    unitdir = tmp_path / "usr/lib/systemd/system"
    (unitdir / "sundog.service").write_text("edited\n")
    (unitdir / "sundog.service").chmod(0o600)
    (unitdir / "multi-user.target.wants/preconfigured.target").unlink()
    (unitdir / "multi-user.target.wants/preconfigured.target").symlink_to("/elsewhere")
    report = install_units.install(tmp_path)
    assert tree(tmp_path) == expected
    assert f"installed {unitdir / 'sundog.service'}" in report
    assert f"unchanged {unitdir / 'storewolf.service'}" in report


def test_bindir_rewrites_thars_programs_only(tmp_path: Path) -> None:
    assert install_units.rewrite('restart-commands = ["/usr/bin/host-containers"]', "/v/bin") == (
        'restart-commands = ["/v/bin/host-containers"]'
    )
    text = (
        "ExecStart=/usr/bin/sundog\n"
        "ExecStart=/usr/bin/apiserver --applier /usr/bin/thar-be-settings\n"
        "ExecStartPre=/usr/bin/settings-committer\n"
        "ExecStart=/usr/bin/sundogs /usr/bin/true /usr/bin/migrator-x /usr/bin/storewolf\t--x\n"
    )
    assert install_units.rewrite(text, "/v/bin") == (
        "ExecStart=/v/bin/sundog\n"
        "ExecStart=/v/bin/apiserver --applier /v/bin/thar-be-settings\n"
        "ExecStartPre=/v/bin/settings-committer\n"
        "ExecStart=/usr/bin/sundogs /usr/bin/true /usr/bin/migrator-x /v/bin/storewolf\t--x\n"
    )
    result = run("--root", str(tmp_path), "--bindir", "/v/bin")
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "usr/lib/systemd/system"
    for unit in installed.glob("*.service"):
        text = unit.read_text()
        assert not any(f"/usr/bin/{p}" in text for p in install_units.PROGRAMS), unit.name
    assert "ExecStart=/v/bin/thar-be-settings --all" in (installed / "settings-applier.service").read_text()
    assert "ExecStart=/v/bin/host-ctr run" in (installed / "host-containers@.service").read_text()
    # containerd is the OS's, not thar's
    assert "ExecStart=/usr/bin/containerd --config" in (installed / "host-containerd.service").read_text()


def test_the_units_come_from_the_package(tmp_path: Path) -> None:
    names = [unit.name for unit in install_units.shipped_units()]
    assert names == sorted(p.name for p in UNITS.iterdir() if p.suffix in (".service", ".socket", ".target"))


@pytest.mark.parametrize(
    "args",
    [[], ["--bindir", "/usr/bin"], ["--root", "R", "--bindir", "relative/bin"], ["--root", "R", "--unitdir", "etc"]],
    ids=["no-root", "no-root-bindir", "relative-bindir", "relative-unitdir"],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = run(*(str(tmp_path / a) if a == "R" else a for a in args))
    assert result.returncode == 2
    assert "usage: thar-install-units" in result.stderr
    assert not (tmp_path / "R").exists()


def test_an_unwritable_root_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run("--root", str(tmp_path / "file"))
    assert result.returncode == 1
    assert result.stderr.startswith("thar-install-units: cannot install the units into ")
    assert "Traceback" not in result.stderr


def test_a_directory_in_the_way_of_a_unit_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/systemd/system/sundog.service").mkdir(parents=True)
    result = run("--root", str(tmp_path))
    assert result.returncode == 1
    assert "sundog.service is a directory" in result.stderr


# -- --variant: a root made a thar host -------------------------------------------------------------

VARIANTS = ROOT / "variants"
DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
# The units a host restart command may name besides thar's own: systemd's, and Debian's
# chrony.service by its alias (the command Bottlerocket runs).
HOST_UNITS = {"chronyd.service", "systemd-modules-load.service", "systemd-sysctl.service"}


def host_root(path: Path, os_release: str | None = DEBIAN_OS_RELEASE, group: str = "root:x:0:\napi:x:274:\n") -> Path:
    """A root as a Debian image leaves it: /etc/group (with the api group unless told
    otherwise, so no groupadd runs), Debian's os-release and /etc/os-release linking to it."""
    (path / "etc").mkdir(parents=True)
    (path / "etc/group").write_text(group)
    if os_release is not None:
        (path / "usr/lib").mkdir(parents=True)
        (path / "usr/lib/os-release").write_text(os_release)
        (path / "etc/os-release").symlink_to("../usr/lib/os-release")
    return path


def host_install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run("--root", str(root), "--bindir", "/opt/v/bin", *args)


def host_defaults(variant: Path, bindir: str) -> bytes:
    """The variant's host.toml as installed: thar's programs in its restart commands in ``bindir``."""
    return install_units.rewrite((variant / "host.toml").read_text(encoding="utf-8"), bindir).encode()


def files_below(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_variant_makes_the_root_a_host_of_it(tmp_path: Path, variant: str) -> None:
    root = host_root(tmp_path / "root")
    result = host_install(root, "--variant", variant, "--replace-os-release")
    assert result.returncode == 0, result.stderr
    source = VARIANTS / variant
    unitdir = root / "usr/lib/systemd/system"
    for link, target in [
        ("multi-user.target.wants/preconfigured.target", "../preconfigured.target"),
        ("multi-user.target.wants/configured.target", "../configured.target"),
        ("sockets.target.wants/apiserver.socket", "../apiserver.socket"),
        ("preconfigured.target.requires/bootstrap-commands.service", "../bootstrap-commands.service"),
        ("configured.target.wants/activate-configured.service", "../activate-configured.service"),
        ("configured.target.wants/host-containerd.service", "../host-containerd.service"),
    ]:
        assert os.readlink(unitdir / link) == target
    assert (unitdir / "set-hostname.service").is_file()
    assert "ExecStart=/opt/v/bin/storewolf" in (unitdir / "storewolf.service").read_text()
    assert (root / "usr/lib/os-release").read_bytes() == (source / "os-release").read_bytes()
    assert (root / "usr/lib/os-release.orig").read_text() == DEBIAN_OS_RELEASE
    assert os.readlink(root / "etc/os-release") == "../usr/lib/os-release"
    defaults = files_below(root / "etc/storewolf/defaults.d")
    assert defaults == {**files_below(source / "defaults.d"), "99-host.toml": host_defaults(source, "/opt/v/bin")}
    assert b"/opt/v/bin/bootstrap-containers create-containers" in defaults["99-host.toml"]
    assert sorted(defaults, key=str.encode)[-1] == "99-host.toml"
    assert files_below(root / "usr/share/templates") == files_below(source / "templates")
    for name in ("var/lib/bottlerocket", "var/lib/bottlerocket/inventory", "var/lib/bottlerocket-migrations"):
        assert (root / name).is_dir() and (root / name).stat().st_mode & 0o777 == 0o755, name
    assert not (root / "var/lib/bottlerocket/datastore").exists()  # storewolf's to create
    tmpfiles = root / "usr/lib/tmpfiles.d/thar.conf"
    assert tmpfiles.read_bytes() == (UNITS / "tmpfiles.conf").read_bytes()
    assert tmpfiles.stat().st_mode & 0o777 == 0o644
    assert "d /run/cache/thar-be-updates 0755 root root -" in tmpfiles.read_text().splitlines()
    config = root / "etc/host-containerd/config.toml"
    assert config.read_bytes() == (ROOT / "host_ctr/host-containerd.toml").read_bytes()
    assert config.stat().st_mode & 0o777 == 0o644
    storage = root / "local/host-containers"
    assert storage.is_dir() and storage.stat().st_mode & 0o777 == 0o700
    assert (root / "etc/group").read_text() == "root:x:0:\napi:x:274:\n"
    assert f"unchanged group api ({root / 'etc/group'})" in result.stdout.splitlines()
    assert f"kept {root / 'usr/lib/os-release'} as {root / 'usr/lib/os-release.orig'}" in result.stdout


def test_without_a_variant_nothing_but_the_units_is_installed(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root")
    before = tree(root)
    assert host_install(root).returncode == 0
    unitdir = root / "usr/lib/systemd/system"
    assert {k: v for k, v in tree(root).items() if not k.startswith("usr/lib/systemd")} == before
    assert sorted(p.name for p in (unitdir / "multi-user.target.wants").iterdir()) == ["preconfigured.target"]
    assert not (unitdir / "sockets.target.wants").exists()


def test_another_oss_os_release_is_refused_and_the_root_left_as_it_was(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root", group="root:x:0:\n")  # and no api group: groupadd is not reached
    before = tree(root)
    result = host_install(root, "--variant", "thar-dev")
    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.startswith(f"thar-install-units: {root / 'usr/lib/os-release'} is another OS's os-release")
    assert "(Debian GNU/Linux 12 (bookworm))" in message
    assert f"--replace-os-release makes this root a thar host, keeping that file as {root}/usr/lib/os-release.orig" in (
        message
    )
    assert tree(root) == before


def test_the_old_os_release_is_kept_only_once(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root")
    assert host_install(root, "--variant", "thar-dev", "--replace-os-release").returncode == 0
    (root / "usr/lib/os-release").write_text('PRETTY_NAME="Something else"\nID=else\n')
    result = host_install(root, "--variant", "thar-dev", "--replace-os-release")
    assert result.returncode == 0, result.stderr
    assert (root / "usr/lib/os-release.orig").read_text() == DEBIAN_OS_RELEASE
    assert (root / "usr/lib/os-release").read_bytes() == (VARIANTS / "thar-dev/os-release").read_bytes()
    assert f"installed {root / 'usr/lib/os-release'}" in result.stdout.splitlines()
    assert "kept " not in result.stdout


def test_a_missing_os_release_is_written_and_thars_own_of_the_variant_updated(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root", os_release=None)
    assert host_install(root, "--variant", "thar-dev").returncode == 0
    release = root / "usr/lib/os-release"
    assert release.read_bytes() == (VARIANTS / "thar-dev/os-release").read_bytes()
    assert not (root / "etc/os-release").exists()  # none there: none made
    release.write_text("ID=thar\nVARIANT_ID=thar-dev\nVERSION_ID=0.0.9\n")  # an older thar-dev
    result = host_install(root, "--variant", "thar-dev")
    assert result.returncode == 0, result.stderr
    assert release.read_bytes() == (VARIANTS / "thar-dev/os-release").read_bytes()
    assert not (root / "usr/lib/os-release.orig").exists()
    # thar's os-release of another variant is another system: refused.
    result = host_install(root, "--variant", "thar-k8s")
    assert result.returncode == 1
    assert f"{release} is thar's os-release of another variant (thar 0.1.0 (thar-dev))" in result.stderr


def test_an_etc_os_release_file_of_its_own_is_refused_or_replaced_by_the_link(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root", os_release=None)
    (root / "etc/os-release").write_text(DEBIAN_OS_RELEASE)
    result = host_install(root, "--variant", "thar-dev")
    assert result.returncode == 1
    assert f"{root / 'etc/os-release'} is another OS's os-release (Debian GNU/Linux 12 (bookworm))" in result.stderr
    assert not (root / "usr/lib/os-release").exists()
    result = host_install(root, "--variant", "thar-dev", "--replace-os-release")
    assert result.returncode == 0, result.stderr
    assert os.readlink(root / "etc/os-release") == "../usr/lib/os-release"
    assert (root / "etc/os-release.orig").read_text() == DEBIAN_OS_RELEASE
    assert (root / "etc/os-release").read_bytes() == (VARIANTS / "thar-dev/os-release").read_bytes()


def test_a_dry_run_changes_nothing_and_says_what_a_run_would(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root", group="root:x:0:\n")
    (root / "etc/storewolf/defaults.d").mkdir(parents=True)
    (root / "etc/storewolf/defaults.d/05-old.toml").write_text("")
    before = tree(root)
    dry = host_install(root, "--variant", "thar-dev", "--replace-os-release", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert tree(root) == before
    lines = dry.stdout.splitlines()
    assert all(line.startswith(("would ", "unchanged ")) for line in lines), lines
    assert f"would add group api (gid 274) to {root / 'etc/group'}" in lines
    assert f"would keep {root / 'usr/lib/os-release'} as {root / 'usr/lib/os-release.orig'}" in lines
    assert f"would install {root / 'etc/storewolf/defaults.d/99-host.toml'}" in lines
    assert f"would remove {root / 'etc/storewolf/defaults.d/05-old.toml'}" in lines
    assert f"would create directory {root / 'var/lib/bottlerocket'}" in lines
    assert f"would install {root / 'usr/share/templates/motd'}" in lines
    assert f"unchanged {root / 'etc/storewolf/defaults.d'}" in lines


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_a_second_host_run_changes_nothing_and_says_so(tmp_path: Path, variant: str) -> None:
    root = host_root(tmp_path / "root")
    assert host_install(root, "--variant", variant, "--replace-os-release").returncode == 0
    before = tree(root)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    for args in (["--replace-os-release"], [], ["--dry-run"]):
        again = host_install(root, "--variant", variant, *args)
        assert again.returncode == 0, again.stderr
        lines = again.stdout.splitlines()
        assert lines and all(line.startswith("unchanged ") for line in lines), [
            line for line in lines if not line.startswith("unchanged ")
        ]
        assert {f"unchanged group api ({root / 'etc/group'})", f"unchanged {root / 'usr/lib/os-release'}"} <= set(lines)
    assert tree(root) == before
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == mtimes


def test_the_defaults_directory_is_the_commands(tmp_path: Path) -> None:
    """*.toml files the variant no longer has are removed, and another file is left; a changed
    one is put back."""
    root = host_root(tmp_path / "root", os_release=None)
    target = root / "etc/storewolf/defaults.d"
    target.mkdir(parents=True)
    (target / "05-gone.toml").write_text('settings.motd = "old"\n')
    (target / "README").write_text("mine\n")
    assert host_install(root, "--variant", "thar-k8s").returncode == 0
    (target / "10-defaults.toml").write_text("edited = true\n")
    result = host_install(root, "--variant", "thar-dev", "--replace-os-release")
    assert result.returncode == 0, result.stderr
    expected = {
        **files_below(VARIANTS / "thar-dev/defaults.d"),
        "99-host.toml": host_defaults(VARIANTS / "thar-dev", "/opt/v/bin"),
    }
    assert files_below(target) == {**expected, "README": b"mine\n"}
    assert f"removed {target / '45-aws.toml'}" in result.stdout.splitlines()
    assert f"installed {target / '10-defaults.toml'}" in result.stdout.splitlines()


def test_a_merged_defaults_toml_is_refused(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root", os_release=None)
    (root / "etc/storewolf").mkdir(parents=True)
    (root / "etc/storewolf/defaults.toml").write_text("")
    result = host_install(root, "--variant", "thar-dev")
    assert result.returncode == 1
    assert f"{root / 'etc/storewolf/defaults.toml'} exists: storewolf reads it before" in result.stderr


def test_a_variant_file_sorting_after_the_host_defaults_is_refused(tmp_path: Path) -> None:
    variant = tmp_path / "my-variant"
    shutil.copytree(VARIANTS / "thar-dev", variant)
    (variant / "defaults.d/990-late.toml").write_text("")
    root = host_root(tmp_path / "root", os_release=None)
    result = host_install(root, "--variant", str(variant))
    assert result.returncode == 1
    assert (
        f"{variant / 'defaults.d/990-late.toml'} sorts after 99-host.toml, which must be merged last" in result.stderr
    )
    assert not (root / "usr").exists()


def test_an_unknown_variant_is_a_clear_error(tmp_path: Path) -> None:
    result = host_install(tmp_path, "--variant", "thar-nope")
    assert result.returncode == 1
    assert "no variant 'thar-nope': it is neither one of thar's (thar-dev, thar-k8s)" in result.stderr
    usage = host_install(tmp_path, "--replace-os-release")
    assert usage.returncode == 2 and "--replace-os-release needs --variant" in usage.stderr


def test_a_missing_or_failing_groupadd_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from thar import host_install as steps

    root = host_root(tmp_path / "root", os_release=None, group="root:x:0:\n")
    before = tree(root)
    monkeypatch.setattr(steps, "GROUPADD", (str(tmp_path / "no-groupadd"),))
    with pytest.raises(install_units.InstallError, match=r"groupadd is not installed .*'api' group"):
        install_units.install(root, variant="thar-dev")
    assert tree(root) == before
    fake = tmp_path / "groupadd"
    fake.write_text("#!/bin/sh\necho 'groupadd: cannot lock /etc/group; try again later.' >&2\nexit 10\n")
    fake.chmod(0o755)
    monkeypatch.setattr(steps, "GROUPADD", (str(fake),))
    with pytest.raises(install_units.InstallError) as caught:
        install_units.install(root, variant="thar-dev")
    assert str(caught.value) == (
        f"{fake} --root {root} --system --gid 274 api failed (exit 10): "
        "groupadd: cannot lock /etc/group; try again later."
    )


needs_groupadd = pytest.mark.skipif(
    os.geteuid() != 0 or (shutil.which("groupadd") is None and not os.access("/usr/sbin/groupadd", os.X_OK)),
    reason="groupadd --root needs root",
)


@needs_groupadd
@pytest.mark.parametrize(
    ("group", "gid"), [("root:x:0:\n", "274"), ("root:x:0:\nother:x:274:\n", None)], ids=["274-free", "274-taken"]
)
def test_the_api_group_is_added_with_groupadd(tmp_path: Path, group: str, gid: str | None) -> None:
    root = host_root(tmp_path / "root", os_release=None, group=group)
    result = host_install(root, "--variant", "thar-dev")
    assert result.returncode == 0, result.stderr
    entries = {line.split(":")[0]: line.split(":")[2] for line in (root / "etc/group").read_text().splitlines()}
    assert "api" in entries
    if gid is not None:
        assert entries["api"] == gid
        assert f"added group api (gid 274) to {root / 'etc/group'}" in result.stdout.splitlines()
    else:
        assert entries["api"] != "274" and int(entries["api"]) < 1000  # a system group
    assert f"unchanged group api ({root / 'etc/group'})" in host_install(root, "--variant", "thar-dev").stdout


def merged_host_defaults(variant: str) -> dict[str, object]:
    from thar.models.variant import merge_defaults

    source = VARIANTS / variant
    files = sorted((source / "defaults.d").glob("*.toml"), key=lambda p: p.name.encode())
    return merge_defaults([*files, source / "host.toml"])


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_a_hosts_restart_commands_are_real_and_name_only_units_a_thar_host_has(variant: str) -> None:
    import tomllib

    thar_units = {p.name for p in UNITS.iterdir() if p.suffix in (".service", ".socket", ".target")}
    services = merged_host_defaults(variant)["services"]
    assert isinstance(services, dict)
    for name, service in services.items():
        for command in service["restart-commands"]:
            argv = command.split(" ")
            assert "thar-record-restart" not in command, (name, command)
            assert argv[0].startswith("/"), (name, command)
            if Path(argv[0]).name == "systemctl":
                assert argv[1] in ("try-restart", "try-reload-or-restart"), (name, command)
                assert set(argv[2:]) <= thar_units | HOST_UNITS, (name, command)
            elif argv[0] in {f"/usr/bin/{p}" for p in install_units.PROGRAMS}:
                # one of thar's programs: installed in --bindir, where the command is moved
                assert install_units.rewrite(command, "/v/bin").startswith("/v/bin/"), (name, command)
            else:
                raise AssertionError(f"{name}: {command} runs a program a thar host does not have")
    # host.toml only replaces restart commands, of services the variant has.
    from thar.models.variant import load_variant

    host = tomllib.loads((VARIANTS / variant / "host.toml").read_text())
    assert set(host["services"]) <= set(load_variant(VARIANTS / variant).defaults["services"])
    assert set(host) == {"services"} and all(set(s) == {"restart-commands"} for s in host["services"].values())


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_the_host_defaults_fit_the_variants_model(variant: str) -> None:
    import dataclasses

    from thar.models.variant import load_variant

    loaded = load_variant(VARIANTS / variant)
    assert dataclasses.replace(loaded, defaults=merged_host_defaults(variant)).validate_defaults() == []


def test_storewolf_seeds_the_installed_host_defaults(tmp_path: Path) -> None:
    """The next boot step reads what was installed: storewolf, with the root as THAR_ROOT and
    its unit's arguments, stages the variant's defaults with the host's restart commands."""
    root = host_root(tmp_path / "root")
    assert host_install(root, "--variant", "thar-dev", "--replace-os-release").returncode == 0
    base = root / "var/lib/bottlerocket/datastore"
    result = subprocess.run(
        [sys.executable, "-m", "thar.storewolf", "--data-store-base-path", str(base),
         "--inventory-file-symlink-path", str(root / "var/lib/bottlerocket/inventory/application.json")],
        capture_output=True, text=True, timeout=60, env={**os.environ, "THAR_ROOT": str(root)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"variant 'thar-dev' ({root / 'etc/storewolf/defaults.d'})" in result.stdout
    live = base / "current/live/services"
    assert (live / "hostname/restart-commands").read_text() == '["/bin/systemctl try-restart set-hostname.service"]'
    assert (live / "containerd/restart-commands").read_text() == "[]"
    assert (live / "host-containers/restart-commands").read_text() == '["/opt/v/bin/host-containers"]'
    assert os.readlink(base / "current") == "v0"


def test_restart_units_the_root_lacks_are_warned_about(tmp_path: Path) -> None:
    root = host_root(tmp_path / "root", os_release=None)
    result = host_install(root, "--variant", "thar-dev", "--dry-run")  # thar's own set-hostname.service counts
    assert result.returncode == 0, result.stderr
    warned = {line.split(" restarts ")[1].split(" ")[0] for line in result.stderr.splitlines()}
    assert warned == {"chronyd.service", "systemd-modules-load.service", "systemd-sysctl.service"}
    assert all(line.startswith("thar-install-units: warning: service ") for line in result.stderr.splitlines())
    (root / "lib/systemd/system").mkdir(parents=True)
    for unit in ("systemd-modules-load.service", "systemd-sysctl.service", "chrony.service"):
        (root / "lib/systemd/system" / unit).write_text("")
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/chronyd.service").symlink_to("/lib/systemd/system/chrony.service")  # the alias
    result = host_install(root, "--variant", "thar-dev")
    assert result.returncode == 0 and result.stderr == ""
