"""`python -m thar.thar_be_settings` is `thar-be-settings`."""

from __future__ import annotations

import sys

from thar.thar_be_settings.cli import main

sys.exit(main())
