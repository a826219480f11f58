"""The kubernetes, ecs, oci-defaults, nvidia-container-runtime and kubelet-device-plugins extensions
(spec §3.1, §3.2, §3) and their modeled types (§2.3, §2.4): required fields, unknown fields at each
level, normalisations, strict numbers, null handling, and the error lines a user sees."""

from __future__ import annotations

import json
import re
import time
import tomllib
from decimal import Decimal
from fractions import Fraction
from types import ModuleType
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError, create_model

from thar.models.base import SettingsStruct
from thar.models.errors import format_errors
from thar.models.modeled_types import ecs as ecs_types
from thar.models.modeled_types import kubernetes as k8s_types
from thar.models.modeled_types import oci as oci_types
from thar.models.registry import rust_types
from thar.models.settings import (
    ecs,
    extensions,
    kubelet_device_plugins,
    kubernetes,
    nvidia_container_runtime,
    oci_defaults,
)

MODULES: list[ModuleType] = [ecs, kubelet_device_plugins, kubernetes, nvidia_container_runtime, oci_defaults]

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

# A settings object holding just these five extensions, as a variant's model mounts them.
Settings: type[SettingsStruct] = create_model(  # type: ignore[call-overload]
    "Settings",
    __base__=SettingsStruct,
    **{m.NAME.replace("-", "_"): (m.MODEL | None, Field(default=None, alias=m.NAME)) for m in MODULES},
)


def parse(settings: dict[str, Any]) -> dict[str, Any]:
    """Validate a ``settings`` object and return what would be stored (the JSON form)."""
    return Settings.model_validate(settings).dump()


def errors(settings: dict[str, Any]) -> list[str]:
    """The error lines for an invalid ``settings`` object."""
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(settings)
    return format_errors(caught.value, model=Settings)


def error(settings: dict[str, Any]) -> str:
    lines = errors(settings)
    assert len(lines) == 1, lines
    return lines[0]


def k8s(**fields: Any) -> dict[str, Any]:
    """``{"kubernetes": {...}}`` with kebab-case keys: ``k8s(max_pods=1)``."""
    return {"kubernetes": {name.replace("_", "-"): value for name, value in fields.items()}}


# --- registration ---------------------------------------------------------------------------------


def test_each_extension_is_mounted_under_its_kebab_case_name() -> None:
    assert {m.NAME: m.MODEL for m in MODULES}.items() <= extensions().items()
    assert [m.NAME for m in MODULES] == [
        "ecs",
        "kubelet-device-plugins",
        "kubernetes",
        "nvidia-container-runtime",
        "oci-defaults",
    ]


def test_rust_names_of_the_cases_file_are_registered() -> None:
    names = {
        "KubernetesSettingsV1",
        "ECSSettingsV1",
        "OciDefaultsV1",
        "OciDefaultsResourceLimitV1",
        "NvidiaContainerRuntimeSettingsV1",
        "KubeletDevicePluginsV1",
        "NvidiaDevicePluginSettings",
        "CredentialProvider",
        "KubernetesMemoryReservation",
        "OciDefaultsCapability",
        "OciDefaultsResourceLimitType",
        "ECSDurationValue",
        "KubernetesThresholdValue",
    }
    assert names <= rust_types().keys()


