"""thar's own templates: every configuration file of thar-dev and thar-k8s renders against the
variant's defaults (plus what sundog generates), and against settings that take every branch;
the output parses in the file's format and carries the settings."""

from __future__ import annotations

import base64
import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from thar import variants
from thar.thar_be_settings.plan import render_file

from .models import GENERATED, RICH, RICH_K8S, TEST_ENV, template_names, variant_model

CASES = [(v, t) for v in ("thar-dev", "thar-k8s") for t in template_names(v)]
IDS = [f"{v}/{t}" for v, t in CASES]
DEV = [(v, t) for v, t in CASES if v == "thar-dev"]

TOML = {
    "bootstrap-commands-toml", "bootstrap-containers-toml", "certdog-toml", "containerd-config-toml",
    "corndog-toml", "host-containers-toml", "host-ctr-toml", "metricdog-toml", "netdog-toml",
    "prairiedog-toml", "static-pods-toml", "thar-be-updates-toml", "updog-toml",
}  # fmt: skip
JSON = {"oci-hooks", "oci-defaults"}
YAML = {"kubelet-config", "kubelet-kubeconfig", "kubelet-bootstrap-kubeconfig", "credential-provider-config-yaml"}
ENV = {"proxy-env", "kubelet-env"}


def render(variant: str, template: str, model: Mapping[str, Any]) -> str:
    return render_file(variants.path(variant) / "templates" / template, model, TEST_ENV)


def parse(template: str, text: str) -> Any:
    """The rendered text parsed in the file's format (fails the test when it does not parse)."""
    if template in TOML:
        return tomllib.loads(text)
    if template in JSON:
        return json.loads(text)
    if template in YAML:
        return yaml.safe_load(text)
    if template in ENV:
        # systemd's EnvironmentFile= format: NAME=value lines, '#' lines are comments
        pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
        assert all(len(p) == 2 and p[0].isidentifier() for p in pairs), text
        return dict(pairs)
    return text


