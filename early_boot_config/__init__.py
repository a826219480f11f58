"""early_boot_config (see README.md)."""
