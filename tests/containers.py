"""Real containerd, a real OCI registry and images built in Python, for tests of host containers.

Every daemon runs from the test's own directories (its config, root, state, socket, storage) on
127.0.0.1 and is stopped by its pid at teardown. Without root or the binaries (Debian's
``containerd``, ``runc``, ``docker-registry``, ``busybox-static``) the fixtures skip, unless
``THAR_HOST_TESTS=required`` (``.ci/run``), where a missing piece is a failure.

Fixtures: ``containerd`` (a :class:`Containerd`), ``registry`` (a plain-HTTP :class:`Registry`),
``secure_registry`` (TLS with a self-signed certificate and htpasswd basic auth; skips when
``openssl`` or a bcrypt ``crypt(3)`` is missing). Helpers: :func:`busybox_image`,
:func:`build_image`, :func:`push_image`, :func:`require`, :func:`glibc_image` (the C library
a host Python needs, for thar's apiclient in a container), :func:`image_with_config`.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
import gzip
import hashlib
import http.client
import io
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from thar.host_ctr.containerd import ContainerdError, ContainerdProcess, namespaced_command

__all__ = [
    "BUSYBOX",
    "Containerd",
    "Image",
    "PushedImage",
    "Registry",
    "build_image",
    "busybox_image",
    "containerd",
    "glibc_image",
    "host_ctr_command",
    "image_with_config",
    "push_image",
    "registry",
    "require",
    "secure_registry",
    "shared_libraries",
]

REQUIRED = os.environ.get("THAR_HOST_TESTS") == "required"
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
RUNC = "/usr/sbin/runc"
REGISTRY = "/usr/bin/docker-registry"
BUSYBOX = "/usr/bin/busybox"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def require(*binaries: str, root: bool = True) -> None:
    """Skip (fail under THAR_HOST_TESTS=required) unless root and every binary is installed."""
    why = None
    if root and os.geteuid() != 0:
        why = "needs root"
    elif missing := [b for b in binaries if not os.access(b, os.X_OK)]:
        why = f"needs {', '.join(missing)} (Debian: containerd runc docker-registry busybox-static)"
    if why:
        if REQUIRED:
            pytest.fail(f"{why} (THAR_HOST_TESTS=required)")
        pytest.skip(why)


def _stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _short_dir(tmp_path: Path, name: str) -> Path:
    """A folder for Unix sockets: below tmp_path when short enough (108-byte limit), else its own."""
    folder = tmp_path / name
    if len(str(folder)) > 80:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}."))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- containerd -------------------------------------------------------------------------------


@dataclass
class Containerd:
    """A containerd of the test's own: ``ctr("images", "ls")`` runs ``ctr -a SOCKET -n NAMESPACE``."""

    socket: Path
    root: Path
    state: Path
    config: Path
    log: Path
    process: subprocess.Popen[bytes]
    namespace: str = "default"

    @property
    def pid(self) -> int:
        return self.process.pid

    def ctr(self, *args: str, check: bool = True, namespace: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [CTR, "-a", str(self.socket), "-n", namespace or self.namespace, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def containers(self) -> set[str]:
        return set(self.ctr("containers", "ls", "-q").stdout.split())

    def tasks(self) -> dict[str, str]:
        """Task id -> status."""
        lines = self.ctr("tasks", "ls").stdout.splitlines()[1:]
        return {f[0]: f[2] for f in (line.split() for line in lines) if len(f) >= 3}

    def images(self) -> set[str]:
        return set(self.ctr("images", "ls", "-q").stdout.split())


def start_containerd(tmp_path: Path) -> Containerd:
    """Start containerd below ``tmp_path`` (no CRI) and wait until ``ctr version`` answers."""
    require(CONTAINERD, CTR, RUNC, "/usr/bin/containerd-shim-runc-v2")
    base = tmp_path / "containerd"
    root, state = base / "root", base / "state"
    sockets = _short_dir(tmp_path, "ctd")
    socket_path = sockets / "containerd.sock"
    config = base / "config.toml"
    base.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"""version = 2
root = "{root}"
state = "{state}"
disabled_plugins = [
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
address = "{socket_path}"

[ttrpc]
address = "{socket_path}.ttrpc"

[debug]
address = "{sockets / "debug.sock"}"
""",
        encoding="utf-8",
    )
    # containerd 1.6's shims put their sockets in /run/containerd/s, whatever the config says:
    # containerd runs in a mount namespace of its own with the test's folder bound over /run
    # (its sockets, root and state are below /tmp), so nothing lands in the machine's /run.
    run = base / "run"
    run.mkdir()
    require("/usr/bin/unshare", root=False)
    log = base / "containerd.log"
    started = ContainerdProcess(namespaced_command(CONTAINERD, config, run, "/usr/bin/unshare"), socket_path, log)
    try:
        started.wait_ready(CTR, timeout=30)
    except ContainerdError as exc:
        raise AssertionError(str(exc)) from exc
    return Containerd(socket_path, root, state, config, log, started.process)


def host_ctr_command(daemon: Containerd, *args: str, python: Path | str = sys.executable) -> list[str]:
    """thar's host-ctr on ``daemon``'s socket, run by ``python``: ``host_ctr_command(d, "run", ...)``."""
    return [str(python), "-m", "thar.host_ctr", "--containerd-socket", str(daemon.socket), *args]


def stop_containerd(daemon: Containerd) -> None:
    """Kill and delete every task and container of every namespace, then stop containerd by pid."""
    if daemon.process.poll() is None:
        namespaces = daemon.ctr("namespaces", "ls", "-q", check=False).stdout.split()
        for ns in namespaces:
            for task in daemon.ctr("tasks", "ls", "-q", check=False, namespace=ns).stdout.split():
                daemon.ctr("tasks", "delete", "--force", task, check=False, namespace=ns)
            for container in daemon.ctr("containers", "ls", "-q", check=False, namespace=ns).stdout.split():
                daemon.ctr("containers", "delete", container, check=False, namespace=ns)
    _stop(daemon.process)
    if daemon.socket.parent.name.startswith("ctd."):
        shutil.rmtree(daemon.socket.parent, ignore_errors=True)


MACHINE_PATHS = [Path("/run/containerd"), Path("/var/lib/containerd"), Path("/run/host-containerd")]


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[Containerd]:
    """A started :class:`Containerd`, stopped by pid at teardown; the machine's containerd paths
    that did not exist before must not exist after."""
    absent = [p for p in MACHINE_PATHS if not p.exists()]
    daemon = start_containerd(tmp_path)
    try:
        yield daemon
    finally:
        stop_containerd(daemon)
        assert [p for p in absent if p.exists()] == [], "containerd wrote to the machine's paths"


# --- registry ---------------------------------------------------------------------------------


@dataclass
class Registry:
    """A docker-registry (distribution v2) on ``host`` = 127.0.0.1:PORT."""

    host: str
    storage: Path
    config: Path
    process: subprocess.Popen[bytes]
    ca: Path | None = None  # the self-signed certificate, for TLS
    user: str | None = None
    password: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def scheme(self) -> str:
        return "https" if self.ca else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def connection(self) -> http.client.HTTPConnection:
        if self.ca:
            return http.client.HTTPSConnection(
                self.host, timeout=30, context=ssl.create_default_context(cafile=self.ca)
            )
        return http.client.HTTPConnection(self.host, timeout=30)

    def headers(self) -> dict[str, str]:
        if self.user is None:
            return {}
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bcrypt_hash(password: str) -> str | None:
    """A bcrypt hash from libcrypt's ``crypt(3)`` (libxcrypt has ``$2b$``), or None."""
    name = ctypes.util.find_library("crypt")
    if not name:
        return None
    crypt = ctypes.CDLL(name).crypt
    crypt.restype, crypt.argtypes = ctypes.c_char_p, [ctypes.c_char_p, ctypes.c_char_p]
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    salt = "$2b$05$" + "".join(secrets.choice(alphabet) for _ in range(21)) + "."
    result = crypt(password.encode(), salt.encode())
    return result.decode() if result and result.startswith(b"$2") else None


def start_registry(tmp_path: Path, tls: bool = False, auth: tuple[str, str] | None = None) -> Registry:
    """Start docker-registry on 127.0.0.1:<free port> with its own config and storage below
    ``tmp_path``; TLS with a self-signed certificate (openssl) and/or htpasswd basic auth."""
    require(REGISTRY, root=False)
    base = tmp_path / f"registry-{secrets.token_hex(3)}"
    storage = base / "storage"
    storage.mkdir(parents=True)
    port = _free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
    ]
    ca = None
    if tls:
        openssl = shutil.which("openssl")
        if not openssl:
            pytest.skip("TLS registry needs openssl")
        ca, key = base / "cert.pem", base / "key.pem"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(ca)],
            check=True, capture_output=True,
        )  # fmt: skip
        lines += ["  tls:", f"    certificate: {ca}", f"    key: {key}"]
    if auth:
        hashed = bcrypt_hash(auth[1])
        if hashed is None:
            pytest.skip("htpasswd auth needs a bcrypt crypt(3) (libcrypt) to write the password file")
        htpasswd = base / "htpasswd"
        htpasswd.write_text(f"{auth[0]}:{hashed}\n", encoding="utf-8")
        lines += ["auth:", "  htpasswd:", "    realm: thar-tests", f"    path: {htpasswd}"]
    config = base / "config.yml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = base / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [REGISTRY, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    reg = Registry(f"127.0.0.1:{port}", storage, config, process, ca, *(auth or (None, None)))
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise AssertionError(f"docker-registry exited ({process.returncode}): {log.read_text(errors='replace')}")
        try:
            conn = reg.connection()
            conn.request("GET", "/v2/")
            if conn.getresponse().status in (200, 401):
                return reg
        except OSError:
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise AssertionError(f"docker-registry did not answer in 20 s: {log.read_text(errors='replace')}")
        time.sleep(0.05)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = start_registry(tmp_path)
    try:
        yield reg
    finally:
        _stop(reg.process)


