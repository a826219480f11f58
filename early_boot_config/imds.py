"""A small IMDSv2 client: session token, retries with Fibonacci backoff, one overall deadline.

- token: `PUT {endpoint}/latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds: 60`;
  only HTTP 200 gives a token (its body). It is cached and reused.
- data: `GET {endpoint}/2021-07-15/{target}` with `X-aws-ec2-metadata-token: <token>`.
  200 gives the body; 404 means "not present" (None, no retry); 401 drops the cached token
  and retries with a new one; any other status or transport error is retried.
- retries: Fibonacci backoff from 0.25 s (0.25, 0.25, 0.5, 0.75, 1.25, …), each delay capped
  at 10 s, until the deadline (300 s by default) passes: then `ImdsError`
  ("Timed out fetching data from IMDS").

The endpoint is configurable so tests and sandboxes point it at a local server.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from .errors import ImdsError

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_TIMEOUT",
    "IDENTITY_DOCUMENT_TARGET",
    "SCHEMA",
    "USER_DATA_TARGET",
    "ImdsClient",
]

DEFAULT_ENDPOINT = "http://169.254.169.254"
SCHEMA = "2021-07-15"
USER_DATA_TARGET = "user-data"
IDENTITY_DOCUMENT_TARGET = "dynamic/instance-identity/document"
DEFAULT_TIMEOUT = 300.0
TOKEN_TTL_SECONDS = 60
FIRST_DELAY = 0.25
MAX_DELAY = 10.0
REQUEST_TIMEOUT = 10.0

log = logging.getLogger("early_boot_config")


class _Retry(Exception):
    """One attempt failed in a way worth retrying."""


class ImdsClient:
    """IMDSv2 over plain HTTP. `timeout` bounds each fetch including all of its retries."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
        request_timeout: float = REQUEST_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ImdsError(f"IMDS endpoint must be an http:// URL with a host, not '{endpoint}'")
        self.endpoint = endpoint.rstrip("/")
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.base_path = parsed.path.rstrip("/")
        self.timeout = timeout
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.request_timeout = request_timeout
        self.sleep = sleep
        self.token: str | None = None
        self.attempts = 0

    # -- requests --------------------------------------------------------------------------------
    def _request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        import http.client  # only on EC2: its imports cost a local boot time

        self.attempts += 1
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.request_timeout)
        try:
            conn.request(method, self.base_path + path, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(f"{method} {self.endpoint}{path}: {exc or type(exc).__name__}") from exc
        finally:
            conn.close()

    def _fetch_token(self) -> str:
        status, body = self._request(
            "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)}
        )
        if status != 200:
            raise _Retry(f"token request answered HTTP {status}")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Retry("the IMDS token is not UTF-8") from exc

    def _attempt(self, target: str) -> bytes | None:
        if self.token is None:
            self.token = self._fetch_token()
        status, body = self._request("GET", f"/{SCHEMA}/{target}", {"X-aws-ec2-metadata-token": self.token})
        if status == 200:
            return body
        if status == 404:
            return None
        if status == 401:
            self.token = None
            raise _Retry("IMDS answered 401 Unauthorized; fetching a new token")
        raise _Retry(f"IMDS answered HTTP {status} for {target}")

    def fetch(self, target: str) -> bytes | None:
        """The bytes at `target` (e.g. `user-data`), None when IMDS answers 404."""
        deadline = time.monotonic() + self.timeout
        previous, delay = 0.0, self.first_delay
        while True:
            try:
                return self._attempt(target)
            except _Retry as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ImdsError(f"Timed out fetching data from IMDS ({target}): {exc}") from None
                wait = min(delay, self.max_delay, remaining)
                log.info("IMDS request for '%s' failed (%s); retrying in %.2f s", target, exc, wait)
                self.sleep(wait)
                previous, delay = delay, previous + delay if previous else delay

    def user_data(self) -> bytes | None:
        """The instance's user data, None when it has none."""
        return self.fetch(USER_DATA_TARGET)

    def identity_document(self) -> Any:
        """The instance identity document as JSON, None when IMDS has none."""
        body = self.fetch(IDENTITY_DOCUMENT_TARGET)
        if body is None:
            return None
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ImdsError(f"The instance identity document from IMDS is not JSON: {exc}") from exc
