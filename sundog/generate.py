"""One sundog run: discover generators, skip populated settings, run the rest, send the results.

Steps (spec/sundog.md):

1. `GET /metadata/setting-generators`; none -> `No settings to generate, exiting` (no PATCH).
2. The *populated set*: `GET /?prefix=K` for each generator key K, merged; every live leaf
   under `settings`. Computed once, so this run's results never count.
3. The environment: sundog's own, plus proxy variables when `settings.network.https-proxy` is
   set.
4. Each generator in key order, one at a time: skipped when its key is populated (and it asks
   for that), else run; templated settings (`schnauzer-v2 render …`, legacy
   `schnauzer settings.KEY`) are rendered in-process through schnauzer.
5. One `PATCH /settings?tx=bottlerocket-launch` with every result (also when all were
   skipped). Any failure before it sends nothing. sundog never commits.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from thar.apiclient import ApiClientError, get_json, get_prefixes, patch_settings

from .errors import ApiFailed
from .generators import Generator, KeyPath, flatten_leaves, is_populated, parse_generators, place, split_command
from .runner import DEFAULT_TIMEOUT, Outcome, run_generator
from .templates import is_legacy_template, is_schnauzer_v2, render_legacy_template, render_schnauzer_v2

__all__ = ["LAUNCH_TRANSACTION", "Report", "generate", "populated_settings", "proxy_environment"]

LAUNCH_TRANSACTION = "bottlerocket-launch"

log = logging.getLogger("sundog")


@dataclass
class Report:
    """What a run did: the settings sent (None when nothing was sent), and per generator
    `(key, what happened, seconds)` with what happened one of `generated`, `null`, `skipped`
    (exit 2), `populated`."""

    sent: dict[str, Any] | None = None
    steps: list[tuple[str, str, float]] = field(default_factory=list)


def populated_settings(socket_path: str, generators: Sequence[Generator]) -> set[KeyPath]:
    """Every live settings leaf under the generators' keys (one checked GET per key)."""
    if not generators:
        return set()
    try:
        model = get_prefixes(socket_path, [g.key for g in generators])
    except ApiClientError as exc:
        raise ApiFailed("retrieving settings values", exc) from exc
    settings = model.get("settings", {}) if isinstance(model, dict) else {}
    return flatten_leaves(settings, ("settings",))


def proxy_environment(socket_path: str) -> dict[str, str]:
    """`https_proxy`/`HTTPS_PROXY` and `no_proxy`/`NO_PROXY` from the network settings, or `{}`.

    no_proxy is `localhost,127.0.0.1`, then each non-empty `settings.network.no-proxy` entry,
    then `settings.kubernetes.api-server` and `cluster-domain` when they are set.
    """
    try:
        network = get_prefixes(socket_path, ["settings.network"]).get("settings", {}).get("network", {})
    except ApiClientError as exc:
        raise ApiFailed("retrieving the network settings", exc) from exc
    proxy = network.get("https-proxy") if isinstance(network, dict) else None
    if not isinstance(proxy, str):
        return {}
    no_proxy = ["localhost", "127.0.0.1"]
    no_proxy += [entry for entry in network.get("no-proxy") or [] if isinstance(entry, str) and entry]
    try:
        kubernetes = get_prefixes(socket_path, ["settings.kubernetes"]).get("settings", {}).get("kubernetes", {})
    except ApiClientError as exc:
        raise ApiFailed("retrieving the kubernetes settings", exc) from exc
    if isinstance(kubernetes, dict):
        no_proxy += [
            kubernetes[name] for name in ("api-server", "cluster-domain") if isinstance(kubernetes.get(name), str)
        ]
    joined = ",".join(no_proxy)
    return {"https_proxy": proxy, "HTTPS_PROXY": proxy, "no_proxy": joined, "NO_PROXY": joined}


def generate(
    socket_path: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    environ: Mapping[str, str] | None = None,
) -> Report:
    """One whole run against the API at `socket_path`; raises a `SundogError` on failure."""
    report = Report()
    log.info("Retrieving setting generators")
    try:
        answer = get_json(socket_path, "/metadata/setting-generators")
    except ApiClientError as exc:
        raise ApiFailed("retrieving setting generators", exc) from exc
    generators = parse_generators(answer)
    if not generators:
        log.info("No settings to generate, exiting")
        return report

    log.info("Retrieving settings values")
    populated = populated_settings(socket_path, generators)
    env = dict(os.environ if environ is None else environ)
    env.update(proxy_environment(socket_path))

    settings: dict[str, Any] = {}
    for generator in generators:
        if generator.skip_if_populated and is_populated(generator.path, populated):
            log.debug("Setting '%s' is already populated, skipping", generator.key)
            report.steps.append((generator.key, "populated", 0.0))
            continue
        outcome = _produce(socket_path, generator, env, timeout)
        if outcome.skipped:
            report.steps.append((generator.key, "skipped", outcome.seconds))
            continue
        if outcome.value is None:
            report.steps.append((generator.key, "null", outcome.seconds))
            continue
        if generator.strength == "weak":
            log.debug("Setting '%s' is weak; thar stores it like a strong one", generator.key)
        place(settings, generator.path, outcome.value)
        report.steps.append((generator.key, "generated", outcome.seconds))

    body = settings.get("settings", {})
    if not isinstance(body, dict):  # a generator for the key `settings` itself
        body = {}
    log.info("Sending settings values to the API")
    try:
        patch_settings(socket_path, body, LAUNCH_TRANSACTION)
    except ApiClientError as exc:
        raise ApiFailed("sending generated settings to the API", exc) from exc
    report.sent = body
    return report


def _produce(socket_path: str, generator: Generator, env: Mapping[str, str], timeout: float) -> Outcome:
    started = time.monotonic()
    rendered: str | None = None
    if is_legacy_template(generator):
        rendered = render_legacy_template(socket_path, generator)
    else:
        argv = split_command(generator.key, generator.command)
        if is_schnauzer_v2(argv):
            rendered = render_schnauzer_v2(socket_path, generator, argv)
    if rendered is not None:
        seconds = time.monotonic() - started
        log.info("Rendered the template of '%s' in %.3f s", generator.key, seconds)
        return Outcome(generator, False, rendered, seconds)
    return run_generator(generator, env, timeout)
