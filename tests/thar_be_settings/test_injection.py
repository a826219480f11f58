"""No setting value can add a line, key or section to a rendered file.

Every string a template of thar-dev or thar-k8s reads (each string leaf of a model that sets
everything the templates mention, map keys included) is replaced in turn by hostile values —
quotes, backslashes, line breaks, ``#``, ``[``, ``=``, ``}}`` and combinations such as
``"\\nfoo: bar`` — alone, after and before the benign value. A value the model refuses is what
an API caller cannot store: every one holding a control character must be refused (the model is
the guard of the line-oriented files). A value the model accepts is stored and every template
that can see it is rendered; the output is parsed the way its consumer reads it (TOML, JSON,
YAML, systemd environment and unit files, chrony.conf, sysctl.d, hosts, resolv.conf, modprobe
lines) and its structure must be the structure of a render with a benign value in that place.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import yaml

from thar import variants
from thar.models import ModelError, load_variant
from thar.schnauzer.errors import SchnauzerError
from thar.schnauzer.template import parse_template

from .models import GENERATED, RICH, RICH_K8S, template_names, variant_model
from .test_templates import JSON, TOML, YAML, render

VARIANTS = ("thar-dev", "thar-k8s")

# Settings the templates read that RICH / RICH_K8S leave unset, so that every one is replaced.
EVERY_BRANCH: Mapping[str, dict[str, Any]] = {
    "thar-dev": {"boot": {"reboot-to-reconcile": True}},
    "thar-k8s": {
        "boot": {"reboot-to-reconcile": True},
        "aws": {"profile": "default"},
        "container-registry": {
            "mirrors": [{"registry": "registry.example:5000", "endpoint": ["https://mirror.example/v2"]}],
            "credentials": [{"registry": "registry.example:5000", "username": "u", "password": "p",
                             "identitytoken": "t"}],
        },
        "kubernetes": {
            "provider-id": "aws:///us-west-2a/i-0123456789abcdef0",
            "hostname-override": "node-1.example.internal",
            "credential-providers": {
                "ecr-credential-provider": {"enabled": True, "image-patterns": ["*.dkr.ecr.*.amazonaws.com"],
                                            "cache-duration": "30m", "environment": {"A": "b"}},
            },
            "kube-reserved": {"cpu": "100m", "memory": "1Gi", "ephemeral-storage": "2Gi"},
            "system-reserved": {"memory": "500Mi"},
            "eviction-soft": {"memory.available": "10%"},
            "eviction-soft-grace-period": {"memory.available": "30s"},
            "eviction-max-pod-grace-period": 60,
            "registry-qps": 5, "registry-burst": 10, "event-qps": 5, "event-burst": 10,
            "kube-api-qps": 5, "kube-api-burst": 10,
            "container-log-max-size": "10Mi", "container-log-max-files": 5,
            "cpu-cfs-quota-enforced": True, "cpu-manager-policy": "static", "cpu-manager-reconcile-period": "10s",
            "topology-manager-scope": "pod", "topology-manager-policy": "best-effort",
            "image-gc-high-threshold-percent": 85, "image-gc-low-threshold-percent": 80,
            "pod-pids-limit": 4096, "shutdown-grace-period": "30s", "shutdown-grace-period-for-critical-pods": "10s",
            "memory-manager-policy": "Static", "reserved-cpus": "0-1",
        },
    },
}  # fmt: skip

# The short list runs by default; the slow test tries the whole list.
CORE = [
    '"',
    "'",
    "\\",
    "#",
    "[",
    "=",
    "}}",
    "\n",
    '"\nfoo: bar',
    "\n[evil]",
    "x\nLD_PRELOAD=/tmp/evil.so",
    "\\\n",
    "\"'\\",
]
HOSTILE = [
    '"', "'", "\\", "#", " #", "[", "]", "[x]", "=", "x=y", "}}", "{{", "{{x}}", ":", "a: b", "- x", ",", ";",
    "{x}", "&x", "*x", "!x", "|", ">", "%", "$(reboot)", "`id`", "'''", '"""', "' '", '" "', "\"'\\",
    "\t", "\n", "\r", "\r\n", "\x00", "\x1b", "\x7f", "\x85", "\u2028",
    '"\nfoo: bar', "'\nfoo: bar", '\\"\nfoo: bar', '"}}\n{{', '"\n[evil]\nx = 1', "\n[evil]", "\n#",
    "x\nLD_PRELOAD=/tmp/evil.so", "\\\nLD_PRELOAD=/tmp/evil.so", "\nserver evil.example iburst", "\n-a always,exit",
    '\\"', "\\\\", "x\\", "\"'\\\n",
]  # fmt: skip
CONTROLS = frozenset(map(chr, [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]))
MULTI_LINE = {("motd",)}  # the settings exempt from the control-character rule (models/README.md)

