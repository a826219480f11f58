"""`python -m thar.sandbox` is the `thar-boot` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
