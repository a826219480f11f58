"""The two apply modes of spec/thar-be-settings.md: SpecificKeys (§2) and All (§3).

Both follow the same steps: ask the API which services and files are affected, fetch the
model once (`GET /`), plan (render every file before writing any), write the files, reload
systemd if a unit file changed (SpecificKeys only), and restart the services.

thar's additions: the fetch-render-write phase runs under one lock per root
(`<root>/run/thar-be-settings/apply.lock`), so when appliers overlap, files are never
overwritten by a render of older settings; restarts are serialized and coalesced per service
(`thar_be_settings.restart`); `--all` reports every file that failed to render and exits 1
after writing the others and restarting; `dry_run` prints the plan and changes nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from thar.thar_be_settings import api
from thar.thar_be_settings.config import ConfigFile, Service, parse_files, parse_services, resolve
from thar.thar_be_settings.errors import ApplierError, InputError, ReloadFailed, RenderFailed, RendersFailed
from thar.thar_be_settings.log import log
from thar.thar_be_settings.plan import Plan, diff_plan, plan_apply, plan_restarts
from thar.thar_be_settings.report import Report
from thar.thar_be_settings.restart import RestartQueue
from thar.thar_be_settings.writer import sync_directories, write_file

if TYPE_CHECKING:
    from thar.schnauzer.helpers import HelperEnvironment

__all__ = [
    "Options",
    "apply_all",
    "apply_keys",
    "parse_keys",
    "reload_systemd",
    "run_dir",
    "sandbox_environment",
    "write_plan",
]


@dataclass(frozen=True, slots=True)
class Options:
    """How to apply: the API socket, the sandbox root (None = `/`), and thar's extra switches."""

    socket_path: str
    root: Path | None = None
    dry_run: bool = False
    restart: bool = True
    report: Report | None = None  # filled in as files are written and services restarted

    @property
    def sandboxed(self) -> bool:
        return self.root is not None and str(self.root) != "/"


def run_dir(root: Path | None) -> Path:
    """Where appliers coordinate: `<root>/run/thar-be-settings`."""
    return resolve(root, "/run/thar-be-settings")


def parse_keys(raw: str) -> list[str]:
    """stdin's JSON array of strings as a set (duplicates dropped; first-seen order kept)."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InputError(raw, str(exc)) from exc
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise InputError(raw, f"expected an array of strings, got {type(value).__name__}")
    return list(dict.fromkeys(value))


@contextmanager
def _apply_lock(options: Options) -> Iterator[None]:
    """Hold the root's apply lock (none for a dry run, or when the run directory is unusable)."""
    if options.dry_run:
        yield
        return
    directory = run_dir(options.root)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "apply.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        log.warn(f"Cannot use {directory} to coordinate with other appliers ({exc.strerror or exc}); continuing")
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_plan(plan: Plan, report: Report | None = None) -> int:
    """Write the plan's files in order; the number whose bytes changed. The first failure raises
    (it and the files after it are reported `failed`)."""
    changed = 0
    directories: set[Path] = set()
    for index, planned in enumerate(plan.files):
        log.debug(f"Writing {planned.file.name} to {planned.target}")
        try:
            written = write_file(planned.target, planned.content, planned.mode)
        except ApplierError as exc:
            if report is not None:
                report.file(planned.file.name, planned.file.path, "failed", str(exc))
                for later in plan.files[index + 1 :]:
                    report.file(later.file.name, later.file.path, "failed", f"not written: {exc}")
            raise
        if report is not None:
            report.file(planned.file.name, planned.file.path, "written" if written else "unchanged")
        if written:
            changed += 1
            directories.add(planned.target.parent)
    sync_directories(directories)
    return changed


def reload_systemd(options: Options) -> None:
    """`systemctl daemon-reload` (PATH lookup, no shell); `ReloadFailed` with its stderr. Not
    run in a sandbox root, where it would reach the host's systemd."""
    if options.sandboxed:
        log.info("Not running 'systemctl daemon-reload' in a sandbox root (it would reach the host)")
        return
    import subprocess

    try:
        done = subprocess.run(
            ["systemctl", "daemon-reload"], stdin=subprocess.DEVNULL, capture_output=True, check=False
        )
    except OSError as exc:
        raise ReloadFailed(str(exc)) from exc
    if done.returncode != 0:
        raise ReloadFailed(done.stderr.decode(errors="replace"))


def _restart_env(options: Options) -> dict[str, str]:
    env = dict(os.environ)
    if options.sandboxed:
        env["THAR_ROOT"] = str(options.root)
    return env


