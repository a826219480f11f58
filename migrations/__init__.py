"""migrations: the migrator, which moves the settings datastore between OS versions, and the
library migrations are written with (``migrations.migration_helpers``). See README.md."""
