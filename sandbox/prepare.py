"""The boot's first step, ``prepare``: make the sandbox directory a host.

Its directories, the variant's os-release (first boot), the variant's templates, the restart
recorder and the user data (first boot). On a real host the templates are at
``/usr/share/templates/``; in a sandbox (``THAR_ROOT``) every configuration file's
``template-path`` is read under the root, so ``install_templates`` copies the variant's
``templates/`` there. ``install_restart_recorder`` puts the shell form of
``thar-record-restart`` at ``DIR/usr/bin/``, which the boot puts first on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from thar.atomic import write_atomic

from .errors import SandboxError
from .layout import Sandbox
from .programs import installed

__all__ = ["RECORDER_PATH", "TEMPLATES_DIR", "install_restart_recorder", "install_templates", "prepare"]

TEMPLATES_DIR = "/usr/share/templates"
RECORDER_PATH = "/usr/bin/thar-record-restart"


def _under(root: Path | str, path: str) -> Path:
    """An absolute host path below the sandbox root."""
    return Path(root) / path.lstrip("/")


def install_templates(variant_dir: Path | str, root: Path | str) -> list[Path]:
    """Copy every file of `variant_dir/templates/` to `root/usr/share/templates/` (replacing
    older copies, atomically per file); the installed paths, sorted. A variant without
    templates installs nothing."""
    source = Path(variant_dir) / "templates"
    target = _under(root, TEMPLATES_DIR)
    copied: list[Path] = []
    if not source.is_dir():
        return copied
    target.mkdir(parents=True, exist_ok=True)
    for template in sorted(source.iterdir()):
        if not template.is_file() or template.name.startswith("."):
            continue
        destination = target / template.name
        write_atomic(destination, template.read_bytes(), mode=0o644, sync=False)
        copied.append(destination)
    return copied


def install_restart_recorder(root: Path | str) -> Path:
    """Install `thar-record-restart` as a shell script at `root/usr/bin/thar-record-restart`
    (replacing an older copy atomically); its path. A sandbox puts that directory first on the
    `PATH` of its programs, so the sandbox variant's restart commands run it instead of the
    Python console script, which behaves the same but starts far more slowly."""
    from thar.thar_be_settings.record_restart import SCRIPT

    destination = _under(root, RECORDER_PATH)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        if destination.read_text(encoding="utf-8") == SCRIPT and os.access(destination, os.X_OK):
            return destination
    except (OSError, UnicodeDecodeError):
        pass
    write_atomic(destination, SCRIPT, mode=0o755, sync=False)
    return destination


def prepare(sandbox: Sandbox, user_data: Path | None) -> str:
    """Make the sandbox a host: directories, os-release, templates, user data. Returns a note."""
    notes = []
    try:
        for directory in ("usr/lib", "run/thar", "etc", "var/lib/bottlerocket"):
            (sandbox.root / directory).mkdir(parents=True, exist_ok=True)
        if not sandbox.os_release.exists():
            shutil.copyfile(sandbox.variant_dir / "os-release", sandbox.os_release)
            notes.append("os-release")
        if installed("thar.thar_be_settings.record_restart"):
            count = len(install_templates(sandbox.variant_dir, sandbox.root))
            notes.append(f"{count} templates")
            install_restart_recorder(sandbox.root)
        else:
            notes.append("templates NOT installed (thar_be_settings missing)")
        if user_data is not None:
            if sandbox.marker.exists():
                notes.append(f"user data {user_data} NOT used: user data is read at the first boot only")
            else:
                shutil.copyfile(user_data, sandbox.user_data)
                notes.append(f"user data from {user_data}")
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise SandboxError(f"Cannot prepare the sandbox {sandbox.root}: {exc.strerror or exc}{where}") from exc
    return ", ".join(notes)
