"""thar's own variants (data): ``thar-dev`` (the default, a sandbox on any Linux machine) and
``thar-k8s`` (a Kubernetes node). Each directory is in Bottlerocket's variant format plus a
``variant.toml``; ``models.variant.load_variant`` reads them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_VARIANT", "VARIANTS_DIR", "names", "path"]

VARIANTS_DIR = Path(__file__).resolve().parent
DEFAULT_VARIANT = "thar-dev"


def names() -> list[str]:
    """The variants shipped with thar."""
    return sorted(p.name for p in VARIANTS_DIR.iterdir() if (p / "defaults.d").is_dir())


def path(name: str = DEFAULT_VARIANT) -> Path:
    """The directory of a shipped variant; FileNotFoundError naming the known ones otherwise."""
    directory = VARIANTS_DIR / name
    if not (directory / "defaults.d").is_dir():
        raise FileNotFoundError(f"No variant '{name}' in {VARIANTS_DIR} (known: {', '.join(names())})")
    return directory
