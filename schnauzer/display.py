"""How a JSON scalar is displayed as text, exactly as Bottlerocket's renderer prints it.

Bottlerocket renders numbers with serde_json's ``Display``: integers exactly, floats as the
shortest text that reads back to the same float (the ryu algorithm), in ryu's layout. That layout
differs from Python's ``repr``: ``1e20`` (not ``1e+20``), ``1e-7`` (not ``1e-07``), ``0.00001``
(not ``1e-05``) and ``1e16`` (not ``1e+16``), while ``1e15`` prints as ``1000000000000000.0``.

Both the template engine (``{{x}}``) and the helpers (``join_map``, ``default`` …) use this, so a
number prints the same wherever it appears.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["display_float", "display_scalar"]


def _float_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of a positive finite float and the exponent of the last digit.

    ``value == int(digits) * 10 ** exponent``; ``digits`` has no leading or trailing zeros.
    """
    text = repr(value)
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    exponent -= len(frac)
    stripped = digits.lstrip("0")
    trailing = len(stripped) - len(stripped.rstrip("0"))
    if trailing:
        stripped = stripped[:-trailing]
        exponent += trailing
    return stripped, exponent


def display_float(value: float) -> str:
    """serde_json's Display of an f64 (ryu layout); non-finite values print as ``null``."""
    if not math.isfinite(value):
        # serde_json cannot hold NaN or infinity in a Value; serialising one gives null.
        return "null"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits, k = _float_digits(abs(value))
    length = len(digits)
    point = length + k  # position of the decimal point relative to the first digit
    if k >= 0 and point <= 16:
        body = digits + "0" * k + ".0"
    elif 0 < point <= 16:
        body = digits[:point] + "." + digits[point:]
    elif -5 < point <= 0:
        body = "0." + "0" * (-point) + digits
    elif length == 1:
        body = f"{digits}e{point - 1}"
    else:
        body = f"{digits[0]}.{digits[1:]}e{point - 1}"
    return sign + body


def display_scalar(value: Any) -> str:
    """Text of a JSON scalar as Bottlerocket prints it.

    ``True`` → ``true``, ``False`` → ``false``, integers exact, floats via :func:`display_float`,
    strings as they are, ``None`` → ``""`` (a present null renders as nothing).
    Arrays and objects are not scalars; they raise ``TypeError``.
    """
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return display_float(value)
    if value is None:
        return ""
    raise TypeError(f"display_scalar: {type(value).__name__} is not a JSON scalar")