Path = tuple[Any, ...]  # a leaf: keys and indexes from `settings`; ("kernel", "sysctl", KEY, "x") = that map key


@functools.cache
def variant(name: str) -> Any:
    return load_variant(variants.path(name))


@functools.cache
def benign(name: str) -> dict[str, Any]:
    """The API model of a host with every setting the templates read set to an ordinary value."""
    layers = [GENERATED[name], RICH, *([RICH_K8S] if name == "thar-k8s" else []), EVERY_BRANCH[name]]
    return variant_model(name, *layers)


def string_leaves(node: Any, at: Path = ()) -> Iterator[Path]:
    """Every string in ``node``: values, list items, and map keys (a key leaf ends in ``"[key]"``)."""
    if isinstance(node, str):
        yield at
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from string_leaves(item, (*at, index))
    elif isinstance(node, dict):
        for key, item in node.items():
            yield (*at, key, "[key]")
            yield from string_leaves(item, (*at, key))


def get_leaf(settings: Any, path: Path) -> str:
    value = path[-2] if path[-1] == "[key]" else reach(settings, list(path))
    assert isinstance(value, str)
    return value


def with_leaf(settings: dict[str, Any], path: Path, value: str) -> dict[str, Any]:
    """A copy of ``settings`` with the leaf at ``path`` replaced (a map key keeps its place)."""
    copied = copy.deepcopy(settings)
    if path[-1] == "[key]":
        *parents, key, _ = path
        node = reach(copied, parents)
        items = list(node.items())
        node.clear()
        node.update({(value if k == key else k): v for k, v in items})
    else:
        *parents, last = path
        reach(copied, parents)[last] = value
    return copied


def reach(settings: Any, parts: list[Any]) -> Any:
    for part in parts:
        settings = settings[part]
    return settings


