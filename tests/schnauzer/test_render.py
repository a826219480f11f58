"""The render pipeline: the upstream fixtures rendered byte-exact, the helper registry (§2.5),
the render context from the API (§3), and each error kind of §5."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.apiclient.peer import ApiPeer, running_peer
from thar.schnauzer.errors import (
    FrontmatterParse,
    GrammarParse,
    HelperNameCollision,
    NoSuchHelpers,
    NoSuchSettingExtension,
    RenderTemplate,
    RetrieveSettings,
    TemplateFileRead,
)
from thar.schnauzer.helper_api import Helper, HelperKind, Param
from thar.schnauzer.helpers import OWNERS, HelperEnvironment
from thar.schnauzer.importer import (
    ApiImporter,
    StaticImporter,
    clear_api_cache,
    extract_object,
    minimize_settings,
)
from thar.schnauzer.registry import HelperCatalog, build_registry, check_requirements, default_catalog
from thar.schnauzer.render import render_parsed, render_template_file, render_template_text
from thar.schnauzer.template import Requirement, parse_template

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "templates" / "schnauzer-fixtures"
INPUTS: dict[str, Any] = json.loads((FIXTURES / "inputs.json").read_text())
MISC: dict[str, Any] = json.loads((FIXTURES / "misc-cases.json").read_text())
SUCCEEDS = sorted(p.stem for p in (FIXTURES / "succeeds").glob("*.template"))

# Host facts fixed, so that no test depends on the machine it runs on.
ENV = HelperEnvironment(
    cpu_count=lambda: 4,
    efa_attached=lambda: False,
    fips_enabled=lambda: False,
    resolve=lambda name: [],
)


def woof_helper(output: str) -> Helper:
    """The upstream tests' stub helper: ignores its parameters, writes a constant."""

    def woof(params: list[Param], hash: Mapping[str, Any]) -> str:
        return output

    return Helper("woof", HelperKind.STRING, woof)


def fixture_catalog(name: str) -> HelperCatalog:
    """Bottlerocket's helpers plus the fixture's test-only stubs, owned by the extension that
    requests them."""
    catalog = default_catalog(ENV)
    spec = INPUTS["succeeds"][name]
    for helper_name, helper in spec["helpers"].items():
        if helper["kind"] == "test-stub":
            assert helper_name == "woof"
            owner = next(r["name"] for r in spec["expected_requirements"] if helper_name in r["helpers"])
            catalog = catalog.extended(owner, [woof_helper(helper["output"])])
        else:
            assert helper_name in OWNERS[helper["extension"]]
    return catalog


