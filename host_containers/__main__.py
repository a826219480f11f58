"""`python -m thar.host_containers` is the `host-containers` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
