"""A stand-in for ``updog`` (updates.md §4) that the dispatcher tests put first on PATH.

It behaves as updog does for what the tests use, with a local directory instead of the TUF
repository: ``$THAR_ROOT/test-repo/manifest.json`` and the images ``test-repo/targets/{name}``
(plain bytes, not LZ4). Selection is update_metadata's (``whats --all``: §3.1; ``update-image``:
§3.2 with ``/etc/updog.toml``); image writes, ``update-apply`` and ``update-revert`` are signpost
operations on the OS disk of ``run/signpost/boot.json``. ``test-repo/control.json`` may hold
``{"sleep": seconds}`` (before doing anything; a slow repository), ``{"calls": path}`` (a
JSON line per run is appended there) and ``{"stdout": text}`` (print that, exit 0: a broken updog).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
import tomllib
from pathlib import Path

from thar.osrelease import read_os_release
from thar.signpost.state import SignpostError, State
from thar.update_metadata import Version, applicable_updates, parse_manifest, update_required

USAGE = "USAGE:\n    updog <SUBCOMMAND> [OPTIONS]\n"


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    root = Path(os.environ.get("THAR_ROOT") or "/")
    repo = root / "test-repo"
    control = json.loads((repo / "control.json").read_text()) if (repo / "control.json").exists() else {}
    if "calls" in control:
        with open(control["calls"], "a") as calls:
            calls.write(json.dumps(argv) + "\n")
    time.sleep(control.get("sleep", 0))
    if "stdout" in control:  # a broken updog: prints this and exits 0
        print(control["stdout"])
        return 0
    flags = {a for a in argv if a.startswith("-")}
    commands = [a for a in argv if not a.startswith("-")]
    known = {"-a", "--all", "-j", "--json", "-n", "--now", "--ignore-waves"}
    subcommands = {"check-update", "whats", "update", "update-image", "update-apply", "update-revert", "prepare"}
    if len(commands) != 1 or commands[0] not in subcommands or flags - known:
        print(USAGE, file=sys.stderr, end="")
        return 1
    command = commands[0]
    config = tomllib.loads((root / "etc/updog.toml").read_text())
    os_release = read_os_release(root / "usr/lib/os-release")
    try:
        raw = (repo / "manifest.json").read_text()
    except OSError:
        return fail("Manifest not found in repository")
    manifest = parse_manifest(raw)
    entries = json.loads(raw)["updates"]
    variant, arch = os_release["VARIANT_ID"], platform.machine()
    now = dt.datetime.now(dt.UTC)
    ignore = bool(config.get("ignore_waves")) or bool(flags & {"-n", "--now", "--ignore-waves"})
    seed = int(config["seed"])

    def entry(update: object) -> dict[str, object]:
        key = (update.variant, update.arch, str(update.version))  # type: ignore[attr-defined]
        return next(e for e in entries if (e["variant"], e["arch"], e["version"]) == key)

    if command in ("whats", "check-update") and flags & {"-a", "--all"}:
        found = applicable_updates(manifest, variant, arch, seed=seed, now=now, ignore_waves=ignore)
        print(json.dumps([entry(u) for u in found], indent=2))
        return 0
    try:
        state = State.load(root)
        if command in ("update", "update-image"):
            chosen = update_required(
                manifest,
                Version.parse(os_release["VERSION_ID"]),
                variant,
                arch,
                seed=seed,
                now=now,
                ignore_waves=ignore,
                version_lock=config.get("version_lock", "latest"),
            )
            if chosen is None:
                print("No update required", file=sys.stderr)
                return 0
            print(f"Starting update to {chosen.version}", file=sys.stderr)
            state.clear_inactive()
            state.write()
            target = state.inactive_set
            assert target is not None
            for kind in ("root", "boot", "hash"):
                data = (repo / "targets" / getattr(chosen.images, kind)).read_bytes()
                part = getattr(target, kind)
                if len(data) > part.size:
                    return fail("Failed writing update data to disk: No space left on device")
                fd = os.open(state.os_disk, os.O_WRONLY)
                try:
                    os.pwrite(fd, data, part.offset)
                finally:
                    os.close(fd)
            state.mark_inactive_valid()
            state.write()
            print(f"Update applied: {chosen.variant} {chosen.version}")
            return 0
        if command == "update-apply":
            try:
                state.upgrade_to_inactive()
            except SignpostError as error:
                return fail(f"Could not mark inactive partition for boot: {error}")
            state.write()
            return 0
        if command == "update-revert":
            try:
                state.cancel_upgrade()
            except SignpostError:
                return fail("Could not find inactive partition set")
            state.write()
            return 0
    except SignpostError as error:
        return fail(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
