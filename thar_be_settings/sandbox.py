"""Sandbox support: a variant's templates and the restart recorder installed under a sandbox root.

On a real host the templates are at `/usr/share/templates/`; in a sandbox (`THAR_ROOT`) every
configuration file's `template-path` is read under the root, so the sandbox boot copies the
variant's `templates/` there with `install_templates`. `install_restart_recorder` puts the
shell form of `thar-record-restart` at `<root>/usr/bin/`, which the boot puts first on `PATH`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from thar.thar_be_settings.config import resolve

if TYPE_CHECKING:
    from thar.schnauzer.helpers import HelperEnvironment

__all__ = ["RECORDER_PATH", "TEMPLATES_DIR", "install_restart_recorder", "install_templates", "sandbox_environment"]

TEMPLATES_DIR = "/usr/share/templates"
RECORDER_PATH = "/usr/bin/thar-record-restart"


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
    from thar.schnauzer.helpers import HelperEnvironment

    return HelperEnvironment(efa_attached=lambda: False)


def install_restart_recorder(root: Path | str) -> Path:
    """Install `thar-record-restart` as a shell script at `root/usr/bin/thar-record-restart`
    (replacing an older copy atomically); its path. A sandbox puts that directory first on the
    `PATH` of its programs, so the sandbox variant's restart commands run it instead of the
    Python console script, which behaves the same but starts far more slowly."""
    from thar.thar_be_settings.record_restart import SCRIPT

    destination = resolve(Path(root), RECORDER_PATH)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        if destination.read_text(encoding="utf-8") == SCRIPT and os.access(destination, os.X_OK):
            return destination
    except (OSError, UnicodeDecodeError):
        pass
    temp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    temp.write_text(SCRIPT, encoding="utf-8")
    os.chmod(temp, 0o755)
    os.replace(temp, destination)
    return destination
