"""API models (`GET /`) of thar's variants for rendering their templates in tests.

`variant_model(name, **extra)` is what the API would serve after storewolf and the first commit:
the variant's merged defaults validated and normalised by its settings model, with `extra`
settings merged over them, and `os` from the variant's os-release.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from thar import variants
from thar.apiclient.get import merge_json
from thar.models import load_variant
from thar.models.api import parse_os_release
from thar.schnauzer.helpers import HelperEnvironment

__all__ = [
    "GENERATED",
    "RICH",
    "TEST_ENV",
    "template_names",
    "variant_model",
]

VARIANTS = ("thar-dev", "thar-k8s")

# What sundog generates on a host (thar-dev has no node-ip, boot or kubernetes generators).
GENERATED: Mapping[str, dict[str, Any]] = {
    "thar-dev": {
        "updates": {"seed": 1234, "metadata-base-url": "https://updates.thar.example/2020-07-07/thar-dev/x86_64/"},
        "network": {"hostname": "devbox.example.internal"},
    },
    "thar-k8s": {
        "updates": {"seed": 0, "metadata-base-url": "https://updates.thar.example/2020-07-07/thar-k8s/x86_64/"},
        "network": {"hostname": "node-1.example.internal"},
        "kubernetes": {
            "node-ip": "10.0.0.5",
            # What the user supplies to join a cluster.
            "api-server": "https://k8s.example.internal:6443",
            "cluster-name": "demo",
            "cluster-certificate": base64.b64encode(
                b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
            ).decode(),
            "bootstrap-token": "abcdef.0123456789abcdef",
        },
        "boot": {"reboot-to-reconcile": True, "kernel": {"console": ["tty0", "ttyS0,115200n8"]}},
    },
}

_B64 = base64.b64encode(b'secret: it\'s "quoted"\n').decode()

# Everything set, to exercise every branch of the templates.
RICH: Mapping[str, Any] = {
    "motd": 'Tom\'s <host> & "friends"',
    "ntp": {"time-servers": ["time.example.com", "https://time2.example.com/"], "options": ["iburst"]},
    "dns": {"name-servers": ["10.0.0.2", "fd00::53"], "search-list": ["example.internal", "corp.example"]},
    "network": {
        "hostname": "box.example.internal",
        "https-proxy": "http://proxy.example:3128",
        "no-proxy": ["10.0.0.0/8", ".example.internal"],
        "hosts": [["10.0.0.9", ["db", "db.example.internal"]], ["127.0.0.1", ["local-alias"]]],
    },
    "container-registry": {
        "mirrors": [{"registry": "docker.io", "endpoint": ["https://mirror.example", "https://m2.example"]}],
        "credentials": [
            {"registry": "docker.io", "username": "me", "password": 'p"a\\ss'},
            {"registry": "ghcr.io", "auth": base64.b64encode(b"me:token").decode()},
        ],
    },
    "host-containers": {"admin": {"enabled": True, "user-data": _B64}},
    "bootstrap-containers": {
        "setup": {"source": "registry.example/setup:1", "mode": "once", "essential": True, "user-data": _B64}
    },
    "bootstrap-commands": {"10-motd": {"commands": [["apiclient", "set", 'motd=it\'s "here"']], "mode": "always"}},
    "kernel": {"sysctl": {"vm.max_map_count": "262144"}, "modules": {"sctp": {"allowed": False}}},
    "pki": {"corp": {"trusted": True, "data": ""}},
    "boot": {"kernel": {"quiet": []}, "init": {"systemd.log_level": ["debug"]}},
    "metrics": {"send-metrics": True},
}

RICH_K8S: Mapping[str, Any] = {
    "aws": {"region": "us-west-2", "config": _B64, "credentials": _B64},
    "kubernetes": {
        "node-labels": {"role": "worker", "zone": "a"},
        "node-taints": {"dedicated": ["gpu:NoSchedule"]},
        "static-pods": {"web": {"enabled": True, "manifest": _B64}},
        "max-pods": 58,
        "cluster-dns-ip": "10.96.0.10",
        "eviction-hard": {"memory.available": "5%"},
        "allowed-unsafe-sysctls": ["net.core.somaxconn"],
        "log-level": 0,
        "server-certificate": _B64,
        "server-key": _B64,
        "credential-providers": {"ecr-credential-provider": {"enabled": True, "environment": {"A": "b"}}},
        "kube-reserved": {"cpu": "100m"},
    },
    "container-runtime": {"enable-unprivileged-ports": True},
}

# Host facts for helpers: 4 CPUs, no EFA, no FIPS, and a resolver that knows no name (so
# /etc/hosts lists the hostname on the loopback lines, and no test waits on DNS).


def _no_name(name: str) -> Sequence[str]:
    raise OSError(f"unknown host {name}")


TEST_ENV = HelperEnvironment(
    cpu_count=lambda: 4, efa_attached=lambda: False, fips_enabled=lambda: False, resolve=_no_name
)


@cache
def _variant(name: str) -> Any:
    return load_variant(variants.path(name))


def template_names(name: str) -> list[str]:
    """The template of every configuration file the variant's defaults declare (basenames)."""
    files = _variant(name).defaults["configuration-files"]
    return sorted({entry["template-path"].rsplit("/", 1)[1] for entry in files.values()})


def variant_model(name: str, *extra: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /` of a host of this variant: defaults, then each `extra` settings merged over them."""
    variant = _variant(name)
    settings: Any = variant.defaults.get("settings", {})
    for layer in extra:
        settings = merge_json(settings, layer)
    normalised = variant.parse_settings(settings).dump()
    assert variant.os_release is not None
    os_info = parse_os_release(variant.os_release, "x86_64")
    return {"settings": normalised, "os": os_info.model_dump(mode="json", by_alias=True, exclude_none=True)}
