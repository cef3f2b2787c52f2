"""The `trader` command. Thin: parses arguments, calls into the package, prints.

Exit codes: 0 success, 1 a check or run failed, 2 usage or configuration error.
"""

import argparse
import sys
from collections.abc import Sequence

from trader import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trader", description="Multi-venue trading engine with a Rust core.")
    p.add_argument("--version", action="store_true", help="print the package and core versions")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("version", help="print the package and core versions")
    return p


def _version() -> str:
    from trader.core import core_version

    return f"trader {__version__} (core {core_version})"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version or args.command == "version":
        print(_version())
        return EXIT_OK
    _parser().print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
