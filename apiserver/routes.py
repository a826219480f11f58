"""The route table and its handlers: parse the request, take the lock, call the controller.

``ROUTES`` lists every (method, path) in ``openapi.yaml`` order; a test checks the two agree.
Reads run on the event loop from the controller's snapshot; writes run one at a time, in a
worker thread, under ``WRITE_LOCK`` — so a reader never waits for a writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from thar.datastore import Caller, encode_segment

from . import applier, peer
from .body import parse_json
from .confirm import Confirmations
from .controller import Controller
from .errors import (
    ApplierFailed,
    ContentTypeError,
    EmptyInput,
    GenerationNotFound,
    InvalidInput,
    JsonDeserialize,
    MissingInput,
    NothingToConfirm,
    NotUtf8,
    PayloadTooLarge,
    RebootFailed,
)
from .exec import ExecConfig, exec_websocket
from .metrics import CONTENT_TYPE, Metrics
from .policy import Access, Policy
from .staging import Guard
from .updates import UpdateConfig, action, update_status
from .watch import WatchHub, changed_settings

__all__ = [
    "CONFIG",
    "CONFIRMS",
    "CONTROLLER",
    "EXECUTOR",
    "JSON_LIMIT",
    "METRICS",
    "ROUTES",
    "WATCH",
    "WRITE_LOCK",
    "ServerConfig",
    "revert_unconfirmed",
    "route_table",
]

log = logging.getLogger("apiserver")

JSON_LIMIT = 2_097_152
PARSE_ON_LOOP = 65_536  # bytes: a body this small is parsed and checked in well under a millisecond
CACHED_QUERIES = 256  # distinct GET /settings queries kept per generation
T = TypeVar("T")


@dataclass(frozen=True)
class ServerConfig:
    """What the server runs: the settings applier and the reboot command (argv prefixes)."""

    applier: tuple[str, ...] = ("thar-be-settings",)
    reboot: tuple[str, ...] = ("/usr/bin/systemctl", "reboot", "--check-inhibitors=yes")
    policy: Policy | None = None  # None: every caller is an admin (Bottlerocket's behaviour)
    root: Path | None = None  # where a dry run finds templates and current files (THAR_ROOT; None: /)
    boot_timeline: Path | None = None  # thar-boot's timeline, shown by GET /metrics
    generator_timeline: Path | None = None  # sundog's generators and their durations, shown by GET /metrics
    exec: ExecConfig = field(default_factory=ExecConfig)  # GET /exec: the host containers' containerd and its ctr
    updates: UpdateConfig = field(default_factory=UpdateConfig)  # the update dispatcher and its files


CONTROLLER = web.AppKey("controller", Controller)
WRITE_LOCK = web.AppKey("write_lock", asyncio.Lock)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
CONFIG = web.AppKey("config", ServerConfig)
WATCH = web.AppKey("watch", WatchHub)
CONFIRMS = web.AppKey("confirms", Confirmations)
METRICS = web.AppKey("metrics", Metrics)
ACCESS = "thar_access"  # request key: the caller's Access, when a policy is in force
MAX_INT = 2**62
WATCH_TIMEOUT, MAX_WATCH_TIMEOUT = 60.0, 3600.0
MAX_CONFIRM = 86_400
NAME_MAX = 255  # bytes in a file name


# -- request helpers ------------------------------------------------------------------------------
def _param(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if not values:
        return None
    value = values[-1]  # duplicate names: the last one wins
    if "\ufffd" in value:  # how bytes that are not UTF-8 decode: were they sent?
        _check_utf8(request, name)
    return value


def _check_utf8(request: web.Request, name: str) -> None:
    """Refuse parameter ``name`` if a value sent for it is not UTF-8 once percent-decoded
    (``tx=%ff`` would otherwise be the transaction named U+FFFD)."""
    for part in request.rel_url.raw_query_string.split("&"):
        raw_name, _, raw_value = part.partition("=")
        if urllib.parse.unquote_plus(raw_name) != name:
            continue
        data = urllib.parse.unquote_to_bytes(raw_value.replace("+", " "))
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotUtf8(name, raw_value, data[exc.start], exc.start) from None


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
    if len(encode_segment(tx).encode()) > NAME_MAX:  # its directory name would be too long
        raise InvalidInput("tx", f"a name of at most {NAME_MAX} bytes once percent-encoded", tx[:40] + "…")
    return tx


def _is_json(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = mime.partition("/")
    return bool(kind) and (subtype == "json" or subtype.endswith("+json"))


async def _json_body(request: web.Request) -> Any:
    if not _is_json(request.headers.get("Content-Type", "")):
        raise ContentTypeError(request.headers.get("Content-Type", ""))
    if request.content_length is not None and request.content_length > JSON_LIMIT:
        raise PayloadTooLarge(request.content_length, JSON_LIMIT)
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > JSON_LIMIT:
            raise PayloadTooLarge(None, JSON_LIMIT)
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) <= PARSE_ON_LOOP:
        return parse_json(data)
    # Off the event loop: checking a 2 MiB body takes tens of milliseconds.
    return await asyncio.get_running_loop().run_in_executor(None, parse_json, data)


def _json(data: Any) -> web.Response:
    return web.Response(body=_dumps(data), content_type="application/json")


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


async def _write(request: web.Request, fn: Callable[[], T]) -> T:
    """Run a datastore write in the worker thread, one at a time."""
    async with request.app[WRITE_LOCK]:
        return await asyncio.get_running_loop().run_in_executor(request.app[EXECUTOR], fn)


async def _in_writer_thread(app: web.Application, fn: Callable[[], T]) -> T:
    """Run a read of the journal or of pending transactions in the worker thread, between writes
    (the journal's connection is used by one thread at a time), without taking the write lock."""
    return await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], fn)


