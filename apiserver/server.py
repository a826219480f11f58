"""Assemble and serve the API: ``make_app()`` for tests, ``serve()`` for the daemon."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, NoReturn

from aiohttp import web

from thar.datastore import Caller

from . import peer
from .confirm import CONFIRM_FILE, Confirmations
from .connections import ConnectionGate, ConnectionLimitError, ConnectionLimits, GatedUnixSite, fit_to_descriptors
from .controller import Controller
from .errors import STATUS, ApiError, Forbidden
from .exec import EXEC, ExecSessions
from .metrics import Metrics
from .routes import (
    ACCESS,
    CONFIG,
    CONFIRMS,
    CONTROLLER,
    EXECUTOR,
    JSON_LIMIT,
    METRICS,
    WATCH,
    WRITE_LOCK,
    ServerConfig,
    revert_unconfirmed,
    route_table,
)
from .watch import WatchHub

if TYPE_CHECKING:
    from aiohttp.web_urldispatcher import _InfoDict

__all__ = ["ServerSetupError", "bind_socket", "make_app", "notify_ready", "serve"]

log = logging.getLogger("apiserver")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Connections waiting to be accepted. Kept short on purpose: a caller's connection waits behind
# every one queued before it, so in a flood a long queue is a long wait (connect() blocks instead).
LISTEN_BACKLOG = 128


class ServerSetupError(Exception):
    """The server cannot start (socket, permissions, systemd notification)."""


def _instrumented(app: web.Application, method: str, path: str, handler: Handler) -> Handler:
    """``handler`` with what every answered request goes through, resolved once per route rather
    than per request: an ``ApiError`` becomes its response, the access policy (when there is one)
    is checked, and the request is counted and timed (``thar_api_requests_total{method,route,
    status}``, ``thar_api_request_duration_seconds{method,route}``)."""
    metrics, policy = app[METRICS], app[CONFIG].policy
    record = metrics.route(method, path).record

    async def checked(request: web.Request) -> web.StreamResponse:
        """With a policy: who is calling (SO_PEERCRED), may they send this request at all;
        key-level checks happen where keys are staged and committed (``routes._guard``)."""
        assert policy is not None
        access = policy.access(peer.caller(request))
        request[ACCESS] = access
        try:
            access.check_route(method, path)
            return await handler(request)
        except Forbidden as exc:
            metrics.denied.inc()
            log.warning("Denied %s %s: %s", request.method, request.path_qs, exc)
            raise

    inner = handler if policy is None else checked

    async def answer(request: web.Request) -> web.StreamResponse:
        started, status = perf_counter(), 500
        try:
            try:
                response = await inner(request)
            except ApiError as exc:
                response = web.Response(status=STATUS[type(exc)], text=str(exc))
            except web.HTTPNotFound:
                response = web.Response(status=404)
            except web.HTTPMethodNotAllowed as exc:
                response = web.Response(status=405, headers={"Allow": ",".join(sorted(exc.allowed_methods))})
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            record(status, perf_counter() - started)

    return answer


class Unrouted(web.AbstractResource):
    """The router's last resort, so that the API rather than aiohttp answers a request no route
    takes (and no middleware sits in every routed request's path). It is indexed under ``/``,
    which the router tries after every more specific path, and registered after every route."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self._route = web.ResourceRoute("*", handler, self)

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, **kwargs: str) -> NoReturn:
        raise RuntimeError("no URL leads to the fallback of unrouted requests")

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("the fallback of unrouted requests cannot be mounted under a prefix")

    def get_info(self) -> _InfoDict:
        return {}

    def raw_match(self, path: str) -> bool:
        return False

    async def resolve(self, request: web.Request) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        return web.UrlMappingMatchInfo({}, self._route), set()

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        yield self._route


async def unrouted(request: web.Request) -> web.StreamResponse:
    """A request no route takes: an unknown path is 404 with an empty body, as Bottlerocket; a
    known path with the wrong method is 405 with Allow (thar: Bottlerocket answers 404). Counted
    and timed under the route ``unmatched``."""
    started, allowed = perf_counter(), set[str]()
    for resource in request.app.router.resources():
        if not isinstance(resource, Unrouted):
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        response = web.Response(status=405, headers={"Allow": ",".join(sorted(allowed))})
    else:
        response = web.Response(status=404)
    request.app[METRICS].route(request.method, "unmatched").record(response.status, perf_counter() - started)
    return response


async def _executor_lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    app[EXECUTOR].shutdown(wait=True)  # lets an in-flight commit finish


async def _watch_lifetime(app: web.Application) -> AsyncIterator[None]:
    hub, controller, metrics = app[WATCH], app[CONTROLLER], app[METRICS]
    hub.attach(asyncio.get_running_loop())
    controller.listeners += [hub.record, metrics.record_commit]
    yield
    controller.listeners.remove(hub.record)
    controller.listeners.remove(metrics.record_commit)


