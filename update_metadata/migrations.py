"""``find_migrations``: the migration targets between two versions, by the manifest's table (updates.md §4.5,
migrations.md §1.3; upstream ``update_metadata/src/lib.rs``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import MissingMigration
from .manifest import Manifest
from .semver import Version

__all__ = ["find_migrations"]


def find_migrations(
    current: Version, target: Version, manifest: Manifest | Mapping[tuple[Version, Version], Sequence[str]]
) -> list[str]:
    """The migration names that take a datastore from ``current`` to ``target``, in run order.

    From the lower version, repeatedly take the entry ``(v, t)`` with the largest ``t`` not past
    the higher version and append its list; going backward the whole list is reversed. No entry
    from ``v`` → :class:`MissingMigration` (``Reached end of migration chain at v but target is hi``).
    Entries that do not move forward (``t <= v``) are never taken, so a bad table cannot loop.
    """
    table = manifest.migrations if isinstance(manifest, Manifest) else manifest
    if current == target:
        return []
    lo, hi = (current, target) if current < target else (target, current)
    names: list[str] = []
    version = lo
    while version != hi:
        steps = [(to, frm) for frm, to in table if frm == version and version < to <= hi]
        if not steps:
            raise MissingMigration(str(version), str(hi))
        to, frm = max(steps, key=lambda step: step[0])
        names.extend(table[frm, to])
        version = to
    return names if current < target else names[::-1]
