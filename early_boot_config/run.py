"""One early-boot-config run: gather user data from every provider, check it, send it.

1. Providers: the symlinks in the providers directory, sorted by name, each started as a
   process; without a providers directory, thar's providers for the platform run in this
   process (`local`: local defaults, local user data, local overrides; `aws` adds the EC2
   identity document and IMDS). Either way they all start at once and their answers are
   consumed in name order, so a later provider overrides an earlier one key by key.
2. Every answer is checked against the variant's settings model before anything is sent to
   the launch transaction: here, with `models`, when `--variant` names the variant; else by
   the API itself, in a scratch transaction deleted right after (the model the API serves,
   without loading pydantic into this process). A provider failure or a problem in any answer
   stops the run with nothing sent.
3. The answers are merged in order (objects per key, the later value wins per leaf, lists and
   scalars whole, `null` means "not given") and sent as one
   `PATCH /settings?tx=bottlerocket-launch`; nothing is committed.
4. The first-boot marker is written; a run that finds it does nothing.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thar.apiclient import ApiClientError, get_json, patch_settings, raw_request_unchecked
from thar.apiclient.client import transaction_name

from .errors import ApiFailed, EarlyBootConfigError, ProviderError, UserDataInvalid
from .paths import Paths
from .providers import AWS_PROVIDERS, LOCAL_PROVIDERS, PROVIDERS, ProviderOutput, parse_protocol_output

__all__ = [
    "LAUNCH_TRANSACTION",
    "Options",
    "Result",
    "check_with_api",
    "check_with_model",
    "discover_providers",
    "gather",
    "merge_settings",
    "run",
    "served_variant",
]

LAUNCH_TRANSACTION = "bottlerocket-launch"
PLATFORMS: dict[str, tuple[tuple[str, str], ...]] = {"local": LOCAL_PROVIDERS, "aws": AWS_PROVIDERS}

log = logging.getLogger("early_boot_config")


@dataclass(frozen=True)
class Options:
    """How to run: the API socket, where inputs are, which built-in providers, which model."""

    socket_path: str
    paths: Paths
    platform: str = "local"
    variant: str | None = None
    validate: bool = True
    log_level: str = "info"


@dataclass
class Result:
    """What a run did: `ran` is False when the marker said it had run before; `found` lists
    `(provider, desc)` of the answers with user data; `sent` is the PATCH body (None: none)."""

    ran: bool = True
    found: list[tuple[str, str]] = field(default_factory=list)
    sent: dict[str, Any] | None = None


def discover_providers(directory: Path) -> list[Path] | None:
    """The provider links of `directory` (symlinks only), sorted by name; None when it does not exist."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProviderError(str(directory), f"cannot read the providers directory: {exc.strerror or exc}") from exc
    links = [Path(entry.path) for entry in entries if entry.is_symlink()]
    return sorted(links, key=lambda p: os.fsencode(p.name))


