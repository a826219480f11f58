"""The 116 real Bottlerocket templates: each parses to the requirements in ``real/index.json`` and
renders against the merged defaults of a conformance variant that has its extensions, plus the
values Bottlerocket generates at boot (cluster name, region, hostname, …) and a few user
settings; then spot checks of specific output lines computed from those inputs. Also the
``schnauzer-v2 render`` setting generators found in the conformance defaults."""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from thar.models import load_variant
from thar.schnauzer.cli import build_parser
from thar.schnauzer.helpers import HelperEnvironment
from thar.schnauzer.importer import StaticImporter, minimize_settings
from thar.schnauzer.render import render_parsed
from thar.schnauzer.template import TemplateFile, parse_template, template_from_requirements

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
REAL = SHARED / "templates" / "real"
DEFAULTS = SHARED / "defaults"
INDEX: dict[str, Any] = json.loads((REAL / "index.json").read_text())
ENTRIES: dict[str, dict[str, Any]] = {entry["file"]: entry for entry in INDEX["templates"]}
FILES = sorted(ENTRIES)
VARIANTS = sorted(p.name for p in DEFAULTS.iterdir() if (p / "defaults.d").is_dir())

ENV = HelperEnvironment(
    cpu_count=lambda: 4,
    efa_attached=lambda: False,
    fips_enabled=lambda: False,
    resolve=lambda name: [],
)

OS = {
    "pretty_name": "Bottlerocket OS 1.26.0 (aws-k8s-1.31)",
    "variant_id": "aws-k8s-1.31",
    "version_id": "1.26.0",
    "build_id": "a1b2c3d4",
    "arch": "x86_64",
}

CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
REGION = "us-west-2"
HOSTNAME = "ip-10-0-0-15.us-west-2.compute.internal"
API_SERVER = "https://0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com"
CLUSTER_DNS_IP = "10.100.0.10"
MAX_PODS = 29

# What Bottlerocket generates at boot (pluto, netdog, shibaken, schnauzer generators, …).
GENERATED: dict[str, Any] = {
    "aws": {"region": REGION},
    "network": {"hostname": HOSTNAME},
    "kubernetes": {
        "cluster-name": "thar-test",
        "api-server": API_SERVER,
        "cluster-certificate": base64.b64encode(CA_PEM).decode(),
        "node-ip": "10.0.0.15",
        "max-pods": MAX_PODS,
        "cluster-dns-ip": CLUSTER_DNS_IP,
        "pod-infra-container-image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.9",
        "provider-id": "aws:///us-west-2a/i-0123456789abcdef0",
        "hostname-override": HOSTNAME,
    },
    "updates": {
        "seed": 1234,
        "metadata-base-url": "https://updates.bottlerocket.aws/2020-07-07/aws-k8s-1.31/x86_64/",
        "targets-base-url": "https://updates.bottlerocket.aws/targets/",
    },
    "metrics": {"send-metrics": True},
    "host-containers": {
        "admin": {"source": "328549459982.dkr.ecr.us-west-2.amazonaws.com/bottlerocket-admin:v0.11.13"},
        "control": {"source": "328549459982.dkr.ecr.us-west-2.amazonaws.com/bottlerocket-control:v0.7.17"},
    },
}

# Settings a user might set, so that more template branches run (single-key maps only: the
# order of multi-key maps is not part of the contract).
MIRRORS = ["https://mirror-1.example.com", "https://mirror-2.example.com"]
NO_PROXY = ["10.0.0.0/8", "internal.example"]
USER: dict[str, Any] = {
    "network": {
        "https-proxy": "http://proxy.example.com:3128",
        "no-proxy": NO_PROXY,
        "hosts": [["10.0.0.1", ["gateway.internal", "gw"]], ["127.0.0.1", ["extra-local"]]],
    },
    "container-registry": {
        "mirrors": [{"registry": "docker.io", "endpoint": MIRRORS}],
        "credentials": [{"registry": "docker.io", "username": "user", "password": "pa&ss"}],
    },
    "kubernetes": {
        "node-labels": {"role": "worker"},
        "node-taints": {"dedicated": ["gpu:NoSchedule", "gpu:NoExecute"]},
        "allowed-unsafe-sysctls": ["net.core.somaxconn", "kernel.msg*"],
        "eviction-hard": {"memory.available": "15%"},
        "registry-qps": 0,
    },
    "ecs": {"cluster": "thar-ecs", "instance-attributes": {"tier": "web"}},
    "kernel": {"sysctl": {"net.ipv4.ip_forward": "1"}},
}


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@cache
def variant_settings(name: str) -> dict[str, Any]:
    """The variant's merged defaults plus the generated and user values of its extensions,
    validated and serialised by the variant's model (absent keys for unset settings)."""
    variant = load_variant(DEFAULTS / name)
    settings = variant.defaults.get("settings", {})
    for extra in (GENERATED, USER):
        settings = deep_merge(settings, {k: v for k, v in extra.items() if k in variant.extensions})
    dumped: dict[str, Any] = variant.parse_settings(settings).dump()
    return dumped


