"""The command line of a migration executable (Bottlerocket's migration-helpers contract)::

    migrate_v1.2.3_name --source-datastore PATH --target-datastore PATH (--forward | --backward)

The arguments may come in any order. An unknown or missing argument, or the same path for
source and target, prints the usage and exits 2.
"""

from __future__ import annotations

import argparse
import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Args", "Direction", "parse_args"]


class Direction(enum.Enum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(frozen=True)
class Args:
    source_datastore: Path
    target_datastore: Path
    direction: Direction


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Migrate a datastore: read every committed state of the source datastore, transform it, "
        "and write it to the (new, empty) target datastore.",
        allow_abbrev=False,
    )
    parser.add_argument("--source-datastore", required=True, type=Path, metavar="PATH")
    parser.add_argument("--target-datastore", required=True, type=Path, metavar="PATH")
    direction = parser.add_mutually_exclusive_group(required=True)
    direction.add_argument("--forward", dest="direction", action="store_const", const=Direction.FORWARD)
    direction.add_argument("--backward", dest="direction", action="store_const", const=Direction.BACKWARD)
    return parser


def parse_args(argv: Sequence[str], prog: str | None = None) -> Args:
    """Parse a migration's arguments; exits 2 with the usage on any problem."""
    parser = _parser(prog)
    ns = parser.parse_args(list(argv))
    source, target = ns.source_datastore, ns.target_datastore
    if os.path.abspath(source) == os.path.abspath(target):
        parser.error("--source-datastore and --target-datastore must be different paths")
    return Args(source, target, ns.direction)
