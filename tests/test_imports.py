"""Every import between thar's components follows DESIGN's dependency table ("Repository
layout"): a component imports only the components its row names, always as ``thar.<component>``
(or relatively), never by a bare top-level name, and no two components import each other in a
circle. Imports inside functions count as much as those at the top of a module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# DESIGN's table: the components each component may import (stdlib and third-party packages aside).
ALLOWED: dict[str, set[str]] = {
    # key grammar, backends, transactions, metadata, commit journal: stdlib and sqlite-utils only
    "datastore": set(),
    # the pydantic settings model, modeled types, variants, services, configuration files
    "models": set(),
    # template format and every helper: renders against the model
    "schnauzer": {"models"} | {"apiclient"},  # apiclient: the schnauzer CLIs read settings over the socket
    # HTTP routes, controller, locking, the applier, socket setup
    "apiserver": {"datastore", "models"}
    | {"variants"}  # variants: --variant names one of thar's variants (data)
    | {"thar_be_settings"},  # thar_be_settings: a dry run plans the files a commit would render (lazy)
    # lean Unix-socket client and the apiclient CLI (settings-committer): stdlib (+ toml), fast start-up
    "apiclient": set(),
    # creates the datastore and version links, loads a variant's defaults
    "storewolf": {"datastore", "models"} | {"variants"},  # variants: the variant whose defaults it loads (data)
    # user-data providers, gzip, TOML -> PATCH over the socket
    "early_boot_config": {"apiclient"}
    | {"models"}  # models: user data validated against the variant's model, offline
    | {"variants"},  # variants: validation names one of thar's variants (data)
    # setting generators, templated settings
    "sundog": {"apiclient", "schnauzer"},
    # config files rendered, services restarted
    "thar_be_settings": {"apiclient", "schnauzer"},
    # migrator, migration helpers, the project's migrations
    "migrations": {"datastore"}
    | {"schnauzer"}  # schnauzer: migration helpers re-render templated settings (lazy)
    | {"update_metadata"},  # update_metadata: the release's migrations from the manifest in updog's cache
    # thar-boot, the sandbox boot mirroring the units: it runs every component as a program (by module
    # name, in a process of its own) and imports only these
    "sandbox": {"thar_be_settings"}  # thar_be_settings: the restart recorder it installs in the sandbox
    | {"variants"}  # variants: --variant names one of thar's variants (data)
    | {"host_ctr"},  # host_ctr: host-containerd's configuration and process, for host containers (lazy)
    # host-ctr: host containers on their own containerd, driven through containerd's ctr (stdlib + toml)
    "host_ctr": {"apiclient"},  # apiclient: its files make the zipapp host containers run (lazy)
    # bootstrap-containers and bootstrap-commands: read the rendered files, systemctl and host-ctr as programs,
    # the API through apiclient
    "bootstrap_containers": {"apiclient"},
    # host-containers: settings.host-containers -> host-containers@NAME.service, read over the socket
    "host_containers": {"apiclient"},
    # signpost: the OS disk's GPT (both copies, CRCs), partition sets and gptprio bits; stdlib only
    "signpost": set(),
    # updog: TUF repository (python-tuf), manifest and selection from update_metadata; signpost for the
    # partition sets an update writes
    "updog": {"update_metadata", "signpost"},
    # the update manifest: model + JSON, waves, selection, find_migrations (stdlib + pydantic)
    "update_metadata": set(),
    # thar-be-updates: the update dispatcher; runs updog as a program, reads the partition sets
    "thar_be_updates": {"update_metadata", "signpost"},
    # data: each variant's defaults.d, templates, os-release
    "variants": set(),
    # thar/*.py: the namespace itself and thar-install-units, stdlib only
    "thar": {"update_metadata"},  # update_metadata: thar-update-repo (thar/update_repo.py) writes the manifest
}
COMPONENTS = set(ALLOWED) - {"thar"}
# thar/*.py helpers every component may import (stdlib only): THAR_ROOT, logging setup, os-release, atomic writes
SHARED = {"paths", "logs", "osrelease", "atomic"} | {
    "host_install",  # thar-install-units' host steps (group, os-release, defaults.d, templates, /var/lib): stdlib only
}


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    component: str  # the component imported
    bare: bool  # imported by its top-level name instead of thar.<component>

    def __str__(self) -> str:
        how = "bare " if self.bare else ""
        return f"{self.path.relative_to(ROOT)}:{self.line}: {how}import of {self.component}"


def modules() -> Iterator[tuple[str, Path, str]]:
    """(component, file, dotted package the file's relative imports start from)."""
    for component in sorted(COMPONENTS):
        folder = ROOT / component
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = ["thar", *path.relative_to(ROOT).with_suffix("").parts]
            package = parts if parts[-1] == "__init__" else parts[:-1]
            yield component, path, ".".join(p for p in package if p != "__init__")
    for path in sorted((ROOT / "thar").glob("*.py")):
        yield "thar", path, "thar"


def resolve(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    base = package.split(".")
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, module] if module else base)


