"""The async bodies of the CLI commands that run the engine in real time."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rich.console import Console
from rich.live import Live

from trader.clock import Clock, LiveClock, ShiftedClock
from trader.config import Config, RiskLimits, VenueConfig
from trader.engine.engine import DEFAULT_RISK, Engine, EngineConfig, PreTrade, Summary
from trader.engine.equity import EquityConfig, EquityGate, EquityRules
from trader.engine.journal import Journal
from trader.engine.paper import (
    INSTRUMENT,
    binary_market_maker,
    demo_market_maker,
    equity_market_maker,
    equity_pairs,
    sized_market_maker,
)
from trader.engine.services import Service
from trader.errors import ConfigError
from trader.strategies.base import Strategy
from trader.strategies.market_maker import MarketMaker
from trader.venues.base import Connector
from trader.venues.binance import BinanceConnector
from trader.venues.registry import loopback_connector

if TYPE_CHECKING:
    from trader.cli.testnet import Check
    from trader.sim.binance import BinanceSimServer
    from trader.venues.polymarket import MarketMetadata


def sim_server(exchange: str, seed: int, clock: Clock, symbol: str = INSTRUMENT) -> BinanceSimServer:
    """The loopback simulator behind `--sim` (every market of the Binance protocol on one port; the spot
    and margin symbol is `symbol`, one of `trader.sim.spot.INSTRUMENTS`)."""
    from trader.sim.binance import BinanceSimServer

    try:
        return BinanceSimServer(seed=seed, clock=clock, venue=exchange, symbol=symbol)
    except ValueError as e:
        raise ConfigError(str(e)) from None


async def _strategy_for(
    connector: BinanceConnector, symbol: str, risk: RiskLimits, *, min_spread_bps: float = 30.0
) -> tuple[MarketMaker, EngineConfig]:
    """The demo market maker on BTCUSDT; on any other symbol (altcoins), one sized from the venue's
    filters and current price, with a wide spread."""
    if symbol == INSTRUMENT:
        return demo_market_maker(), EngineConfig(symbol=symbol, risk=risk)
    info, mid = await connector.reference()
    return sized_market_maker(info, mid, min_spread_bps=min_spread_bps, risk=risk)


class PaperRig(NamedTuple):
    connector: Connector
    server: Any  # the simulator started for `--sim`, or None
    strategy: Strategy
    config: EngineConfig
    pre_trade: PreTrade | None = None
    services: tuple[Service, ...] = ()


def _equity_gate(
    allow_short: bool,
    session_clock: Clock | None,
    *,
    equity: Decimal = Decimal(100_000),
    extended_hours: bool = False,
) -> EquityGate:
    """Broker orders pass the equity rules (market hours, the day-trading rule, short sales) first."""
    rules = EquityRules(EquityConfig(allow_short=allow_short, extended_hours=extended_hours))
    return EquityGate(rules, equity=equity, session_clock=session_clock)


async def _alpaca_session(conn: Connector, clock: Clock, vcfg: VenueConfig) -> EquityGate:
    """The equity rules on the venue's own time and equity (GET /v2/clock, GET /v2/account)."""
    from trader.venues.alpaca import AlpacaConnector

    assert isinstance(conn, AlpacaConnector)
    venue_now = (await conn.market_clock()).ts_ns
    equity = (await conn.account()).equity
    return _equity_gate(
        bool(vcfg.options.get("allow_short", False)),
        ShiftedClock(venue_now, clock),
        equity=equity,
        extended_hours=bool(vcfg.options.get("extended_hours", False)),
    )


def _sim_session(clock: Clock) -> Clock:
    """A clock inside the next regular US equity session: simulated exchanges trade whatever the hour."""
    from trader.sim.alpaca import next_session_time

    return ShiftedClock(next_session_time(clock.now_ns(), 10, 0), clock)


