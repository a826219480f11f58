"""The `--requires` argument of ``schnauzer-v2 render`` (spec/schnauzer.md §1).

``NAME@VERSION``, optionally followed by ``( )`` or ``(helpers=[h1, h2])``, with whitespace
allowed around every token::

    std@v1(helpers=[base64_decode, join_array])
    aws@v1
    kubernetes@v1( helpers = [ kube_reserve_cpu ] )

NAME and helper names are ``[A-Za-z0-9_-]+`` (no dots), VERSION is ``[A-Za-z0-9_.-]+``; empty
helper entries (``helpers=[a,]``) are dropped. The argument list takes only ``helpers=``.
"""

from __future__ import annotations

import re

from thar.schnauzer.errors import RequirementsParse
from thar.schnauzer.template import Requirement

__all__ = ["parse_requirement"]

_NAME = r"[A-Za-z0-9_-]+"
_SEP = r"\s*,\s*"
_REQUIREMENT = re.compile(
    rf"""
    \s*
    (?P<name>{_NAME})
    @
    (?P<version>[A-Za-z0-9_.-]+)
    \s*
    (?:\(\s*                                     # optional argument list
        (?:helpers\s*=\s*\[\s*
            (?P<helpers>(?:{_NAME}(?:{_SEP}{_NAME})*(?:{_SEP})?)?)
        \s*\]\s*)?
    \s*\))?
    \s*
    """,
    re.VERBOSE,
)
_SPLIT = re.compile(_SEP)


def parse_requirement(text: str) -> Requirement:
    """The requirement written as ``text``; raises `RequirementsParse` when it is malformed."""
    match = _REQUIREMENT.fullmatch(text)
    if match is None:
        if "@" not in text:
            reason = "it has no '@VERSION'"
        else:
            reason = "it does not match the requirement syntax (names and helpers are [A-Za-z0-9_-], no dots)"
        raise RequirementsParse(text, reason)
    helpers_text = match.group("helpers")
    helpers = tuple(h for h in _SPLIT.split(helpers_text) if h) if helpers_text else ()
    return Requirement(match.group("name"), match.group("version"), helpers)
