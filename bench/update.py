"""Update system benchmark: `updog check-update` and `updog update-image` of a 64 MiB root image,
beside same-run baselines.

    python -m bench.update [--runs N]     (as root, from the repository root)

A local TUF repository (``tests.tuf_repo``, consistent snapshots, ed25519) is served on
127.0.0.1 with one release, 1.1.0, above the host's 1.0.0: a 64 MiB root image, a 128 KiB boot
image and the root's dm-verity hash tree (``veritysetup format``), each an LZ4 frame. The root
is half incompressible: each 4 KiB block is fresh random bytes or, with even odds, a copy of one
of the 16 blocks before it (in LZ4's 64 KiB window), so LZ4 has matches to find and copy
(the frame is about half the image). The host (``THAR_ROOT`` in a temporary directory: os-release,
updog.toml, the trusted root.json) is booted from set A of an OS disk attached as loop devices
(the whole disk and one per BOOT/ROOT/HASH partition, as ``tests/updog/test_update.py`` does),
a sparse image with 64 MiB ROOT partitions.

(1) **refresh**, metadata only: the wall time of ``updog check-update`` (a process: root chain,
    timestamp, snapshot, targets, manifest.json, the choice of update), beside the bare TUF
    fetch it does — python-tuf's ``ngclient.Updater.refresh()``, ``get_targetinfo`` and the
    download of manifest.json into a fresh directory, as updog does every run — in process, and
    the same as a ``python -c`` process (so the interpreter's start-up is on both sides).
(2) **prepare**: the wall time of ``updog update-image`` (download, verify, decode and write the
    three images to ROOT-B, BOOT-B and HASH-B, synced, the set flagged valid), beside
    ``dd bs=1M conv=fsync`` of the decoded root image (a file) onto ROOT-B's loop device, and
    the LZ4 decode of the root frame alone in process, in updog's 1 MiB chunks (a floor).

A warm-up of each, then N alternating rounds; medians; ratios are updog / baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import lz4.frame

from tests.tuf_repo import TufRepo, serve, update_entry, verity_format
from thar.signpost.bootsim import write_boot_state
from thar.signpost.image import make_disk
from thar.signpost.state import State

CHECKOUT = Path(__file__).resolve().parents[1]
VARIANT = "thar-k8s"
ARCH = platform.machine()
MIB = 1 << 20
BLOCK = 4096
ROOT_SIZE = 64 * MIB
BOOT_SIZE = 128 << 10
CHUNK = MIB  # updog's (thar.updog.images.CHUNK)

# The bare fetch, run in process (exec'd) and as `python -c` (argv: root.json, metadata URL,
# targets URL): what updog's load_repository + load_manifest do, without updog.
BARE_FETCH = """
import tempfile
from tuf.ngclient import Updater, UpdaterConfig

def fetch(trusted, metadata_url, targets_url):
    with tempfile.TemporaryDirectory() as work:
        updater = Updater(metadata_dir=work, metadata_base_url=metadata_url, target_base_url=targets_url,
                          target_dir=work, bootstrap=trusted,
                          config=UpdaterConfig(prefix_targets_with_hash=True))
        updater.refresh()
        info = updater.get_targetinfo("manifest.json")
        assert info is not None, "no manifest.json in the repository"
        with open(updater.download_target(info), "rb") as f:
            return len(f.read())
"""
BARE_MAIN = BARE_FETCH + "\nimport sys\nfetch(open(sys.argv[1], 'rb').read(), sys.argv[2], sys.argv[3])\n"


def root_image(size: int, seed: int = 7) -> bytes:
    """``size`` bytes in 4 KiB blocks, each fresh random or a copy of one of the 16 before it."""
    rng = random.Random(seed)
    blocks: list[bytes] = []
    for _ in range(size // BLOCK):
        if blocks and rng.random() < 0.5:
            blocks.append(blocks[-rng.randint(1, min(16, len(blocks)))])
        else:
            blocks.append(rng.randbytes(BLOCK))
    return b"".join(blocks)


def publish_release(repo: TufRepo, root: bytes) -> dict[str, int]:
    """Release 1.1.0 with ``root`` as its root image (TufRepo.add_release's layout, but not random
    data); returns each image's decoded size."""
    hash_image, _ = verity_format(root)
    images = {"root": root, "boot": os.urandom(BOOT_SIZE), "hash": hash_image}
    entry = update_entry(VARIANT, ARCH, "1.1.0")
    for kind, data in images.items():
        repo.add_target(entry["images"][kind], lz4.frame.compress(data))
    repo.manifest["updates"].append(entry)
    repo.manifest["migrations"] = {"(1.0.0, 1.1.0)": []}
    repo.publish()
    return {kind: len(data) for kind, data in images.items()}


