"""The v2 template file format: TOML frontmatter, a `+++` delimiter line, a Handlebars body.

Parsing has two stages (spec/schnauzer.md §2.1):

1. **Grammar.** A small PEG parser finds where the frontmatter ends. The frontmatter must match a
   subset of TOML (tables, array tables, ``key = value`` pairs; no dotted keys in pairs; a
   ``\"\"\"`` string cannot contain ``"``), and whitespace, newlines and ``#`` comments may appear
   between any two tokens. The delimiter is the first ``+++`` (three or more ``+``) that follows
   a complete frontmatter document, directly followed by a newline. Everything after that
   newline is the body, verbatim. A mismatch raises `GrammarParse`.
2. **TOML.** The frontmatter text is parsed with :mod:`tomllib` and checked against the schema
   of §2.2 (only ``required-extensions``; each entry a version string or a table of
   ``version``/``helpers``/``optional``). Any failure raises `FrontmatterParse`.

Then a helper listed more than once across all the requirements raises `HelperNameCollision`
(helpers share one namespace in the template).

Like any PEG, the grammar stage never backtracks into a repetition that has matched: ``a = 01``
fails (``0`` is a whole integer, then ``1`` is not a key/value pair), and so does a TOML
date-time with a space instead of ``T``. These are Bottlerocket's rules, kept on purpose.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from thar.schnauzer.errors import FrontmatterParse, GrammarParse, HelperNameCollision

__all__ = [
    "Requirement",
    "TemplateFile",
    "check_helper_collisions",
    "parse_frontmatter",
    "parse_template",
    "split_template",
    "template_from_requirements",
]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One entry of ``required-extensions``: the settings extension ``name`` (its settings become
    visible as ``settings.<name>``), a ``version`` (never interpreted), the helpers it provides to
    this template, and ``optional`` (parsed, not used when rendering)."""

    name: str
    version: str
    helpers: tuple[str, ...] = ()
    optional: bool = False


@dataclass(frozen=True, slots=True)
class TemplateFile:
    """A parsed v2 template: its requirements (in frontmatter order) and its Handlebars body."""

    requirements: tuple[Requirement, ...]
    body: str
    frontmatter: str = field(default="", compare=False)

    @property
    def extension_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.requirements)


# -- stage 1: the grammar ------------------------------------------------------------------------
_FAIL = -1
_SKIP = re.compile(r"(?:[ \t\r\n]+|#[^\r\n]*)*")  # implicit whitespace: blanks, newlines, # comments
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]+")
_INNER_RUN = re.compile(r'[^"\\\x00\x1f]*')  # string characters up to a quote, backslash, NUL or US
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = frozenset('btnfr"\\')


