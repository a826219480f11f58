"""Every route's handler in process: ``make_app`` over fixture F0 in a ``MemoryDataStore``, driven
by aiohttp's test client (no subprocess, no socket file), one test per route for its answers —
success, the 400s of bad input, 404, 405 with ``Allow``, 409 — beside the end-to-end tests that
run the real server. Also: every error class has its status."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient

from thar.apiserver import errors, peer
from thar.apiserver.__main__ import resolve_variant
from thar.apiserver.controller import Controller
from thar.apiserver.errors import STATUS, ApiError
from thar.apiserver.policy import parse_policy
from thar.apiserver.routes import ROUTES, ServerConfig
from thar.apiserver.server import make_app
from thar.datastore import LIVE, Caller, Key, MemoryDataStore, meta_key

from .conftest import CF, F0_OS_RELEASE, OS, S_ALL, SVC

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]

# Fixture F0 (conftest.F0_LIVE) as keys: (segments, stored JSON).
F0: list[tuple[tuple[str, ...], str]] = [
    (("settings", "motd"), '"hello"'),
    (("settings", "kernel", "lockdown"), '"integrity"'),
    (("settings", "kernel", "sysctl", "net.ipv4.ip_forward"), '"1"'),
    (("settings", "ntp", "time-servers"), '["pool.example.com"]'),
    (("settings", "updates", "seed"), "123"),
    (("services", "chronyd", "configuration-files"), '["chrony-conf"]'),
    (("services", "chronyd", "restart-commands"), '["/bin/systemctl try-restart chronyd"]'),
    (("configuration-files", "chrony-conf", "path"), '"/etc/chrony.conf"'),
    (("configuration-files", "chrony-conf", "template-path"), '"/usr/share/templates/chrony-conf"'),
]
F0_METADATA: list[tuple[str, tuple[str, ...], str]] = [
    ("affected-services", ("settings", "ntp"), '["chronyd"]'),
    ("setting-generator", ("settings", "network", "hostname"), '"netdog generate-hostname"'),
    ("template", ("settings", "updates", "metadata-base-url"), '"https://updates.example/{{ os.arch }}/"'),
]


def f0_controller(tmp_path: Path, *, live: bool = True) -> Controller:
    """A controller over F0 in memory (``live=False``: nothing stored at all)."""
    datastore = MemoryDataStore()
    if live:
        for segments, value in F0:
            datastore.set_key(Key.from_segments(segments), value, LIVE)
        for name, segments, value in F0_METADATA:
            datastore.set_metadata(meta_key(name), Key.from_segments(segments), value)
    os_release = tmp_path / "os-release"
    os_release.write_text(F0_OS_RELEASE, encoding="utf-8")
    return Controller(datastore, resolve_variant("aws-dev", os_release), os_release, "x86_64")


@pytest_asyncio.fixture
async def make_client(tmp_path: Path, aiohttp_client: Any) -> MakeClient:
    """``await make_client(**ServerConfig fields, live=True)``: a test client over a fresh F0."""

    async def make(*, live: bool = True, **config: Any) -> Client:
        config = {"applier": ("true",), "reboot": ("true",), "root": tmp_path, **config}
        client: Client = await aiohttp_client(make_app(f0_controller(tmp_path, live=live), ServerConfig(**config)))
        return client

    return make


@pytest_asyncio.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


async def status(client: Client, method: str, path: str, **kwargs: Any) -> int:
    async with client.request(method, path, **kwargs) as response:
        await response.read()
        return response.status


async def body(client: Client, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
    async with client.request(method, path, **kwargs) as response:
        assert response.status == expect, await response.text()
        if response.content_type == "application/json":
            return await response.json()
        return await response.text()


async def stage_motd(client: Client, motd: str = "hi", tx: str = "default") -> None:
    assert await status(client, "PATCH", f"/settings?tx={tx}", json={"motd": motd}) == 204


# -- unrouted ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_an_unknown_path_is_404_and_a_known_one_with_another_method_is_405_with_allow(client: Client) -> None:
    assert await status(client, "GET", "/nope") == 404
    async with client.put("/settings") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "DELETE,GET,PATCH"
    async with client.get("/tx/commit") as response:
        assert (response.status, response.headers["Allow"]) == (405, "POST")
    async with client.head("/") as response:  # HEAD is not served
        assert (response.status, response.headers["Allow"]) == (405, "GET")


@pytest.mark.asyncio
async def test_every_route_answers_another_method_with_405_naming_its_own(client: Client) -> None:
    allowed: dict[str, set[str]] = {}
    for method, path, _ in ROUTES:
        allowed.setdefault(path.replace("{generation}", "1"), set()).add(method)
    for path, methods in allowed.items():
        other = "PUT" if "PUT" not in methods else "POST"
        async with client.request(other, path) as response:
            assert response.status == 405, path
            assert set(response.headers["Allow"].split(",")) == methods, path


# -- reads ------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_get_model(client: Client, make_client: MakeClient) -> None:
    model = await body(client, "GET", "/")
    assert model == {"settings": S_ALL, "services": SVC, "configuration-files": CF, "os": OS}
    assert await body(client, "GET", "/?prefix=settings.motd") == {"settings": {"motd": "hello"}}
    assert await status(client, "GET", "/?prefix=") == 400
    assert await status(await make_client(live=False), "GET", "/") == 404


@pytest.mark.asyncio
async def test_get_settings(client: Client, make_client: MakeClient) -> None:
    assert await body(client, "GET", "/settings") == S_ALL
    assert await body(client, "GET", "/settings?keys=settings.motd") == {"motd": "hello"}
    assert await body(client, "GET", "/settings?prefix=ntp") == {"ntp": S_ALL["ntp"]}
    assert await body(client, "GET", "/settings?prefix=nothing") == {}
    assert await status(client, "GET", "/settings?keys=settings.ntp") == 400  # a map: use prefix=
    assert await status(client, "GET", "/settings?keys=") == 400
    assert await status(client, "GET", "/settings?tx=%ff") == 200  # tx is not read here
    assert await status(await make_client(live=False), "GET", "/settings") == 404


@pytest.mark.asyncio
async def test_get_os(client: Client, make_client: MakeClient, tmp_path: Path) -> None:
    assert await body(client, "GET", "/os") == OS
    assert await body(client, "GET", "/os?prefix=arch") == {"arch": "x86_64"}
    assert await status(client, "GET", "/os?prefix=") == 400
    broken = await make_client()
    (tmp_path / "os-release").unlink()
    assert await status(broken, "GET", "/os") == 500


@pytest.mark.asyncio
async def test_metadata(client: Client) -> None:
    assert await body(client, "GET", "/metadata/affected-services?keys=settings.ntp,settings.motd") == {
        "settings.ntp": ["chronyd"]
    }
    assert await body(client, "GET", "/metadata/templates?keys=settings.updates.metadata-base-url") == {
        "settings.updates.metadata-base-url": "https://updates.example/{{ os.arch }}/"
    }
    assert await body(client, "GET", "/metadata/setting-generators") == {
        "settings.network.hostname": "netdog generate-hostname"
    }
    for path in ("/metadata/affected-services", "/metadata/templates"):
        assert await status(client, "GET", path) == 400  # keys= is required
        assert await status(client, "GET", path + "?keys=") == 400
        assert await status(client, "GET", path + "?keys=a..b") == 400


@pytest.mark.asyncio
async def test_services_and_configuration_files(client: Client, make_client: MakeClient) -> None:
    assert await body(client, "GET", "/services") == SVC
    assert await body(client, "GET", "/services?names=chronyd") == SVC
    assert await body(client, "GET", "/configuration-files") == CF
    assert await body(client, "GET", "/configuration-files?prefix=chrony") == CF
    assert await status(client, "GET", "/services?names=nope") == 404
    assert await status(client, "GET", "/services?names=chrony") == 404  # a name only begun
    assert await status(client, "GET", "/services?names=") == 400
    assert await status(client, "GET", "/configuration-files?names=nope") == 404
    assert await status(client, "GET", "/services?prefix=chronyd.r") == 400  # cuts into an entry
    empty = await make_client(live=False)
    assert await status(empty, "GET", "/services") == 404
    assert await status(empty, "GET", "/configuration-files") == 404


@pytest.mark.asyncio
async def test_metrics(client: Client) -> None:
    await status(client, "GET", "/settings")
    async with client.get("/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    assert 'thar_api_requests_total{method="GET",route="/settings",status="200"} 1' in text


# -- staging ----------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_patch_settings(client: Client) -> None:
    await stage_motd(client, "hi", tx="t1")
    assert await body(client, "GET", "/tx?tx=t1") == {"motd": "hi"}
    assert await status(client, "PATCH", "/settings", data=b'{"motd": "x"}') == 400  # no JSON content type
    assert await status(client, "PATCH", "/settings", json={"motd": 5}) == 400  # the model refuses it
    assert await status(client, "PATCH", "/settings", json={"nope": 1}) == 400
    assert await status(client, "PATCH", "/settings?tx=", json={"motd": "x"}) == 400
    assert await body(client, "GET", "/tx/list") == ["t1"]  # nothing refused was staged
    headers = {"Content-Type": "application/json", "Content-Length": str(3_000_000)}
    assert await status(client, "PATCH", "/settings", data=b"{}", headers=headers) == 413  # (and hangs up)


@pytest.mark.asyncio
async def test_patch_settings_with_a_json_patch(client: Client) -> None:
    patch = [{"op": "add", "path": "/ntp/time-servers/-", "value": "b.example"}]
    headers = {"Content-Type": "application/json-patch+json"}
    assert await status(client, "PATCH", "/settings", json=patch, headers=headers) == 204
    assert await body(client, "GET", "/tx") == {"ntp": {"time-servers": ["pool.example.com", "b.example"]}}
    failing = [{"op": "test", "path": "/motd", "value": "other"}]
    assert await status(client, "PATCH", "/settings", json=failing, headers=headers) == 400
    assert await status(client, "PATCH", "/settings", json={"motd": "x"}, headers=headers) == 400  # not a list


@pytest.mark.asyncio
async def test_delete_settings(client: Client) -> None:
    assert await status(client, "DELETE", "/settings?keys=motd") == 204
    assert await body(client, "POST", "/tx/commit") == ["settings.motd"]
    assert "motd" not in await body(client, "GET", "/settings")
    assert await status(client, "DELETE", "/settings") == 400  # keys= is required
    assert await status(client, "DELETE", "/settings?keys=") == 400
    assert await status(client, "DELETE", "/settings?keys=os.arch") == 400  # not a setting


@pytest.mark.asyncio
async def test_patch_keypair(client: Client) -> None:
    payload = {"request_payload": ["motd=hi", "updates.seed=7"]}
    assert await status(client, "PATCH", "/settings/keypair", json=payload) == 204
    assert await body(client, "GET", "/tx") == {"motd": "hi", "updates": {"seed": 7}}
    assert await status(client, "PATCH", "/settings/keypair", json={}) == 400
    assert await status(client, "PATCH", "/settings/keypair", json={"request_payload": "motd=x"}) == 400
    assert await status(client, "PATCH", "/settings/keypair", json={"request_payload": ["motd"]}) == 400
    assert await status(client, "PATCH", "/settings/keypair", json={"request_payload": ["settings=1"]}) == 400


@pytest.mark.asyncio
async def test_transactions(client: Client) -> None:
    assert await body(client, "GET", "/tx") == {}
    assert await body(client, "GET", "/tx/list") == []
    await stage_motd(client, tx="a")
    await stage_motd(client, tx="b")
    assert await body(client, "GET", "/tx/list") == ["a", "b"]
    assert await body(client, "DELETE", "/tx?tx=a") == ["settings.motd"]
    assert await body(client, "GET", "/tx/list") == ["b"]
    assert await body(client, "DELETE", "/tx?tx=a") == []
    assert await status(client, "GET", "/tx?tx=") == 400
    assert await status(client, "DELETE", "/tx?tx=%ff") == 400
    assert await status(client, "GET", "/tx?tx=" + "x" * 300) == 400


# -- commits ----------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_commit(client: Client) -> None:
    await stage_motd(client)
    assert await body(client, "POST", "/tx/commit") == ["settings.motd"]
    assert (await body(client, "GET", "/settings"))["motd"] == "hi"
    assert await body(client, "GET", "/tx/list") == []
    assert await status(client, "POST", "/tx/commit") == 422  # nothing pending
    assert await status(client, "POST", "/tx/commit?tx=") == 400


@pytest.mark.asyncio
async def test_apply(client: Client, make_client: MakeClient) -> None:
    assert await status(client, "POST", "/tx/apply") == 204
    assert await status(client, "POST", "/tx/apply?keys=settings.motd") == 204
    assert await status(client, "POST", "/tx/apply?keys=") == 400
    assert await status(await make_client(applier=("false",)), "POST", "/tx/apply") == 500
    assert await status(await make_client(applier=("none",)), "POST", "/tx/apply") == 204
    assert await status(await make_client(applier=("/nonexistent/applier",)), "POST", "/tx/apply") == 500


@pytest.mark.asyncio
async def test_commit_and_apply(client: Client, make_client: MakeClient) -> None:
    await stage_motd(client)
    assert await body(client, "POST", "/tx/commit_and_apply") == ["settings.motd"]
    assert await status(client, "POST", "/tx/commit_and_apply") == 422
    for query in ("dry_run=maybe", "confirm=0", "confirm=x", "confirm=", "tx="):
        assert await status(client, "POST", f"/tx/commit_and_apply?{query}") == 400, query
    failing = await make_client(applier=("false",))
    await stage_motd(failing)
    assert await status(failing, "POST", "/tx/commit_and_apply") == 500  # committed, not applied
    assert (await body(failing, "GET", "/settings"))["motd"] == "hi"


@pytest.mark.asyncio
async def test_a_dry_run_commits_nothing(client: Client) -> None:
    assert await status(client, "POST", "/tx/commit_and_apply?dry_run=true") == 422  # nothing pending
    await stage_motd(client)
    plan = await body(client, "POST", "/tx/commit_and_apply?dry_run=true")
    assert plan == {"keys": ["settings.motd"], "diff": "", "restarts": [], "reload_systemd": False}
    assert await body(client, "GET", "/tx") == {"motd": "hi"}
    assert await body(client, "GET", "/tx/history") == []


@pytest.mark.asyncio
async def test_confirm(client: Client) -> None:
    assert await status(client, "POST", "/tx/confirm") == 409  # nothing waits
    await stage_motd(client)
    assert await body(client, "POST", "/tx/commit_and_apply?confirm=60") == ["settings.motd"]
    assert await status(client, "POST", "/tx/confirm") == 204
    assert await status(client, "POST", "/tx/confirm") == 409


@pytest.mark.asyncio
async def test_an_unconfirmed_commit_is_reverted(client: Client) -> None:
    await stage_motd(client)
    assert await body(client, "POST", "/tx/commit_and_apply?confirm=1") == ["settings.motd"]
    for _ in range(100):
        if (await body(client, "GET", "/settings"))["motd"] == "hello":
            break
        await asyncio.sleep(0.05)
    history = await body(client, "GET", "/tx/history")
    assert [entry["transaction"] for entry in history] == ["thar-confirm-timeout-1", "default"]
    assert await status(client, "POST", "/tx/confirm") == 409


@pytest.mark.asyncio
async def test_history_and_its_patches(client: Client) -> None:
    assert await body(client, "GET", "/tx/history") == []
    await stage_motd(client)
    await body(client, "POST", "/tx/commit")
    (entry,) = await body(client, "GET", "/tx/history")
    assert (entry["generation"], entry["transaction"], entry["keys"]) == (1, "default", ["settings.motd"])
    assert await body(client, "GET", "/tx/history?prefix=ntp") == []
    assert await body(client, "GET", "/tx/history?limit=0") == []
    assert await body(client, "GET", "/tx/history/1") == [{"op": "replace", "path": "/motd", "value": "hi"}]
    assert await status(client, "GET", "/tx/history/2") == 404
    assert await status(client, "GET", "/tx/history/x") == 400
    assert await status(client, "GET", "/tx/history?limit=-1") == 400
    assert await status(client, "GET", "/tx/history?before=") == 400


@pytest.mark.asyncio
async def test_rollback(client: Client) -> None:
    await stage_motd(client, "one")
    await body(client, "POST", "/tx/commit")
    await stage_motd(client, "two")
    await body(client, "POST", "/tx/commit")
    assert await body(client, "POST", "/tx/rollback?to=1") == ["settings.motd"]
    assert (await body(client, "GET", "/settings"))["motd"] == "one"
    assert (await body(client, "GET", "/tx/history"))[0]["transaction"] == "thar-rollback-to-1"
    assert await body(client, "POST", "/tx/rollback?to=3") == []  # already as it was
    assert await status(client, "POST", "/tx/rollback") == 400
    assert await status(client, "POST", "/tx/rollback?to=x") == 400
    assert await status(client, "POST", "/tx/rollback?to=99") == 404


@pytest.mark.asyncio
async def test_watch(client: Client) -> None:
    assert await body(client, "GET", "/settings/watch?timeout=0") == {"generation": 0, "settings": {}}
    waiting = asyncio.ensure_future(body(client, "GET", "/settings/watch?prefix=motd&since=0&timeout=30"))
    await asyncio.sleep(0.05)
    await stage_motd(client)
    await body(client, "POST", "/tx/commit")
    assert await asyncio.wait_for(waiting, 10) == {"generation": 1, "settings": {"motd": "hi"}}
    assert await body(client, "GET", "/settings/watch?since=0&timeout=0") == {
        "generation": 1,
        "settings": {"motd": "hi"},
    }
    for query in ("timeout=x", "timeout=-1", "timeout=nan", "timeout=99999", "since=x", "prefix="):
        assert await status(client, "GET", f"/settings/watch?{query}") == 400, query


@pytest.mark.asyncio
async def test_reboot(make_client: MakeClient) -> None:
    assert await status(await make_client(), "POST", "/actions/reboot") == 204
    assert await status(await make_client(reboot=("false",)), "POST", "/actions/reboot") == 500
    assert await status(await make_client(reboot=("/nonexistent/reboot",)), "POST", "/actions/reboot") == 500


# -- who is calling ---------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_the_caller_is_read_in_one_place_for_the_policy_and_the_history(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = parse_policy({"default": "reader", "rule": [{"name": "ops", "uids": [1200], "role": "admin"}]}, "p")
    client = await make_client(policy=policy)
    who = [Caller(uid=1000, gid=1000, pid=1)]
    monkeypatch.setattr(peer, "caller", lambda request: who[0])  # the one patch: policy and routes read it
    async with client.patch("/settings", json={"motd": "x"}) as response:
        assert response.status == 403
        assert "uid 1000" in await response.text()
    who[0] = Caller(uid=1200, gid=1200, pid=2)  # an admin now
    await stage_motd(client)
    assert await body(client, "POST", "/tx/commit") == ["settings.motd"]
    who[0] = Caller(uid=1000, gid=1000, pid=3)
    (entry,) = await body(client, "GET", "/tx/history")
    assert entry["caller"] == {"uid": 1200, "gid": 1200, "pid": 2}  # the committer, as the routes saw it


# -- errors -----------------------------------------------------------------------------------------
def test_every_error_class_has_a_status() -> None:
    """The server answers ``STATUS[type(exc)]``: every class needs its own entry (a subclass
    does not inherit its parent's), and none is listed that is not an error."""
    classes = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if cls.__module__ == errors.__name__]
    defined = {cls for cls in classes if issubclass(cls, ApiError) and cls is not ApiError}
    assert len(defined) > 20
    assert sorted(cls.__name__ for cls in defined - set(STATUS)) == []
    assert sorted(cls.__name__ for cls in set(STATUS) - defined) == []
    assert all(400 <= code < 600 for code in STATUS.values())
