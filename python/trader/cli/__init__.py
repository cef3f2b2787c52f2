"""The `trader` command. Thin: parses arguments, calls into the package, prints.

Exit codes: 0 success, 1 a run or check failed, 2 usage or configuration error. Every refusal is one
line on stderr, `trader COMMAND: what is wrong`, and nothing is sent.
"""

import argparse
import asyncio
import contextlib
import json
import math
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from trader import __version__
from trader.cli.report import add_monitoring_flags
from trader.cli.report import add_parser as add_report_parser

if TYPE_CHECKING:
    from trader.config import EngineSettings

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

MAX_DURATION_S = 366 * 24 * 3600.0  # a paper session runs at most a year


class UsageError(Exception):
    """A command line argparse refuses (reported as one line, exit 2, instead of usage and an error)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _add_paper(sub: Any) -> None:
    paper = sub.add_parser("paper", help="paper-trade a strategy against a simulated venue (no credentials)")
    paper.add_argument(
        "--exchange",
        default="sim",
        help="venue to rehearse (`trader venues`): sim; binance, polymarket, alpaca, ibkr with --sim",
    )
    paper.add_argument("--sim", action="store_true", help="trade against the venue's local simulator")
    paper.add_argument(
        "--signal", default=None, help="--strategy=event: a JSON-lines probability file, or an http(s) URL"
    )
    paper.add_argument("--market", default=None, help="the venue's market (binance: spot, futures, margin)")
    paper.add_argument(
        "--symbol",
        default=None,
        help="instrument (default: the venue's); a crypto one other than the default gets a market maker "
        "sized from its filters",
    )
    paper.add_argument(
        "--order-entry", default=None, choices=["rest", "ws"], help="orders over REST or the WebSocket API"
    )
    paper.add_argument(
        "--strategy",
        default=None,
        help="default: the venue's first; mm (market maker); pairs (stat-arb SPY/QQQ, ibkr); on polymarket: "
        "binary-mm, rewards, event; across crypto exchanges: xarb, basis (with mm: e.g. mm,xarb,basis)",
    )
    paper.add_argument("--duration", type=float, default=60.0, help="seconds to run (simulated with --fast)")
    paper.add_argument("--seed", type=int, default=7, help="seed of the simulated market")
    paper.add_argument(
        "--fast",
        action="store_true",
        help="simulated time, in process, deterministic for a seed (no sockets, no live view)",
    )
    paper.add_argument(
        "--venue-url",
        default=None,
        help="a running `trader sim` (http://127.0.0.1:PORT) instead of a new one",
    )
    paper.add_argument("--journal", type=Path, default=None, help="SQLite journal file (default: in memory)")
    paper.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML config: [risk] limits; [strategies] (as trader live trades them, unless --strategy); "
        "[venues.X] (a paper account, its risk); [monitoring], [alerts], [logging]",
    )
    paper.add_argument("--json", action="store_true", help="print the summary as JSON (and no live view)")
    paper.add_argument("--no-view", action="store_true", help="no live terminal view")
    add_monitoring_flags(paper, report=True)
    paper.add_argument("--cpu", default=None, help="pin the engine to these CPUs (e.g. 2 or 2,3; Linux)")
    add_busy_poll_flag(paper)


def add_busy_poll_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--busy-poll",
        action="store_true",
        help="the event loop never sleeps in the kernel: reads without a wake-up, and the last order is "
        "rehearsed (nothing sent) about every millisecond to keep its code warm; one whole core (--cpu)",
    )
    p.add_argument(
        "--no-rehearsal", action="store_true", help="with --busy-poll: poll only, no rehearsal of orders"
    )


def polling(args: argparse.Namespace) -> dict[str, bool]:
    """`_run`'s polling arguments from the flags of `add_busy_poll_flag`."""
    return {"busy_poll": args.busy_poll, "rehearse": not args.no_rehearsal}