@cache
def variant_extensions(name: str) -> frozenset[str]:
    return frozenset(load_variant(DEFAULTS / name).extensions)


def pick_variant(file: str, needed: set[str]) -> str:
    """A conformance variant whose extensions include ``needed``: the template's own kubernetes
    version where there is one, the nvidia variant for nvidia packages, else the first of a
    preference list."""
    match = re.match(r"kubernetes-(1\.\d+)__", file)
    preferred = []
    if match:
        preferred += [f"aws-k8s-{match.group(1)}", f"metal-k8s-{match.group(1)}"]
    if file.startswith("nvidia"):
        preferred.append("aws-k8s-1.31-nvidia")
    if file.startswith("docker-engine") or file.startswith("ecs-agent"):
        preferred.append("aws-ecs-2")
    preferred += ["aws-dev", "aws-ecs-2", "aws-k8s-1.31", *VARIANTS]
    for name in preferred:
        if name in VARIANTS and needed <= variant_extensions(name):
            return name
    raise AssertionError(f"no conformance variant has the extensions {sorted(needed)}")


ALL_EXTENSIONS = frozenset().union(*(variant_extensions(v) for v in VARIANTS))


def template(file: str) -> TemplateFile:
    return parse_template((REAL / file).read_text(encoding="utf-8"))


def render_real(file: str) -> tuple[str, dict[str, Any]]:
    """Render a real template as the API importer would: minimised settings plus ``os``."""
    parsed = template(file)
    names = {r.name for r in parsed.requirements}
    settings = variant_settings(pick_variant(file, names & ALL_EXTENSIONS))
    context = {"settings": minimize_settings(settings, parsed.extension_names), "os": OS}
    return render_parsed(parsed, StaticImporter(context), ENV), context


# -- all 116 -------------------------------------------------------------------------------------------
def test_index_counts() -> None:
    assert INDEX["count"] == len(FILES) == 116
    assert sorted(p.name for p in REAL.iterdir() if p.name != "index.json") == FILES


@pytest.mark.parametrize("file", FILES)
def test_real_template_parses(file: str) -> None:
    parsed = template(file)
    expected = {
        (r["name"], r["version"], tuple(r["helpers"]), r["optional"]) for r in ENTRIES[file]["required_extensions"]
    }
    assert {(r.name, r.version, r.helpers, r.optional) for r in parsed.requirements} == expected
    assert len(parsed.requirements) == len(expected)
    assert parsed.body.endswith("\n") == ENTRIES[file]["body_ends_with_newline"]


@pytest.mark.parametrize("file", FILES)
def test_real_template_renders(file: str) -> None:
    rendered, context = render_real(file)
    assert "{{" not in rendered
    assert set(context["settings"]) <= {r.name for r in template(file).requirements}


# -- spot checks ---------------------------------------------------------------------------------------
def lines(file: str) -> tuple[list[str], dict[str, Any]]:
    rendered, context = render_real(file)
    return rendered.splitlines(), context["settings"]


def test_chrony_pool_lines() -> None:
    out, settings = lines("chrony__chrony-conf")
    ntp = settings["ntp"]
    options = "".join(f" {o}" for o in ntp["options"])
    assert [line for line in out if line.startswith("pool ")] == [f"pool {s}{options}" for s in ntp["time-servers"]]
    assert out[len(ntp["time-servers"])] == "driftfile /var/lib/chrony/drift"


