"""Start-up: connect every venue, learn its instruments, build the one risk gate over all of them, add the
strategies with their legs, take up kills latched in the journal, and reconcile each venue before any
strategy runs. A venue that cannot connect or reconcile does not trade this session, nor does any strategy
that needs it; the others go on (with one venue, the error is the engine's)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from trader.core import RiskGate, TradingState
from trader.engine import health as health_mod
from trader.engine import killswitch
from trader.engine.bans import VenueBan
from trader.engine.ledger import strategy_tag
from trader.engine.portfolio import Portfolio
from trader.engine.reconcile import reconcile
from trader.engine.resolve import Resolver
from trader.engine.settings import collar_bps
from trader.engine.staleness import FeedWatch, StaleRule
from trader.engine.venue import Instrument, StrategySetup, StrategyState, VenueSetup, VenueState
from trader.errors import ConfigError, ReconciliationError, VenueError
from trader.venues.base import Rehearses

if TYPE_CHECKING:
    from trader.engine.engine import Engine

log = logging.getLogger("trader.engine")


def venue_state(engine: Engine, s: VenueSetup) -> VenueState:
    """A venue's state before start-up: its feed watch, ban, resolver, health and order rehearsal."""
    c = s.config
    rules = s.health or health_mod.HealthRules()
    caps = s.connector.capabilities
    v = VenueState(
        name=s.venue,
        connector=s.connector,
        cfg=c,
        pre_trade=s.pre_trade,
        setup=s,
        feeds=FeedWatch(StaleRule(c.stale_min_s, c.stale_max_s, c.stale_rate_factor, c.stale_after_s)),
        ban=None,  # type: ignore[arg-type]  # set below: both need the state
        resolver=None,  # type: ignore[arg-type]
        health=health_mod.VenueHealth(rules, caps.dead_man_switch),
        rehearse=s.connector.rehearse if isinstance(s.connector, Rehearses) else None,
    )
    v.ban = VenueBan(engine, v)
    v.resolver = Resolver(engine, v)
    return v


def new_gate(engine: Engine) -> RiskGate:
    """The gate with the aggregate limits, the quote currencies (rates to the reporting currency, depeg
    bounds) and the per-asset limits of `[risk]`."""
    r = engine.cfg.risk
    gate = RiskGate(
        max_gross_notional=r.max_gross_notional,
        max_net_notional=r.max_net_notional,
        max_open_orders=r.max_open_orders,
        max_orders_per_sec=r.max_orders_per_sec,
        daily_loss_limit=r.daily_loss_limit,
        daily_loss_halt=r.daily_loss_halt,
    )
    for name, c in r.currencies.items():
        if name != r.reporting_currency:
            engine.currency_ids[name] = gate.add_currency(name, c.rate, max_depeg_bps=c.max_depeg_bps)
    for name, a in r.assets.items():
        engine.asset_ids[name] = gate.add_asset(
            name, max_net_notional=a.max_net_notional, max_gross_notional=a.max_gross_notional
        )
    return gate


async def start(engine: Engine) -> None:
    """The engine's start (see the module's docstring)."""
    engine._started_ns = engine.clock.monotonic_ns()
    gate = new_gate(engine)
    ready: list[VenueState] = []
    for v in engine.venues.values():
        try:
            await v.connector.connect()
            await load_venue(engine, gate, v)
            ready.append(v)
        except (VenueError, OSError, ConfigError) as e:
            if len(engine.venues) == 1:
                raise
            fail_venue(engine, gate, v, f"could not start: {e}")
    _marks(engine)
    for s in engine._strategy_setups:
        add_strategy(engine, gate, s)
    engine.gate = gate
    killswitch.write_reset_token(engine.journal)  # what `trader kill --reset` must show
    latch_from_journal(engine)
    for v in ready:
        try:
            await reconcile(engine, v)
        except ReconciliationError as e:
            if len(engine.venues) == 1:
                raise
            fail_venue(engine, gate, v, str(e))
    if all(v.failed for v in engine.venues.values()):
        raise ReconciliationError(
            "no venue is ready: " + "; ".join(f"{v.name}: {v.failed}" for v in engine.venues.values())
        )
    engine.journal.prepare_ids(engine.clock.now_ns())  # no order waits on a disk write for its id
    if engine.eager:
        await warm(engine, [v for v in engine.venues.values() if not v.failed])


WARM_CONNECTIONS = 2  # a quote pair goes out back to back: each order on a connection already open