@pytest.mark.parametrize("module", [k8s_types, ecs_types, oci_types], ids=lambda m: m.__name__)
def test_modeled_type_modules_export_what_they_register(module: ModuleType) -> None:
    assert set(module.RUST_TYPES) <= set(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name


def test_empty_objects_are_valid_for_every_extension() -> None:
    settings: dict[str, Any] = {m.NAME: {} for m in MODULES}
    assert parse(settings) == settings


def test_null_extension_is_absent() -> None:
    assert parse({"kubernetes": None, "ecs": None}) == {}


# --- kubernetes: the 53 fields ----------------------------------------------------------------------

# The spec's table (§3.1), one word per field.
KUBERNETES_FIELDS = """
cluster-name cluster-certificate api-server node-labels node-taints static-pods authentication-mode
bootstrap-token standalone-mode eviction-hard eviction-soft eviction-soft-grace-period
eviction-max-pod-grace-period kube-reserved system-reserved allowed-unsafe-sysctls server-tls-bootstrap
cloud-provider registry-qps registry-burst event-qps event-burst kube-api-qps kube-api-burst
container-log-max-size container-log-max-files cpu-cfs-quota-enforced cpu-manager-policy
cpu-manager-reconcile-period cpu-manager-policy-options topology-manager-scope topology-manager-policy
pod-pids-limit image-gc-high-threshold-percent image-gc-low-threshold-percent provider-id log-level
credential-providers server-certificate server-key shutdown-grace-period
shutdown-grace-period-for-critical-pods memory-manager-reserved-memory memory-manager-policy reserved-cpus
max-pods cluster-dns-ip cluster-domain node-ip pod-infra-container-image hostname-override
hostname-override-source seccomp-default
""".split()  # noqa: SIM905

FULL_KUBERNETES: dict[str, Any] = {
    "cluster-name": "my.cluster-1",
    "cluster-certificate": "aGk=",
    "api-server": "https://example.com",
    "node-labels": {"example.com/role": "web", "tier": ""},
    "node-taints": {"dedicated": "gpu:NoSchedule", "example.com/spot": ["true:NoExecute", ":PreferNoSchedule"]},
    "static-pods": {"my-pod": {"enabled": True, "manifest": "aGk="}},
    "authentication-mode": "tls",
    "bootstrap-token": "abcdef.0123456789abcdef",
    "standalone-mode": False,
    "eviction-hard": {"memory.available": "15%", "nodefs.available": "10Gi"},
    "eviction-soft": {"nodefs.inodesFree": "5%"},
    "eviction-soft-grace-period": {"nodefs.inodesFree": "1m30s"},
    "eviction-max-pod-grace-period": 30,
    "kube-reserved": {"cpu": "100m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
    "system-reserved": {"memory": "512Mi"},
    "allowed-unsafe-sysctls": ["net.core.somaxconn", "net.ipv4.*"],
    "server-tls-bootstrap": True,
    "cloud-provider": "",
    "registry-qps": 5,
    "registry-burst": 10,
    "event-qps": 5,
    "event-burst": 10,
    "kube-api-qps": 5,
    "kube-api-burst": 10,
    "container-log-max-size": "10Mi",
    "container-log-max-files": 5,
    "cpu-cfs-quota-enforced": True,
    "cpu-manager-policy": "static",
    "cpu-manager-reconcile-period": "10s",
    "cpu-manager-policy-options": ["full-pcpus-only"],
    "topology-manager-scope": "pod",
    "topology-manager-policy": "best-effort",
    "pod-pids-limit": 1048576,
    "image-gc-high-threshold-percent": "85",
    "image-gc-low-threshold-percent": 80,
    "provider-id": "aws:///us-west-2a/i-0123",
    "log-level": 2,
    "credential-providers": {
        "ecr-credential-provider": {
            "enabled": True,
            "image-patterns": ["*.dkr.ecr.*.amazonaws.com"],
            "cache-duration": "12h",
            "environment": {"AWS_PROFILE": "default"},
        }
    },
    "server-certificate": "aGk=",
    "server-key": "aGk=",
    "shutdown-grace-period": "30s",
    "shutdown-grace-period-for-critical-pods": "10s",
    "memory-manager-reserved-memory": {"0": {"enabled": True, "memory": "1Gi", "hugepages-2Mi": "64Mi"}},
    "memory-manager-policy": "static",
    "reserved-cpus": "0-1,3",
    "max-pods": 110,
    "cluster-dns-ip": ["10.100.0.10", "0000:0000:0000:0000:0000:0000:0000:0001"],
    "cluster-domain": "cluster.local",
    "node-ip": "192.168.1.10",
    "pod-infra-container-image": "registry.k8s.io/pause:3.9",
    "hostname-override": "ip-192-168-1-10.ec2.internal",
    "hostname-override-source": "private-dns-name",
    "seccomp-default": True,
}


def test_kubernetes_has_exactly_the_53_fields_of_the_spec() -> None:
    aliases = [field.alias or name for name, field in kubernetes.KubernetesSettingsV1.model_fields.items()]
    assert len(aliases) == 53
    assert sorted(aliases) == sorted(KUBERNETES_FIELDS)
    assert sorted(FULL_KUBERNETES) == sorted(KUBERNETES_FIELDS)


def test_every_kubernetes_field_is_optional() -> None:
    assert all(not field.is_required() for field in kubernetes.KubernetesSettingsV1.model_fields.values())
    assert parse({"kubernetes": {}}) == {"kubernetes": {}}


def test_full_kubernetes_object_is_stored_with_its_normalisations() -> None:
    stored = parse({"kubernetes": FULL_KUBERNETES})["kubernetes"]
    expected = dict(FULL_KUBERNETES)
    expected["node-taints"] = {
        "dedicated": ["gpu:NoSchedule"],
        "example.com/spot": ["true:NoExecute", ":PreferNoSchedule"],
    }
    expected["cloud-provider"] = '""'
    expected["memory-manager-policy"] = "Static"
    expected["cluster-dns-ip"] = ["10.100.0.10", "::1"]
    assert stored == expected
    # what was stored is accepted again unchanged
    assert parse({"kubernetes": stored})["kubernetes"] == stored


def test_kubernetes_toml_document_from_user_data_validates() -> None:
    document = tomllib.loads(
        """
        [settings.kubernetes]
        cluster-name = "prod"
        api-server = "https://ABC.gr7.us-west-2.eks.amazonaws.com"
        max-pods = 58
        [settings.kubernetes.node-labels]
        "example.com/team" = "blue"
        [settings.kubernetes.node-taints]
        "dedicated" = "experimental:PreferNoSchedule"
        [settings.kubernetes.eviction-hard]
        "memory.available" = "10%"
        """
    )
    assert parse(document["settings"])["kubernetes"] == {
        "cluster-name": "prod",
        "api-server": "https://ABC.gr7.us-west-2.eks.amazonaws.com",
        "max-pods": 58,
        "node-labels": {"example.com/team": "blue"},
        "node-taints": {"dedicated": ["experimental:PreferNoSchedule"]},
        "eviction-hard": {"memory.available": "10%"},
    }


def test_null_kubernetes_field_is_absent() -> None:
    assert parse(k8s(cluster_name=None, max_pods=None, node_labels=None)) == {"kubernetes": {}}


# --- kubernetes: unknown fields at each level --------------------------------------------------------


def test_unknown_kubernetes_field_is_rejected_and_the_nearest_name_suggested() -> None:
    line = error(k8s(max_pod=5))
    assert line == "settings.kubernetes.max-pod: unknown field; did you mean settings.kubernetes.max-pods?"


def test_unknown_extension_is_rejected() -> None:
    assert error({"kubernetess": {}}).startswith("settings.kubernetess: unknown field")


def test_unknown_static_pod_field_is_rejected() -> None:
    assert error(k8s(static_pods={"p": {"enabled": True, "image": "x"}})) == (
        "settings.kubernetes.static-pods.p.image: unknown field (allowed: enabled, manifest)"
    )


def test_unknown_memory_reservation_key_is_rejected() -> None:
    # every key beside "enabled" must be a KubernetesMemoryReservationKey
    assert error(k8s(memory_manager_reserved_memory={"0": {"enabled": True, "cpu": "1"}})) == (
        "settings.kubernetes.memory-manager-reserved-memory.0.cpu: "
        "unknown field (allowed: enabled, hugepages-1Gi, hugepages-2Mi, memory)"
    )


def test_unknown_credential_provider_fields_are_ignored() -> None:
    provider = {"enabled": True, "image-patterns": ["*.example.com"], "api-version": "v1", "extra": {"a": 1}}
    stored = parse(k8s(credential_providers={"my-provider": provider}))
    assert stored["kubernetes"]["credential-providers"] == {
        "my-provider": {"enabled": True, "image-patterns": ["*.example.com"]}
    }


# --- kubernetes: required fields inside maps ----------------------------------------------------------


@pytest.mark.parametrize("missing", ["enabled", "image-patterns"])
def test_credential_provider_requires_enabled_and_image_patterns(missing: str) -> None:
    provider: dict[str, Any] = {"enabled": False, "image-patterns": []}
    del provider[missing]
    assert error(k8s(credential_providers={"ecr": provider})) == (
        f"settings.kubernetes.credential-providers.ecr.{missing}: required field missing"
    )


def test_credential_provider_checks_its_known_fields() -> None:
    provider = {"enabled": "yes", "image-patterns": ["a\nb"], "cache-duration": "12", "environment": {"A": None}}
    lines = errors(k8s(credential_providers={"ecr": provider}))
    assert [line.split(" = ")[0] for line in lines] == [
        "settings.kubernetes.credential-providers.ecr.enabled",
        "settings.kubernetes.credential-providers.ecr.image-patterns[0]",
        "settings.kubernetes.credential-providers.ecr.cache-duration",
        "settings.kubernetes.credential-providers.ecr.environment.A",
    ]


def test_memory_reservation_requires_enabled() -> None:
    assert error(k8s(memory_manager_reserved_memory={"0": {"memory": "1Gi"}})) == (
        "settings.kubernetes.memory-manager-reserved-memory.0.enabled: required field missing"
    )


def test_memory_reservation_keys_sit_beside_enabled() -> None:
    reservation = {"enabled": False, "memory": "1Gi", "hugepages-2Mi": "2Mi", "hugepages-1Gi": "0"}
    stored = parse(k8s(memory_manager_reserved_memory={"node0": reservation}))
    assert stored["kubernetes"]["memory-manager-reserved-memory"] == {"node0": reservation}
    assert parse(k8s(memory_manager_reserved_memory={"n": {"enabled": True}}))["kubernetes"] == {
        "memory-manager-reserved-memory": {"n": {"enabled": True}}
    }


def test_memory_reservation_value_must_be_a_quantity_and_not_null() -> None:
    lines = errors(k8s(memory_manager_reserved_memory={"0": {"enabled": True, "memory": None, "hugepages-1Gi": "1x"}}))
    assert lines == [
        "settings.kubernetes.memory-manager-reserved-memory.0.memory = null: "
        "invalid type: null, expected a KubernetesQuantityValue string",
        'settings.kubernetes.memory-manager-reserved-memory.0.hugepages-1Gi = "1x": '
        "Unable to deserialize into KubernetesQuantityValue: Kubernetes quantity must match "
        "'^([+-]?[0-9.]+)((e)?[0-9]*)$|^([+-]?[0-9.]+)((E|P|T|G|M|K)i?)?$|^([+-]?[0-9.]+)(n|u|m|k)?$', given: 1x",
    ]


def test_static_pod_fields_are_optional() -> None:
    assert parse(k8s(static_pods={"p": {}})) == {"kubernetes": {"static-pods": {"p": {}}}}


# --- kubernetes: node-taints ---------------------------------------------------------------------------


def test_single_taint_string_is_stored_as_a_one_element_list() -> None:
    stored = parse(k8s(node_taints={"key1": "value1:NoSchedule", "key2": ["a:NoExecute", "b:NoSchedule"]}))
    assert stored["kubernetes"]["node-taints"] == {
        "key1": ["value1:NoSchedule"],
        "key2": ["a:NoExecute", "b:NoSchedule"],
    }


def test_empty_taint_list_is_rejected() -> None:
    assert error(k8s(node_taints={"example.com/dedicated": []})) == (
        'settings.kubernetes.node-taints."example.com/dedicated" = []: empty taint value'
    )


@pytest.mark.parametrize("value", [5, True, {"a": "b:C"}, None], ids=["number", "bool", "object", "null"])
def test_taint_of_another_type_is_rejected(value: Any) -> None:
    assert error(k8s(node_taints={"dedicated": value})) == (
        f"settings.kubernetes.node-taints.dedicated = {json.dumps(value)}: unsupported taint value type"
    )


def test_null_node_taints_is_rejected_unlike_other_fields() -> None:
    assert error(k8s(node_taints=None)) == (
        "settings.kubernetes.node-taints = null: invalid type: null, expected a map of label keys to taints"
    )


def test_node_taints_must_be_an_object() -> None:
    assert error(k8s(node_taints=["a:NoSchedule"])).startswith(
        'settings.kubernetes.node-taints = ["a:NoSchedule"]: must be an object'
    )


def test_invalid_taint_in_a_list_names_its_index() -> None:
    assert errors(k8s(node_taints={"k": ["ok:NoSchedule", "-a:NoSchedule", None]})) == [
        'settings.kubernetes.node-taints.k[1] = "-a:NoSchedule": Unable to deserialize into KubernetesTaintValue: '
        "Kubernetes taint value given invalid input: -a:NoSchedule",
        "settings.kubernetes.node-taints.k[2] = null: must be a string (no conversion from other types)",
    ]


def test_invalid_taint_key_is_reported_as_a_map_key() -> None:
    assert error(k8s(node_taints={".bad": "a:NoSchedule"})) == (
        'settings.kubernetes.node-taints.".bad" (map key) = ".bad": '
        "Unable to deserialize into KubernetesLabelKey: Kubernetes label key given invalid input: .bad"
    )


def test_node_taints_from_toml_cases() -> None:
    table = tomllib.loads('[node-taints]\n"key1" = "value1:NoSchedule"\n"key2" = ["value2:NoExecute"]\n')
    assert kubernetes.KubernetesSettingsV1.model_validate(table).dump() == {
        "node-taints": {"key1": ["value1:NoSchedule"], "key2": ["value2:NoExecute"]}
    }


# --- kubernetes: normalisations --------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "stored"), [("", '""'), ('""', '""'), ("aws", "aws"), ("external", "external")])
def test_cloud_provider_empty_is_stored_as_two_double_quotes(given: str, stored: str) -> None:
    assert parse(k8s(cloud_provider=given)) == {"kubernetes": {"cloud-provider": stored}}


def test_unknown_cloud_provider_is_rejected_with_bottlerocket_wording() -> None:
    assert error(k8s(cloud_provider="internal")) == (
        'settings.kubernetes.cloud-provider = "internal": '
        "Unable to deserialize into KubernetesCloudProvider: Invalid Kubernetes cloud provider 'internal'"
    )


@pytest.mark.parametrize(
    ("given", "stored"), [("static", "Static"), ("Static", "Static"), ("none", "None"), ("None", "None")]
)
def test_memory_manager_policy_is_stored_as_the_variant_name(given: str, stored: str) -> None:
    assert parse(k8s(memory_manager_policy=given)) == {"kubernetes": {"memory-manager-policy": stored}}


@pytest.mark.parametrize("given", ["static", "Static", "none", "None"])
def test_cpu_manager_policy_keeps_the_original_text(given: str) -> None:
    assert parse(k8s(cpu_manager_policy=given)) == {"kubernetes": {"cpu-manager-policy": given}}


@pytest.mark.parametrize(
    ("given", "stored"),
    [(85, 85), ("85", "85"), ("+5", "5"), ("-0", "0"), (0, 0), (100, 100), ("100", "100"), ("007", "7")],
)
def test_integer_percent_keeps_its_kind(given: int | str, stored: int | str) -> None:
    stored_settings = parse(k8s(image_gc_high_threshold_percent=given))
    assert stored_settings["kubernetes"]["image-gc-high-threshold-percent"] == stored
    assert type(stored_settings["kubernetes"]["image-gc-high-threshold-percent"]) is type(stored)


@pytest.mark.parametrize("given", [101, -1, "101", "4.5", 42.0, " 4", "", True, [5]])
def test_integer_percent_rejects_out_of_range_and_non_integers(given: Any) -> None:
    line = error(k8s(image_gc_low_threshold_percent=given))
    assert line.startswith(f"settings.kubernetes.image-gc-low-threshold-percent = {json.dumps(given)}: ")
    assert "IntegerPercent" in line


def test_cluster_dns_ip_keeps_its_shape() -> None:
    assert parse(k8s(cluster_dns_ip="10.100.0.10")) == {"kubernetes": {"cluster-dns-ip": "10.100.0.10"}}
    assert parse(k8s(cluster_dns_ip=[])) == {"kubernetes": {"cluster-dns-ip": []}}


# --- kubernetes: strict numbers, booleans and strings ---------------------------------------------------

INTEGER_FIELDS: list[tuple[str, int, int]] = [
    *((name, I32_MIN, I32_MAX) for name in ("registry-qps", "registry-burst", "event-qps", "event-burst")),
    *((name, I32_MIN, I32_MAX) for name in ("kube-api-qps", "kube-api-burst", "container-log-max-files")),
    ("pod-pids-limit", I64_MIN, I64_MAX),
    ("log-level", 0, 255),
    ("max-pods", 0, 2**32 - 1),
    ("eviction-max-pod-grace-period", 0, I32_MAX),
]


@pytest.mark.parametrize(("name", "low", "high"), INTEGER_FIELDS, ids=[f[0] for f in INTEGER_FIELDS])
def test_kubernetes_integer_fields_accept_their_whole_range(name: str, low: int, high: int) -> None:
    for value in (low, high):
        assert parse({"kubernetes": {name: value}}) == {"kubernetes": {name: value}}


@pytest.mark.parametrize(("name", "low", "high"), INTEGER_FIELDS, ids=[f[0] for f in INTEGER_FIELDS])
def test_kubernetes_integer_fields_reject_values_out_of_range(name: str, low: int, high: int) -> None:
    for value in (low - 1, high + 1):
        line = error({"kubernetes": {name: value}})
        assert line.startswith(f"settings.kubernetes.{name} = {value}: "), line
        assert str(low if value < low else high) in line.split(": ", 1)[1], line


@pytest.mark.parametrize(("name", "low", "high"), INTEGER_FIELDS, ids=[f[0] for f in INTEGER_FIELDS])
@pytest.mark.parametrize("value", [5.0, "5", True, [5]], ids=["float", "string", "bool", "list"])
def test_kubernetes_integer_fields_take_only_json_integers(name: str, low: int, high: int, value: Any) -> None:
    line = error({"kubernetes": {name: value}})
    assert line.startswith(f"settings.kubernetes.{name} = {json.dumps(value)}: ")


def test_max_pods_error_names_the_setting_the_value_and_the_range() -> None:
    line = error(k8s(max_pods=-1))
    assert line.startswith("settings.kubernetes.max-pods = -1: ")
    assert re.search(r"\b0\b", line.split(": ", 1)[1])


BOOL_FIELDS = ["standalone-mode", "server-tls-bootstrap", "cpu-cfs-quota-enforced", "seccomp-default"]


@pytest.mark.parametrize("name", BOOL_FIELDS)
@pytest.mark.parametrize("value", [1, "true", 0.0])
def test_kubernetes_booleans_take_only_true_or_false(name: str, value: Any) -> None:
    assert error({"kubernetes": {name: value}}) == (
        f"settings.kubernetes.{name} = {json.dumps(value)}: must be true or false (no conversion from other types)"
    )


@pytest.mark.parametrize("name", ["cluster-name", "pod-infra-container-image", "reserved-cpus", "node-ip"])
def test_kubernetes_strings_are_not_converted_from_numbers(name: str) -> None:
    assert error({"kubernetes": {name: 1}}) == (
        f"settings.kubernetes.{name} = 1: must be a string (no conversion from other types)"
    )


def test_maps_reject_null_values_and_lists_reject_null_elements() -> None:
    lines = errors(
        k8s(
            node_labels={"a": None},
            eviction_hard={"memory.available": None},
            kube_reserved={"cpu": None},
            static_pods={"p": None},
            allowed_unsafe_sysctls=["a", None],
            cpu_manager_policy_options=[None],
            credential_providers={"ecr": None},
        )
    )
    assert sorted(line.split(" = ")[0] for line in lines) == [
        "settings.kubernetes.allowed-unsafe-sysctls[1]",
        "settings.kubernetes.cpu-manager-policy-options[0]",
        "settings.kubernetes.credential-providers.ecr",
        'settings.kubernetes.eviction-hard."memory.available"',
        "settings.kubernetes.kube-reserved.cpu",
        "settings.kubernetes.node-labels.a",
        "settings.kubernetes.static-pods.p",
    ]
    assert all(line.split(" = ", 1)[1].startswith("null: ") for line in lines)


def test_map_keys_are_validated_by_their_type() -> None:
    lines = errors(
        k8s(
            eviction_hard={"storage.available": "1Gi"},
            kube_reserved={"gpu": "1"},
            static_pods={"my_pod": {}},
            node_labels={"bad key": "v"},
        )
    )
    assert [line.split(" = ")[0] for line in lines] == [
        'settings.kubernetes.node-labels."bad key" (map key)',
        "settings.kubernetes.static-pods.my_pod (map key)",
        'settings.kubernetes.eviction-hard."storage.available" (map key)',
        "settings.kubernetes.kube-reserved.gpu (map key)",
    ]
    assert lines[2].endswith(
        "unknown variant `storage.available`, expected one of `memory.available`, `nodefs.available`, "
        "`nodefs.inodesFree`, `imagefs.available`, `imagefs.inodesFree`, `pid.available`"
    )
    assert lines[3].endswith(
        "Unable to deserialize into KubernetesReservedResourceKey: Invalid input for field Reserved sources key: "
        "unknown variant `gpu`, expected one of `cpu`, `memory`, `ephemeral-storage`"
    )


def test_cluster_name_is_the_v0_6_0_label_value_rule() -> None:
    # dots allowed and at most 63 chars (later versions: EKS names, no dots, up to 100)
    assert parse(k8s(cluster_name="more-chars_here.now")) == {"kubernetes": {"cluster-name": "more-chars_here.now"}}
    assert error(k8s(cluster_name="")) == (
        'settings.kubernetes.cluster-name = "": '
        "Unable to deserialize into KubernetesClusterName: Given invalid cluster name '': must not be empty"
    )
    assert error(k8s(cluster_name="trailing-dash-")) == (
        'settings.kubernetes.cluster-name = "trailing-dash-": Unable to deserialize into KubernetesClusterName: '
        "Given invalid cluster name 'trailing-dash-': cluster names must be valid Kubernetes label values"
    )
    assert error(k8s(cluster_name="a" * 64)).startswith("settings.kubernetes.cluster-name = ")


def test_eviction_threshold_error_names_the_entry() -> None:
    assert error(k8s(eviction_hard={"memory.available": "100%"})) == (
        'settings.kubernetes.eviction-hard."memory.available" = "100%": '
        "Unable to deserialize into KubernetesThresholdValue: Invalid Kubernetes threshold percentage value '100%'"
    )
    assert error(k8s(eviction_soft={"pid.available": "1 %"})) == (
        'settings.kubernetes.eviction-soft."pid.available" = "1 %": '
        "Unable to deserialize into KubernetesThresholdValue: Invalid percentage value '1 %'"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "bootstrap-token",
            "secret",
            "KubernetesBootstrapToken: Kubernetes bootstrap token must match '^[a-z0-9]{6}\\.[a-z0-9]{16}$', "
            "given: secret",
        ),
        (
            "authentication-mode",
            "anonymous",
            "KubernetesAuthenticationMode: Invalid Kubernetes authentication mode 'anonymous'",
        ),
        ("topology-manager-scope", "node", "TopologyManagerScope: Invalid topology manager scope 'node'"),
        ("topology-manager-policy", "strict", "TopologyManagerPolicy: Invalid topology manager policy 'strict'"),
        ("cpu-manager-policy", "dynamic", "CpuManagerPolicy: Invalid Cpu Manager policy 'dynamic'"),
        ("shutdown-grace-period", "30", "KubernetesDurationValue: Invalid Kubernetes duration value '30'"),
    ],
)
def test_validated_string_errors_use_bottlerocket_wording(name: str, value: str, message: str) -> None:
    assert error({"kubernetes": {name: value}}) == (
        f'settings.kubernetes.{name} = "{value}": Unable to deserialize into {message}'
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hostname-override-source", "hostname"),
        ("memory-manager-policy", "dynamic"),
        ("cpu-manager-policy-options", ["align-by-socket"]),
    ],
)
def test_enum_errors_use_serde_wording(name: str, value: Any) -> None:
    assert "unknown variant `" in error({"kubernetes": {name: value}})