class CountingImporter(StaticImporter):
    """A static context that counts how often it was asked."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.calls = 0

    def fetch_context(self, requirements: Iterable[Requirement]) -> Any:
        self.calls += 1
        return super().fetch_context(requirements)


# -- the fixtures ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SUCCEEDS)
def test_fixture_renders(name: str) -> None:
    spec = INPUTS["succeeds"][name]
    expected = (FIXTURES / "succeeds_rendered" / f"{name}.rendered").read_text()
    rendered = render_template_file(
        FIXTURES / "succeeds" / f"{name}.template",
        StaticImporter(spec["context"]),
        catalog=fixture_catalog(name),
    )
    assert rendered == expected


def test_fixture_with_stub_needs_the_stub() -> None:
    """Without the test stub, `labrador` is no extension with helpers."""
    with pytest.raises(NoSuchSettingExtension):
        render_template_file(FIXTURES / "succeeds" / "04_comments.template", StaticImporter({}), ENV)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("00_invalid_toml", GrammarParse),
        ("01_valid_toml_missing_fields", FrontmatterParse),
        ("02_valid_toml_extra_fields", FrontmatterParse),
        ("03_invalid_frontmatter_delim", GrammarParse),
        ("04_duplicate_helpers", HelperNameCollision),
    ],
)
def test_fixture_fails_before_fetching(name: str, kind: type[Exception]) -> None:
    assert INPUTS["fails"][name]["error"] == kind.__name__
    importer = CountingImporter({})
    with pytest.raises(kind):
        render_template_file(FIXTURES / "fails" / f"{name}.template", importer, ENV)
    assert importer.calls == 0


# -- the registry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", MISC["static_helper_registry_cases"], ids=lambda c: c["extension"])
def test_owner_map(case: dict[str, Any]) -> None:
    assert tuple(OWNERS[case["extension"]]) == tuple(case["helpers"])
    assert set(case["helpers"]) <= set(default_catalog(ENV).helpers)


@pytest.mark.parametrize("case", MISC["ensure_helpers_exist_cases"]["ok"], ids=lambda c: c["extension"])
def test_registry_accepts(case: dict[str, Any]) -> None:
    requirement = Requirement(case["extension"], case["version"], tuple(case["helpers"]))
    registry = build_registry([requirement], default_catalog(ENV))
    assert sorted(registry) == sorted(case["helpers"])
    assert all(registry[name].name == name for name in registry)


@pytest.mark.parametrize("case", MISC["ensure_helpers_exist_cases"]["fail"], ids=lambda c: c["extension"])
def test_registry_rejects(case: dict[str, Any]) -> None:
    requirement = Requirement(case["extension"], case["version"], tuple(case["helpers"]))
    kind = NoSuchSettingExtension if case["extension"] not in OWNERS else NoSuchHelpers
    with pytest.raises(kind):
        check_requirements([requirement], OWNERS)


def test_registry_holds_only_requested_helpers() -> None:
    registry = build_registry(
        [Requirement("std", "v1", ("default",)), Requirement("kubernetes", "v1"), Requirement("unknown", "v9")],
        default_catalog(ENV),
    )
    assert list(registry) == ["default"]


def test_helper_of_another_extension_is_rejected() -> None:
    with pytest.raises(NoSuchHelpers) as info:
        render_template_text(
            '[required-extensions]\nstd = { version = "v1", helpers = ["host"] }\n+++\nx', StaticImporter({}), ENV
        )
    assert info.value.helpers == ("host",)


def test_registry_errors_come_before_fetching() -> None:
    importer = CountingImporter({})
    with pytest.raises(NoSuchSettingExtension):
        render_template_text('[required-extensions]\nnope = { version = "v1", helpers = ["x"] }\n+++\n', importer, ENV)
    assert importer.calls == 0


def test_unrequested_helper_is_not_defined() -> None:
    context = {"settings": {"aws": {"config": "c2V0dGluZ3MK"}}}
    text = '[required-extensions]\naws = "v1"\n+++\n{{base64_decode settings.aws.config}}'
    with pytest.raises(RenderTemplate):
        render_template_text(text, StaticImporter(context), ENV)
    requested = text.replace('aws = "v1"', 'aws = "v1"\nstd = { version = "v1", helpers = ["base64_decode"] }')
    assert render_template_text(requested, StaticImporter(context), ENV) == "settings\n"


def test_builtins_need_no_requirement() -> None:
    text = "+++\n{{#if (eq a 1)}}one{{/if}}{{#each l}}[{{this}}]{{/each}}"
    assert render_template_text(text, StaticImporter({"a": 1, "l": ["x", "y"]}), ENV) == "one[x][y]"


# -- render errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "context"),
    [
        ("{{settings.missing}}", {"settings": {}}),  # strict mode
        ("{{#if a}}unclosed", {"a": True}),  # syntax errors surface at render time
        ("{{base64_decode 'not base64!'}}", {}),  # a helper error
        ("{{#each a}}{{/each}}", {}),  # each over a missing value without else
    ],
)
def test_render_errors(body: str, context: Any) -> None:
    text = f'[required-extensions]\nstd = {{ version = "v1", helpers = ["base64_decode"] }}\n+++\n{body}'
    with pytest.raises(RenderTemplate):
        render_template_text(text, StaticImporter(context), ENV)


def test_first_error_aborts_without_output() -> None:
    text = "+++\nfirst line {{ok}}\n{{missing}}\nlast line\n"
    with pytest.raises(RenderTemplate):
        render_template_text(text, StaticImporter({"ok": "fine"}), ENV)
    assert render_template_text(text.replace("{{missing}}", "x"), StaticImporter({"ok": "fine"}), ENV) == (
        "first line fine\nx\nlast line\n"
    )


def test_file_read_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateFileRead):
        render_template_file(tmp_path / "absent", StaticImporter({}), ENV)
    with pytest.raises(TemplateFileRead):
        render_template_file(tmp_path, StaticImporter({}), ENV)
    latin1 = tmp_path / "latin1"
    latin1.write_bytes("+++\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(TemplateFileRead):
        render_template_file(latin1, StaticImporter({}), ENV)
    utf8 = tmp_path / "utf8"
    utf8.write_bytes("+++\ncaf\u00e9\r\n".encode())
    assert render_template_file(utf8, StaticImporter({}), ENV) == "caf\u00e9\r\n"


def test_parsed_template_renders_with_given_context() -> None:
    template = parse_template('[required-extensions]\nmotd = "v1"\n+++\n{{settings.motd}}')
    assert render_parsed(template, StaticImporter({"settings": {"motd": "<hi & bye>"}}), ENV) == (
        "&lt;hi &amp; bye&gt;"
    )


# -- the context: minimisation and the API root -------------------------------------------------------
@pytest.mark.parametrize("case", MISC["settings_minimisation_cases"])
def test_minimize_settings(case: dict[str, Any]) -> None:
    assert minimize_settings(case["all_settings"], case["required_extensions"]) == case["expected_settings"]


@pytest.mark.parametrize("case", MISC["api_root_extract_cases"]["ok"])
def test_extract_object(case: dict[str, Any]) -> None:
    assert extract_object(case["response"], case["key"]) == case["expected"]


@pytest.mark.parametrize("case", MISC["api_root_extract_cases"]["error"], ids=lambda c: c["key"])
def test_extract_object_errors(case: dict[str, Any]) -> None:
    with pytest.raises(RetrieveSettings):
        extract_object(case["response"], case["key"])


MODEL = {
    "settings": {"motd": "hi", "ntp": {"time-servers": ["a.example"]}, "kernel": {"lockdown": "none"}},
    "os": {"arch": "x86_64", "variant_id": "aws-dev", "version_id": "1.20.0", "build_id": "x", "pretty_name": "B"},
    "services": {"chronyd": {"restart-commands": []}},
    "configuration-files": {},
}


@pytest.fixture
def peer() -> Iterator[ApiPeer]:
    clear_api_cache()
    with running_peer() as p:
        yield p
    clear_api_cache()


def test_api_context_is_minimised_and_fetched_once(peer: ApiPeer) -> None:
    peer.route("GET", "/", (200, json.dumps(MODEL)))
    importer = ApiImporter(peer.socket_path)
    text = '[required-extensions]\nmotd = "v1"\nstd = "v1"\nnothing = "v1"\n+++\n{{settings.motd}} {{os.arch}}'
    assert render_template_text(text, importer, ENV) == "hi x86_64"
    assert importer.fetch_context(parse_template(text).requirements) == {
        "settings": {"motd": "hi"},
        "os": MODEL["os"],
    }
    # Another importer on the same socket in the same process: still one request.
    assert render_template_text("+++\n{{#each settings}}{{@key}}{{/each}}|", ApiImporter(peer.socket_path), ENV) == "|"
    assert peer.sent() == [("GET", "/")]


@pytest.mark.parametrize(
    "body",
    [
        "{{settings.kernel.lockdown}}",  # not required
        "{{services.chronyd}}",  # never part of the context
        "{{configuration-files}}",
    ],
)
def test_api_context_hides_the_rest(peer: ApiPeer, body: str) -> None:
    peer.route("GET", "/", (200, json.dumps(MODEL)))
    with pytest.raises(RenderTemplate):
        render_template_text(f'[required-extensions]\nmotd = "v1"\n+++\n{body}', ApiImporter(peer.socket_path), ENV)


@pytest.mark.parametrize(
    "reply",
    [
        (500, "boom"),
        (404, ""),
        (200, "not json"),
        (200, "[]"),
        (200, json.dumps({"settings": {}})),
        (200, json.dumps({"os": {}})),
        (200, json.dumps({"settings": "x", "os": {}})),
        (200, json.dumps({"settings": {}, "os": []})),
    ],
)
def test_api_failures_are_retrieve_settings(peer: ApiPeer, reply: tuple[int, str]) -> None:
    peer.route("GET", "/", reply)
    with pytest.raises(RetrieveSettings):
        render_template_text("+++\nx", ApiImporter(peer.socket_path), ENV)


def test_no_api_server(tmp_path: Path) -> None:
    clear_api_cache()
    with pytest.raises(RetrieveSettings) as info:
        render_template_text("+++\nx", ApiImporter(tmp_path / "api.sock"), ENV)
    assert str(tmp_path / "api.sock") in str(info.value)


def test_default_socket_follows_thar_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("THAR_ROOT", str(tmp_path))
    assert ApiImporter().socket_path == str(tmp_path / "run" / "api.sock")
    monkeypatch.delenv("THAR_ROOT")
    assert ApiImporter().socket_path == "/run/api.sock"


# -- v1 templates ------------------------------------------------------------------------------------
def test_v1_template_sees_the_whole_model_and_every_helper_but_if_not_null() -> None:
    from thar.schnauzer.v1 import render_v1_template, v1_helpers

    assert set(v1_helpers(ENV)) == {h for names in OWNERS.values() for h in names} - {"if_not_null"}
    text = '{{settings.motd}} {{join_map "=" "," "fail-if-missing" services.chronyd}} {{os.arch}}'
    model = {**MODEL, "services": {"chronyd": {"x": 1}}}
    assert render_v1_template(text, model, ENV) == "hi x=1 x86_64"
    with pytest.raises(RenderTemplate):
        render_v1_template("{{#if_not_null settings.motd}}x{{/if_not_null}}", model, ENV)
    with pytest.raises(RenderTemplate):
        render_v1_template("{{settings.nope}}", model, ENV)
