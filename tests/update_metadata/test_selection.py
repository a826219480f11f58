"""Choosing updates (updates.md §3.1, §3.2): variant/arch/max_version/waves filters, version lock, downgrades."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thar.update_metadata import (
    Manifest,
    Timestamp,
    Version,
    VersionLockError,
    applicable_updates,
    parse_manifest,
    update_required,
)

from .conftest import HOUR, manifest_json, update_json

NOW = Timestamp.parse("2024-10-24T18:00:00Z")
VARIANT, ARCH = "aws-k8s-1.31", "x86_64"


def V(text: str) -> Version:
    return Version.parse(text)


def _manifest(*updates: dict[str, Any]) -> Manifest:
    return parse_manifest(manifest_json(list(updates)))


def _choose(m: Manifest, running: str, **kwargs: Any) -> str | None:
    kwargs.setdefault("seed", 100)
    kwargs.setdefault("now", NOW)
    chosen = update_required(m, V(running), VARIANT, ARCH, **kwargs)
    return None if chosen is None else str(chosen.version)


def _versions(m: Manifest, **kwargs: Any) -> list[str]:
    kwargs.setdefault("seed", 100)
    kwargs.setdefault("now", NOW)
    return [str(u.version) for u in applicable_updates(m, VARIANT, ARCH, **kwargs)]


FIXTURE = _manifest(
    update_json("1.13.0", max_version="1.20.0"),
    update_json("1.25.0", max_version="1.20.0"),
    update_json("1.15.0", max_version="1.20.0"),
    update_json("1.16.0", max_version="1.20.0", arch="aarch64"),
    update_json("1.17.0", max_version="1.20.0", variant="aws-ecs-2"),
    update_json("1.10.0", max_version="1.20.0"),
)


def test_all_is_newest_first_and_not_filtered_by_running_version() -> None:
    # other arch, other variant, and version above its own max_version are left out; older ones stay
    assert _versions(FIXTURE) == ["1.15.0", "1.13.0", "1.10.0"]


def test_variant_and_arch_compared_exactly() -> None:
    m = _manifest(update_json("1.2.0", variant="AWS-K8S-1.31"), update_json("1.3.0", arch="X86_64"))
    assert _versions(m) == []


def test_each_update_is_held_to_its_own_max_version() -> None:
    m = _manifest(update_json("1.3.0", max_version="1.2.0"), update_json("1.2.0", max_version="1.3.0"))
    assert _versions(m) == ["1.2.0"]


def test_semver_order_with_prerelease() -> None:
    m = _manifest(
        update_json("1.10.0", max_version="2.0.0"),
        update_json("1.9.0", max_version="2.0.0"),
        update_json("1.10.0-rc.1", max_version="2.0.0"),
        update_json("1.10.0-rc.10", max_version="2.0.0"),
        update_json("1.10.0-rc.2", max_version="2.0.0"),
    )
    assert _versions(m) == ["1.10.0", "1.10.0-rc.10", "1.10.0-rc.2", "1.10.0-rc.1", "1.9.0"]


def test_upstream_fixture_facts() -> None:
    assert _choose(FIXTURE, "1.10.0") == "1.15.0"
    assert _choose(FIXTURE, "1.10.0", force_version=V("1.13.0")) == "1.13.0"
    assert _choose(_manifest(update_json("1.25.0", max_version="1.20.0")), "1.18.0") is None
    pulled = _manifest(update_json("0.1.1", max_version="0.1.2"), update_json("0.1.2", max_version="0.1.2"))
    assert _choose(pulled, "0.1.3") == "0.1.2"  # running above every max_version: a downgrade


def test_latest_needs_a_newer_version() -> None:
    assert _choose(FIXTURE, "1.15.0") is None
    assert _choose(FIXTURE, "1.16.0") is None  # above every applicable version, not above max_version
    assert _choose(FIXTURE, "1.20.0") is None
    assert _choose(FIXTURE, "1.20.1") == "1.15.0"  # past max_version 1.20.0: back to the newest allowed


def test_image_forces_a_version_even_down_or_running() -> None:
    assert _choose(FIXTURE, "1.15.0", force_version=V("1.10.0")) == "1.10.0"
    assert _choose(FIXTURE, "1.15.0", force_version=V("1.15.0")) == "1.15.0"
    assert _choose(FIXTURE, "1.10.0", force_version=V("1.13.0"), version_lock="1.10.0") == "1.13.0"  # lock ignored
    # invisible versions stay invisible to --image: above max_version, other arch
    assert _choose(FIXTURE, "1.10.0", force_version=V("1.25.0")) is None
    assert _choose(FIXTURE, "1.10.0", force_version=V("1.16.0")) is None


def test_version_lock() -> None:
    assert _choose(FIXTURE, "1.15.0", version_lock="1.13.0") == "1.13.0"  # a downgrade
    assert _choose(FIXTURE, "1.10.0", version_lock="v1.13.0") == "1.13.0"  # one leading v
    assert _choose(FIXTURE, "1.13.0", version_lock="1.13.0") is None  # lock == running
    assert _choose(FIXTURE, "1.13.0", version_lock="v1.13.0") is None
    assert _choose(FIXTURE, "1.10.0", version_lock="1.14.0") is None  # not published
    assert _choose(FIXTURE, "1.10.0", version_lock="1.25.0") is None  # above its max_version


@pytest.mark.parametrize("lock", ["Latest", "LATEST", "vv1.13.0", "1.13", "", " 1.13.0"])
def test_bad_version_lock(lock: str) -> None:
    with pytest.raises(VersionLockError, match=f"Bad version string '{lock}' in config: "):
        _choose(FIXTURE, "1.10.0", version_lock=lock)


def test_bad_lock_is_not_looked_at_when_an_image_is_forced() -> None:
    assert _choose(FIXTURE, "1.10.0", force_version=V("1.13.0"), version_lock="Latest") == "1.13.0"


def test_waves_filter_and_ignore_waves() -> None:
    later = {"0": str(NOW + HOUR), "1024": str(NOW + 2 * HOUR)}
    m = _manifest(update_json("1.2.0", max_version="1.3.0"), update_json("1.3.0", waves=later))
    assert _versions(m, seed=0) == ["1.3.0", "1.2.0"]  # seed 0 is in the initial wave
    assert _versions(m, seed=500) == ["1.2.0"]
    assert _versions(m, seed=500, ignore_waves=True) == ["1.3.0", "1.2.0"]
    assert _choose(m, "1.2.0", seed=500) is None
    assert _choose(m, "1.2.0", seed=500, ignore_waves=True) == "1.3.0"
    assert _choose(m, "1.2.0", seed=500, force_version=V("1.3.0")) is None  # waves still apply to --image
    assert _choose(m, "1.2.0", seed=500, now=NOW + 2 * HOUR) == "1.3.0"
    # seed 500 in wave 0→1024 spread over 1 h: ready at +1h + 500 × (1h/1024)
    at = NOW + HOUR + (HOUR // 1024) * 500
    assert _choose(m, "1.2.0", seed=500, now=at - 1) is None
    assert _choose(m, "1.2.0", seed=500, now=at) == "1.3.0"


def test_ignore_waves_skips_the_seed_check() -> None:
    m = _manifest(update_json("1.3.0", waves={"0": str(NOW)}))
    assert _versions(m, seed=5000, ignore_waves=True) == ["1.3.0"]


versions = st.builds(lambda a, b, c: f"{a}.{b}.{c}", st.integers(0, 3), st.integers(0, 3), st.integers(0, 3))
entries = st.lists(
    st.tuples(versions, versions, st.sampled_from(["x86_64", "aarch64"]), st.integers(-3, 3)), max_size=8
)


@given(entries, versions, st.integers(0, 2047), st.sampled_from(["latest", "1.1.1", "v2.0.0"]))
def test_choice_is_always_one_of_the_applicable_updates(
    spec: list[tuple[str, str, str, int]], running: str, seed: int, lock: str
) -> None:
    updates = [
        update_json(v, max_version=mx, arch=arch, waves={"0": str(NOW), "2048": str(NOW + hours * HOUR)})
        for v, mx, arch, hours in spec
    ]
    m = _manifest(*updates)
    listed = applicable_updates(m, VARIANT, ARCH, seed=seed, now=NOW)
    assert [u.version for u in listed] == sorted((u.version for u in listed), reverse=True)
    assert all(u.arch == ARCH and u.version <= u.max_version for u in listed)
    chosen = update_required(m, V(running), VARIANT, ARCH, seed=seed, now=NOW, version_lock=lock)
    if chosen is None:
        return
    assert chosen in listed
    if lock == "latest":
        assert V(running) < chosen.version or V(running) > chosen.max_version
    else:
        assert chosen.version == V(lock.removeprefix("v")) != V(running)