# --- kubernetes modeled types beyond the conformance cases -------------------------------------------------


def adapter(rust_name: str) -> TypeAdapter[Any]:
    return TypeAdapter(rust_types()[rust_name])


def accepts(rust_name: str, value: Any) -> bool:
    try:
        adapter(rust_name).validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("0%", True),
        ("-0%", True),
        ("-0.0e5%", True),
        ("99.99999%", True),
        ("5.%", True),
        (".5%", True),
        ("+5%", True),
        ("1E1%", True),
        ("-1e-46%", True),  # rounds to -0.0, and -0.0 >= 0.0
        ("99.99999618530273%", True),  # below the midpoint 100 - 2**-18: f32 rounds down
        ("99.999996185302734375%", False),  # the midpoint itself: ties to even = 100.0
        ("99.999997%", False),  # rounds up to 100.0
        ("-1e-45%", False),  # rounds to the smallest negative subnormal
        ("inf%", False),
        ("Infinity%", False),
        ("NaN%", False),
        ("1e999999999999999999%", False),
        ("1e-999999999999999999%", True),
        ("1_0%", False),
        (" 5%", False),
        ("5 %", False),
        (".%", False),
        ("1e%", False),
        ("0x10%", False),
        ("5%%", False),
    ],
)
def test_threshold_percentage_is_read_as_rust_f32(text: str, valid: bool) -> None:
    assert accepts("KubernetesThresholdValue", text) is valid


