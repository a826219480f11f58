"""`python -m thar.apiclient`: the same as the `apiclient` command."""

from __future__ import annotations

import sys

from thar.apiclient.cli import main

sys.exit(main())
