"""apiclient starts lean: `python -m thar.apiclient` never imports aiohttp or pydantic."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apiclient.peer import ApiPeer

HEAVY = ("aiohttp", "pydantic", "uvloop", "thar.models", "thar.datastore", "thar.apiserver")


def imported_modules(*argv: str) -> tuple[int, set[str]]:
    """Run `python -X importtime ARGV` and return its exit status and every module it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    modules = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    return result.returncode, modules


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_does_not_import_aiohttp() -> None:
    code, modules = imported_modules("-m", "thar.apiclient", "--help")
    assert code == 0
    assert "thar.apiclient.cli" in modules
    assert "aiohttp" not in modules
    assert heavy(modules) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["set", "motd=x"],
        ["set", "--json", '{"motd": "x"}'],
        ["get", "settings.motd"],
        ["apply", "file:///nonexistent.toml"],
        ["raw", "-u", "/tx/list"],
        ["reboot"],
        ["exec", "admin", "true"],
        ["update", "check"],
        ["update", "apply", "--check", "--reboot"],
        ["update", "cancel"],
    ],
)
def test_running_a_command_does_not_import_aiohttp_or_pydantic(argv: list[str]) -> None:
    code, modules = imported_modules("-m", "thar.apiclient", "-s", "/nonexistent/api.sock", *argv)
    assert code == 1  # no server there
    assert heavy(modules) == []


def test_settings_committer_does_not_import_aiohttp() -> None:
    entry_point = "import sys; from thar.apiclient.committer import main; sys.exit(main())"  # as the console script
    code, modules = imported_modules("-c", entry_point, "--socket-path", "/nonexistent/api.sock")
    assert code == 1
    assert "thar.apiclient.committer" in modules
    assert heavy(modules) == []


def test_get_does_not_pay_for_toml_or_url_fetching() -> None:
    _, modules = imported_modules("-m", "thar.apiclient", "-s", "/nonexistent/api.sock", "get")
    assert "tomllib" not in modules
    assert "toml" not in modules
    assert "urllib.request" not in modules


def test_only_get_toml_imports_the_toml_package(peer: ApiPeer) -> None:
    peer.route("GET", "/", (200, '{"settings": {"motd": "hi"}}'))
    code, modules = imported_modules("-m", "thar.apiclient", "-s", peer.socket_path, "get", "--toml")
    assert code == 0
    assert {"toml", "thar.apiclient.user_data"} <= modules
    assert heavy(modules) == []
    code, modules = imported_modules("-m", "thar.apiclient", "-s", peer.socket_path, "get", "settings.motd")
    assert code == 0
    assert not {"toml", "thar.apiclient.user_data"} & modules


# What `apiclient get` (the common case, in scripts and at every boot step) leaves out: logging
# (nothing to show above debug), the verb modules of other subcommands, the TOML writer, and
# the standard library's HTTP client and socket wrappers (apiclient.client speaks HTTP itself).
NOT_FOR_GET = (
    "logging",
    "dataclasses",
    "socket",
    "http",
    "http.client",
    "toml",
    "thar.apiclient.set",
    "thar.apiclient.logs",
    "thar.apiclient.user_data",
)


@pytest.mark.parametrize("argv", [["get", "settings.motd"], ["get"], ["get", "/settings?keys=settings.motd"]])
def test_get_imports_neither_logging_nor_an_http_library(argv: list[str]) -> None:
    _, interpreter = imported_modules("-c", "pass")  # whatever site and the interpreter load anyway
    code, modules = imported_modules("-m", "thar.apiclient", "-s", "/nonexistent/api.sock", *argv)
    assert code == 1
    assert "thar.apiclient.get" in modules
    assert sorted(set(NOT_FOR_GET) & (modules - interpreter)) == []


def test_a_usage_error_in_get_still_gets_the_argparse_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "thar.apiclient", "get", "/a", "/b"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("You can only specify one URI.\n\nusage: apiclient get")


def test_no_import_circle_among_apiclient_modules() -> None:
    """Every import of one apiclient module by another (at any depth, type-only ones too) points one way."""
    from thar import apiclient

    package = Path(apiclient.__file__).parent
    imports: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "thar.apiclient":
                found |= {alias.name for alias in node.names if (package / f"{alias.name}.py").exists()}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("thar.apiclient."):
                found.add((node.module or "").removeprefix("thar.apiclient."))
        imports[path.stem] = found - {path.stem}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for module in imports.get(start, set()) - seen:
            seen.add(module)
            if module == target or reaches(module, target, seen):
                return True
        return False

    assert sorted(m for m in imports if reaches(m, m, set())) == []
