"""The connector contract every venue implements: brokers (IBKR's socket session, Alpaca), crypto
exchanges (REST + WebSocket), Polymarket (a wallet that signs orders) and the built-in simulator.

Two times (STYLE 13): every event carries `ts_event`, the venue's stamp, kept for records, and `ts_recv`,
our clock when the bytes were read. Every decision (staleness, the gate's reference, timers, latency) uses
`ts_recv` only, so a venue whose clock is off or pinned elsewhere cannot make a price look fresh or stale.

A connector accepts only `Approval`s from the risk gate. `submit` is single-shot: a timeout or 5xx raises
`UnknownOutcomeError` and the engine resolves it with `query` by client order id, never by resending.
Errors come from the `trader.errors.VenueError` family, so the engine can tell a definitive reject from an
unknown outcome, a transient failure or a ban.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import KW_ONLY, dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trader.core import Approval, InstrumentSpec, Side


class Tier(enum.StrEnum):
    BROKER = "broker"
    CRYPTO = "crypto"
    PREDICTION = "prediction"
    DIRECT = "direct"
    SIMULATED = "simulated"


@dataclass(frozen=True)
class Capabilities:
    venue: str
    tier: Tier
    order_types: frozenset[str]  # "LIMIT", "MARKET"
    time_in_force: frozenset[str]  # "GTC", "IOC", "FOK", "GTD"
    post_only: bool
    reduce_only: bool
    cancel_all: bool
    dead_man_switch: bool  # a venue-side cancel-on-disconnect we arm and refresh
    ws_order_entry: bool
    max_batch: int  # orders per batch request; 1 when there is no batch endpoint
    paper_environment: bool  # a testnet / paper account exists
    needs_credentials: bool


class OrderState(enum.StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True)
class SubmitAck:
    client_id: str
    venue_order_id: str


@dataclass(frozen=True)
class InstrumentInfo:
    """The venue's trading rules for one instrument, as the venue states them (decimal strings)."""

    symbol: str
    base: str
    quote: str
    tick_size: str
    lot_size: str
    min_qty: str
    min_notional: str
    max_qty: str = ""  # "" when the venue states none
    percent_up: str = ""  # price-band multipliers around the reference (Binance PERCENT_PRICE), "" if none
    percent_down: str = ""
    price_unit: str = ""  # the unit the connector counts prices in, when finer than the tick ("" = tick)
    qty_unit: str = ""  # likewise for quantities ("" = lot)

    def spec(self) -> InstrumentSpec:
        """These rules in the core's integer units (the same units the connector reports in)."""
        return InstrumentSpec(
            self.tick_size,
            self.lot_size,
            min_qty=self.min_qty,
            max_qty=self.max_qty or None,
            min_notional=self.min_notional,
            price_unit=self.price_unit or None,
            qty_unit=self.qty_unit or None,
        )


@dataclass(frozen=True)
class OrderReport:
    """The venue's view of one order (for `query`, `open_orders`, reconciliation and the private stream).
    `ts_event` is the venue's time of the order's last change as the venue states it (records only; 0 where
    the venue states none, documented in the venue's parse.py); `ts_recv` is our clock when the answer or
    message was read. Neither takes part in equality: the same order heard twice (stream, REST) is one."""

    client_id: str
    venue_order_id: str
    instrument: str
    side: Side
    price: int
    qty: int
    filled: int
    state: OrderState
    reason: str = ""
    _: KW_ONLY
    ts_event: int = field(compare=False)
    ts_recv: int = field(compare=False)


@dataclass(frozen=True)
class FillReport:
    """One execution. `ts_event` is the venue's time of the trade (records, the day it counts for);
    `ts_recv` is our clock when we learned of it."""

    client_id: str
    trade_id: str
    instrument: str
    side: Side
    price: int
    qty: int
    fee: Decimal  # quote currency, paid > 0
    ts_event: int
    maker: bool
    base_fee: Decimal = Decimal(0)  # part of the fee withheld from the bought asset (spot), in that asset
    _: KW_ONLY
    ts_recv: int = field(compare=False)  # the same execution heard twice (stream, REST) is one fill


@dataclass(frozen=True)
class BookUpdate:
    """The top of a book the connector keeps in sequence (integer units). `ts_event` is the venue's stamp
    (records only); `ts_recv` is our clock (`Clock.now_ns`) when the message was read: the gate's reference
    time, staleness and tick-to-wire latency use it and nothing else."""

    instrument: str
    bid: int | None
    bid_qty: int
    ask: int | None
    ask_qty: int
    ts_event: int
    ts_recv: int


