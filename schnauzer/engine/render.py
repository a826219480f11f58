"""The parsed template tree and the walker that renders it.

A template is parsed once into a tree of nodes (``Text``, ``Expr``, ``Block``); rendering walks
that tree with a ``State`` holding the output buffer and the scope stack. Nothing is re-parsed,
copied or matched with regular expressions while rendering: paths are pre-split into segments
and looked up directly in the context.

Scopes follow handlebars-rust 4.x: ``#each`` and ``#with`` push a frame (its value, its ``@``
locals and its block parameters); ``#if``, ``#unless`` and condition helpers do not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from thar.logs import LEVELS
from thar.schnauzer.engine.builtins import VALUE_BUILTINS, BuiltinTypeError, ValueBuiltin
from thar.schnauzer.engine.errors import RenderError, position_of
from thar.schnauzer.engine.values import MISSING, display_value, escape_html, truthy
from thar.schnauzer.helper_api import Helper, HelperError, HelperKind, Param

__all__ = [
    "Block",
    "Call",
    "Expr",
    "Frame",
    "Literal",
    "Node",
    "PathExpr",
    "State",
    "SubExpr",
    "Text",
    "ValueExpr",
    "render_nodes",
]

log = logging.getLogger("thar.schnauzer.engine")

# Kinds of path expression.
RELATIVE: Final = 0  # resolved against the current (or a parent, with ../) scope
ROOT: Final = 1  # @root…
LOCAL: Final = 2  # @index, @key, @first, @last (optionally @../name)


class Frame:
    """One scope: the value ``this`` refers to, its ``@`` locals and its block parameters."""

    __slots__ = ("locals", "params", "value")

    def __init__(
        self,
        value: Any,
        locals_: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.value = value
        self.locals = locals_
        self.params = params


class State:
    """Everything one render needs; created per render, never shared."""

    __slots__ = ("block_params", "frames", "helpers", "out", "root", "source", "strict")

    def __init__(self, source: str, context: Any, helpers: Mapping[str, Helper], strict: bool) -> None:
        self.source = source
        self.root = context
        self.frames: list[Frame] = [Frame(context)]
        self.helpers = helpers
        self.strict = strict
        self.out: list[str] = []
        self.block_params = 0  # how many frames on the stack carry block parameters

    def fail(self, message: str, pos: int) -> RenderError:
        line, column = position_of(self.source, pos)
        return RenderError(message, line, column)


# --------------------------------------------------------------------------------------------
# Expressions (parameters, hash values, helper names)


class Literal:
    """A literal parameter: string, number, true/false/null, array or object literal."""

    __slots__ = ("value",)
    path = None

    def __init__(self, value: Any) -> None:
        self.value = value

    def evaluate(self, st: State) -> Any:
        return self.value


class PathExpr:
    """A path such as ``settings.motd``, ``../x``, ``this``, ``@root.a``, ``@key``, ``a.[0]``.

    ``segments`` holds only the named segments (``this`` and the leading ``../`` are folded into
    ``kind``/``ups``); ``path`` is the text as written, used in messages and ``Param.path``.
    """

    __slots__ = ("block_param", "kind", "path", "pos", "segments", "ups")

    def __init__(
        self,
        path: str,
        kind: int,
        ups: int,
        segments: tuple[str, ...],
        block_param: str | None,
        pos: int,
    ) -> None:
        self.path = path
        self.kind = kind
        self.ups = ups
        self.segments = segments
        self.block_param = block_param
        self.pos = pos

    def evaluate(self, st: State) -> Any:
        frames = st.frames
        kind = self.kind
        segments = self.segments
        if kind == RELATIVE:
            if st.block_params and self.block_param is not None:
                name = self.block_param
                for frame in reversed(frames):
                    params = frame.params
                    if params is not None and name in params:
                        return self._walk(st, params[name], segments, 1)
            ups = self.ups
            value = frames[-1 - ups].value if ups < len(frames) else frames[-1].value
            # fast path: objects all the way down
            for index, segment in enumerate(segments):
                if type(value) is dict:
                    value = value.get(segment, MISSING)
                    if value is MISSING:
                        return MISSING
                else:
                    return self._walk(st, value, segments, index)
            return value
        if kind == ROOT:
            return self._walk(st, st.root, segments, 0)
        # LOCAL: segments[0] is the local name (without '@').
        level = self.ups
        if level >= len(frames):
            return MISSING
        locals_ = frames[-1 - level].locals
        if locals_ is None:
            return MISSING
        value = locals_.get(segments[0], MISSING)
        if value is MISSING:
            return MISSING
        return self._walk(st, value, segments, 1)

    def _walk(self, st: State, value: Any, segments: tuple[str, ...], start: int) -> Any:
        for index in range(start, len(segments)):
            segment = segments[index]
            if isinstance(value, dict):
                value = value.get(segment, MISSING)
                if value is MISSING:
                    return MISSING
            elif isinstance(value, (list, tuple)):
                if not (segment.isascii() and segment.isdigit()):
                    raise st.fail(
                        f'Cannot look up "{segment}" in an array (path "{self.path}"): '
                        "array elements are selected by number, e.g. list.0 or list.[0]",
                        self.pos,
                    )
                position = int(segment)
                if position >= len(value):
                    return MISSING
                value = value[position]
            else:
                return MISSING
        return value


class SubExpr:
    """A subexpression ``(helper args…)``; evaluates to the helper's (typed) result."""

    __slots__ = ("call",)
    path = None

    def __init__(self, call: Call) -> None:
        self.call = call

    def evaluate(self, st: State) -> Any:
        return call_value(self.call, st)


