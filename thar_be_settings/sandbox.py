"""Sandbox support: a variant's templates installed under a sandbox root.

On a real host the templates are at `/usr/share/templates/`; in a sandbox (`THAR_ROOT`) every
configuration file's `template-path` is read under the root, so the sandbox boot copies the
variant's `templates/` there with `install_templates`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from thar_be_settings.config import resolve

if TYPE_CHECKING:
    from schnauzer.helpers import HelperEnvironment

__all__ = ["TEMPLATES_DIR", "install_templates", "sandbox_environment"]

TEMPLATES_DIR = "/usr/share/templates"


def install_templates(variant_dir: Path | str, root: Path | str) -> list[Path]:
    """Copy every file of `variant_dir/templates/` to `root/usr/share/templates/` (replacing
    older copies, atomically per file); the installed paths, sorted. A variant without
    templates installs nothing."""
    source = Path(variant_dir) / "templates"
    target = resolve(Path(root), TEMPLATES_DIR)
    installed: list[Path] = []
    if not source.is_dir():
        return installed
    target.mkdir(parents=True, exist_ok=True)
    for template in sorted(source.iterdir()):
        if not template.is_file() or template.name.startswith("."):
            continue
        destination = target / template.name
        temp = destination.with_name(f".{template.name}.{os.getpid()}.tmp")
        shutil.copyfile(template, temp)
        os.chmod(temp, 0o644)
        os.replace(temp, destination)
        installed.append(destination)
    return installed


def sandbox_environment() -> HelperEnvironment:
    """The host facts templates see in a sandbox: the real host's, except that no EFA device is
    attached (the sandbox is not the node whose hardware `oci_defaults` asks about, and the
    machine running it need not have `lspci`)."""
    from schnauzer.helpers import HelperEnvironment

    return HelperEnvironment(efa_attached=lambda: False)
