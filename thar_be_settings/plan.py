"""Planning an apply: what would be written and what would be restarted, without doing it.

`plan_apply` is a pure function of the API model (`GET /`: settings and os), the affected
services and their configuration files: it renders every file (reading only the templates)
and lists the restarts, in the order the applier performs them. The applier writes a plan;
`--dry-run` prints it as a unified diff against the files on disk (`diff_plan`). The API
server can call `plan_apply` with a pending transaction's settings to show what a commit
would change.

Rendering matches schnauzer's production path (spec/schnauzer.md §3): each template sees
`{"settings": {ext: settings[ext] for each required extension present}, "os": model["os"]}`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thar.thar_be_settings.config import ConfigFile, Service, resolve
from thar.thar_be_settings.errors import ApiError, ModeError, RenderFailed
from thar.thar_be_settings.writer import parse_mode

if TYPE_CHECKING:
    from thar.schnauzer.helpers import HelperEnvironment
    from thar.schnauzer.template import TemplateFile

__all__ = [
    "Plan",
    "PlannedFile",
    "PlannedRestart",
    "check_model",
    "diff_plan",
    "plan_apply",
    "plan_for_model",
    "plan_restarts",
    "render_context",
    "render_file",
]

SYSTEMD_PREFIX = "/etc/systemd/"


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """A rendered configuration file: what it is, where it goes (under the root) and its text."""

    file: ConfigFile
    target: Path
    content: str

    @property
    def mode(self) -> int:
        """The file's mode; `ModeError` if its `mode` text is not octal."""
        return parse_mode(self.file.path, self.file.mode)


@dataclass(frozen=True, slots=True)
class PlannedRestart:
    """A service's restart commands, and its changed settings (None: everything, no CHANGED_SETTINGS)."""

    service: str
    commands: tuple[str, ...]
    changed_settings: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Plan:
    """Files to write (render order), files that failed to render (`(name, reason)`, lenient
    mode only), whether systemd must be reloaded, and the restarts, in order."""

    files: tuple[PlannedFile, ...]
    failures: tuple[tuple[str, str], ...]
    reload_systemd: bool
    restarts: tuple[PlannedRestart, ...]


def check_model(model: Any) -> dict[str, Any]:
    """The `GET /` answer must be an object holding objects `settings` and `os`."""
    if (
        not isinstance(model, dict)
        or not isinstance(model.get("settings"), dict)
        or not isinstance(model.get("os"), dict)
    ):
        raise ApiError("The API model (GET /) must be a JSON object with 'settings' and 'os' objects")
    return model


def render_context(model: Mapping[str, Any], template: TemplateFile) -> dict[str, Any]:
    """What a template sees: its required extensions' settings (those that are set) and `os`."""
    settings = model["settings"]
    visible = {r.name: settings[r.name] for r in template.requirements if r.name in settings}
    return {"settings": visible, "os": model["os"]}


def render_file(
    template_path: Path,
    model: Mapping[str, Any],
    env: HelperEnvironment | None = None,
    *,
    cache: dict[Path, Any] | None = None,
) -> str:
    """Render one v2 template file against the model; raises `SchnauzerError` on failure."""
    from thar.schnauzer.importer import StaticImporter
    from thar.schnauzer.render import read_template_file, render_parsed
    from thar.schnauzer.template import parse_template

    parsed = cache.get(template_path) if cache is not None else None
    if parsed is None:
        parsed = parse_template(read_template_file(template_path))
        if cache is not None:
            cache[template_path] = parsed
    return render_parsed(parsed, StaticImporter(render_context(model, parsed)), env)


def plan_apply(
    model: Mapping[str, Any],
    services: Mapping[str, Service],
    files: Mapping[str, ConfigFile],
    *,
    changed: Mapping[str, Sequence[str]] | None = None,
    root: Path | None = None,
    strict: bool = True,
    env: HelperEnvironment | None = None,
) -> Plan:
    """Plan an apply of `files` and `services` for the API `model`.

    `changed` maps each service to its changed settings (SpecificKeys mode, strict renders,
    systemd reload for files under /etc/systemd/); None means "apply everything" (All mode).
    Strict: the first render failure raises `RenderFailed`. Lenient: failures are collected in
    `Plan.failures` and the file is left out. Templates and targets are resolved under `root`.
    """
    from thar.schnauzer.errors import SchnauzerError

    check_model(model)
    planned: list[PlannedFile] = []
    failures: list[tuple[str, str]] = []
    cache: dict[Path, Any] = {}
    for name, file in files.items():
        try:
            content = render_file(resolve(root, file.template_path), model, env, cache=cache)
        except Exception as exc:  # a failing template or helper must not stop the other files
            reason = str(exc) if isinstance(exc, SchnauzerError) else f"{type(exc).__name__}: {exc}"
            if strict:
                raise RenderFailed(name, reason) from exc
            failures.append((name, reason))
            continue
        planned.append(PlannedFile(file, resolve(root, file.path), content))
    reload_systemd = changed is not None and any(p.file.path.startswith(SYSTEMD_PREFIX) for p in planned)
    return Plan(tuple(planned), tuple(failures), reload_systemd, plan_restarts(services, changed))


