"""The common migrations (spec/migrations.md §3): the helper unit-test facts of §3.3, the
general rules, the variant conditions, and the templated-setting helpers (§3.1, §3.2)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from thar.migrations.errors import MigrationError
from thar.migrations.migration_helpers import (
    AddMetadataMigration,
    AddPrefixesMigration,
    AddSettingsMigration,
    ListReplacement,
    MetadataListReplacement,
    MetadataReplacement,
    MigrationData,
    NoOpMigration,
    RemoveMetadataMigration,
    RemoveSettingsMigration,
    ReplaceListsMigration,
    ReplaceMetadataListsMigration,
    ReplaceMetadataMigration,
    ReplaceSchnauzerMigration,
    ReplaceStringMigration,
    ReplaceTemplateMigration,
    SettingMetadata,
    Variant,
    VariantConditional,
    matches,
    template_context,
)


def md(data: dict[str, Any] | None = None, metadata: dict[str, dict[str, Any]] | None = None) -> MigrationData:
    return MigrationData(dict(data or {}), copy.deepcopy(metadata or {}))


# -- AddPrefixes (§3.3) -------------------------------------------------------------------------
PREFIX_DATA = {"keep.me.a": 0, "remove.me.b": 0, "keep.this.c": 0, "remove.me.d.e": 0}


def test_add_prefixes_backward_single() -> None:
    out = AddPrefixesMigration(["remove.me"]).backward(md(PREFIX_DATA))
    assert out.data == {"keep.me.a": 0, "keep.this.c": 0}


def test_add_prefixes_backward_multiple() -> None:
    data = {"keep.me.a": 0, "remove.me.b": 0, "keep.this.c": 0, "remove.this.d.e": 0}
    out = AddPrefixesMigration(["remove.me", "remove.this"]).backward(md(data))
    assert out.data == {"keep.me.a": 0, "keep.this.c": 0}


def test_add_prefixes_backward_no_match() -> None:
    out = AddPrefixesMigration(["not.found", "nor.this"]).backward(md(PREFIX_DATA))
    assert out.data == PREFIX_DATA


def test_add_prefixes_is_a_plain_string_test() -> None:
    out = AddPrefixesMigration(["settings.foo"]).backward(md({"settings.foobar": 1, "settings.fo": 2}))
    assert out.data == {"settings.fo": 2}


def test_add_prefixes_forward_is_a_no_op() -> None:
    assert AddPrefixesMigration(["remove.me"]).forward(md(PREFIX_DATA)).data == PREFIX_DATA


# -- AddSettings / RemoveSettings ---------------------------------------------------------------------
def test_add_settings_backward_removes_exact_keys_only() -> None:
    data = {"settings.a": 1, "settings.ab": 2, "settings.a.b": 3}
    assert AddSettingsMigration(["settings.a", "settings.missing"]).backward(md(data)).data == {
        "settings.ab": 2,
        "settings.a.b": 3,
    }
    assert AddSettingsMigration(["settings.a"]).forward(md(data)).data == data


def test_remove_settings_forward_removes_backward_keeps() -> None:
    data = {"settings.a": 1, "settings.b": 2}
    assert RemoveSettingsMigration(["settings.a"]).forward(md(data)).data == {"settings.b": 2}
    assert RemoveSettingsMigration(["settings.a"]).backward(md(data)).data == data


# -- ReplaceString ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "forward", "backward"),
    [
        ("old", "new", "old"),
        ("new", "new", "old"),
        ("OLD", "OLD", "OLD"),  # exact, case-sensitive
        ("old ", "old ", "old "),
        (["old"], ["old"], ["old"]),  # non-string: left alone
        (7, 7, 7),
    ],
)
def test_replace_string(value: Any, forward: Any, backward: Any) -> None:
    m = ReplaceStringMigration("settings.s", "old", "new")
    assert m.forward(md({"settings.s": value})).data["settings.s"] == forward
    assert m.backward(md({"settings.s": value})).data["settings.s"] == backward


def test_replace_string_absent_is_a_no_op() -> None:
    m = ReplaceStringMigration("settings.s", "old", "new")
    assert m.forward(md({"settings.t": "old"})).data == {"settings.t": "old"}


# -- ReplaceLists (§3.3) ----------------------------------------------------------------------------
def test_replace_lists_forward_single() -> None:
    out = ReplaceListsMigration([ListReplacement("hi", ["there"], ["sup"])]).forward(md({"hi": ["there"]}))
    assert out.data == {"hi": ["sup"]}


def test_replace_lists_backward() -> None:
    out = ReplaceListsMigration([ListReplacement("hi", ["sup"], ["there"])]).backward(md({"hi": ["there"]}))
    assert out.data == {"hi": ["sup"]}


def test_replace_lists_multiple_apply_independently() -> None:
    m = ReplaceListsMigration(
        [ListReplacement("hi", ["there", "you"], ["sup", "hey"]), ListReplacement("ho", ["x"], ["y"])]
    )
    out = m.forward(md({"hi": ["there", "you"], "ho": ["x"], "other": ["x"]}))
    assert out.data == {"hi": ["sup", "hey"], "ho": ["y"], "other": ["x"]}


def test_replace_lists_apply_in_order_each_seeing_the_last() -> None:
    m = ReplaceListsMigration([ListReplacement("hi", ["a"], ["b"]), ListReplacement("hi", ["b"], ["c"])])
    assert m.forward(md({"hi": ["a"]})).data == {"hi": ["c"]}


@pytest.mark.parametrize("value", [["there", "you"], ["you", "there"], "there", ["There"], []])
def test_replace_lists_no_match_or_non_list_unchanged(value: Any) -> None:
    m = ReplaceListsMigration([ListReplacement("hi", ["there"], ["sup"])])
    assert m.forward(md({"hi": value})).data == {"hi": value}


def test_replace_lists_non_string_element_is_an_error() -> None:
    with pytest.raises(MigrationError, match="non-string"):
        ReplaceListsMigration([ListReplacement("hi", ["there"], ["sup"])]).forward(md({"hi": [0]}))


# -- metadata (§3.3) -------------------------------------------------------------------------------
def test_add_metadata_backward() -> None:
    out = AddMetadataMigration([SettingMetadata("hi", ["there"])]).backward(md({}, {"hi": {"there": "whatever"}}))
    assert out.metadata == {"hi": {}}


def test_add_metadata_backward_no_match() -> None:
    out = AddMetadataMigration([SettingMetadata("hi", ["there"])]).backward(md({}, {"hi": {"sup": "wassup"}}))
    assert out.metadata == {"hi": {"sup": "wassup"}}


def test_remove_metadata() -> None:
    meta = {"hi": {"there": "whatever"}}
    assert RemoveMetadataMigration([SettingMetadata("hi", ["there"])]).forward(md({}, meta)).metadata == {"hi": {}}
    assert RemoveMetadataMigration([SettingMetadata("hi", ["which"])]).forward(md({}, meta)).metadata == meta
    assert RemoveMetadataMigration([SettingMetadata("hi", ["there"])]).backward(md({}, meta)).metadata == meta


def test_replace_metadata_lists() -> None:
    m = ReplaceMetadataListsMigration(
        [MetadataListReplacement("sunny", "affected-services", ["ice", "cube"], ["warm", "water"])]
    )
    assert m.forward(md({}, {"sunny": {"affected-services": ["ice", "cube"]}})).metadata == {
        "sunny": {"affected-services": ["warm", "water"]}
    }
    assert m.backward(md({}, {"sunny": {"affected-services": ["warm", "water"]}})).metadata == {
        "sunny": {"affected-services": ["ice", "cube"]}
    }
    for unchanged in (["ice"], "ice", {"a": 1}):
        meta = {"sunny": {"affected-services": unchanged}}
        assert m.forward(md({}, meta)).metadata == meta
    with pytest.raises(MigrationError, match="non-string"):
        m.forward(md({}, {"sunny": {"affected-services": [0]}}))


def test_replace_metadata() -> None:
    fwd = ReplaceMetadataMigration(
        [MetadataReplacement("hiking", "setting-generator", "weather-is-sunny", "/bin/true")]
    )
    out = fwd.forward(md({}, {"hiking": {"setting-generator": "weather-is-sunny"}}))
    assert out.metadata == {"hiking": {"setting-generator": "/bin/true"}}
    back = ReplaceMetadataMigration([MetadataReplacement("hiking", "destination", "closest-beach", "closest-lake")])
    out = back.backward(md({}, {"hiking": {"destination": "closest-lake"}}))
    assert out.metadata == {"hiking": {"destination": "closest-beach"}}
    listed = {"hiking": {"destination": ["closest-lake"]}}
    assert back.backward(md({}, listed)).metadata == listed  # a list: unchanged, no error


def test_replace_metadata_when_limits_to_variants() -> None:
    m = ReplaceMetadataMigration(
        [
            MetadataReplacement("s", "setting-generator", "a", "aws", when={"variant_platform": "aws"}),
            MetadataReplacement("t", "setting-generator", "a", "not-aws", when={"not": {"variant_platform": "aws"}}),
        ]
    )
    meta = {"s": {"setting-generator": "a"}, "t": {"setting-generator": "a"}}
    out = m.forward(md({"os.variant_id": "aws-k8s-1.24"}, meta))
    assert out.metadata == {"s": {"setting-generator": "aws"}, "t": {"setting-generator": "a"}}
    out = m.forward(md({"os.variant_id": "vmware-dev"}, meta))
    assert out.metadata == {"s": {"setting-generator": "a"}, "t": {"setting-generator": "not-aws"}}


def test_no_op() -> None:
    data = md({"a": 1}, {"a": {"m": 2}})
    assert NoOpMigration().forward(data) == md({"a": 1}, {"a": {"m": 2}})
    assert NoOpMigration().backward(data) == md({"a": 1}, {"a": {"m": 2}})


# -- variants (§2.3) --------------------------------------------------------------------------------
def test_variant_parse() -> None:
    v = Variant.parse("aws-k8s-1.24-nvidia")
    assert (v.platform, v.runtime, v.family, v.version, v.flavor) == ("aws", "k8s", "aws-k8s", "1.24", "nvidia")
    assert v.attribute("variant_type") == "nvidia"
    d = Variant.parse("aws-dev")
    assert (d.runtime, d.version, d.flavor) == ("dev", None, None)
    assert Variant.parse("aws-ecs-2-nvidia").version == "2"
    with pytest.raises(MigrationError):
        Variant.parse("aws")


@pytest.mark.parametrize(
    ("condition", "variant", "expected"),
    [
        ({"variant_runtime": "k8s"}, "aws-k8s-1.24", True),
        ({"variant_runtime": "k8s"}, "aws-ecs-1", False),
        ({"variant_family": "aws-k8s", "variant_flavor": "nvidia"}, "aws-k8s-1.24-nvidia", True),
        ({"variant_family": "aws-k8s", "variant_flavor": "nvidia"}, "aws-k8s-1.24", False),
        ({"not": {"variant_platform": "aws"}}, "metal-k8s-1.28", True),
        ({"not": {"variant_platform": "aws"}}, "aws-dev", False),
    ],
)
def test_variant_conditions(condition: dict[str, Any], variant: str, expected: bool) -> None:
    assert matches(condition, Variant.parse(variant)) is expected


def test_variant_conditional_runs_then_or_otherwise() -> None:
    m = VariantConditional({"variant_runtime": "k8s"}, AddSettingsMigration(["settings.a"]))
    assert m.backward(md({"settings.a": 1, "os.variant_id": "aws-k8s-1.24"})).data == {"os.variant_id": "aws-k8s-1.24"}
    kept = {"settings.a": 1, "os.variant_id": "aws-ecs-1"}
    assert m.backward(md(kept)).data == kept


# -- templated settings (§3.1, §3.2) -------------------------------------------------------------------
def test_template_context_nests_settings_and_os() -> None:
    ctx = template_context({"settings.a.b": 1, 'settings.k."x.y"': "v", "os.arch": "x86_64", "services.s": 1})
    assert ctx == {"settings": {"a": {"b": 1}, "k": {"x.y": "v"}}, "os": {"arch": "x86_64"}}


OLD_CMD = "schnauzer-v2 render --requires 'input@v1' --template '{{ settings.input }}'"
NEW_CMD = "schnauzer-v2 render --requires 'input@v1' --template '{{ settings.input }}, world'"


def _schnauzer_input(value: str, generator: str) -> MigrationData:
    return md(
        {"settings.input": "hello", "settings.output": value, "os.arch": "x86_64"},
        {"settings.output": {"setting-generator": generator}},
    )


def test_replace_schnauzer_rerenders_an_unchanged_value() -> None:
    m = ReplaceSchnauzerMigration("settings.output", OLD_CMD, NEW_CMD)
    fwd = m.forward(_schnauzer_input("hello", OLD_CMD))
    assert fwd.data["settings.output"] == "hello, world"
    assert fwd.metadata["settings.output"]["setting-generator"] == NEW_CMD
    back = m.backward(fwd)
    assert back.data["settings.output"] == "hello"
    assert back.metadata["settings.output"]["setting-generator"] == OLD_CMD


def test_replace_schnauzer_keeps_a_user_value_but_moves_the_generator() -> None:
    m = ReplaceSchnauzerMigration("settings.output", OLD_CMD, NEW_CMD)
    fwd = m.forward(_schnauzer_input("overwritten!", OLD_CMD))
    assert fwd.data["settings.output"] == "overwritten!"
    assert fwd.metadata["settings.output"]["setting-generator"] == NEW_CMD
    back = m.backward(fwd)
    assert back.data["settings.output"] == "overwritten!"
    assert back.metadata["settings.output"]["setting-generator"] == OLD_CMD


def test_replace_schnauzer_other_generator_changes_nothing() -> None:
    other = "schnauzer-v2 render --template 'something new!'"
    m = ReplaceSchnauzerMigration("settings.output", NEW_CMD, OLD_CMD)
    before = _schnauzer_input("something new!", other)
    assert m.forward(copy.deepcopy(before)) == before
    assert m.backward(copy.deepcopy(before)) == before


def test_replace_schnauzer_non_string_value_fails() -> None:
    with pytest.raises(MigrationError, match="non-string"):
        ReplaceSchnauzerMigration("settings.output", OLD_CMD, NEW_CMD).forward(md({"settings.output": 1}))


def test_replace_template_absent_setting_touches_nothing() -> None:
    m = ReplaceTemplateMigration("settings.s", "a", "b")
    before = md({"settings.t": "x"}, {"settings.s": {"template": "a"}})
    assert m.forward(copy.deepcopy(before)) == before


def test_replace_template_non_string_value_fails() -> None:
    with pytest.raises(MigrationError, match="non-string"):
        ReplaceTemplateMigration("settings.s", "a", "b").forward(md({"settings.s": ["x"]}))


def test_replace_template_without_template_metadata_is_a_no_op() -> None:
    m = ReplaceTemplateMigration("settings.s", "a", "b")
    before = md({"settings.s": "x"}, {"settings.s": {"template": 3}})
    assert m.forward(copy.deepcopy(before)) == before
    assert m.forward(md({"settings.s": "x"})) == md({"settings.s": "x"})


ADMIN_OLD = "{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.7.0"
ADMIN_NEW = "{{ ecr-prefix settings.aws.region }}/bottlerocket-admin:v0.7.1"


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("us-west-2", "328549459982.dkr.ecr.us-west-2.amazonaws.com"),
        ("af-south-1", "917644944286.dkr.ecr.af-south-1.amazonaws.com"),
    ],
)
def test_replace_template_rerenders_with_helpers(region: str, prefix: str) -> None:
    m = ReplaceTemplateMigration("settings.host-containers.admin.source", ADMIN_OLD, ADMIN_NEW)
    data = md(
        {"settings.aws.region": region, "settings.host-containers.admin.source": f"{prefix}/bottlerocket-admin:v0.7.0"},
        {"settings.host-containers.admin.source": {"template": ADMIN_OLD}},
    )
    fwd = m.forward(data)
    assert fwd.data["settings.host-containers.admin.source"] == f"{prefix}/bottlerocket-admin:v0.7.1"
    assert fwd.metadata["settings.host-containers.admin.source"] == {"template": ADMIN_NEW}
    back = m.backward(fwd)
    assert back.data["settings.host-containers.admin.source"] == f"{prefix}/bottlerocket-admin:v0.7.0"
    assert back.metadata["settings.host-containers.admin.source"] == {"template": ADMIN_OLD}


def test_replace_template_user_value_kept_template_moves() -> None:
    m = ReplaceTemplateMigration("settings.host-containers.admin.source", ADMIN_OLD, ADMIN_NEW)
    data = md(
        {"settings.aws.region": "us-west-2", "settings.host-containers.admin.source": "my.registry/admin:mine"},
        {"settings.host-containers.admin.source": {"template": ADMIN_OLD}},
    )
    fwd = m.forward(data)
    assert fwd.data["settings.host-containers.admin.source"] == "my.registry/admin:mine"
    assert fwd.metadata["settings.host-containers.admin.source"] == {"template": ADMIN_NEW}
