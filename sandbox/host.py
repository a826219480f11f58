"""``thar-host``: a throwaway host that boots thar under Debian's real systemd.

    thar-host [--variant NAME] [--user-data FILE] [--workdir DIR] [--keep-going]

The host is this machine's own root seen through an overlay: the lower layer is ``/``
(read-only to the overlay), the upper layer is a tmpfs mounted by this program, so every write
of the booted system lands in memory owned by it and vanishes at teardown. The root is prepared
by ``thar-install-units --root ROOT --variant VARIANT --bindir BIN --replace-os-release`` (exactly
what a user runs on a real host), and booted with ``systemd-nspawn --boot --private-network``.

What keeps the machine safe (its ``/tmp`` is shared by every process; a systemd booted on the
machine's own root empties it):

- nspawn runs in a mount namespace of its own whose ``/run`` is a tmpfs, so its bookkeeping
  (``/run/systemd/nspawn/``) never reaches the machine's ``/run``;
- the container gets a fresh machine id (``--uuid``), links no journal to the machine's
  (``--link-journal=no``), registers with no machine manager (``--register=no``), has only a
  loopback interface (``--private-network``) and its own ``/tmp`` (nspawn mounts one);
- thar's checkout and the interpreter it runs from are bind-mounted read-only at their own paths;
- teardown powers the container off (or SIGKILLs its init, which ends every process in its PID
  namespace), then unmounts the overlay and the tmpfs: nothing is left.

The tests (``tests/host/``) use :class:`ThrowawayHost`; ``./dev host`` runs this module. Needs
root, ``systemd-nspawn`` (Debian's ``systemd-container``), ``unshare`` and ``nsenter``
(util-linux). See ``units/README.md``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["HostError", "ThrowawayHost", "main", "thar_checkout"]

CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# host_containers=True: what runc needs to run host containers inside the host. System calls
# nspawn refuses: the keyring's (runc gives each container a session keyring of its own) and
# bpf (in the unified hierarchy runc's device rules are a BPF program on the container's own
# cgroup). A tmpfs for host-containerd's root: the overlayfs snapshotter cannot stack its layers
# on the overlay root.
HOST_CONTAINER_OPTIONS = [
    "--system-call-filter=add_key keyctl request_key bpf",
    "--tmpfs=/var/lib/host-containerd:mode=0700",
]
NSPAWN_REBOOT = 133
"""systemd-nspawn's exit status when the container asked for a reboot."""


class HostError(Exception):
    """The throwaway host could not be made, booted or torn down; the message says why."""


def thar_checkout() -> Path:
    """The directory thar's code lives in (a checkout, or the site-packages of a virtualenv):
    the parent of the ``thar`` package."""
    import thar

    return Path(thar.__file__).resolve().parent.parent


def _default_bindir() -> Path:
    """The bin directory of the interpreter running this (a virtualenv's, where thar's console
    scripts are)."""
    return Path(sys.executable).parent


def _is_mountpoint(path: Path) -> bool:
    return os.path.ismount(path)