def f32_round(value: Fraction) -> Fraction:
    """Round to the nearest IEEE 754 binary32 value (ties to even); overflow -> a value > 100."""
    if value == 0:
        return value
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    exponent = max(magnitude.numerator.bit_length() - magnitude.denominator.bit_length(), -126)
    while Fraction(2) ** exponent > magnitude:
        exponent -= 1
    while Fraction(2) ** (exponent + 1) <= magnitude:
        exponent += 1
    ulp = Fraction(2) ** (max(exponent, -126) - 23)
    quotient = magnitude / ulp
    rounded = round(quotient)  # Python rounds halves to even
    return sign * rounded * ulp


@given(
    st.one_of(
        st.decimals(min_value=Decimal(-1), max_value=Decimal(101), allow_nan=False, places=25),
        st.decimals(min_value=Decimal("99.9999"), max_value=Decimal("100.0001"), allow_nan=False, places=30),
        st.decimals(min_value=Decimal("-1e-40"), max_value=Decimal("1e-40"), allow_nan=False, places=60),
    )
)
@example(Decimal("99.999996185302734375"))
@example(Decimal("99.999996185302734374999"))
@example(Decimal(f"-{5**150}E-150"))  # exactly -2**-150: ties to -0.0
@example(Decimal(f"-{5**150 + 1}E-150"))
def test_threshold_percentage_matches_exact_f32_rounding(number: Decimal) -> None:
    text = f"{number:f}"
    value = f32_round(Fraction(number))
    expected = 0 <= value < 100  # -0.0 compares equal to 0
    assert accepts("KubernetesThresholdValue", text + "%") is expected


