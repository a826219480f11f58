"""Settings extensions (spec §3) other than kubernetes, ecs, oci-defaults and the nvidia ones:
shapes, strictness, null handling, normalisations, and the error lines a user sees."""

from __future__ import annotations

import tomllib
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from thar.models.base import SettingsStruct
from thar.models.errors import format_errors
from thar.models.settings import (
    autoscaling,
    aws,
    boot,
    bootstrap_commands,
    bootstrap_containers,
    cloudformation,
    container_registry,
    container_runtime,
    dns,
    host_containers,
    kernel,
    metrics,
    motd,
    network,
    ntp,
    oci_hooks,
    pki,
    updates,
)

MODULES: list[ModuleType] = [
    autoscaling,
    aws,
    boot,
    bootstrap_commands,
    bootstrap_containers,
    cloudformation,
    container_registry,
    container_runtime,
    dns,
    host_containers,
    kernel,
    metrics,
    motd,
    network,
    ntp,
    oci_hooks,
    pki,
    updates,
]

# The ``settings`` object of a variant holding every extension above, mounted as variants do.
Settings: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Settings",
    __base__=SettingsStruct,
    **{m.NAME.replace("-", "_"): (m.MODEL | None, Field(default=None, alias=m.NAME)) for m in MODULES},
)


def parse(settings: dict[str, Any]) -> dict[str, Any]:
    """Validate a ``settings`` object and return its stored JSON form."""
    dumped: dict[str, Any] = Settings.model_validate(settings).model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def errors(settings: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(settings)
    return format_errors(caught.value, model=Settings)


def rejects(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate(settings)


# --- module contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_each_module_declares_name_model_and_rust_types(module: ModuleType) -> None:
    assert module.__name__.rsplit(".", 1)[-1] == module.NAME.replace("-", "_")
    assert module.MODEL in module.RUST_TYPES.values()
    assert all(name[0].isupper() for name in module.RUST_TYPES)
    assert TypeAdapter(module.MODEL).json_schema()


def test_the_settings_schema_of_all_extensions_can_be_generated() -> None:
    schema = Settings.model_json_schema(by_alias=True)
    assert set(schema["properties"]) == {m.NAME for m in MODULES}


# --- required fields and empty values ----------------------------------------------------------


@pytest.mark.parametrize("module", [m for m in MODULES if m is not motd], ids=lambda m: m.NAME)
def test_no_field_is_required_and_an_empty_value_writes_nothing(module: ModuleType) -> None:
    assert parse({module.NAME: {}}) == {module.NAME: {}}


def test_motd_is_any_string_of_lines() -> None:
    text = 'Welcome!\n\tline two \r\n ☃ "quoted" {{x}} #'
    assert parse({"motd": text}) == {"motd": text}
    assert parse({"motd": ""}) == {"motd": ""}
    for value in [1, True, ["hi"], {"text": "hi"}]:
        rejects({"motd": value})


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("host-containers", {}),
        ("bootstrap-containers", {}),
        ("bootstrap-commands", {}),
        ("pki", {}),
        ("kernel", {"modules": {"m": {}}}),
    ],
)
def test_map_entries_may_be_empty_structs(name: str, entry: dict[str, Any]) -> None:
    value = {"x": entry} if name != "kernel" else entry
    assert parse({name: value}) == {name: value}


# --- unknown fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ({"bogus": {}}, "settings.bogus: unknown field"),
        ({"ntp": {"servers": []}}, "settings.ntp.servers: unknown field; did you mean settings.ntp.time-servers?"),
        ({"kernel": {"bogus": 1}}, "settings.kernel.bogus: unknown field (allowed: lockdown, modules, sysctl)"),
        ({"kernel": {"modules": {"m": {"enabled": True}}}}, "settings.kernel.modules.m.enabled: unknown field"),
        ({"network": {"proxy": "x"}}, "settings.network.proxy: unknown field"),
        ({"boot": {"kernel_parameters": {}}}, "settings.boot.kernel_parameters: unknown field"),
        ({"host-containers": {"admin": {"image": "x"}}}, "settings.host-containers.admin.image: unknown field"),
        ({"bootstrap-containers": {"b": {"command": []}}}, "settings.bootstrap-containers.b.command: unknown field"),
        ({"bootstrap-commands": {"b": {"command": []}}}, "settings.bootstrap-commands.b.command: unknown field"),
        ({"pki": {"ca": {"trust": True}}}, "settings.pki.ca.trust: unknown field"),
        (
            {"container-registry": {"mirrors": [{"registry": "r", "capabilities": ["pull"]}]}},
            "settings.container-registry.mirrors[0].capabilities: unknown field",
        ),
        (
            {"container-registry": {"credentials": [{"registry": "r", "token": "t"}]}},
            "settings.container-registry.credentials[0].token: unknown field",
        ),
        ({"container-runtime": {"snapshotter": "soci"}}, "settings.container-runtime.snapshotter: unknown field"),
        ({"updates": {"version_lock": "latest"}}, "settings.updates.version_lock: unknown field"),
        ({"dns": {"nameservers": []}}, "settings.dns.nameservers: unknown field"),
        ({"metrics": {"url": "x"}}, "settings.metrics.url: unknown field"),
        ({"oci-hooks": {"log4j": True}}, "settings.oci-hooks.log4j: unknown field"),
        ({"aws": {"role": "x"}}, "settings.aws.role: unknown field"),
        ({"cloudformation": {"stack": "x"}}, "settings.cloudformation.stack: unknown field"),
        ({"autoscaling": {"wait": True}}, "settings.autoscaling.wait: unknown field"),
    ],
)
def test_unknown_fields_are_rejected_at_every_level(settings: dict[str, Any], line: str) -> None:
    (found,) = errors(settings)
    assert found.startswith(line)


