"""A bootstrap container from its setting to its end, on a real containerd and registry
(tests/containers.py) and the real apiserver of a sandbox: create-containers writes the unit's
environment file and user data, then the commands of ``units/bootstrap-containers@.service``
run as systemd runs them (each ExecStart in order, stopping at the first failure, then
ExecStartPost), with the unit's paths below the sandbox root. The container runs through
host-ctr as ``boot.NAME`` with the container type bootstrap; its exit status is the unit's, and
only a container that succeeded is marked off."""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.containers import Containerd, PushedImage, Registry, busybox_image, host_ctr_command, push_image
from tests.thar_be_settings.conftest import Sandbox
from tests.units.test_units import commands, parse_unit

from .conftest import Recorder, run_program, settings

MakeSandbox = Callable[..., Sandbox]
UNIT = Path(__file__).resolve().parents[2] / "units/bootstrap-containers@.service"
# After Bottlerocket's example (sources/api/bootstrap-containers): the user data read and written
# out, with what the container sees of the host's root (read-only at /.bottlerocket/rootfs).
SCRIPT = (
    "d=/.bottlerocket/bootstrap-containers/current; "
    "tee $d/bear.txt < $d/user-data && cat /.bottlerocket/rootfs/etc/marker >> $d/bear.txt"
)


def run_unit(sandbox: Sandbox, daemon: Containerd, name: str) -> tuple[int, list[str]]:
    """The unit's commands for instance ``name`` as systemd runs a oneshot: the status of the
    first that failed (or 0) and the commands run, each as its program's name."""
    env_file = sandbox.path(f"/etc/bootstrap-containers/{name}.env")
    variables = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    programs = {
        "/usr/bin/host-ctr": host_ctr_command(daemon),
        "/usr/bin/bootstrap-containers": [sys.executable, "-m", "thar.bootstrap_containers"],
    }
    unit = parse_unit(UNIT)
    ran = []
    steps = [(k, a) for k, a in commands(unit) if k == "ExecStart"]
    steps += [(k, a) for k, a in commands(unit) if k == "ExecStartPost"]
    for key, argv in steps:
        line = []
        for word in argv:
            word = word.replace("%i", name)
            word = re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], word)
            if word.startswith(("/run/", "/etc/")):
                word = str(sandbox.path(word))
            elif "=/etc/" in word:
                flag, _, path = word.partition("=")
                word = f"{flag}={sandbox.path(path)}"
            line.append(word)
        program = programs.get(line[0], [line[0]])
        done = subprocess.run([*program, *line[1:]], env=sandbox.env | {"HOST_CTR_PULL_RETRIES": "0"},
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        ran.append(f"{key} {os.path.basename(line[0])} {done.stdout}{done.stderr}")
        if done.returncode != 0:
            return done.returncode, ran
    return 0, ran


def push(registry: Registry, script: str) -> PushedImage:
    return push_image(registry, "thar/boot", "latest", busybox_image(cmd=["/bin/sh", "-c", script]))


def configure(sandbox: Sandbox, name: str, source: str, user_data: bytes) -> None:
    done = sandbox.run(
        "apiclient", "--socket-path", str(sandbox.socket), "set",
        f"bootstrap-containers.{name}.source={source}", f"bootstrap-containers.{name}.mode=once",
        f"bootstrap-containers.{name}.user-data={base64.b64encode(user_data).decode()}",
        f"bootstrap-containers.{name}.essential=true",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rendered = sandbox.path("/etc/bootstrap-containers/bootstrap-containers.toml")
    sandbox.wait_for(lambda: rendered.exists() and f'["{name}"]' in rendered.read_text(), "the rendered containers")
    sandbox.wait_idle()


def test_a_bootstrap_container_runs_to_its_end_and_is_marked_off(
    make_sandbox: MakeSandbox, containerd: Containerd, registry: Registry, recorder: dict[str, Recorder]
) -> None:
    sandbox = make_sandbox("thar-dev")
    image = push(registry, SCRIPT)
    sandbox.path("/etc/marker").write_text("the host's root\n")
    configure(sandbox, "bear", image.tag, "ʕ·͡ᴥ·ʔ\n".encode())
    created = run_program("thar.bootstrap_containers", "create-containers", env=sandbox.env, recorders=recorder)
    assert created.returncode == 0, created.stderr
    status, ran = run_unit(sandbox, containerd, "bear")
    assert status == 0, ran
    steps = [line.split(" ", 2)[:2] for line in ran]
    assert steps == [["ExecStart", p] for p in ("mkdir", "touch", "host-ctr")] + [
        ["ExecStartPost", "bootstrap-containers"]
    ]
    assert "started container boot.bear" in ran[2] and "container boot.bear exited with status 0" in ran[2]
    assert sandbox.path("/local/bootstrap-containers/bear/bear.txt").read_text() == "ʕ·͡ᴥ·ʔ\nthe host's root\n"
    assert sandbox.path("/run/bootstrap-containers/bear.ran").is_file()  # the sentinel
    assert "boot.bear" not in containerd.containers()
    found = settings(sandbox, "settings.bootstrap-containers.bear.mode")
    assert found == {"settings": {"bootstrap-containers": {"bear": {"mode": "off"}}}}


def test_a_failing_bootstrap_container_fails_its_unit_and_stays_once(
    make_sandbox: MakeSandbox, containerd: Containerd, registry: Registry, recorder: dict[str, Recorder]
) -> None:
    sandbox = make_sandbox("thar-dev")
    image = push(registry, "echo failing on purpose >&2; exit 7")
    configure(sandbox, "bad", image.tag, b"")
    created = run_program("thar.bootstrap_containers", "create-containers", env=sandbox.env, recorders=recorder)
    assert created.returncode == 0, created.stderr
    status, ran = run_unit(sandbox, containerd, "bad")
    assert status == 7, ran
    assert ran[-1].startswith("ExecStart host-ctr") and "failing on purpose" in ran[-1]  # no ExecStartPost
    found = settings(sandbox, "settings.bootstrap-containers.bad.mode")
    assert found == {"settings": {"bootstrap-containers": {"bad": {"mode": "once"}}}}
    drop_in = sandbox.path("/etc/systemd/system/bootstrap-containers@bad.service.d/overrides.conf")
    assert "RequiredBy=configured.target" in drop_in.read_text()  # essential: its failure fails the target
    assert shlex.split(sandbox.path("/etc/bootstrap-containers/bad.env").read_text()) == [
        f"CTR_SOURCE={image.tag}",
        "CTR_MODE=once",
    ]