def engine_flags(args: argparse.Namespace, settings: "EngineSettings") -> None:
    """The config's `[engine]` under the command's flags: `--cpu` wins over `cpu`, `--busy-poll` and
    `--no-rehearsal` add to `busy_poll` and `rehearsal`."""
    if args.cpu is None:
        args.cpu = settings.cpu
    args.busy_poll = args.busy_poll or settings.busy_poll
    args.no_rehearsal = args.no_rehearsal or not settings.rehearsal


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="trader", description="Multi-venue trading engine with a Rust core.")
    p.add_argument("--version", action="store_true", help="print the package and core versions")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("version", help="print the package and core versions")
    _add_paper(sub)
    live = sub.add_parser(
        "live", help="trade for real: needs --confirm, explicit risk limits and a passing preflight"
    )
    live.add_argument(
        "--exchange", required=True, help="venue ids, comma-separated: one engine trades them all"
    )
    live.add_argument("--confirm", action="store_true", help="yes, send real orders")
    live.add_argument("--config", type=Path, default=Path("~/.trader/config.toml"), help="TOML config")
    live.add_argument("--cpu", default=None, help="pin the engine to these CPUs (e.g. 2 or 2,3; Linux)")
    add_busy_poll_flag(live)
    add_monitoring_flags(live, report=False)
    add_report_parser(sub)
    sub.add_parser("venues", help="list venues: tier, status and capabilities")
    sim = sub.add_parser("sim", help="run a venue simulator on loopback, for rehearsals and client libraries")
    sim.add_argument(
        "venue", help="sim, or binance (both serve the Binance spot, futures and margin protocol)"
    )
    sim.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0: any free port)")
    sim.add_argument("--seed", type=int, default=7, help="seed of the simulated market")
    testnet = sub.add_parser(
        "testnet", help="per venue: reachability, clock offset, auth, market data, an order round trip"
    )
    testnet.add_argument("--config", type=Path, default=Path("~/.trader/config.toml"), help="TOML config")
    testnet.add_argument(
        "--exchange",
        "--venue",
        dest="venue",
        default=None,
        help="only these venues, comma-separated (default: every configured venue; with --sim: their "
        "simulators, default sim)",
    )
    testnet.add_argument(
        "--market", default=None, choices=["spot", "futures", "margin"], help="with --sim: only this market"
    )
    testnet.add_argument("--sim", action="store_true", help="check the built-in simulator (no config)")
    testnet.add_argument("--order", action="store_true", help="also place and cancel a tiny far-away order")
    from trader.cli.config import add_parser as add_config
    from trader.cli.latency import add_parser as add_latency

    add_latency(sub)

    add_config(sub)
    from trader.cli.approve import add_parser as add_approve

    add_approve(sub)
    kill = sub.add_parser("kill", help="latch the kill switch of an engine and cancel its orders")
    kill.add_argument("--journal", type=Path, default=None, help="the running engine's journal")
    kill.add_argument(
        "--config", type=Path, default=None, help="cancel at every venue of this config, with its credentials"
    )
    kill.add_argument(
        "--venue",
        default=None,
        help="only these venues (comma-separated): with --journal, halt them in the running engine; with "
        "--config, cancel there; with --reset, clear their latch",
    )
    kill.add_argument("--venue-url", default=None, help="also cancel directly at this `trader sim` server")
    kill.add_argument("--reset", action="store_true", help="clear the latch (takes effect at the next start)")
    kill.add_argument("--operator", default=None, help="who resets the latch (required with --reset)")
    kill.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="with --reset: the token the engine wrote at start (<journal>.reset-token)",
    )
    return p


def _run(coro: Coroutine[Any, Any, T], *, busy_poll: bool = False, rehearse: bool = True) -> T:
    """Run a command's event loop: uvloop when it is installed (a dependency on Linux; elsewhere
    `pip install trader[fast]`), else asyncio. `busy_poll`: the loop never sleeps in the kernel
    (`trader.engine.loops.busy_poll`), and with `rehearse` the engines rehearse their orders in its idle
    turns (`trader.engine.rehearsal`)."""
    runner: Callable[[Coroutine[Any, Any, T]], T] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    return runner(_polling(coro, rehearse) if busy_poll else coro)


