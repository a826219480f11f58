"""create-containers and mark-bootstrap: Bottlerocket's bootstrap-containers
(core-kit ``sources/api/bootstrap-containers/src/main.rs``).

``create_containers`` reads the rendered ``/etc/bootstrap-containers/bootstrap-containers.toml``
and, for each container, writes what its ``bootstrap-containers@NAME.service`` instance needs
(the environment file, the drop-in that ties it to ``configured.target``, the persistent
directory and the decoded user data) and enables or disables the instance for the boot.
``mark_bootstrap`` turns a ``once`` container off through the API after it ran. Every path is
below ``$THAR_ROOT`` when it is set.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path

from thar.apiclient import ApiClientError
from thar.apiclient.set import set_settings
from thar.atomic import write_atomic
from thar.paths import thar_root

from .config import MODES, BootstrapContainer, load_containers
from .errors import BootstrapError, ContainerFailed, ManageContainersFailed, MarkFailed
from .programs import Programs

__all__ = [
    "CONFIG_PATH",
    "DROP_IN_DIR",
    "ENV_FILE_DIR",
    "PERSISTENT_STORAGE_DIR",
    "create_containers",
    "handle_bootstrap_container",
    "mark_bootstrap",
    "turn_off",
    "unit_name",
    "write_config_files",
]

# Below the root ($THAR_ROOT, or /):
CONFIG_PATH = "etc/bootstrap-containers/bootstrap-containers.toml"
ENV_FILE_DIR = "etc/bootstrap-containers"
DROP_IN_DIR = "etc/systemd/system"
DROP_IN_FILENAME = "overrides.conf"
PERSISTENT_STORAGE_DIR = "local/bootstrap-containers"
HOST_CONTAINERD = "host-containerd.service"
TARGET = "configured.target"

log = logging.getLogger("bootstrap-containers")


def unit_name(name: str) -> str:
    return f"bootstrap-containers@{name}.service"


def _under(root: Path, relative: str) -> Path:
    return root / relative


def write_config_files(root: Path, container: BootstrapContainer, source: str) -> None:
    """``ENV_FILE_DIR/NAME.env`` (``CTR_SOURCE``, ``CTR_MODE``: the unit's host-ctr arguments)
    and the unit's drop-in, whose ``[Install]`` makes ``configured.target`` require the unit
    when it is essential (``RequiredBy=``) and only want it otherwise (``WantedBy=``)."""
    env_dir = _under(root, ENV_FILE_DIR)
    env_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    write_atomic(env_dir / f"{container.name}.env", f"CTR_SOURCE={source}\nCTR_MODE={container.mode}\n", mode=0o644)
    drop_in = _under(root, DROP_IN_DIR) / f"{unit_name(container.name)}.d"
    drop_in.mkdir(parents=True, exist_ok=True)
    dependency = "RequiredBy" if container.essential else "WantedBy"
    write_atomic(drop_in / DROP_IN_FILENAME, f"[Install]\n{dependency}={TARGET}\n", mode=0o644)


def _user_data(container: BootstrapContainer) -> bytes | None:
    if container.user_data is None:
        return None
    try:
        return base64.b64decode(container.user_data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ContainerFailed(container.name, f"unable to decode base64 in user data: {err}") from err


def handle_bootstrap_container(root: Path, container: BootstrapContainer, programs: Programs) -> None:
    """Prepare one container's unit instance and enable it (mode once or always) or disable it
    (off). A container left over in host-containerd is cleaned up first: always when the mode
    is off, and before enabling a unit that was not enabled. Raises ``BootstrapError``."""
    name = container.name
    log.info("Handling bootstrap container '%s'", name)
    if container.source is None:
        raise ContainerFailed(name, "missing field 'source'")
    user_data = _user_data(container)
    # The persistent directory exists whether or not there is user data.
    base = _under(root, PERSISTENT_STORAGE_DIR)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = base / name
    directory.mkdir(parents=True, exist_ok=True)
    if user_data is not None:
        log.debug("Storing user data in %s", directory / "user-data")
        write_atomic(directory / "user-data", user_data, mode=0o600)
    write_config_files(root, container, container.source)
    unit = unit_name(name)
    if container.mode == "off":
        log.info("Bootstrap container mode for '%s' is 'off', disabling unit", name)
        programs.disable(unit)
        if programs.is_active(HOST_CONTAINERD):
            log.debug("Cleaning up container '%s'", name)
            programs.clean_up(f"boot.{name}")
        return
    log.info("Bootstrap container mode for '%s' is '%s'", name, container.mode)
    if programs.is_active(HOST_CONTAINERD) and not programs.is_enabled(unit):
        programs.clean_up(f"boot.{name}")
    log.info("Enabling unit '%s'", unit)
    programs.enable(unit)


def create_containers(config_path: Path | None = None, programs: Programs | None = None) -> int:
    """``create-containers``: handle every container of the rendered file, going on after a
    failure (each is logged); the number handled. Raises ``ConfigError`` when the file cannot be
    read, ``ManageContainersFailed`` when any container failed."""
    root = thar_root()
    path = config_path or _under(root, CONFIG_PATH)
    programs = programs or Programs()
    containers = load_containers(path)
    failed = 0
    for container in containers:
        try:
            handle_bootstrap_container(root, container, programs)
        except (BootstrapError, OSError) as err:
            failed += 1
            reason = f"{err.filename}: {err.strerror}" if isinstance(err, OSError) and err.filename else err
            log.error("Failed to handle bootstrap container '%s': %s", container.name, reason)
    if failed:
        raise ManageContainersFailed(failed, len(containers))
    return len(containers)


def mark_bootstrap(container_id: str, mode: str, socket_path: str) -> bool:
    """``mark-bootstrap``: after the container ran, a mode other than ``always`` becomes
    ``off`` through the API (so a ``once`` container runs in the boot that created it only).
    True when the setting was changed. Raises ``ValueError`` for an unknown mode, ``MarkFailed``
    when the API refuses."""
    if mode not in MODES:
        raise ValueError(f"invalid bootstrap mode '{mode}' (expected one of {', '.join(MODES)})")
    log.info("Mode for '%s' is '%s'", container_id, mode)
    if mode == "always":
        return False
    log.info("Turning off container '%s'", container_id)
    turn_off(socket_path, "bootstrap-containers", container_id)
    return True


def turn_off(socket_path: str, setting: str, name: str) -> None:
    """``settings.SETTING.NAME.mode = off`` in a transaction of its own, committed and applied
    (what ``apiclient set settings.SETTING.NAME.mode=off`` does). Raises ``MarkFailed``."""
    try:
        set_settings(socket_path, {setting: {name: {"mode": "off"}}})
    except ApiClientError as err:
        raise MarkFailed(f"settings.{setting}.{name}.mode", str(err)) from err