def losetup(*args: str) -> str:
    node = subprocess.run(["losetup", "--find", "--show", *args], capture_output=True, text=True, check=True)
    return node.stdout.strip()


@contextmanager
def os_disk(image: Path, devices: Path) -> Iterator[Path]:
    """The disk image as a whole-disk loop device and one per BOOT/ROOT/HASH partition, linked
    as ``devices/osdisk`` and ``devices/osdisk{N}``; yields the whole disk's link."""
    table = make_disk(image, size=160 * MIB, root=ROOT_SIZE, hash=MIB)
    attached: list[str] = []
    try:
        devices.mkdir()
        attached.append(losetup(str(image)))
        (devices / "osdisk").symlink_to(attached[0])
        for entry in table.used():
            if entry.number in (3, 4, 5, 8, 9, 10):
                first, count = entry.first_lba * 512, (entry.last_lba - entry.first_lba + 1) * 512
                attached.append(losetup("--offset", str(first), "--sizelimit", str(count), str(image)))
                (devices / f"osdisk{entry.number}").symlink_to(attached[-1])
        for device in attached:
            if not stat.S_ISBLK(os.stat(device).st_mode):
                raise SystemExit(f"{device} is not a block device")
        yield devices / "osdisk"
    finally:
        for device in reversed(attached):
            subprocess.run(["losetup", "-d", device], check=False)


def write_host(root: Path, repo: TufRepo, metadata_url: str, targets_url: str) -> None:
    """updog.toml, os-release (1.0.0) and the trusted root, as tests/updog/conftest.py writes them."""
    (root / "etc").mkdir(parents=True)
    (root / "etc/updog.toml").write_text(
        f'metadata_base_url = "{metadata_url}"\ntargets_base_url = "{targets_url}"\n'
        'seed = 42\nversion_lock = "latest"\nignore_waves = false\n'
    )
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text(f'NAME="thar"\nVERSION_ID=1.0.0\nVARIANT_ID={VARIANT}\n')
    (root / "usr/share/updog").mkdir(parents=True)
    (root / "usr/share/updog/root.json").write_bytes(repo.root_bytes)