Operand: TypeAlias = Literal | PathExpr | SubExpr


class Call:
    """The inside of a tag: a name followed by parameters and ``key=value`` hash arguments.

    ``name`` is the helper name to look up (the name as written); ``target`` is the name read
    as a path (or a subexpression, ``{{(helper x)}}``), used when no helper of that name exists
    and there are no arguments. ``label`` names the call in messages.
    """

    __slots__ = ("hash", "label", "name", "params", "pos", "target")

    def __init__(
        self,
        target: PathExpr | SubExpr,
        name: str | None,
        params: Sequence[Operand],
        hash_: Mapping[str, Operand],
        pos: int,
    ) -> None:
        self.target = target
        self.name = name
        self.label = target.path if isinstance(target, PathExpr) else "(subexpression)"
        self.params = tuple(params)
        self.hash = dict(hash_)
        self.pos = pos


# --------------------------------------------------------------------------------------------
# Nodes


class Node:
    __slots__ = ()

    def render(self, st: State) -> None:
        raise NotImplementedError


class Text(Node):
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, st: State) -> None:
        st.out.append(self.text)


class Expr(Node):
    """``{{call}}`` (escaped) or ``{{{call}}}`` / ``{{&call}}`` (not escaped)."""

    __slots__ = ("call", "escape")

    def __init__(self, call: Call, escape: bool) -> None:
        self.call = call
        self.escape = escape

    def render(self, st: State) -> None:
        call = self.call
        name = call.name
        if name is not None:
            helper = st.helpers.get(name)
            if helper is not None:
                _call_custom(st, helper, call, None, self.escape, False)
                return
            builtin = BUILTINS.get(name)
            if builtin is not None:
                _write_result(st, _call_builtin(st, builtin, call, None), self.escape)
                return
        if call.params or call.hash:
            raise st.fail(f'Helper not defined: "{call.label}"', call.pos)
        value = call.target.evaluate(st)
        if value is MISSING:
            if st.strict:
                raise st.fail(f'Variable "{call.label}" not found in strict mode', call.pos)
            return
        text = value if type(value) is str else display_value(value)
        st.out.append(escape_html(text) if self.escape else text)


class ValueExpr(Node):
    """``{{(helper args)}}``: the value of a subexpression, displayed like a path value."""

    __slots__ = ("escape", "operand", "pos")

    def __init__(self, operand: SubExpr, escape: bool, pos: int) -> None:
        self.operand = operand
        self.escape = escape
        self.pos = pos

    def render(self, st: State) -> None:
        value = self.operand.evaluate(st)
        text = value if type(value) is str else display_value(value)
        st.out.append(escape_html(text) if self.escape else text)


class Block(Node):
    """``{{#call as |p q|}}body{{else}}inverse{{/name}}`` (also ``{{{{raw}}}}`` blocks)."""

    __slots__ = ("body", "call", "inverse", "params")

    def __init__(
        self,
        call: Call,
        body: Sequence[Node],
        inverse: Sequence[Node] | None,
        params: tuple[str, ...],
    ) -> None:
        self.call = call
        self.body = tuple(body)
        self.inverse = None if inverse is None else tuple(inverse)
        self.params = params

    def render(self, st: State) -> None:
        call = self.call
        name = call.name
        if name is not None:
            helper = st.helpers.get(name)
            if helper is not None:
                _call_custom(st, helper, call, self, True, False)
                return
            builtin = BUILTINS.get(name)
            if builtin is not None:
                _write_result(st, _call_builtin(st, builtin, call, self), True)
                return
        raise st.fail(f'Helper not defined: "{call.label}"', call.pos)


def render_nodes(nodes: Sequence[Node], st: State) -> None:
    for node in nodes:
        node.render(st)


# --------------------------------------------------------------------------------------------
# Helper calls


class _Nothing:
    """Returned by built-ins that write their own output (or none): not a value to display."""

    __slots__ = ()


NOTHING: Final = _Nothing()


