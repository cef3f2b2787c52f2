"""`trader approve --exchange=NAME`: the on-chain approvals a venue's wallet needs before it trades (a
capability of the venue's profile, `VenueProfile.approve`; the CLI names no venue).

    trader approve --exchange=NAME [--config FILE]             show what is given and what is missing
    trader approve --exchange=NAME [--config FILE] --confirm   sign and send the missing approvals
    trader approve ... --wrap=AMOUNT --confirm                 also wrap AMOUNT of the deposit asset

Exit codes: 0 nothing missing (after sending, with --confirm), 1 something missing or a transaction
failed, 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from trader.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _run
from trader.clock import LiveClock
from trader.errors import ConfigError


def add_parser(sub: Any) -> None:
    from trader.cli.config import DEFAULT_PATH

    p = sub.add_parser("approve", help="show, and with --confirm send, the on-chain approvals a venue needs")
    p.add_argument("--exchange", required=True, help="the venue (one with approvals: `trader venues`)")
    p.add_argument("--config", type=Path, default=DEFAULT_PATH, help="TOML config with the venue's wallet")
    p.add_argument("--confirm", action="store_true", help="sign and send the missing approvals")
    p.add_argument("--wrap", default=None, help="also wrap this amount of the deposit asset into collateral")
    p.set_defaults(command_main=main)


def main(args: argparse.Namespace) -> int:
    from trader.config import load_config
    from trader.venues import registry

    try:
        hook = registry.profile(args.exchange).approve
        if hook is None:
            raise ConfigError(f"{args.exchange} needs no on-chain approvals")
        venues = load_config(args.config).venues
        if args.exchange not in venues:
            raise ConfigError(f"{args.config} has no [venues.{args.exchange}] table")
        if args.wrap is not None and not args.confirm:
            print("trader approve: --wrap sends a transaction: shown only (add --confirm)", file=sys.stderr)
        ok = _run(
            hook(venues[args.exchange], clock=LiveClock(), confirm=args.confirm, out=print, wrap=args.wrap)
        )
    except ConfigError as e:
        print(f"trader approve: {e}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if ok else EXIT_FAILED
