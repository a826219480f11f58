"""Dry run: what committing and applying a transaction would do, doing none of it.

``POST /tx/commit_and_apply?dry_run=true`` builds the model the settings applier would see after
the commit (live settings overlaid with the transaction's values and removals, plus the
services, configuration files and os), finds the services the changed keys affect, and has the
applier's own planner (``thar_be_settings.plan``) render their configuration files in process:
the answer is a unified diff of every file that would change against the file on disk, and the
restart commands that would run. Nothing is committed, written or restarted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thar.datastore import DatastoreError, from_map_with_prefix

from .controller import Controller
from .errors import ApiError, CommitWithNoPending, DataStoreFailed, DryRunFailed
from .staging import current_view, pending_changes

__all__ = ["dry_run"]


def _entries(controller: Controller, area: str) -> dict[str, Any]:
    try:
        return controller.get_entries(area, None, None)
    except ApiError:  # none stored: nothing to render or restart
        return {}


def dry_run(controller: Controller, tx: str, root: Path | None) -> dict[str, Any]:
    """``{"keys": [...], "diff": "...", "restarts": [{"service", "commands"}], "reload_systemd": bool}``."""
    from thar.thar_be_settings.errors import ApplierError
    from thar.thar_be_settings.plan import diff_plan, plan_for_model

    live = controller.snapshot.values
    try:
        changes = pending_changes(controller.datastore, tx, live)
        if changes is None:
            raise CommitWithNoPending()
        view = current_view(controller.datastore, tx, live)
    except DatastoreError as exc:
        raise DataStoreFailed("dry run", exc) from exc
    keys = sorted(key.name for key in changes)
    model = {
        "settings": from_map_with_prefix(view, "settings") if view else {},
        "services": _entries(controller, "services"),
        "configuration-files": _entries(controller, "configuration-files"),
        "os": controller.get_os(),
    }
    affected = controller.get_metadata("affected-services", keys)
    try:
        plan = plan_for_model(model, affected, root=root)
        diff = diff_plan(plan, root)
    except ApplierError as exc:
        raise DryRunFailed(str(exc)) from exc
    return {
        "keys": keys,
        "diff": diff,
        "restarts": [{"service": r.service, "commands": list(r.commands)} for r in plan.restarts],
        "reload_systemd": plan.reload_systemd,
    }