def plan_restarts(
    services: Mapping[str, Service], changed: Mapping[str, Sequence[str]] | None = None
) -> tuple[PlannedRestart, ...]:
    """Each service's restart, in order, with its changed settings (None: all, `--all`)."""
    return tuple(
        PlannedRestart(name, service.restart_commands, None if changed is None else tuple(changed.get(name, ())))
        for name, service in services.items()
    )


def plan_for_model(
    model: Mapping[str, Any],
    affected: Mapping[str, Sequence[str]] | None = None,
    *,
    root: Path | None = None,
    env: HelperEnvironment | None = None,
) -> Plan:
    """Plan from a whole API model (`GET /`: settings, os, services, configuration-files) — what
    the API server holds — for the changed keys' `affected` services (`{key: [service, …]}`, as
    `/metadata/affected-services` answers), or for everything when `affected` is None.

    For a dry run of a pending transaction, pass the model with the transaction's settings
    merged in. Raises as `plan_apply` (strict for changed keys, lenient for everything).
    """
    from thar.thar_be_settings.config import parse_files, parse_services

    all_services = parse_services(model.get("services", {}))
    all_files = parse_files(model.get("configuration-files", {}))
    if affected is None:
        return plan_apply(model, all_services, all_files, root=root, strict=False, env=env)
    names = list(dict.fromkeys(name for services in affected.values() for name in services))
    unknown = [name for name in names if name not in all_services]
    if unknown:
        raise ApiError(f"Affected services not in the model: {', '.join(unknown)}")
    services = {name: all_services[name] for name in names}
    file_names = list(dict.fromkeys(f for service in services.values() for f in service.configuration_files))
    missing = [name for name in file_names if name not in all_files]
    if missing:
        raise ApiError(f"Configuration files not in the model: {', '.join(missing)}")
    files = {name: all_files[name] for name in file_names}
    changed = {name: [key for key, svcs in affected.items() if name in svcs] for name in services}
    return plan_apply(model, services, files, changed=changed, root=root, strict=True, env=env)


def _read_current(path: Path) -> tuple[str | None, int | None]:
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data.decode("utf-8", errors="replace"), os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return f"<unreadable: {exc.strerror or exc}>\n", None


def diff_plan(plan: Plan, root: Path | None = None) -> str:
    """The plan as text: a unified diff per file that would change (or change mode), then the
    systemd reload and the restart commands that would run. Reads the files on disk only."""
    import difflib

    out: list[str] = []
    for planned in plan.files:
        current, current_mode = _read_current(planned.target)
        try:
            mode_text = f"{planned.mode:04o}"
            mode_changes = current_mode is not None and current_mode != planned.mode
        except ModeError as exc:
            mode_text, mode_changes = f"invalid ({exc})", True
        shown = str(planned.target)
        if current == planned.content and not mode_changes:
            continue
        if current is None:
            out.append(f"# {planned.file.name}: new file {shown} (mode {mode_text})\n")
        elif current == planned.content:
            out.append(f"# {planned.file.name}: mode of {shown} becomes {mode_text}\n")
            continue
        else:
            note = f", mode becomes {mode_text}" if mode_changes else ""
            out.append(f"# {planned.file.name}: {shown} changes{note}\n")
        old_lines = [] if current is None else current.splitlines(keepends=True)
        new_lines = planned.content.splitlines(keepends=True)
        for line in difflib.unified_diff(
            old_lines, new_lines, fromfile="/dev/null" if current is None else shown, tofile=shown
        ):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    for name, reason in plan.failures:
        out.append(f"# {name}: would not be written, its template failed to render: {reason}\n")
    if plan.reload_systemd:
        out.append("# would run: systemctl daemon-reload\n")
    for restart in plan.restarts:
        env = ""
        if restart.changed_settings:
            env = "CHANGED_SETTINGS='" + " ".join(restart.changed_settings) + "' "
        if not restart.commands:
            out.append(f"# {restart.service}: no restart commands\n")
        for command in restart.commands:
            out.append(f"# would restart {restart.service}: {env}{command}\n")
    return "".join(out)
