"""`trader kill`: latch an engine's kill switch and wake it; cancel at the venues out of band; reset with
proof. (The mechanism: `trader.engine.killswitch`.)

    trader kill --journal J                 latch (durable), then SIGUSR1 to the engine running on J
    trader kill --config FILE [--venue V]   cancel every open order at each configured venue, with its
                                            configured credentials (`cancel_all` through the registry)
    trader kill --venue-url URL             cancel at a `trader sim` server (its demo account)
    trader kill --journal J --reset --operator NAME (--token-file J.reset-token | --config FILE)

The options combine: `--journal J --config FILE` halts the engine and cancels at the venues itself, so the
orders go even if the engine is stuck. Every kill and reset is audited in the journal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from trader.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _run
from trader.clock import LiveClock
from trader.config import URL_OPTIONS, Config, load_config
from trader.engine import killswitch
from trader.engine.journal import Journal
from trader.errors import ConfigError, TraderError

VENUE_TIMEOUT_S = 30.0  # per venue: connect and cancel everything


def _fail(message: str, code: int) -> int:
    print(f"trader kill: {message}", file=sys.stderr)
    return code


def main(args: argparse.Namespace) -> int:
    if args.venue is not None and args.config is None and args.journal is None:
        return _fail("--venue needs --journal (halt that venue of the engine) or --config", EXIT_USAGE)
    if args.reset:
        return _reset(args)
    if args.journal is None and args.config is None and args.venue_url is None:
        return _fail("say what to kill: --journal, --config or --venue-url", EXIT_USAGE)
    try:
        config = load_config(args.config) if args.config is not None else None
        venues = _venues(args.venue)
        journal = _targets(args, config, venues)
    except ConfigError as e:
        return _fail(str(e), EXIT_USAGE)
    code = EXIT_OK
    try:
        if journal is not None:
            _latch(journal, venues)
        if args.venue_url:
            from trader.cli.run import cancel_at

            canceled = _run(cancel_at(args.venue_url))
            print(f"canceled {canceled} open orders at {args.venue_url}")
        if config is not None:
            code = _cancel_at_venues(config, venues)
    except TraderError as e:
        return _fail(str(e), EXIT_FAILED)
    finally:
        if journal is not None:
            journal.close()
    return code


def _open(path: Path) -> Journal:
    if not path.exists():
        raise ConfigError(f"no journal at {path}")
    return Journal(path)


def _targets(args: argparse.Namespace, config: Config | None, venues: list[str]) -> Journal | None:
    """The named venues exist where they are to be killed; the journal, opened."""
    missing = [n for n in venues if config is not None and n not in config.venues]
    if missing:
        raise ConfigError(f"{args.config} has no [venues.{missing[0]}] section")
    journal = _open(args.journal) if args.journal is not None else None
    if journal is not None and venues:
        _check_journal_venues(journal, venues)
    return journal


def _venues(option: str | None) -> list[str]:
    """`--venue a,b`: the venues named (none: every venue)."""
    return [v.strip() for v in (option or "").split(",") if v.strip()]


def _check_journal_venues(journal: Journal, venues: list[str]) -> None:
    trading = (journal.get_meta("venue") or "").split(",")
    unknown = [v for v in venues if v not in trading]
    if unknown:
        has = ", ".join(trading) or "nothing yet"
        raise ConfigError(f"the engine on {journal.path} trades {has}, not {', '.join(unknown)}")


def _latch(journal: Journal, venues: list[str]) -> None:
    """Latch everything, or the named venues (`kill:<venue>`), durably; then wake the engine."""
    keys = [f"kill:{v}" for v in venues] or ["kill"]
    numbers = [journal.next_value(k) for k in keys]  # durable first: the next start begins HALTED
    pid = killswitch.signal_engine(journal)
    for key, n in zip(keys, numbers, strict=True):
        venue = key.partition(":")[2] or "all"
        killswitch.audit(journal, "kill", LiveClock().now_ns(), number=n, signalled=pid, venue=venue)
    what = f"venue {', '.join(venues)}" if venues else "every venue"
    print(f"kill switch latched for {what}: the engine cancels everything there and sends nothing new")
    if pid is not None:
        print(f"engine (pid {pid}) woken: HALTED at once")
    else:
        print(
            "no running engine found on this journal to wake: the latch holds (it polls, and starts halted)"
        )


def _cancel_at_venues(config: Config, only: list[str]) -> int:
    names = only or list(config.venues)
    if not names:
        print("no venues configured: nothing to cancel")
        return EXIT_OK
    results = _run(_cancel_all(config, names))
    failed = 0
    for name, outcome in zip(names, results, strict=True):
        if isinstance(outcome, int):
            print(f"{name}: canceled {outcome} open orders")
        else:
            failed += 1
            print(f"{name}: FAILED to cancel: {outcome}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


async def _cancel_all(config: Config, names: list[str]) -> list[int | str]:
    """Every venue at once (a kill must not wait on the slowest): its count, or why it failed."""
    return list(await asyncio.gather(*(_cancel_one(config, name) for name in names)))


async def _cancel_one(config: Config, name: str) -> int | str:
    from trader.venues.registry import build_connector, venue_symbol

    vcfg = config.venues[name]
    try:
        clock = LiveClock()
        conn = build_connector(vcfg, symbol=venue_symbol(vcfg), clock=clock)
    except TraderError as e:
        return str(e)
    try:
        await clock.wait_for(conn.connect(), VENUE_TIMEOUT_S)
        return await clock.wait_for(conn.cancel_all(None), VENUE_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {VENUE_TIMEOUT_S:g}s"
    except TraderError as e:
        return str(e)
    finally:
        await conn.close()


def _reset(args: argparse.Namespace) -> int:
    if args.journal is None or not args.operator:
        return _fail("--reset needs --journal and --operator NAME (it is audited)", EXIT_USAGE)
    if args.token_file is None and args.config is None:
        return _fail(
            "--reset needs proof: --token-file (the <journal>.reset-token the engine wrote) or --config "
            "(the configured credentials)",
            EXIT_USAGE,
        )
    try:
        journal = _open(args.journal)
    except ConfigError as e:
        return _fail(str(e), EXIT_USAGE)
    try:
        proof = _proof(args, journal)
        if proof is None:
            return _fail("refused: the proof does not match; the kill switch stays latched", EXIT_FAILED)
        venues = _venues(args.venue)
        # no --venue: the whole engine's latch and every venue's; else only those venues'
        every = [v for v in (journal.get_meta("venue") or "").split(",") if v]
        keys = [f"kill:{v}" for v in venues] if venues else ["kill", *(f"kill:{v}" for v in every)]
        for key in keys:
            journal.set_counter_at_least(key.replace("kill", "kill_reset", 1), journal.get_counter(key))
        journal.set_meta("kill_reset_by", args.operator)
        killswitch.audit(
            journal,
            "reset",
            LiveClock().now_ns(),
            operator=args.operator,
            proof=proof,
            venue=",".join(venues) or "all",
        )
    except ConfigError as e:
        return _fail(str(e), EXIT_USAGE)
    except TraderError as e:  # a keystore that does not open with the given password
        return _fail(f"refused: {e}; the kill switch stays latched", EXIT_FAILED)
    finally:
        journal.close()
    print(f"kill switch cleared by {args.operator}; it takes effect when the engine next starts")
    return EXIT_OK


def _proof(args: argparse.Namespace, journal: Journal) -> str | None:
    """How the operator proved the right to reset ("token" or "config"), or None (refused)."""
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise ConfigError(f"cannot read the token file {args.token_file}") from None
        return "token" if killswitch.token_matches(journal, token) else None
    config = load_config(args.config)
    names = _venues(args.venue) or list(config.venues)
    refs = [
        ref
        for n in names
        if n in config.venues
        for k, ref in config.venues[n].secrets.items()
        if k not in URL_OPTIONS  # a provider's URL proves nothing
    ]
    if not refs:
        raise ConfigError(f"{args.config} has no venue with credentials to prove the reset with")
    for ref in refs:
        ref.resolve()  # raises ConfigError when a secret is missing or its keystore does not open
    return "config"