class _Grammar:
    """A recursive-descent PEG matcher. Every rule takes a start index and returns the index
    after its match, or ``_FAIL``. The farthest failure is remembered for the error message."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.far = 0
        self.expected: list[str] = []

    # -- bookkeeping -------------------------------------------------------------------------
    def _miss(self, p: int, what: str) -> int:
        if p > self.far:
            self.far, self.expected = p, [what]
        elif p == self.far and what not in self.expected:
            self.expected.append(what)
        return _FAIL

    def _lit(self, p: int, lit: str) -> int:
        if self.s.startswith(lit, p):
            return p + len(lit)
        return self._miss(p, repr(lit))

    def error(self) -> GrammarParse:
        line = self.s.count("\n", 0, self.far) + 1
        column = self.far - (self.s.rfind("\n", 0, self.far) + 1) + 1
        found = repr(self.s[self.far]) if self.far < self.n else "end of input"
        expected = ", ".join(self.expected) or "a frontmatter document"
        return GrammarParse(line, column, f"expected {expected}, found {found}")

    # -- implicit whitespace: (space | tab | newline | # comment)* ---------------------------
    def skip(self, p: int) -> int:
        return _SKIP.match(self.s, p).end()  # type: ignore[union-attr]  # matches the empty string

    def newline(self, p: int) -> int:
        if self.s.startswith("\r\n", p):
            return p + 2
        if p < self.n and self.s[p] in "\n\r":
            return p + 1
        return self._miss(p, "a newline")

    # -- file := ws* toml_document ws* delimiter body ------------------------------------------
    def template(self) -> tuple[str, str]:
        start = self.skip(0)
        end = self.toml_document(start)
        p = self.delimiter(self.skip(end))
        if p == _FAIL:
            raise self.error()
        return self.s[start:end], self.s[p:]

    def delimiter(self, p: int) -> int:
        q = self._lit(p, "+++")
        if q == _FAIL:
            return _FAIL
        while q < self.n and self.s[q] == "+":
            q += 1
        return self.newline(q)

    # -- TOML subset ----------------------------------------------------------------------------
    def toml_document(self, p: int) -> int:
        return self._repeat(p, self.element)

    def _repeat(self, p: int, rule: Any) -> int:
        """``rule*`` with implicit whitespace between repetitions (not before the first)."""
        q: int = rule(p)
        if q == _FAIL:
            return p
        while True:
            r: int = rule(self.skip(q))
            if r == _FAIL:
                return q
            q = r

    def element(self, p: int) -> int:
        for rule in (self.table, self.array_table, self.pair):
            q: int = rule(p)
            if q != _FAIL:
                return q
        return _FAIL

    def _dotted_key(self, p: int) -> int:
        p = self.key(p)
        if p == _FAIL:
            return _FAIL
        while True:
            q = self._lit(self.skip(p), ".")
            if q == _FAIL:
                return p
            q = self.key(self.skip(q))
            if q == _FAIL:
                return p
            p = q

    def _header(self, p: int, open_: str, close: str) -> int:
        p = self._lit(p, open_)
        if p == _FAIL:
            return _FAIL
        p = self._dotted_key(self.skip(p))
        if p == _FAIL:
            return _FAIL
        p = self._lit(self.skip(p), close)
        if p == _FAIL:
            return _FAIL
        return self._repeat(self.skip(p), self.pair)

    def table(self, p: int) -> int:
        return self._header(p, "[", "]")

    def array_table(self, p: int) -> int:
        return self._header(p, "[[", "]]")

    def pair(self, p: int) -> int:
        p = self.key(p)
        if p == _FAIL:
            return _FAIL
        p = self._lit(self.skip(p), "=")
        if p == _FAIL:
            return _FAIL
        return self.value(self.skip(p))

    def key(self, p: int) -> int:
        match = _IDENTIFIER.match(self.s, p)
        if match:
            return match.end()
        self._miss(p, "a key")
        q = self.string(p)
        if q != _FAIL:
            return q
        return self.literal(p)

    def value(self, p: int) -> int:
        for rule in (
            self.inline_table,
            self.array,
            self.multi_line_string,
            self.string,
            self.multi_line_literal,
            self.literal,
            self.date_time,
            self.local_date_time,
            self.full_date,
            self.partial_time,
            self.float,
            self.boolean,
        ):
            q: int = rule(p)
            if q != _FAIL:
                return q
        return self._miss(p, "a value")

    def _bracketed(self, p: int, open_: str, close: str, item: Any) -> int:
        """``open item ("," item)* ","? close | open close`` with implicit whitespace."""
        start = self._lit(p, open_)
        if start == _FAIL:
            return _FAIL
        q: int = item(self.skip(start))
        if q != _FAIL:
            while True:
                r = self._lit(self.skip(q), ",")
                if r == _FAIL:
                    break
                r = item(self.skip(r))
                if r == _FAIL:
                    break
                q = r
            r = self._lit(self.skip(q), ",")
            if r != _FAIL:
                q = r
            r = self._lit(self.skip(q), close)
            if r != _FAIL:
                return r
        return self._lit(self.skip(start), close)

    def inline_table(self, p: int) -> int:
        return self._bracketed(p, "{", "}", self.pair)

    def array(self, p: int) -> int:
        return self._bracketed(p, "[", "]", self.value)

    # strings
    def _inner(self, p: int) -> int:
        while True:
            p = _INNER_RUN.match(self.s, p).end()  # type: ignore[union-attr]  # matches the empty string
            if p < self.n and self.s[p] == "\\":
                p = self._escape(p + 1)
                continue
            return p

    def _escape(self, p: int) -> int:
        """After a backslash: an optional escape code (a lone backslash also matches)."""
        s, n = self.s, self.n
        if p >= n:
            return p
        c = s[p]
        if c in _SIMPLE_ESCAPES:
            return p + 1
        if c == "u" and self._hex(p + 1, 4):
            return p + 5
        if c == "U" and self._hex(p + 1, 8):
            return p + 9
        if s.startswith("\r\n", p):
            return p + 2
        if c in "\r\n":
            return p + 1
        return p

    def _hex(self, p: int, count: int) -> bool:
        return p + count <= self.n and all(c in _HEX for c in self.s[p : p + count])

    def multi_line_string(self, p: int) -> int:
        p = self._lit(p, '"""')
        if p == _FAIL:
            return _FAIL
        return self._lit(self._inner(p), '"""')

    def string(self, p: int) -> int:
        p = self._lit(p, '"')
        if p == _FAIL:
            return _FAIL
        return self._lit(self._inner(p), '"')

    def multi_line_literal(self, p: int) -> int:
        p = self._lit(p, "'''")
        if p == _FAIL:
            return _FAIL
        end = self.s.find("'''", p)
        return self._miss(self.n, "'''") if end < 0 else end + 3

    def literal(self, p: int) -> int:
        p = self._lit(p, "'")
        if p == _FAIL:
            return _FAIL
        end = self.s.find("'", p)
        return self._miss(self.n, "'") if end < 0 else end + 1

    # dates and times
    def _digits(self, p: int, count: int) -> int:
        if p + count <= self.n and all(c in _DIGITS for c in self.s[p : p + count]):
            return p + count
        return self._miss(p, f"{count} digits")

    def _seq(self, p: int, *parts: Any) -> int:
        for part in parts:
            if p == _FAIL:
                return _FAIL
            p = self._lit(p, part) if isinstance(part, str) else self._digits(p, part)
        return p

    def full_date(self, p: int) -> int:
        return self._seq(p, 4, "-", 2, "-", 2)

    def partial_time(self, p: int) -> int:
        p = self._seq(p, 2, ":", 2, ":", 2)
        if p != _FAIL and p + 1 < self.n and self.s[p] == "." and self.s[p + 1] in _DIGITS:
            p += 2
            while p < self.n and self.s[p] in _DIGITS:
                p += 1
        return p

    def _time_offset(self, p: int) -> int:
        if p < self.n and self.s[p] == "Z":
            return p + 1
        if p < self.n and self.s[p] in "+-":
            return self._seq(p + 1, 2, ":", 2)
        return self._miss(p, "a time offset")

    def local_date_time(self, p: int) -> int:
        p = self._seq(self.full_date(p), "T")
        return _FAIL if p == _FAIL else self.partial_time(p)

    def date_time(self, p: int) -> int:
        p = self.local_date_time(p)
        return _FAIL if p == _FAIL else self._time_offset(p)

    # numbers (the grammar's `float` also matches every integer, so `integer` is never reached)
    def _int(self, p: int) -> int:
        if p < self.n and self.s[p] == "0":
            return p + 1
        if p < self.n and self.s[p] in "123456789":
            q = self._digit_run(p + 1)
            return p + 1 if q == _FAIL else q
        return self._miss(p, "a number")

    def _digit_run(self, p: int) -> int:
        """``(DIGIT | "_" DIGIT)+``"""
        s, n, start = self.s, self.n, p
        while p < n:
            if s[p] in _DIGITS:
                p += 1
            elif s[p] == "_" and p + 1 < n and s[p + 1] in _DIGITS:
                p += 2
            else:
                break
        return _FAIL if p == start else p

    def _exp(self, p: int) -> int:
        if p < self.n and self.s[p] in "Ee":
            q = p + 1
            if q < self.n and self.s[q] in "+-":
                q += 1
            return self._int(q)
        return _FAIL

    def float(self, p: int) -> int:
        if p < self.n and self.s[p] in "+-":
            p += 1
        p = self._int(p)
        if p == _FAIL:
            return _FAIL
        if p < self.n and self.s[p] == ".":
            q = self._digit_run(p + 1)
            if q != _FAIL:
                e = self._exp(q)
                return q if e == _FAIL else e
        e = self._exp(p)
        return p if e == _FAIL else e

    def boolean(self, p: int) -> int:
        for word in ("true", "false"):
            if self.s.startswith(word, p):
                return p + len(word)
        return _FAIL