def run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def rounds(cases: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """A warm-up of each case, then ``runs`` rounds of all cases in turn; median seconds of each."""
    for case in cases.values():
        case()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            start = time.perf_counter()
            case()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def decode(frame: bytes) -> int:
    """The frame decoded in updog's chunks, the output dropped; returns its length."""
    decoder, view, total = lz4.frame.LZ4FrameDecompressor(), memoryview(frame), 0
    while not decoder.eof:
        data = b""
        if decoder.needs_input:
            data, view = bytes(view[:CHUNK]), view[CHUNK:]
        total += len(decoder.decompress(data, max_length=CHUNK))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0 or not Path("/dev/loop-control").exists() or shutil.which("losetup") is None:
        raise SystemExit("bench.update needs root and loop devices (losetup)")
    work = Path(tempfile.mkdtemp(prefix="bench-update-"))
    try:
        root_data = root_image(ROOT_SIZE)
        repo = TufRepo(work / "repo", VARIANT, ARCH)
        sizes = publish_release(repo, root_data)
        root_name = update_entry(VARIANT, ARCH, "1.1.0")["images"]["root"]
        frame = repo.target_path(root_name).read_bytes()
        root_file = work / "root.img"
        root_file.write_bytes(root_data)
        host = work / "host"
        with serve(work / "repo") as (url, _), os_disk(work / "os-disk.img", work / "dev") as disk:
            metadata_url = f"{url}/meta/2020-07-07/{VARIANT}/{ARCH}/"
            targets_url = f"{url}/targets/"
            write_host(host, repo, metadata_url.rstrip("/"), targets_url)
            write_boot_state(host, str(disk), 4)
            root_b = State.load(host).inactive_set.root.path  # type: ignore[union-attr]
            if not stat.S_ISBLK(os.stat(root_b).st_mode):
                raise SystemExit(f"ROOT-B {root_b} is not a block device")
            env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
            env.update(THAR_ROOT=str(host), PYTHONPATH=str(CHECKOUT))
            updog = [sys.executable, "-m", "thar.updog"]
            trusted = repo.root_bytes
            namespace: dict[str, object] = {}
            exec(BARE_FETCH, namespace)
            fetch: Callable[[bytes, str, str], int] = namespace["fetch"]  # type: ignore[assignment]
            bare_argv = [sys.executable, "-c", BARE_MAIN, str(host / "usr/share/updog/root.json")]

            def check_update() -> None:
                if "1.1.0" not in run([*updog, "check-update"], env):
                    raise SystemExit("updog check-update did not offer 1.1.0")

            refresh = rounds(
                {
                    "updog": check_update,
                    "bare": lambda: fetch(trusted, metadata_url, targets_url),
                    "bare_process": lambda: run([*bare_argv, metadata_url, targets_url], env),
                },
                args.runs,
            )

            def update_image() -> None:
                run([*updog, "update-image"], env)
                flags = str(State.load(host).gptprio(1))
                if flags != "priority=0 tries_left=1 successful=false":
                    raise SystemExit(f"set B after update-image: {flags}")

            dd = ["dd", f"if={root_file}", f"of={root_b}", "bs=1M", "conv=notrunc,fsync", "status=none"]
            prepare = rounds(
                {"updog": update_image, "dd": lambda: run(dd, env), "decode": lambda: decode(frame)}, args.runs
            )
            with open(root_b, "rb") as device:
                if device.read(ROOT_SIZE) != root_data:
                    raise SystemExit(f"ROOT-B ({root_b}) does not hold the release's root image")
            run([*updog, "update-image"], env)  # updog's last, checked the same way
            with open(root_b, "rb") as device:
                if device.read(ROOT_SIZE) != root_data:
                    raise SystemExit(f"ROOT-B ({root_b}) does not hold the release's root image after updog")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ms = {f"refresh {k}": v * 1e3 for k, v in refresh.items()} | {f"prepare {k}": v * 1e3 for k, v in prepare.items()}
    updog_ms, written = ms["prepare updog"], sum(sizes.values())

    def row(label: str, value: float, note: str = "") -> None:
        print(f"  {label:<50} {value:8.1f}  {note}")

    def speed(size: int, value: float) -> str:
        return f"{size / MIB / (value / 1e3):5.0f} MiB/s"

    print(f"updog, a {ROOT_SIZE // MIB} MiB root image (LZ4 frame {len(frame) / MIB:.1f} MiB) written to loop devices, "
          f"median of {args.runs} rounds, {os.cpu_count()} cores:")  # fmt: skip
    print(f"  {'':<50} {'ms':>8}")
    row("refresh: updog check-update (process)", ms["refresh updog"])
    for key, label in (("bare", "in process"), ("bare_process", "as a python -c process")):
        row(
            f"  bare TUF fetch, {label}",
            ms[f"refresh {key}"],
            f"updog {ms['refresh updog'] / ms[f'refresh {key}']:.1f}x",
        )
    row("prepare: updog update-image (root+boot+hash)", updog_ms, speed(written, updog_ms))
    row(
        "  of which beyond check-update's time",
        updog_ms - ms["refresh updog"],
        speed(written, updog_ms - ms["refresh updog"]),
    )
    row("  dd bs=1M conv=fsync of the root image", ms["prepare dd"],
        f"{speed(ROOT_SIZE, ms['prepare dd'])}   updog {updog_ms / ms['prepare dd']:.1f}x")  # fmt: skip
    row("  LZ4 decode of the root frame, in process", ms["prepare decode"],
        f"{speed(ROOT_SIZE, ms['prepare decode'])}   updog {updog_ms / ms['prepare decode']:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
