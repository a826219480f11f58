"""``update``, ``update-image``, ``update-apply``, ``update-revert`` (updates.md §4.3-4.6, §7.4,
§8.3): images written to the inactive set of an OS disk — a sparse disk image file, and the
same image attached as loop devices (one per partition, §10.4) — and the boot flags flipped."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import lz4.frame
import pytest

from tests.tuf_repo import Release, update_entry
from thar.signpost.bootsim import write_boot_state
from thar.signpost.image import make_disk
from thar.signpost.state import Partition, State
from thar.updog import images
from thar.updog.cli import TRUSTED_ROOT
from thar.updog.repo import QueryFetcher, load_repository

from .conftest import ARCH, VARIANT, Host

MIGRATION = "migrate_v1.1.0_add-setting.lz4"
CHAIN = {"(1.0.0, 1.1.0)": [MIGRATION]}
KINDS = ("root", "boot", "hash")
A_FRESH = "priority=1 tries_left=0 successful=true"
B_CLEAR = "priority=0 tries_left=0 successful=false"
B_VALID = "priority=0 tries_left=1 successful=false"
HAS_LOOP = os.geteuid() == 0 and Path("/dev/loop-control").exists() and shutil.which("losetup") is not None


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


@dataclass
class Disk:
    image: Path
    os_disk: Path  # what boot.json names: the image itself, or a link to its whole-disk loop device
    root: Path  # THAR_ROOT
    loop: bool

    def state(self) -> State:
        return State.load(self.root)

    def read(self, partition: Partition) -> bytes:
        with self.image.open("rb") as f:
            f.seek(partition.offset)
            return f.read(partition.size)

    def flags(self) -> tuple[str, str]:
        state = self.state()
        return str(state.gptprio(0)), str(state.gptprio(1))

    def outside(self, partitions: list[Partition]) -> bytes:
        """The whole image with ``partitions`` and both GPT copies blanked: what must not change."""
        data = bytearray(self.image.read_bytes())
        table_bytes = 34 * 512
        data[:table_bytes] = bytes(table_bytes)
        data[-33 * 512 :] = bytes(33 * 512)
        for p in partitions:
            data[p.offset : p.offset + p.size] = bytes(p.size)
        return bytes(data)


@pytest.fixture(params=["file", pytest.param("loop", marks=pytest.mark.skipif(not HAS_LOOP, reason="needs loop"))])
def disk(request: pytest.FixtureRequest, host: Host, tmp_path: Path) -> Iterator[Disk]:
    """The OS disk booted from set A (ROOT-A, partition 4): in file mode the image itself; in loop
    mode a whole-disk loop device and one loop device per BOOT/ROOT/HASH partition, named by
    links ``dev/osdisk`` and ``dev/osdisk{N}`` as the kernel names a disk's partitions."""
    image = tmp_path / "os-disk.img"
    table = make_disk(image)
    attached: list[str] = []
    try:
        os_disk = image
        if request.param == "loop":
            devices = tmp_path / "dev"
            devices.mkdir()
            os_disk = devices / "osdisk"
            whole = run("losetup", "--find", "--show", str(image))
            attached.append(whole)
            os_disk.symlink_to(whole)
            for entry in table.used():
                if entry.number not in (3, 4, 5, 8, 9, 10):
                    continue
                node = run(
                    "losetup",
                    "--find",
                    "--show",
                    "--offset",
                    str(entry.first_lba * 512),
                    "--sizelimit",
                    str((entry.last_lba - entry.first_lba + 1) * 512),
                    str(image),
                )
                attached.append(node)
                (devices / f"osdisk{entry.number}").symlink_to(node)
            for device in attached:
                assert stat.S_ISBLK(os.stat(device).st_mode), device
        write_boot_state(host.root, str(os_disk), 4)
        yield Disk(image, os_disk, host.root, request.param == "loop")
    finally:
        for device in reversed(attached):
            subprocess.run(["losetup", "-d", device], check=False)


def release(host: Host, version: str = "1.1.0", **kwargs: object) -> Release:
    host.repo.add_target(MIGRATION, b"a migration")
    host.repo.manifest["migrations"] = CHAIN
    published = host.repo.add_release(VARIANT, ARCH, version, **kwargs)  # type: ignore[arg-type]
    host.repo.publish()
    return published


