"""`python -m thar.early_boot_config.provider_main NAME`: one of thar's providers as an executable
speaking the provider protocol (see `providers.py`). `early-boot-config install-providers`
writes wrapper scripts that run this and links them into a providers directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from thar.logs import LEVELS, setup_logging

from .paths import Paths
from .providers import PROVIDERS, run_provider

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in PROVIDERS:
        print(f"usage: python -m thar.early_boot_config.provider_main {{{','.join(PROVIDERS)}}}", file=sys.stderr)
        return 2
    level = os.environ.get("EARLY_BOOT_CONFIG_LOG_LEVEL", "info").lower()
    setup_logging(LEVELS.get(level, LEVELS["info"]), "early_boot_config", stream=sys.stderr)
    code, line = run_provider(args[0], Paths.from_environment())
    print(line)
    return code


if __name__ == "__main__":
    sys.exit(main())
