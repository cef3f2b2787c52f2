"""The async bodies of the CLI commands that run the engine in real time."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live

from trader.clock import LiveClock
from trader.config import Config, RiskLimits
from trader.engine.engine import DEFAULT_RISK, Engine, EngineConfig, Summary
from trader.engine.journal import Journal
from trader.engine.paper import INSTRUMENT, demo_market_maker

if TYPE_CHECKING:
    from trader.cli.testnet import Check
from trader.venues.registry import loopback_connector


async def paper_realtime(args: argparse.Namespace, risk: RiskLimits | None) -> Summary:
    """The engine in real time, through the real connector and sockets, against a loopback simulator:
    a new in-process one, or a running `trader sim` (`--venue-url`). Ctrl-C stops it cleanly."""
    from trader.sim.spot import SpotSimServer

    clock = LiveClock()
    server: SpotSimServer | None = None
    url = args.venue_url
    if url is None:
        server = SpotSimServer(seed=args.seed, clock=clock)
        await server.start(port=0)
        url = server.url
    connector = loopback_connector(url, symbol=INSTRUMENT, clock=clock, venue=args.exchange)
    journal = Journal(args.journal if args.journal is not None else ":memory:")
    engine = Engine(
        connector,
        demo_market_maker(),
        journal=journal,
        clock=clock,
        config=EngineConfig(symbol=INSTRUMENT, risk=risk or DEFAULT_RISK),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, engine.stop)
    show = not args.json and not args.no_view and sys.stdout.isatty()
    try:
        if show:
            from trader.cli.view import render

            started = clock.monotonic_ns()
            with Live(console=Console(), refresh_per_second=4, transient=True) as live:

                def tick(e: Engine) -> None:
                    if e.gate is not None:
                        elapsed = (clock.monotonic_ns() - started) / 1e9
                        live.update(render(e.snapshot(), args.exchange, elapsed))

                return await engine.run(args.duration, on_tick=tick)
        return await engine.run(args.duration)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await connector.close()
        journal.close()
        if server is not None:
            await server.stop()


async def cancel_at(url: str) -> int:
    """Cancel every open order of the demo account at a `trader sim` server (for `trader kill`)."""
    connector = loopback_connector(url, symbol=INSTRUMENT, clock=LiveClock())
    try:
        await connector.sync_time()
        return await connector.cancel_all(INSTRUMENT)
    finally:
        await connector.close()


async def testnet_checks(args: argparse.Namespace) -> list[Check]:
    """The checks of `trader testnet` for every configured venue (or the built-in simulator)."""
    from trader.cli.testnet import Check, check_binance_like
    from trader.config import load_config
    from trader.sim.spot import SpotSimServer
    from trader.venues.registry import VENUES, build_connector

    clock = LiveClock()
    if args.sim:
        server = SpotSimServer(seed=7, clock=clock)
        await server.start(port=0)
        conn = loopback_connector(server.url, symbol=INSTRUMENT, clock=clock)
        try:
            return await check_binance_like(conn, order=args.order, clock=clock)
        finally:
            await conn.close()
            await server.stop()
    config = load_config(args.config)
    out: list[Check] = []
    for name, vcfg in config.venues.items():
        if args.venue is not None and name != args.venue:
            continue
        if name != "binance":
            status = VENUES[name].status if name in VENUES else "unknown venue"
            out.append(Check(name, "connector", None, status))
            continue
        conn = build_connector(vcfg, symbol=INSTRUMENT, clock=clock)
        try:
            out += await check_binance_like(conn, order=args.order, clock=clock)
        finally:
            await conn.close()
    return out


async def live_session(venue: str, config: Config) -> Summary:
    """`trader live`: preflight (reachability, clock, auth, market data), then the engine until Ctrl-C.
    Raises `TraderError` when the preflight fails; nothing is sent then."""
    from trader.cli.testnet import check_binance_like
    from trader.errors import ConfigError, TraderError
    from trader.venues.registry import build_connector

    clock = LiveClock()
    try:
        conn = build_connector(config.venues[venue], symbol=INSTRUMENT, clock=clock)
    except ConfigError as e:
        raise TraderError(f"preflight failed: {e}; nothing was sent") from None
    try:
        checks = await check_binance_like(conn, order=False, clock=clock)
        failed = [f"{c.name}: {c.detail}" for c in checks if c.ok is False]
        if failed:
            raise TraderError(f"preflight failed: {'; '.join(failed)}; nothing was sent")
        assert config.risk is not None
        home = Path("~/.trader").expanduser()
        home.mkdir(parents=True, exist_ok=True)
        journal = Journal(home / f"journal-{venue}.db")
        engine = Engine(
            conn,
            demo_market_maker(),
            journal=journal,
            clock=clock,
            config=EngineConfig(symbol=INSTRUMENT, risk=config.risk),
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, engine.stop)
        try:
            return await engine.run(None)
        finally:
            journal.close()
    finally:
        await conn.close()