class ThrowawayHost:
    """One throwaway systemd host below ``workdir`` (a directory of the caller's own).

    ``create()`` mounts the layers and installs thar; ``boot()`` starts systemd and waits until
    the boot is done; ``run()`` executes a command inside; ``poweroff()``/``kill()`` stop it;
    ``destroy()`` undoes everything. The upper layer survives a poweroff, so ``boot()`` again
    boots the same datastore (a reboot). Used as a context manager it creates on entry and
    destroys on exit. ``host_containers``: the host can run host containers (non-superpowered:
    nspawn does not give its container every capability) in host-containerd, see
    ``HOST_CONTAINER_OPTIONS``; its cgroups are then the unified hierarchy's.
    """

    def __init__(
        self,
        workdir: Path | str,
        *,
        variant: str = "thar-dev",
        bindir: Path | str | None = None,
        user_data: str | bytes | None = None,
        binds: Sequence[Path | str] = (),
        size: str = "2g",
        name: str | None = None,
        keep: Sequence[str] = (),
        host_containers: bool = False,
        nspawn_options: Sequence[str] = (),
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.variant = variant
        self.bindir = Path(bindir) if bindir is not None else _default_bindir()
        self.user_data = user_data
        self.size = size
        self.keep = set(keep)
        self.host_containers = host_containers
        self.nspawn_options = list(nspawn_options)
        self.name = name or f"thar-{uuid.uuid4().hex[:8]}"
        self.layer = self.workdir / "layer"
        self.root = self.workdir / "root"
        self.console = self.workdir / "console.log"
        self.binds = self._binds(binds)
        self.process: subprocess.Popen[bytes] | None = None
        self.disabled: list[str] = []
        self.boots = 0
        self.install_output = ""

    # -- set-up -----------------------------------------------------------------------------

    def _binds(self, extra: Sequence[Path | str]) -> list[Path]:
        """Read-only binds: thar's code, the virtualenv, the base interpreter, and ``extra``."""
        paths = [thar_checkout(), self.bindir.parent]
        base = Path(sys.base_prefix)
        if not str(base).startswith("/usr"):
            paths.append(base)
        paths += [Path(p) for p in extra]
        unique: list[Path] = []
        for path in paths:
            path = path.resolve()
            if any(path == u or path.is_relative_to(u) for u in unique):
                continue
            unique = [u for u in unique if not u.is_relative_to(path)] + [path]
        return unique

    def _mounts(self) -> list[Path]:
        return [p for p in (self.root, self.layer) if _is_mountpoint(p)]

    def create(self) -> None:
        """Mount the tmpfs and the overlay, install thar into the root (its output in
        ``install_output``), and put the user data in place."""
        if os.geteuid() != 0:
            raise HostError("a throwaway host needs root (mounts and systemd-nspawn)")
        for tool in ("systemd-nspawn", "unshare", "nsenter", "mount", "umount"):
            if shutil.which(tool) is None:
                package = "systemd-container" if tool == "systemd-nspawn" else "util-linux"
                raise HostError(f"{tool} is not installed (Debian's {package} package)")
        if self._mounts():
            raise HostError(f"{self.workdir} is already in use: {', '.join(map(str, self._mounts()))} mounted")
        self.layer.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(exist_ok=True)
        try:
            self._mount("tmpfs", self.layer, "tmpfs", f"mode=0755,size={self.size}")
            (self.layer / "upper").mkdir()
            (self.layer / "work").mkdir()
            self._mount(
                "overlay",
                self.root,
                "overlay",
                f"lowerdir=/,upperdir={self.layer / 'upper'},workdir={self.layer / 'work'}",
            )
            self.install()
            self.disabled = self._disable_machine_units()
            if self.user_data is not None:
                data = self.user_data.encode() if isinstance(self.user_data, str) else self.user_data
                target = self.root / "var/lib/bottlerocket/user-data.toml"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        except BaseException:
            self._unmount()
            raise

    def _disable_machine_units(self) -> list[str]:
        """Disable, in the host's root, the services and timers this machine's administrator
        enabled (the links in ``/etc/systemd/system/*.wants/``: a database, apt's timers…) except
        those in ``keep``: the throwaway host boots thar and what its tests ask for, the same on
        every machine. The units stay loadable (a restart command naming one still works). The
        names disabled."""
        disabled = []
        for link in sorted((self.root / "etc/systemd/system").glob("*.wants/*")):
            if not link.name.endswith((".service", ".timer")) or link.name in self.keep:
                continue
            link.unlink()
            if link.name not in disabled:
                disabled.append(link.name)
        return disabled

    @staticmethod
    def _mount(source: str, target: Path, fstype: str, options: str) -> None:
        done = subprocess.run(
            ["mount", "-t", fstype, "-o", options, source, str(target)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise HostError(f"mount -t {fstype} {target} failed: {done.stderr.strip()}")

    def install(self) -> None:
        """``thar-install-units`` into the root, as a user does on a real host."""
        argv = [
            str(self.bindir / "python"),
            "-m",
            "thar.install_units",
            "--root",
            str(self.root),
            "--variant",
            self.variant,
            "--bindir",
            str(self.bindir),
            "--replace-os-release",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        self.install_output = done.stdout
        if done.returncode != 0:
            raise HostError(f"{shlex.join(argv)} failed ({done.returncode}):\n{done.stderr.strip()}")

    def write(self, path: str, text: str, mode: int = 0o644) -> Path:
        """Write a file into the host's root (before or between boots); its path outside."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(mode)
        return target

    # -- boot -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start systemd in the container (not waiting for the boot)."""
        if self.running:
            raise HostError(f"{self.name} is already running")
        argv = ["systemd-nspawn", "--quiet", "-D", str(self.root), "-M", self.name, "--boot", "--private-network"]
        argv += ["--register=no", "--keep-unit", "--link-journal=no", f"--uuid={uuid.uuid4()}", "--console=pipe"]
        argv += [f"--bind-ro={path}" for path in self.binds]
        argv += self.nspawn_options
        environ = None
        if self.host_containers:
            argv += HOST_CONTAINER_OPTIONS
            # the v1 controllers nspawn gives a container on a hybrid machine are read-only: runc
            # could not make a container's cgroup there, in the unified hierarchy it can
            environ = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
        # The mount namespace of nspawn gets a /run of its own: its bookkeeping stays off the machine's.
        script = 'mount -t tmpfs -o mode=0755,size=16m tmpfs /run && exec "$@"'
        wrapped = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", *argv]
        console = open(self.console, "ab")  # noqa: SIM115 - handed to the child
        try:
            console.write(f"--- boot {self.boots + 1} ---\n".encode())
            console.flush()
            self.process = subprocess.Popen(
                wrapped, stdin=subprocess.DEVNULL, stdout=console, stderr=console, env=environ
            )
        finally:
            console.close()
        self.boots += 1

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def leader(self, timeout: float = 10.0) -> int:
        """The pid (on this machine) of the container's init."""
        if self.process is None:
            raise HostError(f"{self.name} was never started")
        deadline = time.monotonic() + timeout
        while True:
            try:
                children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            except OSError:
                children = []
            for child in children:
                try:
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        return int(child)
                except OSError:
                    continue
            if not self.running:
                code = self.process.returncode
                raise HostError(f"{self.name} exited ({code}) before systemd started:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise HostError(f"{self.name}: no systemd in the container after {timeout} s:\n{self.tail()}")
            time.sleep(0.02)

    def boot(self, timeout: float = 120.0) -> str:
        """Start the container and wait until systemd's boot is over; systemd's state
        (``running``, or ``degraded`` when a unit failed)."""
        self.start()
        return self.wait_booted(timeout)

    def wait_booted(self, timeout: float = 120.0) -> str:
        self.leader()
        deadline = time.monotonic() + timeout
        while True:
            done = self.run(["systemctl", "is-system-running", "--wait"], timeout=timeout, check=False)
            state = done.stdout.strip()
            # "offline": systemd does not answer yet (its socket is not there this early).
            if state not in ("", "offline", "initializing", "starting"):
                return state
            if not self.running:
                raise HostError(f"{self.name} exited ({self.process and self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                raise HostError(f"{self.name}: the boot did not finish in {timeout} s (state {state!r})")
            time.sleep(0.05)

    # -- inside -----------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 60.0,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the container (every namespace of its init, a clean environment
        with thar's bin directory first on PATH). Raises ``HostError`` on a non-zero exit when
        ``check``."""
        done = subprocess.run(
            self.command(argv, env), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            output = done.stderr.strip() or done.stdout.strip()
            raise HostError(f"{shlex.join(argv)} in {self.name} exited {done.returncode}:\n{output}")
        return done

    def command(self, argv: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
        """The command line (on this machine) that runs ``argv`` inside the container."""
        environment = {"PATH": f"{self.bindir}:{CONTAINER_PATH}", "LANG": "C.UTF-8", "HOME": "/root"}
        environment.update(env or {})
        command = ["nsenter", "-t", str(self.leader()), "-a", "--", "/usr/bin/env", "-i"]
        return command + [f"{k}={v}" for k, v in environment.items()] + list(argv)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(["systemctl", "--no-pager", *args], check=check)

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        """``systemctl show UNIT -p P…`` as a dict."""
        out = self.systemctl("show", unit, *[f"--property={p}" for p in properties]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str | None = None) -> str:
        argv = ["journalctl", "--no-pager", "-o", "short-monotonic", "-b"]
        if unit:
            argv += ["-u", unit]
        return self.run(argv, check=False).stdout

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.console.read_text(errors="replace")
        except OSError:
            return "(no console output)"
        return "\n".join(text.splitlines()[-lines:])

    # -- stop -------------------------------------------------------------------------------

    def wait_stopped(self, timeout: float = 60.0) -> int:
        """Wait for the container to exit; nspawn's exit status (133: a reboot was asked for)."""
        if self.process is None:
            raise HostError(f"{self.name} was never started")
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise HostError(f"{self.name} did not stop in {timeout} s:\n{self.tail()}") from exc

    def poweroff(self, timeout: float = 60.0) -> int:
        """``systemctl poweroff`` inside and wait; nspawn's exit status."""
        if not self.running:
            return self.process.returncode if self.process else 0
        self.run(["systemctl", "poweroff"], check=False)
        return self.wait_stopped(timeout)

    def kill(self) -> int:
        """SIGKILL the container's init: the kernel ends every process of its PID namespace, as a
        power cut would. nspawn's exit status."""
        if not self.running:
            return self.process.returncode if self.process else 0
        try:
            os.kill(self.leader(timeout=2), signal.SIGKILL)
        except (HostError, ProcessLookupError):
            assert self.process is not None
            self.process.kill()
        return self.wait_stopped(30)

    def _unmount(self) -> None:
        problems = []
        for path in (self.root, self.layer):
            if _is_mountpoint(path):
                done = subprocess.run(["umount", str(path)], capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    problems.append(f"umount {path}: {done.stderr.strip()}")
        if problems:
            raise HostError("; ".join(problems))

    def destroy(self) -> None:
        """Stop the container (poweroff, else SIGKILL) and unmount everything."""
        if self.running:
            try:
                self.poweroff(timeout=30)
            except HostError:
                self.kill()
        self._unmount()
        for path in (self.root, self.layer):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()

    def __enter__(self) -> ThrowawayHost:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="thar-host",
        description="Boot thar under real systemd in a throwaway container (an overlay of this machine's root).",
    )
    p.add_argument("--variant", default="thar-dev", help="the variant to install (default thar-dev)")
    p.add_argument("--user-data", type=Path, help="user data for the first boot (TOML)")
    p.add_argument("--workdir", type=Path, help="where the layers are mounted (default: a new temporary directory)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None, shell: Callable[[ThrowawayHost], int] | None = None) -> int:
    args = parse_args(argv)
    user_data = args.user_data.read_bytes() if args.user_data else None
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM during the boot tears down as Ctrl-C does
    import tempfile

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="thar-host."))
    host = ThrowawayHost(workdir, variant=args.variant, user_data=user_data)
    try:
        t0 = time.monotonic()
        host.create()
        state = host.boot()
        print(f"thar-host: {host.name} booted ({state}) in {time.monotonic() - t0:.1f} s; root {host.root}")
        print(host.systemctl("list-units", "--no-legend", "configured.target", "apiserver.service", check=False).stdout)
        if shell is not None:
            return shell(host)
        if sys.stdin.isatty():
            print("A shell in the host (apiclient is on PATH); exit it to tear the host down.")
            leader = host.leader()
            env = ["/usr/bin/env", "-i", f"PATH={host.bindir}:{CONTAINER_PATH}", "HOME=/root"]
            env += [f"TERM={os.environ.get('TERM', 'xterm')}", f"PS1={host.name}# "]
            # No profile: Debian's /etc/profile would reset PATH, and apiclient is on it.
            shell_argv = ["/bin/bash", "--noprofile", "--norc", "-i"]
            return subprocess.call(["nsenter", "-t", str(leader), "-a", "--", *env, *shell_argv])
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        print("Serving until SIGINT or SIGTERM.", flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    except HostError as exc:
        print(f"thar-host: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("thar-host: interrupted; tearing the host down", file=sys.stderr)
        return 130
    finally:
        try:
            host.destroy()
        except HostError as exc:
            print(f"thar-host: {exc}; {workdir} is left as it is", file=sys.stderr)
        else:
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