def test_snake_case_python_names_are_not_accepted_for_kebab_fields() -> None:
    rejects({"updates": {"ignore_waves": True}})
    rejects({"host-containers": {"admin": {"user_data": "aGk="}}})


# --- strict types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"container-runtime": {"max-concurrent-downloads": "42"}},
        {"container-runtime": {"max-concurrent-downloads": 5.0}},
        {"container-runtime": {"max-concurrent-downloads": True}},
        {"container-runtime": {"max-container-log-line-size": 2**31}},
        {"container-runtime": {"enable-unprivileged-ports": "true"}},
        {"container-runtime": {"enable-unprivileged-icmp": 1}},
        {"updates": {"seed": -1}},
        {"updates": {"seed": 2**32}},
        {"updates": {"seed": "5"}},
        {"kernel": {"sysctl": {"net.ipv4.ip_forward": 1}}},
        {"kernel": {"sysctl": {"net.ipv4.ip_forward": True}}},
        {"kernel": {"modules": {"m": {"allowed": "yes"}}}},
        {"ntp": {"options": ["minpoll", 1]}},
        {"metrics": {"service-checks": [1]}},
        {"aws": {"region": 1}},
        {"cloudformation": {"should-signal": "false"}},
        {"ntp": {"time-servers": "pool.ntp.org"}},
        {"dns": {"name-servers": "1.1.1.1"}},
    ],
)
def test_values_are_never_converted_between_json_types(settings: dict[str, Any]) -> None:
    rejects(settings)


def test_integer_ranges_follow_the_rust_types() -> None:
    assert parse({"updates": {"seed": 2**32 - 1}}) == {"updates": {"seed": 2**32 - 1}}
    assert parse({"updates": {"seed": 0}}) == {"updates": {"seed": 0}}
    low, high = -(2**31), 2**31 - 1
    runtime = {"max-container-log-line-size": low, "max-concurrent-downloads": high}
    assert parse({"container-runtime": runtime}) == {"container-runtime": runtime}


def test_sysctl_values_are_any_line_and_keys_may_hold_dots_and_slashes() -> None:
    sysctl = {"net.ipv4.ip_forward": "1", "net/ipv6/conf/all/forwarding": "0", "kernel.core_pattern": "|/bin/c %p #x"}
    assert parse({"kernel": {"sysctl": sysctl}}) == {"kernel": {"sysctl": sysctl}}


