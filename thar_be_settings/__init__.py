"""thar-be-settings: renders configuration files and restarts services after settings change."""

from __future__ import annotations
