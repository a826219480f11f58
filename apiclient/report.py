"""`apiclient report`: fetch a compliance report (CIS benchmark or FIPS) as the server renders it.

The body is passed through untouched (text or JSON, as `--format` asked). thar's server has
no `/report` routes yet: its bare 404 (no reason) is reported as `NotSupported`.
"""

from __future__ import annotations

from thar.apiclient.client import Request, SocketPath, send_supported

__all__ = ["REPORT_KINDS", "get_report", "report_request"]

REPORT_KINDS = ("cis", "cis-k8s", "fips")


def report_request(kind: str, *, level: int | None = None, format: str | None = None) -> Request:
    """The request for one report; parameters in Bottlerocket's order (type, format, level).

    `cis` -> `/report/cis?type=bottlerocket[&format=F][&level=N]`; `cis-k8s` -> the same with
    `type=kubernetes`; `fips` -> `/report/fips?[format=F]` (a bare `?` without a format, as
    upstream sends it). Values go unencoded and unvalidated, as upstream; `level` is ignored for
    fips. A kind not in `REPORT_KINDS` raises `ValueError`.
    """
    if kind not in REPORT_KINDS:
        raise ValueError(f"unknown report '{kind}'")
    if kind == "fips":
        return Request("GET", "/report/fips?" + (f"format={format}" if format is not None else ""))
    uri = "/report/cis?type=" + ("kubernetes" if kind == "cis-k8s" else "bottlerocket")
    if format is not None:
        uri += f"&format={format}"
    if level is not None:
        uri += f"&level={level}"
    return Request("GET", uri)


def get_report(socket_path: SocketPath, request: Request) -> str:
    """Send a report request and return the body as is.

    Raises `NotSupported` when the server has no such route (404, empty body), else `RequestFailed`.
    """
    return send_supported(socket_path, request, "report", "/report")
