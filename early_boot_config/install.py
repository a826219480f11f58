"""`early-boot-config install-providers`: make thar's providers executables in a providers
directory, as a host image installs them (`bin/` programs and `data-providers.d/` links).

    LIBEXEC/bin/local-defaults-user-data-provider         (a script running this Python)
    LIBEXEC/data-providers.d/10-local-defaults -> ../bin/local-defaults-user-data-provider
    …

LIBEXEC defaults to `$THAR_ROOT/usr/libexec/early-boot-config`.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from .providers import AWS_PROVIDERS, LOCAL_PROVIDERS

__all__ = ["install_providers"]

_SCRIPT = """#!/bin/sh
# thar's {name} user-data provider (speaks early-boot-config's provider protocol).
exec {python} -m early_boot_config.provider_main {name}
"""


def install_providers(libexec: Path, platform: str = "local", python: str = sys.executable) -> list[Path]:
    """Write the provider programs and links for `platform` (`local` or `aws`); return the links.

    Links already there are replaced; other entries of `data-providers.d` are left alone.
    """
    chosen = AWS_PROVIDERS if platform == "aws" else LOCAL_PROVIDERS
    bin_dir, links_dir = libexec / "bin", libexec / "data-providers.d"
    bin_dir.mkdir(parents=True, exist_ok=True)
    links_dir.mkdir(parents=True, exist_ok=True)
    links = []
    for link_name, name in chosen:
        program = bin_dir / f"{name}-user-data-provider"
        program.write_text(_SCRIPT.format(name=name, python=shlex.quote(python)))
        program.chmod(0o755)
        link = links_dir / link_name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(os.path.join("..", "bin", program.name), link)
        links.append(link)
    return links
