"""The registry configuration host-ctr reads (``/etc/host-containers/host-ctr.toml``), as ``ctr``
pull options.

The file is rendered from ``settings.container-registry`` (variants' ``host-ctr-toml`` template):
``[mirrors."HOST"] endpoints = [...]`` and ``[creds."HOST"]`` with ``username``/``password``,
``auth`` (base64 ``user:password``) or ``identitytoken``. As host-ctr's ``registryHosts``
(core-kit ``sources/host-ctr/cmd/host-ctr/registry.go``): a reference's registry host is tried at
its mirrors (``mirrors[host]``, else ``mirrors["*"]``) in order, then at the host itself; an
endpoint without a scheme is ``https://`` except for localhost, and the credentials are those
of the reference's own host (``docker.io`` is ``registry-1.docker.io``), used at every endpoint.
``ctr`` takes that as a hosts directory (``--hosts-dir``: ``HOST/hosts.toml``) and ``--user``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path

import toml

__all__ = ["Credential", "RegistryConfig", "RegistryConfigError", "reference_host", "registry_host_dir"]

LOCALHOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class RegistryConfigError(Exception):
    """The registry configuration file is unreadable or malformed (the message names it)."""


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = ""
    identitytoken: str = ""

    def user(self) -> str | None:
        """``user:password`` for ``ctr --user``, or None without a user name."""
        return f"{self.username}:{self.password}" if self.username else None


@dataclass(frozen=True)
class RegistryConfig:
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    credentials: dict[str, Credential] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> RegistryConfig:
        try:
            data = toml.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise RegistryConfigError(f"registry config {path}: {e.strerror or e}") from e
        except (toml.TomlDecodeError, UnicodeDecodeError) as e:
            raise RegistryConfigError(f"registry config {path}: not TOML: {e}") from e
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: dict[str, object], where: str) -> RegistryConfig:
        mirrors: dict[str, list[str]] = {}
        for host, table in _table(data, "mirrors", where).items():
            endpoints = table.get("endpoints", []) if isinstance(table, dict) else None
            if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
                raise RegistryConfigError(f"registry config {where}: mirrors.{host}.endpoints is not a list of strings")
            mirrors[host] = list(endpoints)
        credentials: dict[str, Credential] = {}
        for host, table in _table(data, "creds", where).items():
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise RegistryConfigError(f"registry config {where}: creds.{host} is not a table of strings")
            username, password = table.get("username", ""), table.get("password", "")
            if auth := table.get("auth", ""):
                try:
                    username, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    sep = ""
                if not sep:
                    raise RegistryConfigError(
                        f"registry config {where}: creds.{host}.auth is not base64 'user:password'"
                    )
            credentials[host] = Credential(username, password, table.get("identitytoken", ""))
        return cls(mirrors, credentials)

    def endpoints(self, host: str) -> list[str]:
        """The URLs a pull from ``host`` tries, in order: its mirrors, then the host itself."""
        mirrors = self.mirrors.get(host, self.mirrors.get("*", []))
        return [_with_scheme(e) for e in [*mirrors, default_host(host)]]

    def credential(self, host: str) -> Credential | None:
        return self.credentials.get(default_host(host))


def _table(data: dict[str, object], key: str, where: str) -> dict[str, object]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RegistryConfigError(f"registry config {where}: {key} is not a table")
    return value


def default_host(host: str) -> str:
    """containerd's ``docker.DefaultHost``: Docker Hub's registry is registry-1.docker.io."""
    return "registry-1.docker.io" if host == "docker.io" else host


def _with_scheme(endpoint: str) -> str:
    if "://" in endpoint:
        return endpoint.rstrip("/")
    name = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 else endpoint
    return ("http://" if name in LOCALHOSTS else "https://") + endpoint.rstrip("/")


def reference_host(ref: str) -> str:
    """The registry host of an image reference (``docker.io`` for a bare ``name[:tag]``)."""
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def registry_host_dir(config: RegistryConfig, host: str, hosts_dir: Path) -> None:
    """Write ``hosts_dir/HOST/hosts.toml`` (containerd's hosts format) for a pull from ``host``."""
    *mirrors, server = config.endpoints(host)
    lines = [f"server = {_quote(server)}", ""]
    for mirror in mirrors:
        lines += [f"[host.{_quote(mirror)}]", 'capabilities = ["pull", "resolve"]', ""]
    folder = hosts_dir / host
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts.toml").write_text("\n".join(lines), encoding="utf-8")


def _quote(value: str) -> str:
    return toml.dumps({"v": value}).partition("=")[2].strip()