def stored(name: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """What the API would store for these settings, or None when the model refuses them."""
    try:
        dumped: dict[str, Any] = variant(name).parse_settings(settings).dump()
    except ModelError:
        return None
    return dumped


def holds(settings: dict[str, Any], path: Path, value: str) -> bool:
    """Whether stored ``settings`` keep ``value`` at ``path``: a struct that ignores unknown keys
    (``credential-providers`` entries) drops a renamed field instead of storing it."""
    is_key = path[-1] == "[key]"
    parents, last = (path[:-2], value) if is_key else (path[:-1], path[-1])
    try:
        node = reach(settings, list(parents))
    except (KeyError, IndexError, TypeError):
        return False
    if isinstance(node, dict):
        return last in node
    return isinstance(node, list) and isinstance(last, int) and last < len(node)


def candidates(value: str, hostile: list[str]) -> list[str]:
    """The hostile values tried in place of ``value``: each alone, after it and before it."""
    found: dict[str, None] = {}
    for text in hostile:
        for candidate in (text, value + text, text + value):
            found.setdefault(candidate)
    return list(found)


# -- how each file's consumer reads it ------------------------------------------------------------


def systemd_environment(text: str) -> list[str]:
    """The variable names a systemd ``EnvironmentFile=`` defines, read as systemd reads them:
    ``#``/``;`` lines are comments, a value may be quoted (``'…'``, ``"…"``, across lines), and a
    backslash escapes the next character — a line break too, which continues the value."""
    names: list[str] = []
    state, key = "pre-key", ""
    for char in text + "\n":
        if state == "pre-key":
            if char in "#;":
                state = "comment"
            elif not char.isspace():
                state, key = "key", char
        elif state == "key":
            if char == "\n":
                state = "pre-key"  # a line without '=' defines nothing
            elif char == "=":
                state = "pre-value"
                names.append(key.strip())
            else:
                key += char
        elif state == "pre-value":
            if char == "\n":
                state = "pre-key"
            elif char == "'":
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "\\":
                state = "escape"
            elif not char.isspace():
                state = "value"
        elif state == "value":
            if char == "\n":
                state = "pre-key"
            elif char == "\\":
                state = "escape"
        elif state == "escape":
            state = "value"
        elif state == "single":
            if char == "'":
                state = "pre-value"
        elif state == "double":
            if char == '"':
                state = "pre-value"
            elif char == "\\":
                state = "double-escape"
        elif state == "double-escape":
            state = "double"
        elif state == "comment":
            if char == "\\":
                state = "comment-escape"
            elif char == "\n":
                state = "pre-key"
        elif state == "comment-escape":
            state = "comment"
    assert state == "pre-key", f"unterminated quote or escape at the end of:\n{text}"
    return names


def systemd_unit(text: str) -> list[Any]:
    """Sections and keys of a unit file (backslash-continued lines joined), and the words of each
    ``ExecStart=`` command line."""
    structure: list[Any] = []
    section = None
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        key, sep, value = line.partition("=")
        assert sep, line
        structure.append((section, key.strip()))
        if key.strip() == "ExecStart" and value.strip():
            structure.append(len(shlex.split(value)))
    return structure


def chrony_directives(text: str) -> list[str]:
    """chrony.conf as chronyd reads it: one directive per line, lines starting with ! ; # % are comments."""
    words = (line.split() for line in text.splitlines())
    return [w[0] for w in words if w and w[0][0] not in "!;#%"]


def sysctl_keys(text: str) -> list[str]:
    """sysctl.d as systemd-sysctl reads it: ``key = value`` lines, ``#`` and ``;`` lines are comments."""
    lines = (line.strip() for line in text.splitlines())
    return [line.split("=", 1)[0].strip() for line in lines if line and line[0] not in "#;"]


def line_words(comment_anywhere: bool) -> Callable[[str], list[tuple[str, int]]]:
    """Word-based line formats: the first word and the number of words of each line. ``#`` starts
    a comment anywhere in /etc/hosts (``comment_anywhere``); elsewhere ``#`` and ``;`` lines are comments."""

    def read(text: str) -> list[tuple[str, int]]:
        found = []
        for line in text.splitlines():
            if comment_anywhere:
                line = line.split("#", 1)[0]
            elif line.lstrip()[:1] in ("#", ";"):
                continue
            if words := line.split():
                found.append((words[0], len(words)))
        return found

    return read


def tree_shape(value: Any, rename: Mapping[str, str]) -> Any:
    """A parsed document's shape: containers and their keys, scalars by type."""
    if isinstance(value, dict):
        return {rename.get(k, k): tree_shape(v, rename) for k, v in value.items()}
    if isinstance(value, list):
        return [tree_shape(v, rename) for v in value]
    return type(value).__name__


def structure(variant_name: str, template: str, text: str, rename: Mapping[str, str]) -> Any:
    if template in TOML:
        return tree_shape(tomllib.loads(text), rename)
    if template in JSON:
        return tree_shape(json.loads(text), rename)
    if template in YAML:  # libyaml, which go-yaml (kubelet's parser) is a port of
        return tree_shape(yaml.load(text, Loader=yaml.CSafeLoader), rename)
    if template in ("proxy-env", "kubelet-env") or (template == "hostname" and variant_name == "thar-k8s"):
        return systemd_environment(text)
    if template == "kubelet-exec-start-conf":
        return systemd_unit(text)
    if template == "chrony-conf":
        return chrony_directives(text)
    if template == "sysctl-conf":
        return sysctl_keys(text)
    if template in ("hosts", "resolv-conf", "modprobe-conf", "modules-load", "hostname"):
        return line_words(comment_anywhere=template == "hosts")(text)
    # motd and the decoded base64 files are the user's own text by design: no structure to keep.
    assert template in PAYLOAD, f"no reader for {template}"
    return None


PAYLOAD = {"motd", "kubernetes-ca-crt", "kubelet-server-crt", "kubelet-server-key", "aws-config", "aws-credentials"}


@functools.cache
def readers(name: str) -> dict[str, set[str]]:
    """Template -> the settings extensions it requires (it sees no others)."""
    found = {}
    for template in template_names(name):
        parsed = parse_template((variants.path(name) / "templates" / template).read_text())
        found[template] = {r.name for r in parsed.requirements}
    return found


RENDER_FAILED = "render failed"
UNREAD = "does not read the setting"


@functools.cache
def benign_text(name: str, template: str) -> str:
    return render(name, template, benign(name))


def rendered_structures(name: str, settings: dict[str, Any], leaf: Path, rename: Mapping[str, str]) -> dict[str, Any]:
    """The structure of every file whose template sees the leaf's extension. A template whose
    output does not change reads something else; one that fails to render (a helper refusing the
    value) writes nothing: thar-be-settings keeps the old file."""
    model = {**benign(name), "settings": settings}
    found = {}
    for template, extensions in readers(name).items():
        if leaf[0] not in extensions:
            continue
        try:
            text = render(name, template, model)
        except SchnauzerError:
            found[template] = RENDER_FAILED
            continue
        found[template] = UNREAD if text == benign_text(name, template) else structure(name, template, text, rename)
    return found


def is_map_key_or_value(name: str, path: Path) -> bool:
    """Struct field names are not values a caller chooses; map keys are (a renamed struct field is refused)."""
    if path[-1] != "[key]":
        return True
    renamed = path[-2] + "x"
    result = stored(name, with_leaf(benign(name)["settings"], path, renamed))
    return result is not None and holds(result, path, renamed)


LEAVES = [
    (name, path)
    for name in VARIANTS
    for path in string_leaves(benign(name)["settings"])
    if is_map_key_or_value(name, path)
]


def leaf_id(name: str, path: Path) -> str:
    return f"{name}:" + ".".join(str(p) for p in path)


@functools.cache
def accepted(name: str, path: Path, full: bool) -> dict[str, dict[str, Any]]:
    """The hostile values the model stores at ``path``, with what it stores."""
    settings = benign(name)["settings"]
    found = {}
    for candidate in candidates(get_leaf(settings, path), HOSTILE if full else CORE):
        result = stored(name, with_leaf(settings, path, candidate))
        if result is not None and holds(result, path, candidate):
            found[candidate] = result
    return found


def check_structures(name: str, path: Path, full: bool) -> None:
    settings = benign(name)["settings"]
    value = get_leaf(settings, path)
    hostile = accepted(name, path, full)
    if not hostile:
        return
    # The reference: the same leaf holding an ordinary value other than the benign one (so that
    # a branch such as `eq registry "docker.io"` goes the way it goes for a hostile value).
    for reference_value in (value + "x", "x" + value, value):
        reference = stored(name, with_leaf(settings, path, reference_value))
        if reference is not None:
            expected = rendered_structures(name, reference, path, {reference_value: "<leaf>"})
            if RENDER_FAILED not in expected.values():
                break
    assert RENDER_FAILED not in expected.values()
    for candidate, stored_settings in hostile.items():
        got = rendered_structures(name, stored_settings, path, {candidate: "<leaf>"})
        for template, shape in expected.items():
            assert got[template] in (shape, RENDER_FAILED), (
                f"{template} changed shape when {leaf_id(name, path)} = {json.dumps(candidate)}"
            )


def check_control_characters(name: str, path: Path, full: bool) -> None:
    with_controls = [c for c in accepted(name, path, full) if CONTROLS & set(c)]
    if path in MULTI_LINE:
        assert any("\n" in c for c in with_controls)
        assert all(set(c) & CONTROLS <= set("\t\n\r") for c in with_controls), with_controls
    else:
        assert with_controls == [], f"the model stores {with_controls[0]!r} in {leaf_id(name, path)}"


@pytest.mark.parametrize(("name", "path"), LEAVES, ids=[leaf_id(n, p) for n, p in LEAVES])
def test_no_setting_value_adds_a_line_key_or_section(name: str, path: Path) -> None:
    check_structures(name, path, full=False)


@pytest.mark.parametrize(("name", "path"), LEAVES, ids=[leaf_id(n, p) for n, p in LEAVES])
def test_the_model_refuses_every_control_character_but_in_motd(name: str, path: Path) -> None:
    check_control_characters(name, path, full=False)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "path"), LEAVES, ids=[leaf_id(n, p) for n, p in LEAVES])