def _write_result(st: State, result: Any, escape: bool) -> None:
    if result is NOTHING:
        return
    text = result if type(result) is str else display_value(result)
    st.out.append(escape_html(text) if escape else text)


def call_value(call: Call, st: State) -> Any:
    """Evaluate a subexpression: the helper's typed result (string helpers give their text)."""
    name = call.name
    if name is not None:
        helper = st.helpers.get(name)
        if helper is not None:
            return _call_custom(st, helper, call, None, False, True)
        builtin = BUILTINS.get(name)
        if builtin is not None:
            result = _call_builtin(st, builtin, call, None)
            return "" if result is NOTHING else result
    raise st.fail(f'Helper not defined: "{call.label}"', call.pos)


def _call_custom(st: State, helper: Helper, call: Call, block: Block | None, escape: bool, want_value: bool) -> Any:
    params: list[Param] = []
    for operand in call.params:
        value = operand.evaluate(st)
        if value is MISSING:
            params.append(Param(None, True, operand.path))
        else:
            params.append(Param(value, False, operand.path))
    hash_args: dict[str, Any] = {}
    for key, operand in call.hash.items():
        value = operand.evaluate(st)
        hash_args[key] = None if value is MISSING else value
    kind = helper.kind
    name = call.name or helper.name
    if kind is HelperKind.VALUE and helper.strict_params and st.strict:
        for index, param in enumerate(params[: helper.strict_params]):
            if param.missing:
                raise st.fail(
                    f'Helper "{name}": couldn\'t read parameter {index + 1} ("{param.path}" not found in strict mode)',
                    call.pos,
                )
    try:
        result = helper.fn(params, hash_args)
    except HelperError as err:
        raise st.fail(f'Helper "{name}" failed: {err}', call.pos) from err
    except RenderError:
        raise
    except Exception as err:  # a helper bug must still fail the render cleanly
        raise st.fail(f'Helper "{name}" failed unexpectedly: {type(err).__name__}: {err}', call.pos) from err
    if kind is HelperKind.STRING:
        if not isinstance(result, str):
            raise st.fail(f'Helper "{name}" returned {type(result).__name__}, expected text', call.pos)
        if want_value:
            return result
        st.out.append(result)
        return None
    if kind is HelperKind.VALUE:
        if want_value:
            return result
        text = result if type(result) is str else display_value(result)
        st.out.append(escape_html(text) if escape else text)
        return None
    # CONDITION: chooses a block, never writes a value of its own.
    if want_value:
        return ""
    if block is not None:
        nodes = block.body if result else block.inverse
        if nodes:
            for node in nodes:
                node.render(st)
    return None


BuiltinFn: TypeAlias = Callable[["State", "Call", "Block | None", list[Any], Mapping[str, Any]], Any]

_NO_HASH: Final[Mapping[str, Any]] = {}


def _call_builtin(st: State, builtin: BuiltinFn, call: Call, block: Block | None) -> Any:
    """Evaluate every parameter and hash value first (as 4.x does, so an error in any of them
    fails the call even when the helper would not use it), then run the built-in."""
    args = [operand.evaluate(st) for operand in call.params]
    hash_args = {key: operand.evaluate(st) for key, operand in call.hash.items()} if call.hash else _NO_HASH
    return builtin(st, call, block, args, hash_args)


# --------------------------------------------------------------------------------------------
# Built-in helpers. Each gets its evaluated parameters (MISSING for paths that resolve to
# nothing) and returns a value to display (or to use as a subexpression result), or NOTHING
# when it wrote its own output.


def _first_param(st: State, call: Call, args: list[Any], name: str) -> Any:
    if not args:
        raise st.fail(f'Helper "{name}" needs a parameter', call.pos)
    return args[0]


def _describe(operand: Operand, value: Any) -> str:
    where = f'"{operand.path}"' if operand.path is not None else "the parameter"
    if value is MISSING:
        return f"{where} is missing"
    if value is None:
        return f"{where} is null"
    return f"{where} is a {_json_type(value)}"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _conditional(
    st: State,
    call: Call,
    block: Block | None,
    args: list[Any],
    hash_args: Mapping[str, Any],
    negate: bool,
) -> Any:
    value = _first_param(st, call, args, "unless" if negate else "if")
    include_zero = hash_args.get("includeZero") is True
    chosen = truthy(value, include_zero) != negate
    if block is not None:
        nodes = block.body if chosen else block.inverse
        if nodes:
            for node in nodes:
                node.render(st)
    return NOTHING


