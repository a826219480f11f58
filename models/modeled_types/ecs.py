"""ECS modeled types (spec §2.4): attribute keys and values, agent log level, pull behavior, durations.

String types keep the exact input. A rejected value fails with Bottlerocket's wording::

    Unable to deserialize into ECSAttributeValue: ECS attribute value given invalid input:  leading space

The two enums fail with serde's ``unknown variant `x`, expected one of …``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from ..base import Checked, OneOf

__all__ = [
    "ECSAgentImagePullBehavior",
    "ECSAgentLogLevel",
    "ECSAttributeKey",
    "ECSAttributeValue",
    "ECSDurationValue",
]

# Upstream's comment also allows back slashes in keys, but its regex does not; the regex rules.
_ATTRIBUTE_KEY = r"[a-zA-Z0-9._/-]{1,128}"
# 1-128 chars; spaces allowed, but not first or last.
_ATTRIBUTE_VALUE = r"[a-zA-Z0-9.@:_/\\-](?:[a-zA-Z0-9.@: _/\\-]{0,126}[a-zA-Z0-9.@:_/\\-])?"


def _check_attribute_key(value: str) -> None:
    if not re.fullmatch(_ATTRIBUTE_KEY, value):
        raise ValueError(f"ECS attribute key given invalid input: {value}")


def _check_attribute_value(value: str) -> None:
    if not re.fullmatch(_ATTRIBUTE_VALUE, value):
        raise ValueError(f"ECS attribute value given invalid input: {value}")


ECSAttributeKey = Annotated[
    str,
    Checked(
        "ECSAttributeKey",
        _check_attribute_key,
        description="An ECS attribute name: 1-128 chars of [a-zA-Z0-9._/-].",
        pattern=f"^{_ATTRIBUTE_KEY}$",
    ),
]
ECSAttributeValue = Annotated[
    str,
    Checked(
        "ECSAttributeValue",
        _check_attribute_value,
        description="An ECS attribute value: 1-128 chars of [a-zA-Z0-9.@:_/\\-] and spaces, not starting or "
        "ending with a space.",
        pattern=f"^{_ATTRIBUTE_VALUE}$",
    ),
]

ECSAgentLogLevel = Annotated[str, OneOf("ECSAgentLogLevel", ["debug", "info", "warn", "error", "crit"])]
ECSAgentImagePullBehavior = Annotated[
    str, OneOf("ECSAgentImagePullBehavior", ["default", "always", "once", "prefer-cached"])
]

# Like KubernetesDurationValue (h, m, s, ms in that order, each at most once, decimals allowed),
# plus microseconds (us or µs, U+00B5) and nanoseconds.
_DURATION_PART = r"(?:[0-9]+\.)?[0-9]+"
_DURATION = "".join(f"(?:{_DURATION_PART}{unit})?" for unit in ("h", "m", "s", "ms", "(?:u|\u00b5)s", "ns"))


def _check_duration(value: str) -> None:
    if value == "" or not re.fullmatch(_DURATION, value):
        raise ValueError(f"Invalid ECS duration value '{value}'")


ECSDurationValue = Annotated[
    str,
    Checked(
        "ECSDurationValue",
        _check_duration,
        description="A duration such as 1h2m3s or 1ms1us1ns: units h, m, s, ms, us (or µs), ns in that order, "
        "each at most once, decimals allowed.",
        pattern=f"^{_DURATION}$",
    ),
]

RUST_TYPES: dict[str, Any] = {
    "ECSAgentImagePullBehavior": ECSAgentImagePullBehavior,
    "ECSAgentLogLevel": ECSAgentLogLevel,
    "ECSAttributeKey": ECSAttributeKey,
    "ECSAttributeValue": ECSAttributeValue,
    "ECSDurationValue": ECSDurationValue,
}
