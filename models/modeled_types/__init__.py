"""Bottlerocket's modeled types (bottlerocket-modeled-types v0.6.0), named as in Rust.

Each type is an ``Annotated`` alias usable as a pydantic field annotation or with
``TypeAdapter``. Rules and normalisations: ``../shared/spec/settings-model.md`` §2.

The types live in their modules — ``shared``, ``kubernetes``, ``ecs``, ``oci`` — and are imported
from there: this package imports none of them, so that a process needing one (a template helper
needs the OCI names) loads only that module.
"""
