"""migrations (see README.md)."""