def test_sysctl_from_toml_needs_quoted_dotted_keys() -> None:
    document = tomllib.loads('[settings.kernel.sysctl]\n"net.ipv4.ip_forward" = "1"\n')
    assert parse(document["settings"]) == {"kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}}}
    unquoted = tomllib.loads("[settings.kernel.sysctl]\nnet.ipv4.ip_forward = '1'\n")
    rejects(unquoted["settings"])  # a nested table, not a string value


# --- null --------------------------------------------------------------------------------------


def test_null_for_an_optional_field_means_absent() -> None:
    assert parse({"ntp": {"time-servers": None, "options": ["iburst"]}}) == {"ntp": {"options": ["iburst"]}}
    assert parse({"ntp": None}) == {}
    assert parse({"container-registry": {"credentials": None}}) == {"container-registry": {}}
    assert parse({"host-containers": {"admin": {"enabled": None}}}) == {"host-containers": {"admin": {}}}


@pytest.mark.parametrize(
    "settings",
    [
        {"host-containers": {"admin": None}},
        {"pki": {"ca": None}},
        {"bootstrap-commands": {"a": None}},
        {"kernel": {"sysctl": {"vm.swappiness": None}}},
        {"kernel": {"modules": {"m": None}}},
        {"boot": {"kernel": {"console": None}}},
        {"boot": {"kernel": {"console": [None]}}},
        {"ntp": {"time-servers": [None]}},
        {"network": {"no-proxy": [None]}},
        {"network": {"hosts": [["127.0.0.1", None]]}},
        {"dns": {"search-list": [None]}},
        {"bootstrap-commands": {"a": {"commands": [None]}}},
        {"bootstrap-commands": {"a": {"commands": [["apiclient", None]]}}},
        {"container-registry": {"mirrors": None}},
        {"container-registry": {"mirrors": [None]}},
        {"container-registry": {"mirrors": {"docker.io": None}}},
        {"container-registry": {"mirrors": [{"registry": "r", "endpoint": [None]}]}},
    ],
)
def test_null_is_rejected_as_map_value_list_element_and_for_mirrors(settings: dict[str, Any]) -> None:
    rejects(settings)


# --- normalisations ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kernel_key", "init_key"), [("kernel", "init"), ("kernel-parameters", "init-parameters")])
def test_boot_accepts_both_spellings_and_emits_kernel_and_init(kernel_key: str, init_key: str) -> None:
    value = {
        "reboot-to-reconcile": True,
        kernel_key: {"console": ["tty0", "ttyS1,115200n8"], "sysctl.vm.nr_hugepages": ["1"]},
        init_key: {"systemd.log_level": ["debug"]},
    }
    assert parse({"boot": value}) == {
        "boot": {
            "reboot-to-reconcile": True,
            "kernel": {"console": ["tty0", "ttyS1,115200n8"], "sysctl.vm.nr_hugepages": ["1"]},
            "init": {"systemd.log_level": ["debug"]},
        }
    }


def test_boot_rejects_both_spellings_of_one_field() -> None:
    assert errors({"boot": {"init": {}, "init-parameters": {}}}) == [
        'settings.boot = {"init": {}, "init-parameters": {}}: '
        "duplicate field `init-parameters` (given as both `init-parameters` and `init`)"
    ]


@pytest.mark.parametrize("settings", [{"boot": {"kernel": {"a..b": []}}}, {"boot": {"init": {"k": ["'\""]}}}])
def test_boot_keys_and_values_are_bootconfig_words(settings: dict[str, Any]) -> None:
    rejects(settings)


def test_mirrors_table_form_becomes_the_list_form_in_table_order() -> None:
    document = tomllib.loads('[mirrors]\n"docker.io" = ["https://m1", "m2:5000"]\n"*" = []\n')
    assert parse({"container-registry": document}) == {
        "container-registry": {
            "mirrors": [
                {"registry": "docker.io", "endpoint": ["https://m1", "m2:5000"]},
                {"registry": "*", "endpoint": []},
            ]
        }
    }


def test_mirrors_table_form_validates_registry_and_endpoints() -> None:
    rejects({"container-registry": {"mirrors": {"bad\nregistry": ["https://m1"]}}})
    rejects({"container-registry": {"mirrors": {"docker.io": "https://m1"}}})
    rejects({"container-registry": {"mirrors": "docker.io"}})


def test_creds_is_accepted_for_credentials_and_emitted_as_credentials() -> None:
    creds = [{"registry": "r", "username": "u", "password": "p", "auth": "dTpw", "identitytoken": "t"}]
    assert parse({"container-registry": {"creds": creds}}) == {"container-registry": {"credentials": creds}}
    assert errors({"container-registry": {"creds": [], "credentials": []}}) == [
        'settings.container-registry = {"creds": [], "credentials": []}: '
        "duplicate field `credentials` (given as both `credentials` and `creds`)"
    ]
    rejects({"container-registry": {"creds": [{"auth": "not base64"}]}})


def test_ip_addresses_are_stored_canonical() -> None:
    assert parse(
        {
            "dns": {"name-servers": ["0000:0000:0000:0000:0000:0000:0000:0001", "10.0.0.2"]},
            "network": {"hosts": [["0:0::1", ["localhost6"]], ["127.0.0.1", ["a", "b.c"]]]},
        }
    ) == {
        "dns": {"name-servers": ["::1", "10.0.0.2"]},
        "network": {"hosts": [["::1", ["localhost6"]], ["127.0.0.1", ["a", "b.c"]]]},
    }
    rejects({"dns": {"name-servers": ["fe80::1%eth0"]}})
    rejects({"network": {"hosts": [["127.0.0.0/8", ["localhost"]]]}})


def test_bootstrap_commands_are_sorted_by_name() -> None:
    commands = {
        name: {"commands": [["apiclient", "set", f"motd={name}"]], "mode": "once", "essential": False}
        for name in ["b-2", "a-1", "B-0", "10"]
    }
    assert list(parse({"bootstrap-commands": commands})["bootstrap-commands"]) == ["10", "B-0", "a-1", "b-2"]


def test_other_maps_keep_input_order() -> None:
    containers = {name: {"enabled": True} for name in ["zeta", "alpha"]}
    assert list(parse({"host-containers": containers})["host-containers"]) == ["zeta", "alpha"]


def test_validated_strings_are_stored_as_given() -> None:
    value = {
        "ntp": {"time-servers": ["2.amazon.pool.ntp.org", "HTTPS://Example.com:443/"]},
        "updates": {
            "metadata-base-url": "https://x/a/../%7Bvariant%7D/",
            "version-lock": "v1.26.1",
            "ignore-waves": True,
        },
        "network": {"hostname": "ip-10-0-0-1.ec2.internal", "https-proxy": "proxy:3128", "no-proxy": ["*.local"]},
        "aws": {"region": "us-west-2", "config": "", "credentials": "W2RlZmF1bHRd", "profile": "default"},
    }
    assert parse(value) == value


# --- rules of the shared types, seen through the extensions -----------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"host-containers": {"admin_1": {}}},
        {"host-containers": {"x" * 77: {}}},
        {"pki": {"ca.1": {}}},
        {"kernel": {"modules": {"a.b": {}}}},
        {"kernel": {"sysctl": {"../etc/passwd": "x"}}},
        {"kernel": {"lockdown": "Integrity"}},
        {"network": {"hostname": "Host"}},
        {"network": {"no-proxy": ["a\nb"]}},
        {"dns": {"search-list": ["a..b"]}},
        {"updates": {"version-lock": "1.2"}},
        {"updates": {"targets-base-url": "how are you"}},
        {"host-containers": {"admin": {"user-data": "aGk"}}},
        {"bootstrap-containers": {"b": {"mode": "never"}}},
        {"bootstrap-commands": {"b": {"commands": [[]]}}},
        {"bootstrap-commands": {"b": {"commands": [["sh", "-c", "true"]]}}},
        {"bootstrap-commands": {"b": {"commands": ["apiclient"]}}},
        {"pki": {"ca": {"data": "aGk="}}},
        {"cloudformation": {"stack-name": "a\rb"}},
    ],
)
def test_modeled_types_apply_inside_extensions(settings: dict[str, Any]) -> None:
    rejects(settings)


