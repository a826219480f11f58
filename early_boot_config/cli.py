"""The `early-boot-config` command.

    early-boot-config [--socket-path PATH] [--log-level LEVEL] [--variant NAME_OR_DIR]
                      [--no-validate] [--platform local|aws] [--providers-dir DIR]
                      [--user-data FILE] [--user-data-defaults FILE] [--user-data-overrides FILE]
                      [--identity-document FILE] [--imds-endpoint URL] [--imds-timeout SECONDS]
                      [--marker FILE]
    early-boot-config lint FILE... [--variant NAME_OR_DIR]
    early-boot-config install-providers [--platform local|aws] [--dir LIBEXEC]

Exit status: 0 success (also when the first-boot marker says it already ran); 1 an error
(one message on stderr, nothing sent; for lint: a file has problems); 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from thar.apiclient import default_socket_path
from thar.logs import LEVELS as LOG_LEVELS
from thar.logs import setup_logging

from .errors import EarlyBootConfigError
from .paths import Paths, thar_root

__all__ = ["main"]


def _level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"invalid log level '{text}' (use {', '.join(LOG_LEVELS)})")
    return text.lower()


def boot_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="early-boot-config",
        description="Gather user data from the providers (later ones override earlier ones), check it\n"
        "against the variant's settings model, and stage it in the pending transaction\n"
        "'bottlerocket-launch'. Runs once: the first-boot marker stops later runs.\n"
        "Other commands: 'early-boot-config lint FILE...', 'early-boot-config install-providers'.\n"
        "Every default path lies under $THAR_ROOT (default /).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--socket-path", help="the API socket (default $THAR_ROOT/run/api.sock or /run/api.sock)")
    parser.add_argument("--log-level", type=_level, default="info", help="off, error, warn, info, debug or trace")
    parser.add_argument(
        "--variant",
        help="check user data against this variant's model here (default: the API checks it in a scratch transaction)",
    )
    parser.add_argument("--no-validate", action="store_true", help="do not check user data before sending it")
    parser.add_argument(
        "--platform",
        choices=("local", "aws"),
        default="local",
        help="built-in providers to use when there is no providers directory (default local)",
    )
    parser.add_argument("--providers-dir", type=Path, help="directory of provider links")
    parser.add_argument("--user-data", type=Path, help="the local user data file")
    parser.add_argument("--user-data-defaults", type=Path, help="the local user data defaults file")
    parser.add_argument("--user-data-overrides", type=Path, help="the local user data overrides file")
    parser.add_argument("--identity-document", type=Path, help="an EC2 instance identity document file")
    parser.add_argument("--imds-endpoint", help="the instance metadata service (default http://169.254.169.254)")
    parser.add_argument("--imds-timeout", type=float, help="seconds per IMDS fetch, retries included (default 300)")
    parser.add_argument("--marker", type=Path, help="the first-boot marker file")
    return parser


def lint_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="early-boot-config lint",
        description="Check user-data files (TOML with [settings], optionally gzip-compressed) against\n"
        "a variant's settings model, offline. Exit 1 if any file has a problem.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="user data files ('-' for standard input)")
    parser.add_argument(
        "--variant",
        help="variant name or directory (default: VARIANT_ID of $THAR_ROOT/usr/lib/os-release, else thar-dev)",
    )
    return parser


def install_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="early-boot-config install-providers",
        description="Install thar's providers as programs and links under LIBEXEC "
        "(default $THAR_ROOT/usr/libexec/early-boot-config).",
    )
    parser.add_argument("--platform", choices=("local", "aws"), default="local")
    parser.add_argument("--dir", type=Path, help="the libexec directory")
    return parser


def _boot(argv: Sequence[str]) -> int:
    from .run import Options, run

    args = boot_parser().parse_args(argv)
    setup_logging(args.log_level, "early_boot_config", stream=sys.stdout)
    try:
        paths = Paths.from_environment()
    except ValueError as exc:
        print(f"early-boot-config: {exc}", file=sys.stderr)
        return 2
    changes = {
        name: getattr(args, name)
        for name in ("providers_dir", "user_data", "user_data_defaults", "user_data_overrides",
                     "identity_document", "imds_endpoint", "imds_timeout", "marker")
        if getattr(args, name) is not None
    }  # fmt: skip
    paths = replace(paths, **changes)
    options = Options(
        socket_path=args.socket_path or default_socket_path(),
        paths=paths,
        platform=args.platform,
        variant=args.variant,
        validate=not args.no_validate,
        log_level=args.log_level,
    )
    import logging

    logging.getLogger("early_boot_config").info("early-boot-config started")
    try:
        run(options)
    except EarlyBootConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _lint(argv: Sequence[str]) -> int:
    from .errors import VariantUnknown
    from .lint import lint_file, lint_variant
    from .validate import load_named_variant

    args = lint_parser().parse_args(argv)
    name, note = lint_variant(args.variant)
    if note is not None:
        print(note, file=sys.stderr)
    try:
        variant = load_named_variant(name)
    except VariantUnknown as exc:
        print(exc, file=sys.stderr)
        return 2
    failed = False
    for path in args.files:
        result = lint_file(path, variant)
        if result.ok:
            empty = ", empty: no user data" if result.empty else ""
            print(f"{result.source}: OK (variant '{variant.name}'{empty})")
        else:
            failed = True
            for line in result.problems:
                print(line, file=sys.stderr)
    return 1 if failed else 0


def _install(argv: Sequence[str]) -> int:
    from .install import install_providers

    args = install_parser().parse_args(argv)
    libexec = args.dir or thar_root() / "usr/libexec/early-boot-config"
    for link in install_providers(libexec, args.platform):
        print(f"{link} -> {link.readlink()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "lint":
        return _lint(args[1:])
    if args and args[0] == "install-providers":
        return _install(args[1:])
    return _boot(args)


if __name__ == "__main__":
    sys.exit(main())
