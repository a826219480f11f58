"""The ``ecs`` extension's helper ``ecs_metadata_service_limits`` (spec §6.1).

``{{ecs_metadata_service_limits rps burst}}`` writes ``"<rps>,<burst>"`` for the ECS agent's
task metadata throttling; an unset (null or missing) value takes the agent's default, 40
requests per second and a burst of 60.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..display import display_scalar
from ..helper_api import Helper, HelperError, HelperKind, Param
from ._common import Signature, describe, is_number

__all__ = ["DEFAULT_BURST", "DEFAULT_RPS", "ecs_helpers"]

DEFAULT_RPS = 40
DEFAULT_BURST = 60

_LIMITS = Signature("ecs_metadata_service_limits", ("rps", "burst"))


def ecs_metadata_service_limits(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _LIMITS.check(params)
    texts = []
    for param, fallback in zip(params, (DEFAULT_RPS, DEFAULT_BURST), strict=True):
        if param.value is None:
            texts.append(str(fallback))
        elif is_number(param.value):
            texts.append(display_scalar(param.value))
        else:
            raise HelperError(
                f"ecs_metadata_service_limits: invalid metadata service limits, rps = {describe(params[0])}, "
                f"burst = {describe(params[1])}: each must be a number or null"
            )
    return ",".join(texts)


def ecs_helpers() -> Sequence[Helper]:
    """Every helper of the ``ecs`` extension."""
    return [Helper("ecs_metadata_service_limits", HelperKind.STRING, ecs_metadata_service_limits)]
