"""os-release files (``/usr/lib/os-release``): ``NAME=value`` assignments, read one way.

The rule, for every reader in thar: blank lines, ``#`` comment lines and lines without ``=``
are skipped; the name and the value lose surrounding whitespace; a value enclosed in a matching
pair of double or single quotes loses that pair (nothing else is unescaped); when a name is
assigned twice, the later value wins. Names keep their case (os-release's are upper case).
"""

from __future__ import annotations

import os

__all__ = ["OS_RELEASE", "in_place_updates", "parse_os_release", "read_os_release"]

OS_RELEASE = "usr/lib/os-release"
"""Where os-release is, below the root (`thar.paths.thar_root`)."""


def parse_os_release(text: str) -> dict[str, str]:
    """The assignments of os-release text, by name."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name or name.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[name] = value
    return fields


def read_os_release(path: str | os.PathLike[str]) -> dict[str, str]:
    """The assignments of the os-release file at `path` (UTF-8). Raises `OSError` as `open`
    does and `UnicodeDecodeError` for a file that is not UTF-8."""
    with open(path, encoding="utf-8") as file:
        return parse_os_release(file.read())


def in_place_updates(fields: dict[str, str]) -> bool:
    """Whether the image updates itself in place (A/B partition sets, updog, signpost): os-release
    ``IN_PLACE_UPDATES`` absent or anything but ``false``/``no``/``0``. Images that boot a unified
    kernel image from the ESP have no B set and are updated by replacing them."""
    return fields.get("IN_PLACE_UPDATES", "true").strip().lower() not in ("false", "no", "0")
