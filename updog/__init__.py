"""updog: finds, downloads and writes OS updates from a TUF repository (Bottlerocket's
``updog``, core-kit ``sources/updater/updog``). See README.md."""

from __future__ import annotations
