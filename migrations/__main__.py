"""``python -m thar.migrations`` runs the migrator."""

from .cli import main

raise SystemExit(main())
