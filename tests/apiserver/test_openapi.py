"""``openapi.yaml`` describes exactly what the server serves, is valid OpenAPI 3.0, and its
Settings schema is the thar-dev variant's settings model."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
import yaml

from thar import variants
from thar.apiserver.routes import ROUTES
from thar.models import ConfigurationFile, Os, Service, load_variant

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Spellings the validation-mode JSON Schema of the model does not list: accepted on input
# (`creds`, `kernel`, `init`) or used on output (`kernel`, `init`); see models/settings.
EXTRA_SPELLINGS = {"BootSettingsV1": {"kernel", "init"}, "RegistrySettingsV1": {"creds"}}


@cache
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS}


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema (draft 4): ``nullable`` becomes a null alternative."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def validator(name: str) -> jsonschema_rs.Validator:
    """A validator for ``components/schemas/<name>``, its references resolved within the file."""
    root = {"$ref": f"#/components/schemas/{name}", "components": to_json_schema(document()["components"])}
    return jsonschema_rs.Draft4Validator(root)


# -- the routes -----------------------------------------------------------------------------------
def test_operations_are_the_served_routes() -> None:
    served = {(method, path) for method, path, _ in ROUTES}
    described = operations(document())
    assert served - described == set(), "served but not in openapi.yaml"
    assert described - served == set(), "in openapi.yaml but not served"


def test_operations_are_in_route_order() -> None:
    """``ROUTES`` lists the routes in this file's order (apiserver/routes.py says so)."""
    described = [(m.upper(), path) for path, item in document()["paths"].items() for m in item if m in HTTP_METHODS]
    assert described == [(method, path) for method, path, _ in ROUTES]


def test_operation_ids_are_unique() -> None:
    ids = [op["operationId"] for item in document()["paths"].values() for m, op in item.items() if m in HTTP_METHODS]
    assert len(ids) == len(set(ids)) == len(ROUTES)


# -- the document ---------------------------------------------------------------------------------
def test_is_valid_openapi_3_0() -> None:
    doc = document()
    assert str(doc["openapi"]).startswith("3.0.")
    schemathesis.openapi.from_dict(copy.deepcopy(doc)).validate()


def test_validation_rejects_what_openapi_3_0_lacks() -> None:
    """The check above is a real one: JSON Schema keywords OpenAPI 3.0 lacks make it fail."""
    doc = copy.deepcopy(document())
    doc["components"]["schemas"]["Broken"] = {"type": "object", "patternProperties": {"^a$": {"type": "string"}}}
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(doc).validate()


# A waited-for apply that failed or timed out answers with its report (the commit was made).
APPLY_REPORTS = {"ApplyFailed": "502", "ApplyTimedOut": "504"}


def test_every_operation_documents_its_errors_as_text() -> None:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "500" in responses, (method, path)
            # success is 2xx, or for GET /exec the upgrade to a WebSocket
            assert any(code.startswith("2") or code == "101" for code in responses), (method, path)
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    if "$ref" not in response:  # an answer with an empty body
                        assert "content" not in response, (method, path, code)
                        continue
                    name = response["$ref"].rsplit("/", 1)[1]
                    content = set(document()["components"]["responses"][name]["content"])
                    if APPLY_REPORTS.get(name) == code:
                        assert content == {"application/json"}, code
                        continue
                    assert content == {"text/plain"}, code


# -- the schemas ----------------------------------------------------------------------------------
def test_settings_schema_accepts_the_variant_defaults() -> None:
    settings = load_variant(variants.path("thar-dev")).defaults["settings"]
    validator("Settings").validate(settings)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"motd": None},
        {"kernel": {"lockdown": None}},
        {"boot": {"kernel": {"console": ["tty0"]}}},
        {"container-registry": {"mirrors": {"docker.io": ["https://mirror.example"]}}},
    ],
)
def test_settings_schema_accepts(settings: dict[str, Any]) -> None:
    validator("Settings").validate(settings)


@pytest.mark.parametrize(
    "settings",
    [
        {"no-such-setting": "x"},
        {"kernel": {"no-such-field": "x"}},
        {"settings": {"motd": "hi"}},
        {"motd": 42},
        {"ntp": {"time-servers": "not a list"}},
        {"container-registry": {"mirrors": None}},
    ],
)
def test_settings_schema_rejects(settings: dict[str, Any]) -> None:
    assert not validator("Settings").is_valid(settings)


def test_settings_schema_tracks_the_model() -> None:
    """Every object of the model, with the same field names: the file holds a copy of the model's
    schema, so a change to the model must be carried into it."""
    model = load_variant(variants.path("thar-dev")).settings_schema()
    schemas = document()["components"]["schemas"]
    assert set(schemas["Settings"]["properties"]) == set(model["properties"])
    for name, definition in model["$defs"].items():
        assert name in schemas, name
        expected = set(definition.get("properties", {})) | EXTRA_SPELLINGS.get(name, set())
        assert set(schemas[name].get("properties", {})) == expected, name


@pytest.mark.parametrize(
    ("name", "model"), [("Service", Service), ("ConfigurationFile", ConfigurationFile), ("Os", Os)]
)
def test_api_schemas_track_the_models(name: str, model: Any) -> None:
    schema = document()["components"]["schemas"][name]
    expected = model.model_json_schema(by_alias=True)
    assert set(schema["properties"]) == set(expected["properties"])
    assert set(schema.get("required", [])) <= set(expected.get("required", []))


def test_keypair_and_os_shapes() -> None:
    keypair = validator("SettingsKeyPair")
    assert keypair.is_valid({"request_payload": ["motd=hi"]})
    assert not keypair.is_valid({"request_payload": "motd=hi"})
    assert not keypair.is_valid({})
    release = {"pretty_name": "thar 0.1.0", "variant_id": "thar-dev", "version_id": "0.1.0", "build_id": "5fa4b7e7",
               "arch": "x86_64"}  # fmt: skip
    assert validator("Os").is_valid(release)
    assert not validator("Os").is_valid({"variant-id": "thar-dev"})  # kebab-case is Bottlerocket's file's mistake
