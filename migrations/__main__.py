"""``python -m migrations`` runs the migrator."""

from .cli import main

raise SystemExit(main())
