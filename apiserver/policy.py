"""Access control per caller: who may read, who may change which settings, who may do anything.

Without a policy every caller that can open the socket is an admin (Bottlerocket's model: the
socket's file mode is the only control). ``apiserver --policy FILE`` reads a TOML policy:

    default = "reader"            # role of a caller no rule matches; absent: "none" (denied)

    [[rule]]
    name = "root"                 # shown in denials and logs (default: "rule N")
    uids = [0]
    role = "admin"                # everything

    [[rule]]
    name = "ntp-operators"
    gids = [1200]
    role = "operator"             # reads, and writes settings under these prefixes only
    prefixes = ["settings.ntp", "settings.motd"]

    [[rule]]
    uids = [1000, 1001]
    role = "reader"               # GET only

A rule matches a caller whose uid is in ``uids`` or whose gid is in ``gids`` (its primary group,
as SO_PEERCRED reports it); the first matching rule decides. Operators may stage, delete and
commit transactions, apply, confirm and watch; every key they stage, remove, discard or commit must be
under one of their prefixes (segment-wise: ``settings.ntp`` covers ``settings.ntp.time-servers``).
Rollback, reboot and exec (``GET /exec``: a command in a host container) are for admins. The uids
and gids an admin rule names (and root) may also use the connections the server keeps for them
when others have reached their caps (``connections.py``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thar.datastore import Caller, InvalidKey, Key

from .errors import Forbidden

__all__ = [
    "ADMIN",
    "ADMIN_ROUTES",
    "OPERATOR",
    "OPERATOR_ROUTES",
    "READER",
    "Access",
    "Policy",
    "PolicyError",
    "Rule",
    "load_policy",
]

ADMIN, OPERATOR, READER, NONE = "admin", "operator", "reader", "none"
ROLES = (ADMIN, OPERATOR, READER, NONE)
# The writes an operator may make (each checked key by key against its prefixes).
OPERATOR_ROUTES = frozenset(
    {
        ("PATCH", "/settings"),
        ("DELETE", "/settings"),
        ("PATCH", "/settings/keypair"),
        ("DELETE", "/tx"),
        ("POST", "/tx/commit"),
        ("POST", "/tx/apply"),
        ("POST", "/tx/commit_and_apply"),
        ("POST", "/tx/confirm"),
    }
)


# Reads only an admin may make: running a command in a host container is not a read.
ADMIN_ROUTES = frozenset({("GET", "/exec")})


class PolicyError(Exception):
    """The policy file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Rule:
    name: str
    role: str
    uids: frozenset[int] = frozenset()
    gids: frozenset[int] = frozenset()
    prefixes: tuple[Key, ...] = ()

    def matches(self, caller: Caller) -> bool:
        return caller.uid in self.uids or caller.gid in self.gids


@dataclass(frozen=True)
class Access:
    """What one caller may do, and which rule said so."""

    caller: Caller | None
    role: str
    rule: str
    prefixes: tuple[Key, ...] = ()

    def describe(self) -> str:
        who = "unknown caller" if self.caller is None else f"uid {self.caller.uid}, gid {self.caller.gid}"
        return f"{who}, role '{self.role}' by {self.rule}"

    def deny(self, what: str) -> Forbidden:
        return Forbidden(f"Forbidden: {self.describe()}: {what}")

    def check_route(self, method: str, path: str) -> None:
        """Raise Forbidden unless this role may send ``method path`` at all."""
        if self.role == ADMIN:
            return
        if (method, path) in ADMIN_ROUTES:
            raise self.deny(f"may not {method} {path} (admins only)")
        if method == "GET" and self.role in (READER, OPERATOR):
            return
        if self.role == OPERATOR and (method, path) in OPERATOR_ROUTES:
            return
        raise self.deny(f"may not {method} {path}")

    def guard(self, keys: Iterable[Key]) -> None:
        """Raise Forbidden unless every key is under one of this operator's prefixes."""
        if self.role == ADMIN:
            return
        for key in keys:
            if not any(key.starts_with_segments(prefix.segments) for prefix in self.prefixes):
                allowed = ", ".join(p.name for p in self.prefixes) or "none"
                raise self.deny(f"may not change '{key.name}' (allowed prefixes: {allowed})")


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    default: str = NONE
    source: str = "policy"

    def access(self, caller: Caller | None) -> Access:
        if caller is not None:
            for rule in self.rules:
                if rule.matches(caller):
                    return Access(caller, rule.role, f"rule '{rule.name}' of {self.source}", rule.prefixes)
        return Access(caller, self.default, f"the default of {self.source} (no rule matches)")

    def names_admin(self, caller: Caller) -> bool:
        """Whether a rule makes ``caller`` an admin (the first rule that matches it; an admin
        ``default`` does not count): such callers keep the connections reserved for admins."""
        for rule in self.rules:
            if rule.matches(caller):
                return rule.role == ADMIN
        return False


def _ints(value: Any, where: str) -> frozenset[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise PolicyError(f"{where} must be a list of integers")
    return frozenset(value)


def _role(value: Any, where: str) -> str:
    if value not in ROLES:
        raise PolicyError(f"{where} must be one of {', '.join(ROLES)}, not {value!r}")
    return str(value)


def parse_policy(data: dict[str, Any], source: str) -> Policy:
    unknown = set(data) - {"default", "rule"}
    if unknown:
        raise PolicyError(f"{source}: unknown top-level entries {sorted(unknown)} (expected 'default' and [[rule]])")
    default = _role(data.get("default", NONE), f"{source}: 'default'")
    rules = []
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise PolicyError(f"{source}: 'rule' must be an array of tables ([[rule]])")
    for index, raw in enumerate(raw_rules, start=1):
        where = f"{source}: rule {index}"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where} must be a table")
        unknown = set(raw) - {"name", "role", "uids", "gids", "prefixes"}
        if unknown:
            raise PolicyError(f"{where}: unknown entries {sorted(unknown)}")
        name = raw.get("name", f"rule {index}")
        if not isinstance(name, str):
            raise PolicyError(f"{where}: 'name' must be a string")
        role = _role(raw.get("role"), f"{where}: 'role'")
        uids, gids = _ints(raw.get("uids", []), f"{where}: 'uids'"), _ints(raw.get("gids", []), f"{where}: 'gids'")
        if not uids and not gids:
            raise PolicyError(f"{where}: give 'uids' or 'gids' (a rule must match someone)")
        prefixes: list[Key] = []
        raw_prefixes = raw.get("prefixes", [])
        if not isinstance(raw_prefixes, list) or not all(isinstance(p, str) for p in raw_prefixes):
            raise PolicyError(f"{where}: 'prefixes' must be a list of setting names")
        for prefix in raw_prefixes:
            try:
                key = Key(prefix)
            except InvalidKey as exc:
                raise PolicyError(f"{where}: prefix {prefix!r} is not a valid key: {exc}") from None
            if key.segments[0] != "settings":
                key = Key.from_segments(("settings", *key.segments))
            prefixes.append(key)
        if role == OPERATOR and not prefixes:
            raise PolicyError(f"{where}: an operator needs 'prefixes' (the settings it may change)")
        if role != OPERATOR and prefixes:
            raise PolicyError(f"{where}: 'prefixes' only apply to the operator role")
        rules.append(Rule(name, role, uids, gids, tuple(prefixes)))
    return Policy(tuple(rules), default, source)


def load_policy(path: Path) -> Policy:
    """Read and check a policy file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"Cannot read the access policy {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"The access policy {path} is not valid TOML: {exc}") from exc
    return parse_policy(data, str(path))
