"""End to end in a sandbox: storewolf, the real apiserver with the real thar-be-settings as its
applier, settings-committer and `thar-be-settings --all`, then changes through apiclient."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable

import pytest

from .conftest import Sandbox
from .models import template_names

MakeSandbox = Callable[..., Sandbox]


def _files(sandbox: Sandbox) -> dict[str, dict[str, str]]:
    answer = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), "get", "/configuration-files")
    assert answer.returncode == 0, answer.stderr
    files: dict[str, dict[str, str]] = json.loads(answer.stdout)
    return files


def _services(sandbox: Sandbox) -> dict[str, dict[str, list[str]]]:
    answer = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), "get", "/services")
    assert answer.returncode == 0, answer.stderr
    services: dict[str, dict[str, list[str]]] = json.loads(answer.stdout)
    return services


def test_boot_renders_every_file_with_its_mode_and_restarts_every_service(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    files = _files(sandbox)
    assert sorted({f["template-path"].rsplit("/", 1)[1] for f in files.values()}) == template_names("thar-dev")
    for name, entry in files.items():
        target = sandbox.path(entry["path"])
        assert target.is_file(), name
        assert stat.S_IMODE(target.stat().st_mode) == int(entry.get("mode", "0644"), 8), name
    assert sandbox.path("/etc/motd").read_text() == "Welcome to thar!\n"
    restarted = [service for service, changed in sandbox.restarts()]
    expected = [name for name, s in _services(sandbox).items() if s["restart-commands"]]
    assert sorted(restarted) == sorted(expected)
    assert all(changed == [] for _, changed in sandbox.restarts())  # --all: no CHANGED_SETTINGS


def test_apiclient_set_motd_rewrites_the_sandbox_motd(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    before = sandbox.restarts()
    done = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), "set", "motd=hi")
    assert done.returncode == 0, done.stderr
    motd = sandbox.path("/etc/motd")
    sandbox.wait_for(lambda: motd.read_text() == "hi\n", "etc/motd to say hi")
    sandbox.wait_idle()
    assert sandbox.restarts() == before  # motd has no restart commands


def test_multi_service_change_rewrites_files_and_records_restarts(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    before = len(sandbox.restarts())
    change = {"ntp": {"time-servers": ["time.example.com"]}, "network": {"https-proxy": "http://proxy.example:3128"}}
    done = sandbox.run("apiclient", "--socket-path", str(sandbox.socket), "set", "--json", json.dumps(change))
    assert done.returncode == 0, done.stderr
    chrony, proxy = sandbox.path("/etc/chrony.conf"), sandbox.path("/etc/network/proxy.env")
    sandbox.wait_for(lambda: "pool time.example.com iburst maxsources 3\n" in chrony.read_text(), "chrony.conf")
    sandbox.wait_for(lambda: "HTTPS_PROXY=http://proxy.example:3128\n" in proxy.read_text(), "proxy.env")
    expected = {
        "chronyd": ["settings.ntp.time-servers"],
        "containerd": ["settings.network.https-proxy"],
        "host-containerd": ["settings.network.https-proxy"],
        "host-containers": ["settings.network.https-proxy"],
        "metricdog": ["settings.network.https-proxy"],
    }
    sandbox.wait_for(lambda: len(sandbox.restarts()) >= before + len(expected), "the restarts")
    sandbox.wait_idle()
    assert dict(sandbox.restarts()[before:]) == expected
    assert "https_proxy" in sandbox.path("/etc/updog.toml").read_text()


def test_all_reports_each_failing_template_and_writes_the_rest(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    templates = sandbox.path("/usr/share/templates")
    (templates / "motd").write_text('[required-extensions]\nmotd = "v1"\n+++\n{{settings.nope}}\n')
    (templates / "hosts").write_text("not a template\n")
    chrony = sandbox.path("/etc/chrony.conf")
    chrony.unlink()
    before = len(sandbox.restarts())
    done = sandbox.apply_all()
    assert done.returncode == 1
    assert "'motd'" in done.stderr and "'hosts'" in done.stderr
    assert "Unable to render template 'motd'" in done.stdout
    assert chrony.is_file()  # the others were written
    assert sandbox.path("/etc/motd").read_text() == "Welcome to thar!\n"  # left untouched
    assert len(sandbox.restarts()) > before  # services still restarted


def test_dry_run_prints_the_diff_and_restarts_and_writes_nothing(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    # Commit without applying, so the files are behind the settings.
    patch = sandbox.server.client().patch("/settings?tx=dry", {"ntp": {"time-servers": ["time.example.com"]}})
    assert patch.status == 204
    assert sandbox.server.client().post("/tx/commit?tx=dry").status == 200
    chrony = sandbox.path("/etc/chrony.conf")
    before, restarts = chrony.read_text(), sandbox.restarts()
    keys = json.dumps(["settings.ntp.time-servers"])
    done = sandbox.run("thar-be-settings", "--dry-run", "--socket-path", str(sandbox.socket), stdin=keys)
    assert done.returncode == 0, done.stderr
    assert "-pool 0.pool.ntp.org iburst maxsources 3\n" in done.stdout
    assert "+pool time.example.com iburst maxsources 3\n" in done.stdout
    assert "CHANGED_SETTINGS='settings.ntp.time-servers' thar-record-restart chronyd" in done.stdout
    assert "[INFO]" not in done.stdout and "[INFO] Rendering config files..." in done.stderr  # stdout: the plan
    assert chrony.read_text() == before and sandbox.restarts() == restarts
    everything = sandbox.apply_all("--dry-run")
    assert everything.returncode == 0, everything.stderr
    assert "+pool time.example.com" in everything.stdout and "thar-record-restart containerd" in everything.stdout
    assert chrony.read_text() == before and sandbox.restarts() == restarts


@pytest.mark.parametrize("variant", ["thar-k8s"])
def test_k8s_sandbox_renders_every_file(make_sandbox: MakeSandbox, variant: str) -> None:
    """thar-k8s's restart commands are a real host's, so the sandbox applies without them."""
    sandbox = make_sandbox(variant, apply=False)
    done = sandbox.apply_all("--no-restart")
    assert done.returncode == 0, done.stderr
    for name, entry in _files(sandbox).items():
        assert sandbox.path(entry["path"]).is_file(), name
    kubeconfig = sandbox.path("/etc/kubernetes/kubelet/kubeconfig")
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert sandbox.restarts() == []


def test_specific_keys_edge_cases(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("thar-dev")
    motd = sandbox.path("/etc/motd")
    motd.write_text("edited\n")
    socket = ("--socket-path", str(sandbox.socket))
    # A key no service depends on: nothing is written, exit 0.
    done = sandbox.run("thar-be-settings", *socket, stdin='["settings.nothing"]')
    assert done.returncode == 0, done.stderr
    assert "No services are affected, exiting..." in done.stdout and motd.read_text() == "edited\n"
    # No keys at all: the API rejects `keys=`.
    done = sandbox.run("thar-be-settings", *socket, stdin="[]")
    assert done.returncode == 1 and "400" in done.stderr
    # A strict render failure writes nothing, not even the files that rendered.
    (sandbox.path("/usr/share/templates/chrony-conf")).write_text("broken\n")
    done = sandbox.run("thar-be-settings", *socket, stdin='["settings.motd", "settings.ntp"]')
    assert done.returncode == 1
    assert "Configuration file 'chrony-conf' failed to render: " in done.stderr
    assert motd.read_text() == "edited\n"
    # The motd alone renders and is written, with the default mode restored.
    os.chmod(motd, 0o600)
    done = sandbox.run("thar-be-settings", *socket, stdin='["settings.motd"]')
    assert done.returncode == 0, done.stderr
    assert motd.read_text() == "Welcome to thar!\n" and stat.S_IMODE(motd.stat().st_mode) == 0o644