def image_requests(host: Host, published: Release) -> list[tuple[str, dict[str, list[str]]]]:
    names = {published.entry["images"][kind]: kind for kind in KINDS}
    found = []
    for request in host.log:
        url = urlsplit(request)
        for name, kind in names.items():
            if url.path.endswith(f".{name}"):
                found.append((kind, parse_qs(url.query)))
    return found


def verity_verify(data: bytes, hash_tree: bytes, root_hash: str, work: Path) -> bool:
    (work / "data").write_bytes(data)
    (work / "hash").write_bytes(hash_tree)
    done = subprocess.run(
        ["veritysetup", "verify", str(work / "data"), str(work / "hash"), root_hash], capture_output=True
    )
    return done.returncode == 0


def test_update_writes_the_inactive_set_and_flags_it_for_boot(host: Host, disk: Disk, tmp_path: Path) -> None:
    published = release(host)
    before = disk.state()
    active, inactive = before.active_set, before.inactive_set
    assert inactive is not None and before.active == 0
    written = [inactive.root, inactive.boot, inactive.hash]
    active_bytes = [disk.read(p) for p in (active.root, active.boot, active.hash)]
    outside = disk.outside(written)

    done = host.updog("update")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Update applied: {VARIANT} 1.1.0\n"
    assert "Starting update to 1.1.0" in done.stderr
    for kind in KINDS:
        partition = getattr(inactive, kind)
        data = published.images[kind]
        on_disk = disk.read(partition)
        assert on_disk[: len(data)] == data, kind
        assert on_disk[len(data) :] == bytes(partition.size - len(data)), kind  # from offset 0, nothing after
    assert [disk.read(p) for p in (active.root, active.boot, active.hash)] == active_bytes
    assert disk.outside(written) == outside
    assert disk.flags() == ("priority=1 tries_left=0 successful=true", "priority=2 tries_left=1 successful=false")
    assert "No problems found" in run("sgdisk", "-v", str(disk.image))

    # dm-verity accepts what landed in ROOT-B/HASH-B, and not after a one-byte change
    work = tmp_path / "verity"
    work.mkdir()
    root_b, hash_b = disk.read(inactive.root), disk.read(inactive.hash)
    assert verity_verify(root_b, hash_b, published.root_hash, work)
    changed = bytearray(root_b)
    changed[12345] ^= 0x01
    assert not verity_verify(bytes(changed), hash_b, published.root_hash, work)
    if disk.loop:
        devices = disk.os_disk.parent
        verify = ["veritysetup", "verify", str(devices / "osdisk9"), str(devices / "osdisk10"), published.root_hash]
        assert subprocess.run(verify, capture_output=True).returncode == 0

    # images fetched root, boot, hash, each with the target and migrations parameters
    requests = image_requests(host, published)
    assert [kind for kind, _ in requests] == list(KINDS)
    for _, query in requests:
        assert query["target"] == ["1.1.0"]
        assert query["migrations"] == [f"{MIGRATION},manifest.json"]
        assert query["version"] == ["1.0.0"] and query["seed"] == ["42"]
    first = parse_qs(urlsplit(host.log[0]).query)
    assert "target" not in first and "migrations" not in first
    migration_request = next(r for r in host.log if urlsplit(r).path.endswith(f".{MIGRATION}"))
    assert "migrations" not in parse_qs(urlsplit(migration_request).query)
    assert parse_qs(urlsplit(migration_request).query)["target"] == ["1.1.0"]

    cached = sorted(p.name for p in (host.root / "var/lib/bottlerocket-migrations").iterdir())
    sha = host.repo.targets.signed.targets[MIGRATION].hashes["sha256"]
    assert f"{sha}.{MIGRATION}" in cached and any(n.endswith(".manifest.json") for n in cached)
    assert (host.root / "var/cache/bottlerocket-metadata/timestamp.json").exists()


