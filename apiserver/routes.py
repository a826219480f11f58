"""The route table and its handlers: parse the request, take the lock, call the controller.

``ROUTES`` lists every (method, path) in ``openapi.yaml`` order; a test checks the two agree.
Reads run on the event loop from the controller's snapshot; writes run one at a time, in a
worker thread, under ``WRITE_LOCK`` — so a reader never waits for a writer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from datastore import Caller

from .controller import Controller
from .errors import (
    ApplierFailed,
    ContentTypeError,
    EmptyInput,
    JsonDeserialize,
    MissingInput,
    PayloadTooLarge,
    RebootFailed,
)

__all__ = ["CONFIG", "CONTROLLER", "EXECUTOR", "JSON_LIMIT", "ROUTES", "WRITE_LOCK", "ServerConfig", "route_table"]

JSON_LIMIT = 2_097_152
CACHED_QUERIES = 256  # distinct GET /settings queries kept per generation
T = TypeVar("T")


@dataclass(frozen=True)
class ServerConfig:
    """What the server runs: the settings applier and the reboot command (argv prefixes)."""

    applier: tuple[str, ...] = ("thar-be-settings",)
    reboot: tuple[str, ...] = ("/usr/bin/systemctl", "reboot", "--check-inhibitors=yes")


CONTROLLER = web.AppKey("controller", Controller)
WRITE_LOCK = web.AppKey("write_lock", asyncio.Lock)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
CONFIG = web.AppKey("config", ServerConfig)


# -- request helpers ------------------------------------------------------------------------------
def _param(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    return values[-1] if values else None  # duplicate names: the last one wins


def _list_param(request: web.Request, name: str) -> list[str] | None:
    value = _param(request, name)
    if value is None:
        return None
    if value == "":
        raise EmptyInput(name)
    return list(dict.fromkeys(value.split(",")))


def _tx(request: web.Request) -> str:
    tx = _param(request, "tx")
    if tx is None:
        return "default"
    if tx == "":
        raise EmptyInput("tx")  # thar: Bottlerocket would alias every pending transaction
    return tx


def _is_json(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = mime.partition("/")
    return bool(kind) and (subtype == "json" or subtype.endswith("+json"))


async def _json_body(request: web.Request) -> Any:
    if not _is_json(request.headers.get("Content-Type", "")):
        raise ContentTypeError()
    if request.content_length is not None and request.content_length > JSON_LIMIT:
        raise PayloadTooLarge(request.content_length, JSON_LIMIT)
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > JSON_LIMIT:
            raise PayloadTooLarge(None, JSON_LIMIT)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError as exc:
        reason = "EOF while parsing a value at line 1 column 0" if size == 0 else str(exc)
        raise JsonDeserialize(reason) from None


def _json(data: Any) -> web.Response:
    return web.Response(body=_dumps(data), content_type="application/json")


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _caller(request: web.Request) -> Caller | None:
    """The peer's credentials (SO_PEERCRED), recorded with each commit."""
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return Caller(uid=uid, gid=gid, pid=pid)


async def _write(request: web.Request, fn: Callable[[], T]) -> T:
    """Run a datastore write in the worker thread, one at a time."""
    async with request.app[WRITE_LOCK]:
        return await asyncio.get_running_loop().run_in_executor(request.app[EXECUTOR], fn)


# -- handlers -------------------------------------------------------------------------------------
async def get_model(request: web.Request) -> web.Response:
    return _json(request.app[CONTROLLER].get_model(_param(request, "prefix")))


async def get_settings(request: web.Request) -> web.Response:
    # Live settings only change with a commit: each distinct query is answered once per
    # generation and its bytes reused (the cache belongs to the snapshot and goes with it).
    controller = request.app[CONTROLLER]
    cache = controller.response_cache()
    body = cache.get(request.path_qs)
    if body is None:
        keys, prefix = _list_param(request, "keys"), _param(request, "prefix")
        body = _dumps(controller.get_settings(keys, prefix))
        if len(cache) < CACHED_QUERIES:
            cache[request.path_qs] = body
    return web.Response(body=body, content_type="application/json")


async def patch_settings(request: web.Request) -> web.Response:
    tx, body = _tx(request), await _json_body(request)
    controller = request.app[CONTROLLER]
    await _write(request, lambda: controller.patch_settings(tx, body))
    return web.Response(status=204)


async def patch_keypair(request: web.Request) -> web.Response:
    tx, body = _tx(request), await _json_body(request)
    payload = body.get("request_payload") if isinstance(body, dict) else None
    if not isinstance(body, dict) or "request_payload" not in body:
        raise JsonDeserialize("missing field `request_payload`")
    if not isinstance(payload, list) or not all(isinstance(e, str) for e in payload):
        raise JsonDeserialize("invalid type: `request_payload` must be an array of strings")
    controller = request.app[CONTROLLER]
    await _write(request, lambda: controller.patch_keypair(tx, payload))
    return web.Response(status=204)


