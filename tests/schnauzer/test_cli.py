"""`schnauzer-v2` and the v1 `schnauzer` as subprocesses against the real apiserver on a Unix
socket (fixture F0 of the apiserver tests, plus settings committed through the API)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.conftest import ServerProcess, build_f0

BIN = Path(sys.executable).parent
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "templates" / "real"

MOTD = 'caf\u00e9 "quoted" <b>\n\ttab'
TIME_SERVERS = ["0.pool.example.org", "1.pool.example.org"]
NTP_OPTIONS = ["iburst", "minpoll 4"]
SETTINGS: dict[str, Any] = {
    "motd": MOTD,
    "ntp": {"time-servers": TIME_SERVERS, "options": NTP_OPTIONS},
    "network": {"hostname": "node-1.example.internal"},
}

# Extra v1 `template` metadata (beside F0's settings.updates.metadata-base-url).
V1_TEMPLATES = {
    "settings/kernel/lockdown.template": (
        "{{settings.kernel.lockdown}} {{services.chronyd.configuration-files.[0]}} "
        '{{join_array "," settings.ntp.time-servers}} {{configuration-files.chrony-conf.path}} {{os.version_id}}'
    ),
    "settings/motd.template": "{{#if_not_null settings.motd}}x{{/if_not_null}}",
    "settings/ntp.template": "",
}


@dataclass
class ThaRoot(ServerProcess):
    """The apiserver with its socket where THAR_ROOT points: ``<workdir>/run/api.sock``."""

    @property
    def socket_path(self) -> Path:
        return self.workdir / "run" / "api.sock"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThaRoot]:
    root = tmp_path_factory.mktemp("schnauzer-cli")
    base = build_f0(root / "datastore")
    for relative, template in V1_TEMPLATES.items():
        (base / "live" / relative).write_text(json.dumps(template))
    server = ThaRoot(base=base, workdir=root)
    server.prepare()
    server.socket_path.parent.mkdir()
    server.start()
    try:
        client = server.client()
        response = client.patch("/settings?tx=schnauzer-test", SETTINGS)
        assert response.status == 204, response.body
        assert client.post("/tx/commit?tx=schnauzer-test").status == 200
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_thar_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THAR_ROOT", raising=False)


def run(*args: str | Path, thar_root: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("THAR_ROOT", None)
    if thar_root is not None:
        env["THAR_ROOT"] = str(thar_root)
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, encoding="utf-8", env=env, timeout=60, check=False
    )


def v2(server: ThaRoot, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run(BIN / "schnauzer-v2", "--api-socket", server.socket_path, *args)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The rendered text of a successful run (stdout is a JSON string and a newline)."""
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1
    value = json.loads(result.stdout)
    assert isinstance(value, str)
    return value


