"""thar-be-updates, the update dispatcher (Bottlerocket's ``thar-be-updates``): runs one updog
command in the background under the update lock and keeps the update status file. See README.md."""

from __future__ import annotations