@pytest.mark.parametrize(
    ("rust_name", "text"),
    [
        ("KubernetesQuantityValue", "1" * 100_000 + "x"),
        ("KubernetesQuantityValue", "1." * 50_000 + "Kix"),
        ("KubernetesThresholdValue", "9" * 100_000 + "%"),
        ("KubernetesThresholdValue", "0." + "0" * 100_000 + "1%"),
        ("KubernetesDurationValue", "1" * 100_000 + "x"),
        ("KubernetesDurationValue", "1.1" * 30_000 + "h"),
        ("KubernetesLabelKey", "a" * 100_000),
        ("KubernetesTaintValue", "a" * 100_000 + ":"),
        ("ECSDurationValue", "1" * 100_000 + "x"),
        ("ECSAttributeValue", "a " * 50_000),
    ],
)
def test_long_inputs_are_checked_quickly(rust_name: str, text: str) -> None:
    start = time.perf_counter()
    accepts(rust_name, text)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("text", "valid"),
    [("1e", True), (".", True), ("-1", True), ("+1.5Ei", True), ("5u", True), ("5Ki", True), ("5ki", False)],
)
def test_quantity_keeps_upstreams_permissive_pattern(text: str, valid: bool) -> None:
    assert accepts("KubernetesQuantityValue", text) is valid


