"""host-ctr's registry configuration as ctr's hosts directory and credentials (no daemons)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import toml

from thar.host_ctr.registry import RegistryConfig, RegistryConfigError, reference_host, registry_host_dir


@pytest.mark.parametrize(
    ("ref", "host"),
    [
        ("busybox", "docker.io"),
        ("library/busybox:1", "docker.io"),
        ("public.ecr.aws/bottlerocket/admin:v1", "public.ecr.aws"),
        ("localhost/x", "localhost"),
        ("127.0.0.1:5000/x@sha256:" + "0" * 64, "127.0.0.1:5000"),
    ],
)
def test_the_registry_host_of_a_reference(ref: str, host: str) -> None:
    assert reference_host(ref) == host


def test_mirrors_then_the_host_and_the_credentials_of_the_host(tmp_path: Path) -> None:
    auth = base64.b64encode(b"me:secret").decode()
    config = RegistryConfig.parse(
        toml.loads(
            '[mirrors."docker.io"]\nendpoints = ["mirror.example:5000", "http://plain.example"]\n'
            '[mirrors."*"]\nendpoints = ["https://all.example"]\n'
            f'[creds."registry-1.docker.io"]\nauth = "{auth}"\n[creds."quay.io"]\nidentitytoken = "tok"\n'
        ),
        "test",
    )
    assert config.endpoints("docker.io") == [
        "https://mirror.example:5000",
        "http://plain.example",
        "https://registry-1.docker.io",
    ]
    assert config.endpoints("quay.io") == ["https://all.example", "https://quay.io"]
    assert config.endpoints("localhost:5000") == ["https://all.example", "http://localhost:5000"]
    docker = config.credential("docker.io")
    assert docker is not None and docker.user() == "me:secret"
    quay = config.credential("quay.io")
    assert quay is not None and quay.user() is None and quay.identitytoken == "tok"
    registry_host_dir(config, "docker.io", tmp_path)
    hosts = toml.loads((tmp_path / "docker.io/hosts.toml").read_text())
    assert hosts["server"] == "https://registry-1.docker.io"
    assert list(hosts["host"]) == ["https://mirror.example:5000", "http://plain.example"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mirrors = 1", "mirrors is not a table"),
        ('[mirrors."a"]\nendpoints = "x"', "mirrors.a.endpoints is not a list of strings"),
        ('[creds."a"]\nauth = "bm90LWEtcGFpcg=="', "creds.a.auth is not base64 'user:password'"),
        ('[creds."a"]\nauth = "***"', "creds.a.auth is not base64 'user:password'"),
        ('[creds."a"]\nusername = 1', "creds.a is not a table of strings"),
    ],
)
def test_a_malformed_config_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "host-ctr.toml"
    path.write_text(text)
    with pytest.raises(RegistryConfigError, match=re.escape(f"registry config {path}: {message}")):
        RegistryConfig.load(path)


def test_a_missing_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(RegistryConfigError, match=re.escape(f"registry config {tmp_path}/missing.toml: No such file")):
        RegistryConfig.load(tmp_path / "missing.toml")
