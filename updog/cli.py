"""``updog``: check for and apply OS updates (core-kit ``sources/updater/updog/src/main.rs``).

Every subcommand runs the same pipeline first (updates.md §4.2): arguments → logging →
``/etc/updog.toml`` → proxy environment → os-release → HTTP transport with the ``seed`` and
``version`` query parameters → the TUF repository → ``manifest.json``. ``check-update`` (alias
``whats``) then picks the update §3.2 says, or lists every applicable one with ``--all``.
``update``/``update-image`` pick it the same way, cache its migrations (§4.5) and write its images
to the inactive partition set (§4.4); ``update``, ``update-apply`` and ``update-revert`` flip the
sets' boot flags through signpost (§7.4).

Usage errors print the usage on stderr and exit 1; ``--help``/``-h`` print it on stdout, exit 0.
Failures print one message on stderr and exit 1. stdout carries program output only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from thar.logs import LEVELS, setup_logging
from thar.osrelease import OS_RELEASE, read_os_release
from thar.paths import thar_root
from thar.signpost.state import SignpostError, State
from thar.update_metadata import (
    Manifest,
    Update,
    UpdateMetadataError,
    Version,
    VersionError,
    applicable_updates,
    find_migrations,
    manifest_to_dict,
    update_required,
)

from .config import CONFIG_PATH, load_config, set_proxy_env
from .errors import UpdogError
from .images import destination, write_image
from .repo import MANIFEST, QueryFetcher, Repository, load_repository

__all__ = ["COMMANDS", "TRUSTED_ROOT", "USAGE", "main"]

TRUSTED_ROOT = "usr/share/updog/root.json"
METADATA_CACHE = "var/cache/bottlerocket-metadata"
MIGRATIONS_DIR = "var/lib/bottlerocket-migrations"

USAGE = """\
usage: updog <SUBCOMMAND> <OPTIONS>

SUBCOMMANDS:
    check-update            Show if an update is available (alias: whats)
        [ -a | --all ]                Output all available updates, even if they're not upgrades
        [ --ignore-waves ]            Ignore release schedule when checking
                                      for a new update

    prepare                 Load the repository and manifest, nothing more

    update                  Perform an update if available
        [ -i | --image version ]      Update to a specific image version
        [ -n | --now ]                Update immediately, ignoring any release schedule
        [ -r | --reboot ]             Reboot into new update on success

    update-image            Download & write an update but do not update flags
        [ -i | --image version ]      Update to a specific image version
        [ -n | --now ]                Update immediately, ignoring wave limits

    update-apply            Update boot flags (after having called update-image)
        [ -r | --reboot ]             Reboot after updating boot flags

    update-revert           Revert actions done by 'update-apply'

