"""OCI defaults modeled types (spec §2.4): Linux capabilities, rlimit kinds and rlimit values.

``OciDefaultsCapability`` and ``OciDefaultsResourceLimitType`` are kebab-case enums
(``net-bind-service``, ``max-open-files``) that fail with serde's ``unknown variant …``;
``LINUX_CAPABILITIES`` and ``LINUX_RESOURCE_LIMITS`` give their Linux names (``CAP_NET_BIND_SERVICE``,
``RLIMIT_NOFILE``) for the container runtime's configuration.

``OciDefaultsResourceLimitValue`` is the value of ``hard-limit`` / ``soft-limit``: an integer from
-1 to i64::MAX, or the string ``unlimited``, stored (and serialized) as -1.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from ..base import OneOf
from .oci_rules import CAPABILITIES, I64_MAX, LINUX_CAPABILITIES, LINUX_RESOURCE_LIMITS, UNLIMITED, validate_limit

__all__ = [
    "LINUX_CAPABILITIES",
    "LINUX_RESOURCE_LIMITS",
    "OciDefaultsCapability",
    "OciDefaultsResourceLimitType",
    "OciDefaultsResourceLimitValue",
]

OciDefaultsCapability = Annotated[str, OneOf("OciDefaultsCapability", CAPABILITIES)]
OciDefaultsResourceLimitType = Annotated[str, OneOf("OciDefaultsResourceLimitType", list(LINUX_RESOURCE_LIMITS))]

OciDefaultsResourceLimitValue = Annotated[
    int,
    PlainValidator(validate_limit),
    WithJsonSchema(
        {
            "title": "OciDefaultsResourceLimitValue",
            "description": 'An rlimit from -1 (unlimited) to i64::MAX, or "unlimited" (stored as -1).',
            "anyOf": [{"type": "integer", "minimum": -1, "maximum": I64_MAX}, {"const": UNLIMITED}],
        }
    ),
]

RUST_TYPES: dict[str, Any] = {
    "OciDefaultsCapability": OciDefaultsCapability,
    "OciDefaultsResourceLimitType": OciDefaultsResourceLimitType,
}
