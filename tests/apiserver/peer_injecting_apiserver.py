"""The apiserver with the caller's credentials injected at the transport boundary, for the access
policy tests on machines where the suite cannot send as other uids (it does not run as root).

A request carrying ``X-Thar-Test-Peer: UID,GID`` is seen as coming from that uid and gid; any
other request keeps the credentials SO_PEERCRED reports. Everything past that point — the policy,
the route and key checks, the history's caller — is the real server. Test code only: the header
means nothing to ``apiserver`` itself.

Usage: ``python peer_injecting_apiserver.py APISERVER-ARGS...``
"""

from __future__ import annotations

import sys

from aiohttp import web

import thar.apiserver.peer
from thar.apiserver.__main__ import main
from thar.datastore import Caller

HEADER = "X-Thar-Test-Peer"
_from_socket = thar.apiserver.peer.caller


def _injected(request: web.Request) -> Caller | None:
    value = request.headers.get(HEADER)
    if value is None:
        return _from_socket(request)
    uid, gid = (int(part) for part in value.split(","))
    return Caller(uid=uid, gid=gid, pid=0)


if __name__ == "__main__":
    thar.apiserver.peer.caller = _injected  # looked up there by the policy check and the commit's record
    sys.exit(main(sys.argv[1:]))