def _builtin_if(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
    return _conditional(st, call, block, args, hash_args, False)


def _builtin_unless(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
    return _conditional(st, call, block, args, hash_args, True)


def _builtin_each(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
    value = _first_param(st, call, args, "each")
    if block is None:
        return NOTHING
    inverse = block.inverse
    frames = st.frames
    body = block.body
    names = block.params
    if isinstance(value, (list, tuple)) and (value or inverse is None):
        last = len(value) - 1
        if names:
            st.block_params += 1
        for index, item in enumerate(value):
            params: dict[str, Any] | None = None
            if names:
                params = {names[0]: item}
                if len(names) > 1:
                    params[names[1]] = index
            frames.append(Frame(item, {"index": index, "first": index == 0, "last": index == last}, params))
            for node in body:
                node.render(st)
            frames.pop()
        if names:
            st.block_params -= 1
    elif isinstance(value, dict) and (value or inverse is None):
        last = len(value) - 1
        if names:
            st.block_params += 1
        for index, (key, item) in enumerate(value.items()):
            params = None
            if names:
                params = {names[0]: item}
                if len(names) > 1:
                    params[names[1]] = key
            frames.append(Frame(item, {"key": key, "first": index == 0, "last": index == last}, params))
            for node in body:
                node.render(st)
            frames.pop()
        if names:
            st.block_params -= 1
    elif inverse is not None:
        for node in inverse:
            node.render(st)
    elif st.strict:
        raise st.fail(
            "#each needs an array or an object, but "
            f"{_describe(call.params[0], value)} (strict mode; add an {{{{else}}}} block "
            "to handle this case)",
            call.pos,
        )
    return NOTHING


def _builtin_with(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
    value = _first_param(st, call, args, "with")
    if truthy(value):
        if block is None:
            return NOTHING
        names = block.params
        params = {names[0]: value} if names else None
        if names:
            st.block_params += 1
        st.frames.append(Frame(value, None, params))
        for node in block.body:
            node.render(st)
        st.frames.pop()
        if names:
            st.block_params -= 1
    elif block is not None and block.inverse is not None:
        for node in block.inverse:
            node.render(st)
    elif st.strict:
        raise st.fail(
            f"#with needs a non-empty value, but {_describe(call.params[0], value)} "
            "(strict mode; add an {{else}} block to handle this case)",
            call.pos,
        )
    return NOTHING


def _builtin_lookup(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
    if len(args) < 2:
        raise st.fail('Helper "lookup" needs two parameters: a collection and a key', call.pos)
    collection, key = args[0], args[1]
    result: Any = None
    if isinstance(collection, (list, tuple)):
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(collection):
            result = collection[key]
    elif isinstance(collection, dict) and isinstance(key, str):
        result = collection.get(key)
    if result is None and st.strict:
        shown = "missing" if key is MISSING else display_value(key)
        raise st.fail(
            f'lookup found no value for key "{shown}" in {call.params[0].path or "its collection"} (strict mode)',
            call.pos,
        )
    return result


_LOG_LEVELS: Final = {name: number for name, number in LEVELS.items() if name != "off"}
"""The `{{log}}` helper's levels: `thar.logs.LEVELS` (trace below debug, as the Rust `log` crate has it)."""


def _builtin_log(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
    texts = []
    for operand, value in zip(call.params, args, strict=True):
        shown = display_value(value)
        texts.append(f"{operand.path}: {shown}" if operand.path is not None else shown)
    chosen = hash_args.get("level")
    level_name = chosen if isinstance(chosen, str) else "info"
    level = _LOG_LEVELS.get(level_name.lower())
    if level is None:
        raise st.fail(
            f'Unsupported logging level "{level_name}" (use trace, debug, info, warn or error)',
            call.pos,
        )
    log.log(level, "%s", ", ".join(texts))
    return NOTHING


def _builtin_raw(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
    if block is not None:
        for node in block.body:
            node.render(st)
    return NOTHING


def _value_builtin(spec: ValueBuiltin) -> BuiltinFn:
    def run(st: State, call: Call, block: Block | None, args: list[Any], hash_args: Mapping[str, Any]) -> Any:
        values: list[Any] = []
        for index, arg in enumerate(spec.arg_names):
            if index >= len(args):
                raise st.fail(
                    f"`{spec.name}` helper: couldn't read parameter {arg} (it takes {len(spec.arg_names)})",
                    call.pos,
                )
            value = args[index]
            if value is MISSING:
                if st.strict:
                    raise st.fail(
                        f"`{spec.name}` helper: couldn't read parameter {arg} "
                        f'("{call.params[index].path}" not found in strict mode)',
                        call.pos,
                    )
                value = None
            values.append(value)
        try:
            return spec.fn(*values)
        except BuiltinTypeError as err:
            raise st.fail(str(err), call.pos) from err

    return run


BUILTINS: Final[dict[str, BuiltinFn]] = {
    "if": _builtin_if,
    "unless": _builtin_unless,
    "each": _builtin_each,
    "with": _builtin_with,
    "lookup": _builtin_lookup,
    "log": _builtin_log,
    "raw": _builtin_raw,
    **{name: _value_builtin(spec) for name, spec in VALUE_BUILTINS.items()},
}
