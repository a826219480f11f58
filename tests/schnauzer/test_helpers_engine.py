"""The helpers inside templates: how the engine treats each helper kind (spec §4.1, §4.4, §6).

String helpers write raw text (never HTML-escaped) and are JSON strings as subexpressions;
value helpers are escaped in ``{{ }}`` and typed in subexpressions; ``if_not_null`` picks a
block; strict mode makes a missing parameter of ``any_enabled``/``is_ipv4``/``is_ipv6`` an error
while other helpers see null. The real templates that embed ``oci_defaults`` output render
to valid JSON with each conformance variant's defaults, with and without an EFA device.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from thar.models import load_variant
from thar.models.modeled_types.oci import LINUX_CAPABILITIES, LINUX_RESOURCE_LIMITS
from thar.schnauzer.engine import EngineError, compile_template
from thar.schnauzer.helpers import HelperEnvironment, all_helpers


def _no_lookup(name: str) -> list[str]:
    raise AssertionError(f"unexpected resolver lookup of {name!r}")


HELPERS = all_helpers(
    HelperEnvironment(cpu_count=lambda: 4, efa_attached=lambda: False, fips_enabled=lambda: False, resolve=_no_lookup)
)


def render(template: str, context: Any, strict: bool = True) -> str:
    return compile_template(template).render(context, HELPERS, strict=strict)


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        # string helpers are written raw, even inside {{ }}
        ('{{join_array ", " a}}', {"a": ["<b>", "x&y"]}, '"<b>", "x&y"'),
        ("{{base64_decode s}}", {"s": "PGE9Jz4="}, "<a='>"),
        ("{{{default 'x' v}}}", {"v": "a=b"}, "a=b"),
        ("{{toml_encode v}}", {"v": {"k": "a'b"}}, '{ k = "a\'b" }'),
        # value helpers are displayed like a path value
        ("{{is_bool x}}|{{any_enabled x}}", {"x": True}, "true|false"),
        ("{{is_ipv4 c}}", {"c": "10.0.0.0/8"}, "true"),
        # subexpressions: string helpers give strings, value helpers typed JSON
        ("{{#if (is_string (default 'x' v))}}str{{/if}}", {}, "str"),
        ("{{#if (is_bool (is_null v))}}bool{{/if}}", {}, "bool"),
        ("{{#if (negate_or_else true v)}}yes{{else}}no{{/if}}", {"v": True}, "yes"),
        ("{{replace_ipv4_octet (cidr_to_ipaddr c) 3 '1'}}", {"c": "10.1.2.0/24"}, "10.1.2.1"),
        ("{{#if (any_enabled s)}}on{{else}}off{{/if}}", {"s": {"a": {"enabled": False}}}, "off"),
        # if_not_null: block helper without scope change
        (
            "{{#each xs}}{{#if_not_null this}}[{{this}}]{{else}}-{{/if_not_null}}{{/each}}",
            {"xs": [0, None, ""]},
            "[0]-[]",
        ),
        ("{{#if_not_null v}}a{{/if_not_null}}|{{if_not_null v}}", {"v": 1}, "a|"),
        # block-calling a string helper runs it and ignores the block
        ('{{#join_map "=" "," "no-fail-if-missing" m}}ignored{{/join_map}}', {"m": {"a": 1}}, "a=1"),
        # a missing path is null for the function helpers, even in strict mode
        ("{{default 'd' settings.absent}}", {"settings": {}}, "d"),
        ("{{etc_hosts_entries settings.network.hosts}}", {"settings": {"network": {}}}, ""),
        ("{{kube_reserve_cpu settings.cpu}}", {"settings": {}}, "80m"),
        (
            "{{ecr-prefix settings.aws.region}}",
            {"settings": {"aws": {"region": "us-west-2"}}},
            "328549459982.dkr.ecr.us-west-2.amazonaws.com",
        ),
    ],
)
def test_helper_in_template(template: str, context: Any, expected: str) -> None:
    assert render(template, context) == expected


@pytest.mark.parametrize(
    ("template", "context", "reason"),
    [
        ("{{any_enabled missing}}", {}, "couldn't read parameter 1"),
        ("{{#if (is_ipv4 missing)}}x{{/if}}", {}, "couldn't read parameter 1"),
        ("{{is_ipv6 missing}}", {}, "couldn't read parameter 1"),
        ("{{goarch 'x86'}}", {}, "unknown architecture"),
        ("{{join_map '=' ',' 'fail-if-missing' missing}}", {}, "parameter 4 (map) = missing (from missing)"),
        ('{{oci_defaults "docker" (default "x" y)}}', {}, "must be a settings path"),
        ('{{oci_defaults "docker" caps}}', {"caps": {"kill": True}}, "invalid OCI spec section 'caps'"),
        ("{{base64_decode}}", {}, "1 expected (s), 0 received"),
    ],
)
def test_helper_errors_fail_the_render(template: str, context: Any, reason: str) -> None:
    with pytest.raises(EngineError) as info:
        render(template, context)
    assert reason in str(info.value)


def test_macro_helpers_missing_parameter_only_errors_in_strict_mode() -> None:
    assert render("{{#if (any_enabled missing)}}x{{else}}y{{/if}}", {}, strict=False) == "y"
    with pytest.raises(EngineError, match="any_enabled"):
        render("{{#if (any_enabled missing)}}x{{else}}y{{/if}}", {}, strict=True)


def test_oci_defaults_section_comes_from_the_path_as_written() -> None:
    context = {"settings": {"oci-defaults": {"capabilities": {"chown": True, "kill": False}}}}
    assert render('{{oci_defaults "docker" settings.oci-defaults.capabilities}}', context) == '["CAP_CHOWN"]'
    inner = '{{#with settings.oci-defaults}}{{oci_defaults "docker" capabilities}}{{/with}}'
    assert render(inner, context) == '["CAP_CHOWN"]'


# --- real templates: oci_defaults output embedded in JSON configuration files --------------------

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
OCI_TEMPLATES = [
    ("containerd__containerd-cri-base-json", "aws-k8s-1.31"),
    ("docker-engine__daemon-json", "aws-ecs-1"),
    ("docker-engine__daemon-nvidia-json", "aws-ecs-1-nvidia"),
]


@pytest.mark.parametrize("efa", [False, True], ids=["no-efa", "efa"])
@pytest.mark.parametrize(("template_name", "variant_name"), OCI_TEMPLATES)
def test_real_oci_templates_render_valid_json(template_name: str, variant_name: str, efa: bool) -> None:
    text = (CONFORMANCE / "templates" / "real" / template_name).read_text(encoding="utf-8")
    _frontmatter, _sep, body = text.partition("\n+++\n")
    settings = load_variant(CONFORMANCE / "defaults" / variant_name).defaults["settings"]
    oci = settings["oci-defaults"]
    helpers = all_helpers(HelperEnvironment(efa_attached=lambda: efa))
    document = json.loads(compile_template(body).render({"settings": settings}, helpers))
    enabled = sorted(LINUX_CAPABILITIES[name] for name, on in oci["capabilities"].items() if on)
    limits = {LINUX_RESOURCE_LIMITS[name] for name in oci["resource-limits"]}
    if efa:
        limits.add("RLIMIT_MEMLOCK")
    if template_name.startswith("containerd"):
        capabilities = document["process"]["capabilities"]
        assert capabilities == {"bounding": enabled, "effective": enabled, "permitted": enabled}
        assert {rlimit["type"] for rlimit in document["process"]["rlimits"]} == limits
    else:
        assert document["default-capabilities"] == enabled
        ulimits = document["default-ulimits"]
        assert set(ulimits) == {limit.removeprefix("RLIMIT_").lower() for limit in limits}
        assert all(entry["Name"] == name for name, entry in ulimits.items())
