"""Template-helper benchmark: each helper call beside the bare operation it wraps.

    python -m bench.schnauzer_helpers [--repeat N]      (from the repository root)

Times one call of a helper's function (parameter checks, validation with the settings model,
formatting) on a realistic value and, in the same run, the plain-Python core of the same job with
no checks at all: ``base64.b64decode``, ``json.dumps`` for ``toml_encode``, an f-string join for
``join_map`` / ``etc_hosts_entries`` / ``oci_defaults``, and a dict copy for building the helper
table. Figures are medians in microseconds per call; the ratio is helper / baseline.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from thar.models.modeled_types.oci import LINUX_CAPABILITIES
from thar.schnauzer.helper_api import Param
from thar.schnauzer.helpers import HelperEnvironment, all_helpers


def per_call_us(fn: Callable[[], object], repeat: int, inner: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - start) / inner)
    return statistics.median(runs) * 1e6


ENV = HelperEnvironment(
    cpu_count=lambda: 4, efa_attached=lambda: False, fips_enabled=lambda: False, resolve=lambda name: ["10.0.0.1"]
)
HELPERS = all_helpers(ENV)

USERDATA = base64.b64encode(("[settings.motd]\nvalue = 'hello'\n" * 128).encode()).decode()
TOML_VALUE: dict[str, Any] = {
    "enabled": True,
    "max-pods": 110,
    "image": "registry.example/pause:3.9",
    "eviction": {"memory.available": "15%", "nodefs.available": "10%"},
    "labels": ["a=b", 'team="core"', "c\\d"],
    "ratio": 0.75,
}
LABELS = {f"label-{i}.example.com/key": f"value-{i}" for i in range(20)}
HOSTS = [[f"10.0.{i // 250}.{i % 250 + 1}", [f"host{i}.example", f"h{i}"]] for i in range(50)]
CAPS = dict.fromkeys(LINUX_CAPABILITIES, True)


def plain_join_map() -> str:
    return ",".join(f"{k}={v}" for k, v in LABELS.items())


def plain_hosts() -> str:
    return "\n".join(f"{ip} {' '.join(aliases)}" for ip, aliases in HOSTS)


def plain_caps() -> str:
    return "[" + ",\n".join(sorted(f'"{LINUX_CAPABILITIES[n]}"' for n, on in CAPS.items() if on)) + "]"


def call(name: str, *params: Param) -> Callable[[], object]:
    return functools.partial(HELPERS[name].fn, list(params), {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="runs per figure (the median is reported)")
    args = parser.parse_args()
    cases: list[tuple[str, Callable[[], object], Callable[[], object], int]] = [
        ("all_helpers(env) vs dict copy (30 helpers)", functools.partial(all_helpers, ENV), HELPERS.copy, 200),
        (
            f"base64_decode {len(USERDATA)} chars vs b64decode",
            call("base64_decode", Param(USERDATA)),
            functools.partial(base64.b64decode, USERDATA, validate=True),
            500,
        ),
        (
            "toml_encode kubelet-like value vs json.dumps",
            call("toml_encode", Param(TOML_VALUE)),
            functools.partial(json.dumps, TOML_VALUE),
            2000,
        ),
        (
            "join_map 20 labels vs f-string join",
            call("join_map", Param("="), Param(","), Param("fail-if-missing"), Param(LABELS)),
            plain_join_map,
            2000,
        ),
        (
            "etc_hosts_entries 50 lines vs f-string join",
            call("etc_hosts_entries", Param(HOSTS)),
            plain_hosts,
            500,
        ),
        (
            "oci_defaults 41 capabilities vs sort+join",
            call("oci_defaults", Param("docker"), Param(CAPS, path="settings.oci-defaults.capabilities")),
            plain_caps,
            1000,
        ),
        (
            "kube_reserve_cpu (computed) vs f-string",
            call("kube_reserve_cpu", Param(None)),
            functools.partial(str.format, "{}m", 80),
            5000,
        ),
    ]
    print(f"{'helper benchmark':<46} {'helper':>11} {'baseline':>11} {'ratio':>7}")
    for label, measured, baseline, inner in cases:
        ours = per_call_us(measured, args.repeat, inner)
        theirs = per_call_us(baseline, args.repeat, inner)
        print(f"{label:<46} {ours:>9.1f}us {theirs:>9.1f}us {ours / theirs:>6.1f}x")


if __name__ == "__main__":
    main()
