"""The ``aws`` extension's helper ``ecr-prefix`` and the AWS region facts it shares (spec §6.4).

``ecr-prefix REGION`` gives the ECR registry host Bottlerocket's host containers come from,
``<account>.dkr.ecr[-fips].<region>.amazonaws.com`` (other domains in the China and ISO-E
partitions). A region missing from the map falls back to us-east-1's registry, so a new region
works before this table knows it. ``-fips`` is added when the host runs in FIPS mode and the
region has a FIPS endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..helper_api import Helper, HelperKind, Param
from ._common import Signature, json_type
from .environment import HelperEnvironment

__all__ = ["ECR_ACCOUNTS", "ECR_FIPS_REGIONS", "aws_helpers", "ecr_registry", "partition"]

_MAIN_ACCOUNT = "328549459982"

ECR_ACCOUNTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-north-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ),
        _MAIN_ACCOUNT,
    ),
    "af-south-1": "917644944286",
    "ap-east-1": "375569722642",
    "ap-south-2": "764716012617",
    "ap-southeast-3": "386774335080",
    "ap-southeast-4": "731751899352",
    "ap-southeast-5": "851725293737",
    "ca-west-1": "253897149516",
    "cn-north-1": "183470599484",
    "cn-northwest-1": "183901325759",
    "eu-central-2": "861738308508",
    "eu-isoe-west-1": "589460436674",
    "eu-south-1": "586180183710",
    "eu-south-2": "620625777247",
    "il-central-1": "288123944683",
    "me-central-1": "553577323255",
    "me-south-1": "509306038620",
    "us-gov-east-1": "388230364387",
    "us-gov-west-1": "347163068887",
}
"""Region -> AWS account of the registry holding Bottlerocket's images."""

ECR_FALLBACK_REGION = "us-east-1"

ECR_FIPS_REGIONS = frozenset(("us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1", "us-gov-west-1"))
"""Regions with a FIPS ECR endpoint (``dkr.ecr-fips``)."""

_PARTITIONS = {"cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn", "eu-isoe-west-1": "aws-iso-e"}


def partition(region: str) -> str:
    """The partition of a region whose domains differ from the standard ``amazonaws.com``, else ``aws``."""
    return _PARTITIONS.get(region, "aws")


def ecr_registry(region: str, fips_enabled: bool) -> str:
    """The ECR registry host for ``region``."""
    account = ECR_ACCOUNTS.get(region)
    if account is None:
        region, account = ECR_FALLBACK_REGION, _MAIN_ACCOUNT
    match partition(region):
        case "aws-cn":
            return f"{account}.dkr.ecr.{region}.amazonaws.com.cn"
        case "aws-iso-e":
            return f"{account}.dkr.ecr.{region}.cloud.adc-e.uk"
        case _:
            suffix = "-fips" if region in ECR_FIPS_REGIONS and fips_enabled else ""
            return f"{account}.dkr.ecr{suffix}.{region}.amazonaws.com"


_ECR_PREFIX = Signature("ecr-prefix", ("region",))


def region_param(signature: Signature, params: list[Param]) -> str:
    """The region parameter, which must be a string."""
    signature.check(params)
    region = params[0].value
    if not isinstance(region, str):
        raise signature.fail(params, 0, f"expected an AWS region (a string), got {json_type(region)}")
    return region


def make_ecr_prefix(env: HelperEnvironment) -> Helper:
    def ecr_prefix(params: list[Param], hash_: Mapping[str, Any]) -> str:
        region = region_param(_ECR_PREFIX, params)
        # FIPS mode is only read when it can change the answer.
        fips = region in ECR_FIPS_REGIONS and env.fips_enabled()
        return ecr_registry(region, fips)

    return Helper("ecr-prefix", HelperKind.STRING, ecr_prefix)


def aws_helpers(env: HelperEnvironment) -> Sequence[Helper]:
    """Every helper of the ``aws`` extension."""
    return [make_ecr_prefix(env)]
