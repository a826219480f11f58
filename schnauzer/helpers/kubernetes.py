"""The ``kubernetes`` extension's helpers: node taints and kubelet reservations (spec §6.1).

``kube_reserve_cpu`` and ``kube_reserve_memory`` give the kubelet's ``kubeReserved`` values: a
configured value is written as it is; an unset one is computed (EKS's formulas) from the CPUs
available to the process (``HelperEnvironment.cpu_count``) or from the pod limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..display import display_scalar
from ..helper_api import Helper, HelperError, HelperKind, Param
from ._common import Signature, is_integer, is_number, json_type
from .environment import HelperEnvironment

__all__ = ["kube_cpu_reservation", "kubernetes_helpers"]

# --- join_node_taints ---------------------------------------------------------------------------

_TAINTS = Signature("join_node_taints", ("taints",))


def join_node_taints(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _TAINTS.check(params)
    taints = params[0].value
    if not isinstance(taints, dict):
        return ""
    pairs = []
    for key, values in taints.items():
        if not isinstance(values, list):
            raise _TAINTS.fail(params, 0, f"taints of {key!r} must be an array, got {json_type(values)}")
        for value in values:
            if not isinstance(value, str):
                raise _TAINTS.fail(params, 0, f"taint of {key!r} must be a string, got {json_type(value)}")
            pairs.append(f"{key}={value}")
    return ",".join(pairs)


# --- kube_reserve_cpu ---------------------------------------------------------------------------

_RESERVE_BY_CORES = (0.0, 60.0, 70.0, 75.0, 80.0)
_RESERVE_PER_EXTRA_CORE = 2.5
_U16_MAX = 65535


def kube_cpu_reservation(cores: int) -> str:
    """Millicores to reserve for ``cores`` CPUs: 60 for the first, 10 for the second, 5 each for
    the third and fourth, 2.5 for every further one, rounded down (``5`` -> ``82m``)."""
    if not 0 <= cores <= _U16_MAX:
        raise ValueError(f"CPU count {cores} is out of range (0 to {_U16_MAX})")
    if cores < len(_RESERVE_BY_CORES):
        millicores = _RESERVE_BY_CORES[cores]
    else:
        millicores = _RESERVE_BY_CORES[-1] + (cores - 4) * _RESERVE_PER_EXTRA_CORE
    return f"{math.floor(millicores)}m"


def _configured(signature: Signature, params: list[Param], index: int) -> str | None:
    """A configured reservation: a number (displayed) or a string (as is); None when unset."""
    value = params[index].value
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if is_number(value):
        return display_scalar(value)
    raise signature.fail(params, index, f"expected a scalar, got {json_type(value)}")


_CPU = Signature("kube_reserve_cpu", ("cpu",))


def make_kube_reserve_cpu(env: HelperEnvironment) -> Helper:
    def kube_reserve_cpu(params: list[Param], hash_: Mapping[str, Any]) -> str:
        _CPU.check(params)
        configured = _configured(_CPU, params, 0)
        if configured is not None:
            return configured
        try:
            return kube_cpu_reservation(env.cpu_count())
        except ValueError as exc:
            raise HelperError(f"kube_reserve_cpu: {exc}") from None

    return Helper("kube_reserve_cpu", HelperKind.STRING, kube_reserve_cpu)


# --- kube_reserve_memory ------------------------------------------------------------------------

_MEMORY = Signature("kube_reserve_memory", ("max_pods", "mem"))
_U64_MAX = 2**64 - 1


def kube_reserve_memory(params: list[Param], hash_: Mapping[str, Any]) -> str:
    _MEMORY.check(params)
    max_pods = params[0].value
    if not is_number(max_pods):
        raise _MEMORY.fail(params, 0, f"expected a number, got {json_type(max_pods)}")
    if not is_integer(max_pods) or not 0 <= max_pods <= _U64_MAX:
        raise _MEMORY.fail(params, 0, "the number of pods must be a non-negative integer")
    configured = _configured(_MEMORY, params, 1)
    if configured is not None:
        return configured
    return f"{max_pods * 11 + 255}Mi"


def kubernetes_helpers(env: HelperEnvironment) -> Sequence[Helper]:
    """Every helper of the ``kubernetes`` extension."""
    return [
        Helper("join_node_taints", HelperKind.STRING, join_node_taints),
        make_kube_reserve_cpu(env),
        Helper("kube_reserve_memory", HelperKind.STRING, kube_reserve_memory),
    ]