def settings_of(model: Mapping[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = model["settings"]
    return settings


# What each file must say about the settings it was rendered from.
def _check_motd(s: dict[str, Any], out: Any) -> None:
    assert out == s["motd"] + "\n"


def _check_chrony(s: dict[str, Any], out: Any) -> None:
    pools = [line.split() for line in out.splitlines() if line.startswith("pool ")]
    assert [p[1] for p in pools] == s["ntp"]["time-servers"]
    options = " ".join(s["ntp"].get("options", [])).split()
    assert all(p[2:] == options for p in pools)


def _check_updog(s: dict[str, Any], out: Any) -> None:
    assert out["targets_base_url"] == s["updates"]["targets-base-url"]
    assert out["version_lock"] == s["updates"]["version-lock"]
    assert out.get("seed") == s["updates"].get("seed")
    assert out.get("metadata_base_url") == s["updates"].get("metadata-base-url")
    assert out.get("no_proxy") == s.get("network", {}).get("no-proxy")


def _check_metricdog(s: dict[str, Any], out: Any) -> None:
    assert out["send_metrics"] == s["metrics"]["send-metrics"]
    assert out["service_checks"] == s["metrics"]["service-checks"]
    assert out["region"] == s.get("aws", {}).get("region", "global")


def _check_host_ctr(s: dict[str, Any], out: Any) -> None:
    registry = s.get("container-registry", {})
    assert {m["registry"]: m["endpoint"] for m in registry.get("mirrors", [])} == {
        k: v["endpoints"] for k, v in out.get("mirrors", {}).items()
    }
    for cred in registry.get("credentials", []):
        host = "registry-1.docker.io" if cred["registry"] == "docker.io" else cred["registry"]
        written = out["creds"][host]
        assert {k: v for k, v in cred.items() if k != "registry"} == written


def _check_containerd(s: dict[str, Any], out: Any) -> None:
    cri = out["plugins"]["io.containerd.grpc.v1.cri"]
    mirrors = {m["registry"]: m["endpoint"] for m in s.get("container-registry", {}).get("mirrors", [])}
    assert {k: v["endpoint"] for k, v in cri.get("registry", {}).get("mirrors", {}).items()} == mirrors
    if "kubernetes" in s:
        assert cri["sandbox_image"] == s["kubernetes"]["pod-infra-container-image"]
        runtime = s["container-runtime"]
        assert cri["max_container_log_line_size"] == runtime["max-container-log-line-size"]
        assert cri["enable_unprivileged_ports"] == runtime["enable-unprivileged-ports"]


def _check_host_containers(s: dict[str, Any], out: Any) -> None:
    containers = s.get("host-containers", {})
    assert set(out) == set(containers)
    for name, container in containers.items():
        assert out[name]["enabled"] == container.get("enabled", False)
        assert out[name].get("source") == container.get("source")
        assert out[name].get("user-data") == container.get("user-data")


def _check_bootstrap_containers(s: dict[str, Any], out: Any) -> None:
    assert set(out) == set(s.get("bootstrap-containers", {}))
    for name, container in s.get("bootstrap-containers", {}).items():
        assert out[name]["mode"] == container.get("mode", "off")
        assert out[name]["source"] == container["source"]


def _check_bootstrap_commands(s: dict[str, Any], out: Any) -> None:
    assert {name: c["commands"] for name, c in out.items()} == {
        name: c.get("commands", []) for name, c in s.get("bootstrap-commands", {}).items()
    }


def _check_corndog(s: dict[str, Any], out: Any) -> None:
    assert out["lockdown"] == s["kernel"]["lockdown"]
    assert out["sysctl"] == s["kernel"]["sysctl"]


def _check_sysctl(s: dict[str, Any], out: Any) -> None:
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert dict(line.split(" = ", 1) for line in lines) == s["kernel"]["sysctl"]


def _check_modprobe(s: dict[str, Any], out: Any) -> None:
    blocked = {name for name, m in s["kernel"].get("modules", {}).items() if not m.get("allowed")}
    assert {line.split()[1] for line in out.splitlines() if line.startswith("install ")} == blocked


def _check_modules_load(s: dict[str, Any], out: Any) -> None:
    loaded = {n for n, m in s["kernel"].get("modules", {}).items() if m.get("allowed") and m.get("autoload")}
    assert {line for line in out.splitlines() if line and not line.startswith("#")} == loaded


def _check_certdog(s: dict[str, Any], out: Any) -> None:
    assert set(out) == {name for name, b in s.get("pki", {}).items() if b.get("data")}


def _check_prairiedog(s: dict[str, Any], out: Any) -> None:
    boot = s.get("boot")
    if boot is None:
        assert out == {}
        return
    assert out.get("kernel", {}) == boot.get("kernel", {})
    assert out.get("init", {}) == boot.get("init", {})
    assert out["reboot-to-reconcile"] == boot.get("reboot-to-reconcile", False)


def _check_hostname(s: dict[str, Any], out: Any) -> None:
    hostname = s.get("network", {}).get("hostname")
    assert out == ("" if hostname is None else (hostname if "=" not in out else f"HOSTNAME={hostname}") + "\n")


def _check_hosts(s: dict[str, Any], out: Any) -> None:
    lines = out.splitlines()
    assert lines[0].startswith("127.0.0.1 localhost") and lines[1].startswith("::1 localhost")
    hostname = s.get("network", {}).get("hostname")
    if hostname:  # the test resolver knows no name: the hostname is an alias of the loopbacks
        assert hostname in lines[0].split() and hostname in lines[1].split()
    for ip, aliases in s.get("network", {}).get("hosts", []):
        if ip != "127.0.0.1":
            assert f"{ip} {' '.join(aliases)}" in lines


def _check_resolv(s: dict[str, Any], out: Any) -> None:
    dns = s.get("dns", {})
    assert [line.split()[1] for line in out.splitlines() if line.startswith("nameserver")] == dns.get(
        "name-servers", []
    )


def _check_netdog(s: dict[str, Any], out: Any) -> None:
    dns = s.get("dns", {})
    assert out.get("name-servers") == dns.get("name-servers")
    assert out.get("search-list") == dns.get("search-list")


def _check_proxy(s: dict[str, Any], out: Any) -> None:
    network = s.get("network", {})
    assert out.get("HTTPS_PROXY") == network.get("https-proxy")
    no_proxy = out["NO_PROXY"].split(",")
    assert no_proxy[: len(network.get("no-proxy", []))] == network.get("no-proxy", [])
    assert "localhost" in no_proxy
    if s.get("kubernetes", {}).get("cluster-domain"):
        assert "." + s["kubernetes"]["cluster-domain"] in no_proxy


def _check_oci_hooks(s: dict[str, Any], out: Any) -> None:
    assert set(out["hooks"]) == {"prestart", "poststart"}


def _check_thar_be_updates(s: dict[str, Any], out: Any) -> None:
    assert out == {"version-lock": s["updates"]["version-lock"]}


def _check_kubelet_env(s: dict[str, Any], out: Any) -> None:
    k8s = s["kubernetes"]
    assert out["NODE_IP"] == k8s.get("node-ip", "")
    assert out["NODE_LABELS"] == ",".join(f"{k}={v}" for k, v in k8s.get("node-labels", {}).items())


def _check_kubelet_config(s: dict[str, Any], out: Any) -> None:
    k8s = s["kubernetes"]
    assert out["kind"] == "KubeletConfiguration"
    assert out["clusterDomain"] == k8s["cluster-domain"]
    assert out["maxPods"] == k8s.get("max-pods", 110)
    assert out["kubeReserved"]["cpu"] == k8s.get("kube-reserved", {}).get("cpu", "80m")  # 4 CPUs
    assert out["kubeReserved"]["memory"] == f"{k8s.get('max-pods', 110) * 11 + 255}Mi"
    assert out.get("evictionHard") == k8s.get("eviction-hard")


def _check_kubeconfig(s: dict[str, Any], out: Any) -> None:
    assert out["clusters"][0]["cluster"].get("server") == s["kubernetes"].get("api-server")


def _check_bootstrap_kubeconfig(s: dict[str, Any], out: Any) -> None:
    _check_kubeconfig(s, out)
    assert out["users"][0]["user"].get("token") == s["kubernetes"].get("bootstrap-token")


def _check_exec_start(s: dict[str, Any], out: Any) -> None:
    assert out.startswith("[Service]\nExecStart=\nExecStart=/usr/bin/kubelet \\\n")
    lines = out.splitlines()
    assert all(line.endswith(" \\") for line in lines[2:-1]) and not lines[-1].endswith("\\")
    tls = s["kubernetes"].get("authentication-mode") == "tls"
    assert ("--bootstrap-kubeconfig" in out) == tls


def _decoded(field: str | tuple[str, str]) -> Callable[[dict[str, Any], Any], None]:
    extension, key = field if isinstance(field, tuple) else ("kubernetes", field)

    def check(s: dict[str, Any], out: Any) -> None:
        value = s.get(extension, {}).get(key)
        assert out == ("" if value is None else base64.b64decode(value).decode())

    return check


def _check_credential_providers(s: dict[str, Any], out: Any) -> None:
    providers = s["kubernetes"].get("credential-providers", {})
    enabled = [name for name, p in providers.items() if p.get("enabled")]
    assert [p["name"] for p in out["providers"]] == enabled
    for provider in out["providers"]:
        assert provider["matchImages"] == providers[provider["name"]].get("image-patterns", [])


def _check_static_pods(s: dict[str, Any], out: Any) -> None:
    assert set(out) == set(s["kubernetes"].get("static-pods", {}))


def _check_oci_defaults(s: dict[str, Any], out: Any) -> None:
    caps = s["oci-defaults"]["capabilities"]
    expected = sorted("CAP_" + name.upper().replace("-", "_") for name, on in caps.items() if on)
    assert sorted(out["process"]["capabilities"]["bounding"]) == expected
    assert [r["type"] for r in out["process"]["rlimits"]] == ["RLIMIT_NOFILE"]


CHECKS: dict[str, Callable[[dict[str, Any], Any], None]] = {
    "motd": _check_motd,
    "chrony-conf": _check_chrony,
    "updog-toml": _check_updog,
    "metricdog-toml": _check_metricdog,
    "host-ctr-toml": _check_host_ctr,
    "containerd-config-toml": _check_containerd,
    "host-containers-toml": _check_host_containers,
    "bootstrap-containers-toml": _check_bootstrap_containers,
    "bootstrap-commands-toml": _check_bootstrap_commands,
    "corndog-toml": _check_corndog,
    "sysctl-conf": _check_sysctl,
    "modprobe-conf": _check_modprobe,
    "modules-load": _check_modules_load,
    "certdog-toml": _check_certdog,
    "prairiedog-toml": _check_prairiedog,
    "hostname": _check_hostname,
    "hosts": _check_hosts,
    "resolv-conf": _check_resolv,
    "netdog-toml": _check_netdog,
    "proxy-env": _check_proxy,
    "oci-hooks": _check_oci_hooks,
    "thar-be-updates-toml": _check_thar_be_updates,
    "kubelet-env": _check_kubelet_env,
    "kubelet-config": _check_kubelet_config,
    "kubelet-kubeconfig": _check_kubeconfig,
    "kubelet-bootstrap-kubeconfig": _check_bootstrap_kubeconfig,
    "kubelet-exec-start-conf": _check_exec_start,
    "kubernetes-ca-crt": _decoded("cluster-certificate"),
    "kubelet-server-crt": _decoded("server-certificate"),
    "kubelet-server-key": _decoded("server-key"),
    "aws-config": _decoded(("aws", "config")),
    "aws-credentials": _decoded(("aws", "credentials")),
    "credential-provider-config-yaml": _check_credential_providers,
    "static-pods-toml": _check_static_pods,
    "oci-defaults": _check_oci_defaults,
}


def _render_and_check(variant: str, template: str, model: dict[str, Any]) -> None:
    text = render(variant, template, model)
    CHECKS[template](settings_of(model), parse(template, text))


def test_every_template_has_a_check() -> None:
    assert {t for _, t in CASES} == set(CHECKS)


@pytest.mark.parametrize(("variant", "template"), DEV, ids=[f"{v}/{t}" for v, t in DEV])
def test_renders_bare_defaults(variant: str, template: str) -> None:
    """thar-dev in a sandbox has no setting generators: its defaults alone must render."""
    _render_and_check(variant, template, variant_model(variant))


@pytest.mark.parametrize(("variant", "template"), CASES, ids=IDS)
def test_renders_defaults_and_generated(variant: str, template: str) -> None:
    _render_and_check(variant, template, variant_model(variant, GENERATED[variant]))


@pytest.mark.parametrize(("variant", "template"), CASES, ids=IDS)
def test_renders_every_branch(variant: str, template: str) -> None:
    extra = [GENERATED[variant], RICH] + ([RICH_K8S] if variant == "thar-k8s" else [])
    _render_and_check(variant, template, variant_model(variant, *extra))


def test_templates_are_installed_with_the_package() -> None:
    for variant in ("thar-dev", "thar-k8s"):
        assert sorted(p.name for p in (variants.path(variant) / "templates").iterdir()) == template_names(variant)
    assert Path(variants.__file__).resolve().parent == variants.VARIANTS_DIR


@pytest.mark.parametrize("variant", ["thar-dev", "thar-k8s"])
def test_templates_require_only_the_variants_extensions(variant: str) -> None:
    """A template that lists an extension the variant lacks would silently see nothing of it."""
    from thar.models import load_variant
    from thar.schnauzer.template import parse_template

    extensions = set(load_variant(variants.path(variant)).extensions) | {"std"}
    for template in template_names(variant):
        parsed = parse_template((variants.path(variant) / "templates" / template).read_text())
        assert {r.name for r in parsed.requirements} <= extensions, template