async def _paper_venue(args: argparse.Namespace, clock: Clock, risk: RiskLimits) -> PaperRig:
    """The connector (and, with `--sim`, its simulator) and a strategy sized for `--exchange`."""
    if args.exchange == "ibkr":
        from trader.sim.ibkr import DEFAULT_ACCOUNT, IbkrSimServer
        from trader.venues.ibkr import PAPER_GATEWAY_PORT, IbkrConnector

        symbol = args.symbol if args.symbol != INSTRUMENT else "SPY"
        pairs = getattr(args, "strategy", "mm") == "pairs"
        symbols = [symbol, "QQQ" if symbol != "QQQ" else "SPY"] if pairs else [symbol]
        ib_server: IbkrSimServer | None = None
        host, port, account = "127.0.0.1", PAPER_GATEWAY_PORT, ""
        if args.sim:
            ib_server = IbkrSimServer(seed=args.seed, clock=clock)
            port, account = await ib_server.start(port=0), DEFAULT_ACCOUNT
        elif args.venue_url:
            host, _, p = args.venue_url.rpartition("//")[2].partition(":")
            port = int(p or PAPER_GATEWAY_PORT)
        conn = IbkrConnector(
            instruments=symbols, clock=clock, host=host, port=port, account_id=account, paper=True
        )
        if args.sim:
            session = _sim_session(clock)
        else:  # the gateway's own clock decides the session (it is the venue's time)
            await conn.connect()
            session = ShiftedClock((await conn.venue_time()).ts_ns, clock)
        equity = _equity_gate(pairs, session)
        if pairs:
            pair, pair_cfg = equity_pairs(symbols[0], symbols[1])
            return PaperRig(conn, ib_server, pair, dataclasses.replace(pair_cfg, risk=risk), equity)
        mm, cfg = equity_market_maker(symbol)
        return PaperRig(conn, ib_server, mm, dataclasses.replace(cfg, risk=risk), equity)
    if args.exchange == "alpaca":
        from trader.core import AlpacaSigner
        from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET, AlpacaSimServer
        from trader.venues.alpaca import AlpacaConnector
        from trader.venues.alpaca import Endpoints as AlpacaEndpoints

        symbol = args.symbol if args.symbol != INSTRUMENT else "SPY"
        if not args.sim:  # Alpaca's paper environment (or a `trader sim alpaca`), from the config
            from trader.config import load_config
            from trader.venues.registry import build_connector

            if args.config is None:
                raise ConfigError("--exchange=alpaca needs --sim, or --config with a [venues.alpaca] section")
            vcfg = load_config(args.config).venues.get("alpaca")
            if vcfg is None or vcfg.environment == "live":
                raise ConfigError(f"{args.config} has no paper [venues.alpaca] section (paper or sim)")
            conn3 = build_connector(vcfg, symbol=symbol, clock=clock)
            gate3 = await _alpaca_session(conn3, clock, vcfg)
            mm, cfg = equity_market_maker(symbol, tick=100)
            return PaperRig(conn3, None, mm, dataclasses.replace(cfg, risk=risk), gate3)
        # a paper session's simulated exchange runs in a regular session whatever the hour here;
        # `trader testnet` keeps its clock true (its clock check compares it with ours)
        session = _sim_session(clock) if getattr(args, "shift_session", True) else clock
        al_server = AlpacaSimServer(seed=args.seed, clock=session)
        await al_server.start(port=0)
        conn2 = AlpacaConnector(
            symbols=[symbol],
            signer=AlpacaSigner(DEMO_KEY, DEMO_SECRET),
            endpoints=AlpacaEndpoints.loopback(al_server.url),
            clock=clock,
        )
        mm, cfg = equity_market_maker(symbol, tick=100)  # Alpaca prices count 1/100 cent
        return PaperRig(
            conn2, al_server, mm, dataclasses.replace(cfg, risk=risk), _equity_gate(False, session)
        )
    if args.exchange == "polymarket":
        return await _polymarket_paper(args, clock, risk)
    server: BinanceSimServer | None = None
    url = args.venue_url
    if url is None:
        server = sim_server(
            args.exchange, args.seed, clock, args.symbol if args.market != "futures" else INSTRUMENT
        )
        await server.start(port=0)
        url = server.url
    connector = loopback_connector(
        url,
        symbol=args.symbol,
        clock=clock,
        venue=args.exchange,
        market=args.market,
        order_entry=args.order_entry,
        # margin market making: borrow what a quote needs, repay with what a fill brings
        **({"side_effect": "AUTO_BORROW_REPAY"} if args.market == "margin" else {}),
    )
    strategy, config = await _strategy_for(connector, args.symbol, risk)
    return PaperRig(connector, server, strategy, config)