@pytest.mark.parametrize("version", ["1.24", "1.28", "1.31"])
def test_kubelet_config(version: str) -> None:
    out, settings = lines(f"kubernetes-{version}__kubelet-config")
    k8s = settings["kubernetes"]
    dns = k8s["cluster-dns-ip"]
    dns_list = dns if isinstance(dns, list) else [dns]
    at = out.index("clusterDNS:")
    assert out[at + 1 : at + 1 + len(dns_list)] == [f"- {ip}" for ip in dns_list] == [f"- {CLUSTER_DNS_IP}"]
    assert f"clusterDomain: {k8s['cluster-domain']}" in out
    assert f"maxPods: {MAX_PODS}" in out
    # 4.x renders arrays with a trailing ", " inside the brackets.
    assert f"allowedUnsafeSysctls: [{''.join(s + ', ' for s in USER['kubernetes']['allowed-unsafe-sysctls'])}]" in out
    assert "registryPullQPS: 0" in out  # includeZero
    at = out.index("kubeReserved:")
    assert out[at + 1] == '  cpu: "80m"'  # 4 CPUs
    assert out[at + 2] == f'  memory: "{MAX_PODS * 11 + 255}Mi"'
    assert '  memory.available: "15%"' in out
    assert f"serverTLSBootstrap: {str(k8s['server-tls-bootstrap']).lower()}" in out


def test_kubelet_env() -> None:
    out, _ = lines("kubernetes-1.31__kubelet-env")
    assert out == [
        f"NODE_IP={GENERATED['kubernetes']['node-ip']}",
        "NODE_LABELS=role=worker",
        "NODE_TAINTS=dedicated=gpu:NoSchedule,dedicated=gpu:NoExecute",
    ]


def test_kubelet_kubeconfig() -> None:
    out, _ = lines("kubernetes-1.31__kubelet-kubeconfig")
    assert f'    server: "{API_SERVER}"' in out
    at = out.index('      - "-i"')
    assert out[at + 1 : at + 4] == ['      - "thar-test"', '      - "--region"', f'      - "{REGION}"']


def test_kubernetes_ca_crt() -> None:
    rendered, _ = render_real("kubernetes-1.31__kubernetes-ca-crt")
    assert rendered == CA_PEM.decode()


def test_hosts() -> None:
    out, _ = lines("release__hosts.template")
    # The hostname is not an alias in settings.network.hosts and does not resolve: it is added.
    assert (
        out[0] == f"127.0.0.1 localhost localhost.localdomain localhost4 localhost4.localdomain4 {HOSTNAME} extra-local"
    )
    assert out[1] == f"::1 localhost localhost.localdomain localhost6 localhost6.localdomain6 {HOSTNAME}"
    assert out[2:] == ["", "10.0.0.1 gateway.internal gw"]


def test_containerd_config() -> None:
    out, _ = lines("containerd__containerd-config-toml_k8s_containerd_sock")
    at = out.index('[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]')
    assert out[at + 1] == "endpoint = [" + ", ".join(f'"{m}"' for m in MIRRORS) + "]"
    at = out.index('[plugins."io.containerd.grpc.v1.cri".registry.configs."registry-1.docker.io".auth]')
    assert out[at + 1 : at + 3] == ['username = "user"', 'password = "pa&ss"']  # {{{ }}}: not escaped


def test_proxy_env() -> None:
    out, settings = lines("release__proxy-env")
    proxy = USER["network"]["https-proxy"]
    escaped = proxy.replace("=", "&#x3D;")
    assert out[:2] == [f"HTTPS_PROXY={escaped}", f"https_proxy={escaped}"]
    api_host = API_SERVER.removeprefix("https://").lower()
    domain = settings["kubernetes"]["cluster-domain"]
    expected = f"{''.join(n + ',' for n in NO_PROXY)}localhost,127.0.0.1,{api_host},.{domain}"
    assert out[2:] == [f"NO_PROXY={expected}", f"no_proxy={expected}"]


def test_docker_daemon_json() -> None:
    rendered, context = render_real("docker-engine__daemon-json")
    settings = context["settings"]
    document = json.loads(rendered)
    caps = settings["oci-defaults"]["capabilities"]
    expected = sorted("CAP_" + name.upper().replace("-", "_") for name, on in caps.items() if on)
    assert document["default-capabilities"] == expected
    limits = settings["oci-defaults"]["resource-limits"]
    assert document["default-ulimits"]["nofile"] == {
        "Name": "nofile",
        "Hard": limits["max-open-files"]["hard-limit"],
        "Soft": limits["max-open-files"]["soft-limit"],
    }
    assert document["registry-mirrors"] == MIRRORS