@pytest.mark.parametrize("text", ["\u00dcber:NoSchedule", "a:NoSchedule\n", "a:No\u0660"])
def test_taint_value_is_ascii_only_and_fully_anchored(text: str) -> None:
    assert not accepts("KubernetesTaintValue", text)


def test_label_key_prefix_is_not_otherwise_checked() -> None:
    assert accepts("KubernetesLabelKey", ".-/name")
    assert accepts("KubernetesLabelKey", "a" * 253 + "/" + "b" * 63)
    assert not accepts("KubernetesLabelKey", "a" * 253 + "/" + "b" * 64)
    assert not accepts("KubernetesLabelKey", "a/b/c")


def test_modeled_strings_reject_non_strings() -> None:
    for rust_name in ("KubernetesLabelKey", "KubernetesCloudProvider", "KubernetesEvictionKey", "ECSAttributeKey"):
        assert not accepts(rust_name, 5)
        assert not accepts(rust_name, None)


# --- ecs --------------------------------------------------------------------------------------------------

FULL_ECS: dict[str, Any] = {
    "cluster": "arn:aws:ecs:us-west-2:123:cluster/My Cluster",
    "instance-attributes": {"attribute1": "value1", "have.period/slash": "with spaces in between"},
    "allow-privileged-containers": True,
    "logging-drivers": ["json-file", "awslogs", "none"],
    "loglevel": "crit",
    "enable-spot-instance-draining": True,
    "image-pull-behavior": "prefer-cached",
    "container-stop-timeout": "30s",
    "task-cleanup-wait": "1h",
    "metadata-service-rps": 50,
    "metadata-service-burst": 100,
    "reserved-memory": 512,
    "image-cleanup-wait": "1.5h3.5m",
    "image-cleanup-delete-per-cycle": 2,
    "image-cleanup-enabled": True,
    "image-cleanup-age": "1ms1\u00b5s1ns",
    "backend-host": "",
    "awsvpc-block-imds": True,
    "enable-container-metadata": True,
}


def test_ecs_has_the_19_fields_of_the_spec_and_stores_them_unchanged() -> None:
    assert len(ecs.ECSSettingsV1.model_fields) == 19
    assert parse({"ecs": FULL_ECS}) == {"ecs": FULL_ECS}