def split_template(text: str) -> tuple[str, str]:
    """Stage 1: ``(frontmatter, body)`` of a v2 template; raises `GrammarParse`."""
    return _Grammar(text).template()


# -- stage 2: TOML and the schema -----------------------------------------------------------------
_ENTRY_KEYS = ("version", "helpers", "optional")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _requirement(name: str, entry: Any) -> Requirement:
    where = f"required-extensions.{name}"
    if isinstance(entry, str):
        return Requirement(name, entry)
    if not isinstance(entry, dict):
        raise FrontmatterParse(f"{where} must be a version string or a table with a 'version', not {_type_name(entry)}")
    unknown = [k for k in entry if k not in _ENTRY_KEYS]
    if unknown:
        raise FrontmatterParse(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_ENTRY_KEYS)}")
    if "version" not in entry:
        raise FrontmatterParse(f"{where} is missing 'version'")
    version = entry["version"]
    if not isinstance(version, str):
        raise FrontmatterParse(f"{where}.version must be a string, not {_type_name(version)}")
    helpers = entry.get("helpers", [])
    if not isinstance(helpers, list) or not all(isinstance(h, str) for h in helpers):
        raise FrontmatterParse(f"{where}.helpers must be an array of helper name strings")
    optional = entry.get("optional", False)
    if not isinstance(optional, bool):
        raise FrontmatterParse(f"{where}.optional must be true or false, not {_type_name(optional)}")
    return Requirement(name, version, tuple(helpers), optional)


