"""Variants: Bottlerocket's defaults.d directories and thar's own, merged and validated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from thar import variants
from thar.models.api import parse_os_release
from thar.models.errors import ModelError
from thar.models.variant import VariantError, extensions_for_family, load_variant, merge_defaults

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "defaults"
BOTTLEROCKET_VARIANTS = sorted(p.name for p in CONFORMANCE.iterdir() if (p / "defaults.d").is_dir())


def test_the_conformance_data_is_there() -> None:
    assert len(BOTTLEROCKET_VARIANTS) == 17


@pytest.mark.parametrize("name", BOTTLEROCKET_VARIANTS)
def test_every_bottlerocket_variant_loads_merges_and_validates(name: str) -> None:
    variant = load_variant(CONFORMANCE / name)
    assert set(variant.defaults) == {"settings", "services", "configuration-files", "metadata"}
    assert variant.validate_defaults() == []
    settings = variant.parse_settings(variant.defaults["settings"])
    assert settings.dump()["motd"] == "Welcome to Bottlerocket!"


@pytest.mark.parametrize("name", variants.names())
def test_thar_variants_are_valid_and_self_consistent(name: str) -> None:
    variant = load_variant(variants.path(name))
    assert variant.name == name
    assert variant.validate_defaults() == []
    assert variant.cross_references() == []
    assert variant.os_release is not None and f"VARIANT_ID={name}" in variant.os_release


def test_thar_dev_is_the_default_and_restarts_nothing_on_the_host() -> None:
    assert variants.DEFAULT_VARIANT == "thar-dev"
    variant = load_variant(variants.path())
    services = variant.defaults["services"]
    assert {"motd", "chronyd"} <= set(services)
    commands = [c for s in services.values() for c in s["restart-commands"]]
    assert commands, "thar-dev should record restarts"
    assert all(c.split(" ")[0] == "thar-record-restart" for c in commands)


def test_thar_k8s_has_kubernetes_and_restarts_through_systemd() -> None:
    variant = load_variant(variants.path("thar-k8s"))
    assert {"kubernetes", "container-runtime"} <= set(variant.extensions)
    assert "kubelet" in variant.defaults["services"]
    commands = [c for s in variant.defaults["services"].values() for c in s["restart-commands"]]
    assert any(c.startswith("/bin/systemctl ") for c in commands)


def test_a_missing_variant_names_the_known_ones() -> None:
    with pytest.raises(FileNotFoundError, match="thar-dev"):
        variants.path("nope")


@pytest.mark.parametrize(
    ("name", "has", "lacks"),
    [
        ("aws-dev", {"boot", "aws", "cloudformation"}, {"ecs", "kubernetes", "autoscaling"}),
        ("aws-ecs-1", {"ecs", "autoscaling", "oci-defaults"}, {"boot"}),
        ("aws-ecs-2-nvidia", {"ecs", "boot"}, {"kubernetes"}),
        ("aws-k8s-1.31", {"kubernetes", "container-runtime", "autoscaling"}, {"nvidia-container-runtime"}),
        ("aws-k8s-1.24-nvidia", {"nvidia-container-runtime", "kubelet-device-plugins"}, {"ecs"}),
        ("metal-dev", {"boot"}, {"aws", "kubernetes"}),
        ("vmware-k8s-1.31", {"kubernetes", "aws", "oci-defaults"}, {"cloudformation", "autoscaling"}),
    ],
)
def test_extensions_follow_bottlerocket_families(name: str, has: set[str], lacks: set[str]) -> None:
    extensions = set(extensions_for_family(name))
    assert {"motd", "ntp", "network", "kernel", "dns", "pki"} <= extensions
    assert has <= extensions
    assert not lacks & extensions


def test_an_unknown_family_asks_for_a_variant_toml() -> None:
    with pytest.raises(VariantError, match=r"variant\.toml"):
        extensions_for_family("mystery-os")


def test_a_settings_extension_outside_the_variant_is_an_unknown_field() -> None:
    variant = load_variant(CONFORMANCE / "metal-dev")
    with pytest.raises(ModelError) as info:
        variant.parse_settings({"motd": "hi", "kubernetes": {"max-pods": 10}})
    (line,) = info.value.lines
    assert line.startswith("settings.kubernetes: unknown field (allowed: ")
    assert "motd" in line and "ntp" in line


def test_errors_name_every_bad_setting_in_one_line_each() -> None:
    variant = load_variant(CONFORMANCE / "aws-k8s-1.31")
    with pytest.raises(ModelError) as info:
        variant.parse_settings(
            {"ntp": {"time-servers": ["ok.example", "how are you"]}, "kubernetes": {"max-pods": "10"}}
        )
    kubernetes, ntp = info.value.lines  # in field order: extensions are sorted by name
    assert ntp.startswith('settings.ntp.time-servers[1] = "how are you": Unable to deserialize into Url')
    assert kubernetes == 'settings.kubernetes.max-pods = "10": must be an integer (no conversion from other types)'


def test_a_settings_body_must_be_an_object() -> None:
    variant = load_variant(CONFORMANCE / "aws-dev")
    with pytest.raises(ModelError, match="must be an object"):
        variant.parse_settings(["motd"])


def test_the_json_schema_lists_the_variant_extensions() -> None:
    variant = load_variant(CONFORMANCE / "aws-k8s-1.31")
    schema = variant.settings_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(variant.extensions)
    assert "kubernetes" in schema["properties"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_merge_later_files_win_tables_merge_arrays_replace(tmp_path: Path) -> None:
    a = write(
        tmp_path / "10-a.toml", '[settings]\nmotd = "a"\n[settings.ntp]\ntime-servers = ["a", "b"]\noptions = ["x"]\n'
    )
    b = write(tmp_path / "20-b.toml", '[settings]\nmotd = "b"\n[settings.ntp]\ntime-servers = ["c"]\n')
    assert merge_defaults([a, b]) == {"settings": {"motd": "b", "ntp": {"time-servers": ["c"], "options": ["x"]}}}


def test_merge_of_mismatched_types_is_an_error(tmp_path: Path) -> None:
    a = write(tmp_path / "10-a.toml", "[settings.ntp]\noptions = []\n")
    b = write(tmp_path / "20-b.toml", '[settings]\nntp = "pool"\n')
    with pytest.raises(VariantError, match=r"mismatched data types at settings\.ntp"):
        merge_defaults([a, b])


def test_defaults_files_merge_in_bytewise_name_order(tmp_path: Path) -> None:
    write(tmp_path / "v/defaults.d/9-late.toml", '[settings]\nmotd = "nine"\n')
    write(tmp_path / "v/defaults.d/10-early.toml", '[settings]\nmotd = "ten"\n')
    write(tmp_path / "v/defaults.d/README.md", "not toml")
    write(tmp_path / "v/variant.toml", 'name = "v"\nextensions = ["motd"]\n')
    assert load_variant(tmp_path / "v").defaults["settings"]["motd"] == "nine"  # "9" sorts after "1"


def test_bad_toml_names_the_file_line_and_column(tmp_path: Path) -> None:
    bad = write(tmp_path / "10-bad.toml", "[settings]\nmotd = \n")
    with pytest.raises(VariantError, match=r"10-bad.toml is not valid TOML: .*line 2, column 8"):
        merge_defaults([bad])


def test_validate_defaults_reports_bad_services_files_and_metadata(tmp_path: Path) -> None:
    write(
        tmp_path / "v/defaults.d/10.toml",
        "[settings]\nmotd = 1\n"
        '[services.motd]\nconfiguration-files = ["motd"]\n'
        '[configuration-files.motd]\npath = "/etc/motd"\ntemplate-path = "/t"\nmode = "rw"\n'
        "[metadata.settings.motd]\naffected-services = 3\n",
    )
    write(tmp_path / "v/variant.toml", 'extensions = ["motd"]\n')
    problems = load_variant(tmp_path / "v").validate_defaults()
    assert problems == [
        "settings.motd = 1: must be a string (no conversion from other types)",
        "services.motd.restart-commands: required field missing",
        'configuration-files.motd.mode = "rw": file mode \'rw\' is not an octal mode such as "0644"',
        "metadata.settings.motd.affected-services: affected-services must be a list of service names",
    ]


def test_thar_record_restart_appends_to_the_sandbox_log(tmp_path: Path) -> None:
    # The console script lives beside the interpreter running the tests (the virtualenv's bin).
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {"THAR_ROOT": str(tmp_path), "PATH": path, "CHANGED_SETTINGS": "settings.motd"}
    for service in ("motd", "chronyd"):
        subprocess.run(["thar-record-restart", service], env=env, check=True)
    lines = (tmp_path / "run/thar/restarts.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["motd settings.motd", "chronyd settings.motd"]
    assert subprocess.run(["thar-record-restart"], env=env, capture_output=True).returncode == 2


def test_an_unknown_field_inside_a_map_entry_lists_the_allowed_fields() -> None:
    variant = load_variant(CONFORMANCE / "aws-dev")
    with pytest.raises(ModelError) as info:
        variant.parse_settings({"host-containers": {"admin": {"bogus": True}}})
    assert info.value.lines == [
        "settings.host-containers.admin.bogus: unknown field (allowed: enabled, source, superpowered, user-data)"
    ]


def test_the_api_model_holds_settings_services_files_and_os() -> None:
    variant = load_variant(variants.path("thar-dev"))
    assert variant.os_release is not None
    os_ = parse_os_release(variant.os_release, "x86_64")
    whole = {
        "settings": variant.defaults["settings"],
        "services": variant.defaults["services"],
        "configuration-files": variant.defaults["configuration-files"],
        "os": os_.model_dump(),
    }
    dumped = variant.api_model.model_validate(whole).dump()
    assert dumped["os"]["variant_id"] == "thar-dev"
    assert dumped["services"]["motd"] == {"configuration-files": ["motd"], "restart-commands": []}
    assert dumped["settings"]["motd"] == "Welcome to thar!"
    assert variant.api_model.model_validate({"os": os_.model_dump()}).dump() == {"os": os_.model_dump()}
    with pytest.raises(ValidationError):
        variant.api_model.model_validate({"settings": {}, "extra": 1})
