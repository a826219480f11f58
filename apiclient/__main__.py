"""`python -m apiclient`: the same as the `apiclient` command."""

from __future__ import annotations

import sys

from apiclient.cli import main

sys.exit(main())
