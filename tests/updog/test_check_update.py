"""``updog check-update`` / ``whats`` against a local TUF repository (updates.md §4.3, §5, §8.5)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

from tests.tuf_repo import rfc3339, update_entry

from .conftest import ARCH, VARIANT, Host


def release(host: Host, *versions: str, waves: dict[str, str] | None = None) -> None:
    """Add releases as the repo tool does: every entry's max_version is the newest version."""
    for version in versions:
        entry = update_entry(VARIANT, ARCH, version, max_version=versions[-1], waves=waves)
        host.repo.manifest["updates"].append(entry)
    host.repo.publish()


def test_check_update_finds_the_newest_update_and_prints_it_as_json(host: Host) -> None:
    release(host, "1.0.0", "1.1.0", "1.2.0")
    done = host.updog("check-update", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == update_entry(VARIANT, ARCH, "1.2.0")
    assert json.loads(host.updog("check-update", "-j", "--image", "1.1.0").stdout)["max_version"] == "1.2.0"
    assert done.stdout.startswith('{\n  "variant": ')  # pretty, two spaces, upstream's field order
    assert list(json.loads(done.stdout)) == ["variant", "arch", "version", "max_version", "waves", "images"]
    text = host.updog("whats")
    assert (text.returncode, text.stdout) == (0, f"{VARIANT} 1.2.0\n")


def test_no_update_when_the_running_version_is_the_newest(host: Host) -> None:
    release(host, "0.9.0", "1.0.0")
    host.running = "1.0.0"
    done = host.updog("check-update")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "No update available\n")


def test_a_running_version_above_every_max_version_is_offered_a_downgrade(host: Host) -> None:
    release(host, "0.9.0")  # 1.0.0 was pulled: max_version is 0.9.0
    done = host.updog("check-update")
    assert (done.returncode, done.stdout) == (0, f"{VARIANT} 0.9.0\n")


def test_all_lists_running_and_older_versions_newest_first_and_skips_other_variants(host: Host) -> None:
    release(host, "0.9.0", "1.0.0", "1.1.0")
    host.repo.manifest["updates"].append(update_entry("other-variant", ARCH, "9.0.0"))
    host.repo.manifest["updates"].append(update_entry(VARIANT, "not-" + ARCH, "9.0.0"))
    host.repo.manifest["updates"].append(update_entry(VARIANT, ARCH, "2.0.0", max_version="1.5.0"))
    host.repo.publish()
    done = host.updog("whats", "--all", "--json")
    assert done.returncode == 0, done.stderr
    assert [u["version"] for u in json.loads(done.stdout)] == ["1.1.0", "1.0.0", "0.9.0"]
    text = host.updog("check-update", "-a")  # text mode: upstream prints the list on stderr
    assert (text.returncode, text.stdout) == (0, "")
    assert text.stderr.splitlines() == [f"{VARIANT} 1.1.0", f"{VARIANT} 1.0.0", f"{VARIANT} 0.9.0"]


def test_version_lock_picks_the_locked_version_even_a_downgrade(host: Host) -> None:
    release(host, "0.9.0", "1.0.0", "1.1.0", "1.2.0")
    host.version_lock = "v1.1.0"
    assert host.updog("check-update").stdout == f"{VARIANT} 1.1.0\n"
    host.version_lock = "0.9.0"
    assert host.updog("check-update").stdout == f"{VARIANT} 0.9.0\n"
    host.version_lock = "1.0.0"  # the running version: nothing to do
    assert host.updog("check-update").returncode == 1
    host.version_lock = "Latest"
    bad = host.updog("check-update")
    assert bad.returncode == 1
    assert "Bad version string 'Latest' in config" in bad.stderr
    host.version_lock = "1.1.0"  # --image overrides the lock
    assert host.updog("check-update", "--image", "1.2.0").stdout == f"{VARIANT} 1.2.0\n"


def test_a_wave_in_the_future_hides_the_update_unless_waves_are_ignored(host: Host) -> None:
    now = dt.datetime.now(dt.UTC)
    waves = {"0": rfc3339(now + dt.timedelta(hours=1)), "20": rfc3339(now + dt.timedelta(hours=2))}
    release(host, "1.1.0", waves=waves)
    host.seed = 1500  # past every wave key: the last wave, which starts in 2 hours
    assert host.updog("check-update").returncode == 1
    for flag in ("-n", "--now", "--ignore-waves"):
        assert host.updog("check-update", flag).stdout == f"{VARIANT} 1.1.0\n"
    host.ignore_waves = True
    assert host.updog("check-update").stdout == f"{VARIANT} 1.1.0\n"
    host.ignore_waves, host.seed = False, 0  # seed 0 is in the initial wave: always ready
    assert host.updog("check-update").stdout == f"{VARIANT} 1.1.0\n"