async def _polymarket_paper(args: argparse.Namespace, clock: Clock, risk: RiskLimits) -> PaperRig:
    """The binary-outcome market maker on both tokens of one market of the Polymarket simulator, with a
    fresh wallet (the simulator funds new addresses with pUSD and approvals)."""
    import secrets as _secrets

    from trader.sim.polymarket import SCALE, PolymarketSimServer
    from trader.venues.polymarket import Endpoints as PolymarketEndpoints
    from trader.venues.polymarket import PolymarketConnector

    if args.strategy == "event" and not args.signal:  # before anything starts
        raise ConfigError("--strategy=event needs --signal=FILE (JSON lines) or --signal=http(s)://URL")
    server = PolymarketSimServer(seed=args.seed, clock=clock)
    await server.start(port=0)
    market = next(m for m in server.markets.values() if not m.neg_risk)
    conn = PolymarketConnector(
        condition_id=market.condition_id,
        private_key="0x" + _secrets.token_hex(32),
        clock=clock,
        endpoints=PolymarketEndpoints.loopback(server.url),
    )
    tick = Decimal(market.tick) / SCALE
    mm, config = binary_market_maker(market.condition_id, end_ns=market.end_s * 1_000_000_000, tick=str(tick))
    config = dataclasses.replace(config, risk=risk)
    yes, no, one, micro = f"{market.condition_id}:YES", f"{market.condition_id}:NO", int(1 / tick), 1_000_000
    if args.strategy == "rewards":
        from trader.engine.services import reward_scoring
        from trader.strategies.rewards import RewardCapture, RewardCaptureParams, RewardParams

        rewards = RewardParams(
            max_spread=Decimal(market.rewards_max_spread) / SCALE * 100,  # cents
            min_size=market.rewards_min_size,
            daily_pool=Decimal(100),
            share=micro,
        )
        params = RewardCaptureParams(
            yes, no, one, rewards, max_size=50 * micro, max_notional=Decimal(40), max_position=200 * micro
        )
        limits = dataclasses.replace(config, max_order_qty="60", max_order_notional="60", max_position="260")
        return PaperRig(conn, server, RewardCapture(params), limits, services=(reward_scoring(poll_s=1.0),))
    if args.strategy == "event":
        from trader.engine.services import signal_file, signal_http
        from trader.strategies.event_driven import EventDriven, EventDrivenParams

        feed = args.signal
        service = signal_http(feed) if feed.startswith(("http://", "https://")) else signal_file(Path(feed))
        params2 = EventDrivenParams(
            yes,
            no,
            one,
            edge=Decimal("0.03"),
            size_per_cent=2 * micro,
            max_position=40 * micro,
            max_age_s=120,
            min_qty=market.min_size,
        )
        limits = dataclasses.replace(config, max_order_qty="40", max_order_notional="40", max_position="50")
        return PaperRig(conn, server, EventDriven(params2), limits, services=(service,))
    return PaperRig(conn, server, mm, config)


async def paper_realtime(args: argparse.Namespace, risk: RiskLimits | None) -> Summary:
    """The engine in real time, through the real connector and sockets, against a loopback simulator:
    a new in-process one, or a running `trader sim` (`--venue-url`). Ctrl-C stops it cleanly."""
    clock = LiveClock()
    connector, server, strategy, config, pre_trade, services = await _paper_venue(
        args, clock, risk or DEFAULT_RISK
    )
    journal = Journal(args.journal if args.journal is not None else ":memory:")
    try:
        engine = Engine(connector, strategy, journal=journal, clock=clock, config=config, pre_trade=pre_trade)
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

                    return await engine.run(args.duration, on_tick=tick, services=services)
            return await engine.run(args.duration, services=services)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
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
    """The checks of `trader testnet` for every configured venue, or with `--sim` for the built-in
    simulator of `--exchange` (binance: each market, spot, futures and margin, unless `--market`)."""
    from trader.cli.testnet import Check, check_binance_like
    from trader.config import load_config
    from trader.venues.registry import VENUES

    clock = LiveClock()
    if args.sim and args.venue in ("ibkr", "alpaca", "polymarket"):
        from trader.cli.testnet import check_connector

        rig = argparse.Namespace(
            exchange=args.venue,
            sim=True,
            symbol=INSTRUMENT,
            seed=7,
            venue_url=None,
            strategy="mm",
            shift_session=False,
        )
        conn, server, _, rig_config, _, _ = await _paper_venue(rig, clock, DEFAULT_RISK)
        try:
            return await check_connector(conn, rig_config.symbol, order=args.order, clock=clock)
        finally:
            await conn.close()
            await server.stop()
    if args.sim:
        exchange = args.venue or "sim"
        markets = (
            [args.market]
            if args.market
            else (["spot", "futures", "margin"] if exchange == "binance" else ["spot"])
        )
        server = sim_server(exchange, 7, clock)
        await server.start(port=0)
        out: list[Check] = []
        try:
            for market in markets:
                conn = loopback_connector(
                    server.url, symbol=INSTRUMENT, clock=clock, venue=exchange, market=market
                )
                try:
                    checks = await check_binance_like(conn, order=args.order, clock=clock)
                finally:
                    await conn.close()
                out += [
                    c if len(markets) == 1 else dataclasses.replace(c, venue=f"{exchange}/{market}")
                    for c in checks
                ]
            return out
        finally:
            await server.stop()
    config = load_config(args.config)
    out = []
    for name, vcfg in config.venues.items():
        if args.venue is not None and name != args.venue:
            continue
        if name not in ("binance", "alpaca", "ibkr", "polymarket"):
            status = VENUES[name].status if name in VENUES else "unknown venue"
            out.append(Check(name, "connector", None, status))
            continue
        out += await _checks(vcfg, order=args.order, clock=clock)
    return out


