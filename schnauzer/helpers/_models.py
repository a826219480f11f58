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
    "parse_oci_capabilities",
    "parse_oci_resource_limits",
]


def _first_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = "".join(f"[{part}]" for part in first["loc"])
    reason = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {reason}" if where else reason


@functools.cache
def _base64_adapter() -> TypeAdapter[str]:
    from pydantic import TypeAdapter

    from thar.models.modeled_types.shared import ValidBase64

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

    from thar.models.modeled_types.shared import EtcHostsEntries

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
    from thar.models.modeled_types.shared import canonical_ip as canonical

    return canonical(text)


def linux_capabilities() -> Mapping[str, str]:
    """Capability setting name -> Linux name (``kill`` -> ``CAP_KILL``)."""
    from thar.models.modeled_types.oci_rules import LINUX_CAPABILITIES

    return LINUX_CAPABILITIES


def linux_resource_limits() -> Mapping[str, str]:
    """Resource limit setting name -> Linux name (``max-open-files`` -> ``RLIMIT_NOFILE``)."""
    from thar.models.modeled_types.oci_rules import LINUX_RESOURCE_LIMITS

    return LINUX_RESOURCE_LIMITS


def parse_oci_capabilities(value: Any, root: str) -> dict[str, bool]:
    """``settings.oci-defaults.capabilities`` as ``OciDefaultsV1`` validates it: name -> enabled.

    A map of known names to booleans (the stored form, what the API serves) is taken as it is,
    without loading the model; anything else goes through the model, which rejects it. Errors
    read ``<root>.capabilities.<key> = <value>: <rule>``, joined by ``; ``.
    """
    from thar.models.modeled_types.oci_rules import LINUX_CAPABILITIES

    if isinstance(value, dict) and all(
        name in LINUX_CAPABILITIES and isinstance(on, bool) for name, on in value.items()
    ):
        return dict(value)
    return dict(_oci_model("capabilities", value, root).capabilities or {})


def parse_oci_resource_limits(value: Any, root: str) -> dict[str, tuple[int, int]]:
    """``settings.oci-defaults.resource-limits`` as ``OciDefaultsV1`` validates it:
    name -> (hard, soft), ``unlimited`` as -1.

    A map of known names to ``{hard-limit, soft-limit}`` is checked with the model's own rlimit
    rule without loading the model; anything else goes through the model, which rejects it.
    Errors read ``<root>.resource-limits.<key>… = <value>: <rule>``, joined by ``; ``.
    """
    from thar.models.modeled_types.oci_rules import LINUX_RESOURCE_LIMITS, validate_limit

    if isinstance(value, dict):
        limits: dict[str, tuple[int, int]] = {}
        for name, limit in value.items():
            if name not in LINUX_RESOURCE_LIMITS or not isinstance(limit, dict) or limit.keys() != _LIMIT_FIELDS:
                break
            try:
                limits[name] = (validate_limit(limit["hard-limit"]), validate_limit(limit["soft-limit"]))
            except ValueError:
                break
        else:
            return limits
    model = _oci_model("resource-limits", value, root)
    return {name: (limit.hard_limit, limit.soft_limit) for name, limit in (model.resource_limits or {}).items()}


_LIMIT_FIELDS = {"hard-limit", "soft-limit"}


def _oci_model(section: str, value: Any, root: str) -> Any:
    """``settings.oci-defaults`` holding only ``section``, validated as ``OciDefaultsV1``; a
    ValueError with the model's errors."""
    from pydantic import ValidationError

    from thar.models.errors import format_errors
    from thar.models.settings.oci_defaults import OciDefaultsV1

    try:
        return OciDefaultsV1.model_validate({section: value})
    except ValidationError as exc:
        raise ValueError("; ".join(format_errors(exc, root=root, model=OciDefaultsV1))) from None
