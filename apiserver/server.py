"""Assemble and serve the API: ``make_app()`` for tests, ``serve()`` for the daemon."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from .controller import Controller
from .errors import STATUS, ApiError
from .routes import CONFIG, CONTROLLER, EXECUTOR, JSON_LIMIT, WRITE_LOCK, ServerConfig, route_table

__all__ = ["ServerSetupError", "bind_socket", "make_app", "notify_ready", "serve"]

log = logging.getLogger("apiserver")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServerSetupError(Exception):
    """The server cannot start (socket, permissions, systemd notification)."""


@web.middleware
async def errors_to_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.Response(status=STATUS[type(exc)], text=str(exc))
    except web.HTTPNotFound:
        return web.Response(status=404)  # unknown path: empty body, as Bottlerocket
    except web.HTTPMethodNotAllowed as exc:
        # thar: a known path with the wrong method is 405 with Allow (Bottlerocket answers 404).
        return web.Response(status=405, headers={"Allow": ",".join(sorted(exc.allowed_methods))})


async def _executor_lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    app[EXECUTOR].shutdown(wait=True)  # lets an in-flight commit finish


def make_app(controller: Controller, config: ServerConfig | None = None) -> web.Application:
    """The aiohttp application over ``controller``."""
    app = web.Application(middlewares=[errors_to_responses], client_max_size=JSON_LIMIT + 1)
    app[CONTROLLER] = controller
    app[CONFIG] = config or ServerConfig()
    app[WRITE_LOCK] = asyncio.Lock()
    app[EXECUTOR] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thar-writer")
    app.cleanup_ctx.append(_executor_lifetime)
    app.router.add_routes(route_table())
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
    sock.listen(128)
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


async def serve(controller: Controller, socket_path: Path, gid: int | None, config: ServerConfig) -> None:
    """Serve until SIGTERM or SIGINT; in-flight requests (and commits) finish first."""
    runner = web.AppRunner(make_app(controller, config), handle_signals=False, shutdown_timeout=30, access_log=None)
    await runner.setup()
    try:
        sock = activated_socket() or bind_socket(socket_path, gid)
        await web.SockSite(runner, sock).start()
        log.info("Starting server at %s with datastore at %s", socket_path, getattr(controller.datastore, "base", "?"))
        notify_ready()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("Stopping: finishing requests in flight")
    finally:
        await runner.cleanup()
