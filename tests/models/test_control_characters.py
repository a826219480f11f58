"""thar's rule on every string of the settings model: no control character (C0, DEL, C1, U+2028,
U+2029) anywhere — field values, list items, map keys and values — except tab, LF and CR in the
settings documented as multi-line (motd). The modeled types themselves keep Bottlerocket's
rules (``SingleLineString`` takes a tab or a NUL); the rule belongs to the settings structs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from thar.models import ModelError, Service, load_variant, settings_model
from thar.models.base import MultiLine, SettingsStruct, is_multi_line
from thar.models.errors import format_errors
from thar.models.modeled_types.shared import SingleLineString
from thar.models.settings import names

README = Path(__file__).resolve().parents[2] / "models" / "README.md"
EVERYTHING = settings_model(tuple(names()))
CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]]


def errors(settings: dict[str, Any]) -> list[str]:
    """The error lines of a settings object, as the API formats them."""
    try:
        EVERYTHING.model_validate(settings)
    except ValidationError as exc:
        return format_errors(exc, "settings", EVERYTHING)
    return []


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_every_control_character_is_refused_in_a_plain_string_setting(char: str) -> None:
    lines = errors({"ntp": {"options": ["iburst", f"a{char}b"]}})
    assert len(lines) == 1
    assert lines[0].startswith("settings.ntp.options[1] = ")
    assert f"U+{ord(char):04X}" in lines[0] and "is a control character" in lines[0]


def test_the_error_names_the_setting_the_value_and_the_character() -> None:
    assert errors({"ntp": {"options": ["iburst\nserver evil"]}}) == [
        'settings.ntp.options[0] = "iburst\\nserver evil": U+000A (line feed) is a control character: '
        "refused in every setting but the multi-line ones (motd)"
    ]


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"kernel": {"sysctl": {"net.core.somaxconn": "1\nvm.overcommit_memory = 1"}}},
         'settings.kernel.sysctl."net.core.somaxconn" = '),
        ({"network": {"no-proxy": ["ok", "a\tb"]}}, "settings.network.no-proxy[1] = "),
        ({"kubernetes": {"credential-providers": {"ecr": {"enabled": True, "image-patterns": ["*"],
                                                         "environment": {"A\tB": "v"}}}}},
         'settings.kubernetes.credential-providers.ecr.environment."A\\tB" (map key) = '),
        ({"kubernetes": {"credential-providers": {"ecr": {"enabled": True, "image-patterns": ["a\x00"]}}}},
         "settings.kubernetes.credential-providers.ecr.image-patterns[0] = "),
        ({"bootstrap-commands": {"x": {"commands": [["apiclient", "set", "motd=a\x1bb"]]}}},
         "settings.bootstrap-commands.x.commands[0][2] = "),
        ({"container-registry": {"credentials": [{"registry": "r", "password": "p\x7f"}]}},
         "settings.container-registry.credentials[0].password = "),
        ({"metrics": {"service-checks": ["a\x85b"]}}, "settings.metrics.service-checks[0] = "),
        ({"ecs": {"backend-host": "h\rx"}}, "settings.ecs.backend-host = "),
        ({"aws": {"profile": "default\t"}}, "settings.aws.profile = "),
    ],
)  # fmt: skip
def test_lists_maps_keys_and_nested_structs_are_all_checked(settings: dict[str, Any], where: str) -> None:
    lines = errors(settings)
    assert len(lines) == 1 and lines[0].startswith(where), lines
    assert "is a control character" in lines[0]


def test_the_modeled_types_keep_bottlerocket_rules_and_the_settings_add_thars() -> None:
    """Conformance cases 579/580: a SingleLineString may hold a tab or a NUL; a setting may not."""
    single_line = TypeAdapter(SingleLineString)
    assert single_line.validate_python("tab\tok") == "tab\tok"
    assert single_line.validate_python("nul\x00ok") == "nul\x00ok"
    assert errors({"network": {"no-proxy": ["tab\tok"]}})[0].startswith("settings.network.no-proxy[0] = ")


def test_motd_takes_lines_and_tabs_but_no_other_control_character() -> None:
    assert EVERYTHING.model_validate({"motd": "Welcome\r\n\tto thar\n"}).dump() == {"motd": "Welcome\r\n\tto thar\n"}
    for char in sorted(set(CONTROLS) - set("\t\n\r")):
        (line,) = errors({"motd": f"hi{char}"})
        assert line.endswith("is a control character: only tab, line feed and carriage return are allowed in "
                             "this multi-line setting"), line  # fmt: skip


def test_variant_defaults_are_held_to_the_rule_too() -> None:
    """services, configuration files and setting generators are structs of the same model."""
    with pytest.raises(ValidationError, match="U\\+000A"):
        Service.model_validate({"configuration-files": ["a"], "restart-commands": ["/bin/true\n/bin/evil"]})


def test_the_api_refuses_what_the_model_refuses() -> None:
    from thar import variants

    variant = load_variant(variants.path("thar-dev"))
    with pytest.raises(ModelError) as caught:
        variant.parse_settings({"ntp": {"options": ["iburst\nserver evil"]}})
    assert caught.value.lines[0].startswith('settings.ntp.options[0] = "iburst\\nserver evil": U+000A (line feed)')


def _multi_line_settings(model: type[BaseModel], prefix: str) -> list[str]:
    found = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}.{field.alias or name}"
        if is_multi_line(field.annotation) or any(isinstance(m, MultiLine) for m in field.metadata):
            found.append(dotted)
        stack = [field.annotation]
        while stack:  # the structs below this field (through Optional, list, dict and Annotated)
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, SettingsStruct):
                found += _multi_line_settings(annotation, dotted)
            else:
                stack += [a for a in get_args(annotation) if not isinstance(a, str)]
    return found


def test_the_readme_lists_every_setting_exempt_from_the_rule() -> None:
    exempt = _multi_line_settings(EVERYTHING, "settings")
    assert exempt == ["settings.motd"]
    section = README.read_text(encoding="utf-8").split("## Control characters", 1)[1].split("\n## ", 1)[0]
    assert sorted(re.findall(r"^- `(settings\.[a-z.-]+)`", section, re.MULTILINE)) == exempt