def _restart(plan: Plan, options: Options) -> None:
    report = options.report
    if not options.restart:
        log.info("Restarts skipped (--no-restart)")
        if report is not None:
            for restart in plan.restarts:
                report.service(restart.service, "not-run" if restart.commands else "none")
        return
    queue = RestartQueue(run_dir(options.root) / "restart")
    env = _restart_env(options)
    for index, restart in enumerate(plan.restarts):
        if not restart.commands:
            log.info(f"restart commands {list(restart.commands)}")
            if report is not None:
                report.service(restart.service, "none")
            continue
        results: list[dict[str, object]] = []
        try:
            try:
                ran = queue.restart(restart.service, restart.commands, restart.changed_settings, env, results)
            except OSError as exc:
                # The coordination files are unusable: restart without coalescing.
                log.warn(
                    f"Cannot queue the restart of '{restart.service}' ({exc.strerror or exc}); restarting directly"
                )
                from thar.thar_be_settings.restart import run_commands

                log.info(f"restart commands {list(restart.commands)}")
                run_commands(restart.commands, restart.changed_settings, env, results)
                ran = True
        except ApplierError:
            if report is not None:
                report.service(restart.service, "failed", results)
                for later in plan.restarts[index + 1 :]:
                    report.service(later.service, "not-run" if later.commands else "none")
            raise
        if report is not None:
            report.service(restart.service, "restarted" if ran else "coalesced", results)


def _dry_run(plan: Plan, options: Options) -> None:
    sys.stdout.write(diff_plan(plan, options.root))
    sys.stdout.flush()


def _union(lists: Iterator[Sequence[str]]) -> list[str]:
    return list(dict.fromkeys(item for sub in lists for item in sub))


def apply_keys(keys: Sequence[str], options: Options) -> None:
    """SpecificKeys mode: apply the changed `keys` (spec §2)."""
    shown = ", ".join(json.dumps(key) for key in keys)
    log.info(f"Requesting affected services for settings: {{{shown}}}")
    affected = api.affected_services(options.socket_path, keys)
    if not affected:
        log.info("No services are affected, exiting...")
        return
    names = _union(iter(affected.values()))
    with _apply_lock(options):
        services = parse_services(api.services(options.socket_path, names))
        if not services:
            log.info("No services are affected, exiting...")
            return
        changed: Mapping[str, Sequence[str]] = {
            name: [key for key in keys if name in affected.get(key, ())] for name in services
        }
        file_names = _union(s.configuration_files for s in services.values())
        files: dict[str, ConfigFile] = {}
        model = None
        if file_names:
            log.info("Requesting configuration file data for affected services")
            files = parse_files(api.configuration_files(options.socket_path, file_names))
            model = api.get_object(options.socket_path, "/")
        log.info("Rendering config files...")
        try:
            plan = _plan(model, services, files, changed=changed, options=options, strict=True)
        except RenderFailed as exc:
            if options.report is not None:
                failed = files.get(exc.name)
                options.report.file(exc.name, failed.path if failed else "", "failed", exc.reason)
            raise
        if options.dry_run:
            _dry_run(plan, options)
            return
        log.info("Writing config files to disk...")
        write_plan(plan, options.report)
    if plan.reload_systemd:
        reload_systemd(options)
    log.info("Restarting affected services...")
    _restart(plan, options)


def sandbox_environment() -> HelperEnvironment:
    """The host facts templates see in a sandbox: the real host's, except that no EFA device is
    attached (the sandbox is not the node whose hardware `oci_defaults` asks about, and the
    machine running it need not have `lspci`)."""
    from thar.schnauzer.helpers import HelperEnvironment

    return HelperEnvironment(efa_attached=lambda: False)


def _plan(
    model: Mapping[str, object] | None,
    services: Mapping[str, Service],
    files: Mapping[str, ConfigFile],
    *,
    changed: Mapping[str, Sequence[str]] | None,
    options: Options,
    strict: bool,
) -> Plan:
    if model is None:  # no configuration files: nothing to render
        model = {"settings": {}, "os": {}}
    env = None
    if options.sandboxed:
        env = sandbox_environment()
    return plan_apply(model, services, files, changed=changed, root=options.root, strict=strict, env=env)


def apply_all(options: Options) -> None:
    """All mode: render every configuration file leniently, restart every service (spec §3)."""
    with _apply_lock(options):
        files = parse_files(api.configuration_files(options.socket_path))
        model = api.get_object(options.socket_path, "/") if files else None
        log.info("Rendering config files...")
        plan = _plan(model, {}, files, changed=None, options=options, strict=False)
        for name, reason in plan.failures:
            log.warn(f"Unable to render template '{name}': {reason}")
            if options.report is not None:
                options.report.file(name, files[name].path, "failed", reason)
        if not options.dry_run:
            log.info("Writing config files to disk...")
            write_plan(plan, options.report)
    services = parse_services(api.services(options.socket_path))
    plan = replace(plan, restarts=plan_restarts(services))
    if options.dry_run:
        _dry_run(plan, options)
    else:
        log.info("Restarting all services...")
        _restart(plan, options)
    if plan.failures:
        raise RendersFailed(plan.failures)