async def _wake_watches(app: web.Application) -> None:
    app[WATCH].close()  # long polls answer now rather than hold up the shutdown


async def _close_exec_sessions(app: web.Application) -> None:
    await app[EXEC].close_all()  # their processes are stopped as each session ends


async def _confirm_lifetime(app: web.Application) -> AsyncIterator[None]:
    confirms = app[CONFIRMS]
    confirms.load(app[CONTROLLER].last_generation)

    async def revert(generation: int) -> None:
        await revert_unconfirmed(app, generation)

    async with confirms.running(revert):
        yield


def make_app(controller: Controller, config: ServerConfig | None = None) -> web.Application:
    """The aiohttp application over ``controller``."""
    app = web.Application(client_max_size=JSON_LIMIT + 1)
    app[CONTROLLER] = controller
    app[CONFIG] = config or ServerConfig()
    app[WRITE_LOCK] = asyncio.Lock()
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thar-writer")
    app[WATCH] = WatchHub(controller.snapshot.generation)
    app[METRICS] = Metrics(controller.snapshot.generation, app[CONFIG].boot_timeline, app[CONFIG].generator_timeline)
    base = getattr(controller.datastore, "base", None)
    app[CONFIRMS] = Confirmations(Path(base) / CONFIRM_FILE if base is not None else None)
    app[EXEC] = ExecSessions()
    app.cleanup_ctx.append(_executor_lifetime)
    app.cleanup_ctx.append(_watch_lifetime)
    app.cleanup_ctx.append(_confirm_lifetime)
    app.on_shutdown.append(_wake_watches)
    app.on_shutdown.append(_close_exec_sessions)
    app.router.add_routes(route_table(lambda method, path, handler: _instrumented(app, method, path, handler)))
    app.router.register_resource(Unrouted(unrouted))  # after every route
    return app


def bind_socket(path: Path, gid: int | None) -> socket.socket:
    """Bind the API socket: a stale file is replaced, group set if asked, mode 0660."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ServerSetupError(f"Unable to bind to {path}: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise ServerSetupError(f"Unable to bind to {path}: {exc}") from exc
    if gid is not None:
        try:
            os.chown(path, -1, gid)
        except OSError as exc:
            sock.close()
            raise ServerSetupError(f"Failed to set group owner on the API socket to {gid}: {exc}") from exc
    try:
        os.chmod(path, 0o660)
    except OSError as exc:
        sock.close()
        raise ServerSetupError(f"Failed to set file permissions on the API socket to 660: {exc}") from exc
    sock.listen(LISTEN_BACKLOG)
    return sock


def activated_socket() -> socket.socket | None:
    """The listening socket systemd passed us (socket activation), if any."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or int(os.environ.get("LISTEN_FDS", "0") or 0) < 1:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    return socket.socket(fileno=3)


def notify_ready() -> None:
    """Tell systemd we are ready (Type=notify), when it asked via NOTIFY_SOCKET."""
    address = os.environ.pop("NOTIFY_SOCKET", None)
    if not address:
        log.info("NOTIFY_SOCKET not set, not calling systemd-notify")
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(b"READY=1")
    except OSError as exc:
        raise ServerSetupError(f"Systemd notify error: {exc}") from exc


def _privileged(config: ServerConfig) -> Callable[[int, int], bool]:
    """Who may use the connections reserved for admins: root, and whom an admin rule names."""
    policy = config.policy
    if policy is None:
        return lambda uid, gid: uid == 0
    return lambda uid, gid: uid == 0 or policy.names_admin(Caller(uid=uid, gid=gid, pid=0))


async def serve(
    controller: Controller,
    socket_path: Path,
    gid: int | None,
    config: ServerConfig,
    limits: ConnectionLimits | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; in-flight requests (and commits) finish first. Connections
    are bounded by ``limits`` (``connections.py``)."""
    try:
        limits = fit_to_descriptors(limits or ConnectionLimits())
    except ConnectionLimitError as exc:
        raise ServerSetupError(str(exc)) from exc
    runner = web.AppRunner(make_app(controller, config), handle_signals=False, shutdown_timeout=30, access_log=None)
    await runner.setup()
    try:
        sock = activated_socket() or bind_socket(socket_path, gid)
        await GatedUnixSite(runner, sock, limits, ConnectionGate(limits, _privileged(config))).start()
        log.info("Starting server at %s with datastore at %s", socket_path, getattr(controller.datastore, "base", "?"))
        log.info(
            "Connections: at most %d (%d kept for root and admins), %d per uid; header timeout %gs, idle timeout %gs",
            limits.total, limits.reserved, limits.max_per_uid, limits.header_timeout, limits.idle_timeout,
        )  # fmt: skip
        notify_ready()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("Stopping: finishing requests in flight")
    finally:
        await runner.cleanup()