async def _polling(coro: Coroutine[Any, Any, T], rehearse: bool) -> T:
    from trader.clock import LiveClock
    from trader.engine.loops import IDLE, Idle, busy_poll

    idle = Idle() if rehearse else None
    IDLE.set(idle)  # the engines of `coro` (a task of this context) find it and rehearse in it
    spinner = asyncio.get_running_loop().create_task(busy_poll(LiveClock(), idle))
    try:
        return await coro
    finally:
        spinner.cancel()


def _version() -> str:
    from trader.core import core_version

    return f"trader {__version__} (core {core_version})"


def _paper_venues(args: argparse.Namespace) -> list[str]:
    """The venues of `--exchange` (a comma-separated list), each known and built, with `--strategy`
    available on each; options that name one venue's instrument or market refused for several."""
    from trader.cli.rigs import strategies as venue_strategies
    from trader.errors import ConfigError
    from trader.venues import registry

    exchanges = [e.strip() for e in args.exchange.split(",") if e.strip()]
    if not exchanges or len(set(exchanges)) != len(exchanges):
        raise ConfigError(f"--exchange={args.exchange!r}: name each venue once (e.g. binance,polymarket)")
    cross = _cross_kinds(args)
    for name in exchanges:
        prof = registry.profile(name)
        registry.package(name)
        available = venue_strategies(prof)
        if args.strategy is not None and not cross and args.strategy not in available:
            raise ConfigError(
                f"strategy {args.strategy!r} is not available on {name} (available: {', '.join(available)})"
            )
    if cross:
        from trader.cli.crossvenue import check_exchanges

        if not args.sim:
            raise ConfigError(f"--strategy={args.strategy} rehearses on the exchanges' simulators: add --sim")
        check_exchanges(exchanges, cross)
    if len(exchanges) > 1 or cross:
        for flag, given in (
            ("--fast", args.fast),
            ("--symbol", args.symbol),
            ("--venue-url", args.venue_url),
        ):
            if given:
                raise ConfigError(f"{flag} applies to one venue; with several, leave it out")
        if args.market:
            raise ConfigError("--market applies to one venue; name the market's venue (e.g. binance-futures)")
    elif args.fast and exchanges != ["sim"]:
        raise ConfigError(
            f"--fast runs the built-in sim venue in simulated time; {exchanges[0]}'s simulator runs in real"
            " time: leave --fast out"
        )
    return exchanges


def _cross_kinds(args: argparse.Namespace) -> list[str]:
    """`--strategy` naming a cross-venue strategy (xarb, basis; with mm beside them): its kinds, else []."""
    from trader.cli.crossvenue import CROSS, kinds_of

    if not args.strategy or not set(args.strategy.split(",")) & CROSS:
        return []
    return kinds_of(args.strategy)