def test_update_image_then_apply_then_revert(host: Host, disk: Disk) -> None:
    release(host)
    done = host.updog("update-image", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == update_entry(VARIANT, ARCH, "1.1.0")
    assert disk.flags() == (A_FRESH, B_VALID)

    assert host.updog("update-apply").returncode == 0
    assert disk.flags() == (A_FRESH, "priority=2 tries_left=1 successful=false")
    again = host.updog("update-apply")
    assert again.returncode == 1
    marked = f"Inactive partition {disk.os_disk} is already marked for upgrade"
    assert again.stderr == f"Could not mark inactive partition for boot: {marked}\n"

    assert host.updog("update-revert").returncode == 0
    assert disk.flags() == ("priority=2 tries_left=0 successful=true", B_VALID)
    assert host.updog("update-apply").returncode == 0  # re-applying a reverted update is allowed
    assert disk.flags() == (A_FRESH, "priority=2 tries_left=1 successful=false")
    assert "No problems found" in run("sgdisk", "-v", str(disk.image))


def test_a_corrupted_target_leaves_the_set_cleared_and_unbootable(host: Host, disk: Disk) -> None:
    published = release(host)
    state = disk.state()
    state.mark_inactive_valid()  # a set once valid: it must be cleared before anything is written
    state.write()
    assert disk.flags() == (A_FRESH, B_VALID)
    host.repo.corrupt_target(published.entry["images"]["hash"])

    done = host.updog("update")

    assert done.returncode == 1
    assert f"Failed to load target '{published.entry['images']['hash']}'" in done.stderr
    assert "length or sha256" in done.stderr
    assert disk.flags() == (A_FRESH, B_CLEAR)
    assert [kind for kind, _ in image_requests(host, published)] == list(KINDS)  # root and boot were written
    inactive = disk.state().inactive_set
    assert inactive is not None
    assert disk.read(inactive.hash) == bytes(inactive.hash.size)  # the corrupted bytes never reached the disk
    refused = host.updog("update-apply")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"Could not mark inactive partition for boot: Inactive partition {disk.os_disk} "
        "has not been marked valid for upgrade\n"
    )
    assert disk.flags() == (A_FRESH, B_CLEAR)


def test_an_image_larger_than_its_partition_fails_inside_the_partition(host: Host, disk: Disk) -> None:
    inactive = disk.state().inactive_set
    assert inactive is not None
    published = release(host, root_size=inactive.root.size + 4096)
    neighbours = disk.outside([inactive.root])

    done = host.updog("update-image")

    assert done.returncode == 1
    assert done.stderr.endswith("Failed writing update data to disk: No space left on device\n")
    assert disk.outside([inactive.root]) == neighbours  # nothing past ROOT-B's end, HASH-B untouched
    assert disk.read(inactive.root) == published.images["root"][: inactive.root.size]
    assert [kind for kind, _ in image_requests(host, published)] == ["root"]
    assert disk.flags() == (A_FRESH, B_CLEAR)
    assert disk.image.stat().st_size == 16 << 20  # never truncated or grown


def test_a_target_that_is_not_lz4_fails_to_decode(host: Host, disk: Disk) -> None:
    published = release(host, stored={"boot": b"not an lz4 frame at all"})
    done = host.updog("update")
    name = published.entry["images"]["boot"]
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(f"Failed to decode LZ4-compressed target {name}: ")
    assert disk.flags() == (A_FRESH, B_CLEAR)