async def get_tx(request: web.Request) -> web.Response:
    return _json(request.app[CONTROLLER].get_pending(_tx(request)))


async def delete_tx(request: web.Request) -> web.Response:
    tx, controller = _tx(request), request.app[CONTROLLER]
    return _json(await _write(request, lambda: controller.delete_transaction(tx)))


async def list_tx(request: web.Request) -> web.Response:
    return _json(request.app[CONTROLLER].list_transactions())


async def commit(request: web.Request) -> web.Response:
    tx, caller, controller = _tx(request), _caller(request), request.app[CONTROLLER]
    return _json(await _write(request, lambda: controller.commit(tx, caller)))


async def apply(request: web.Request) -> web.Response:
    keys = _list_param(request, "keys")
    await run_applier(request.app[CONFIG].applier, keys)
    return web.Response(status=204)


async def commit_and_apply(request: web.Request) -> web.Response:
    tx, caller, controller = _tx(request), _caller(request), request.app[CONTROLLER]
    async with request.app[WRITE_LOCK]:  # held through the applier's launch, as Bottlerocket does
        loop = asyncio.get_running_loop()
        keys = await loop.run_in_executor(request.app[EXECUTOR], lambda: controller.commit(tx, caller))
        await run_applier(request.app[CONFIG].applier, keys)
    return _json(keys)


async def get_os(request: web.Request) -> web.Response:
    return _json(request.app[CONTROLLER].get_os(_param(request, "prefix")))


def _metadata(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        keys = _list_param(request, "keys")
        if keys is None:
            raise MissingInput("keys")
        return _json(request.app[CONTROLLER].get_metadata(name, keys))

    return handler


async def setting_generators(request: web.Request) -> web.Response:
    return _json(request.app[CONTROLLER].setting_generators())


def _entries(area: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        names, prefix = _list_param(request, "names"), _param(request, "prefix")
        return _json(request.app[CONTROLLER].get_entries(area, names, prefix))

    return handler


async def reboot(request: web.Request) -> web.Response:
    argv = request.app[CONFIG].reboot
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
    except OSError as exc:
        raise RebootFailed(f"Unable to start shutdown: {exc}") from exc
    _, stderr = await proc.communicate()
    if proc.returncode != 0:
        code = proc.returncode if proc.returncode is not None and proc.returncode >= 0 else -(proc.returncode or 0)
        raise RebootFailed(f"Failed to reboot, exit code: {code}, stderr: {stderr.decode(errors='replace')}")
    return web.Response(status=204)


async def run_applier(argv: tuple[str, ...], keys: list[str] | None) -> None:
    """Start the settings applier as the spec's applier contract says and wait for its first
    process: ``--daemon --all`` with stdin inherited, or ``--daemon`` with the keys on stdin.
    An applier of ``none`` means none is configured: changes are committed, not applied."""
    if argv == ("none",):
        return
    try:
        if keys is None:
            proc = await asyncio.create_subprocess_exec(*argv, "--daemon", "--all")
        else:
            proc = await asyncio.create_subprocess_exec(*argv, "--daemon", stdin=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise ApplierFailed(f"Unable to start config applier: {exc} ") from exc
    if keys is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(_dumps(keys))
            await proc.stdin.drain()
            proc.stdin.close()
        except (OSError, RuntimeError) as exc:  # the applier closed its stdin (or exited) first
            await proc.wait()
            raise ApplierFailed(f"Unable to send input to config applier: {exc}") from exc
    code = await proc.wait()
    if code != 0:
        shown = str(code) if code > 0 else "unknown"
        raise ApplierFailed(f"Config applier was unable to fork child, returned {shown}")


ROUTES: tuple[tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]], ...] = (
    ("GET", "/", get_model),
    ("GET", "/settings", get_settings),
    ("PATCH", "/settings", patch_settings),
    ("PATCH", "/settings/keypair", patch_keypair),
    ("GET", "/tx", get_tx),
    ("DELETE", "/tx", delete_tx),
    ("GET", "/tx/list", list_tx),
    ("POST", "/tx/commit", commit),
    ("POST", "/tx/apply", apply),
    ("POST", "/tx/commit_and_apply", commit_and_apply),
    ("GET", "/os", get_os),
    ("GET", "/metadata/affected-services", _metadata("affected-services")),
    ("GET", "/metadata/setting-generators", setting_generators),
    ("GET", "/metadata/templates", _metadata("template")),
    ("GET", "/services", _entries("services")),
    ("GET", "/configuration-files", _entries("configuration-files")),
    ("POST", "/actions/reboot", reboot),
)


def route_table() -> list[web.RouteDef]:
    # No implicit HEAD for GET routes: HEAD is not part of the API.
    return [
        web.route(method, path, handler, **({"allow_head": False} if method == "GET" else {}))
        for method, path, handler in ROUTES
    ]
