"""The boot steps: thar's systemd units (``units/``) in their order, one program each.

``BOOT_STEPS`` is the order of the units (migrator -> storewolf -> apiserver ->
early-boot-config -> sundog -> settings-applier, the migrator left out); each ``Step`` says
which unit runs it, its arguments in a sandbox, its ``Condition...=`` (``skip``), whether it
is an ``ExecStartPre=`` (``pre``) or the long-running service (``service``), and how far ahead
its process may be started and what it imports while held.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .layout import Sandbox
from .programs import installed

__all__ = ["BOOT_STEPS", "REBOOT_COMMAND", "Step"]

# The sandbox's restart command for a reboot: records it instead of rebooting the machine.
REBOOT_COMMAND = "thar-record-restart reboot"


@dataclass(frozen=True)
class Step:
    """One boot step: a thar program as one of the systemd units runs it."""

    name: str  # as the timeline shows it
    unit: str  # the unit of units/ that runs it on a host
    program: str  # the console script
    entry: str  # its "module:function", to check it is installed and to run it without the script
    args: Callable[[Sandbox], list[str]]
    # A reason to skip the step (the unit's Condition...=), or None to run it.
    skip: Callable[[Sandbox], str | None] = field(default=lambda _sandbox: None)
    note: Callable[[Sandbox], str] = field(default=lambda _sandbox: "")  # for the timeline
    pre: bool = False  # an ExecStartPre= of its unit
    service: bool = False  # a long-running service started in the background (the apiserver)
    # Started as soon as the apiserver's socket exists (with storewolf), waited for at its turn:
    # for a program whose every effect goes through the API, which answers only once the
    # apiserver runs, that is, after storewolf. Its own start-up overlaps storewolf's work.
    early: bool = False
    # Started ahead and held before its main() until its turn (a Python program), when the
    # step ``ahead`` places before it starts.
    prestart: bool = True
    ahead: int = 1
    # Modules a held process imports while it waits: those the program imports only once it
    # runs (its render pipeline, say), so that their import too overlaps the steps before.
    preload: Callable[[Sandbox], tuple[str, ...]] = field(default=lambda _sandbox: ())

    @property
    def module(self) -> str:
        return self.entry.partition(":")[0]


def _storewolf_args(sb: Sandbox) -> list[str]:
    return ["--data-store-base-path", str(sb.datastore_base), "--variant", sb.variant]


def _apiserver_args(sb: Sandbox) -> list[str]:
    # The applier is found on PATH (thar-boot puts its own bin directory first) and finds the
    # socket through THAR_ROOT. Without thar-be-settings installed, changes are only committed.
    applier = "thar-be-settings" if installed("thar.thar_be_settings.cli") else "none"
    if applier != "none" and sb.host_restarts:
        applier += " --no-restart"
    return [
        "--datastore-path", str(sb.datastore), "--socket-path", str(sb.socket), "--variant", sb.variant,
        "--os-release", str(sb.os_release), "--applier", applier, "--reboot-command", REBOOT_COMMAND,
    ]  # fmt: skip


def _socket_args(sb: Sandbox) -> list[str]:
    return ["--socket-path", str(sb.socket)]


def _applier_args(sb: Sandbox) -> list[str]:
    return ["--all", *(["--no-restart"] if sb.host_restarts else []), *_socket_args(sb)]


def _applier_note(sb: Sandbox) -> str:
    if not sb.host_restarts:
        return ""
    return f"restarts not run: the variant's are a real host's ('{sb.host_restarts[0]}', ...)"


# What thar-be-settings imports only once it runs: the applier and schnauzer's render pipeline.
_APPLIER_MODULES = (
    "thar.thar_be_settings.applier", "thar.thar_be_settings.plan", "thar.thar_be_settings.restart",
    "thar.schnauzer.errors", "thar.schnauzer.helpers", "thar.schnauzer.importer", "thar.schnauzer.render",
    "thar.schnauzer.template",
    "subprocess",
)  # fmt: skip
# The settings model that schnauzer's model-validating helpers load on their first call.
_MODEL_HELPERS = {"oci_defaults": "thar.models.settings.oci_defaults"}


@functools.cache
def _model_modules(templates: Path) -> tuple[str, ...]:
    """The settings-model modules that the templates in ``templates`` may load."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        for template in sorted(templates.iterdir()):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                text = template.read_text(encoding="utf-8")
                found += [m for helper, m in _MODEL_HELPERS.items() if helper in text and m not in found]
    return tuple(found)


def _applier_preload(sb: Sandbox) -> tuple[str, ...]:
    """The applier's modules, and the settings model when a template of the variant uses a
    helper that validates with it."""
    return (*_APPLIER_MODULES, *_model_modules(sb.variant_dir / "templates"))


def _sundog_preload(_sb: Sandbox) -> tuple[str, ...]:
    """sundog renders its schnauzer-v2 generators in process, importing schnauzer's CLI then."""
    return (
        "thar.schnauzer.cli",
        "thar.schnauzer.errors",
        "thar.schnauzer.v1",
        "thar.schnauzer.importer",
        "thar.sundog.runner",
    )


def _first_boot_only(sb: Sandbox) -> str | None:
    if sb.marker.exists():
        return f"not the first boot ({sb.marker.relative_to(sb.root)} exists)"
    return None


# The boot order of the units (migrator -> storewolf -> apiserver -> early-boot-config -> sundog
# -> settings-applier). The migrator is left out: a sandbox is always booted at the version of
# the thar it runs, so there is nothing to migrate.
BOOT_STEPS: tuple[Step, ...] = (
    Step("storewolf", "storewolf.service", "storewolf", "thar.storewolf.cli:main", _storewolf_args),
    Step("apiserver", "apiserver.service", "apiserver", "thar.apiserver.__main__:main", _apiserver_args, service=True),
    Step("early-boot-config", "early-boot-config.service", "early-boot-config", "thar.early_boot_config.cli:main",
         _socket_args, skip=_first_boot_only, early=True),
    Step("settings-committer", "sundog.service", "settings-committer", "thar.apiclient.committer:main",
         _socket_args, pre=True),
    Step("sundog", "sundog.service", "sundog", "thar.sundog.cli:main", _socket_args, preload=_sundog_preload),
    Step("settings-committer", "settings-applier.service", "settings-committer", "thar.apiclient.committer:main",
         _socket_args, pre=True),
    Step("thar-be-settings --all", "settings-applier.service", "thar-be-settings", "thar.thar_be_settings.cli:main",
         _applier_args, note=_applier_note, preload=_applier_preload, ahead=2),
)  # fmt: skip
