"""thar-be-settings: renders configuration files and restarts services after settings change.

The `thar-be-settings` command (`cli.py`) applies changed keys (stdin) or everything (`--all`)
through the API server's socket; `plan.py` is the pure planner the apiserver can call for a
dry run. A sandbox root (`--root`, `THAR_ROOT`) is written below; see README.md.
"""

from __future__ import annotations
