"""`python -m thar.sundog` is the `sundog` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
