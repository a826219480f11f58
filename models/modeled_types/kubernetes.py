"""Kubernetes modeled types (spec §2.3): label keys and values, taints, quantities, durations, …

String types keep the exact input and serialize it back unchanged, except
``KubernetesCloudProvider`` (empty input is stored as the 2-character string ``""``, which is
what kubelet's ``--cloud-provider`` expects) and ``KubernetesMemoryManagerPolicy``
(``static``/``none`` are stored as ``Static``/``None``). A rejected value fails with
Bottlerocket's wording::

    Unable to deserialize into KubernetesTaintValue: Kubernetes taint value given invalid input: -a:NoSchedule

Enums (``KubernetesEvictionKey``, ``KubernetesMemoryReservationKey``, …) fail with serde's
``unknown variant `x`, expected one of …``. Patterns are fully anchored (``re.fullmatch``) and
ASCII-only; ``KubernetesClusterName`` is the v0.6.0 rule (a non-empty label value), not the later
EKS rule.

Each type is ``Annotated[str, Checked(...)]`` rather than the bare
``validated_str(...)`` value: pydantic gets the same validators, and mypy gets ``str`` rather than
``Any``, which it would reject as an annotation in this module (``CredentialProvider`` and the
other structs below use these types).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import ConfigDict, Field, Strict, WithJsonSchema, field_validator

from ..base import Checked, OneOf, SettingsStruct
from .shared import SingleLineString

__all__ = [
    "CpuManagerPolicy",
    "CredentialProvider",
    "KubernetesAuthenticationMode",
    "KubernetesBootstrapToken",
    "KubernetesCPUManagerPolicyOption",
    "KubernetesCloudProvider",
    "KubernetesClusterName",
    "KubernetesDurationValue",
    "KubernetesEvictionKey",
    "KubernetesHostnameOverrideSource",
    "KubernetesLabelKey",
    "KubernetesLabelValue",
    "KubernetesMemoryManagerPolicy",
    "KubernetesMemoryReservation",
    "KubernetesMemoryReservationKey",
    "KubernetesName",
    "KubernetesQuantityValue",
    "KubernetesReservedResourceKey",
    "KubernetesTaintValue",
    "KubernetesThresholdValue",
    "NvidiaDeviceIdStrategy",
    "NvidiaDeviceListStrategy",
    "NvidiaDevicePluginSettings",
    "NvidiaDeviceSharingStrategy",
    "NvidiaTimeSlicingSettings",
    "TopologyManagerPolicy",
    "TopologyManagerScope",
]


# --- KubernetesName -----------------------------------------------------------------------------

_NAME = r"[0-9a-z.-]{1,253}"


def _check_name(value: str) -> None:
    if not re.fullmatch(_NAME, value):
        raise ValueError(f"Kubernetes name must match '^{_NAME}$', given: {value}")


KubernetesName = Annotated[
    str,
    Checked(
        "KubernetesName",
        _check_name,
        description="A Kubernetes resource name: 1-253 chars of [0-9a-z.-].",
        pattern=f"^{_NAME}$",
    ),
]


# --- KubernetesLabelKey, KubernetesLabelValue, KubernetesTaintValue -----------------------------

# A label name: 1-63 chars, ASCII alphanumeric at both ends, [A-Za-z0-9._-] in between. Python's
# [A-Za-z0-9] is Rust's [[:alnum:]] (ASCII-only); the bounded middle cannot backtrack badly.
_LABEL_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = rf"(?:[A-Za-z0-9.-]{{1,253}}/)?{_LABEL_NAME}"
_LABEL_VALUE = rf"(?:{_LABEL_NAME})?"
_TAINT_VALUE = rf"(?:{_LABEL_NAME})?:[A-Za-z0-9]{{1,253}}"


def _check_label_key(value: str) -> None:
    if not re.fullmatch(_LABEL_KEY, value):
        raise ValueError(f"Kubernetes label key given invalid input: {value}")


def _check_label_value(value: str) -> None:
    if not re.fullmatch(_LABEL_VALUE, value):
        raise ValueError(f"Kubernetes label value given invalid input: {value}")


def _check_taint_value(value: str) -> None:
    if not re.fullmatch(_TAINT_VALUE, value):
        raise ValueError(f"Kubernetes taint value given invalid input: {value}")


KubernetesLabelKey = Annotated[
    str,
    Checked(
        "KubernetesLabelKey",
        _check_label_key,
        description="A Kubernetes label key: optional 'prefix/' (1-253 chars of [A-Za-z0-9.-]), then a name "
        "of 1-63 chars, alphanumeric at both ends, [A-Za-z0-9._-] inside.",
        pattern=f"^{_LABEL_KEY}$",
    ),
]
KubernetesLabelValue = Annotated[
    str,
    Checked(
        "KubernetesLabelValue",
        _check_label_value,
        description="A Kubernetes label value: empty, or 1-63 chars, alphanumeric at both ends, [A-Za-z0-9._-] inside.",
        pattern=f"^{_LABEL_VALUE}$",
    ),
]
KubernetesTaintValue = Annotated[
    str,
    Checked(
        "KubernetesTaintValue",
        _check_taint_value,
        description="A taint 'value:effect': the value is optional (a label value), the effect 1-253 "
        "ASCII alphanumerics (NoSchedule, PreferNoSchedule, NoExecute, … are not enforced).",
        pattern=f"^{_TAINT_VALUE}$",
    ),
]


# --- KubernetesClusterName ----------------------------------------------------------------------


def _check_cluster_name(value: str) -> None:
    # v0.6.0: a cluster name goes into the cluster-name label, so it must be a (non-empty) label
    # value. Later versions use EKS's ^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$ instead (spec §7).
    if value == "":
        raise ValueError(f"Given invalid cluster name '{value}': must not be empty")
    if not re.fullmatch(_LABEL_NAME, value):
        raise ValueError(f"Given invalid cluster name '{value}': cluster names must be valid Kubernetes label values")


KubernetesClusterName = Annotated[
    str,
    Checked(
        "KubernetesClusterName",
        _check_cluster_name,
        description="A cluster name: a non-empty Kubernetes label value (1-63 chars, alphanumeric at both "
        "ends, [A-Za-z0-9._-] inside).",
        pattern=f"^{_LABEL_NAME}$",
    ),
]


# --- KubernetesAuthenticationMode, KubernetesBootstrapToken -------------------------------------


def _check_authentication_mode(value: str) -> None:
    if value not in ("aws", "tls"):
        raise ValueError(f"Invalid Kubernetes authentication mode '{value}'")


_BOOTSTRAP_TOKEN = r"[a-z0-9]{6}\.[a-z0-9]{16}"


def _check_bootstrap_token(value: str) -> None:
    if not re.fullmatch(_BOOTSTRAP_TOKEN, value):
        raise ValueError(f"Kubernetes bootstrap token must match '^{_BOOTSTRAP_TOKEN}$', given: {value}")


KubernetesAuthenticationMode = Annotated[
    str,
    Checked(
        "KubernetesAuthenticationMode",
        _check_authentication_mode,
        description="How kubelet authenticates to the API server: aws or tls.",
        pattern="^(aws|tls)$",
    ),
]
KubernetesBootstrapToken = Annotated[
    str,
    Checked(
        "KubernetesBootstrapToken",
        _check_bootstrap_token,
        description="A bootstrap token: 6 chars of [a-z0-9], '.', 16 chars of [a-z0-9].",
        pattern=f"^{_BOOTSTRAP_TOKEN}$",
    ),
]


# --- KubernetesEvictionKey, KubernetesReservedResourceKey ---------------------------------------

KubernetesEvictionKey = Annotated[
    str,
    OneOf(
        "KubernetesEvictionKey",
        [
            "memory.available",
            "nodefs.available",
            "nodefs.inodesFree",
            "imagefs.available",
            "imagefs.inodesFree",
            "pid.available",
        ],
    ),
]

_RESERVED_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _check_reserved_resource_key(value: str) -> None:
    if value not in _RESERVED_RESOURCES:
        expected = ", ".join(f"`{v}`" for v in _RESERVED_RESOURCES)
        raise ValueError(
            f"Invalid input for field Reserved sources key: unknown variant `{value}`, expected one of {expected}"
        )


KubernetesReservedResourceKey = Annotated[
    str,
    Checked(
        "KubernetesReservedResourceKey",
        _check_reserved_resource_key,
        description="A resource kubelet can reserve: cpu, memory or ephemeral-storage.",
        pattern="^(cpu|memory|ephemeral-storage)$",
    ),
]


# --- KubernetesQuantityValue, KubernetesThresholdValue ------------------------------------------

# Upstream is three anchored alternatives, which accept the same strings as this one pattern:
#   ^([+-]?[0-9.]+)((e)?[0-9]*)$        scientific notation (129e6; also 1e, 1.2.3)
#   ^([+-]?[0-9.]+)((E|P|T|G|M|K)i?)?$  binary / decimal SI suffixes (10Mi, 1024M)
#   ^([+-]?[0-9.]+)(n|u|m|k)?$          small suffixes (100m, 1000n)
# Merged, "[0-9.]+[0-9]*" becomes "[0-9.]+" and the suffixes are disjoint, so Python's matcher
# stays linear on long non-matching input.
_QUANTITY = r"[+-]?[0-9.]+(?:e[0-9]*|[EPTGMK]i?|[numk])?"
_QUANTITY_SHOWN = r"^([+-]?[0-9.]+)((e)?[0-9]*)$|^([+-]?[0-9.]+)((E|P|T|G|M|K)i?)?$|^([+-]?[0-9.]+)(n|u|m|k)?$"


def _quantity_error(value: str) -> ValueError:
    return ValueError(f"Kubernetes quantity must match '{_QUANTITY_SHOWN}', given: {value}")


def _check_quantity(value: str) -> None:
    if not re.fullmatch(_QUANTITY, value):
        raise _quantity_error(value)


# Rust's f32::from_str grammar: sign, then inf / infinity / nan (any case) or a decimal number
# with digits on at least one side of an optional '.', and an optional exponent with digits.
_F32_WORD = re.compile(r"[+-]?(?i:inf|infinity|nan)")
_F32_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
# The percentage is parsed as f32 (round to nearest, ties to even) and must satisfy 0 <= v < 100.
# Exactly: v < 100 iff the decimal is below the midpoint between 100 and the f32 just below it
# (100 - 2**-18; the tie rounds to 100, whose significand is even); v >= 0 iff it is not below
# -2**-150, half the smallest subnormal (a tie rounds to -0.0, and -0.0 >= 0.0 in IEEE 754).
_PERCENT_UPPER = Decimal("99.999996185302734375")  # exactly 100 - 2**-18
_PERCENT_LOWER = Decimal(f"-{5**150}E-150")  # exactly -2**-150 (built from text: no context rounding)


def _f32_percent_in_range(text: str) -> bool | None:
    """Whether Rust would accept ``text`` (the part before ``%``) as an f32 in [0, 100).

    None when Rust's ``str::parse::<f32>`` rejects the text. ``"99.9"`` -> True, ``"100"`` ->
    False, ``"nan"`` -> False (NaN is in no range), ``"-0"`` -> True, ``"1e"`` / ``" 4"`` -> None.
    """
    if _F32_WORD.fullmatch(text):
        return False  # ±inf and NaN are never in [0, 100)
    match = _F32_DECIMAL.fullmatch(text)
    if match is None:
        return None
    sign, whole, fraction, exponent = match.groups()
    fraction = fraction or ""
    if whole == "" and fraction == "":
        return None
    digits = (whole + fraction).lstrip("0")
    if digits == "":
        return True  # ±0
    scale = int(exponent or "0") - len(fraction)  # value = ±digits * 10**scale
    magnitude = len(digits) + scale  # 10**(magnitude-1) <= |value| < 10**magnitude
    if magnitude > 3:
        return False  # |value| >= 1000
    if magnitude < -50:
        return True  # |value| < 1e-50 < 2**-150: rounds to ±0
    value = Decimal(f"{sign}{digits}E{scale}")  # exact: no context rounding on construction
    return _PERCENT_LOWER <= value < _PERCENT_UPPER


def _check_threshold(value: str) -> None:
    if value.endswith("%"):
        in_range = _f32_percent_in_range(value[:-1])
        if in_range is None:
            raise ValueError(f"Invalid percentage value '{value}'")
        if not in_range:
            raise ValueError(f"Invalid Kubernetes threshold percentage value '{value}'")
    elif not re.fullmatch(_QUANTITY, value):
        raise _quantity_error(value)


KubernetesQuantityValue = Annotated[
    str,
    Checked(
        "KubernetesQuantityValue",
        _check_quantity,
        description="A Kubernetes quantity: a number of digits and dots with an optional sign and an optional "
        "suffix (e<digits>, E P T G M K with optional i, or n u m k): 129e6, 10Mi, 100m.",
        pattern=f"^{_QUANTITY}$",
    ),
]
KubernetesThresholdValue = Annotated[
    str,
    Checked(
        "KubernetesThresholdValue",
        _check_threshold,
        description="An eviction threshold: a percentage 0 <= v < 100 written as a number followed by '%' "
        "(10%, 99.5%), or a Kubernetes quantity (100Mi).",
    ),
]


# --- KubernetesCloudProvider, CpuManagerPolicy, KubernetesDurationValue -------------------------

_QUOTED_EMPTY = '""'


def _check_cloud_provider(value: str) -> str:
    # kubelet needs the empty string double-quoted on its command line: store "" as '""'.
    provider = _QUOTED_EMPTY if value == "" else value
    if provider not in ("aws", "external", _QUOTED_EMPTY):
        raise ValueError(f"Invalid Kubernetes cloud provider '{provider}'")
    return provider


def _check_cpu_manager_policy(value: str) -> None:
    if value not in ("static", "Static", "none", "None"):
        raise ValueError(f"Invalid Cpu Manager policy '{value}'")


# Units in order h, m, s, ms, each at most once, each a number with an optional decimal part.
_DURATION_PART = r"(?:[0-9]+\.)?[0-9]+"
_DURATION = "".join(f"(?:{_DURATION_PART}{unit})?" for unit in ("h", "m", "s", "ms"))


def _check_duration(value: str) -> None:
    if value == "" or not re.fullmatch(_DURATION, value):
        raise ValueError(f"Invalid Kubernetes duration value '{value}'")


KubernetesCloudProvider = Annotated[
    str,
    Checked(
        "KubernetesCloudProvider",
        _check_cloud_provider,
        description='kubelet\'s cloud provider: aws, external, or "" (the empty string, also accepted as '
        'empty input, is stored as the two characters "").',
    ),
]
CpuManagerPolicy = Annotated[
    str,
    Checked(
        "CpuManagerPolicy",
        _check_cpu_manager_policy,
        description="kubelet's CPU manager policy: static or none (or Static, None); the original text is stored.",
        pattern="^(static|Static|none|None)$",
    ),
]
KubernetesDurationValue = Annotated[
    str,
    Checked(
        "KubernetesDurationValue",
        _check_duration,
        description="A duration such as 1h2m3s10ms or 1.5h: units h, m, s, ms in that order, each at most once.",
        pattern=f"^{_DURATION}$",
    ),
]


# --- Topology manager, CPU manager options, memory manager, hostname override -------------------


def _check_topology_manager_scope(value: str) -> None:
    if value not in ("container", "pod"):
        raise ValueError(f"Invalid topology manager scope '{value}'")


def _check_topology_manager_policy(value: str) -> None:
    if value not in ("none", "restricted", "best-effort", "single-numa-node"):
        raise ValueError(f"Invalid topology manager policy '{value}'")


TopologyManagerScope = Annotated[
    str,
    Checked(
        "TopologyManagerScope",
        _check_topology_manager_scope,
        description="kubelet's topology manager scope: container or pod.",
        pattern="^(container|pod)$",
    ),
]
TopologyManagerPolicy = Annotated[
    str,
    Checked(
        "TopologyManagerPolicy",
        _check_topology_manager_policy,
        description="kubelet's topology manager policy: none, restricted, best-effort or single-numa-node.",
        pattern="^(none|restricted|best-effort|single-numa-node)$",
    ),
]
KubernetesCPUManagerPolicyOption = Annotated[str, OneOf("KubernetesCPUManagerPolicyOption", ["full-pcpus-only"])]
KubernetesMemoryReservationKey = Annotated[
    str,
    OneOf("KubernetesMemoryReservationKey", ["memory", "hugepages-2Mi", "hugepages-1Gi"]),
]
# serde aliases: "static" and "none" are read as the variants Static and None, which serialize as such.
KubernetesMemoryManagerPolicy = Annotated[
    str,
    OneOf(
        "KubernetesMemoryManagerPolicy",
        ["Static", "static", "None", "none"],
        emit={"static": "Static", "none": "None"},
    ),
]
KubernetesHostnameOverrideSource = Annotated[
    str, OneOf("KubernetesHostnameOverrideSource", ["private-dns-name", "instance-id"])
]


# --- CredentialProvider, KubernetesMemoryReservation --------------------------------------------


class CredentialProvider(SettingsStruct):
    """An image credential provider for kubelet (``kubernetes.credential-providers.<name>``).

    Unlike every other settings struct, unknown keys are ignored (upstream's struct has no
    ``deny_unknown_fields``), and ``enabled`` and ``image-patterns`` are required.
    """

    model_config = ConfigDict(extra="ignore")

    enabled: bool
    image_patterns: list[SingleLineString]
    cache_duration: KubernetesDurationValue | None = None
    environment: dict[SingleLineString, SingleLineString] | None = None


class KubernetesMemoryReservation(SettingsStruct):
    """Memory reserved on one NUMA node: ``{"enabled": true, "memory": "1Gi", "hugepages-2Mi": "64Mi"}``.

    ``enabled`` is required; the other keys are upstream's flattened map of
    ``KubernetesMemoryReservationKey`` to ``KubernetesQuantityValue``, so each is optional but,
    as a map value, may not be null, and any other key is rejected.
    """

    enabled: bool
    memory: KubernetesQuantityValue | None = None
    hugepages_2Mi: KubernetesQuantityValue | None = None  # the wire name is hugepages-2Mi
    hugepages_1Gi: KubernetesQuantityValue | None = None  # the wire name is hugepages-1Gi

    @field_validator("memory", "hugepages_2Mi", "hugepages_1Gi", mode="before")
    @classmethod
    def _reservation_not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("invalid type: null, expected a KubernetesQuantityValue string")
        return value


# --- NvidiaDevicePluginSettings -----------------------------------------------------------------

NvidiaDeviceIdStrategy = Annotated[str, OneOf("NvidiaDeviceIdStrategy", ["uuid", "index"])]
NvidiaDeviceListStrategy = Annotated[str, OneOf("NvidiaDeviceListStrategy", ["envvar", "volume-mounts"])]
NvidiaDeviceSharingStrategy = Annotated[str, OneOf("NvidiaDeviceSharingStrategy", ["none", "time-slicing"])]

_I32_MAX = 2**31 - 1
_TimeSlicingReplicas = Annotated[
    int,
    Strict(),
    Field(ge=2, le=_I32_MAX),
    WithJsonSchema({"type": "integer", "title": "BoundedI32<2, 2147483647>", "minimum": 2, "maximum": _I32_MAX}),
]


class NvidiaTimeSlicingSettings(SettingsStruct):
    """How the NVIDIA device plugin shares a GPU by time-slicing."""

    replicas: _TimeSlicingReplicas | None = None
    rename_by_default: bool | None = None
    fail_requests_greater_than_one: bool | None = None


class NvidiaDevicePluginSettings(SettingsStruct):
    """Settings of the NVIDIA Kubernetes device plugin (``kubelet-device-plugins.nvidia``)."""

    pass_device_specs: bool | None = None
    device_id_strategy: NvidiaDeviceIdStrategy | None = None
    device_list_strategy: NvidiaDeviceListStrategy | None = None
    device_sharing_strategy: NvidiaDeviceSharingStrategy | None = None
    time_slicing: NvidiaTimeSlicingSettings | None = None


RUST_TYPES: dict[str, Any] = {
    "CpuManagerPolicy": CpuManagerPolicy,
    "CredentialProvider": CredentialProvider,
    "KubernetesAuthenticationMode": KubernetesAuthenticationMode,
    "KubernetesBootstrapToken": KubernetesBootstrapToken,
    "KubernetesCPUManagerPolicyOption": KubernetesCPUManagerPolicyOption,
    "KubernetesCloudProvider": KubernetesCloudProvider,
    "KubernetesClusterName": KubernetesClusterName,
    "KubernetesDurationValue": KubernetesDurationValue,
    "KubernetesEvictionKey": KubernetesEvictionKey,
    "KubernetesHostnameOverrideSource": KubernetesHostnameOverrideSource,
    "KubernetesLabelKey": KubernetesLabelKey,
    "KubernetesLabelValue": KubernetesLabelValue,
    "KubernetesMemoryManagerPolicy": KubernetesMemoryManagerPolicy,
    "KubernetesMemoryReservation": KubernetesMemoryReservation,
    "KubernetesMemoryReservationKey": KubernetesMemoryReservationKey,
    "KubernetesName": KubernetesName,
    "KubernetesQuantityValue": KubernetesQuantityValue,
    "KubernetesReservedResourceKey": KubernetesReservedResourceKey,
    "KubernetesTaintValue": KubernetesTaintValue,
    "KubernetesThresholdValue": KubernetesThresholdValue,
    "NvidiaDeviceIdStrategy": NvidiaDeviceIdStrategy,
    "NvidiaDeviceListStrategy": NvidiaDeviceListStrategy,
    "NvidiaDevicePluginSettings": NvidiaDevicePluginSettings,
    "NvidiaDeviceSharingStrategy": NvidiaDeviceSharingStrategy,
    "NvidiaTimeSlicingSettings": NvidiaTimeSlicingSettings,
    "TopologyManagerPolicy": TopologyManagerPolicy,
    "TopologyManagerScope": TopologyManagerScope,
}