def parse_frontmatter(frontmatter: str) -> tuple[Requirement, ...]:
    """Stage 2: the requirements of a frontmatter text; raises `FrontmatterParse`."""
    try:
        document = tomllib.loads(frontmatter)
    except tomllib.TOMLDecodeError as exc:
        raise FrontmatterParse(f"invalid TOML: {exc}") from exc
    unknown = [k for k in document if k != "required-extensions"]
    if unknown:
        raise FrontmatterParse(
            f"unknown top-level key(s) {', '.join(repr(k) for k in unknown)}; "
            "the frontmatter may only contain the table 'required-extensions'"
        )
    extensions = document.get("required-extensions", {})
    if not isinstance(extensions, dict):
        raise FrontmatterParse(f"'required-extensions' must be a table, not {_type_name(extensions)}")
    return tuple(_requirement(name, entry) for name, entry in extensions.items())


def check_helper_collisions(requirements: Iterable[Requirement]) -> None:
    """Raise `HelperNameCollision` when a helper name is listed more than once in total."""
    seen: set[str] = set()
    collisions: list[str] = []
    for requirement in requirements:
        for helper in requirement.helpers:
            if helper in seen and helper not in collisions:
                collisions.append(helper)
            seen.add(helper)
    if collisions:
        raise HelperNameCollision(collisions)


@functools.lru_cache(maxsize=512)
def parse_template(text: str) -> TemplateFile:
    """Parse a v2 template file's text. Raises `GrammarParse`, `FrontmatterParse` or
    `HelperNameCollision` (all `TemplateParse`).

    Results are cached by text (a `TemplateFile` is immutable): a process that renders the same
    template again, as thar-be-settings does, parses it once."""
    frontmatter, body = split_template(text)
    requirements = parse_frontmatter(frontmatter)
    check_helper_collisions(requirements)
    return TemplateFile(requirements, body, frontmatter)


def template_from_requirements(requirements: Iterable[Requirement], body: str) -> TemplateFile:
    """A template from requirements given another way (``schnauzer-v2 render --requires``).

    A name given twice keeps its last requirement, as a frontmatter table would if TOML
    allowed it; the helper-collision check then applies as for a file."""
    by_name: dict[str, Requirement] = {}
    for requirement in requirements:
        by_name[requirement.name] = requirement
    result = tuple(by_name.values())
    check_helper_collisions(result)
    return TemplateFile(result, body)
