"""The real server with its datastore on a full 2 MiB tmpfs: a commit that does not fit is a 507
that names the cause, changes nothing (live, history, the transaction — also after SIGKILL and
a restart), and the server goes on serving."""

from __future__ import annotations

from pathlib import Path

from ..tmpfs import empty, fill, mounted_tmpfs
from .conftest import MakeServer, build_f0

KEYS = 120
VALUE = 8 * 1024


def big_sysctl() -> dict[str, str]:
    return {f"test.k{n:03d}": f"{n:03d}" + "x" * (VALUE - 3) for n in range(KEYS)}


def snapshot(client) -> tuple[object, object, object, object]:  # type: ignore[no-untyped-def]
    return (
        client.get_json("/settings"),
        [entry["generation"] for entry in client.get_json("/tx/history")],
        client.get_json("/tx?tx=big"),
        client.get_json("/tx/list"),
    )


def test_a_commit_that_does_not_fit_is_a_507_and_changes_nothing(tmp_path: Path, make_server: MakeServer) -> None:
    with mounted_tmpfs(tmp_path / "fs", 2 * 1024 * 1024) as fs:
        server = make_server(build_f0(fs / "datastore"))
        client = server.client()
        client.patch_ok("/settings?tx=first", {"motd": "before"})
        assert client.post("/tx/commit?tx=first").status == 200
        client.patch_ok("/settings?tx=big", {"kernel": {"sysctl": big_sysctl()}})
        before = snapshot(client)

        response = client.post("/tx/commit?tx=big")
        assert response.status == 507, response
        assert "No space left on the datastore's filesystem" in response.text
        assert "nothing was changed" in response.text
        assert snapshot(client) == before

        # Still serving: reads, and writes that fit.
        assert client.get_json("/settings?keys=settings.motd") == {"motd": "before"}
        client.patch_ok("/settings?tx=small", {"motd": "after"})
        assert client.post("/tx/commit?tx=small").status == 200
        assert client.get_json("/settings?keys=settings.motd") == {"motd": "after"}
        before = snapshot(client)

        # A staging step that does not fit is a 507 too, and leaves its transaction as it was.
        fill(fs, 64 * 1024)
        more = {f"test.m{n:03d}": "y" * VALUE for n in range(KEYS)}
        response = client.patch("/settings?tx=big", {"kernel": {"sysctl": more}})
        assert response.status == 507, response
        response = client.patch("/settings?tx=fresh", {"kernel": {"sysctl": more}})
        assert response.status == 507, response
        empty(fs)
        assert snapshot(client) == before

        # After SIGKILL and a restart: the refused commit is not live, nothing else moved.
        server.kill()
        server.start()
        assert snapshot(server.client()) == before
        assert server.stop() == 0, server.log()
