"""The `trader` command. Thin: parses arguments, calls into the package, prints.

Exit codes: 0 success, 1 a run or check failed, 2 usage or configuration error.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from trader import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trader", description="Multi-venue trading engine with a Rust core.")
    p.add_argument("--version", action="store_true", help="print the package and core versions")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("version", help="print the package and core versions")
    paper = sub.add_parser("paper", help="paper-trade a strategy against a simulated venue (no credentials)")
    paper.add_argument("--exchange", default="sim", help="venue to rehearse (only the built-in `sim` today)")
    paper.add_argument(
        "--sim", action="store_true", help="use the venue's local simulator (the default today)"
    )
    paper.add_argument("--strategy", default="mm", help="strategy (only the market maker `mm` today)")
    paper.add_argument("--duration", type=float, default=60.0, help="simulated seconds to run")
    paper.add_argument("--seed", type=int, default=7, help="seed of the simulated market")
    paper.add_argument("--journal", type=Path, default=None, help="SQLite journal file (default: in memory)")
    paper.add_argument(
        "--config", type=Path, default=None, help="TOML config whose [risk] limits the gate enforces"
    )
    paper.add_argument("--json", action="store_true", help="print the summary as JSON")
    live = sub.add_parser(
        "live", help="trade for real: needs --confirm, explicit risk limits and a passing preflight"
    )
    live.add_argument("--exchange", required=True, help="venue id")
    live.add_argument("--confirm", action="store_true", help="yes, send real orders")
    live.add_argument("--config", type=Path, default=Path("~/.trader/config.toml"), help="TOML config")
    sub.add_parser("venues", help="list venues: tier, status and capabilities")
    return p


def _version() -> str:
    from trader.core import core_version

    return f"trader {__version__} (core {core_version})"


def _paper(args: argparse.Namespace) -> int:
    if args.exchange != "sim" or args.strategy != "mm":
        print(
            f"trader paper: --exchange={args.exchange} --strategy={args.strategy} is not available yet; "
            "use --exchange=sim --strategy=mm",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.duration <= 0:
        print("trader paper: --duration must be > 0", file=sys.stderr)
        return EXIT_USAGE
    from trader.config import load_config
    from trader.engine.paper import PaperConfig, PaperSession
    from trader.errors import ConfigError, TraderError

    try:
        risk = load_config(args.config).risk if args.config is not None else None
    except ConfigError as e:
        print(f"trader paper: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = PaperConfig(seed=args.seed, duration_s=args.duration, journal=args.journal, risk=risk)
        summary = PaperSession(config).run()
    except TraderError as e:
        print(f"trader paper: {e}", file=sys.stderr)
        return EXIT_FAILED
    data = summary.as_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(f"paper session on the simulated venue: {args.duration:g} simulated seconds, seed {args.seed}")
        for k, v in data.items():
            print(f"  {k.replace('_', ' '):<28} {v}")
    return EXIT_OK if summary.open_orders_after_shutdown == 0 else EXIT_FAILED


VENUES = {
    "ibkr": "broker",
    "alpaca": "broker",
    "binance": "crypto",
    "coinbase": "crypto",
    "kraken": "crypto",
    "okx": "crypto",
    "bybit": "crypto",
    "polymarket": "prediction",
    "sim": "simulated",
}


def _venues() -> int:
    from trader.venues.sim import CAPABILITIES

    print(f"{'venue':<12}{'tier':<12}status")
    for name, tier in VENUES.items():
        if name == "sim":
            caps = CAPABILITIES
            detail = (
                f"built in: {', '.join(sorted(caps.order_types))}; {', '.join(sorted(caps.time_in_force))}; "
                f"post-only {'yes' if caps.post_only else 'no'}"
            )
        else:
            detail = "request signing ready (trader.core); connector and simulator not built yet"
        print(f"{name:<12}{tier:<12}{detail}")
    return EXIT_OK


def _live(args: argparse.Namespace) -> int:
    from trader.config import load_config
    from trader.errors import ConfigError

    if args.exchange not in VENUES:
        print(f"trader live: unknown venue {args.exchange!r}", file=sys.stderr)
        return EXIT_USAGE
    if not args.confirm:
        print("trader live: refusing to send real orders without --confirm", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"trader live: {e}", file=sys.stderr)
        return EXIT_USAGE
    if config.risk is None:
        print(
            f"trader live: {args.config} has no [risk] section; every limit must be explicit", file=sys.stderr
        )
        return EXIT_USAGE
    if args.exchange not in config.venues:
        print(f"trader live: {args.config} has no [venues.{args.exchange}] section", file=sys.stderr)
        return EXIT_USAGE
    r = config.risk
    print(f"limits that would be enforced on {args.exchange}:")
    for k, v in vars(r).items():
        print(f"  {k:<22} {v}")
    print(
        f"trader live: preflight failed: the {args.exchange} connector is not built yet; nothing was sent",
        file=sys.stderr,
    )
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version or args.command == "version":
        print(_version())
        return EXIT_OK
    if args.command == "paper":
        return _paper(args)
    if args.command == "live":
        return _live(args)
    if args.command == "venues":
        return _venues()
    _parser().print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
