"""Which updates a host may take, and the one it takes (updates.md §3.1, §3.2; updog's ``main.rs``)."""

from __future__ import annotations

import datetime as dt

from .manifest import Manifest, Update
from .semver import Version, parse_version_lock
from .timestamps import Timestamp

__all__ = ["applicable_updates", "update_required"]


def applicable_updates(
    manifest: Manifest,
    variant: str,
    arch: str,
    *,
    seed: int,
    now: Timestamp | dt.datetime,
    ignore_waves: bool = False,
) -> list[Update]:
    """``whats --all``: the updates for ``variant`` and ``arch`` within their own ``max_version``
    whose wave has reached ``seed`` (unless ``ignore_waves``), newest first.

    Not filtered by the running version: the running release and older ones are listed too.
    """
    found = [
        u
        for u in manifest.updates
        if u.variant == variant
        and u.arch == arch
        and u.version <= u.max_version
        and (ignore_waves or u.ready(seed, now))
    ]
    found.sort(key=lambda u: u.version, reverse=True)
    return found


def update_required(
    manifest: Manifest,
    running: Version,
    variant: str,
    arch: str,
    *,
    seed: int,
    now: Timestamp | dt.datetime,
    ignore_waves: bool = False,
    version_lock: str = "latest",
    force_version: Version | None = None,
) -> Update | None:
    """The update to install, or None.

    1. ``force_version`` (updog ``--image``): the applicable update of that version, whatever the
       lock (a downgrade or the running version included).
    2. ``version_lock`` other than ``latest``: the applicable update of that version (one leading
       ``v`` allowed), None when it is the running version; an invalid lock raises
       :class:`~.errors.VersionLockError`.
    3. ``latest``: the newest applicable update above the running version — or, when the running
       version is above that update's ``max_version`` (a pulled release), that update (a downgrade).
    """
    updates = applicable_updates(manifest, variant, arch, seed=seed, now=now, ignore_waves=ignore_waves)
    if force_version is not None:
        return next((u for u in updates if u.version == force_version), None)
    lock = parse_version_lock(version_lock)
    if lock is not None:
        if lock == running:
            return None
        return next((u for u in updates if u.version == lock), None)
    return next((u for u in updates if running < u.version or running > u.max_version), None)
