"""What a session trades on a venue: the strategy, its engine limits, the pre-trade rules and services,
chosen by the venue's tier (from its profile) and `--strategy`, never by the venue's name. What differs per
venue comes through the connector contract: `instrument_info`, `venue_time`, and the tier's extras below."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from trader.clock import Clock, ShiftedClock
from trader.config import RiskLimits
from trader.engine.engine import EngineConfig, PreTrade
from trader.engine.equity import DEFAULT_RULE, DayTradingRule, EquityConfig, EquityGate, EquityRules
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
from trader.venues.base import Connector, InstrumentInfo, Tier
from trader.venues.profile import VenueProfile


@runtime_checkable
class Referenced(Protocol):
    """A crypto venue that tells an instrument's rules and mid by REST before connecting (for sizing)."""

    async def reference(self) -> tuple[InstrumentInfo, Decimal]: ...


@runtime_checkable
class WithEquity(Protocol):
    """A broker that states the account's equity (the day-trading rule depends on it)."""

    async def equity(self) -> Decimal: ...


@runtime_checkable
class BinaryMarket(Protocol):
    """A prediction market connector trading one binary market (YES and NO)."""

    async def metadata(self) -> Any: ...


class Rig(NamedTuple):
    strategy: Strategy
    config: EngineConfig
    pre_trade: PreTrade | None = None
    services: tuple[Service, ...] = ()


@dataclasses.dataclass(frozen=True)
class RigRequest:
    """What the operator asked for: strategy, instrument(s), limits, options of the session."""

    strategy: str
    symbol: str
    risk: RiskLimits
    also: tuple[str, ...] = ()  # the second leg of pairs
    signal: str | None = None
    min_spread_bps: float = 30.0
    sized: bool = False  # crypto: size the market maker from the venue's price even on the default symbol
    allow_short: bool = False
    extended_hours: bool = False
    day_trading: DayTradingRule = DEFAULT_RULE  # brokers: `[venues.X] day_trading_rule`


def strategies(profile: VenueProfile) -> tuple[str, ...]:
    return profile.strategies or ("mm",)


async def rig(profile: VenueProfile, conn: Connector, req: RigRequest, clock: Clock) -> Rig:
    """The session's strategy and rules on `conn`. `ConfigError` when the venue does not run it."""
    if req.strategy not in strategies(profile):
        raise ConfigError(
            f"strategy {req.strategy!r} is not available on {profile.name} "
            f"(available: {', '.join(strategies(profile))})"
        )
    if profile.tier is Tier.BROKER:
        return await _broker(conn, req, clock)
    if profile.tier is Tier.PREDICTION:
        return await _prediction(conn, req)
    return await _crypto(profile, conn, req)


async def _crypto(profile: VenueProfile, conn: Connector, req: RigRequest) -> Rig:
    """The demo market maker on the venue's default instrument in a paper session; otherwise (another
    instrument, or live) one sized from the venue's filters and current price."""
    if req.symbol == profile.default_symbol == INSTRUMENT and not req.sized:  # the demo maker's units
        return Rig(demo_market_maker(), EngineConfig(symbol=req.symbol, risk=req.risk))
    if not isinstance(conn, Referenced):
        raise ConfigError(f"{profile.name} cannot price {req.symbol} before trading it")
    info, mid = await conn.reference()
    strategy, config = sized_market_maker(info, mid, min_spread_bps=req.min_spread_bps, risk=req.risk)
    return Rig(strategy, config)


def _price_tick(info: InstrumentInfo) -> int:
    """The instrument's tick in the connector's price units (Alpaca counts 1/100 cent: 100)."""
    unit = Decimal(info.price_unit or info.tick_size)
    return int(Decimal(info.tick_size) / unit)


def equity_config(req: RigRequest) -> EquityConfig:
    """The equity rules a broker session runs under: shorts, extended hours, the day-trading rule."""
    return EquityConfig(
        allow_short=req.allow_short or req.strategy == "pairs",
        extended_hours=req.extended_hours,
        day_trading=req.day_trading,
    )


async def _broker(conn: Connector, req: RigRequest, clock: Clock) -> Rig:
    """An ETF market maker (or pairs) through a broker, behind the equity rules on the venue's clock."""
    await conn.connect()  # brokers qualify instruments and tell time in the session
    session = ShiftedClock((await conn.venue_time()).ts_ns, clock)  # the venue's clock: its market hours
    equity = await conn.equity() if isinstance(conn, WithEquity) else Decimal(100_000)
    rules = EquityRules(equity_config(req))
    gate = EquityGate(rules, equity=equity, session_clock=session)
    if req.strategy == "pairs":
        other = req.also[0] if req.also else ("QQQ" if req.symbol != "QQQ" else "SPY")
        pair, pair_cfg = equity_pairs(req.symbol, other)
        return Rig(pair, dataclasses.replace(pair_cfg, risk=req.risk), gate)
    tick = _price_tick(await conn.instrument_info(req.symbol))
    mm, cfg = equity_market_maker(req.symbol, tick=tick)
    return Rig(mm, dataclasses.replace(cfg, risk=req.risk), gate)


async def _prediction(conn: Connector, req: RigRequest) -> Rig:
    """The binary-outcome market maker on both tokens, reward capture, or event-driven positioning on
    the connector's market, from its metadata (end date, tick, reward program)."""
    if not isinstance(conn, BinaryMarket):
        raise ConfigError(f"{conn.venue} does not describe its market")
    if req.strategy == "event" and not req.signal:
        raise ConfigError("--strategy=event needs --signal=FILE (JSON lines) or --signal=http(s)://URL")
    await conn.connect()  # the market's metadata is checked against the CLOB's in the session
    meta = await conn.metadata()
    tick = Decimal(meta.tick_size)
    mm, config = binary_market_maker(meta.condition_id, end_ns=meta.end_ns or 2**62, tick=f"{tick:f}")
    config = dataclasses.replace(config, risk=req.risk)
    yes, no, one, micro = f"{meta.condition_id}:YES", f"{meta.condition_id}:NO", int(1 / tick), 1_000_000
    if req.strategy == "rewards":
        from trader.engine.services import reward_scoring
        from trader.strategies.rewards import RewardCapture, RewardCaptureParams, RewardParams

        rewards = RewardParams(
            max_spread=Decimal(meta.rewards_max_spread),  # cents
            min_size=int(Decimal(meta.rewards_min_size) * micro),
            daily_pool=Decimal(meta.rewards_daily_rate) or Decimal(100),
            share=micro,
        )
        params = RewardCaptureParams(
            yes, no, one, rewards, max_size=50 * micro, max_notional=Decimal(40), max_position=200 * micro
        )
        limits = dataclasses.replace(config, max_order_qty="60", max_order_notional="60", max_position="260")
        return Rig(RewardCapture(params), limits, services=(reward_scoring(poll_s=1.0),))
    if req.strategy == "event":
        from trader.engine.services import signal_file, signal_http
        from trader.strategies.event_driven import EventDriven, EventDrivenParams

        feed = str(req.signal)
        service = signal_http(feed) if feed.startswith(("http://", "https://")) else signal_file(Path(feed))
        params2 = EventDrivenParams(
            yes,
            no,
            one,
            edge=Decimal("0.03"),
            size_per_cent=2 * micro,
            max_position=40 * micro,
            max_age_s=120,
            min_qty=int(Decimal(meta.min_order_size) * micro),
        )
        limits = dataclasses.replace(config, max_order_qty="40", max_order_notional="40", max_position="50")
        return Rig(EventDriven(params2), limits, services=(service,))
    return Rig(mm, config)
