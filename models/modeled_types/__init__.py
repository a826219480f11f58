"""Bottlerocket's modeled types (bottlerocket-modeled-types v0.6.0), named as in Rust.

Each type is an ``Annotated`` alias usable as a pydantic field annotation or with
``TypeAdapter``. Rules and normalisations: ``../shared/spec/settings-model.md`` §2.
"""

from __future__ import annotations

from .ecs import *  # noqa: F403
from .kubernetes import *  # noqa: F403
from .oci import *  # noqa: F403
from .shared import *  # noqa: F403
