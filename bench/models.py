"""Model benchmark: validating settings, beside ``json.loads`` of the same bytes.

    python -m bench.models [--repeat N]      (from the repository root)

Validates (1) the merged default settings of the largest conformance variant (the one with
the most leaf settings) and (2) a 1-key PATCH body, and prints microseconds per validation
beside the cost of ``json.loads`` of the same JSON text; validation starts from the parsed
value (the API parses the body once, then validates); the ratio is validation / parse.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from thar.datastore import to_pairs
from thar.models.variant import Variant, load_variant

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "defaults"


def per_call_us(fn: Callable[[], object], repeat: int, inner: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - start) / inner)
    return statistics.median(runs) * 1e6


def largest_variant() -> Variant:
    variants = [load_variant(d) for d in sorted(CONFORMANCE.iterdir()) if (d / "defaults.d").is_dir()]
    return max(variants, key=lambda v: len(to_pairs(v.defaults.get("settings", {}))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15, help="runs per figure (the median is reported)")
    args = parser.parse_args()
    variant = largest_variant()
    model = variant.settings_model
    cases = [
        (f"{variant.name} defaults ({len(to_pairs(variant.defaults['settings']))} keys)", variant.defaults["settings"]),
        ("1-key PATCH body", {"motd": "hello"}),
    ]
    print(f"{'model benchmark':<44} {'validate':>11} {'json.loads':>11} {'ratio':>7}")
    for label, body in cases:
        text = json.dumps(body)
        inner = 20 if len(text) > 1000 else 2000
        parsed = json.loads(text)
        validate = per_call_us(functools.partial(model.model_validate, parsed), args.repeat, inner)
        parse = per_call_us(functools.partial(json.loads, text), args.repeat, inner)
        print(f"{label:<44} {validate:>9.1f}us {parse:>9.1f}us {validate / parse:>6.1f}x")


if __name__ == "__main__":
    main()
