"""`early-boot-config lint FILE… [--variant NAME_OR_DIR]`: check user-data files offline.

Each file is read as early-boot-config reads user data (optional gzip, UTF-8, TOML with a
`[settings]` table) and its settings are checked against the variant's model. Nothing talks
to an API. Problems are printed one per line on stderr: the file, then the TOML line and
column, or the dotted setting and the rule. An empty file passes: the boot ignores it.

The variant is `--variant`'s, else `VARIANT_ID` of `$THAR_ROOT/usr/lib/os-release` (the host's,
or a sandbox's), else `thar-dev`, which `lint` then says it checked against.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from thar.osrelease import OS_RELEASE, read_os_release
from thar.paths import thar_root

from .compression import decode_text
from .errors import EarlyBootConfigError
from .userdata import parse_user_data
from .validate import problems

if TYPE_CHECKING:
    from thar.models import Variant

__all__ = ["DEFAULT_VARIANT", "LintResult", "lint_file", "lint_text", "lint_variant"]

DEFAULT_VARIANT = "thar-dev"


def lint_variant(explicit: str | None) -> tuple[str, str | None]:
    """The variant to check against, and a note to show when it is the fallback `thar-dev`."""
    if explicit:
        return explicit, None
    path = thar_root() / OS_RELEASE
    try:
        variant_id = read_os_release(path).get("VARIANT_ID", "")
    except (OSError, UnicodeDecodeError):
        variant_id = ""
    if variant_id:
        return variant_id, None
    return DEFAULT_VARIANT, f"No --variant and no VARIANT_ID in {path}: checked against '{DEFAULT_VARIANT}'"


@dataclass(frozen=True)
class LintResult:
    """The problems of one file (empty when it is valid)."""

    source: str
    problems: list[str]
    empty: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def lint_text(data: bytes, source: str, variant: Variant) -> LintResult:
    """Check user data given as bytes (possibly gzip-compressed)."""
    try:
        text = decode_text(data, source)
        if text == "":
            return LintResult(source, [], empty=True)
        settings = parse_user_data(text, source)
    except EarlyBootConfigError as exc:
        return LintResult(source, [str(exc)])
    found = problems(variant, settings)
    if found:
        header = f"{source}: does not fit the settings of variant '{variant.name}' ({len(found)} problem(s)):"
        return LintResult(source, [header, *found])
    return LintResult(source, [])


def lint_file(path: str, variant: Variant) -> LintResult:
    """Check one file (`-` is standard input)."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        return LintResult(path, [f"{path}: cannot read it: {exc.strerror or exc}"])
    return lint_text(data, "standard input" if path == "-" else path, variant)
