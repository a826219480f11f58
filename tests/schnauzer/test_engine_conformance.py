"""The engine against the conformance probes (engine-probes.json) and the upstream v1 whitespace
cases (misc-cases.json ``engine_whitespace_cases``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from thar.schnauzer.engine import EngineError, compile_template

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "templates" / "schnauzer-fixtures"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


PROBES_DOC = _load("engine-probes.json")
PROBES: list[dict[str, Any]] = PROBES_DOC["cases"]
WHITESPACE: list[dict[str, Any]] = _load("misc-cases.json")["engine_whitespace_cases"]


def test_probe_file_shape() -> None:
    assert PROBES_DOC["engine"] == "handlebars-rust 4.5.0"
    assert PROBES_DOC["strict"] is True
    assert len(PROBES) >= 50
    assert len(WHITESPACE) >= 2


@pytest.mark.parametrize("case", PROBES, ids=[f"{i:02d}-{_slug(c['what'])}" for i, c in enumerate(PROBES)])
def test_engine_probe(case: dict[str, Any]) -> None:
    template = compile_template(case["template"])
    if case["expect_error"]:
        with pytest.raises(EngineError):
            template.render(case["context"], {}, strict=PROBES_DOC["strict"])
    else:
        assert template.render(case["context"], {}, strict=PROBES_DOC["strict"]) == case["expected"]


@pytest.mark.parametrize("case", WHITESPACE, ids=[f"v1-whitespace-{i}" for i in range(len(WHITESPACE))])
def test_v1_whitespace_case(case: dict[str, Any]) -> None:
    template = compile_template(case["template"])
    assert template.render(case["context"], {}, strict=case["strict"]) == case["expected"]