@pytest.fixture
def secure_registry(tmp_path: Path) -> Iterator[Registry]:
    reg = start_registry(tmp_path, tls=True, auth=("thar", secrets.token_hex(8)))
    try:
        yield reg
    finally:
        _stop(reg.process)


# --- images -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """An OCI image: one gzip layer, its config and manifest (bytes as pushed)."""

    layer: bytes
    config: bytes
    manifest: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()


@dataclass(frozen=True)
class PushedImage:
    tag: str  # HOST/REPO:TAG
    digest: str  # HOST/REPO@sha256:...


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def build_image(
    files: Mapping[str, bytes | Path],
    entrypoint: list[str] | None = None,
    cmd: list[str] | None = None,
    env: list[str] | None = None,
    symlinks: Mapping[str, str] | None = None,
    dirs: tuple[str, ...] = ("tmp", "proc", "sys", "dev", "run", "etc"),
) -> Image:
    """An image of ``files`` (path in the image -> content or a host file, mode 0755),
    ``symlinks`` (path -> target) and empty ``dirs``; Entrypoint/Cmd/Env in its config.
    The layer of a set of files is built once per session (a host file is the same while its
    size and mtime are): only the config differs between images of the same files."""
    layer, diff_id = _layer(files, symlinks or {}, dirs)
    config = json.dumps(
        {
            "architecture": _arch(),
            "os": "linux",
            "config": {
                "Env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                **({"Entrypoint": entrypoint} if entrypoint else {}),
                **({"Cmd": cmd} if cmd else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": [_descriptor(OCI_LAYER, layer)],
        }
    ).encode()
    return Image(layer, config, manifest)


_LAYERS: dict[object, tuple[bytes, str]] = {}


def _layer(files: Mapping[str, bytes | Path], symlinks: Mapping[str, str], dirs: tuple[str, ...]) -> tuple[bytes, str]:
    """The gzip layer of ``files``, ``symlinks`` and ``dirs``, and its diff id (built once per key)."""

    def version(content: bytes | Path) -> object:
        if isinstance(content, Path):
            stat = content.stat()
            return (str(content), stat.st_size, stat.st_mtime_ns)
        return content

    key = (
        tuple(sorted((path, version(content)) for path, content in files.items())),
        tuple(sorted(symlinks.items())),
        dirs,
    )
    if key in _LAYERS:
        return _LAYERS[key]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parents: set[str] = set(dirs)
        for path in [*files, *symlinks]:
            parts = path.strip("/").split("/")[:-1]
            parents |= {"/".join(parts[: i + 1]) for i in range(len(parts))}
        for folder in sorted(parents):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, content in sorted(files.items()):
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(path.strip("/"))
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        for path, target in sorted(symlinks.items()):
            info = tarfile.TarInfo(path.strip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    tar_bytes = raw.getvalue()
    # Level 1: a glibc image's layer (~45 MB of libraries) takes seconds at 1, tens of them at 9
    # (the default), for a layer a tenth larger, pushed and pulled on 127.0.0.1.
    built = gzip.compress(tar_bytes, compresslevel=1, mtime=0), "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    _LAYERS[key] = built
    return built


def _descriptor(media_type: str, blob: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(blob).hexdigest(), "size": len(blob)}


@functools.cache
def _busybox_links() -> dict[str, str]:
    """A symlink to busybox per applet of ``busybox --list`` (asked once per session)."""
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    return {f"bin/{a}": "busybox" for a in applets if a != "busybox"}


def busybox_image(cmd: list[str] | None = None, entrypoint: list[str] | None = None) -> Image:
    """busybox-static at /bin/busybox with a symlink per applet (/bin/sh, ...); Cmd ``cmd``."""
    require(BUSYBOX, root=False)
    links = _busybox_links()
    return build_image({"bin/busybox": Path(BUSYBOX)}, entrypoint=entrypoint, cmd=cmd or ["/bin/sh"], symlinks=links)


@dataclass
class _Pusher:
    registry: Registry
    repo: str
    conn: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        self.conn = self.registry.connection()

    def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] = {}
    ) -> http.client.HTTPResponse:
        self.conn.request(method, path, body=body, headers={**self.registry.headers(), **headers})
        response = self.conn.getresponse()
        response.read()
        return response

    def blob(self, data: bytes) -> None:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.request("HEAD", f"/v2/{self.repo}/blobs/{digest}").status == 200:
            return
        started = self.request("POST", f"/v2/{self.repo}/blobs/uploads/")
        if started.status != 202:
            raise AssertionError(f"registry {self.registry.host}: upload to {self.repo} answered {started.status}")
        location = started.headers["Location"]
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        sep = "&" if "?" in location else "?"
        done = self.request(
            "PUT", f"{location}{sep}digest={digest}", data, {"Content-Type": "application/octet-stream"}
        )
        if done.status != 201:
            raise AssertionError(f"registry {self.registry.host}: blob {digest} answered {done.status}")


def push_image(registry: Registry, repo: str, tag: str, image: Image) -> PushedImage:
    """PUSH ``image`` as ``repo:tag`` over the registry v2 API (blobs, then the manifest)."""
    pusher = _Pusher(registry, repo)
    pusher.blob(image.layer)
    pusher.blob(image.config)
    put = pusher.request("PUT", f"/v2/{repo}/manifests/{tag}", image.manifest, {"Content-Type": OCI_MANIFEST})
    if put.status != 201:
        raise AssertionError(f"registry {registry.host}: manifest {repo}:{tag} answered {put.status}")
    digest = put.headers.get("Docker-Content-Digest", image.digest)
    if digest != image.digest:
        raise AssertionError(f"registry {registry.host}: manifest digest {digest}, pushed {image.digest}")
    return PushedImage(f"{registry.host}/{repo}:{tag}", f"{registry.host}/{repo}@{digest}")


# --- images for thar's apiclient ----------------------------------------------------------------


@functools.cache
def _python_var(python: Path, expression: str) -> str:
    done = subprocess.run([str(python), "-c", f"import sys, sysconfig; print({expression})"],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


def shared_libraries(*programs: Path) -> set[Path]:
    """The shared libraries ``ldd`` names for ``programs`` (the loader included; not found ones left out)."""
    require("/usr/bin/ldd", root=False)
    return {library for program in programs for library in _ldd(program)}


@functools.cache
def _ldd(program: Path) -> frozenset[Path]:
    """What ``ldd`` names for ``program`` (asked once per session: the host's libraries stay put)."""
    done = subprocess.run(["/usr/bin/ldd", str(program)], capture_output=True, text=True, check=False, timeout=60)
    found: set[Path] = set()
    for line in done.stdout.splitlines():
        target = line.split("=>")[-1].split("(")[0].strip()
        if target.startswith("/"):
            found.add(Path(target))
    return frozenset(found)


def glibc_image(python: Path | None = None, cmd: list[str] | None = None, user: str | None = None) -> Image:
    """busybox (``/bin/sh``, …) and the C library a host Python needs: the shared libraries ``ldd``
    names for ``python`` (default this one) and its ``lib-dynload`` modules, at their paths, as a
    distribution's image has its glibc. Not Python itself: host-ctr binds the host's (those below
    its prefix, when host-ctr binds the prefix, are left out). ``user``: the config's ``User``."""
    python = python or Path(sys.executable)
    prefix = Path(_python_var(python, "sys.base_prefix"))
    dynload = Path(_python_var(python, "sysconfig.get_config_var('DESTSHARED')"))
    libraries = shared_libraries(python, *sorted(dynload.glob("*.so")))
    own = prefix not in (Path("/"), Path("/usr"), Path("/usr/local"))
    files: dict[str, bytes | Path] = {"bin/busybox": Path(BUSYBOX)}
    for library in sorted(libraries):
        if not (own and library.is_relative_to(prefix)):
            files[str(library)] = library.resolve()
    require(BUSYBOX, root=False)
    links = _busybox_links()
    image = build_image(files, cmd=cmd or ["/bin/sh"], symlinks=links)
    return image_with_config(image, User=user) if user else image


def image_with_config(image: Image, **config: object) -> Image:
    """``image`` with ``config`` (``User``, ``WorkingDir``, …) added to its config's ``config``."""
    document = json.loads(image.config)
    document["config"].update(config)
    blob = json.dumps(document).encode()
    manifest = json.loads(image.manifest)
    manifest["config"] = _descriptor(OCI_CONFIG, blob)
    return Image(image.layer, blob, json.dumps(manifest).encode())