def test_ecs_cluster_takes_any_string_but_a_control_character() -> None:
    """Upstream takes any JSON string; thar refuses control characters (ECS_CLUSTER is an env line)."""
    assert parse({"ecs": {"cluster": 'My Cluster ☃ "x"'}}) == {"ecs": {"cluster": 'My Cluster ☃ "x"'}}
    assert error({"ecs": {"cluster": "c\nECS_LOGLEVEL=debug"}}).startswith(
        'settings.ecs.cluster = "c\\nECS_LOGLEVEL=debug": U+000A (line feed) is a control character'
    )


def test_unknown_ecs_field_is_rejected() -> None:
    assert (
        error({"ecs": {"log-level": "info"}})
        == "settings.ecs.log-level: unknown field; did you mean settings.ecs.loglevel?"
    )


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("metadata-service-rps", I64_MIN, I64_MAX),
        ("metadata-service-burst", I64_MIN, I64_MAX),
        ("image-cleanup-delete-per-cycle", I64_MIN, I64_MAX),
        ("reserved-memory", 0, 65535),
    ],
)
def test_ecs_integer_ranges(name: str, low: int, high: int) -> None:
    assert parse({"ecs": {name: low}}) == {"ecs": {name: low}}
    assert parse({"ecs": {name: high}}) == {"ecs": {name: high}}
    for value in (low - 1, high + 1, 1.0, "1"):
        assert error({"ecs": {name: value}}).startswith(f"settings.ecs.{name} = {json.dumps(value)}: ")


def test_ecs_plain_strings_are_strict() -> None:
    assert (
        error({"ecs": {"cluster": 5}}) == "settings.ecs.cluster = 5: must be a string (no conversion from other types)"
    )


def test_ecs_attribute_and_duration_errors() -> None:
    lines = errors({"ecs": {"instance-attributes": {"a": " leading", "b@": "x"}, "task-cleanup-wait": "1y"}})
    assert sorted(lines) == sorted(
        [
            'settings.ecs.instance-attributes.b@ (map key) = "b@": '
            "Unable to deserialize into ECSAttributeKey: ECS attribute key given invalid input: b@",
            'settings.ecs.instance-attributes.a = " leading": '
            "Unable to deserialize into ECSAttributeValue: ECS attribute value given invalid input:  leading",
            'settings.ecs.task-cleanup-wait = "1y": '
            "Unable to deserialize into ECSDurationValue: Invalid ECS duration value '1y'",
        ]
    )


def test_ecs_enums_and_null_list_elements() -> None:
    lines = errors({"ecs": {"loglevel": "warning", "image-pull-behavior": "never", "logging-drivers": [None]}})
    assert lines == [
        "settings.ecs.logging-drivers[0] = null: must be a string (no conversion from other types)",
        'settings.ecs.loglevel = "warning": unknown variant `warning`, expected one of '
        "`debug`, `info`, `warn`, `error`, `crit`",
        'settings.ecs.image-pull-behavior = "never": unknown variant `never`, expected one of '
        "`default`, `always`, `once`, `prefer-cached`",
    ]


# --- oci-defaults -------------------------------------------------------------------------------------------


def test_oci_defaults_round_trip_with_unlimited_stored_as_minus_one() -> None:
    given = {
        "capabilities": {"net-bind-service": True, "sys-admin": False},
        "resource-limits": {
            "max-open-files": {"hard-limit": 1048576, "soft-limit": 65536},
            "max-locked-memory": {"hard-limit": "unlimited", "soft-limit": -1},
        },
    }
    stored = parse({"oci-defaults": given})["oci-defaults"]
    assert stored["capabilities"] == given["capabilities"]
    assert stored["resource-limits"]["max-locked-memory"] == {"hard-limit": -1, "soft-limit": -1}
    assert stored["resource-limits"]["max-open-files"] == {"hard-limit": 1048576, "soft-limit": 65536}


@pytest.mark.parametrize("value", [-1, 0, 1, I64_MAX, "unlimited"])
def test_resource_limit_accepts_minus_one_to_i64_max_or_unlimited(value: int | str) -> None:
    limit = {"hard-limit": value, "soft-limit": 0}
    stored = parse({"oci-defaults": {"resource-limits": {"max-processes": limit}}})
    assert stored["oci-defaults"]["resource-limits"]["max-processes"]["hard-limit"] == (
        -1 if value == "unlimited" else value
    )


@pytest.mark.parametrize("value", [-2, I64_MAX + 1, I64_MIN, "abc", "100", "Unlimited", "-1", 5.0, True, None, [1]])
def test_resource_limit_rejects_everything_else(value: Any) -> None:
    line = error({"oci-defaults": {"resource-limits": {"max-processes": {"hard-limit": value, "soft-limit": 0}}}})
    assert line.startswith(f"settings.oci-defaults.resource-limits.max-processes.hard-limit = {json.dumps(value)}: ")
    assert f"expected -1 to {I64_MAX}" in line or f"from -1 to {I64_MAX}" in line


def test_resource_limit_error_pins_bottlerocket_wording() -> None:
    assert error({"oci-defaults": {"resource-limits": {"max-stack-size": {"hard-limit": -2, "soft-limit": 0}}}}) == (
        "settings.oci-defaults.resource-limits.max-stack-size.hard-limit = -2: "
        'Invalid rlimit -2, expected -1 to 9223372036854775807 or "unlimited"'
    )


@pytest.mark.parametrize("missing", ["hard-limit", "soft-limit"])
def test_resource_limit_requires_both_limits(missing: str) -> None:
    limit = {"hard-limit": 1, "soft-limit": 1}
    del limit[missing]
    assert error({"oci-defaults": {"resource-limits": {"max-cpu-time": limit}}}) == (
        f"settings.oci-defaults.resource-limits.max-cpu-time.{missing}: required field missing"
    )


