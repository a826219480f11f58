"""The ``oci-defaults`` extension's helper ``oci_defaults`` (spec §6.6).

``{{oci_defaults "containerd" settings.oci-defaults.capabilities}}`` writes one section of the
container runtime's default OCI spec. The section is the last ``.`` segment of the second
parameter's path *as written* in the template (``capabilities`` or ``resource-limits``); the
value is validated as the settings model's ``OciDefaultsV1`` does (the model itself is loaded
only for a value not in its stored form).

* capabilities: the enabled ones as ``"CAP_…"``, sorted, joined by ``,\\n`` (J); docker gets
  ``[J]``, containerd gets its bounding/effective/permitted lists.
* resource-limits: one entry per limit in the value's order, joined by ``,\\n``; containerd
  writes ``{ "type": "RLIMIT_X", "hard": H, "soft": S }`` (unlimited = 2^64-1), docker
  `` "x":{ "Name": "x", "Hard": H, "Soft": S }`` (unlimited = -1). When an EFA device is
  attached (``HelperEnvironment.efa_attached``) and no locked-memory limit is configured, an
  unlimited ``max-locked-memory`` entry is added last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..helper_api import Helper, HelperError, HelperKind, Param
from ._common import Signature
from ._models import linux_capabilities, linux_resource_limits, parse_oci_capabilities, parse_oci_resource_limits
from .environment import HelperEnvironment, HostFactError

__all__ = ["RUNTIMES", "SECTIONS", "format_capabilities", "format_resource_limits", "oci_defaults_helpers"]

RUNTIMES = ("docker", "containerd")
SECTIONS = ("capabilities", "resource-limits")
_U64_MAX = 2**64 - 1
_LOCKED_MEMORY = "max-locked-memory"


def format_capabilities(runtime: str, capabilities: Mapping[str, bool]) -> str:
    """The capabilities section for ``runtime`` from a validated name -> enabled map."""
    names = linux_capabilities()
    joined = ",\n".join(sorted(f'"{names[name]}"' for name, enabled in capabilities.items() if enabled))
    if runtime == "docker":
        return f"[{joined}]"
    return f'"bounding": [{joined}],\n"effective": [{joined}],\n"permitted": [{joined}]\n'


def _limit_entry(runtime: str, name: str, hard: int, soft: int) -> str:
    linux = linux_resource_limits()[name]
    if runtime == "docker":
        short = linux.removeprefix("RLIMIT_").lower()
        return f' "{short}":{{ "Name": "{short}", "Hard": {hard}, "Soft": {soft} }}'
    hard_text = _U64_MAX if hard == -1 else hard
    soft_text = _U64_MAX if soft == -1 else soft
    return f'{{ "type": "{linux}", "hard": {hard_text}, "soft": {soft_text} }}'


def format_resource_limits(runtime: str, limits: Mapping[str, tuple[int, int]], efa_attached: bool) -> str:
    """The resource-limits section for ``runtime`` from validated name -> (hard, soft) limits."""
    entries = dict(limits)
    if efa_attached and _LOCKED_MEMORY not in entries:
        # EFA needs unlimited locked memory for its hugepage allocations.
        entries[_LOCKED_MEMORY] = (-1, -1)
    return ",\n".join(_limit_entry(runtime, name, hard, soft) for name, (hard, soft) in entries.items())


_OCI = Signature("oci_defaults", ("runtime", "value"))
T = TypeVar("T")


def _validate(params: list[Param], section: str, parse: Callable[[Any, str], T]) -> T:
    param = params[1]
    if param.value is None:
        raise _OCI.fail(params, 1, f"expected the {section} object, got null")
    try:
        return parse(param.value, (param.path or "").rpartition(".")[0] or "value")
    except ValueError as exc:
        raise _OCI.fail(params, 1, str(exc)) from None


def make_oci_defaults(env: HelperEnvironment) -> Helper:
    def oci_defaults(params: list[Param], hash_: Mapping[str, Any]) -> str:
        _OCI.check(params)
        runtime = _OCI.string(params, 0)
        if runtime not in RUNTIMES:
            raise _OCI.fail(params, 0, "invalid output type, expected 'docker' or 'containerd'")
        path = params[1].path
        if path is None:
            raise _OCI.fail(params, 1, "must be a settings path such as settings.oci-defaults.capabilities")
        section = path.rpartition(".")[2]
        if section not in SECTIONS:
            raise _OCI.fail(params, 1, f"invalid OCI spec section {section!r}, expected one of {', '.join(SECTIONS)}")
        if section == "capabilities":
            return format_capabilities(runtime, _validate(params, section, parse_oci_capabilities))
        limits = _validate(params, section, parse_oci_resource_limits)
        try:
            efa = env.efa_attached()
        except HostFactError as exc:
            raise HelperError(f"oci_defaults: cannot tell whether an EFA device is attached: {exc}") from None
        return format_resource_limits(runtime, limits, efa)

    return Helper("oci_defaults", HelperKind.STRING, oci_defaults)


def oci_defaults_helpers(env: HelperEnvironment) -> Sequence[Helper]:
    """Every helper of the ``oci-defaults`` extension."""
    return [make_oci_defaults(env)]
