"""Who is calling: the peer's credentials on the API socket (``SO_PEERCRED``).

One function, ``caller``, which the access policy (``server.py``) and the commit's record
(``routes.py``) both look up here at call time, so that a test harness can replace it once.
"""

from __future__ import annotations

import socket
import struct

from aiohttp import web

from thar.datastore import Caller

__all__ = ["caller"]

_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def caller(request: web.Request) -> Caller | None:
    """The peer's uid, gid and pid (``SO_PEERCRED``); None off a Unix socket."""
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    pid, uid, gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    return Caller(uid=uid, gid=gid, pid=pid)
