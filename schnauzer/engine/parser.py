"""Tokenizer and parser: Handlebars source text → a tree of render nodes.

The dialect is handlebars-rust 4.5's (spec/schnauzer.md §4): ``{{expr}}``, ``{{{raw}}}``,
``{{&raw}}``, blocks with ``{{else}}``/``{{^}}``, comments, ``{{{{raw}}}}`` blocks,
subexpressions, hash arguments, literals, block parameters, ``~`` whitespace control and
standalone lines (a block/else/comment tag alone on its line takes its line with it — except
when the tag is followed by the end of the template instead of a newline, a 4.x quirk).
Partials and decorators are not part of the dialect Bottlerocket templates use and are rejected.

Whitespace handling, literal syntax and the grammar's limits (helper names are plain
identifiers, comments take no ``~``) follow the 4.5.0 template compiler case by case; the
tests in tests/schnauzer/test_engine.py pin each of these behaviours.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any, Final, cast

from thar.schnauzer.engine.errors import TemplateSyntaxError, position_of
from thar.schnauzer.engine.render import (
    LOCAL,
    RELATIVE,
    ROOT,
    Block,
    Call,
    Expr,
    Literal,
    Node,
    Operand,
    PathExpr,
    SubExpr,
    Text,
    ValueExpr,
)

__all__ = ["parse"]

_ID_ASCII: Final = frozenset(string.ascii_letters + string.digits + "_$-")
_TAG_SPACE: Final = " \t\r\n"
# Rust's char::is_whitespace set (Python's str.isspace() also includes \x1c-\x1f).
_RUST_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_GRAMMAR_WHITESPACE: Final = " \t\r\n"
_AFTER_LITERAL: Final = frozenset(" \t\r\n)}~|")
_STANDALONE_KINDS: Final = frozenset({"open", "close", "else", "comment", "raw_open", "raw_close"})


def _is_id_char(ch: str) -> bool:
    return ch in _ID_ASCII or ch >= "\x80"


_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9_$\-\x80-\U0010ffff]+")
# a path: identifier characters, separators, '@' and [bracketed] segments
_PATH_TEXT: Final = re.compile(r"(?:\[[^\]]*\]|[./@A-Za-z0-9_$\-\x80-\U0010ffff])+")


_SIMPLE_PATH: Final = re.compile(r"[A-Za-z0-9_$\-\x80-\U0010ffff]+(?:[./][A-Za-z0-9_$\-\x80-\U0010ffff]+)*")
_PATH_SEPARATOR: Final = re.compile(r"[./]")


def _is_identifier(text: str) -> bool:
    return _IDENTIFIER.fullmatch(text) is not None


_ESCAPED_BRACES: Final = re.compile(r"\\(\\*)(?=\{\{)")


def _json_int(text: str) -> int | float:
    """serde_json reads ``-0`` as the float -0.0; every other integer stays an integer."""
    return -0.0 if text == "-0" else int(text)


def _unescape_braces(text: str) -> str:
    """Drop one backslash from every run of backslashes that precedes ``{{``."""
    return _ESCAPED_BRACES.sub(r"\1", text)


@dataclass(slots=True)
class _Tag:
    kind: str  # expr | open | close | else | comment | raw_open | raw_close
    start: int
    end: int
    ltrim: bool
    rtrim: bool
    call: Call | None = None
    escape: bool = True
    block_params: tuple[str, ...] = ()
    close_name: str = ""


@dataclass(slots=True)
class _OpenBlock:
    tag: _Tag
    body: list[Node] = field(default_factory=list)
    inverse: list[Node] | None = None


class _Parser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.n = len(source)

    # ---------------------------------------------------------------------------- helpers

    def error(self, message: str, pos: int) -> TemplateSyntaxError:
        line, column = position_of(self.src, min(pos, self.n))
        return TemplateSyntaxError(message, line, column)

    def skip_space(self, k: int) -> int:
        src, n = self.src, self.n
        while k < n and src[k] in _TAG_SPACE:
            k += 1
        return k

    def at_close(self, k: int, closer: str) -> bool:
        src = self.src
        return src.startswith(closer, k) or (closer != ")" and src.startswith("~" + closer, k))

    def expect_close(self, k: int, closer: str, opened_at: int) -> tuple[int, bool]:
        k = self.skip_space(k)
        rtrim = self.src.startswith("~", k)
        if rtrim:
            k += 1
        if not self.src.startswith(closer, k):
            if k >= self.n:
                raise self.error(f"Unclosed tag: expected {closer!r}", opened_at)
            raise self.error(f"Unexpected {self.src[k]!r} in tag, expected {closer!r}", k)
        return k + len(closer), rtrim

    # ---------------------------------------------------------------------------- tokens

    def tokenize(self) -> list[str | _Tag]:
        r"""Text and tags, alternating: even indexes are (possibly empty) text.

        ``\{{`` is a literal ``{{`` (``\{{{{`` a literal ``{{{{``); a run of two or more
        backslashes before ``{{`` loses one backslash and the tag is real.
        """
        src = self.src
        tokens: list[str | _Tag] = []
        parts: list[str] = []
        text_start = 0
        search = 0
        while True:
            j = src.find("{{", search)
            if j < 0:
                break
            backslashes = self.backslashes_before(j, text_start)
            if backslashes == 1:
                parts.append(src[text_start : j - 1])
                end = j + 4 if src.startswith("{{{{", j) else j + 2
                parts.append(src[j:end])
                text_start = search = end
                continue
            parts.append(src[text_start : j - 1] if backslashes else src[text_start:j])
            tag = self.parse_tag(j)
            tokens.append("".join(parts))
            tokens.append(tag)
            parts = []
            text_start = search = tag.end
            if tag.kind == "raw_open":
                body, close = self.parse_raw_body(tag)
                tokens.append(body)
                tokens.append(close)
                text_start = search = close.end
        parts.append(src[text_start:])
        tokens.append("".join(parts))
        return tokens

    def backslashes_before(self, j: int, limit: int) -> int:
        k = j
        while k > limit and self.src[k - 1] == "\\":
            k -= 1
        return j - k

    def parse_tag(self, j: int) -> _Tag:
        src = self.src
        if src.startswith("{{{{", j):
            k = j + 4
            ltrim = src.startswith("~", k)
            call, k, _ = self.parse_call(k + ltrim, "}}}}", j, identifier_only=True)
            end, rtrim = self.expect_close(k, "}}}}", j)
            return _Tag("raw_open", j, end, ltrim, rtrim, call=call)
        if src.startswith("{{{", j):
            k = j + 3
            ltrim = src.startswith("~", k)
            call, k, _ = self.parse_call(k + ltrim, "}}}", j)
            end, rtrim = self.expect_close(k, "}}}", j)
            return _Tag("expr", j, end, ltrim, rtrim, call=call, escape=False)
        if src.startswith("{{!", j):
            return self.parse_comment(j)
        k = j + 2
        ltrim = src.startswith("~", self.skip_space(k))
        if ltrim:
            k = self.skip_space(k) + 1
        k = self.skip_space(k)
        ch = src[k] if k < self.n else ""
        if ch == "{":
            # {{~{expr}~}}: the unescaped form that allows whitespace control
            call, k, _ = self.parse_call(k + 1, "}", j)
            end, rtrim = self.expect_close(k + 1, "}}", j)
            return _Tag("expr", j, end, ltrim, rtrim, call=call, escape=False)
        if ch == "#":
            if src.startswith((">", "*"), self.skip_space(k + 1)):
                raise self.error("Partial blocks and decorator blocks are not supported", j)
            call, k, block_params = self.parse_call(k + 1, "}}", j, allow_block_params=True, identifier_only=True)
            end, rtrim = self.expect_close(k, "}}", j)
            return _Tag("open", j, end, ltrim, rtrim, call=call, block_params=block_params)
        if ch == "/":
            k = self.skip_space(k + 1)
            name_end = self.scan_identifier(k)
            if name_end == k:
                raise self.error("A closing tag needs the block's helper name, e.g. {{/if}}", j)
            end, rtrim = self.expect_close(name_end, "}}", j)
            return _Tag("close", j, end, ltrim, rtrim, close_name=src[k:name_end])
        if ch == "^":
            m = self.skip_space(k + 1)
            if self.at_close(m, "}}"):
                end, rtrim = self.expect_close(m, "}}", j)
                return _Tag("else", j, end, ltrim, rtrim)
            raise self.error("Inverse sections ({{^name}}) are not supported; use #unless", j)
        if ch == "&":
            call, k, _ = self.parse_call(k + 1, "}}", j)
            if call.params or call.hash:
                raise self.error("{{&…}} takes a name or path only, without arguments", j)
            end, rtrim = self.expect_close(k, "}}", j)
            return _Tag("expr", j, end, ltrim, rtrim, call=call, escape=False)
        if ch == ">":
            raise self.error("Partials ({{> name}}) are not supported", j)
        if ch == "*":
            raise self.error("Decorators ({{* name}}) are not supported", j)
        if src.startswith("else", k):
            m = self.skip_space(k + 4)
            if self.at_close(m, "}}"):
                end, rtrim = self.expect_close(m, "}}", j)
                return _Tag("else", j, end, ltrim, rtrim)
        call, k, _ = self.parse_call(k, "}}", j)
        end, rtrim = self.expect_close(k, "}}", j)
        return _Tag("expr", j, end, ltrim, rtrim, call=call)

    def parse_comment(self, j: int) -> _Tag:
        """``{{!-- … --}}`` or ``{{! … }}``; comments take no ``~`` (a 4.x grammar rule)."""
        src = self.src
        if src.startswith("{{!--", j):
            m = src.find("--}}", j + 5)
            if m < 0:
                raise self.error("Unclosed comment: expected '--}}'", j)
            return _Tag("comment", j, m + 4, False, False)
        m = src.find("}}", j + 3)
        if m < 0:
            raise self.error("Unclosed comment: expected '}}'", j)
        return _Tag("comment", j, m + 2, False, False)

    def parse_raw_body(self, tag: _Tag) -> tuple[str, _Tag]:
        """The literal text of a ``{{{{name}}}}`` block and its ``{{{{/name}}}}`` tag."""
        src = self.src
        assert tag.call is not None
        name = tag.call.label
        search = tag.end
        while True:
            j = src.find("{{{{", search)
            if j < 0:
                raise self.error(
                    f"Raw block {{{{{{{{{name}}}}}}}}} is never closed (expected {{{{{{{{/{name}}}}}}}}})",
                    tag.start,
                )
            if self.backslashes_before(j, tag.end) == 1:
                search = j + 4  # \{{{{ is literal text
                continue
            break
        # 4.x skips whitespace between the opening tag and the body (its grammar's implicit
        # whitespace), so a raw body never starts with a space, tab or line break.
        body = _unescape_braces(src[tag.end : j + 2])[:-2].lstrip(" \t\r\n")
        k = j + 4
        ltrim = src.startswith("~", self.skip_space(k))
        if ltrim:
            k = self.skip_space(k) + 1
        k = self.skip_space(k)
        if not src.startswith("/", k):
            raise self.error(
                f"Raw block {{{{{{{{{name}}}}}}}}} must be closed by {{{{{{{{/{name}}}}}}}}} "
                "before any other {{{{ tag",
                j,
            )
        k = self.skip_space(k + 1)
        name_end = self.scan_identifier(k)
        end, rtrim = self.expect_close(name_end, "}}}}", j)
        close_name = src[k:name_end]
        if close_name != name:
            raise self.error(
                f"Closing tag {{{{{{{{/{close_name}}}}}}}}} does not match {{{{{{{{{name}}}}}}}}}",
                j,
            )
        return body, _Tag("raw_close", j, end, ltrim, rtrim, close_name=close_name)

    # ---------------------------------------------------------------------------- calls

    def scan_identifier(self, k: int) -> int:
        match = _IDENTIFIER.match(self.src, k)
        return match.end() if match else k

    def parse_call(
        self,
        k: int,
        closer: str,
        opened_at: int,
        allow_block_params: bool = False,
        identifier_only: bool = False,
    ) -> tuple[Call, int, tuple[str, ...]]:
        """Parse ``name param… key=value… [as |a b|]`` up to (not including) the closer.

        A helper called with arguments (and every block) must be named by a plain identifier;
        a name alone may be any path, or a subexpression (``{{(helper x)}}``).
        """
        src = self.src
        k = self.skip_space(k)
        pos = k
        if k >= self.n:
            raise self.error("Unclosed tag", opened_at)
        target: Operand
        if src[k] == "(" and not identifier_only:
            sub, k, _ = self.parse_call(k + 1, ")", k)
            k = self.skip_space(k) + 1
            target = SubExpr(sub)
        else:
            target, k = self.parse_path(k)
        params: list[Operand] = []
        hash_args: dict[str, Operand] = {}
        block_params: tuple[str, ...] = ()
        while True:
            k = self.skip_space(k)
            if k >= self.n:
                raise self.error(f"Unclosed tag: expected {closer!r}", opened_at)
            if self.at_close(k, closer):
                break
            if block_params:
                raise self.error("Block parameters (as |…|) must come last", k)
            if allow_block_params and src.startswith("as", k):
                bar = self.skip_space(k + 2)
                if src.startswith("|", bar):
                    block_params, k = self.parse_block_params(bar)
                    continue
            e = self.scan_identifier(k)
            if e > k:
                eq = self.skip_space(e)
                if src.startswith("=", eq):
                    key = src[k:e]
                    value, k = self.parse_operand(self.skip_space(eq + 1))
                    hash_args[key] = value
                    continue
            operand, k = self.parse_operand(k)
            params.append(operand)
        name: str | None = None
        if isinstance(target, PathExpr):
            is_identifier = _is_identifier(target.path)
            if (params or hash_args or identifier_only) and not is_identifier:
                raise self.error(
                    f'"{target.path}" cannot name a helper: helper and block names are plain '
                    "identifiers (no '.', '/', '@' or brackets)",
                    pos,
                )
            # Only a plain identifier can name a helper (helper names never contain '.', '/'
            # or '@'), so a path such as settings.motd goes straight to the context.
            name = target.path if is_identifier else None
        elif params or hash_args:
            raise self.error("A subexpression cannot be called with arguments", pos)
        return Call(target, name, params, hash_args, pos), k, block_params

    def parse_block_params(self, k: int) -> tuple[tuple[str, ...], int]:
        src = self.src
        end = src.find("|", k + 1)
        if end < 0:
            raise self.error("Unclosed block parameters: expected '|'", k)
        names = tuple(src[k + 1 : end].split())
        if not names or len(names) > 2 or not all(map(_is_identifier, names)):
            raise self.error("Block parameters must be one or two names, e.g. as |item index|", k)
        return names, end + 1

    def parse_operand(self, k: int) -> tuple[Operand, int]:
        src = self.src
        if k >= self.n:
            raise self.error("Unexpected end of template in tag", k)
        ch = src[k]
        if ch == "(":
            call, m, _ = self.parse_call(k + 1, ")", k)
            return SubExpr(call), m + 1
        if ch in "\"'":
            value, m = self.parse_string(k)
            return Literal(value), m
        if ch in "[{0123456789-tfn":
            parsed = self.parse_literal(k)
            if parsed is not None and (parsed[1] >= self.n or src[parsed[1]] in _AFTER_LITERAL):
                value, m = parsed
                if ch in "[{":
                    # the 4.x engine reads array/object literals as JSON
                    try:
                        value = json.loads(src[k:m], parse_int=_json_int)
                    except ValueError as err:
                        raise self.error(f"Invalid literal {src[k:m]}: {err}", k) from err
                return Literal(value), m
            if ch == "{":
                raise self.error("Invalid object literal", k)
        path, m = self.parse_path(k)
        if path.path in ("as", "else"):
            raise self.error(f'"{path.path}" is a keyword and cannot be a parameter', k)
        return path, m

    def parse_string(self, k: int) -> tuple[str, int]:
        src = self.src
        quote = src[k]
        m = k + 1
        while m < self.n:
            ch = src[m]
            if ch == "\\":
                m += 2
                continue
            if ch == quote:
                break
            m += 1
        if m >= self.n:
            raise self.error("Unterminated string literal", k)
        inner = src[k + 1 : m]
        if quote == "'":
            inner = inner.replace("\\'", "'").replace('"', '\\"')
        try:
            value = json.loads('"' + inner + '"')
        except ValueError as err:
            raise self.error(
                f"Invalid string literal {src[k : m + 1]}: use JSON escapes "
                '(\\n, \\t, \\", \\\\, \\uXXXX) and no raw control characters',
                k,
            ) from err
        return str(value), m + 1

    def parse_literal(self, k: int) -> tuple[Any, int] | None:
        """A literal per the 4.x grammar (number, true/false/null, string, array, object)."""
        src, n = self.src, self.n
        if k >= n:
            return None
        ch = src[k]
        if ch in "\"'":
            return self.parse_string(k)
        for word, value in (("true", True), ("false", False), ("null", None)):
            end = k + len(word)
            if src.startswith(word, k) and not (end < n and _is_id_char(src[end])):
                return value, end
        if ch == "-" or ch.isdigit():
            return self.parse_number(k)
        if ch == "[":
            items: list[Any] = []
            m = self.skip_space(k + 1)
            if src.startswith("]", m):
                return items, m + 1
            while True:
                item = self.parse_literal(m)
                if item is None:
                    return None
                items.append(item[0])
                m = self.skip_space(item[1])
                if src.startswith(",", m):
                    m = self.skip_space(m + 1)
                elif src.startswith("]", m):
                    return items, m + 1
                else:
                    return None
        if ch == "{":
            obj: dict[str, Any] = {}
            m = self.skip_space(k + 1)
            if src.startswith("}", m):
                return obj, m + 1
            while True:
                if not src.startswith(('"', "'"), m):
                    return None
                key, m = self.parse_string(m)
                m = self.skip_space(m)
                if not src.startswith(":", m):
                    return None
                entry = self.parse_literal(self.skip_space(m + 1))
                if entry is None:
                    return None
                obj[key] = entry[0]
                m = self.skip_space(entry[1])
                if src.startswith(",", m):
                    m = self.skip_space(m + 1)
                elif src.startswith("}", m):
                    return obj, m + 1
                else:
                    return None
        return None

    def parse_number(self, k: int) -> tuple[Any, int] | None:
        r"""``-?\d+\.?\d*(E-?\d+)?`` not followed by an identifier character, read as JSON."""
        src, n = self.src, self.n
        m = k + 1 if src.startswith("-", k) else k
        digits_start = m
        while m < n and src[m].isascii() and src[m].isdigit():
            m += 1
        if m == digits_start:
            return None
        if m < n and src[m] == ".":
            m += 1
            while m < n and src[m].isascii() and src[m].isdigit():
                m += 1
        if m < n and src[m] == "E":
            e = m + 1
            if e < n and src[e] == "-":
                e += 1
            exp_start = e
            while e < n and src[e].isascii() and src[e].isdigit():
                e += 1
            if e > exp_start:
                m = e
        if m < n and _is_id_char(src[m]):
            return None
        text = src[k:m]
        try:
            value = json.loads(text, parse_int=_json_int)
        except ValueError as err:
            raise self.error(f"Invalid number literal {text}", k) from err
        return value, m

    # ---------------------------------------------------------------------------- paths

    def scan_path(self, k: int) -> int:
        match = _PATH_TEXT.match(self.src, k)
        m = match.end() if match else k
        if self.src.startswith("[", m):
            raise self.error("Unclosed [segment] in path", m)
        return m

    def parse_path(self, k: int) -> tuple[PathExpr, int]:
        end = self.scan_path(k)
        raw = self.src[k:end]
        if not raw:
            ch = self.src[k] if k < self.n else "end of template"
            raise self.error(f"Expected a name, a path or a value, found {ch!r}", k)
        return self.build_path(raw, k), end

    def build_path(self, raw: str, pos: int) -> PathExpr:
        """Split a path as the 4.x grammar reads it:
        ``[this. | ./] [@root.] [@] [../]* item ([./] item)*`` — ``this`` segments are dropped,
        ``@name`` is a local variable (``@../name`` one scope up) and ``@root`` the root.
        """
        items: list[tuple[str, bool]] = []  # (segment, written in [brackets])
        if _SIMPLE_PATH.fullmatch(raw):
            # the common case: name.name.name (no this, ../, @ or brackets)
            names = tuple(_PATH_SEPARATOR.split(raw))
            if "this" not in names:
                return PathExpr(raw, RELATIVE, 0, names, names[0], pos)
        p = 0
        length = len(raw)
        expect_item = True
        if raw.startswith("@.."):
            items.append(("@", False))  # @../name: a local variable of an outer scope
            p = 1
        while p < length:
            if expect_item:
                if raw.startswith("..", p):
                    items.append(("..", False))
                    p += 2
                elif raw[p] == "[":
                    close = raw.index("]", p)
                    items.append((raw[p + 1 : close], True))
                    p = close + 1
                elif raw.startswith("./", p) and p == 0:
                    items.append((".", False))
                    p += 1
                else:
                    q = p
                    while q < length and raw[q] not in "./[":
                        q += 1
                    if q == p:
                        raise self.error(f'Invalid path "{raw}"', pos)
                    items.append((raw[p:q], False))
                    p = q
                expect_item = False
            elif raw[p] in "./":
                p += 1
                expect_item = True
            else:
                raise self.error(f'Invalid path "{raw}"', pos)
        if expect_item or not items or items[-1] in ((".", False), ("..", False)):
            raise self.error(f'Invalid path "{raw}"', pos)
        index = 0
        if items[0] in (("this", False), (".", False)) and len(items) > 1:
            index = 1
        kind = RELATIVE
        if items[index] == ("@root", False) and index + 1 < len(items):
            kind = ROOT
            index += 1
        ups = 0
        if not items[index][1] and items[index][0].startswith("@"):
            # a local variable: @name, @../name
            kind = LOCAL
            head = items[index][0][1:]
            index += 1
            if not head:
                while index < len(items) and items[index] == ("..", False):
                    ups += 1
                    index += 1
                if index >= len(items):
                    raise self.error(f'Invalid path "{raw}"', pos)
                head = items[index][0]
            if not _is_identifier(head):
                raise self.error(f'Invalid path "{raw}"', pos)
            return PathExpr(raw, LOCAL, ups, (head,), None, pos)
        while index < len(items) and items[index] == ("..", False):
            ups += 1
            index += 1
        segments = tuple(segment for segment, _ in items[index:] if segment not in ("this", "..", "."))
        block_param = segments[0] if kind == RELATIVE and segments else None
        return PathExpr(raw, kind, ups, segments, block_param, pos)

    # ---------------------------------------------------------------------------- tree

    def parse(self) -> list[Node]:
        tokens = self.tokenize()
        self.apply_whitespace_control(tokens)
        root: list[Node] = []
        stack: list[_OpenBlock] = []
        current = root
        for token in tokens:
            if isinstance(token, str):
                if token:
                    if current and isinstance(current[-1], Text):
                        current[-1] = Text(current[-1].text + token)
                    else:
                        current.append(Text(token))
                continue
            kind = token.kind
            if kind == "expr":
                assert token.call is not None
                if isinstance(token.call.target, SubExpr):
                    current.append(ValueExpr(token.call.target, token.escape, token.call.pos))
                else:
                    current.append(Expr(token.call, token.escape))
            elif kind == "comment":
                continue
            elif kind in ("open", "raw_open"):
                stack.append(_OpenBlock(token))
                current = stack[-1].body
            elif kind == "else":
                if not stack:
                    raise self.error("{{else}} outside of a block", token.start)
                block = stack[-1]
                if block.inverse is not None:
                    raise self.error("A block can have only one {{else}}", token.start)
                block.inverse = []
                current = block.inverse
            else:  # close, raw_close
                if not stack:
                    raise self.error(
                        f"Closing tag {{{{/{token.close_name}}}}} has no matching opening tag",
                        token.start,
                    )
                block = stack.pop()
                assert block.tag.call is not None
                opened = block.tag.call.label
                if opened != token.close_name:
                    line, column = position_of(self.src, block.tag.start)
                    raise self.error(
                        f"Closing tag {{{{/{token.close_name}}}}} does not match "
                        f"{{{{#{opened}}}}} opened at line {line}, column {column}",
                        token.start,
                    )
                node = Block(block.tag.call, block.body, block.inverse, block.tag.block_params)
                if not stack:
                    current = root
                else:
                    parent = stack[-1]
                    current = parent.body if parent.inverse is None else parent.inverse
                current.append(node)
        if stack:
            block = stack[-1]
            assert block.tag.call is not None
            raise self.error(
                f"Block {{{{#{block.tag.call.label}}}}} is never closed (expected {{{{/{block.tag.call.label}}}}})",
                block.tag.start,
            )
        return root

    def apply_whitespace_control(self, tokens: list[str | _Tag]) -> None:
        """Apply ``~`` and standalone-line trimming, in place (texts at even indexes).

        This follows the 4.x template compiler step by step, quirks included:

        * a standalone tag asks for the leading spaces/tabs and first line break of the *next
          text that is kept* to be removed; a text made only of whitespace right after a
          ``~}}`` is dropped whole and does not count, so the request passes over the
          expressions that follow to the next text (a block/else/comment tag that is not
          standalone cancels it);
        * ``~}}`` trims every text up to the next tag that is not a comment.
        """
        omit = False  # the last non-comment tag ended with ~}}
        pending = False  # a standalone tag waits for the next kept text
        last = len(tokens) - 1
        for index in range(0, last + 1, 2):
            text = str(tokens[index])
            raw_body = index < last and cast(_Tag, tokens[index + 1]).kind == "raw_close"
            if text or raw_body:
                if omit and not raw_body and not text.strip(_GRAMMAR_WHITESPACE):
                    text = ""  # skipped by the grammar: nothing is kept
                else:
                    if omit:
                        text = text.lstrip(_RUST_WHITESPACE)
                    elif pending:
                        text = text.lstrip(" \t")
                        if text.startswith("\r\n"):
                            text = text[2:]
                        elif text.startswith("\n"):
                            text = text[1:]
                    pending = False
            if index == last:
                tokens[index] = text
                break
            tag = cast(_Tag, tokens[index + 1])
            if tag.ltrim:
                text = text.rstrip(_RUST_WHITESPACE)
            if tag.kind in _STANDALONE_KINDS:
                pending = self.is_standalone(tag)
                if pending:
                    text = text.rstrip(" \t")
            if tag.kind != "comment":
                omit = tag.rtrim
            tokens[index] = text

    def is_standalone(self, tag: _Tag) -> bool:
        """Only spaces/tabs between the line start (or template start) and the tag, and only
        spaces/tabs then a line break after it — end of template does not count (4.x)."""
        src = self.src
        k = tag.start
        while k > 0 and src[k - 1] in " \t":
            k -= 1
        if k > 0 and src[k - 1] not in "\r\n":
            return False
        m = tag.end
        while m < self.n and src[m] in " \t":
            m += 1
        return m < self.n and src[m] in "\r\n"


def parse(source: str) -> list[Node]:
    """Parse Handlebars source into render nodes; raises ``TemplateSyntaxError``."""
    return _Parser(source).parse()
