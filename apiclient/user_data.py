"""`apiclient get --toml`: settings as a TOML user-data file that reproduces them on another host.

The document is what `apiclient get` prints as JSON, written as Bottlerocket user data is:
top-level `[settings]`, `[settings.ntp]`, … tables, arrays of tables for lists of objects
(`[[settings.container-registry.credentials]]`). Written with the `toml` package (imported
only here, so that no other command pays for it), with two corrections to its encoder: strings
are written as TOML basic strings with every escape TOML requires (the package's own writer
turns `\\x1b` into `x1b`), and objects inside arrays become inline tables; keys, which the
package quotes itself, must be printable. What is written is
read back with `tomllib` and must equal the input, or `SettingsNotToml` is raised: the output
never changes a value silently.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import toml

from thar.apiclient.errors import SettingsNotToml

__all__ = ["user_data_toml"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _string(text: str) -> str:
    # A JSON string is a TOML basic string once DEL, which JSON leaves raw, is escaped too;
    # ensure_ascii=False keeps non-ASCII text as it is (no surrogate-pair escapes, which TOML lacks).
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


class _Encoder(toml.TomlEncoder):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__(dict)
        self.dump_funcs[str] = _string

    def dump_value(self, v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{_key(k)} = {self.dump_value(x)}" for k, x in v.items()) + " }" if v else "{}"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(self.dump_value(x) for x in v) + "]"
        return str(super().dump_value(v))


def _flat(item: Any) -> bool:
    """Whether an object holds only values written inline (no object, no list of objects)."""
    return isinstance(item, dict) and not any(
        isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, dict) for x in v)) for v in item.values()
    )


def _prepared(value: Any, path: str) -> Any:
    """`value` with every list the encoder cannot write as an array of tables made a tuple (an inline array).

    The encoder writes any list holding an object as an array of tables
    (`[[settings.container-registry.credentials]]`); it gets those right only when every item
    is an object of inline values, so any other list goes inline. Raises `SettingsNotToml` for
    a null, and for a key with a character the encoder's key quoting gets wrong (one that is
    not printable).
    """
    if value is None:
        raise SettingsNotToml(f"'{path}' is null, which TOML has no way to write")
    if isinstance(value, dict):
        for k in value:
            if not k.isprintable():
                raise SettingsNotToml(f"a key in '{path}' holds an unprintable character: {k!r}")
        return {k: _prepared(v, f"{path}.{_key(k)}" if path else _key(k)) for k, v in value.items()}
    if isinstance(value, list):
        items = [_prepared(v, f"{path}[{i}]") for i, v in enumerate(value)]
        tables = any(isinstance(item, dict) for item in items) and all(_flat(item) for item in items)
        return items if tables or not any(isinstance(item, dict) for item in items) else tuple(items)
    return value


def user_data_toml(document: Any) -> str:
    """`document` (`{"settings": {…}}`, as `apiclient get` fetched it) as a TOML user-data file.

    `{"settings": {"motd": "hi", "ntp": {"time-servers": ["a"]}}}` ->
    `[settings]\\nmotd = "hi"\\n\\n[settings.ntp]\\ntime-servers = ["a"]\\n`. `{}` gives an empty
    document. Raises `SettingsNotToml` for what TOML cannot hold.
    """
    if not isinstance(document, dict):
        raise SettingsNotToml(f"a TOML document is a table, not {type(document).__name__}")
    text: str = toml.dumps(_prepared(document, ""), encoder=_Encoder())
    try:
        same = tomllib.loads(text) == document
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise SettingsNotToml("the TOML written does not read back as the same values")
    return text