def test_requests_follow_the_consistent_snapshot_layout_with_sorted_query_params(host: Host) -> None:
    release(host, "1.1.0")
    host.seed = 1234
    done = host.updog("check-update", "--json")
    assert done.returncode == 0, done.stderr
    paths = [urlsplit(p).path for p in host.log]
    meta = f"/meta/2020-07-07/{VARIANT}/{ARCH}/"
    sha = host.repo.targets.signed.targets["manifest.json"].hashes["sha256"]
    assert paths == [
        meta + "2.root.json",
        meta + "timestamp.json",
        meta + "1.snapshot.json",
        meta + "1.targets.json",
        f"/targets/{sha}.manifest.json",
    ]
    for request in host.log:
        assert urlsplit(request).query == "seed=1234&version=1.0.0"
        assert parse_qs(urlsplit(request).query) == {"seed": ["1234"], "version": ["1.0.0"]}


def test_a_corrupted_manifest_target_is_rejected(host: Host) -> None:
    release(host, "1.1.0")
    host.repo.corrupt_target("manifest.json")
    done = host.updog("check-update")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("Manifest load error: ")
    assert "Failed to load target 'manifest.json'" in done.stderr
    assert "length or sha256 does not match the signed metadata" in done.stderr


def test_an_expired_timestamp_is_rejected(host: Host) -> None:
    release(host, "1.1.0")
    host.repo.publish(timestamp_expires=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    done = host.updog("check-update")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("Metadata error: ")
    assert "metadata has expired" in done.stderr and "timestamp" in done.stderr


def test_a_timestamp_signed_with_an_untrusted_key_is_rejected(host: Host) -> None:
    from securesystemslib.signer import CryptoSigner

    release(host, "1.1.0")
    host.repo.publish(timestamp_signer=CryptoSigner.generate_ed25519())
    done = host.updog("check-update")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("Metadata error: ")
    assert "signature check failed: timestamp was signed by 0/1 keys" in done.stderr
    assert not any("snapshot" in p for p in host.log)  # nothing past the bad timestamp is trusted


def test_unreachable_repository_and_bad_config_are_clear_errors(host: Host) -> None:
    release(host, "1.1.0")
    host.write()
    toml = host.root / "etc" / "updog.toml"
    host.seed = -1
    done = host.updog("check-update")
    assert done.returncode == 1
    assert done.stderr.startswith(f"Failed to parse config file {toml}: ")
    host.seed = 42
    toml.unlink()
    host.write = lambda: None  # type: ignore[method-assign]
    missing = host.updog("check-update")
    assert (missing.returncode, missing.stderr) == (
        1,
        f"Failed to read config file {toml}: No such file or directory\n",
    )


def test_an_unreachable_repository_is_a_metadata_error(host: Host) -> None:
    import socket

    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        host.base_url = f"http://127.0.0.1:{unused.getsockname()[1]}"
        done = host.updog("check-update")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("Metadata error: ")


def test_usage_errors_exit_1_with_the_usage_on_stderr(host: Host) -> None:
    for args in ([], ["check-update", "whats"], ["check-update", "--timestamp", "x"], ["frobnicate"], ["-i", "1.2"]):
        done = host.updog(*args)
        assert (done.returncode, done.stdout) == (1, ""), args
        assert "usage: updog" in done.stderr
    assert host.log == []  # nothing was fetched


def test_an_expired_snapshot_or_targets_is_rejected(host: Host) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    for role, expiry in (("snapshot", {"snapshot_expires": past}), ("targets", {"targets_expires": past})):
        host.repo.publish(**expiry)  # type: ignore[arg-type]
        done = host.updog("check-update")
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr.startswith("Metadata error: metadata has expired: "), done.stderr
        assert role in done.stderr


def test_a_rotated_root_signed_by_old_and_new_keys_is_accepted(host: Host) -> None:
    release(host, "1.1.0")
    host.repo.rotate_root()  # the host still trusts 1.root.json (Host.write installs it)
    done = host.updog("check-update")
    assert (done.returncode, done.stdout) == (0, f"{VARIANT} 1.1.0\n"), done.stderr
    meta = f"/meta/2020-07-07/{VARIANT}/{ARCH}/"
    assert [urlsplit(p).path for p in host.log][:3] == [
        meta + "2.root.json",
        meta + "3.root.json",
        meta + "timestamp.json",
    ]


def test_a_missing_or_invalid_manifest_is_a_clear_error(host: Host) -> None:
    host.repo.publish(manifest=b"")
    missing = host.updog("check-update")
    assert (missing.returncode, missing.stderr) == (1, "Manifest not found in repository\n")
    host.repo.publish(manifest=b'{"updates": []}')
    invalid = host.updog("check-update")
    assert invalid.returncode == 1
    assert invalid.stderr.startswith("Error parsing manifest: ")
    assert "migrations" in invalid.stderr


def test_a_server_error_is_a_metadata_error_naming_the_status(host: Host) -> None:
    release(host, "1.1.0")
    (host.repo.meta_dir / "1.snapshot.json").unlink()
    done = host.updog("check-update")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("Metadata error: HTTP status 404"), done.stderr


def test_variant_overrides_os_release(host: Host) -> None:
    host.repo.manifest["updates"].append(update_entry("other-variant", ARCH, "2.0.0"))
    release(host, "1.1.0")
    assert host.updog("check-update").stdout == f"{VARIANT} 1.1.0\n"
    assert host.updog("check-update", "--variant", "other-variant").stdout == "other-variant 2.0.0\n"