def _guard(request: web.Request) -> Guard | None:
    """The access policy's check of the keys this caller changes (None: anything goes)."""
    access: Access | None = request.get(ACCESS)
    return None if access is None or access.role == "admin" else access.guard


def _int_param(request: web.Request, name: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    value = _param(request, name)
    if value is None:
        return None
    if value == "":
        raise EmptyInput(name)
    if not re.fullmatch(r"[0-9]{1,19}", value) or not minimum <= int(value) <= maximum:
        raise InvalidInput(name, f"a whole number from {minimum} to {maximum}", value)
    return int(value)


def _settings_prefix(request: web.Request) -> str | None:
    prefix = _param(request, "prefix")
    if prefix == "":
        raise EmptyInput("prefix")
    if prefix is not None and not prefix.startswith("settings"):
        prefix = "settings." + prefix
    return prefix


async def _apply(app: web.Application, keys: list[str] | None) -> None:
    """Run the applier, counted and timed."""
    await applier.apply(app[CONFIG].applier, keys, app[METRICS])


# -- handlers -------------------------------------------------------------------------------------
def _strict(request: web.Request) -> bool:
    """thar's ``strict=true``: a name outside the variant's model is a 404, not ``{}``."""
    return _param(request, "strict") == "true"


async def get_model(request: web.Request) -> web.Response:
    controller, prefix = request.app[CONTROLLER], _param(request, "prefix")
    model = controller.get_model(prefix)
    if not model and prefix and _strict(request):
        controller.check_model_prefix(prefix)
    return _json(model)


async def get_settings(request: web.Request) -> web.Response:
    # Live settings only change with a commit: each distinct query is answered once per
    # generation and its bytes reused (the cache belongs to the snapshot and goes with it).
    # Keyed by the request target as sent: no URL is built to answer a cached query.
    controller, target = request.app[CONTROLLER], request.raw_path
    cache = controller.snapshot.cache
    body = cache.get(target)
    if body is None:
        keys, prefix = _list_param(request, "keys"), _param(request, "prefix")
        settings = controller.get_settings(keys, prefix)
        if _strict(request):
            controller.check_settings_query(keys, prefix, settings)
        body = _dumps(settings)
        if len(cache) < CACHED_QUERIES:
            cache[target] = body
    return web.Response(body=body, content_type="application/json")


async def patch_settings(request: web.Request) -> web.Response:
    tx, body, guard = _tx(request), await _json_body(request), _guard(request)
    controller = request.app[CONTROLLER]
    mime = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if mime == "application/json-patch+json":
        await _write(request, lambda: controller.stage_json_patch(tx, body, guard))
    else:
        await _write(request, lambda: controller.patch_settings(tx, body, guard))
    return web.Response(status=204)


async def delete_settings(request: web.Request) -> web.Response:
    names = _list_param(request, "keys")
    if names is None:
        raise MissingInput("keys")
    tx, guard, controller = _tx(request), _guard(request), request.app[CONTROLLER]
    # (the model, which names the settings, is built in the writer thread)
    await _write(request, lambda: controller.reset_settings(tx, names, guard))
    return web.Response(status=204)


async def _changed_since(app: web.Application, since: int, upto: int, prefix: str) -> set[str]:
    """Keys under ``prefix`` changed in generations ``(since, upto]``: from memory, else the journal."""
    names = app[WATCH].changed_since(since, upto)
    if names is None:
        controller = app[CONTROLLER]
        names = await _in_writer_thread(app, lambda: controller.changed_since(since, upto, prefix))
    return {name for name in names if name.startswith(prefix)}


async def watch_settings(request: web.Request) -> web.Response:
    """Long-poll until a commit after ``since`` changes a key under ``prefix``."""
    app, controller = request.app, request.app[CONTROLLER]
    prefix = _settings_prefix(request) or "settings."
    controller.check_setting(prefix, prefix=True)
    since = _int_param(request, "since")
    value = _param(request, "timeout")
    try:
        timeout = WATCH_TIMEOUT if value is None else float(value)
    except ValueError:
        timeout = -1.0
    if not 0 <= timeout <= MAX_WATCH_TIMEOUT:  # also NaN
        raise InvalidInput("timeout", f"a number of seconds from 0 to {MAX_WATCH_TIMEOUT:g}", value or "")
    hub, loop = app[WATCH], asyncio.get_running_loop()
    seen = controller.snapshot.generation if since is None else since
    deadline = loop.time() + timeout
    app[METRICS].watches.inc()
    try:
        while True:
            event, snapshot = hub.event, controller.snapshot
            if snapshot.generation > seen:
                # Watchers woken by one commit mostly ask the same question: answer it once.
                key = f"watch {seen} {prefix}"
                body = snapshot.cache.get(key)
                if body is None:
                    names = await _changed_since(app, seen, snapshot.generation, prefix)
                    changed = changed_settings(names, prefix, snapshot.values) if names else None
                    body = b"" if changed is None else _dumps({"generation": snapshot.generation, "settings": changed})
                    if len(snapshot.cache) < CACHED_QUERIES:
                        snapshot.cache[key] = body
                if body:
                    return web.Response(body=body, content_type="application/json")
                seen = snapshot.generation
            remaining = deadline - loop.time()
            if remaining <= 0 or hub.closed:
                return _json({"generation": controller.snapshot.generation, "settings": {}})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
    finally:
        app[METRICS].watches.dec()


async def patch_keypair(request: web.Request) -> web.Response:
    tx, body = _tx(request), await _json_body(request)
    payload = body.get("request_payload") if isinstance(body, dict) else None
    if not isinstance(body, dict) or "request_payload" not in body:
        raise JsonDeserialize("missing field `request_payload`")
    if not isinstance(payload, list) or not all(isinstance(e, str) for e in payload):
        raise JsonDeserialize("invalid type: `request_payload` must be an array of strings")
    controller, guard = request.app[CONTROLLER], _guard(request)
    await _write(request, lambda: controller.patch_keypair(tx, payload, guard))
    return web.Response(status=204)


async def get_tx(request: web.Request) -> web.Response:
    return _json(request.app[CONTROLLER].get_pending(_tx(request)))


async def delete_tx(request: web.Request) -> web.Response:
    tx, controller, guard = _tx(request), request.app[CONTROLLER], _guard(request)
    return _json(await _write(request, lambda: controller.delete_transaction(tx, guard)))


async def list_tx(request: web.Request) -> web.Response:
    return _json(request.app[CONTROLLER].list_transactions())


async def commit(request: web.Request) -> web.Response:
    tx, caller, controller, guard = _tx(request), peer.caller(request), request.app[CONTROLLER], _guard(request)
    return _json(await _write(request, lambda: controller.commit(tx, caller, guard)))


def _wait(request: web.Request) -> float | None:
    """thar: ``wait=true``: the seconds to wait for the applier (``timeout``, default
    ``applier.WAIT_TIMEOUT``); None: answer once it is started, as Bottlerocket does."""
    wait = _param(request, "wait")
    if wait not in (None, "true", "false"):
        raise InvalidInput("wait", "true or false", wait)
    timeout = _int_param(request, "timeout", minimum=1, maximum=applier.MAX_WAIT_TIMEOUT)
    if wait != "true":
        return None
    return float(applier.WAIT_TIMEOUT if timeout is None else timeout)


async def _waited(
    request: web.Request, running: applier.Running, timeout: float, extra: dict[str, Any]
) -> web.Response:
    outcome = await applier.finish(running, timeout, request.app[METRICS])
    if outcome["status"] in ("failed", "timeout"):
        log.error("Waited-for apply %s: %s", outcome["status"], outcome["error"])
    body = {**extra, **outcome}
    return web.Response(body=_dumps(body), status=applier.wait_status(outcome), content_type="application/json")


async def apply(request: web.Request) -> web.Response:
    keys = _list_param(request, "keys")
    timeout = _wait(request)
    if timeout is None:
        await _apply(request.app, keys)
        return web.Response(status=204)
    try:
        running = await applier.launch(request.app[CONFIG].applier, keys)
    except ApplierFailed as exc:
        return _launch_failed(request, exc, {})
    return await _waited(request, running, timeout, {})


def _launch_failed(request: web.Request, exc: ApplierFailed, extra: dict[str, Any]) -> web.Response:
    request.app[METRICS].applier_runs.labels("failed").inc()
    outcome: dict[str, Any] = {
        "status": "failed",
        "error": str(exc).strip(),
        "exit_status": None,
        "files": [],
        "services": [],
    }
    return web.Response(body=_dumps({**extra, **outcome}), status=502, content_type="application/json")


async def commit_and_apply(request: web.Request) -> web.Response:
    tx, caller, controller, guard = _tx(request), peer.caller(request), request.app[CONTROLLER], _guard(request)
    confirm = _int_param(request, "confirm", minimum=1, maximum=MAX_CONFIRM)
    dry = _param(request, "dry_run")
    if dry not in (None, "true", "false"):
        raise InvalidInput("dry_run", "true or false", dry)
    if dry == "true":  # plan in the writer thread (it reads the transaction), commit nothing
        root = request.app[CONFIG].root
        return _json(await _in_writer_thread(request.app, lambda: controller.dry_run(tx, root)))
    timeout = _wait(request)
    confirms = request.app[CONFIRMS]
    async with request.app[WRITE_LOCK]:  # held through the applier's launch, as Bottlerocket does
        loop = asyncio.get_running_loop()
        # The deadlines live on the event loop (their timer waits there): recorded here, around
        # the commit in the writer thread.
        generation = controller.last_generation + 1
        if confirm is not None:  # durable before the commit: a crash after it still reverts in time
            confirms.expect(generation, confirm)
        try:
            keys = await loop.run_in_executor(request.app[EXECUTOR], lambda: controller.commit(tx, caller, guard))
        except BaseException:
            if confirm is not None:
                confirms.forget(generation)
            raise
        if confirm is not None and controller.last_generation != generation:
            confirms.forget(generation)  # nothing was committed (only removals of absent keys)
        if timeout is None:
            await _apply(request.app, keys)
            return _json(keys)
        committed = {"committed": True, "generation": controller.last_generation, "keys": keys}
        try:
            running = await applier.launch(request.app[CONFIG].applier, keys)
        except ApplierFailed as exc:
            return _launch_failed(request, exc, committed)
    return await _waited(request, running, timeout, committed)  # waited for outside the lock


async def confirm(request: web.Request) -> web.Response:
    async with request.app[WRITE_LOCK]:
        confirmed = request.app[CONFIRMS].confirm()
    if not confirmed:
        raise NothingToConfirm()
    log.info("Confirmed generation(s) %s", ", ".join(map(str, confirmed)))
    return web.Response(status=204)


async def revert_unconfirmed(app: web.Application, generation: int) -> None:
    """Commit-confirmed's timeout: revert ``generation`` as a new generation, then apply."""
    controller = app[CONTROLLER]
    server = Caller(uid=os.getuid(), gid=os.getgid(), pid=os.getpid())
    async with app[WRITE_LOCK]:
        if generation not in app[CONFIRMS].pending:
            return  # confirmed while we waited for the lock

        try:
            keys = await asyncio.get_running_loop().run_in_executor(
                app[EXECUTOR], lambda: controller.revert(generation, server)
            )
        except GenerationNotFound:  # the journal no longer holds it: nothing can be reverted
            log.error("Generation %d waited for confirmation but is not in the history; dropped", generation)
            app[CONFIRMS].forget(generation)
            return
        app[CONFIRMS].forget(generation)
        app[METRICS].confirm_reverts.inc()
        log.warning("Generation %d was not confirmed in time: reverted %d key(s)", generation, len(keys))
        if keys:
            try:
                await _apply(app, keys)
            except ApplierFailed as exc:
                log.error("Applying the revert of generation %d failed: %s", generation, exc)


async def get_history(request: web.Request) -> web.Response:
    limit, before = _int_param(request, "limit"), _int_param(request, "before")
    prefix, controller = _settings_prefix(request), request.app[CONTROLLER]
    return _json(await _in_writer_thread(request.app, lambda: controller.history(limit, before, prefix)))


async def get_history_patch(request: web.Request) -> web.Response:
    raw = request.match_info["generation"]
    if not re.fullmatch(r"[0-9]{1,19}", raw) or int(raw) > MAX_INT:
        raise InvalidInput("generation", "a whole number", raw)
    generation, controller = int(raw), request.app[CONTROLLER]
    return _json(await _in_writer_thread(request.app, lambda: controller.history_patch(generation)))


async def rollback(request: web.Request) -> web.Response:
    to = _int_param(request, "to")
    if to is None:
        raise MissingInput("to")
    caller, controller = peer.caller(request), request.app[CONTROLLER]
    async with request.app[WRITE_LOCK]:
        keys = await asyncio.get_running_loop().run_in_executor(
            request.app[EXECUTOR], lambda: controller.rollback(to, caller)
        )
        if keys:
            await _apply(request.app, keys)
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


async def get_update_status(request: web.Request) -> web.Response:
    return _json(await update_status(request.app[CONFIG].updates))


def _update_action(command: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await action(command, request.app[CONFIG].updates)

    return handler


async def exec_command(request: web.Request) -> web.StreamResponse:
    return await exec_websocket(request, request.app[CONFIG].exec)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE})


