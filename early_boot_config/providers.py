"""thar's user-data providers and the provider protocol.

A provider answers with `ProviderOutput`: the settings it found (no `settings` wrapper) and
a description, or nothing. As an executable (`python -m thar.early_boot_config.providers NAME`)
it prints one line, `{"json": {...}, "desc": "..."}`, or an empty line when it found no user
data, and exits 0; on error it prints the message and exits 1; it logs to stderr.

| name | link in a providers directory | source |
|---|---|---|
| `local-defaults` | `10-local-defaults` | `$THAR_ROOT/local/user-data-defaults.toml` |
| `local-file` | `20-local-user-data` | `$THAR_ROOT/var/lib/bottlerocket/user-data.toml` |
| `ec2-identity-doc` | `30-ec2-identity-doc` | identity document file, else IMDS; region fallback `us-east-1` |
| `ec2-imds` | `40-ec2-imds` | IMDS `user-data` |
| `local-overrides` | `99-local-overrides` | `$THAR_ROOT/local/user-data-overrides.toml` |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .compression import decode_text
from .errors import EarlyBootConfigError, ImdsError, ProviderError, UserDataError
from .imds import ImdsClient
from .paths import Paths
from .userdata import parse_user_data

__all__ = [
    "AWS_PROVIDERS",
    "LOCAL_PROVIDERS",
    "PROVIDERS",
    "ProviderOutput",
    "ec2_identity_doc",
    "ec2_imds",
    "local_defaults",
    "local_file",
    "local_overrides",
    "parse_protocol_output",
    "read_user_data_file",
]

log = logging.getLogger("early_boot_config")

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class ProviderOutput:
    """User data a provider found: the settings object and where it came from."""

    settings: dict[str, Any]
    desc: str

    def to_line(self) -> str:
        """The protocol's stdout line."""
        return json.dumps({"json": self.settings, "desc": self.desc}, separators=(",", ":"))


Provider = Callable[[Paths, "ImdsClient | None"], "ProviderOutput | None"]


def read_user_data_file(path: Path) -> ProviderOutput | None:
    """The common file reader: missing -> None; optional gzip; exactly empty -> warning, None."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        log.info("No user data file at %s", path)
        return None
    except OSError as exc:
        raise UserDataError(source, f"cannot read it: {exc.strerror or exc}") from exc
    text = decode_text(data, source)
    if text == "":
        log.warning("User data file %s exists but is empty", path)
        return None
    return ProviderOutput(parse_user_data(text, source), f"user data from {path}")


def local_defaults(paths: Paths, imds: ImdsClient | None = None) -> ProviderOutput | None:
    return read_user_data_file(paths.user_data_defaults)


def local_file(paths: Paths, imds: ImdsClient | None = None) -> ProviderOutput | None:
    return read_user_data_file(paths.user_data)


def local_overrides(paths: Paths, imds: ImdsClient | None = None) -> ProviderOutput | None:
    return read_user_data_file(paths.user_data_overrides)


def _client(paths: Paths, imds: ImdsClient | None) -> ImdsClient:
    return imds if imds is not None else ImdsClient(paths.imds_endpoint, timeout=paths.imds_timeout)


def ec2_identity_doc(paths: Paths, imds: ImdsClient | None = None) -> ProviderOutput | None:
    """`{"aws": {"region": R}}` from the identity document file, else from IMDS, else us-east-1."""
    region: Any
    if paths.identity_document.exists():
        try:
            document = json.loads(paths.identity_document.read_bytes())
        except (OSError, ValueError) as exc:
            raise ProviderError("ec2-identity-doc", f"cannot read {paths.identity_document}: {exc}") from exc
        if not isinstance(document, dict) or "region" not in document:
            raise ProviderError("ec2-identity-doc", "Instance identity document missing region")
        region = document["region"]
        if not isinstance(region, str):
            raise ProviderError("ec2-identity-doc", f"Wrong type for region in identity document: {region!r}")
    else:
        document = _client(paths, imds).identity_document()
        region = document.get("region") if isinstance(document, dict) else None
        if not isinstance(region, str):
            log.info("No region in the instance identity document; using %s", DEFAULT_REGION)
            region = DEFAULT_REGION
    return ProviderOutput({"aws": {"region": region}}, "EC2 instance identity document")


def ec2_imds(paths: Paths, imds: ImdsClient | None = None) -> ProviderOutput | None:
    """User data from IMDS: 404 or blank -> None; optional gzip; TOML."""
    data = _client(paths, imds).user_data()
    if data is None:
        log.info("No user data in IMDS")
        return None
    text = decode_text(data, "EC2 IMDS")
    if not text.strip():
        log.warning("User data from IMDS is empty")
        return None
    return ProviderOutput(parse_user_data(text, "EC2 IMDS"), "EC2 IMDS")


PROVIDERS: dict[str, Provider] = {
    "local-defaults": local_defaults,
    "local-file": local_file,
    "ec2-identity-doc": ec2_identity_doc,
    "ec2-imds": ec2_imds,
    "local-overrides": local_overrides,
}
"""thar's providers by name."""

LOCAL_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("10-local-defaults", "local-defaults"),
    ("20-local-user-data", "local-file"),
    ("99-local-overrides", "local-overrides"),
)
"""Link names and providers of every platform."""

AWS_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("10-local-defaults", "local-defaults"),
    ("20-local-user-data", "local-file"),
    ("30-ec2-identity-doc", "ec2-identity-doc"),
    ("40-ec2-imds", "ec2-imds"),
    ("99-local-overrides", "local-overrides"),
)
"""Link names and providers on EC2."""


def parse_protocol_output(provider: str, returncode: int, stdout: bytes) -> ProviderOutput | None:
    """Interpret a provider process's exit status and standard output."""
    try:
        text = stdout.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ProviderError(provider, f"its output is not UTF-8 ({exc})") from exc
    if returncode != 0:
        how = f"exit code {returncode}" if returncode > 0 else f"killed by signal {-returncode}"
        raise ProviderError(provider, f"{text or '(no message)'} ({how})")
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ProviderError(provider, f"its output is not JSON ({exc}): {text[:200]!r}") from exc
    if not isinstance(value, dict) or not isinstance(value.get("desc"), str) or "json" not in value:
        raise ProviderError(provider, f'its output is not {{"json": …, "desc": "…"}}: {text[:200]!r}')
    settings = value["json"]
    if not isinstance(settings, dict):
        raise ProviderError(provider, f"its settings are not a JSON object: {text[:200]!r}")
    return ProviderOutput(settings, value["desc"])


def run_provider(name: str, paths: Paths) -> tuple[int, str]:
    """Run one of thar's providers as the protocol wants: (exit code, stdout line)."""
    try:
        output = PROVIDERS[name](paths, None)
    except (EarlyBootConfigError, ImdsError) as exc:
        return 1, str(exc)
    return 0, "" if output is None else output.to_line()
