"""The wheel: built offline from the checkout, installed into a fresh virtualenv, it puts only
``thar`` (and its dist-info) in site-packages, every component folder that ``thar/`` links to
lands as real files, the variants' data, the units, the READMEs and ``py.typed`` come along,
and every console script is there. ``thar-install-units`` then runs from the installed package."""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
NAME, VERSION = PROJECT["name"], PROJECT["version"]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
SCRIPTS = {
    "apiclient",
    "apiserver",
    "storewolf",
    "migrator",
    "sundog",
    "thar-be-settings",
    "early-boot-config",
    "schnauzer",
    "schnauzer-v2",
    "settings-committer",
    "thar-record-restart",
    "thar-boot",
    "thar-install-units",
    "host-ctr",
    "bootstrap-containers",
    "bootstrap-commands",
    "host-containers",
    "signpost",
    "thar-be-updates",
    "updog",
    "thar-update-repo",
}


def _can_build_wheels() -> bool:
    """setuptools has bdist_wheel built in from 70.1; before that it needs the wheel package."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


pytestmark = pytest.mark.skipif(
    not _can_build_wheels(), reason="this environment's setuptools cannot build a wheel offline (install '.[dev]')"
)


def clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH: what runs imports the installed package, not the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def checkout_files() -> set[str]:
    """Every file the package holds in the checkout, through thar/'s links."""
    found = set()
    for folder, dirs, names in os.walk(ROOT / "thar", followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found |= {str(Path(folder, n).relative_to(ROOT)) for n in names if not n.endswith(".pyc")}
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built with pip offline from a copy of the checkout (links kept as links)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "thar", source / "thar", symlinks=True, ignore=ignore)
    for link in (ROOT / "thar").iterdir():
        if link.is_symlink():
            shutil.copytree(link.resolve(), source / link.resolve().name, ignore=ignore)
    out = base / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed, without its dependencies."""
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    result = subprocess.run(
        [*PIP, "--python", str(env_dir / "bin/python"), "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return env_dir


def site_packages(env_dir: Path) -> Path:
    purelib = sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    return Path(purelib)


def test_the_wheel_holds_only_thar_and_its_dist_info(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/", 1)[0] for name in zf.namelist()}
        record = zf.read(f"{NAME}-{VERSION}.dist-info/RECORD").decode()
        top_level = zf.read(f"{NAME}-{VERSION}.dist-info/top_level.txt").decode()
    assert tops == {"thar", f"{NAME}-{VERSION}.dist-info"}
    assert {line.split(",", 1)[0].split("/", 1)[0] for line in record.splitlines() if line} == tops
    assert top_level.split() == ["thar"]


def test_linked_components_are_real_files_in_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        infos = [info for info in zf.infolist() if info.filename.startswith("thar/")]
        links = [info.filename for info in infos if stat.S_ISLNK(info.external_attr >> 16)]
        assert links == []
        files = {info.filename for info in infos if not info.is_dir()}
        assert files == checkout_files()
        for name in sorted(files):
            assert zf.read(name) == (ROOT / name).read_bytes(), name


def test_the_data_files_are_in_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    units = {
        f"thar/units/{p.name}" for p in (ROOT / "units").iterdir() if p.suffix in (".service", ".socket", ".target")
    }
    assert units and units <= names
    assert "thar/units/README.md" in names
    for variant in (p for p in (ROOT / "variants").iterdir() if (p / "variant.toml").is_file()):
        prefix = f"thar/variants/{variant.name}"
        assert {f"{prefix}/variant.toml", f"{prefix}/os-release", f"{prefix}/host.toml"} <= names
        assert any(n.startswith(f"{prefix}/defaults.d/") and n.endswith(".toml") for n in names), variant.name
        assert any(n.startswith(f"{prefix}/templates/") for n in names), variant.name
    assert "thar/py.typed" in names
    assert "thar/host_ctr/host-containerd.toml" in names
    for component in (p for p in (ROOT / "thar").iterdir() if p.is_symlink() and (p / "__init__.py").is_file()):
        if (component / "README.md").is_file():
            assert f"thar/{component.name}/README.md" in names
        if (component / "py.typed").is_file():
            assert f"thar/{component.name}/py.typed" in names


def test_installed_the_top_level_is_thar_and_its_dist_info_only(venv: Path) -> None:
    assert sorted(p.name for p in site_packages(venv).iterdir()) == sorted(["thar", f"{NAME}-{VERSION}.dist-info"])
    installed = site_packages(venv) / "thar"
    assert [p for p in installed.rglob("*") if p.is_symlink()] == []
    assert (installed / "units/preconfigured.target").is_file()
    assert (installed / "units/tmpfiles.conf").is_file()  # thar-install-units --variant installs it
    assert (installed / "variants/thar-dev/variant.toml").is_file()


def test_every_console_script_is_installed(venv: Path) -> None:
    assert set(PROJECT["scripts"]) == SCRIPTS
    for script in sorted(SCRIPTS):
        path = venv / "bin" / script
        assert path.is_file() and os.access(path, os.X_OK), script
        module = PROJECT["scripts"][script].split(":")[0]
        assert f"from {module} import" in path.read_text(), script


def test_the_installed_thar_install_units_installs_the_shipped_units(venv: Path, tmp_path: Path) -> None:
    """It runs from the installed package alone (no dependencies, no checkout) and installs
    the tree the checkout's command installs."""
    bindir = str(venv / "bin")
    result = subprocess.run(
        [str(venv / "bin/thar-install-units"), "--root", str(tmp_path / "installed"), "--bindir", bindir],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    from thar import install_units

    install_units.install(tmp_path / "checkout", bindir=bindir)
    installed = sorted(p.relative_to(tmp_path / "installed") for p in (tmp_path / "installed").rglob("*"))
    assert installed == sorted(p.relative_to(tmp_path / "checkout") for p in (tmp_path / "checkout").rglob("*"))
    for rel in installed:
        a, b = tmp_path / "installed" / rel, tmp_path / "checkout" / rel
        if a.is_file() and not a.is_symlink():
            assert a.read_bytes() == b.read_bytes(), rel


def test_the_installed_thar_install_units_makes_a_host_of_a_shipped_variant(venv: Path, tmp_path: Path) -> None:
    """``--variant`` finds the variant's os-release, defaults, host.toml and templates in the
    installed package: the host tree is the checkout's."""
    roots = {}
    for name in ("installed", "checkout"):
        root = roots[name] = tmp_path / name
        (root / "etc").mkdir(parents=True)
        (root / "etc/group").write_text("api:x:274:\n")  # so no groupadd runs
    result = subprocess.run(
        [str(venv / "bin/thar-install-units"), "--root", str(roots["installed"]), "--variant", "thar-dev"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (roots["installed"] / "etc/storewolf/defaults.d/99-host.toml").is_file()
    from thar import install_units

    install_units.install(roots["checkout"], variant="thar-dev")
    installed = sorted(p.relative_to(roots["installed"]) for p in roots["installed"].rglob("*"))
    assert installed == sorted(p.relative_to(roots["checkout"]) for p in roots["checkout"].rglob("*"))
    for rel in installed:
        a, b = roots["installed"] / rel, roots["checkout"] / rel
        if a.is_file() and not a.is_symlink():
            assert a.read_bytes() == b.read_bytes(), rel
