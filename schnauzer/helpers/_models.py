"""The settings model's validators, loaded on first use.

The helpers validate with thar's settings model (pydantic), which takes a large share of a
process's start-up to import. Most templates never call the helpers that need it, so the model
is imported only when one of these functions first runs. Each raises ValueError with the model's
own reason.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

__all__ = [
    "canonical_ip",
    "check_base64",
    "linux_capabilities",
    "linux_resource_limits",
    "parse_etc_hosts_entries",
    "parse_oci_defaults",
]


def _first_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = "".join(f"[{part}]" for part in first["loc"])
    reason = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {reason}" if where else reason


@functools.cache
def _base64_adapter() -> TypeAdapter[str]:
    from pydantic import TypeAdapter

    from models.modeled_types.shared import ValidBase64

    return TypeAdapter(ValidBase64)


def check_base64(text: str) -> None:
    """Standard base64 with canonical padding (``ValidBase64``)."""
    from pydantic import ValidationError

    try:
        _base64_adapter().validate_python(text)
    except ValidationError as exc:
        raise ValueError(_first_reason(exc)) from None


@functools.cache
def _hosts_adapter() -> TypeAdapter[list[tuple[str, list[str]]]]:
    from pydantic import TypeAdapter

    from models.modeled_types.shared import EtcHostsEntries

    return TypeAdapter(EtcHostsEntries)


def parse_etc_hosts_entries(value: Any) -> list[tuple[str, list[str]]]:
    """``EtcHostsEntries``: ``[[ip, [alias, …]], …]`` with canonical IPs and Linux host names."""
    from pydantic import ValidationError

    try:
        return _hosts_adapter().validate_python(value)
    except ValidationError as exc:
        raise ValueError(_first_reason(exc)) from None


def canonical_ip(text: str) -> str:
    """An IP address as Rust displays it (``::ffff:1.2.3.4`` for IPv4-mapped IPv6)."""
    from models.modeled_types.shared import canonical_ip as canonical

    return canonical(text)


def linux_capabilities() -> Mapping[str, str]:
    """Capability setting name -> Linux name (``kill`` -> ``CAP_KILL``)."""
    from models.modeled_types.oci_rules import LINUX_CAPABILITIES

    return LINUX_CAPABILITIES


def linux_resource_limits() -> Mapping[str, str]:
    """Resource limit setting name -> Linux name (``max-open-files`` -> ``RLIMIT_NOFILE``)."""
    from models.modeled_types.oci_rules import LINUX_RESOURCE_LIMITS

    return LINUX_RESOURCE_LIMITS


OciSection = dict[str, bool] | dict[str, tuple[int, int]]
"""A parsed oci-defaults section: capabilities as name -> enabled, resource-limits as
name -> (hard, soft) with ``unlimited`` as -1."""


def parse_oci_defaults(section: str, value: Any, root: str) -> OciSection:
    """``settings.oci-defaults`` holding only ``section``, as ``OciDefaultsV1`` validates it.

    Values already in the model's stored form (what the API serves: known names, booleans,
    ``{hard-limit, soft-limit}`` integers in range) are taken as they are, without loading the
    model; anything else goes through the model, which normalises it or rejects it. Errors read
    ``<root>.<section>.<key> = <value>: <rule>``, joined by ``; ``.
    """
    plain = _plain_oci_section(section, value)
    if plain is not None:
        return plain
    from pydantic import ValidationError

    from models.errors import format_errors
    from models.settings.oci_defaults import OciDefaultsV1

    try:
        model = OciDefaultsV1.model_validate({section: value})
    except ValidationError as exc:
        raise ValueError("; ".join(format_errors(exc, root=root, model=OciDefaultsV1))) from None
    if section == "capabilities":
        return dict(model.capabilities or {})
    return {name: (limit.hard_limit, limit.soft_limit) for name, limit in (model.resource_limits or {}).items()}


def _plain_oci_section(section: str, value: Any) -> OciSection | None:
    """``value`` parsed when it is in the model's stored form; None to let the model decide."""
    from models.modeled_types.oci_rules import LINUX_CAPABILITIES, LINUX_RESOURCE_LIMITS, validate_limit

    if not isinstance(value, dict):
        return None
    if section == "capabilities":
        if all(name in LINUX_CAPABILITIES and isinstance(on, bool) for name, on in value.items()):
            return dict(value)
        return None
    limits: dict[str, tuple[int, int]] = {}
    for name, limit in value.items():
        if name not in LINUX_RESOURCE_LIMITS or not isinstance(limit, dict) or limit.keys() != _LIMIT_FIELDS:
            return None
        hard, soft = limit["hard-limit"], limit["soft-limit"]
        if isinstance(hard, str) or isinstance(soft, str):  # "unlimited" is normalised by the model
            return None
        try:
            limits[name] = (validate_limit(hard), validate_limit(soft))
        except ValueError:
            return None
    return limits


_LIMIT_FIELDS = {"hard-limit", "soft-limit"}