def _default_symbol(vcfg: VenueConfig) -> str:
    if vcfg.name == "polymarket":
        return f"{vcfg.options.get('condition_id', '')}:YES"
    return "SPY" if vcfg.name in ("ibkr", "alpaca") else INSTRUMENT


async def _checks(vcfg: VenueConfig, *, order: bool, clock: Clock) -> list[Check]:
    """The preflight of one configured venue, on a connection of its own (closed after)."""
    from trader.cli.testnet import check_binance_like, check_connector
    from trader.venues.registry import build_connector, venue_symbol

    symbol = venue_symbol(vcfg, _default_symbol(vcfg))
    conn = build_connector(vcfg, symbol=symbol, clock=clock)
    try:
        if isinstance(conn, BinanceConnector):
            return await check_binance_like(conn, order=order, clock=clock)
        return await check_connector(conn, symbol, order=order, clock=clock)
    finally:
        await conn.close()


async def _polymarket_metadata(vcfg: VenueConfig, clock: Clock) -> MarketMetadata:
    """The market's Gamma metadata (end time, tick), on a connection of its own."""
    from trader.venues.polymarket import PolymarketConnector
    from trader.venues.registry import build_connector

    conn = build_connector(vcfg, symbol="", clock=clock)
    assert isinstance(conn, PolymarketConnector)
    try:
        await conn.connect()
        return await conn.metadata()
    finally:
        await conn.close()


async def live_session(venue: str, config: Config) -> Summary:
    """`trader live`: preflight (reachability, clock, auth, market data), then the engine until Ctrl-C.
    Raises `TraderError` when the preflight fails; nothing is sent then."""
    from trader.errors import TraderError
    from trader.venues.registry import build_connector, venue_symbol

    clock = LiveClock()
    vcfg = config.venues[venue]
    symbol = venue_symbol(vcfg, _default_symbol(vcfg))
    try:
        checks = await _checks(vcfg, order=False, clock=clock)
        conn = build_connector(vcfg, symbol=symbol, clock=clock)
    except ConfigError as e:
        raise TraderError(f"preflight failed: {e}; nothing was sent") from None
    try:
        failed = [f"{c.name}: {c.detail}" for c in checks if c.ok is False]
        if failed:
            raise TraderError(f"preflight failed: {'; '.join(failed)}; nothing was sent")
        assert config.risk is not None
        home = Path("~/.trader").expanduser()
        home.mkdir(parents=True, exist_ok=True)
        journal = Journal(home / f"journal-{venue}.db")
        pre_trade: PreTrade | None = None
        strategy: Strategy
        if isinstance(conn, BinanceConnector):
            info, mid = await conn.reference()
            strategy, engine_config = sized_market_maker(info, mid, min_spread_bps=10.0, risk=config.risk)
        elif venue == "polymarket":  # the binary market maker until an hour before the market ends
            meta = await _polymarket_metadata(vcfg, clock)
            strategy, engine_config = binary_market_maker(
                meta.condition_id, end_ns=meta.end_ns or 2**62, tick=f"{meta.tick_size:f}"
            )
            engine_config = dataclasses.replace(engine_config, risk=config.risk)
        else:  # a broker: an ETF market maker, behind the equity rules
            tick = 100 if venue == "alpaca" else 1  # Alpaca prices count 1/100 cent
            strategy, engine_config = equity_market_maker(symbol, tick=tick)
            engine_config = dataclasses.replace(engine_config, risk=config.risk)
            if venue == "alpaca":
                pre_trade = await _alpaca_session(conn, clock, vcfg)
            else:
                o = vcfg.options
                pre_trade = _equity_gate(
                    bool(o.get("allow_short", False)),
                    None,
                    extended_hours=bool(o.get("extended_hours", False)),
                )
        engine = Engine(
            conn, strategy, journal=journal, clock=clock, config=engine_config, pre_trade=pre_trade
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