def test_credential_provider_config() -> None:
    out, settings = lines("kubernetes-1.31__credential-provider-config-yaml")
    provider = settings["kubernetes"]["credential-providers"]["ecr-credential-provider"]
    at = out.index("  - name: ecr-credential-provider")
    patterns = [f'      - "{p}"' for p in provider["image-patterns"]]
    assert out[at + 1 : at + 2 + len(patterns)] == ["    matchImages:", *patterns]
    assert f'    defaultCacheDuration: "{provider["cache-duration"]}"' in out
    # @root reaches the aws settings from inside #each
    assert out[-4:] == ["      - name: HOME", "        value: '/root'", "      - name: AWS_PROFILE",
                        f"        value: '{settings['aws']['profile']}'"]  # fmt: skip


def test_containerd_cri_base_json() -> None:
    rendered, context = render_real("containerd__containerd-cri-base-json")
    process = json.loads(rendered)["process"]
    caps = context["settings"]["oci-defaults"]["capabilities"]
    expected = sorted("CAP_" + name.upper().replace("-", "_") for name, on in caps.items() if on)
    assert process["capabilities"] == {"bounding": expected, "effective": expected, "permitted": expected}
    limits = context["settings"]["oci-defaults"]["resource-limits"]["max-open-files"]
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": limits["hard-limit"], "soft": limits["soft-limit"]}]


def test_ecs_base_conf() -> None:
    out, settings = lines("ecs-agent__ecs-base-conf")
    assert 'Environment=ECS_CLUSTER="thar-ecs"' in out
    assert 'Environment=ECS_TASK_METADATA_RPS_LIMIT="40,60"' in out
    assert f'Environment=ECS_LOGLEVEL="{settings["ecs"]["loglevel"]}"' in out
    assert (
        f'Environment=ECS_INSTANCE_ATTRIBUTES=\'{{ "bottlerocket.variant": "{OS["variant_id"]}" ,"tier": "web"}}\''
        in out
    )
    # (the template closes the credential object once more than it opens it)
    auth = '{"https://index.docker.io/v1/":{"email": ".","username": "user","password": "pa&ss"}}}'
    assert f"Environment=ECS_ENGINE_AUTH_DATA='{auth}'" in out


def test_updog_toml() -> None:
    out, settings = lines("os__updog-toml")
    updates = settings["updates"]
    assert out[:3] == [
        f'metadata_base_url = "{updates["metadata-base-url"]}"',
        f'targets_base_url = "{updates["targets-base-url"]}"',
        f"seed = {updates['seed']}",
    ]
    assert "no_proxy=[" + ", ".join(f'"{n}"' for n in NO_PROXY) + "]" in out


@pytest.mark.parametrize("file", ["release__aws-config", "release__aws-credentials"])
def test_aws_files_keep_content_exactly(file: str) -> None:
    assert not ENTRIES[file]["body_ends_with_newline"]
    assert render_real(file)[0] == ""  # unset in every variant's defaults
    content = "[default]\nregion = us-west-2"  # no trailing newline, and none is added
    key = "config" if file.endswith("config") else "credentials"
    context = {"settings": {"aws": {key: base64.b64encode(content.encode()).decode()}}, "os": OS}
    assert render_parsed(template(file), StaticImporter(context), ENV) == content


# -- the setting generators of the conformance defaults ---------------------------------------------------
def generator_commands() -> list[str]:
    commands: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "setting-generator" and isinstance(value, str) and value.startswith("schnauzer-v2 "):
                    commands.add(value)
                walk(value)

    for name in VARIANTS:
        walk(load_variant(DEFAULTS / name).defaults.get("metadata", {}))
    return sorted(commands)


GENERATORS = generator_commands()
ECR = "328549459982.dkr.ecr.us-west-2.amazonaws.com"


def test_generators_found() -> None:
    assert len(GENERATORS) >= 4


@pytest.mark.parametrize("command", GENERATORS)
def test_setting_generator(command: str) -> None:
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.command == "render"
    parsed = template_from_requirements(args.requires, args.template)
    context = {"settings": minimize_settings({"aws": {"region": REGION}}, parsed.extension_names), "os": OS}
    rendered = render_parsed(parsed, StaticImporter(context), ENV)
    expected = (
        args.template.replace("{{ ecr-prefix settings.aws.region }}", ECR)
        .replace("{{ tuf-prefix settings.aws.region }}", "https://updates.bottlerocket.aws")
        .replace("{{ metadata-prefix settings.aws.region }}", "")
        .replace("{{ os.variant_id }}", OS["variant_id"])
        .replace("{{ os.arch }}", OS["arch"])
    )
    assert rendered == expected
