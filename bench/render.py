"""Template render benchmark: the whole v2 pipeline beside reading the file and dumping the context.

    python -m bench.render [--repeat N]      (from the repository root)

For every real Bottlerocket template (``../shared/conformance/templates/real``, 116 files) and
every template of the shipped ``thar-k8s`` variant, times ``render_template_file`` with a static
context (read the file, parse frontmatter and delimiter, check and register helpers, render the
body in strict mode), and in the same run a baseline of reading the same file plus
``json.dumps`` of the same context. The context is the variant's merged defaults plus the values
Bottlerocket generates at boot (region, cluster name, hostname, …), minimised to the template's
extensions, plus ``os``.

Two render figures: *warm* (the parsed-template and compiled-body caches are hot, as when
thar-be-settings renders a template again in the same process) and *cold* (both caches are
cleared before each call, as for a one-shot ``schnauzer-v2`` process). Per-template times are medians over N runs; the
totals add those medians; ratios are render / baseline.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from thar import variants
from thar.models import load_variant
from thar.schnauzer.engine import compile_template
from thar.schnauzer.errors import SchnauzerError
from thar.schnauzer.helpers import HelperEnvironment
from thar.schnauzer.importer import StaticImporter, minimize_settings
from thar.schnauzer.registry import default_catalog
from thar.schnauzer.render import render_template_file
from thar.schnauzer.template import parse_template

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "conformance"
REAL = SHARED / "templates" / "real"
DEFAULTS = SHARED / "defaults"

ENV = HelperEnvironment(
    cpu_count=lambda: 4, efa_attached=lambda: False, fips_enabled=lambda: False, resolve=lambda name: []
)
OS = {
    "pretty_name": "Bottlerocket OS 1.26.0",
    "variant_id": "aws-k8s-1.31",
    "version_id": "1.26.0",
    "build_id": "a1b2c3d4",
    "arch": "x86_64",
}
GENERATED: dict[str, Any] = {
    "aws": {"region": "us-west-2"},
    "network": {"hostname": "ip-10-0-0-15.us-west-2.compute.internal"},
    "kubernetes": {
        "cluster-name": "bench",
        "api-server": "https://0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com",
        "cluster-certificate": base64.b64encode(
            b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        ).decode(),
        "node-ip": "10.0.0.15",
        "max-pods": 29,
        "cluster-dns-ip": "10.100.0.10",
        "hostname-override": "ip-10-0-0-15.us-west-2.compute.internal",
    },
    "updates": {
        "seed": 1234,
        "metadata-base-url": "https://updates.bottlerocket.aws/2020-07-07/aws-k8s-1.31/x86_64/",
        "targets-base-url": "https://updates.bottlerocket.aws/targets/",
    },
    "metrics": {"send-metrics": True},
}


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_settings_cache: dict[Path, tuple[frozenset[str], dict[str, Any]]] = {}


def variant_settings(directory: Path) -> tuple[frozenset[str], dict[str, Any]]:
    if directory not in _settings_cache:
        variant = load_variant(directory)
        extra = {k: v for k, v in GENERATED.items() if k in variant.extensions}
        settings = deep_merge(variant.defaults.get("settings", {}), extra)
        _settings_cache[directory] = (frozenset(variant.extensions), variant.parse_settings(settings).dump())
    return _settings_cache[directory]


def context_for(path: Path, candidates: list[Path]) -> dict[str, Any]:
    """The render context of a template: the first candidate variant with its extensions."""
    template = parse_template(path.read_text(encoding="utf-8"))
    known = frozenset().union(*(variant_settings(c)[0] for c in candidates))
    needed = {name for name in template.extension_names if name in known}
    for candidate in candidates:
        extensions, settings = variant_settings(candidate)
        if needed <= extensions:
            return {"settings": minimize_settings(settings, template.extension_names), "os": OS}
    raise RuntimeError(f"no variant has the extensions of {path.name}")


def real_candidates(name: str) -> list[Path]:
    order = []
    if name.startswith("kubernetes-"):
        order += [f"aws-k8s-{name.split('__')[0].removeprefix('kubernetes-')}"]
    if name.startswith("nvidia"):
        order.append("aws-k8s-1.31-nvidia")
    order += ["aws-dev", "aws-ecs-2", "aws-k8s-1.31", "aws-k8s-1.31-nvidia"]
    return [DEFAULTS / n for n in order if (DEFAULTS / n / "defaults.d").is_dir()]


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def bench_set(label: str, items: list[tuple[Path, dict[str, Any]]], repeat: int) -> None:
    catalog = default_catalog(ENV)
    clear_engine: Callable[[], None] = getattr(compile_template, "cache_clear", lambda: None)

    def clear() -> None:
        clear_engine()
        parse_template.cache_clear()

    warm, cold, base, failures = [], [], [], []
    for path, context in items:
        importer = StaticImporter(context)

        def render(path: Path = path, importer: StaticImporter = importer) -> str:
            return render_template_file(path, importer, catalog=catalog)

        def render_cold(render: Callable[[], str] = render) -> str:
            clear()
            return render()

        def baseline(path: Path = path, context: dict[str, Any] = context) -> str:
            return path.read_text(encoding="utf-8") + json.dumps(context)

        try:
            render()
        except SchnauzerError as exc:
            failures.append(f"{path.name}: {exc}")
            continue
        warm.append(median_seconds(render, repeat))
        cold.append(median_seconds(render_cold, repeat))
        base.append(median_seconds(baseline, repeat))
    if not warm:
        print(f"{label}: nothing rendered")
        return
    print(f"{label}: {len(warm)} templates rendered" + (f", {len(failures)} failed" if failures else ""))
    for line in failures:
        print(f"  FAILED {line[:160]}")
    print(f"  {'':30} {'median/template':>16} {'max/template':>14} {'total':>10} {'ratio':>7}")
    for name, values in (
        ("render, warm caches", warm),
        ("render, cold caches", cold),
        ("baseline read+json.dumps", base),
    ):
        ratio = sum(values) / sum(base)
        print(
            f"  {name:30} {statistics.median(values) * 1e6:13.1f} us {max(values) * 1e6:11.1f} us"
            f" {sum(values) * 1e3:7.2f} ms {ratio:6.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=21, help="runs per template (median taken)")
    args = parser.parse_args()

    real = sorted(p for p in REAL.iterdir() if p.name != "index.json")
    bench_set("Bottlerocket real templates", [(p, context_for(p, real_candidates(p.name))) for p in real], args.repeat)

    thar_k8s = variants.path("thar-k8s")
    templates = sorted((thar_k8s / "templates").iterdir()) if (thar_k8s / "templates").is_dir() else []
    if templates:
        items = []
        for path in templates:
            try:
                items.append((path, context_for(path, [thar_k8s])))
            except SchnauzerError as exc:
                print(f"  thar-k8s {path.name}: does not parse: {exc}")
        bench_set("thar-k8s variant templates", items, args.repeat)


if __name__ == "__main__":
    main()
