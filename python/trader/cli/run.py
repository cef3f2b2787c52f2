"""The async bodies of the CLI commands that run the engine in real time.

Venues are reached through the registry only: the profile says what a venue is (tier, environments,
markets, default instrument, strategies), its package builds connectors (`build` from config, `loopback`
to a simulator) and simulators. What a session trades comes from `trader.cli.rigs`, by tier."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from rich.console import Console
from rich.live import Live

from trader.cli.plan import Planned, cross_plans, plan
from trader.cli.rigs import Rig, RigRequest, rig, strategies
from trader.clock import Clock, LiveClock, ShiftedClock
from trader.config import Config, RiskLimits, VenueConfig, load_config
from trader.engine.engine import DEFAULT_RISK, Engine, EngineConfig, StrategySetup, Summary, VenueSetup
from trader.engine.journal import Journal
from trader.engine.services import Service, scoped
from trader.engine.settings import health_rules, venue_config
from trader.errors import ConfigError, TraderError
from trader.monitoring.session import Monitor, monitored
from trader.venues import registry
from trader.venues.base import Connector, Tier
from trader.venues.profile import Counters, Simulator, VenueProfile

if TYPE_CHECKING:
    from trader.cli.testnet import Check


class Venue(NamedTuple):
    """A connector for a session, and the simulator started for it (None when the venue runs elsewhere)."""

    profile: VenueProfile
    connector: Connector
    server: Simulator | None
    symbol: str


def session_clock(profile: VenueProfile, clock: Clock) -> Clock:
    """A simulator's clock: brokers' simulated exchanges run inside the next regular US equity session,
    whatever the hour here (their equity rules follow the venue's clock); others keep ours."""
    if profile.tier is not Tier.BROKER:
        return clock
    from trader.engine.equity import CALENDAR_YEARS, CalendarError, next_regular_session

    try:
        start = next_regular_session(clock.now_ns())
    except CalendarError:  # past the calendar we know: rehearse on its last year (the venue is simulated)
        from datetime import UTC, datetime

        last = datetime(max(CALENDAR_YEARS), 6, 1, tzinfo=UTC)
        start = next_regular_session(int(last.timestamp()) * 1_000_000_000)
    return ShiftedClock(start, clock)


def connector_options(args: argparse.Namespace) -> dict[str, Any]:
    """The venue options given on the command line (`--market`, `--order-entry`, a pairs' second leg)."""
    out: dict[str, Any] = {}
    if getattr(args, "market", None):
        out["market"] = args.market
    if getattr(args, "order_entry", None):
        out["order_entry"] = args.order_entry
    return out


class SessionJournal:
    """The session's journal, opened at its first use: the venues' durable counters (Kraken's nonce)
    before the engine starts, so a start refused before any venue read one leaves no file behind."""

    def __init__(self, path: Callable[[], str | Path]) -> None:
        self._path = path
        self._journal: Journal | None = None

    def open(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self._path())
        return self._journal

    def get_counter(self, counter: str) -> int:
        return self.open().get_counter(counter)

    def set_counter_at_least(self, counter: str, value: int) -> None:
        self.open().set_counter_at_least(counter, value)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


async def open_venue(
    args: argparse.Namespace,
    clock: Clock,
    *,
    also: tuple[str, ...] = (),
    true_clock: bool = False,
    counters: Counters | None = None,
) -> Venue:
    """The connector of `--exchange`: its simulator (`--sim`, or a venue that is only simulated), a
    running simulator (`--venue-url`), the paper account of `--config`, or a venue that needs no
    credentials (IBKR: the local gateway). `true_clock` keeps a simulator on our clock (`testnet`)."""
    prof = registry.profile(args.exchange)
    pkg = registry.package(args.exchange)
    symbol = args.symbol or prof.default_symbol
    opts = connector_options(args) | ({"also": also} if also else {})
    if args.sim or (prof.environments == ("sim",) and not args.venue_url):
        sim_opts = {"symbol": args.symbol} if args.symbol else {}
        sim_clock = clock if true_clock else session_clock(prof, clock)
        try:
            server = pkg.simulator(seed=args.seed, clock=sim_clock, **sim_opts)
        except ValueError as e:  # an option the simulator does not offer (an instrument it does not list)
            raise ConfigError(f"the {prof.name} simulator: {e}") from None
        await server.start(port=0)
        symbol = args.symbol or server.default_symbol or prof.default_symbol
        return Venue(prof, pkg.loopback(server.url, symbol=symbol, clock=clock, **opts), server, symbol)
    if args.venue_url:
        if "{" in symbol:  # a profile default named by config options (a Polymarket market)
            raise ConfigError(f"--exchange={prof.name} --venue-url needs --symbol (e.g. {symbol})")
        return Venue(prof, pkg.loopback(args.venue_url, symbol=symbol, clock=clock, **opts), None, symbol)
    if getattr(args, "config", None) is not None:
        vcfg = load_config(args.config).venues.get(prof.name)
        if vcfg is None or vcfg.environment == "live":
            raise ConfigError(f"{args.config} has no paper [venues.{prof.name}] section (paper or sim)")
        symbol = registry.venue_symbol(vcfg, args.symbol or "")
        conn = registry.build_connector(vcfg, symbol=symbol, clock=clock, counters=counters)
        return Venue(prof, conn, None, symbol)
    caps = next(iter(prof.capabilities.values()), None)
    if caps is not None and not caps.needs_credentials and "paper" in prof.environments:
        options: dict[str, str | int | bool] = {k: str(v) for k, v in connector_options(args).items()}
        if also:
            options["also"] = ",".join(also)
        vcfg = VenueConfig(prof.name, "paper", options=options)
        return Venue(prof, pkg.build(vcfg, symbol=symbol, clock=clock), None, symbol)
    raise ConfigError(
        f"--exchange={prof.name} needs --sim (its local simulator), --venue-url (a running "
        f"`trader sim {prof.name}`) or --config with its paper account"
    )


class PaperRig(NamedTuple):
    venue: Venue
    rig: Rig


async def paper_rig(
    args: argparse.Namespace,
    clock: Clock,
    risk: RiskLimits,
    counters: Counters | None = None,
    planned: Planned | None = None,
) -> PaperRig:
    """The connector (and, with `--sim`, its simulator) and what the session trades on it. `counters`:
    the session's journal, for a venue that keeps counters across restarts (a nonce). `planned`: the
    config's strategy for the venue (`trader.cli.plan.configured`): its kind and parameters, and on a
    paper account its instruments (a simulator keeps its own unless `--symbol`)."""
    prof = registry.profile(args.exchange)
    strategy = args.strategy or (planned.request.strategy if planned else strategies(prof)[0])
    on_sim = args.sim or args.venue_url or prof.environments == ("sim",)
    if planned is not None and not on_sim and not args.symbol:
        args = argparse.Namespace(**{**vars(args), "symbol": planned.request.symbol})
        also = planned.request.also
    elif strategy == "pairs":
        also = ("QQQ" if (args.symbol or prof.default_symbol) != "QQQ" else "SPY",)
    else:
        also = ()
    signal = args.signal or (planned.request.signal if planned else None)
    if strategy == "event" and not signal:  # before anything starts
        raise ConfigError("--strategy=event needs --signal=FILE (JSON lines) or --signal=http(s)://URL")
    venue = await open_venue(args, clock, also=also, counters=counters)
    req = (  # the config's parameters (its spread, sized from the venue's filters), else the defaults
        dataclasses.replace(planned.request, symbol=venue.symbol, risk=risk, also=also, signal=signal)
        if planned is not None
        else RigRequest(strategy=strategy, symbol=venue.symbol, risk=risk, also=also, signal=signal)
    )
    try:
        return PaperRig(venue, await rig(prof, venue.connector, req, clock))
    except BaseException:
        await close_venue(venue)
        raise


async def close_venue(venue: Venue) -> None:
    await venue.connector.close()
    if venue.server is not None:
        await venue.server.stop()


async def run_engine(
    engine: Engine,
    services: Sequence[Service],
    duration: float | None,
    view: str | None,
    monitor: Monitor | None = None,
) -> Summary:
    """Run until `duration` or SIGINT/SIGTERM; a live view on a terminal (`view`: the venues' names);
    `monitor` (metrics, alerts, logs, report samples) attached for the session."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, engine.stop)
    try:
        if view is None:
            return await monitored(monitor, engine, engine.run(duration, services=services))
        from trader.cli.view import render

        started = engine.clock.monotonic_ns()
        with Live(console=Console(), refresh_per_second=4, transient=True) as live:

            def tick(e: Engine) -> None:
                if e.gate is not None:
                    elapsed = (e.clock.monotonic_ns() - started) / 1e9
                    live.update(render(e.snapshot(), view, elapsed))

            return await monitored(monitor, engine, engine.run(duration, on_tick=tick, services=services))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def paper_realtime(
    args: argparse.Namespace,
    risk: RiskLimits | None,
    monitor: Monitor | None = None,
    config: Config | None = None,
    planned: Mapping[str, Planned] | None = None,
) -> Summary:
    """The engine in real time, through the real connector and sockets, against a loopback simulator:
    a new in-process one, or a running `trader sim` (`--venue-url`). Ctrl-C stops it cleanly. `config`:
    `--config`'s; `planned`: its strategies by venue (`trader.cli.plan.configured`)."""
    clock = LiveClock()
    session = SessionJournal(lambda: args.journal if args.journal is not None else ":memory:")
    p = (planned or {}).get(args.exchange)
    try:
        venue, r = await paper_rig(args, clock, risk or DEFAULT_RISK, session, p)
    except BaseException:
        session.close()
        raise
    journal = session.open()
    try:
        setup, strategy, services = _paper_venue(
            config, args.exchange, PaperRig(venue, r), p, r.strategy.name
        )
        engine = Engine([setup], [strategy], journal=journal, clock=clock, config=r.config)
        show = not args.json and not args.no_view and sys.stdout.isatty()
        return await run_engine(engine, services, args.duration, args.exchange if show else None, monitor)
    finally:
        journal.close()
        await close_venue(venue)


def _paper_venue(
    config: Config | None, name: str, pr: PaperRig, planned: Planned | None, label: str
) -> tuple[VenueSetup, StrategySetup, list[Service]]:
    """A paper venue for the engine, set up as `trader live` sets it when `config` configures it (its
    `[venues.X.risk]`, kill thresholds and `[symbols]`), else as its rig sized it; and its strategy, under
    the config's name and rate when `planned`, else under `label`."""
    if config is not None and name in config.venues:
        setup = _venue_setup(config, name, pr.venue.connector, pr.rig)
    else:
        setup = VenueSetup(pr.venue.connector, pr.rig.config, pr.rig.pre_trade, name=name)
    if planned is not None:
        label = planned.label
    strategy, services = _strategy(setup, pr.rig, label, planned.orders_per_second if planned else None)
    return setup, strategy, services


def scaled(risk: RiskLimits, n: int) -> RiskLimits:
    """The demo's aggregate limits for `n` venues (each venue keeps the limits its rig sized)."""
    return dataclasses.replace(
        risk,
        max_gross_notional=risk.max_gross_notional * n,
        max_net_notional=risk.max_net_notional * n,
        max_open_orders=risk.max_open_orders * n,
        max_orders_per_sec=risk.max_orders_per_sec * n,
    )


async def paper_multi(
    args: argparse.Namespace,
    exchanges: Sequence[str],
    risk: RiskLimits | None,
    monitor: Monitor | None = None,
    config: Config | None = None,
    planned: Mapping[str, Planned] | None = None,
) -> Summary:
    """Several venues at once under one gate and one journal: each venue's simulator and connector and
    the strategy its rig chooses (or the config's, `planned`), one engine over all of them, in real time
    over loopback."""
    clock = LiveClock()
    total = risk or scaled(DEFAULT_RISK, len(exchanges))
    planned = planned or {}
    opened: list[tuple[str, PaperRig]] = []
    journal = Journal(args.journal if args.journal is not None else ":memory:")
    try:
        for name in exchanges:
            ns = argparse.Namespace(**{**vars(args), "exchange": name})
            opened.append((name, await paper_rig(ns, clock, total, planned=planned.get(name))))
        setups, strategies_, services = [], [], []
        for name, pr in opened:
            setup, strategy, more = _paper_venue(
                config, name, pr, planned.get(name), f"{pr.rig.strategy.name}@{name}"
            )
            setups.append(setup)
            strategies_.append(strategy)
            services += more
        engine = Engine(setups, strategies_, journal=journal, clock=clock, config=EngineConfig(risk=total))
        show = not args.json and not args.no_view and sys.stdout.isatty()
        view = ",".join(exchanges) if show else None
        return await run_engine(engine, services, args.duration, view, monitor)
    finally:
        journal.close()
        for _, pr in opened:
            await close_venue(pr.venue)


async def cancel_at(url: str) -> int:
    """Cancel every open order of the demo account at a `trader sim` server (for `trader kill`)."""
    prof = registry.profile("sim")
    connector = registry.loopback_connector(url, symbol=prof.default_symbol, clock=LiveClock())
    try:
        await connector.sync_time()
        return int(await connector.cancel_all(prof.default_symbol))
    finally:
        await connector.close()


async def testnet_checks(args: argparse.Namespace, config: Config | None) -> list[Check]:
    """The checks of `trader testnet` for every venue of `config` (`args.venue`: that one), or with
    `--sim` for the simulator of `--exchange` (every market the venue has, unless `--market`)."""
    from trader.cli.testnet import Check

    clock = LiveClock()
    if args.sim or config is None:
        return await _sim_checks(args, clock)
    out: list[Check] = []
    for name, vcfg in config.venues.items():
        if args.venue is not None and name != args.venue:
            continue
        try:
            registry.package(name)
        except registry.NotBuiltError as e:
            out.append(Check(name, "connector", False, str(e)))
            continue
        out += await _checks(vcfg, order=args.order, clock=clock)
    return out


async def _sim_checks(args: argparse.Namespace, clock: Clock) -> list[Check]:
    import dataclasses

    from trader.cli.testnet import check_connector

    name = args.venue or "sim"
    prof = registry.profile(name)
    markets = [args.market] if args.market else list(prof.markets)
    out: list[Check] = []
    for market in markets:
        ns = argparse.Namespace(
            exchange=name, sim=True, symbol=None, seed=7, venue_url=None, config=None, order_entry=None,
            market=market if len(prof.markets) > 1 else None,
        )  # fmt: skip
        venue = await open_venue(ns, clock, true_clock=True)
        try:
            checks = await check_connector(venue.connector, venue.symbol, order=args.order, clock=clock)
        finally:
            await close_venue(venue)
        label = f"{name}/{market}" if len(markets) > 1 else name
        out += [dataclasses.replace(c, venue=label) for c in checks]
    return out


async def _checks(
    vcfg: VenueConfig, *, order: bool, clock: Clock, counters: Counters | None = None
) -> list[Check]:
    """The preflight of one configured venue, on a connection of its own (closed after)."""
    from trader.cli.testnet import check_connector

    symbol = registry.venue_symbol(vcfg)
    conn = registry.build_connector(vcfg, symbol=symbol, clock=clock, counters=counters)
    try:
        checks = await check_connector(conn, symbol, order=order, clock=clock)
    finally:
        await conn.close()
    return checks


async def live_session(venues: Sequence[str], config: Config, monitor: Monitor | None = None) -> Summary:
    """`trader live`: the preflight of every venue (reachability, clock, auth, market data), then one
    engine over all of them until Ctrl-C, each venue trading its configured strategy (`[strategies]`) or
    its default one. Raises `TraderError` when any preflight fails; nothing is sent then, at any venue."""
    plans = plan(config, venues)  # a strategy that cannot run here fails before anything connects
    crosses = cross_plans(config, venues)
    clock = LiveClock()
    conns: list[Connector] = []

    def path() -> Path:
        home = Path("~/.trader").expanduser()
        home.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, like the keystores in it
        return home / f"journal-{'+'.join(venues)}.db"

    session = SessionJournal(path)  # opened when a venue reads its counters (a nonce), else after
    try:
        for name in venues:
            conns.append(await _preflight(config.venues[name], clock, session))
        assert config.risk is not None
        setups, strategies_, services = [], [], []
        by_venue = dict(zip(venues, conns, strict=True))
        for p in plans:
            r = await rig(registry.profile(p.venue), by_venue[p.venue], p.request, clock)
            setups.append(_venue_setup(config, p.venue, by_venue[p.venue], r))
            strategy, more = _strategy(setups[-1], r, p.label, p.orders_per_second)
            strategies_.append(strategy)
            services += more
        if crosses:  # cross-venue strategies beside them (their venues' setups widened for their legs)
            from trader.cli.crossvenue import live_cross

            setups, cross_setups, more = await live_cross(config, crosses, by_venue, setups)
            strategies_ += cross_setups
            services += more
        settings = EngineConfig(risk=config.risk)
        engine = Engine(setups, strategies_, journal=session.open(), clock=clock, config=settings)
        return await run_engine(engine, services, None, None, monitor)
    finally:
        for conn in conns:
            await conn.close()
        session.close()


async def _preflight(vcfg: VenueConfig, clock: Clock, counters: Counters | None = None) -> Connector:
    """The venue's connector once its preflight passed (`TraderError` naming what failed otherwise).
    `counters`: the session's journal, for a venue that keeps counters across restarts (a nonce)."""
    symbol = registry.venue_symbol(vcfg)
    try:
        checks = await _checks(vcfg, order=False, clock=clock, counters=counters)
        conn = registry.build_connector(vcfg, symbol=symbol, clock=clock, counters=counters)
    except ConfigError as e:
        raise TraderError(f"{vcfg.name}: preflight failed: {e}; nothing was sent") from None
    failed = [f"{c.name}: {c.detail}" for c in checks if c.ok is False]
    if failed:
        await conn.close()
        raise TraderError(f"{vcfg.name}: preflight failed: {'; '.join(failed)}; nothing was sent")
    return conn


def _venue_setup(config: Config, name: str, conn: Connector, r: Rig) -> VenueSetup:
    """A configured venue for the engine: its rig's sizing narrowed by `[venues.X.risk]`, its kill
    thresholds, and the asset and quote currency `[symbols]` gives each instrument (Kraken's XBT is BTC).
    The rig's strategy is written against the venue's own symbols, so they stay its names."""
    vcfg = config.venues[name]
    symbols = config.symbol_map()
    mapped = {s: symbols.canonical(name, s) for s in (r.config.symbol, *r.config.also)}
    known = {s: c for s, c in mapped.items() if c in symbols}
    return VenueSetup(
        conn,
        venue_config(r.config, vcfg),
        r.pre_trade,
        assets={s: symbols.asset_quote(c)[0] for s, c in known.items()},
        currencies={s: symbols.asset_quote(c)[1] for s, c in known.items()},
        health=health_rules(vcfg.kill),
        name=name,
    )


def _strategy(
    venue: VenueSetup, r: Rig, label: str, orders_per_second: int | None = None
) -> tuple[StrategySetup, list[Service]]:
    """The rig's strategy on every instrument of its venue, and its services addressed to it."""
    setup = StrategySetup(r.strategy, _legs(venue), label, orders_per_second)
    return setup, [scoped(svc, label, venue.venue) for svc in r.services]


def _legs(setup: VenueSetup) -> tuple[tuple[str, str], ...]:
    own = dict.fromkeys((setup.config.symbol, *setup.config.also))
    return tuple((setup.venue, setup.canonical.get(s, s)) for s in own)