def failed(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.strip()
    return result.stderr


# -- schnauzer-v2 render ---------------------------------------------------------------------------
def test_render_output_is_a_json_string(server: ThaRoot) -> None:
    result = v2(server, "render", "--requires", "motd@v1", "--template", "{{{settings.motd}}}")
    assert ok(result) == MOTD
    # serde_json escaping: non-ASCII raw, controls and quotes escaped.
    assert result.stdout == '"caf\u00e9 \\"quoted\\" <b>\\n\\ttab"\n'


def test_render_escapes_html_in_double_braces(server: ThaRoot) -> None:
    result = v2(server, "render", "--requires", "motd@v1", "--template", "{{settings.motd}}")
    assert ok(result) == "caf\u00e9 &quot;quoted&quot; &lt;b&gt;\n\ttab"


def test_render_with_helpers_and_os(server: ThaRoot) -> None:
    result = v2(
        server,
        "render",
        "--requires",
        "ntp@v1",
        "--requires",
        " std@v1 ( helpers = [join_array, default] ) ",
        "--template",
        '{{join_array ", " settings.ntp.time-servers}} {{default "x" settings.ntp.nothing}} {{os.arch}}',
    )
    assert ok(result) == '"0.pool.example.org", "1.pool.example.org" x x86_64'


def test_option_value_may_start_with_a_dash(server: ThaRoot) -> None:
    assert ok(v2(server, "render", "--template", "--{{os.arch}}")) == "--x86_64"


def test_render_sees_only_required_settings(server: ThaRoot) -> None:
    stderr = failed(v2(server, "render", "--requires", "ntp@v1", "--template", "{{settings.motd}}"))
    assert "settings.motd" in stderr
    assert ok(v2(server, "render", "--template", "{{#if settings.motd}}yes{{else}}no{{/if}}")) == "no"


@pytest.mark.parametrize(
    "args",
    [
        ["render", "--requires", "no.dots@v1", "--template", "x"],  # bad --requires
        ["render", "--requires", "a@v1(helpers=[h])", "--requires", "b@v1(helpers=[h])", "--template", "x"],
        ["render", "--requires", "nope@v1(helpers=[x])", "--template", "x"],  # no such extension
        ["render", "--requires", "std@v1(helpers=[host])", "--template", "x"],  # not std's helper
        ["render", "--template", "{{#if}}"],  # template syntax
        ["render", "--requires", "motd@v1"],  # --template is required
        ["render-file"],  # --path is required
        ["render-file", "--path", "/nonexistent/template"],
        ["frobnicate"],
        [],
    ],
)
def test_errors_exit_1(server: ThaRoot, args: list[str]) -> None:
    failed(v2(server, *args))


def test_invalid_log_level_exits_1(server: ThaRoot) -> None:
    failed(run(BIN / "schnauzer-v2", "--log-level", "loud", "render", "--template", "x"))
    assert ok(v2(server, "--log-level", "TRACE", "render", "--template", "x")) == "x"


def test_debug_logs_go_to_stderr(server: ThaRoot) -> None:
    result = v2(server, "--log-level", "debug", "render", "--requires", "motd@v1", "--template", "{{os.arch}}")
    assert ok(result) == "x86_64"
    assert f"GETing / from {server.socket_path}" in result.stderr
    assert v2(server, "render", "--template", "x").stderr == ""  # info: quiet


def test_help_exits_0() -> None:
    result = run(BIN / "schnauzer-v2", "--help")
    assert result.returncode == 0 and "render-file" in result.stdout


def test_no_server(tmp_path: Path) -> None:
    stderr = failed(run(BIN / "schnauzer-v2", "--api-socket", tmp_path / "api.sock", "render", "--template", "x"))
    assert str(tmp_path / "api.sock") in stderr


def test_default_socket_under_thar_root(server: ThaRoot) -> None:
    result = run(BIN / "schnauzer-v2", "render", "--requires", "network@v1", "--template",
                 "{{settings.network.hostname}}", thar_root=server.workdir)  # fmt: skip
    assert ok(result) == "node-1.example.internal"


# -- schnauzer-v2 render-file ----------------------------------------------------------------------
def test_render_file_real_chrony(server: ThaRoot) -> None:
    rendered = ok(v2(server, "render-file", "--path", REAL / "chrony__chrony-conf"))
    pools = [line for line in rendered.splitlines() if line.startswith("pool ")]
    assert pools == [f"pool {name} {' '.join(NTP_OPTIONS)}" for name in TIME_SERVERS]


def test_render_file_parse_error(server: ThaRoot, tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_text('[required-extensions]\nmotd = "v1"\n+++ \n{{settings.motd}}\n')
    assert "grammar" in failed(v2(server, "render-file", "--path", path))


def test_render_file_keeps_missing_trailing_newline(server: ThaRoot, tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text('[required-extensions]\nnetwork = "v1"\n+++\nHOSTNAME={{settings.network.hostname}}')
    assert ok(v2(server, "render-file", "--path", path)) == "HOSTNAME=node-1.example.internal"


# -- v1 schnauzer ----------------------------------------------------------------------------------
def test_v1_renders_the_setting_template(server: ThaRoot) -> None:
    # F0: settings.updates.metadata-base-url has template "https://updates.example/{{ os.arch }}/"
    result = run(BIN / "schnauzer", "settings.updates.metadata-base-url", thar_root=server.workdir)
    assert ok(result) == "https://updates.example/x86_64/"


def test_v1_context_is_the_whole_model_with_helpers(server: ThaRoot) -> None:
    result = run(BIN / "schnauzer", "settings.kernel.lockdown", thar_root=server.workdir)
    assert ok(result) == 'integrity chrony-conf "0.pool.example.org","1.pool.example.org" /etc/chrony.conf 1.20.0'


def test_v1_has_no_if_not_null(server: ThaRoot) -> None:
    failed(run(BIN / "schnauzer", "settings.motd", thar_root=server.workdir))


@pytest.mark.parametrize("key", ["settings.ntp", "settings.network.hostname", "settings.no-such-thing"])
def test_v1_setting_without_template(server: ThaRoot, key: str) -> None:
    assert key in failed(run(BIN / "schnauzer", key, thar_root=server.workdir))


@pytest.mark.parametrize("args", [[], ["a", "b"]])
def test_v1_usage(args: list[str]) -> None:
    assert "Usage" in failed(run(BIN / "schnauzer", *args), code=2)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_v1_help_exits_0(flag: str) -> None:
    result = run(BIN / "schnauzer", flag)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: schnauzer SETTING_KEY")


def test_v1_no_server(tmp_path: Path) -> None:
    failed(run(BIN / "schnauzer", "settings.motd", thar_root=tmp_path))