GLOBAL OPTIONS:
    [ -j | --json ]               JSON-formatted output
    [ --log-level trace|debug|info|warn|error ]  Set logging verbosity"""

COMMANDS = ("check-update", "whats", "prepare", "update", "update-image", "update-apply", "update-revert")
IMAGE_KINDS = ("root", "boot", "hash")  # the order updog writes them in

log = logging.getLogger("updog")


class UsageError(Exception):
    """Bad arguments: the optional message, then the usage, on stderr; exit 1."""


@dataclass
class Arguments:
    subcommand: str
    log_level: str = "info"
    json: bool = False
    ignore_waves: bool = False
    force_version: Version | None = None
    all: bool = False
    reboot: bool = False
    variant: str | None = None


def _value(args: Sequence[str], index: int, missing: str | None = None) -> str:
    if index >= len(args):
        raise UsageError(missing)
    return args[index]


def parse_args(args: Sequence[str]) -> Arguments:
    """updog's argument loop: options anywhere, one subcommand (the first argument not starting
    with ``-``); anything else is a usage error. ``-t/--timestamp`` is advertised upstream but
    rejected, so it is not accepted here either."""
    parsed = Arguments(subcommand="")
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--log-level":
            i += 1
            level = _value(args, i, "Did not give argument to --log-level")
            if level.lower() not in LEVELS:
                raise UsageError(f"Invalid log level '{level}'")
            parsed.log_level = level.lower()
        elif arg in ("-i", "--image"):
            i += 1
            try:
                parsed.force_version = Version.parse(_value(args, i))
            except VersionError:
                raise UsageError(None) from None
        elif arg == "--variant":
            i += 1
            parsed.variant = _value(args, i, "Did not give argument to --variant")
        elif arg in ("-n", "--now", "--ignore-waves"):
            parsed.ignore_waves = True
        elif arg in ("-j", "--json"):
            parsed.json = True
        elif arg in ("-r", "--reboot"):
            parsed.reboot = True
        elif arg in ("-a", "--all"):
            parsed.all = True
        elif not arg.startswith("-"):
            if parsed.subcommand:
                raise UsageError(None)
            parsed.subcommand = arg
        else:
            raise UsageError(None)
        i += 1
    if not parsed.subcommand:
        raise UsageError(None)
    return parsed


def update_to_dict(update: Update) -> dict[str, Any]:
    """One update as the manifest serialises it (field order, wave keys, timestamps)."""
    as_manifest = Manifest.model_construct(updates=[update], migrations={})
    entry: dict[str, Any] = manifest_to_dict(as_manifest)["updates"][0]
    return entry


def _pretty(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def cache_migrations(
    repository: Repository,
    manifest: Manifest,
    running: Version,
    update: Update,
    params: dict[str, str],
    root: Path,
) -> list[str]:
    """The migration cache step of ``update`` (updates.md §4.5; updog's ``retrieve_migrations``):
    the migrations between the running and the chosen version (always the forward list, a downgrade
    uses the same chain) plus ``manifest.json``, verified and saved for the migrator with the
    metadata; then the ``migrations`` query parameter names them for the requests that follow.
    A gap in the chain fails before anything is written."""
    low, high = min(running, update.version), max(running, update.version)
    try:
        names = [*find_migrations(low, high, manifest), MANIFEST]
    except UpdateMetadataError as exc:
        raise UpdogError(str(exc)) from exc
    repository.cache(root / METADATA_CACHE, root / MIGRATIONS_DIR, names)
    params["migrations"] = ",".join(names)
    return names


def _load_state(root: Path) -> State:
    try:
        return State.load(root)
    except SignpostError as exc:
        raise UpdogError(f"Failed to read OS disk partition table: {exc}") from exc


def _write_table(state: State) -> None:
    try:
        state.write()
    except SignpostError as exc:
        raise UpdogError(f"Failed to write OS disk partition table: {exc}") from exc


def update_image(repository: Repository, update: Update, root: Path) -> None:
    """Write ``update``'s images to the inactive set (updates.md §4.4; updog's ``update_image``):
    clear the set's flags and write the table first, so a half-written set can never boot; then
    root, boot and hash; then mark the set valid (one try) and write the table again. A failure
    part-way leaves the set cleared."""
    state = _load_state(root)
    try:
        state.clear_inactive()
    except SignpostError as exc:
        raise UpdogError("Could not find inactive partition set") from exc
    _write_table(state)
    inactive = state.inactive_set
    assert inactive is not None  # clear_inactive found it
    for kind in IMAGE_KINDS:
        partition = getattr(inactive, kind)
        written = write_image(repository, getattr(update.images, kind), destination(state.os_disk, partition))
        log.info("Wrote %d bytes of the %s image to %s", written, kind, partition.path)
    state.mark_inactive_valid()
    _write_table(state)


def update_flags(root: Path) -> None:
    """signpost ``upgrade-to-inactive``, written (updog's ``update_flags``)."""
    try:
        state = State.load(root)
        state.upgrade_to_inactive()
        state.write()
    except SignpostError as exc:
        raise UpdogError(f"Could not mark inactive partition for boot: {exc}") from exc


def revert_update_flags(root: Path) -> None:
    """signpost ``cancel-upgrade``, written (updog's ``revert_update_flags``)."""
    try:
        state = State.load(root)
        state.cancel_upgrade()
        state.write()
    except SignpostError as exc:
        raise UpdogError("Could not find inactive partition set") from exc


def initiate_reboot() -> None:
    """Run ``shutdown -r`` (found on PATH). SIGTERM is ignored from here on, as upstream does, so
    the shutdown it starts does not kill updog before it exits by itself; the handler is a no-op
    function rather than SIG_IGN, so ``shutdown`` itself starts with the default disposition."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        done = subprocess.run(["shutdown", "-r"], check=False)
    except OSError as exc:
        signal.signal(signal.SIGTERM, previous)
        raise UpdogError(f"Failed to reboot: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        log.warning("shutdown -r exited with status %d", done.returncode)


def running_arch() -> str:
    """The architecture updates must be built for: this machine's (``x86_64``, ``aarch64``)."""
    return platform.machine()


def run(args: Arguments) -> int:
    """The common pipeline, then the subcommand; raises :class:`UpdogError`."""
    if args.subcommand not in COMMANDS:
        raise UsageError(None)
    root = thar_root()
    config = load_config(root / CONFIG_PATH)
    set_proxy_env(config)
    os_release_path = root / OS_RELEASE
    try:
        release = read_os_release(os_release_path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UpdogError(f"Unable to read release information from {os_release_path}: {exc}") from exc
    try:
        running = Version.parse(release.get("VERSION_ID", ""))
    except VersionError as exc:
        raise UpdogError(f"Unable to read release information from {os_release_path}: {exc}") from exc
    variant = args.variant or release.get("VARIANT_ID")
    if not variant:
        raise UpdogError(f"Unable to read release information from {os_release_path}: no VARIANT_ID")

    params = {"version": str(running), "seed": str(config.seed)}
    cache = root / METADATA_CACHE
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UpdogError(f"Failed to create metadata cache directory '{cache}': {exc.strerror or exc}") from exc
    repository = load_repository(
        root / TRUSTED_ROOT, config.metadata_base_url, config.targets_base_url, QueryFetcher(params)
    )
    try:
        manifest = repository.load_manifest()
        ignore_waves = args.ignore_waves or config.ignore_waves
        now = dt.datetime.now(dt.UTC)
        arch = running_arch()

        def chosen_update() -> Update | None:
            return update_required(
                manifest,
                running,
                variant,
                arch,
                seed=config.seed,
                now=now,
                ignore_waves=ignore_waves,
                version_lock=config.version_lock,
                force_version=args.force_version,
            )

        if args.subcommand in ("check-update", "whats"):
            if args.all:
                found = applicable_updates(
                    manifest, variant, arch, seed=config.seed, now=now, ignore_waves=ignore_waves
                )
                if args.json:
                    print(_pretty([update_to_dict(u) for u in found]))
                else:
                    # upstream prints the text list on stderr
                    for u in found:
                        print(f"{u.variant} {u.version}", file=sys.stderr)
                return 0
            chosen = chosen_update()
            if chosen is None:
                raise UpdogError("No update available")
            print(_pretty(update_to_dict(chosen)) if args.json else f"{chosen.variant} {chosen.version}")
            return 0
        if args.subcommand == "prepare":
            return 0
        if args.subcommand in ("update", "update-image"):
            chosen = chosen_update()
            if chosen is None:
                print("No update required", file=sys.stderr)
                return 0
            print(f"Starting update to {chosen.version}", file=sys.stderr)
            params["target"] = str(chosen.version)
            cache_migrations(repository, manifest, running, chosen, params, root)
            update_image(repository, chosen, root)
            if args.subcommand == "update":
                update_flags(root)
                if args.reboot:
                    initiate_reboot()
            text = f"Update applied: {chosen.variant} {chosen.version}"
            print(_pretty(update_to_dict(chosen)) if args.json else text)
            return 0
        if args.subcommand == "update-apply":
            update_flags(root)
            if args.reboot:
                initiate_reboot()
            return 0
        revert_update_flags(root)
        return 0
    except UpdateMetadataError as exc:
        raise UpdogError(str(exc)) from exc
    finally:
        repository.close()


def _usage(message: str | None) -> NoReturn:
    if message:
        print(f"{message}\n", file=sys.stderr)
    print(USAGE, file=sys.stderr)
    sys.exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    try:
        parsed = parse_args(args)
        setup_logging(parsed.log_level, "updog", stream=sys.stderr)
        return run(parsed)
    except UsageError as exc:
        _usage(exc.args[0] if exc.args else None)
    except UpdogError as exc:
        print(exc, file=sys.stderr)
        return 1
