"""What the engine trades, per venue and per strategy.

A *venue* is an account on one exchange and market (`binance`, `binance-futures` and `binance-margin` are
three): its connector, its instruments (the venue's own symbols), their canonical names (what strategies
write: `BTC-USDT` for `BTCUSDT`, `XBT/USDT`, ...), its limits, its pre-trade check and its health rules.
A *strategy* trades legs: (venue, canonical instrument) pairs on one or several venues.

`VenueSetup` / `StrategySetup` are what a caller hands `Engine`; `VenueState` / `StrategyState` are what the
engine keeps for each while it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol

from trader.core import Approval, InstrumentSpec
from trader.engine.portfolio import Position
from trader.engine.settings import EngineConfig
from trader.strategies.base import Strategy
from trader.venues.base import Connector

if TYPE_CHECKING:
    from trader.core import Side
    from trader.engine.bans import VenueBan
    from trader.engine.health import HealthRules, VenueHealth
    from trader.engine.resolve import Resolver
    from trader.engine.staleness import FeedWatch


class PreTrade(Protocol):
    """A venue-specific check every order passes before the risk gate (equity rules for brokers:
    `trader.engine.equity.EquityGate`); it sees every fill and the positions found at start-up."""

    def load_position(self, symbol: str, qty: int) -> None: ...

    def check(
        self,
        symbol: str,
        side: Side,
        price: str,
        qty: str,
        now_ns: int,
        marks: Mapping[str, Decimal],
        working_sell: str = "0",
    ) -> str | None:
        """None, or why not. `working_sell`: what our live sells of `symbol` still offer (a cancel not yet
        confirmed included: the venue holds those shares until it is)."""
        ...

    def on_fill(self, symbol: str, side: Side, qty: str, ts_ns: int) -> None: ...


@dataclass(frozen=True)
class VenueSetup:
    """One venue for the engine. `config` names its instruments (`symbol`, `also`: the venue's own
    symbols) and their limits; `canonical` maps a venue symbol to the name strategies use (absent: the
    venue symbol itself); `assets` / `currencies` map a venue symbol to the asset it is exposure in and the
    currency it is quoted in (absent: the instrument's own base and quote)."""

    connector: Connector
    config: EngineConfig = field(default_factory=EngineConfig)
    pre_trade: PreTrade | None = None
    canonical: Mapping[str, str] = field(default_factory=dict)
    assets: Mapping[str, str] = field(default_factory=dict)
    currencies: Mapping[str, str] = field(default_factory=dict)
    health: HealthRules | None = None
    name: str = ""  # default: the connector's venue name

    @property
    def venue(self) -> str:
        return self.name or self.connector.venue


@dataclass(frozen=True)
class StrategySetup:
    """One strategy and the legs it trades, (venue, canonical instrument) pairs; no legs: every
    instrument of every venue (a single-venue engine). `name` must be unique in the engine (default: the
    strategy's own)."""

    strategy: Strategy
    legs: tuple[tuple[str, str], ...] = ()
    name: str = ""
    orders_per_second: int | None = None

    @property
    def label(self) -> str:
        return self.name or self.strategy.name


@dataclass
class Instrument:
    """One instrument the engine trades: its venue, names, rules, gate id, position and last top of book."""

    venue: str
    symbol: str  # the venue's
    canonical: str  # the strategies'
    spec: InstrumentSpec
    gate_id: int
    position: Position
    asset: str = ""
    currency: str = ""
    bid: int | None = None
    ask: int | None = None
    max_abs: int = 0
    strategies: list[StrategyState] = field(default_factory=list)  # who trades it

    def mark(self) -> Fraction | None:
        if self.bid is None or self.ask is None:
            return None
        return Fraction(self.bid + self.ask, 2)


@dataclass
class StrategyState:
    strategy: Strategy
    name: str
    gate_id: int
    legs: frozenset[tuple[str, str]]  # (venue, canonical); empty: every instrument
    halted: str = ""  # why it may not trade (a venue it needs failed reconciliation)
    unique: dict[str, Instrument | None] = field(default_factory=dict)  # canonical -> its only leg
    orders: int = 0
    fills: int = 0

    def trades(self, venue: str, canonical: str) -> bool:
        return not self.legs or (venue, canonical) in self.legs


@dataclass
class VenueState:
    """A venue while the engine runs."""

    name: str
    connector: Connector
    cfg: EngineConfig
    pre_trade: PreTrade | None
    setup: VenueSetup
    feeds: FeedWatch
    ban: VenueBan
    resolver: Resolver
    health: VenueHealth
    rehearse: Callable[[Approval, str, str], int] | None = None  # the connector's `Rehearses.rehearse`
    gate_id: int = -1
    instruments: dict[str, Instrument] = field(default_factory=dict)  # by venue symbol
    by_canonical: dict[str, Instrument] = field(default_factory=dict)
    other_sessions: int = 0  # orders and fills of other trader sessions seen on this account
    funding_seen: set[tuple[str, int, Decimal]] = field(default_factory=set)  # heard from stream and REST
    failed: str = ""  # reconciliation failed: the venue does not trade
    orders: int = 0
    fills: int = 0
    rejects: int = 0
    canceled: int = 0
    unknown_outcomes: int = 0

    @property
    def symbols(self) -> tuple[str, ...]:
        c = self.cfg
        return (c.symbol, *(s for s in c.also if s != c.symbol))