def test_resource_limit_rejects_unknown_fields_and_hard_below_soft_is_not_checked() -> None:
    assert error(
        {"oci-defaults": {"resource-limits": {"max-cpu-time": {"hard-limit": 1, "soft-limit": 1, "limit": 1}}}}
    ) == ("settings.oci-defaults.resource-limits.max-cpu-time.limit: unknown field (allowed: hard-limit, soft-limit)")
    assert parse({"oci-defaults": {"resource-limits": {"max-cpu-time": {"hard-limit": 1, "soft-limit": 5}}}})


def test_oci_defaults_keys_and_values() -> None:
    lines = errors(
        {
            "oci-defaults": {
                "capabilities": {"CAP_CHOWN": True, "chown": None, "kill": "true"},
                "resource-limits": {"nofile": {"hard-limit": 1, "soft-limit": 1}},
                "seccomp": {},
            }
        }
    )
    assert sorted(line.split(": ")[0] for line in lines) == [
        'settings.oci-defaults.capabilities.CAP_CHOWN (map key) = "CAP_CHOWN"',
        "settings.oci-defaults.capabilities.chown = null",
        'settings.oci-defaults.capabilities.kill = "true"',
        'settings.oci-defaults.resource-limits.nofile (map key) = "nofile"',
        "settings.oci-defaults.seccomp",
    ]
    assert "settings.oci-defaults.seccomp: unknown field (allowed: capabilities, resource-limits)" in lines
    assert any("unknown variant `CAP_CHOWN`, expected one of `audit-control`, `audit-read`," in line for line in lines)
    assert any("unknown variant `nofile`, expected one of `max-address-space`," in line for line in lines)


def test_oci_linux_names() -> None:
    assert len(oci_types.LINUX_CAPABILITIES) == 41
    assert oci_types.LINUX_CAPABILITIES["net-bind-service"] == "CAP_NET_BIND_SERVICE"
    assert oci_types.LINUX_CAPABILITIES["sys-tty-config"] == "CAP_SYS_TTY_CONFIG"
    assert len(oci_types.LINUX_RESOURCE_LIMITS) == 16
    assert oci_types.LINUX_RESOURCE_LIMITS["max-open-files"] == "RLIMIT_NOFILE"
    every_capability = dict.fromkeys(oci_types.LINUX_CAPABILITIES, True)
    assert (
        parse({"oci-defaults": {"capabilities": every_capability}})["oci-defaults"]["capabilities"] == every_capability
    )


# --- nvidia-container-runtime, kubelet-device-plugins -------------------------------------------------------


def test_nvidia_container_runtime_booleans() -> None:
    given = {"visible-devices-as-volume-mounts": True, "visible-devices-envvar-when-unprivileged": False}
    assert parse({"nvidia-container-runtime": given}) == {"nvidia-container-runtime": given}
    assert error({"nvidia-container-runtime": {"visible-devices-as-volume-mounts": "true"}}) == (
        'settings.nvidia-container-runtime.visible-devices-as-volume-mounts = "true": '
        "must be true or false (no conversion from other types)"
    )
    assert error({"nvidia-container-runtime": {"visible-devices": True}}) == (
        "settings.nvidia-container-runtime.visible-devices: unknown field (allowed: "
        "visible-devices-as-volume-mounts, visible-devices-envvar-when-unprivileged)"
    )


def test_device_plugin_settings_round_trip() -> None:
    nvidia = {
        "pass-device-specs": True,
        "device-id-strategy": "index",
        "device-list-strategy": "volume-mounts",
        "device-sharing-strategy": "time-slicing",
        "time-slicing": {"replicas": 2, "rename-by-default": True, "fail-requests-greater-than-one": False},
    }
    assert parse({"kubelet-device-plugins": {"nvidia": nvidia}}) == {"kubelet-device-plugins": {"nvidia": nvidia}}
    assert parse({"kubelet-device-plugins": {"nvidia": {}}}) == {"kubelet-device-plugins": {"nvidia": {}}}


@pytest.mark.parametrize("replicas", [2, I32_MAX])
def test_time_slicing_replicas_accepts_2_to_i32_max(replicas: int) -> None:
    settings = {"kubelet-device-plugins": {"nvidia": {"time-slicing": {"replicas": replicas}}}}
    assert parse(settings) == settings


@pytest.mark.parametrize("replicas", [1, 0, -1, I32_MAX + 1, 2.0, "2"])
def test_time_slicing_replicas_rejects_the_rest(replicas: Any) -> None:
    line = error({"kubelet-device-plugins": {"nvidia": {"time-slicing": {"replicas": replicas}}}})
    assert line.startswith(f"settings.kubelet-device-plugins.nvidia.time-slicing.replicas = {json.dumps(replicas)}: ")


def test_device_plugin_unknown_fields_and_strategies() -> None:
    lines = errors(
        {
            "kubelet-device-plugins": {
                "nvidia": {
                    "device-id-strategy": "UUID",
                    "device-list-strategy": "cdi-cri",  # later upstream versions only
                    "device-partitioning-strategy": "mig",  # later upstream versions only
                    "time-slicing": {"replicas": 4, "rename": True},
                },
                "amd": {},
            }
        }
    )
    assert sorted(lines) == sorted(
        [
            "settings.kubelet-device-plugins.amd: unknown field (allowed: nvidia)",
            'settings.kubelet-device-plugins.nvidia.device-id-strategy = "UUID": '
            "unknown variant `UUID`, expected one of `uuid`, `index`",
            'settings.kubelet-device-plugins.nvidia.device-list-strategy = "cdi-cri": '
            "unknown variant `cdi-cri`, expected one of `envvar`, `volume-mounts`",
            "settings.kubelet-device-plugins.nvidia.time-slicing.rename: unknown field "
            "(allowed: fail-requests-greater-than-one, rename-by-default, replicas)",
            "settings.kubelet-device-plugins.nvidia.device-partitioning-strategy: unknown field; "
            "did you mean settings.kubelet-device-plugins.nvidia.device-sharing-strategy?",
        ]
    )
