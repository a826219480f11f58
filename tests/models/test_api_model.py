"""Services, configuration files, metadata and os-release."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from thar.models.api import ConfigurationFile, MetadataValue, Service, SettingGenerator, parse_os_release

RELEASE = (
    "# comment\n"
    "NAME=Bottlerocket\n"
    'PRETTY_NAME="Bottlerocket OS 1.20.0 (aws-k8s-1.24)"\n'
    "variant_id=aws-k8s-1.24\n"
    "VERSION_ID=1.20.0\n"
    "BUILD_ID=fa3a9c2e\n"
    "ignored line\n"
)


def test_os_release_parsing_matches_the_apiserver() -> None:
    os_ = parse_os_release(RELEASE, "x86_64")
    assert os_.model_dump() == {
        "pretty_name": "Bottlerocket OS 1.20.0 (aws-k8s-1.24)",
        "variant_id": "aws-k8s-1.24",
        "version_id": "1.20.0",
        "build_id": "fa3a9c2e",
        "arch": "x86_64",
    }


def test_os_release_needs_its_four_fields_and_a_semver() -> None:
    with pytest.raises(ValueError, match="missing BUILD_ID"):
        parse_os_release("PRETTY_NAME=x\nVARIANT_ID=v\nVERSION_ID=1.0.0\n", "x86_64")
    with pytest.raises(ValidationError):
        parse_os_release(RELEASE.replace("1.20.0\nBUILD", "1.20\nBUILD"), "x86_64")


def test_a_service_needs_both_lists() -> None:
    assert Service.model_validate({"configuration-files": ["motd"], "restart-commands": []}).dump() == {
        "configuration-files": ["motd"],
        "restart-commands": [],
    }
    with pytest.raises(ValidationError):
        Service.model_validate({"configuration-files": ["motd"]})
    with pytest.raises(ValidationError):
        Service.model_validate({"configuration-files": [], "restart-commands": [], "other": 1})


def test_configuration_file_mode_is_optional_and_octal() -> None:
    assert ConfigurationFile.model_validate({"path": "/etc/motd", "template-path": "/t"}).dump() == {
        "path": "/etc/motd",
        "template-path": "/t",
    }
    assert ConfigurationFile.model_validate({"path": "/p", "template-path": "/t", "mode": "0600"}).mode == "0600"
    with pytest.raises(ValidationError):
        ConfigurationFile.model_validate({"path": "/p", "template-path": "/t", "mode": "0999"})


def test_setting_generator_string_and_table_forms() -> None:
    MetadataValue.model_validate({"name": "setting-generator", "value": "bork seed"})
    MetadataValue.model_validate({"name": "setting-generator", "value": {"command": "bork seed"}})
    generator = SettingGenerator.model_validate({"command": "x", "skip-if-populated": False, "strength": "weak"})
    assert (generator.skip_if_populated, generator.strength) == (False, "weak")
    with pytest.raises(ValidationError):
        MetadataValue.model_validate({"name": "setting-generator", "value": {"cmd": "x"}})
    with pytest.raises(ValidationError):
        MetadataValue.model_validate({"name": "setting-generator", "value": 3})


def test_other_metadata_must_be_strings_or_lists_of_strings() -> None:
    MetadataValue.model_validate({"name": "template", "value": "{{settings.motd}}"})
    MetadataValue.model_validate({"name": "anything", "value": ["a", "b"]})
    with pytest.raises(ValidationError):
        MetadataValue.model_validate({"name": "anything", "value": 1})
    with pytest.raises(ValidationError):
        MetadataValue.model_validate({"name": "affected-services", "value": "motd"})