def test_no_setting_value_adds_a_line_key_or_section_with_every_hostile_value(name: str, path: Path) -> None:
    check_control_characters(name, path, full=True)
    check_structures(name, path, full=True)


# Free-text settings: what a caller may store there must reach the files (the test is not vacuous).
FREE_TEXT = [
    ("thar-dev", ("ntp", "options", 0)),
    ("thar-dev", ("kernel", "sysctl", "vm.max_map_count")),
    ("thar-dev", ("network", "no-proxy", 0)),
    ("thar-dev", ("container-registry", "credentials", 0, "password")),
    ("thar-dev", ("container-registry", "mirrors", 0, "registry")),
    ("thar-k8s", ("kubernetes", "api-server")),
    ("thar-k8s", ("kubernetes", "provider-id")),
    ("thar-k8s", ("kubernetes", "allowed-unsafe-sysctls", 0)),
    ("thar-k8s", ("kubernetes", "credential-providers", "ecr-credential-provider", "image-patterns", 0)),
    ("thar-k8s", ("kubernetes", "credential-providers", "ecr-credential-provider", "environment", "A", "[key]")),
    ("thar-k8s", ("kubernetes", "credential-providers", "ecr-credential-provider", "environment", "A")),
    ("thar-k8s", ("aws", "profile")),
    ("thar-k8s", ("network", "https-proxy")),
]