def imports(path: Path, package: str) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _classify(path, node.lineno, alias.name, [])
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node.module, node.level, package)
            yield from _classify(path, node.lineno, target, [alias.name for alias in node.names])


def _classify(path: Path, line: int, target: str, names: list[str]) -> Iterator[Import]:
    parts = target.split(".")
    if parts[0] in COMPONENTS:
        yield Import(path, line, parts[0], bare=True)
    elif parts[0] == "thar":
        if len(parts) > 1 and parts[1] in SHARED:
            return
        if len(parts) > 1:
            yield Import(path, line, parts[1], bare=False)
        else:  # from thar import datastore, ...
            yield from (Import(path, line, name, bare=False) for name in names if name in COMPONENTS)


def all_imports() -> list[tuple[str, Import]]:
    return [(component, imp) for component, path, package in modules() for imp in imports(path, package)]


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {component: set() for component in ALLOWED}
    for component, imp in all_imports():
        if imp.component != component:
            graph[component].add(imp.component)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle in ``graph`` as the path that closes it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if state.get(other) == 1:
                return [*stack[stack.index(other) :], other]
            if other not in state and (found := visit(other)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_components_are_the_root_folders() -> None:
    """The table covers every component thar/ links to, and nothing else."""
    linked = {p.name for p in (ROOT / "thar").iterdir() if p.is_symlink() and p.name != "units"}
    assert linked == COMPONENTS
    assert sum(1 for _ in modules()) > 50


def test_every_component_is_imported_as_thar_dot_component() -> None:
    assert [str(imp) for _, imp in all_imports() if imp.bare] == []


def test_components_import_only_what_the_table_allows() -> None:
    wrong = [
        f"{imp} (allowed: {sorted(ALLOWED[component]) or 'none'})"
        for component, imp in all_imports()
        if imp.component != component and imp.component not in ALLOWED[component]
    ]
    assert wrong == []


def test_nothing_imports_the_apiserver_but_its_entry_points() -> None:
    assert sorted(c for c, deps in edges().items() if "apiserver" in deps) == []


def test_there_is_no_import_circle_between_components() -> None:
    assert cycle(edges()) is None
    assert cycle(ALLOWED) is None


def test_the_checks_see_lazy_relative_and_bare_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "def f():\n    from ...datastore import Key\n    import models\n    from thar import sundog, os\n"
        "from . import sibling\n"
    )
    found = sorted((imp.component, imp.bare) for imp in imports(source, "thar.apiserver.sub"))
    assert found == [("apiserver", False), ("datastore", False), ("models", True), ("sundog", False)]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [({"a": {"b"}, "b": {"c"}, "c": set()}, None), ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"])],
)
def test_the_circle_check_finds_a_circle(graph: dict[str, set[str]], expected: list[str] | None) -> None:
    assert cycle(graph) == expected
