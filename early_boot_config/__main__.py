"""`python -m thar.early_boot_config` is the `early-boot-config` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
