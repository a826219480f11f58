"""thar's API server: Bottlerocket's HTTP API over a Unix socket (``/run/api.sock``).

It starts after storewolf has seeded the datastore and before early-boot-config, sundog and
settings-committer, which all talk to it. Reads are served from an in-memory snapshot of live
data; writes (PATCH, commits) are serialized and committed atomically through the datastore's
journal. Beyond Bottlerocket it serves the commit history, rollback, commit-confirmed, dry runs,
resets, JSON Patch input, watches, per-caller access control and metrics. See README.md.
"""

from __future__ import annotations

from .controller import Controller
from .routes import ROUTES, ServerConfig
from .server import make_app, serve

__all__ = ["ROUTES", "Controller", "ServerConfig", "make_app", "serve"]