@dataclass(frozen=True)
class BookInvalid:
    """The book can no longer be trusted (sequence gap, stale or dropped feed) until a new `BookUpdate`.
    `ts_recv` is our clock when the invalidity was detected."""

    instrument: str
    reason: str
    _: KW_ONLY
    ts_recv: int = field(compare=False)


@dataclass(frozen=True)
class TradeTick:
    """A public trade print. `aggressor` is the taker's side."""

    instrument: str
    price: int
    qty: int
    aggressor: Side
    ts_event: int
    _: KW_ONLY
    ts_recv: int = field(compare=False)


@dataclass(frozen=True)
class Quote:
    """The venue's own best bid/offer feed (e.g. Binance bookTicker): faster than depth, not sequenced
    with it; informational next to the book's `BookUpdate`."""

    instrument: str
    bid: int
    bid_qty: int
    ask: int
    ask_qty: int
    ts_event: int
    ts_recv: int


@dataclass(frozen=True)
class FundingPayment:
    """A perpetual's funding settled on our position: `amount` in the quote (margin) currency, received > 0,
    paid < 0. Part of PnL (`trader.engine.portfolio`)."""

    instrument: str
    amount: Decimal
    ts_event: int
    funding_id: str = ""  # the venue's id of the payment (tranId), "" when it states none
    _: KW_ONLY
    ts_recv: int = field(compare=False)


class Stream(enum.StrEnum):
    MARKET = "market"
    PRIVATE = "private"


@dataclass(frozen=True)
class StreamStatus:
    """One of the connector's streams went down (`up=False`, with why) or is back (`up=True`, after its
    resync). The engine's per-venue health and watchdog act on it (`trader.engine.health`)."""

    stream: Stream
    up: bool
    reason: str = ""
    _: KW_ONLY
    ts_recv: int = field(compare=False)


VenueEvent = (
    BookUpdate | BookInvalid | FillReport | OrderReport | TradeTick | Quote | FundingPayment | StreamStatus
)


@dataclass(frozen=True)
class VenueTime:
    """One reading of the venue's clock: `ts_ns` since the epoch, stated to `resolution_ns`
    (1_000_000_000 when the venue tells whole seconds)."""

    ts_ns: int
    resolution_ns: int


@runtime_checkable
class Connector(Protocol):
    venue: str
    capabilities: Capabilities

    async def connect(self) -> None:
        """Open sessions and streams. Connecting a connected connector does nothing."""
        ...

    async def close(self) -> None: ...

    async def venue_time(self) -> VenueTime:
        """The venue's clock (`trader testnet`'s clock check; venue sessions such as market hours)."""
        ...

    async def instrument_info(self, symbol: str) -> InstrumentInfo: ...

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        """Send one approved order, once. Raises a `VenueError`; `UnknownOutcomeError` on timeout or 5xx."""
        ...

    async def cancel(self, client_id: str) -> None:
        """Cancel one order; returns once the venue confirmed it. `OrderNotFoundError`: already closed."""
        ...

    async def cancel_all(self, instrument: str | None = None) -> int: ...

    async def query(self, client_id: str) -> OrderReport | None:
        """The order's state at the venue, or None if the venue never saw it."""
        ...

    async def open_orders(self) -> list[OrderReport]: ...

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        """Our fills whose `ts_event` (the venue's time) is at or after `ts_ns`."""
        ...

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        """Funding paid (< 0) or received (> 0) on perpetual positions whose `ts_event` (the venue's time)
        is at or after `ts_ns`. [] where the venue or market has no perpetuals."""
        ...

    async def positions(self) -> dict[str, int]:
        """Net position (spot: base-asset balance) per instrument, in qty units."""
        ...

    def events(self) -> AsyncIterator[VenueEvent]:
        """Market data and private updates, in the order the venue sent them."""
        ...


@runtime_checkable
class Rehearses(Protocol):
    """A connector that can rehearse an order (optional): the engine's rehearsal under busy-polling
    (`trader.engine.rehearsal`) keeps the code of its next order warm between orders."""

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit`'s work up to the socket, without its effects: the order's parameters, signature and
        request bytes, built and dropped; no rate-limit quota used, nothing sent or recorded. The size of
        the request that `submit` would send."""
        ...


def require_approval(obj: object) -> Approval:
    """Connectors call this first: nothing but a gate-made `Approval` reaches a venue."""
    if not isinstance(obj, Approval):
        raise TypeError(f"connectors accept only risk-gate approvals, not {type(obj).__name__}")
    return obj
