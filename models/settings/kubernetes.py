"""``settings.kubernetes``: kubelet and cluster settings (spec §3.1, KubernetesSettingsV1, 53 fields).

Every field is optional; unknown keys are rejected here and in ``static-pods`` and
``memory-manager-reserved-memory`` entries, but ignored in ``credential-providers`` entries (as
upstream). Normalisations: ``cloud-provider`` ``""`` is stored as ``"\\"\\""``,
``memory-manager-policy`` as ``Static``/``None``, and a ``node-taints`` entry given as one taint
string becomes a one-element list::

    {"node-taints": {"dedicated": "gpu:NoSchedule"}}  ->  {"node-taints": {"dedicated": ["gpu:NoSchedule"]}}

No cross-field rule is checked (e.g. image-gc high > low), as in v0.6.0.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema, field_validator

from ..base import I32, I64, U8, U32, SettingsStruct
from ..modeled_types.kubernetes import (
    CpuManagerPolicy,
    CredentialProvider,
    KubernetesAuthenticationMode,
    KubernetesBootstrapToken,
    KubernetesCloudProvider,
    KubernetesClusterName,
    KubernetesCPUManagerPolicyOption,
    KubernetesDurationValue,
    KubernetesEvictionKey,
    KubernetesHostnameOverrideSource,
    KubernetesLabelKey,
    KubernetesLabelValue,
    KubernetesMemoryManagerPolicy,
    KubernetesMemoryReservation,
    KubernetesQuantityValue,
    KubernetesReservedResourceKey,
    KubernetesTaintValue,
    KubernetesThresholdValue,
    TopologyManagerPolicy,
    TopologyManagerScope,
)
from ..modeled_types.shared import (
    DNSDomain,
    Identifier,
    IntegerPercent,
    IpAddr,
    KernelCpuSetValue,
    KubernetesClusterDnsIp,
    NonNegativeInteger,
    SingleLineString,
    Url,
    ValidBase64,
    ValidLinuxHostname,
)

__all__ = ["MODEL", "NAME", "RUST_TYPES", "KubernetesSettingsV1", "NodeTaints", "StaticPod"]

NAME = "kubernetes"


def _taints_as_list(value: Any) -> Any:
    """One node-taints entry: a taint string (legacy) -> a one-element list; a list must not be empty.

    ``"gpu:NoSchedule"`` -> ``["gpu:NoSchedule"]``; ``[]`` -> "empty taint value"; a number,
    object, bool or null -> "unsupported taint value type". List elements are checked afterwards.
    """
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if not value:
            raise ValueError("empty taint value")
        return value
    raise ValueError("unsupported taint value type")


NodeTaints = dict[
    KubernetesLabelKey,
    Annotated[
        list[KubernetesTaintValue],
        BeforeValidator(_taints_as_list),
        WithJsonSchema(
            {
                "title": "KubernetesTaintValues",
                "description": "One taint 'value:effect' (stored as a one-element list) or a non-empty list of them.",
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ],
            }
        ),
    ],
]
"""``node-taints``: label key -> taints; always stored as lists."""


class StaticPod(SettingsStruct):
    """A static pod kubelet runs from a manifest (``kubernetes.static-pods.<name>``)."""

    enabled: bool | None = None
    manifest: ValidBase64 | None = None


class KubernetesSettingsV1(SettingsStruct):
    """``settings.kubernetes`` (v0.6.0): every field optional, unknown fields rejected."""

    cluster_name: KubernetesClusterName | None = None
    cluster_certificate: ValidBase64 | None = None
    api_server: Url | None = None
    node_labels: dict[KubernetesLabelKey, KubernetesLabelValue] | None = None
    node_taints: NodeTaints | None = None
    static_pods: dict[Identifier, StaticPod] | None = None
    authentication_mode: KubernetesAuthenticationMode | None = None
    bootstrap_token: KubernetesBootstrapToken | None = None
    standalone_mode: bool | None = None
    eviction_hard: dict[KubernetesEvictionKey, KubernetesThresholdValue] | None = None
    eviction_soft: dict[KubernetesEvictionKey, KubernetesThresholdValue] | None = None
    eviction_soft_grace_period: dict[KubernetesEvictionKey, KubernetesDurationValue] | None = None
    eviction_max_pod_grace_period: NonNegativeInteger | None = None
    kube_reserved: dict[KubernetesReservedResourceKey, KubernetesQuantityValue] | None = None
    system_reserved: dict[KubernetesReservedResourceKey, KubernetesQuantityValue] | None = None
    allowed_unsafe_sysctls: list[SingleLineString] | None = None
    server_tls_bootstrap: bool | None = None
    cloud_provider: KubernetesCloudProvider | None = None
    registry_qps: I32 | None = None
    registry_burst: I32 | None = None
    event_qps: I32 | None = None
    event_burst: I32 | None = None
    kube_api_qps: I32 | None = None
    kube_api_burst: I32 | None = None
    container_log_max_size: KubernetesQuantityValue | None = None
    container_log_max_files: I32 | None = None
    cpu_cfs_quota_enforced: bool | None = None
    cpu_manager_policy: CpuManagerPolicy | None = None
    cpu_manager_reconcile_period: KubernetesDurationValue | None = None
    cpu_manager_policy_options: list[KubernetesCPUManagerPolicyOption] | None = None
    topology_manager_scope: TopologyManagerScope | None = None
    topology_manager_policy: TopologyManagerPolicy | None = None
    pod_pids_limit: I64 | None = None
    image_gc_high_threshold_percent: IntegerPercent | None = None
    image_gc_low_threshold_percent: IntegerPercent | None = None
    provider_id: Url | None = None
    log_level: U8 | None = None
    credential_providers: dict[Identifier, CredentialProvider] | None = None
    server_certificate: ValidBase64 | None = None
    server_key: ValidBase64 | None = None
    shutdown_grace_period: KubernetesDurationValue | None = None
    shutdown_grace_period_for_critical_pods: KubernetesDurationValue | None = None
    memory_manager_reserved_memory: dict[Identifier, KubernetesMemoryReservation] | None = None
    memory_manager_policy: KubernetesMemoryManagerPolicy | None = None
    reserved_cpus: KernelCpuSetValue | None = None
    max_pods: U32 | None = None
    cluster_dns_ip: KubernetesClusterDnsIp | None = None
    cluster_domain: DNSDomain | None = None
    node_ip: IpAddr | None = None
    pod_infra_container_image: SingleLineString | None = None
    hostname_override: ValidLinuxHostname | None = None
    hostname_override_source: KubernetesHostnameOverrideSource | None = None
    seccomp_default: bool | None = None

    @field_validator("node_taints", mode="before")
    @classmethod
    def _node_taints_not_null(cls, value: object) -> object:
        # Upstream's custom deserializer wants a map even where other fields take null as "absent".
        if value is None:
            raise ValueError("invalid type: null, expected a map of label keys to taints")
        return value


MODEL = KubernetesSettingsV1

RUST_TYPES: dict[str, Any] = {
    "KubernetesSettingsV1": KubernetesSettingsV1,
    "StaticPod": StaticPod,
}