@pytest.mark.parametrize(("name", "path"), FREE_TEXT, ids=[leaf_id(n, p) for n, p in FREE_TEXT])
def test_quotes_and_markup_do_reach_free_text_settings(name: str, path: Path) -> None:
    assert (name, path) in LEAVES
    reached = {char for candidate in accepted(name, path, False) for char in "\"'\\#[=}" if char in candidate}
    assert len(reached) >= 3, f"only {sorted(reached)} of the hostile characters can be stored"


@pytest.mark.parametrize("name", VARIANTS)
def test_every_setting_a_template_names_is_set_in_the_benign_model(name: str) -> None:
    settings = benign(name)["settings"]
    for template in template_names(name):
        body = (variants.path(name) / "templates" / template).read_text().split("+++", 1)[1]
        for dotted in re.findall(r"settings\.([a-z0-9-]+(?:\.[a-z0-9-]+)*)", body):
            node: Any = settings
            for part in dotted.split("."):
                assert isinstance(node, dict) and part in node, f"{template} reads settings.{dotted}, unset here"
                node = node[part]


def test_the_injection_from_the_issue_is_refused_and_odd_urls_render_as_given() -> None:
    """A quote and a line break in api-server or provider-id used to add top-level YAML to both
    kubeconfigs and the kubelet config; now the model refuses it, and a URL with quotes-adjacent
    characters the model keeps is written exactly (Bottlerocket's ``"{{…}}"`` would write ``&amp;``)."""
    settings = benign("thar-k8s")["settings"]
    odd = "https://k8s.example/p'q?a=b&c=d#e"
    reads: tuple[tuple[str, tuple[str, ...], Callable[[Any], Any]], ...] = (
        (
            "api-server",
            ("kubelet-kubeconfig", "kubelet-bootstrap-kubeconfig"),
            lambda d: d["clusters"][0]["cluster"]["server"],
        ),
        ("provider-id", ("kubelet-config",), lambda d: d["providerID"]),
    )
    for field, templates, read in reads:
        path = ("kubernetes", field)
        assert stored("thar-k8s", with_leaf(settings, path, 'https://k8s.example/"\nfoo: bar')) is None
        accepted = stored("thar-k8s", with_leaf(settings, path, odd))
        assert accepted is not None
        for template in templates:
            document = yaml.safe_load(render("thar-k8s", template, {**benign("thar-k8s"), "settings": accepted}))
            assert read(document) == odd