# --- error messages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (
            {"ntp": {"time-servers": ["pool.ntp.org", "how are you"]}},
            'settings.ntp.time-servers[1] = "how are you": '
            "Unable to deserialize into Url: Given invalid URL 'how are you'",
        ),
        (
            {"kernel": {"sysctl": {"net.ipv4.ip_forward": 1}}},
            'settings.kernel.sysctl."net.ipv4.ip_forward" = 1: must be a string (no conversion from other types)',
        ),
        (
            {"kernel": {"sysctl": {"net..x": "1"}}},
            'settings.kernel.sysctl."net..x" (map key) = "net..x": '
            "Unable to deserialize into SysctlKey: Invalid sysctl key 'net..x': must not contain '..'",
        ),
        (
            {"container-runtime": {"max-concurrent-downloads": "42"}},
            'settings.container-runtime.max-concurrent-downloads = "42": '
            "must be an integer (no conversion from other types)",
        ),
        (
            {"updates": {"seed": 4294967296}},
            "settings.updates.seed = 4294967296: out of range: input should be less than or equal to 4294967295",
        ),
        (
            {"container-registry": {"mirrors": None}},
            "settings.container-registry.mirrors = null: "
            "invalid type: null, expected a list of mirrors or a table of registry = [endpoints]",
        ),
        (
            {"kernel": {"lockdown": "full"}},
            'settings.kernel.lockdown = "full": '
            "Unable to deserialize into Lockdown: Invalid Linux lockdown mode 'full'",
        ),
        (
            {"bootstrap-commands": {"a": {"commands": [["touch", "x"]]}}},
            'settings.bootstrap-commands.a.commands[0] = ["touch", "x"]: Unable to deserialize into ApiclientCommand: '
            'Invalid Bottlerocket API Command \'["touch", "x"]\': the first word must be apiclient',
        ),
        (
            {"kernel": {"bogus": True}},
            "settings.kernel.bogus: unknown field (allowed: lockdown, modules, sysctl)",
        ),
    ],
)
def test_error_lines_name_the_setting_the_value_and_the_rule(settings: dict[str, Any], line: str) -> None:
    assert errors(settings) == [line]


def test_every_problem_gets_its_own_line() -> None:
    lines = errors({"ntp": {"time-servers": ["how are you"]}, "dns": {"name-servers": ["x", "1.1.1.1", "y"]}})
    assert [line.split(" = ")[0] for line in lines] == [
        "settings.dns.name-servers[0]",
        "settings.dns.name-servers[2]",
        "settings.ntp.time-servers[0]",
    ]