def _paper(args: argparse.Namespace) -> int:
    from trader.errors import ConfigError

    try:
        exchanges = _paper_venues(args)
    except ConfigError as e:
        print(f"trader paper: {e}", file=sys.stderr)
        return EXIT_USAGE
    if len(exchanges) == 1:
        args.exchange = exchanges[0]
    if not math.isfinite(args.duration) or not 0 < args.duration <= MAX_DURATION_S:
        print(f"trader paper: --duration must be > 0 and at most {MAX_DURATION_S:.0f} s", file=sys.stderr)
        return EXIT_USAGE
    from trader.cli import report
    from trader.config import load_config
    from trader.errors import TraderError

    try:
        _check_paper_inputs(args)
        report.check_flags(args)
        from trader.cli.latency import pin

        config = load_config(args.config) if args.config is not None else None
        if config is not None:
            engine_flags(args, config.engine)
        pin(args.cpu)
        planned, cross, unplanned = _config_strategies(args, config, exchanges)
        monitor = report.monitor(args, args.config)
    except ConfigError as e:
        print(f"trader paper: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with report.report_journal(args):
            summary, notes = _paper_run(args, exchanges, config, monitor, planned, cross)
            notes = unplanned + notes
            if args.report is not None:
                report.write(args.journal, args.report)
    except ConfigError as e:
        print(f"trader paper: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TraderError as e:
        print(f"trader paper: {e}", file=sys.stderr)
        return EXIT_FAILED
    data = summary.as_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        clock = "simulated" if args.fast else "real"
        print(f"paper session on {args.exchange}: {summary.seconds:g} {clock} seconds, seed {args.seed}")
        _print_summary(data)
        for line in notes:
            print(f"  {line}")
    if summary.failure:
        print(f"trader: {summary.failure}", file=sys.stderr)
    return EXIT_OK if summary.open_orders_after_shutdown == 0 and not summary.failure else EXIT_FAILED


def _config_strategies(
    args: argparse.Namespace, config: Any, exchanges: list[str]
) -> tuple[dict[str, Any], Any, list[str]]:
    """Without `--strategy`, what the config's `[strategies]` trade on the paper venues, as under `trader
    live`: the single-venue ones by venue; the cross-venue session when the config has cross-venue ones
    here and `--sim` (its spot exchanges, kinds and `crossvenue.Configured`), else a note for each."""
    if config is None or args.strategy is not None:
        return {}, None, []
    from trader.cli.plan import configured, cross_plans
    from trader.engine.engine import DEFAULT_RISK
    from trader.errors import ConfigError

    planned = configured(config, exchanges, config.risk or DEFAULT_RISK)
    if args.fast and planned:
        names = ", ".join(f"[strategies.{p.label}]" for p in planned.values())
        raise ConfigError(
            f"--fast runs the built-in market maker, not {names}: leave --fast out to rehearse it"
        )
    crosses = cross_plans(config, exchanges)
    if crosses and args.sim:
        from trader.cli.crossvenue import Configured, configured_session

        both = Configured(tuple(crosses), planned)
        spots, kinds = configured_session(exchanges, both)
        return planned, (spots, kinds, both), []
    notes = [
        f"[strategies.{c.label}] ({c.kind} on {', '.join(v for v, _ in c.legs)}) is not run here: "
        "a paper rehearsal runs it on the exchanges' simulators (--sim)"
        for c in crosses
    ]
    return planned, None, notes


def _paper_run(
    args: argparse.Namespace,
    exchanges: list[str],
    config: Any,
    monitor: Any,
    planned: dict[str, Any],
    cross: Any = None,
) -> tuple[Any, list[str]]:
    """The paper session `args` asks for (cross-venue strategies, several venues, simulated time, or one
    venue in real time): its summary, and a line per cross-venue strategy. `planned`, `cross`: what the
    config's strategies trade (`_config_strategies`)."""
    risk = config.risk if config is not None else None
    if cross is not None:
        from trader.cli.crossvenue import paper_cross

        spots, kinds, configured = cross
        return _run(paper_cross(args, spots, kinds, risk, monitor, configured), **polling(args))
    if _cross_kinds(args):
        from trader.cli.crossvenue import paper_cross

        return _run(paper_cross(args, exchanges, _cross_kinds(args), risk, monitor), **polling(args))
    if len(exchanges) > 1:
        from trader.cli.run import paper_multi

        return _run(paper_multi(args, exchanges, risk, monitor, config, planned), **polling(args)), []
    if args.fast:
        from trader.monitoring.session import monitored
        from trader.sim.session import PaperConfig, PaperSession

        config = PaperConfig(seed=args.seed, duration_s=args.duration, journal=args.journal, risk=risk)
        session = PaperSession(config)
        return asyncio.run(monitored(monitor, session.engine, session.run_async())), []
    from trader.cli.run import paper_realtime

    return _run(paper_realtime(args, risk, monitor, config, planned), **polling(args)), []


def _print_summary(data: dict[str, object]) -> None:
    """The summary as lines; the breakdown (per venue, strategy, asset) one line per row."""
    for k, v in data.items():
        if isinstance(v, dict) and k in ("venues", "strategies", "assets"):
            print(f"  {k}:")
            for name, row in v.items():
                fields = row.items() if isinstance(row, dict) else ()
                print(f"    {name:<24} " + "  ".join(f"{f.replace('_', ' ')} {x}" for f, x in fields))
        else:
            print(f"  {k.replace('_', ' '):<28} {v}")


def _check_url(option: str, url: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """`ConfigError` unless `url` is `scheme://host[:port]...` with one of `schemes` and a valid port."""
    from trader.errors import ConfigError

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, -1
    if parts is None or parts.scheme not in schemes or not parts.hostname or port == 0:
        raise ConfigError(f"{option}={url!r} is not a URL like {schemes[0]}://HOST:PORT")


def _check_journal(path: Path) -> None:
    """Open the journal and read every row (`ConfigError` if it is not a usable journal); nothing runs if
    it is not. A new journal is created (0600) here."""
    from trader.engine.journal import Journal

    journal = Journal(path)
    try:
        journal.verify()
    finally:
        journal.close()


def _check_paper_inputs(args: argparse.Namespace) -> None:
    """What `paper` is given, checked before anything starts (`ConfigError`)."""
    from trader.errors import ConfigError

    if args.venue_url is not None:
        _check_url("--venue-url", args.venue_url, ("http", "https", "tcp"))  # tcp: a TWS-protocol gateway
    if args.signal is not None:
        if args.signal.startswith(("http://", "https://")):
            _check_url("--signal", args.signal)
        elif not Path(args.signal).is_file():
            raise ConfigError(f"--signal={args.signal}: no such file")
    if args.journal is not None:
        _check_journal(args.journal)


def _sim(args: argparse.Namespace) -> int:
    from trader.errors import ConfigError
    from trader.sim.server import run_forever
    from trader.venues import registry

    try:
        registry.package(args.venue)
    except ConfigError as e:
        print(f"trader sim: no simulator: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.port <= 65535:
        print(
            f"trader sim: --port={args.port} is not a TCP port (0 to 65535; 0: any free port)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    return run_forever(args.venue, args.port, args.seed)


def _kill(args: argparse.Namespace) -> int:
    from trader.cli.kill import main as kill

    return kill(args)


def _testnet(args: argparse.Namespace) -> int:
    from trader.cli.testnet import run_checks
    from trader.errors import ConfigError, TraderError

    try:
        checks, notes = _run(run_checks(args))
    except ConfigError as e:
        print(f"trader testnet: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TraderError as e:  # a credential the venue's signer refuses (a wrong keystore password, a bad key)
        print(f"trader testnet: {e}; nothing was sent", file=sys.stderr)
        return EXIT_FAILED
    width = max([12, *(len(c.venue) + 2 for c in checks)])
    print(f"{'venue':<{width}}{'check':<18}{'verdict':<9}detail")
    for c in checks:
        print(f"{c.venue:<{width}}{c.name:<18}{c.verdict:<9}{c.detail}")
    failed = [c for c in checks if c.ok is False]
    passed, skipped = sum(c.ok is True for c in checks), sum(c.ok is None for c in checks)
    print(f"{len(failed)} failed, {passed} passed, {skipped} skipped")
    for note in notes:  # a venue without a testnet: what ran
        print(f"note: {note}")
    return EXIT_FAILED if failed or not checks else EXIT_OK


def _venues() -> int:
    from trader.venues import registry

    width = max(12, *(len(name) + 2 for name in registry.names()))
    print(f"{'venue':<{width}}{'tier':<12}status")
    for name in registry.names():
        p = registry.profile(name)
        print(f"{p.name:<{width}}{p.tier.value:<12}{p.summary}")
        if p.tier.value == "broker":
            for line in day_trading_lines():
                print(f"{'':<{width + 12}}{line}")
    return EXIT_OK


def day_trading_lines() -> list[str]:
    """What `trader venues` says of a broker's day-trading rule (`[venues.X] day_trading_rule`): the
    default with its dates, then the other choices."""
    from trader.engine.equity import DEFAULT_RULE, RULE_DESCRIPTIONS, DayTradingRule

    others = "; ".join(f"{r.value}: {RULE_DESCRIPTIONS[r]}" for r in DayTradingRule if r is not DEFAULT_RULE)
    return [
        f"day_trading_rule = {DEFAULT_RULE.value} (default): {RULE_DESCRIPTIONS[DEFAULT_RULE]}",
        f"  or {others}",
    ]


def _live_venues(args: argparse.Namespace) -> tuple[list[str], Any]:
    """The venues of `--exchange` (comma-separated), each built and configured, and the config."""
    from trader.config import load_config
    from trader.errors import ConfigError
    from trader.venues import registry

    venues = [v.strip() for v in args.exchange.split(",") if v.strip()]
    if not venues or len(set(venues)) != len(venues):
        raise ConfigError(
            f"--exchange={args.exchange!r}: name each venue once (e.g. binance,binance-futures)"
        )
    for name in venues:
        registry.package(name)
    if not args.confirm:
        raise ConfigError("refusing to send real orders without --confirm")
    config = load_config(args.config)
    if config.risk is None:
        raise ConfigError(f"{args.config} has no [risk] section; every limit must be explicit")
    for name in venues:
        if name not in config.venues:
            raise ConfigError(f"{args.config} has no [venues.{name}] section")
    from trader.cli.plan import plan

    plan(config, venues)  # each configured strategy can run here
    return venues, config


def _live(args: argparse.Namespace) -> int:
    from trader.cli import report
    from trader.errors import ConfigError

    try:
        venues, config = _live_venues(args)
        report.check_flags(args)
        from trader.cli.latency import pin

        engine_flags(args, config.engine)
        pin(args.cpu)
        monitor = report.monitor(args, args.config)
    except ConfigError as e:
        print(f"trader live: {e}", file=sys.stderr)
        return EXIT_USAGE
    r = config.risk
    print(f"limits that would be enforced on {', '.join(venues)} (all: `trader config check`):")
    for k, v in vars(r).items():
        if not isinstance(v, dict):  # the six limits and the reporting currency
            print(f"  {k:<22} {v}")
    from trader.cli.run import live_session
    from trader.errors import TraderError

    try:
        summary = _run(live_session(venues, config, monitor), **polling(args))
    except TraderError as e:
        print(f"trader live: {e}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(summary.as_dict(), indent=2))
    if summary.failure:
        print(f"trader: {summary.failure}", file=sys.stderr)
    return EXIT_OK if summary.open_orders_after_shutdown == 0 and not summary.failure else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every refusal is one line on stderr and an exit code (see the module docstring)."""
    import sqlite3

    from trader.errors import ConfigError, TraderError

    try:
        args = _parser().parse_args(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    try:
        return _dispatch(args)
    except BrokenPipeError:  # the reader went away (`trader venues | head`): nothing more to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except ConfigError as e:  # a bad file or value a command did not report itself (a journal, a keystore)
        print(f"trader {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TraderError as e:
        print(f"trader {args.command}: {e}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.DatabaseError as e:  # a journal damaged where opening it did not look (`kill` is quick)
        print(
            f"trader {args.command}: journal {getattr(args, 'journal', '')} is damaged: {e}", file=sys.stderr
        )
        return EXIT_USAGE


def _dispatch(args: argparse.Namespace) -> int:
    if args.version or args.command == "version":
        print(_version())
        return EXIT_OK
    if args.command == "paper":
        return _paper(args)
    if args.command == "live":
        return _live(args)
    if args.command == "venues":
        return _venues()
    if args.command == "sim":
        return _sim(args)
    if args.command == "kill":
        if args.venue_url is not None:
            _check_url("--venue-url", args.venue_url)
        return _kill(args)
    if args.command == "testnet":
        return _testnet(args)
    if args.command == "report":
        from trader.cli.report import main as report

        return report(args)
    if args.command == "config":
        from trader.cli.config import main as config

        return config(args)
    if hasattr(args, "command_main"):  # a command that registers its own entry point (approve, latency)
        return int(args.command_main(args))
    _parser().print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
