"""``thar-update-repo`` (thar/update_repo.py), as README.md's "Publishing an update repository"
runs it: build a repository, serve it on 127.0.0.1, and the real ``updog`` of a host that trusts
its root.json and whose updog.toml is the variant's rendered default finds the release."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import lz4.frame
import pytest
from tuf.api.metadata import Metadata

from tests.thar_be_settings.models import TEST_ENV
from tests.tuf_repo import serve
from thar import variants
from thar.thar_be_settings.plan import render_file
from thar.updog.config import load_config

CHECKOUT = Path(__file__).resolve().parents[2]
ARCH = platform.machine()
VARIANT = "thar-dev"


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "THAR_ROOT"}
    return {**clean, "PYTHONPATH": str(CHECKOUT), **extra}


def publish(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.update_repo", *args], capture_output=True, text=True, env=env(), timeout=120
    )


def updog(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thar.updog", *args],
        capture_output=True,
        text=True,
        env=env(THAR_ROOT=str(root)),
        timeout=60,
    )


def host(root: Path, base_url: str, trusted: Path, running: str) -> None:
    """A thar-dev host: updog.toml rendered by the variant's template from its default URLs
    (pointed at the server's port), the repository's root.json as the trust anchor."""
    defaults = (variants.path(VARIANT) / "defaults.d/15-updates.toml").read_text()
    port_default = "http://127.0.0.1:8000/"
    assert f'targets-base-url = "{port_default}targets/"' in defaults  # the README's server
    settings = {
        "updates": {
            "metadata-base-url": f"{base_url}/2020-07-07/{VARIANT}/{ARCH}/",
            "targets-base-url": f"{base_url}/targets/",
            "seed": 1234,
            "version-lock": "latest",
            "ignore-waves": False,
        },
        "network": {},
    }
    (root / "etc").mkdir(parents=True)
    template = variants.path(VARIANT) / "templates/updog-toml"
    (root / "etc/updog.toml").write_text(render_file(template, {"settings": settings, "os": {}}, TEST_ENV))
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text(f"NAME=thar\nVERSION_ID={running}\nVARIANT_ID={VARIANT}\n")
    (root / "usr/share/updog").mkdir(parents=True)
    (root / "usr/share/updog/root.json").write_bytes(trusted.read_bytes())
    load_config(root / "etc/updog.toml")


def test_a_published_repository_serves_its_release_to_updog(tmp_path: Path) -> None:
    repo, key = tmp_path / "repo", tmp_path / "keys/root.pem"
    common = ["--repo", str(repo), "--key", str(key), "--variant", VARIANT, "--arch", ARCH]
    created = publish("create", *common)
    assert created.returncode == 0, created.stderr
    trusted = repo / "2020-07-07" / VARIANT / ARCH / "1.root.json"
    assert str(trusted) in created.stdout
    assert key.stat().st_mode & 0o777 == 0o600
    root = Metadata.from_file(str(trusted))
    assert root.signed.consistent_snapshot
    assert {k.scheme for k in root.signed.keys.values()} == {"rsassa-pss-sha256"}
    images = {}
    for version in ("1.0.0", "1.1.0"):
        files = []
        for kind in ("boot", "root", "hash"):
            path = tmp_path / f"{kind}-{version}.img"
            path.write_bytes(f"{kind} {version}\n".encode() * 1000)
            files += [f"--{kind}", str(path)]
            images[(kind, version)] = path.read_bytes()
        added = publish("add-update", *common, "--version", version, *files)
        assert added.returncode == 0, added.stderr
    again = publish("add-update", *common, "--version", "1.1.0", *files)
    assert again.returncode == 1 and "1.1.0 is already published" in again.stderr

    with serve(repo) as (url, log):
        system = tmp_path / "host"
        host(system, url, trusted, running="1.0.0")
        done = updog(system, "check-update", "--json")
        assert done.returncode == 0, done.stderr
        update = json.loads(done.stdout)
        assert (update["variant"], update["arch"], update["version"]) == (VARIANT, ARCH, "1.1.0")
        assert update["max_version"] == "1.1.0"
        assert any(p.startswith("/targets/") and ".manifest.json?" in p for p in log)
        listed = updog(system, "whats", "--all", "--json")
        assert [u["version"] for u in json.loads(listed.stdout)] == ["1.1.0", "1.0.0"]

    targets = sorted((repo / "targets").iterdir())
    stored = {p.name.split(".", 1)[1]: p.read_bytes() for p in targets}
    boot = stored[update["images"]["boot"]]
    assert lz4.frame.decompress(boot) == images[("boot", "1.1.0")]
    manifests = [json.loads(p.read_bytes()) for p in targets if p.name.endswith(".manifest.json")]
    newest = max(manifests, key=lambda m: len(m["updates"]))
    assert newest["migrations"] == {"(1.0.0, 1.1.0)": []}


def test_a_key_that_does_not_sign_the_repository_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    common = ["--repo", str(repo), "--variant", VARIANT, "--arch", ARCH]
    assert publish("create", *common, "--key", str(tmp_path / "a.pem")).returncode == 0
    assert publish("create", *common, "--key", str(tmp_path / "b.pem"), "--arch", "other").returncode == 0
    done = publish("resign", *common, "--key", str(tmp_path / "b.pem"))
    assert done.returncode == 1
    assert "the key does not sign this repository's roles" in done.stderr


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_the_default_urls_are_the_readmes_loopback_server(variant: str) -> None:
    text = (variants.path(variant) / "defaults.d/15-updates.toml").read_text()
    assert 'targets-base-url = "http://127.0.0.1:8000/targets/"' in text
    assert "'http://127.0.0.1:8000/2020-07-07/{{ os.variant_id }}/{{ os.arch }}/'" in text


def readme_commands() -> list[list[str]]:
    """The ``thar-update-repo`` commands of README.md's "Publishing an update repository"."""
    text = (CHECKOUT / "README.md").read_text()
    section = text.split("## Publishing an update repository\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return [shlex.split(line) for line in block.splitlines() if line.startswith("thar-update-repo ")]


def test_the_readme_recipe_publishes_what_updog_installs(tmp_path: Path) -> None:
    commands = readme_commands()
    assert [c[1] for c in commands] == ["create", "add-update", "add-update", "resign"]
    for name in ("boot.ext4", "root.ext4", "root.verity", "migrate_v1.1.0_example"):
        (tmp_path / name).write_bytes(name.encode() * 512)
    for command in commands:
        argv = [ARCH if arg == "x86_64" else arg for arg in command[1:]]  # this machine's arch
        done = subprocess.run(
            [sys.executable, "-m", "thar.update_repo", *argv],
            capture_output=True,
            text=True,
            env=env(),
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 0, f"{command}: {done.stderr}"
    repo = tmp_path / "update-repo"
    assert not list(repo.rglob("*.pem"))  # the key is not served
    with serve(repo) as (url, _):
        system = tmp_path / "host"
        host(system, url, repo / "2020-07-07" / VARIANT / ARCH / "1.root.json", running="1.0.0")
        done = updog(system, "check-update", "--json")
        assert done.returncode == 0, done.stderr
        update = json.loads(done.stdout)
        assert (update["version"], list(update["waves"])) == ("1.1.0", ["0", "1024"])
    manifests = [json.loads(p.read_bytes()) for p in (repo / "targets").glob("*.manifest.json")]
    newest = max(manifests, key=lambda m: len(m["updates"]))
    assert newest["migrations"] == {"(1.0.0, 1.1.0)": ["migrate_v1.1.0_example.lz4"]}
    (migration,) = (repo / "targets").glob("*.migrate_v1.1.0_example.lz4")
    assert lz4.frame.decompress(migration.read_bytes()) == (tmp_path / "migrate_v1.1.0_example").read_bytes()
