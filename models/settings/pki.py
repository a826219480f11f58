"""``settings.pki``: a map of name to CA certificate bundle (base64 PEM) and whether it is trusted.

A blank ``data`` is accepted: it is how a bundle is deleted.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Strict

from ..base import SettingsStruct
from ..modeled_types.shared import Identifier, PemCertificateString

__all__ = ["MODEL", "NAME", "RUST_TYPES", "PemCertificate", "PkiSettingsV1"]


class PemCertificate(SettingsStruct):
    """One bundle: ``data`` is base64 of PEM certificates; ``trusted`` adds them to the trust store."""

    data: PemCertificateString | None = None
    trusted: bool | None = None


PkiSettingsV1 = Annotated[dict[Identifier, PemCertificate], Strict()]

NAME = "pki"
MODEL: Any = PkiSettingsV1
RUST_TYPES: dict[str, Any] = {"PkiSettingsV1": PkiSettingsV1, "PemCertificate": PemCertificate}
