"""The ``updates`` extension's helpers ``tuf-prefix`` and ``metadata-prefix`` (spec §6.4).

Regions outside the standard partition fetch updates from a regional bucket:
``tuf-prefix`` gives ``https://<bucket endpoint>.<region>.<partition domain>/latest`` and
``metadata-prefix`` gives ``/metadata`` for them; every other region uses the public repository
``https://updates.bottlerocket.aws`` with no metadata prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..helper_api import Helper, HelperKind, Param
from ._common import Signature
from .aws import partition, region_param

__all__ = ["TUF_ENDPOINTS", "TUF_PUBLIC_REPOSITORY", "tuf_repository", "updates_helpers"]

TUF_ENDPOINTS: dict[str, str] = {
    "cn-north-1": "bottlerocket-updates-cn-north-1.s3.dualstack",
    "cn-northwest-1": "bottlerocket-updates-cn-northwest-1.s3.dualstack",
    "eu-isoe-west-1": "bottlerocket-updates-eu-isoe-west-1.s3",
}
"""Region -> endpoint of its regional update bucket."""

TUF_PUBLIC_REPOSITORY = "https://updates.bottlerocket.aws"


def tuf_repository(region: str) -> str:
    """The update repository URL for ``region``."""
    endpoint = TUF_ENDPOINTS.get(region)
    if endpoint is None:
        return TUF_PUBLIC_REPOSITORY
    match partition(region):
        case "aws-cn":
            return f"https://{endpoint}.{region}.amazonaws.com.cn/latest"
        case "aws-iso-e":
            return f"https://{endpoint}.{region}.cloud.adc-e.uk/latest"
        case _:
            return f"https://{endpoint}.{region}.amazonaws.com/latest"


_TUF_PREFIX = Signature("tuf-prefix", ("region",))
_METADATA_PREFIX = Signature("metadata-prefix", ("region",))


def tuf_prefix(params: list[Param], hash_: Mapping[str, Any]) -> str:
    return tuf_repository(region_param(_TUF_PREFIX, params))


def metadata_prefix(params: list[Param], hash_: Mapping[str, Any]) -> str:
    return "/metadata" if region_param(_METADATA_PREFIX, params) in TUF_ENDPOINTS else ""


def updates_helpers() -> Sequence[Helper]:
    """Every helper of the ``updates`` extension."""
    return [
        Helper("tuf-prefix", HelperKind.STRING, tuf_prefix),
        Helper("metadata-prefix", HelperKind.STRING, metadata_prefix),
    ]
