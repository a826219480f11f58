"""Make each host container's unit match its settings, as Bottlerocket's ``host-containers`` does.

For every host container a change affects (``is_container_affected``), ``handle_host_container``:

1. makes ``/local/host-containers/NAME`` (mode 0700) and, when ``user-data`` is set, writes it
   there base64-decoded as ``user-data`` (seen in the container at
   ``/.bottlerocket/host-containers/NAME/user-data``);
2. writes ``/etc/host-containers/NAME.env`` (``CTR_SUPERPOWERED``, ``CTR_SOURCE``), the
   ``EnvironmentFile`` of ``host-containers@NAME.service``;
3. stops the unit (waiting for it), and deletes what is left of the container with
   ``host-ctr clean-up`` when host-containerd runs, so the container starts again on its new
   settings;
4. enables and starts the unit when ``enabled``, else disables it. Once the host is configured
   (``configured.target`` active) that is ``systemctl enable|disable UNIT --now --no-block``;
   during the boot, ``enable|disable UNIT --no-reload --no-block``, plus ``start UNIT --no-block``
   for an enabled one (its unit starts after ``configured.target``).

Every path is below ``$THAR_ROOT`` when it is set. ``HOST_CONTAINERS_SYSTEMCTL`` and
``HOST_CONTAINERS_HOST_CTR`` (command lines, split as a shell would) replace ``/bin/systemctl``
and host-ctr (this interpreter's ``-m thar.host_ctr``), for tests without systemd.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thar.atomic import write_atomic

from .errors import (
    CommandFailed,
    EnvFileFailed,
    HostContainersError,
    InvalidSettings,
    ManageContainersFailed,
    MissingField,
    StorageFailed,
    UserDataInvalid,
)

__all__ = [
    "BOOTED_TARGET",
    "ENV_FILE_DIR",
    "HOST_CONTAINERD_UNIT",
    "PERSISTENT_STORAGE_BASE_DIR",
    "SYSTEMCTL",
    "Commands",
    "HostContainer",
    "SystemdUnit",
    "env_file_text",
    "handle_host_container",
    "is_container_affected",
    "manage",
    "parse_host_containers",
    "unit_name",
    "write_env_file",
    "write_storage",
]

log = logging.getLogger("host-containers")

ENV_FILE_DIR = "etc/host-containers"  # below the root
PERSISTENT_STORAGE_BASE_DIR = "local/host-containers"  # below the root
SYSTEMCTL = "/bin/systemctl"
HOST_CONTAINERD_UNIT = "host-containerd.service"
# Bottlerocket asks whether the default target is multi-user.target (it isolates preconfigured,
# configured, then multi-user during the boot); a thar host's default target is its OS's, and
# thar's boot is over once configured.target is active.
BOOTED_TARGET = "configured.target"
SETTING_PREFIX = "settings.host-containers."


@dataclass(frozen=True)
class HostContainer:
    """One ``settings.host-containers.NAME``: every field may be unset."""

    source: str | None = None
    enabled: bool | None = None
    superpowered: bool | None = None
    user_data: str | None = None


def parse_host_containers(settings: Mapping[str, Any]) -> dict[str, HostContainer]:
    """``{"host-containers": {NAME: {...}}}`` (the API's answer) as name -> HostContainer; no
    host containers is ``{}``. Raises ``InvalidSettings`` for values of the wrong type."""
    found = settings.get("host-containers") or {}
    if not isinstance(found, dict):
        raise InvalidSettings(f"expected a map of host containers, got {type(found).__name__}")
    containers = {}
    for name, value in found.items():
        if not isinstance(value, dict):
            raise InvalidSettings(f"host container '{name}' is {type(value).__name__}, not a map")
        fields: dict[str, Any] = {}
        for key, attr, kind in (
            ("source", "source", str),
            ("enabled", "enabled", bool),
            ("superpowered", "superpowered", bool),
            ("user-data", "user_data", str),
        ):
            item = value.get(key)
            if item is not None and not isinstance(item, kind):
                raise InvalidSettings(f"settings.host-containers.{name}.{key} is not a {kind.__name__}: {item!r}")
            fields[attr] = item
        containers[name] = HostContainer(**fields)
    return containers


def is_container_affected(changed: Sequence[str], name: str) -> bool:
    """Whether a change of the settings ``changed`` (CHANGED_SETTINGS) concerns container ``name``.

    No settings (the boot's ``--all`` run) concern every container; so does any setting outside
    ``settings.host-containers.`` (``settings.network.https-proxy``, say); a host container's
    own settings concern only it.
    """
    if not changed:
        log.info("Handling host container '%s' during full configuration process", name)
        return True
    own = f"{SETTING_PREFIX}{name}."
    for setting in changed:
        if setting.startswith(own):
            log.info(
                "Handling host container '%s' because it's directly affected by changed setting '%s' "
                "(and maybe others)",
                name,
                setting,
            )
            return True
        if not setting.startswith(SETTING_PREFIX):
            log.info(
                "Handling host container '%s' because it's indirectly affected by changed setting '%s' "
                "(and maybe others)",
                name,
                setting,
            )
            return True
    log.info("Not handling host container '%s', no changed settings affect it", name)
    return False


@dataclass(frozen=True)
class Commands:
    """How systemctl and host-ctr are run: each an argv prefix."""

    systemctl: tuple[str, ...] = (SYSTEMCTL,)
    host_ctr: tuple[str, ...] = field(default_factory=lambda: (sys.executable, "-m", "thar.host_ctr"))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Commands:
        """``HOST_CONTAINERS_SYSTEMCTL`` and ``HOST_CONTAINERS_HOST_CTR`` when set, else the defaults."""
        env = os.environ if environ is None else environ
        default = cls()
        systemctl = shlex.split(env.get("HOST_CONTAINERS_SYSTEMCTL", "")) or default.systemctl
        host_ctr = shlex.split(env.get("HOST_CONTAINERS_HOST_CTR", "")) or default.host_ctr
        return cls(tuple(systemctl), tuple(host_ctr))

    def run(self, argv: Sequence[str]) -> str:
        """Run ``argv``; its stdout. Raises ``CommandFailed`` when it cannot start or exits non-zero."""
        command = shlex.join(argv)
        log.debug("Running %s", command)
        try:
            done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, check=False)
        except OSError as exc:
            raise CommandFailed(command, f"cannot execute it: {exc.strerror or exc}") from exc
        stderr = done.stderr.decode(errors="replace").strip()
        if done.returncode != 0:
            raise CommandFailed(command, f"exit status {done.returncode}, stderr: {stderr}")
        return done.stdout.decode(errors="replace")


@dataclass(frozen=True)
class SystemdUnit:
    """The systemctl verbs host-containers uses on one unit."""

    unit: str
    commands: Commands

    def _systemctl(self, *args: str) -> str:
        return self.commands.run([*self.commands.systemctl, *args])

    def is_active(self) -> bool:
        # `systemctl is-active` exits non-zero for any state but active
        try:
            self._systemctl("is-active", self.unit)
        except CommandFailed:
            return False
        return True

    def stop(self) -> None:
        """Stop and wait; a failure is ignored, as Bottlerocket's (a unit systemd does not know
        yet cannot be stopped, and need not be)."""
        try:
            self._systemctl("stop", self.unit)
        except CommandFailed as exc:
            log.debug("Ignoring: %s", exc)

    def start(self) -> None:
        self._systemctl("start", self.unit, "--no-block")

    def enable(self) -> None:
        self._systemctl("enable", self.unit, "--no-reload", "--no-block")

    def enable_now(self) -> None:
        self._systemctl("enable", self.unit, "--now", "--no-block")

    def disable(self) -> None:
        self._systemctl("disable", self.unit, "--no-reload", "--no-block")

    def disable_now(self) -> None:
        self._systemctl("disable", self.unit, "--now", "--no-block")


def unit_name(name: str) -> str:
    """``host-containers@NAME.service``."""
    return f"host-containers@{name}.service"


def env_file_text(source: str, enabled: bool, superpowered: bool) -> str:
    """The EnvironmentFile of ``host-containers@NAME.service``, as Bottlerocket writes it."""
    return (
        f"CTR_SUPERPOWERED={str(superpowered).lower()}\n"
        f"CTR_SOURCE={source}\n"
        "\n# Just for reference; service is enabled or disabled by host-containers service\n"
        f"# CTR_ENABLED={str(enabled).lower()}\n"
    )


def write_env_file(root: Path, name: str, source: str, enabled: bool, superpowered: bool) -> Path:
    """Write ``ROOT/etc/host-containers/NAME.env`` (the directory made 0750 when missing); its path."""
    path = root / ENV_FILE_DIR / f"{name}.env"
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o750)
        write_atomic(path, env_file_text(source, enabled, superpowered), mode=0o644)
    except OSError as exc:
        raise EnvFileFailed(path, exc) from exc
    return path


def write_storage(root: Path, name: str, user_data: str | None) -> Path:
    """Make ``ROOT/local/host-containers/NAME`` (mode 0700) and, with ``user_data`` (base64),
    write it decoded to ``user-data`` there; a user-data file of an earlier setting is left
    when the setting is gone, as Bottlerocket leaves it. The directory."""
    directory = root / PERSISTENT_STORAGE_BASE_DIR / name
    decoded = None
    if user_data is not None:
        try:
            decoded = base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UserDataInvalid(name, str(exc)) from exc
    target = directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        if decoded is not None:
            target = directory / "user-data"
            write_atomic(target, decoded)
    except OSError as exc:
        raise StorageFailed(name, target, exc) from exc
    return directory


def handle_host_container(root: Path, name: str, container: HostContainer, commands: Commands) -> None:
    """Bring ``host-containers@NAME.service`` in line with ``container`` (see the module's
    steps). Raises a ``HostContainersError`` for this container; the others are not touched."""
    if container.source is None:
        raise MissingField(name, "source")
    enabled = bool(container.enabled)
    superpowered = bool(container.superpowered)
    log.info(
        "Host container '%s' is enabled: %s, superpowered: %s, with source: %s",
        name,
        str(enabled).lower(),
        str(superpowered).lower(),
        container.source,
    )
    write_storage(root, name, container.user_data)
    write_env_file(root, name, container.source, enabled, superpowered)

    unit = SystemdUnit(unit_name(name), commands)
    # Stop unconditionally (and wait), so the container starts again on its new settings.
    log.debug("Stopping host container: '%s'", unit.unit)
    unit.stop()
    # No container task left for host-ctr to come across.
    if SystemdUnit(HOST_CONTAINERD_UNIT, commands).is_active():
        log.debug("Cleaning up host container: '%s'", unit.unit)
        commands.run([*commands.host_ctr, "clean-up", "--container-id", name])

    booted = SystemdUnit(BOOTED_TARGET, commands).is_active()
    if booted and enabled:
        log.debug("Immediately enabling host container: '%s'", unit.unit)
        unit.enable_now()
    elif booted:
        log.debug("Immediately disabling host container: '%s'", unit.unit)
        unit.disable_now()
    elif enabled:
        # Bottlerocket isolates multi-user.target after the boot, which starts what was enabled;
        # thar's boot goes on to configured.target, so the start is asked for here.
        log.debug("Enabling host container: '%s'", unit.unit)
        unit.enable()
        unit.start()
    else:
        log.debug("Disabling host container: '%s'", unit.unit)
        unit.disable()


def manage(
    containers: Mapping[str, HostContainer],
    changed: Sequence[str],
    root: Path,
    commands: Commands,
) -> list[str]:
    """Handle every container ``changed`` affects, each on its own; the names handled.

    A container that fails is logged and the others are still handled; then
    ``ManageContainersFailed`` ("Failed to manage F of T host containers") is raised.
    """
    failed = 0
    handled = []
    for name in sorted(containers):
        if not is_container_affected(changed, name):
            continue
        try:
            handle_host_container(root, name, containers[name], commands)
            handled.append(name)
        except HostContainersError as exc:
            failed += 1
            log.error("Failed to handle host container '%s': %s", name, exc)
    if failed:
        raise ManageContainersFailed(failed, len(containers))
    return handled
