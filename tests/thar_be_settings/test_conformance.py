"""Bottlerocket's own variant defaults (../shared/conformance/defaults) as thar-be-settings reads
them: every service and configuration file parses as the API serves it, every mode is one
thar-be-settings accepts, and every restart command splits into a program to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from thar.models import load_variant
from thar.thar_be_settings.config import parse_files, parse_services
from thar.thar_be_settings.restart import split_command
from thar.thar_be_settings.writer import parse_mode

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "defaults"
VARIANTS = sorted(p.name for p in CONFORMANCE.iterdir() if (p / "defaults.d").is_dir())


def test_the_conformance_variants_are_there() -> None:
    assert len(VARIANTS) >= 17


@pytest.mark.parametrize("name", VARIANTS)
def test_bottlerocket_defaults_are_applicable(name: str) -> None:
    defaults = load_variant(CONFORMANCE / name).defaults
    services = parse_services(defaults["services"])
    files = parse_files(defaults["configuration-files"])
    for service in services.values():
        assert set(service.configuration_files) <= set(files), service.name
        for command in service.restart_commands:
            program = split_command(command)[0]
            assert program and (program.startswith("/") or "/" not in program), command
    for file in files.values():
        assert file.path.startswith("/") and file.template_path.startswith("/usr/share/templates/")
        assert parse_mode(file.path, file.mode) in (0o600, 0o644)