ROUTES: tuple[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]], ...] = (
    ("GET", "/", get_model),
    ("GET", "/settings", get_settings),
    ("PATCH", "/settings", patch_settings),
    ("DELETE", "/settings", delete_settings),
    ("GET", "/settings/watch", watch_settings),
    ("PATCH", "/settings/keypair", patch_keypair),
    ("GET", "/tx", get_tx),
    ("DELETE", "/tx", delete_tx),
    ("GET", "/tx/list", list_tx),
    ("POST", "/tx/commit", commit),
    ("POST", "/tx/apply", apply),
    ("POST", "/tx/commit_and_apply", commit_and_apply),
    ("POST", "/tx/confirm", confirm),
    ("GET", "/tx/history", get_history),
    ("GET", "/tx/history/{generation}", get_history_patch),
    ("POST", "/tx/rollback", rollback),
    ("GET", "/os", get_os),
    ("GET", "/metadata/affected-services", _metadata("affected-services")),
    ("GET", "/metadata/setting-generators", setting_generators),
    ("GET", "/metadata/templates", _metadata("template")),
    ("GET", "/services", _entries("services")),
    ("GET", "/configuration-files", _entries("configuration-files")),
    ("POST", "/actions/reboot", reboot),
    ("GET", "/updates/status", get_update_status),
    ("POST", "/actions/refresh-updates", _update_action("refresh")),
    ("POST", "/actions/prepare-update", _update_action("prepare")),
    ("POST", "/actions/activate-update", _update_action("activate")),
    ("POST", "/actions/deactivate-update", _update_action("deactivate")),
    ("GET", "/exec", exec_command),
    ("GET", "/metrics", metrics),
)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_table(wrap: Callable[[str, str, Handler], Handler] | None = None) -> list[web.RouteDef]:
    """``ROUTES`` for the router, each handler passed through ``wrap(method, path, handler)``."""
    # No implicit HEAD for GET routes: HEAD is not part of the API.
    return [
        web.route(
            method,
            path,
            handler if wrap is None else wrap(method, path, handler),
            **({"allow_head": False} if method == "GET" else {}),
        )
        for method, path, handler in ROUTES
    ]