def test_a_truncated_lz4_frame_fails_to_decode(host: Host, disk: Disk) -> None:
    frame = lz4.frame.compress(os.urandom(64 << 10))
    published = release(host, stored={"root": frame[: len(frame) // 2]})
    done = host.updog("update")
    name = published.entry["images"]["root"]
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"Failed to decode LZ4-compressed target {name}: the frame is truncated"
    assert disk.flags() == (A_FRESH, B_CLEAR)


def test_a_target_missing_from_the_repository(host: Host, disk: Disk) -> None:
    entry = update_entry(VARIANT, ARCH, "1.1.0")
    host.repo.manifest["updates"].append(entry)
    host.repo.add_target(MIGRATION, b"a migration")
    host.repo.manifest["migrations"] = CHAIN
    host.repo.publish()
    done = host.updog("update")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"Target not found: {entry['images']['root']}"
    assert disk.flags() == (A_FRESH, B_CLEAR)


def test_a_missing_migration_chain_fails_before_any_partition_is_touched(host: Host, disk: Disk) -> None:
    host.repo.add_release(VARIANT, ARCH, "1.1.0")
    host.repo.publish()  # no migrations from 1.0.0
    state = disk.state()
    state.mark_inactive_valid()
    state.write()
    image = disk.image.read_bytes()
    done = host.updog("update")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "Reached end of migration chain at 1.0.0 but target is 1.1.0"
    assert disk.image.read_bytes() == image  # not even the flags were cleared


def test_no_update_is_not_an_error(host: Host, disk: Disk) -> None:
    host.repo.publish()
    image = disk.image.read_bytes()
    done = host.updog("update")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "No update required\n")
    assert disk.image.read_bytes() == image


@pytest.fixture
def shutdown(tmp_path: Path) -> tuple[Path, Path]:
    """A ``shutdown`` stand-in recording its arguments."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "shutdown-calls"
    bin_dir.mkdir()
    stub = bin_dir / "shutdown"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    return bin_dir, calls


def test_reboot_runs_shutdown_r_after_update_and_apply_only(
    host: Host, disk: Disk, shutdown: tuple[Path, Path]
) -> None:
    bin_dir, calls = shutdown
    release(host)
    assert host.updog("update-image", "-r", bin_dir=bin_dir).returncode == 0
    assert not calls.exists()  # update-image ignores --reboot
    assert host.updog("update-apply", "--reboot", bin_dir=bin_dir).returncode == 0
    assert calls.read_text() == "-r\n"
    assert host.updog("update-revert").returncode == 0
    done = host.updog("update", "-r", bin_dir=bin_dir)
    assert done.returncode == 0, done.stderr
    assert calls.read_text() == "-r\n-r\n"
    assert done.stdout == f"Update applied: {VARIANT} 1.1.0\n"


def test_a_single_set_disk_has_no_inactive_set(host: Host, tmp_path: Path) -> None:
    image = tmp_path / "single.img"
    make_disk(image, dual=False)
    write_boot_state(host.root, str(image), 4)
    release(host)
    before = image.read_bytes()
    done = host.updog("update")
    assert (done.returncode, done.stderr.splitlines()[-1]) == (1, "Could not find inactive partition set")
    assert image.read_bytes() == before
    reverted = host.updog("update-revert")
    assert (reverted.returncode, reverted.stderr) == (1, "Could not find inactive partition set\n")


def test_a_partition_node_that_is_not_a_block_device_is_refused(host: Host, disk: Disk) -> None:
    if not disk.loop:
        pytest.skip("a disk image file has no partition nodes")
    node = disk.os_disk.parent / "osdisk9"
    node.unlink()
    release(host)
    done = host.updog("update")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(f"Failed to open partition {node}: ")
    assert not node.exists()  # never created
    node.write_bytes(b"")
    done = host.updog("update")
    assert done.stderr.splitlines()[-1] == f"Failed to open partition {node}: not a block device"
    assert node.read_bytes() == b""
    assert disk.flags() == (A_FRESH, B_CLEAR)


def test_images_are_decoded_and_written_in_bounded_chunks(
    host: Host, disk: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, with 4 KiB chunks: a 1 MiB frame is decoded in pieces, every piece at its place."""
    published = release(host)
    host.write()
    inactive = disk.state().inactive_set
    assert inactive is not None
    sizes: list[int] = []
    real = images._write_all

    def recording(fd: int, data: bytes, position: int, dest: images.Destination, limit: int) -> int:
        sizes.append(len(data))
        return real(fd, data, position, dest, limit)

    monkeypatch.setattr(images, "CHUNK", 4096)
    monkeypatch.setattr(images, "_write_all", recording)
    repository = load_repository(
        host.root / TRUSTED_ROOT, host.metadata_url, f"{host.base_url}/targets", QueryFetcher({})
    )
    try:
        name = published.entry["images"]["root"]
        written = images.write_image(repository, name, images.destination(str(disk.os_disk), inactive.root))
    finally:
        repository.close()
    assert written == len(published.images["root"])
    assert max(sizes) <= 4096 and len(sizes) >= len(published.images["root"]) // 4096
    assert disk.read(inactive.root)[:written] == published.images["root"]
