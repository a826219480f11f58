"""The boot's timeline: what each step did, when it started and how long it took; printed at
the end of the boot and written to ``DIR/run/thar/boot-timeline.json`` (which the apiserver's
``GET /metrics`` reads).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from .layout import Sandbox

__all__ = ["StepResult", "format_timeline", "write_timeline"]


@dataclass
class StepResult:
    """What one step did: ``ok``, ``skipped``, ``missing`` (not installed) or ``failed``."""

    name: str
    unit: str
    status: str
    start: float  # seconds since the boot started
    seconds: float
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "unit": self.unit, "status": self.status, "start": round(self.start, 6),
                "seconds": round(self.seconds, 6), "note": self.note}  # fmt: skip


def format_timeline(sandbox: Sandbox, first_boot: bool, results: Sequence[StepResult], total: float) -> str:
    """The table printed at the end of the boot."""
    kind = "first boot" if first_boot else "boot"
    lines = [f"thar-boot: {sandbox.variant_id} {kind} of {sandbox.root}", ""]
    header = f"  {'step':<24} {'unit':<26} {'start':>8} {'took':>8}  note"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for r in results:
        took = f"{r.seconds * 1000:.0f} ms" if r.status in ("ok", "failed") else "-"
        note = r.note if r.status == "ok" else f"{r.status.upper()}: {r.note}" if r.note else r.status.upper()
        lines.append(f"  {r.name:<24} {r.unit:<26} {r.start * 1000:>5.0f} ms {took:>8}  {note}".rstrip())
    lines.append(f"  {'total':<24} {'':<26} {'':>8} {total * 1000:>5.0f} ms")
    return "\n".join(lines)


def write_timeline(sandbox: Sandbox, first_boot: bool, results: Sequence[StepResult], total: float) -> None:
    """``DIR/run/thar/boot-timeline.json``; a sandbox that cannot take it goes without."""
    data = {
        "variant": sandbox.variant_id,
        "root": str(sandbox.root),
        "first_boot": first_boot,
        "total": round(total, 6),
        "steps": [r.as_json() for r in results],
    }
    with contextlib.suppress(OSError):
        sandbox.timeline.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
