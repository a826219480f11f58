"""`--report-fd N`: what an apply did, as one JSON document written to file descriptor N at exit.

The API server passes a file descriptor when a caller asked to wait for the apply
(`POST /tx/commit_and_apply?wait=true`) and answers with the document. Its shape:

```
{"error": null or the applier's error message,
 "files": [{"name", "path", "status": "written"|"unchanged"|"failed", "error"?}],
 "services": [{"name", "status": "restarted"|"failed"|"coalesced"|"not-run"|"none",
               "commands": [{"command", "exit_status", "stderr_tail", "error"?}]}]}
```

A file is `unchanged` when its bytes were already what the template rendered. A service is
`coalesced` when a restart queued by another applier covers this change, `not-run` when
restarts were skipped (`--no-restart`, or an earlier restart failed), `none` when it has no
restart commands. `exit_status` is null when the command could not be started; `stderr_tail`
is the end of its standard error (at most `STDERR_TAIL` characters).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STDERR_TAIL", "Report", "command_result", "write_report"]

STDERR_TAIL = 4096


def command_result(command: str, exit_status: int | None, stderr: str, error: str | None = None) -> dict[str, Any]:
    """One restart command's entry: its exit status and the tail of its stderr."""
    result: dict[str, Any] = {"command": command, "exit_status": exit_status, "stderr_tail": stderr[-STDERR_TAIL:]}
    if error is not None:
        result["error"] = error
    return result


@dataclass(slots=True)
class Report:
    """Collected while applying: one entry per configuration file and per service."""

    files: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)

    def file(self, name: str, path: str, status: str, error: str | None = None) -> None:
        entry: dict[str, Any] = {"name": name, "path": path, "status": status}
        if error is not None:
            entry["error"] = error
        self.files.append(entry)

    def service(self, name: str, status: str, commands: list[dict[str, Any]] | None = None) -> None:
        self.services.append({"name": name, "status": status, "commands": list(commands or [])})

    def document(self, error: str | None) -> dict[str, Any]:
        return {"error": error, "files": self.files, "services": self.services}


def write_report(fd: int, report: Report, error: str | None) -> None:
    """Write the report as JSON to `fd` and close it (a failure to write is not the apply's)."""
    data = json.dumps(report.document(error), ensure_ascii=False).encode("utf-8")
    try:
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(fd, data) :]
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