async def warm(engine: Engine, venues: list[VenueState]) -> None:
    """Open the connections the first orders will use (real time): reads side by side, so a REST
    connector's keep-alive pool holds that many; a failure only leaves a connection to open later."""
    reads = [v.connector.open_orders() for v in venues for _ in range(WARM_CONNECTIONS)]
    for result in await asyncio.gather(*reads, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result


async def load_venue(engine: Engine, gate: RiskGate, v: VenueState) -> None:
    c = v.cfg
    v.gate_id = gate.add_venue(
        v.name,
        max_gross_notional=c.venue_max_gross_notional,
        max_open_orders=c.venue_max_open_orders,
        max_orders_per_sec=c.venue_orders_per_second,
        max_net_notional=c.venue_max_net_notional,
        daily_loss_limit=c.venue_daily_loss_limit,
        daily_loss_halt=c.venue_daily_loss_halt,
    )
    for symbol in v.symbols:
        info = await v.connector.instrument_info(symbol)
        spec = info.spec()
        asset = v.setup.assets.get(symbol, info.base)
        currency = v.setup.currencies.get(symbol, info.quote)
        gate_id = gate.add_instrument(
            v.gate_id,
            symbol,
            spec,
            max_order_qty=c.max_order_qty,
            max_order_notional=c.max_order_notional,
            max_position=c.max_position,
            max_open_orders=c.max_open_orders,
            collar_bps=collar_bps(c.collar_bps, info),
            currency=engine.currency_ids.get(currency),
            asset=engine.asset_ids.get(asset),
        )
        position = engine.portfolio.position(v.name, symbol, spec.notional(1, 1))
        canonical = v.setup.canonical.get(symbol, symbol)
        inst = Instrument(
            v.name,
            symbol,
            canonical,
            spec,
            gate_id,
            position,
            asset=asset,
            currency=currency,
        )
        v.instruments[symbol] = inst
        v.by_canonical[canonical] = inst


def add_strategy(engine: Engine, gate: RiskGate, s: StrategySetup) -> None:
    strategy_tag(s.label)  # a name that cannot make client ids fails now, not at the first order
    rate = s.orders_per_second or engine.cfg.strategy_max_orders_per_sec
    st = StrategyState(
        s.strategy, s.label, gate.add_strategy(s.label, max_orders_per_sec=rate), frozenset(s.legs)
    )
    engine.strategies[st.name] = st
    engine.by_strategy[st.name] = Portfolio()
    for venue, canonical in s.legs:
        v = engine.venues.get(venue)
        if v is None:
            raise ConfigError(f"strategy {st.name}: leg {venue}:{canonical} names no venue of this engine")
        if v.failed:
            halt_strategy(engine, gate, st, f"needs {venue}, which failed: {v.failed}")
            continue
        if canonical not in v.by_canonical:
            raise ConfigError(f"strategy {st.name}: {venue} has no instrument {canonical}")
    for v in engine.venues.values():
        for inst in v.instruments.values():
            if st.trades(v.name, inst.canonical):
                inst.strategies.append(st)
                # a Place without a venue means the one leg of that name; two legs of it: ambiguous
                st.unique[inst.canonical] = None if inst.canonical in st.unique else inst


def halt_strategy(engine: Engine, gate: RiskGate, st: StrategyState, why: str) -> None:
    st.halted = why
    gate.set_trading_state(TradingState.HALTED, strategy=st.gate_id)
    log.error("strategy %s does not trade: %s", st.name, why)


def fail_venue(engine: Engine, gate: RiskGate, v: VenueState, why: str) -> None:
    """The venue does not trade this session; strategies that need it do not either."""
    v.failed = why
    log.error("%s does not trade: %s", v.name, why)
    if v.gate_id >= 0:
        gate.set_trading_state(TradingState.HALTED, venue=v.gate_id)
    for st in engine.strategies.values():
        if any(leg[0] == v.name for leg in st.legs) and not st.halted:
            halt_strategy(engine, gate, st, f"needs {v.name}, which failed: {why}")


def latch_from_journal(engine: Engine) -> None:
    """A kill latched by `trader kill` (all, or one venue) and not reset holds across restarts."""
    assert engine.gate is not None
    for key in ["kill", *(f"kill:{n}" for n in engine.venues)]:
        engine._kill_seen[key] = engine.journal.get_counter(key)
        if engine._kill_seen[key] > engine.journal.get_counter(key.replace("kill", "kill_reset", 1)):
            venue = key.partition(":")[2] or None
            engine._latch("latched by `trader kill` (clear with `trader kill --reset`)", venue)


def _marks(engine: Engine) -> None:
    """Currencies marked from a book this engine reads (`[risk.currencies.X] mark`): that instrument's
    mid sets the rate. One on a venue of this session it does not trade is a config error; one on a venue
    outside the session keeps its configured rate."""
    for c in engine.cfg.risk.currencies.values():
        if c.mark is None or c.currency not in engine.currency_ids:
            continue
        venue, symbol = c.mark
        v = engine.venues.get(venue)
        if v is None:
            log.warning(
                "%s is marked by %s:%s, not in this session: its configured rate %s holds",
                c.currency,
                venue,
                symbol,
                c.rate,
            )
            continue
        if symbol not in v.instruments and not v.failed:
            raise ConfigError(
                f"[risk.currencies.{c.currency}] mark = {venue}:{symbol}: "
                f"{venue} does not trade {symbol} in this session"
            )
        engine.marks[(venue, symbol)] = c.currency
