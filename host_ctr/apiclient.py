"""thar's apiclient for host containers: a self-contained zipapp and the Python that runs it.

Bottlerocket binds its static ``/usr/bin/apiclient`` at ``/usr/local/bin/apiclient`` of every
host container (``withDefaultMounts``). thar's apiclient is Python, so host-ctr gives the
container both halves of a program it can run:

- **the program**: a zipapp of ``thar.apiclient`` and the few ``thar`` modules it imports
  (standard library only; the ``toml`` package too when host-ctr can import it, for
  ``get --toml``), written to ``ROOT/run/host-ctr/apiclient`` from the thar host-ctr runs, so
  the container's apiclient is the host's, whatever the image holds and wherever thar is
  installed (a wheel, a virtualenv, a checkout);
- **the interpreter** (:func:`interpreter`): host-ctr's own base Python (a virtualenv's base),
  bound read-only. A Python without a shared libpython is relocatable: its executable and
  standard library are bound below ``/.bottlerocket/python`` (Python finds its library from
  its executable's place), which never covers the image's own ``/usr``. One linked to a shared
  libpython finds it by a build-time path: its prefix is bound at the same path, unless that
  prefix is the system's (``/``, ``/usr``, ``/usr/local``), which is never bound over the
  image's own; then the image's ``python3`` (3.11 or newer) runs it.

The interpreter is the host's build: it runs on the C library of the image (glibc, as a Linux
distribution's image has; not a static busybox or a musl image).
"""

from __future__ import annotations

import importlib.util
import io
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BUNDLE",
    "DESTINATION",
    "PYTHON_HOME",
    "SYSTEM_PREFIXES",
    "Interpreter",
    "build_bundle",
    "host_interpreter",
    "interpreter",
    "links_libpython",
]

DESTINATION = "/usr/local/bin/apiclient"
BUNDLE = "run/host-ctr/apiclient"  # below the root
PYTHON_HOME = "/.bottlerocket/python"  # the relocated interpreter, in the container
# Prefixes never bound over the container's own: the image's /usr is its own.
SYSTEM_PREFIXES = frozenset({Path("/"), Path("/usr"), Path("/usr/local")})
# -I: no PYTHON* variables of the image (a PYTHONHOME of its own Python), no user site;
# -S: no site-packages at all, the zipapp carries what it imports.
FLAGS = "-IS"

MAIN = b'''"""thar's apiclient, as host-ctr binds it in host containers."""
import sys

if sys.version_info < (3, 11):
    sys.exit("apiclient needs Python 3.11 or newer; %s is %d.%d" % ((sys.executable,) + sys.version_info[:2]))

from thar.apiclient.cli import main

sys.exit(main())
'''


@dataclass(frozen=True)
class Interpreter:
    """The zipapp's ``#!`` line and the binds (host path -> container path) that make it run."""

    shebang: str
    binds: tuple[tuple[Path, str], ...] = ()


def interpreter(base_prefix: Path, executable: Path, library: tuple[Path, ...], shared: bool) -> Interpreter:
    """The interpreter of the container's apiclient, for a base Python installed at ``base_prefix``
    with ``executable`` (resolved), its standard library folders ``library`` (``stdlib`` and
    ``lib-dynload``) and whether it links a shared libpython (module docstring)."""
    relative = [p.relative_to(base_prefix) for p in library if p.is_relative_to(base_prefix)]
    if not shared and len(relative) == len(library):
        home = Path(PYTHON_HOME)
        program = home / "bin" / executable.name
        binds = [(executable, str(program))]
        # a folder inside another bound one comes with it
        for path, rel in sorted(zip(library, relative, strict=True)):
            if not any(path != other and path.is_relative_to(other) for other in library):
                binds.append((path, str(home / rel)))
        return Interpreter(f"{program} {FLAGS}", tuple(binds))
    if base_prefix not in SYSTEM_PREFIXES:
        return Interpreter(f"{executable} {FLAGS}", ((base_prefix, str(base_prefix)),))
    return Interpreter("/usr/bin/env python3")


def host_interpreter() -> Interpreter:
    """:func:`interpreter` for the Python running host-ctr (a virtualenv's base Python)."""
    executable = Path(getattr(sys, "_base_executable", sys.executable) or sys.executable).resolve()
    library = [Path(sysconfig.get_path("stdlib"))]
    dynload = sysconfig.get_config_var("DESTSHARED")
    if dynload and Path(dynload) not in library:
        library.append(Path(dynload))
    return interpreter(Path(sys.base_prefix), executable, tuple(library), links_libpython())


def links_libpython(maps: Path = Path("/proc/self/maps")) -> bool:
    """Whether this interpreter runs from a shared libpython (mapped in this process). Not the
    build's ``Py_ENABLE_SHARED``: Debian's ``/usr/bin/python3`` says 1 (it ships the library
    for embedding) and is linked statically."""
    try:
        lines = maps.read_text().splitlines()
    except OSError:
        return True  # unknown: not relocated
    return any(Path(line.split()[-1]).name.startswith("libpython") for line in lines if "/" in line)


def _sources() -> list[tuple[str, Path]]:
    """(name in the zipapp, file) of every module the apiclient imports from thar, and toml."""
    import thar
    import thar.apiclient

    package = Path(thar.__file__).resolve().parent
    files = [(f"thar/{name}", package / name) for name in ("__init__.py", "logs.py", "paths.py")]
    apiclient = Path(thar.apiclient.__file__).resolve().parent
    files += [(f"thar/apiclient/{p.name}", p) for p in sorted(apiclient.glob("*.py"))]
    spec = importlib.util.find_spec("toml")
    if spec is not None and spec.submodule_search_locations:
        toml = Path(next(iter(spec.submodule_search_locations)))
        files += [(f"toml/{p.name}", p) for p in sorted(toml.glob("*.py"))]
    return files


def build_bundle(shebang: str) -> bytes:
    """The apiclient zipapp (``#!shebang``, then the zip), the same bytes for the same sources."""
    out = io.BytesIO()
    out.write(f"#!{shebang}\n".encode())
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [("__main__.py", MAIN), *((name, path.read_bytes()) for name, path in _sources())]
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()
