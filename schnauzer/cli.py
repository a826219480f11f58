"""``schnauzer-v2``: render a v2 template with settings from the API (spec/schnauzer.md §1).

::

    schnauzer-v2 [--log-level L] [--api-socket P] render --requires R... --template T
    schnauzer-v2 [--log-level L] [--api-socket P] render-file --path F

``render`` takes the template body from ``--template`` and its frontmatter from the repeatable
``--requires NAME@VERSION(helpers=[h1, h2])``; sundog runs it as a setting generator.
``render-file`` renders a v2 template file. The result is printed JSON-encoded as a string,
then a newline. Errors: a message on stderr and exit 1 (usage errors too); ``--help`` exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from thar.apiclient import default_socket_path
from thar.logs import LEVELS as LOG_LEVELS
from thar.logs import setup_logging
from thar.schnauzer.errors import RequirementsParse, SchnauzerError
from thar.schnauzer.importer import ApiImporter
from thar.schnauzer.render import render_parsed, render_template_file
from thar.schnauzer.requirements import parse_requirement
from thar.schnauzer.template import Requirement, template_from_requirements

__all__ = ["main", "run", "write_json_string"]


# Options that take a value: the next argument is the value whatever it looks like, as in
# Bottlerocket's parser (a template may well start with '-').
_VALUE_OPTIONS = frozenset({"--log-level", "--api-socket", "--requires", "--template", "--path"})


def _join_values(args: Sequence[str]) -> list[str]:
    joined: list[str] = []
    i = 0
    while i < len(args):
        if args[i] in _VALUE_OPTIONS and i + 1 < len(args):
            joined.append(f"{args[i]}={args[i + 1]}")
            i += 2
        else:
            joined.append(args[i])
            i += 1
    return joined


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1, like Bottlerocket's argument parser; an option's value is always
    the next argument."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is None:
            args = sys.argv[1:]
        return super().parse_known_args(_join_values(args), namespace)


def _requirement(text: str) -> Requirement:
    try:
        return parse_requirement(text)
    except RequirementsParse as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _log_level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"invalid log level '{text}'; one of {', '.join(LOG_LEVELS)}")
    return text.lower()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="schnauzer-v2", description="Render a Bottlerocket v2 configuration template.")
    parser.add_argument(
        "--log-level", type=_log_level, default="info", metavar="L", help="off, error, warn, info, debug, trace"
    )
    parser.add_argument(
        "--api-socket",
        default=None,
        metavar="P",
        help="the API socket (default /run/api.sock, or $THAR_ROOT/run/api.sock when THAR_ROOT is set)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    render = commands.add_parser("render", help="render a template body given on the command line")
    render.add_argument(
        "--requires",
        type=_requirement,
        action="append",
        default=[],
        metavar="R",
        help="a required extension, NAME@VERSION or NAME@VERSION(helpers=[h1, h2]); repeatable",
    )
    render.add_argument("--template", required=True, metavar="T", help="the Handlebars template body")
    render_file = commands.add_parser("render-file", help="render a v2 template file")
    render_file.add_argument("--path", required=True, metavar="F", help="the template file")
    return parser


def _setup_logging(level: str) -> None:
    setup_logging(level, ("apiclient", "schnauzer"), stream=sys.stderr, short_names=False)


def write_json_string(text: str) -> None:
    """Print ``text`` as a JSON string and a newline (serde_json's escaping), as UTF-8."""
    sys.stdout.buffer.write(json.dumps(text, ensure_ascii=False).encode("utf-8") + b"\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> str:
    """Carry out a parsed command line; the rendered text."""
    importer = ApiImporter(args.api_socket if args.api_socket is not None else default_socket_path())
    if args.command == "render":
        template = template_from_requirements(args.requires, args.template)
        return render_parsed(template, importer)
    return render_template_file(args.path, importer)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    try:
        rendered = run(args)
    except SchnauzerError as exc:
        print(exc, file=sys.stderr)
        return 1
    write_json_string(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
