"""Bottlerocket's custom template helpers (spec/schnauzer.md §6), for the Handlebars engine.

``all_helpers(env)`` gives every helper by name as a ``schnauzer.helper_api.Helper``;
``OWNERS`` says which settings extension a v2 template must list in ``required-extensions`` to
use each one. Helpers that depend on the host (CPU count, EFA, FIPS mode, the resolver) read it
through a ``HelperEnvironment``, so tests and callers can inject those facts.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from ..helper_api import Helper
from .aws import aws_helpers
from .ecs import ecs_helpers
from .environment import HelperEnvironment, HostFactError
from .kubernetes import kubernetes_helpers
from .network import network_helpers
from .oci_defaults import oci_defaults_helpers
from .std import std_helpers
from .updates import updates_helpers

__all__ = ["OWNERS", "HelperEnvironment", "HostFactError", "all_helpers", "helpers_for"]

OWNERS: Mapping[str, tuple[str, ...]] = {
    "std": (
        "any_enabled",
        "base64_decode",
        "default",
        "toml_encode",
        "join_array",
        "join_map",
        "if_not_null",
        "goarch",
        "negate_or_else",
        "is_null",
        "is_bool",
        "is_number",
        "is_string",
        "is_array",
        "is_object",
        "is_ipv4",
        "is_ipv6",
        "cidr_to_ipaddr",
        "replace_ipv4_octet",
        "quote_string",  # thar's addition
    ),
    "aws": ("ecr-prefix",),
    "ecs": ("ecs_metadata_service_limits",),
    "kubernetes": ("join_node_taints", "kube_reserve_cpu", "kube_reserve_memory"),
    "network": ("localhost_aliases", "etc_hosts_entries", "host"),
    "updates": ("tuf-prefix", "metadata-prefix"),
    "oci-defaults": ("oci_defaults",),
}
"""Settings extension -> the helpers it provides (the ``required-extensions`` entry that must list them)."""


def all_helpers(env: HelperEnvironment | None = None) -> dict[str, Helper]:
    """Every custom helper by name; ``env`` supplies the host facts (default: the real host).

    The table is built once per environment; each call returns a fresh dict of it.
    """
    env = env if env is not None else HelperEnvironment()
    try:
        hash(env)
    except TypeError:  # a fact given as an unhashable callable: build without the cache
        return dict(_build(env))
    return dict(_cached_build(env))


def _build(env: HelperEnvironment) -> Mapping[str, Helper]:
    helpers = [
        *std_helpers(),
        *aws_helpers(env),
        *ecs_helpers(),
        *kubernetes_helpers(env),
        *network_helpers(env),
        *updates_helpers(),
        *oci_defaults_helpers(env),
    ]
    return {helper.name: helper for helper in helpers}


_cached_build = functools.lru_cache(maxsize=32)(_build)


def helpers_for(extension: str, env: HelperEnvironment | None = None) -> dict[str, Helper]:
    """The helpers of one extension by name; KeyError for an extension that provides none."""
    names = OWNERS[extension]
    every = all_helpers(env)
    return {name: every[name] for name in names}
