"""The oci_defaults helper parses its value without loading the settings model when it can: what
it gives must be exactly what the model gives, and what the model rejects it must reject with the
model's errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thar.models.modeled_types.oci_rules import I64_MAX, LINUX_CAPABILITIES, LINUX_RESOURCE_LIMITS
from thar.models.settings.oci_defaults import OciDefaultsV1
from thar.schnauzer.helpers._models import parse_oci_capabilities, parse_oci_resource_limits

CAPABILITY = st.sampled_from(sorted(LINUX_CAPABILITIES))
LIMIT_TYPE = st.sampled_from(sorted(LINUX_RESOURCE_LIMITS))
LIMIT = st.one_of(st.integers(-3, 5), st.integers(I64_MAX - 2, I64_MAX + 2), st.just("unlimited"), st.just("100"))
ANY_VALUE = st.one_of(st.booleans(), st.none(), st.integers(-2, 2), st.text(max_size=3), LIMIT)


def by_model(section: str, value: Any) -> Any:
    model = OciDefaultsV1.model_validate({section: value})
    if section == "capabilities":
        return dict(model.capabilities or {})
    return {name: (limit.hard_limit, limit.soft_limit) for name, limit in (model.resource_limits or {}).items()}


def model_accepts(section: str, value: Any) -> bool:
    try:
        by_model(section, value)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return False
    return True


capabilities = st.dictionaries(st.one_of(CAPABILITY, st.text(max_size=8)), ANY_VALUE, max_size=6)
limit_entry = st.one_of(
    st.fixed_dictionaries({"hard-limit": LIMIT, "soft-limit": LIMIT}),
    st.dictionaries(st.sampled_from(["hard-limit", "soft-limit", "other"]), LIMIT, max_size=3),
    ANY_VALUE,
)
resource_limits = st.dictionaries(st.one_of(LIMIT_TYPE, st.text(max_size=8)), limit_entry, max_size=5)


@given(st.one_of(capabilities, ANY_VALUE))
def test_capabilities_are_the_models(value: Any) -> None:
    if model_accepts("capabilities", value):
        parsed = parse_oci_capabilities(value, "settings.oci-defaults")
        assert list(parsed.items()) == list(by_model("capabilities", value).items())
    else:
        with pytest.raises(ValueError, match=r"settings\.oci-defaults\.capabilities"):
            parse_oci_capabilities(value, "settings.oci-defaults")


@given(st.one_of(resource_limits, ANY_VALUE))
def test_resource_limits_are_the_models(value: Any) -> None:
    if model_accepts("resource-limits", value):
        parsed = parse_oci_resource_limits(value, "settings.oci-defaults")
        assert list(parsed.items()) == list(by_model("resource-limits", value).items())
    else:
        with pytest.raises(ValueError, match=r"settings\.oci-defaults\.resource-limits"):
            parse_oci_resource_limits(value, "settings.oci-defaults")


def test_unlimited_is_stored_as_minus_one() -> None:
    value = {"max-open-files": {"hard-limit": "unlimited", "soft-limit": 10}}
    assert parse_oci_resource_limits(value, "r") == {"max-open-files": (-1, 10)}


def test_rendering_stored_oci_defaults_does_not_load_the_model(tmp_path: Path) -> None:
    """A process rendering containerd's and docker's configuration from stored values never
    imports pydantic (it would cost the applier about 100 ms of start-up)."""
    settings = {
        "oci-defaults": {
            "capabilities": {"chown": True, "kill": True, "sys-admin": False},
            "resource-limits": {
                "max-open-files": {"hard-limit": 1048576, "soft-limit": 65536},
                "max-processes": {"hard-limit": "unlimited", "soft-limit": -1},
            },
        }
    }
    script = f"""
import json, sys
from thar.schnauzer.engine import compile_template
from thar.schnauzer.helpers import all_helpers
from thar.schnauzer.helpers.environment import HelperEnvironment
helpers = all_helpers(HelperEnvironment(efa_attached=lambda: False))
context = {{"settings": json.loads({json.dumps(json.dumps(settings))})}}
body = '{{{{oci_defaults "containerd" settings.oci-defaults.capabilities}}}}|'
body += '{{{{oci_defaults "docker" settings.oci-defaults.resource-limits}}}}'
print(compile_template(body).render(context, helpers))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    rendered, _, loaded = result.stdout.rstrip("\n").rpartition("\n")
    assert '"CAP_CHOWN",' in rendered and "CAP_SYS_ADMIN" not in rendered
    assert '"nofile":{ "Name": "nofile", "Hard": 1048576, "Soft": 65536 }' in rendered
    assert '"nproc":{ "Name": "nproc", "Hard": -1, "Soft": -1 }' in rendered
    assert loaded == "[]"
