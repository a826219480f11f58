"""updog.toml: what the variants' template renders from settings.updates is what updog reads
(updates.md §1), and a wrong file is refused with the key named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.thar_be_settings.models import GENERATED, RICH, TEST_ENV, variant_model
from thar import variants
from thar.thar_be_settings.plan import render_file
from thar.updog.config import Config, load_config, set_proxy_env
from thar.updog.errors import UpdogError


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_the_rendered_updog_toml_loads_with_the_settings_values(variant: str, tmp_path: Path) -> None:
    template = variants.path(variant) / "templates" / "updog-toml"
    if not template.exists():
        pytest.skip(f"{variant} renders no updog.toml")
    model = variant_model(variant, GENERATED[variant], RICH)
    path = tmp_path / "updog.toml"
    path.write_text(render_file(template, model, TEST_ENV))
    config = load_config(path)
    updates = model["settings"]["updates"]
    assert config.metadata_base_url == updates["metadata-base-url"]
    assert config.targets_base_url == updates["targets-base-url"]
    assert config.seed == updates["seed"]
    assert config.version_lock == updates["version-lock"]
    assert config.ignore_waves == updates.get("ignore-waves", False)
    network = model["settings"].get("network", {})
    assert config.https_proxy == network.get("https-proxy")
    assert config.no_proxy == (tuple(network["no-proxy"]) if "no-proxy" in network else None)


BASE = 'metadata_base_url = "http://m/"\ntargets_base_url = "http://t/"\nversion_lock = "latest"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE + "ignore_waves = false\n", "missing field `seed`"),
        (BASE + "seed = true\nignore_waves = false\n", "invalid type for `seed`"),
        (BASE + "seed = 4294967296\nignore_waves = false\n", "is not a u32"),
        (BASE + "seed = 1\nignore_waves = 0\n", "invalid type for `ignore_waves`"),
        (BASE + 'seed = 1\nignore_waves = false\nno_proxy = "a,b"\n', "invalid type for `no_proxy`"),
        (BASE + "seed = 1\nignore_waves = false\nseed = 2\n", "Failed to parse config file"),
    ],
)
def test_a_wrong_updog_toml_is_refused_naming_the_key(text: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "updog.toml"
    path.write_text(text)
    with pytest.raises(UpdogError, match=f"^Failed to parse config file {path}: ") as raised:
        load_config(path)
    assert expected in str(raised.value)


def test_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "updog.toml"
    path.write_text(BASE + "seed = 7\nignore_waves = true\nfuture_key = 1\n")
    assert load_config(path) == Config("http://m/", "http://t/", 7, "latest", True)


def test_no_proxy_is_set_only_with_a_proxy() -> None:
    env: dict[str, str] = {}
    set_proxy_env(Config("m", "t", 1, "latest", False, None, ("a", "b")), env)
    assert env == {}
    set_proxy_env(Config("m", "t", 1, "latest", False, "http://proxy:3128", ("a", "b")), env)
    assert env == {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "a,b"}
    assert "HTTPS_PROXY" not in os.environ or os.environ["HTTPS_PROXY"] != "http://proxy:3128"
