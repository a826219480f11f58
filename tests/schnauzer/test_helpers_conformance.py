"""Conformance: Bottlerocket's helper unit cases rendered through the engine with all helpers.

Reads ``schnauzer-fixtures/helper-cases.json`` from ../shared/conformance: every ``cases`` entry is
a template rendered as ``compile_template(template).render(context, all_helpers(env),
strict=case["strict"])``; environment-dependent cases run with the stated environment injected
(FIPS off, a resolver answering as the note says, each listed CPU count). Every
``oci_defaults_formatter_cases`` entry runs both through the helper directly and through a template.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from thar.schnauzer.engine import EngineError, compile_template
from thar.schnauzer.helper_api import Param
from thar.schnauzer.helpers import OWNERS, HelperEnvironment, all_helpers

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "templates" / "schnauzer-fixtures"
DATA = json.loads((FIXTURES / "helper-cases.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]
OCI_CASES: list[dict[str, Any]] = DATA["oci_defaults_formatter_cases"]["cases"]

# The resolver as the environment notes of the cases describe it: 'localhost' resolves to
# loopback, amazon.com to a public address, the bottlerocket.aws test names do not resolve.
DNS = {"localhost": ["127.0.0.1", "::1"], "amazon.com": ["205.251.242.103"]}


def _resolve(name: str) -> list[str]:
    if name in DNS:
        return DNS[name]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _no_efa() -> bool:
    raise AssertionError("no helper case should look for EFA devices")


def case_env(cpus: int = 2) -> HelperEnvironment:
    return HelperEnvironment(cpu_count=lambda: cpus, efa_attached=_no_efa, fips_enabled=lambda: False, resolve=_resolve)


def _case_id(index: int, case: dict[str, Any]) -> str:
    return f"{index:03d}-{case['helper']}"


def _expanded() -> list[Any]:
    params = []
    for index, case in enumerate(CASES):
        by_cpu = case.get("expected_by_cpu_count")
        if by_cpu is None:
            params.append(pytest.param(case, None, id=_case_id(index, case)))
        else:
            for cpus in by_cpu:
                params.append(pytest.param(case, int(cpus), id=f"{_case_id(index, case)}-{cpus}cpu"))
    return params


def render_case(case: dict[str, Any], cpus: int | None) -> str:
    env = case_env(cpus if cpus is not None else 2)
    template = compile_template(case["template"])
    return template.render(case["context"], all_helpers(env), strict=case["strict"])


def test_fixture_counts() -> None:
    assert len(CASES) == 167
    assert len(OCI_CASES) == 23


@pytest.mark.parametrize(("case", "cpus"), _expanded())
def test_helper_case(case: dict[str, Any], cpus: int | None) -> None:
    if case.get("expect_error"):
        with pytest.raises(EngineError) as info:
            render_case(case, cpus)
        assert case["helper"] in str(info.value)  # the helper failed, not the template
        return
    output = render_case(case, cpus)
    if cpus is not None:
        expected = case["expected_by_cpu_count"][str(cpus)]
    else:
        expected = case["expected"]
    if "trimming" in case.get("note", ""):
        output = output.strip()
    assert output == expected


def _oci_id(index: int, case: dict[str, Any]) -> str:
    return f"{index:02d}-{case['runtime']}-{case['section']}"


OCI_PARAMS = [pytest.param(case, id=_oci_id(index, case)) for index, case in enumerate(OCI_CASES)]


def _check_oci(case: dict[str, Any], output: str) -> None:
    if "expected" in case:
        assert output == case["expected"]
    else:
        assert case["expected_contains"] in output.split(",\n")


@pytest.mark.parametrize("case", OCI_PARAMS)
def test_oci_defaults_formatter_direct(case: dict[str, Any]) -> None:
    efa = bool(case.get("efa_attached", False))
    helper = all_helpers(HelperEnvironment(efa_attached=lambda: efa))["oci_defaults"]
    path = f"settings.oci-defaults.{case['section']}"
    _check_oci(case, helper.fn([Param(case["runtime"]), Param(case["value"], path=path)], {}))


@pytest.mark.parametrize("case", OCI_PARAMS)
def test_oci_defaults_formatter_in_template(case: dict[str, Any]) -> None:
    efa = bool(case.get("efa_attached", False))
    helpers = all_helpers(HelperEnvironment(efa_attached=lambda: efa))
    context = {"settings": {"oci-defaults": {case["section"]: case["value"]}}}
    template = compile_template(f'{{{{oci_defaults "{case["runtime"]}" settings.oci-defaults.{case["section"]}}}}}')
    _check_oci(case, template.render(context, helpers, strict=True))


MISC = json.loads((FIXTURES / "misc-cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", MISC["static_helper_registry_cases"], ids=lambda case: str(case["extension"]))
def test_static_helper_registry(case: dict[str, Any]) -> None:
    assert list(OWNERS[case["extension"]]) == case["helpers"]