# -- gathering ------------------------------------------------------------------------------------
class _Pending:
    """A provider that has been started; `wait()` gives its answer."""

    def __init__(self, name: str) -> None:
        self.name = name

    def wait(self) -> ProviderOutput | None:
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop it if it is still running."""


class _ProcessProvider(_Pending):
    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        super().__init__(path.name)
        self.path = path
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env)
            )
            self.error: OSError | None = None
        except OSError as exc:
            self.proc, self.error = None, exc

    def wait(self) -> ProviderOutput | None:
        if self.proc is None:
            assert self.error is not None
            raise ProviderError(str(self.path), f"cannot start it: {self.error.strerror or self.error}")
        stdout, stderr = self.proc.communicate()
        for line in stderr.decode("utf-8", "replace").splitlines():
            log.info("Provider '%s': %s", self.name, line)
        return parse_protocol_output(str(self.path), self.proc.returncode, stdout)

    def cancel(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


class _ThreadProvider(_Pending):
    def __init__(self, link: str, provider: str, paths: Paths) -> None:
        super().__init__(link)
        self.provider = provider
        self.answer: ProviderOutput | None = None
        self.error: EarlyBootConfigError | None = None
        self.thread = threading.Thread(target=self._run, args=(paths,), name=f"provider-{link}", daemon=True)
        self.thread.start()

    def _run(self, paths: Paths) -> None:
        try:
            self.answer = PROVIDERS[self.provider](paths, None)
        except EarlyBootConfigError as exc:
            self.error = exc
        except Exception as exc:  # a bug must fail the boot, not read as "no user data"
            self.error = ProviderError(self.name, f"internal error: {exc!r}")

    def wait(self) -> ProviderOutput | None:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.answer


def _start(options: Options) -> list[_Pending]:
    links = discover_providers(options.paths.providers_dir)
    if links is not None:
        log.info("Providers from %s: %s", options.paths.providers_dir, ", ".join(p.name for p in links) or "none")
        env = {**os.environ, **options.paths.environment(), "EARLY_BOOT_CONFIG_LOG_LEVEL": options.log_level}
        return [_ProcessProvider(path, env) for path in links]
    built_in = PLATFORMS[options.platform]
    log.info("Built-in providers for platform '%s': %s", options.platform, ", ".join(link for link, _ in built_in))
    return [_ThreadProvider(link, provider, options.paths) for link, provider in built_in]


def gather(options: Options) -> list[tuple[str, ProviderOutput]]:
    """Start every provider at once and take their answers in order: `(provider, output)` for
    each that found user data. The first failure stops the others and raises."""
    log.info("Gathering user data providers")
    pending = _start(options)
    found: list[tuple[str, ProviderOutput]] = []
    try:
        for provider in pending:
            started = time.monotonic()
            output = provider.wait()
            waited = time.monotonic() - started
            if output is None:
                log.info("No user data found via %s (waited %.3f s)", provider.name, waited)
            else:
                log.info("Found user data via %s (provider %s, waited %.3f s)", output.desc, provider.name, waited)
                found.append((provider.name, output))
    except BaseException:
        for provider in pending:
            provider.cancel()
        raise
    return found


# -- checking and sending -------------------------------------------------------------------------
def merge_settings(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """`right` over `left` as successive PATCHes would leave them: objects merge per key, other
    values replace, `null` on the right changes nothing."""
    merged = dict(left)
    for name, value in right.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = merge_settings(merged[name], value)
        else:
            merged[name] = value
    return merged


def served_variant(socket_path: str) -> str | None:
    """The `variant_id` of `GET /os`, or None when the API cannot say."""
    try:
        os_info = get_json(socket_path, "/os")
    except ApiClientError:
        return None
    variant = os_info.get("variant_id") if isinstance(os_info, dict) else None
    return variant if isinstance(variant, str) and variant else None


def check_with_model(variant_name: str, found: Sequence[tuple[str, ProviderOutput]]) -> None:
    """Check every answer against a variant's model here (imports `models`)."""
    from .validate import load_named_variant, validate_settings

    variant = load_named_variant(variant_name)
    for _, output in found:
        validate_settings(variant, output.settings, output.desc)
    log.info("User data fits the settings of variant '%s'", variant.name)


_REJECTION_PREFIX = "Json deserialize error: "


def check_with_api(socket_path: str, found: Sequence[tuple[str, ProviderOutput]]) -> None:
    """Check every answer against the model the API serves: each is PATCHed into a scratch
    transaction, which is deleted again whatever happens. The launch transaction is untouched."""
    from thar.apiclient.set import json_request

    tx = transaction_name("early-boot-config-check")
    try:
        for _, output in found:
            request = json_request(tx, output.settings)
            try:
                status, body = raw_request_unchecked(socket_path, request.uri, request.method, request.body)
            except ApiClientError as exc:
                raise ApiFailed("checking user data with the API", exc) from exc
            if status == 400:
                text = body.removeprefix(_REJECTION_PREFIX)
                lines = [line for line in text.splitlines() if line.strip()] or [body]
                raise UserDataInvalid(output.desc, served_variant(socket_path) or "(served by the API)", lines)
            if not 200 <= status < 300:
                raise ApiFailed("checking user data with the API", RuntimeError(f"status {status}: {body}"))
    finally:
        try:
            raw_request_unchecked(socket_path, f"/tx?tx={tx}", "DELETE")
        except ApiClientError:
            log.warning("Could not delete the scratch transaction '%s'", tx)
    log.info("User data fits the settings model the API serves")


def run(options: Options) -> Result:
    """The whole run; raises an `EarlyBootConfigError` (with nothing sent) on failure."""
    if options.paths.marker.exists():
        log.info("early-boot-config already ran (%s exists); nothing to do", options.paths.marker)
        return Result(ran=False)
    found = gather(options)
    result = Result(found=[(name, output.desc) for name, output in found])
    if found:
        if options.validate and options.variant is not None:
            check_with_model(options.variant, found)
        elif options.validate:
            check_with_api(options.socket_path, found)
        body: dict[str, Any] = {}
        for _, output in found:
            body = merge_settings(body, output.settings)
        log.info("Sending user data to the API in one PATCH (from %s)", "; ".join(output.desc for _, output in found))
        try:
            patch_settings(options.socket_path, body, LAUNCH_TRANSACTION)
        except ApiClientError as exc:
            raise ApiFailed(f"PATCHing '/settings?tx={LAUNCH_TRANSACTION}'", exc) from exc
        result.sent = body
    _write_marker(options.paths.marker)
    return result


def _write_marker(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_bytes(b"")
    except OSError as exc:
        log.warning("Could not write the first-boot marker %s: %s", marker, exc.strerror or exc)
