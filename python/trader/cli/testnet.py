"""`trader testnet`: per venue, is it reachable, is our clock close to its clock, do our keys work, does
market data flow, and (with `--order`) does a tiny far-from-market order round-trip (place, see, cancel)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import NamedTuple

from trader.clock import Clock, LiveClock
from trader.core import Approval, InstrumentSpec, RiskGate, Side
from trader.errors import TraderError
from trader.venues.base import BookUpdate, Connector
from trader.venues.binance import BinanceConnector

MAX_CLOCK_OFFSET_MS = 1000


@dataclass(frozen=True)
class Check:
    venue: str
    name: str
    ok: bool | None  # None: skipped
    detail: str

    @property
    def verdict(self) -> str:
        return "SKIP" if self.ok is None else ("PASS" if self.ok else "FAIL")


async def _first_book(conn: Connector, timeout_s: float, symbol: str | None = None) -> BookUpdate:
    async def wait() -> BookUpdate:
        async for ev in conn.events():
            if (
                isinstance(ev, BookUpdate)
                and ev.bid is not None
                and ev.ask is not None
                and (symbol is None or ev.instrument == symbol)
            ):
                return ev
        raise TraderError("event stream ended")

    return await asyncio.wait_for(wait(), timeout_s)


async def check_binance_like(
    conn: BinanceConnector, *, order: bool, clock: Clock | None = None, timeout_s: float = 10.0
) -> list[Check]:
    """Run the checks in order; a failed step skips the steps that depend on it."""
    clock = clock or LiveClock()
    v = conn.venue
    out: list[Check] = []

    def add(name: str, ok: bool | None, detail: str) -> bool:
        out.append(Check(v, name, ok, detail))
        return bool(ok)

    t0 = clock.monotonic_ns()
    try:
        offset = await conn.sync_time()
    except TraderError as e:
        add("reachability", False, str(e))
        for name in ("clock", "auth", "market data", "order round trip"):
            add(name, None, "venue unreachable")
        return out
    add("reachability", True, f"{(clock.monotonic_ns() - t0) / 1e6:.1f} ms round trip")
    add(
        "clock",
        abs(offset) <= MAX_CLOCK_OFFSET_MS,
        f"offset {offset:+d} ms (limit ±{MAX_CLOCK_OFFSET_MS} ms)",
    )
    try:
        balances = await conn.balances()
        add("auth", True, f"account readable ({len(balances)} assets)")
    except TraderError as e:
        add("auth", False, str(e))
        add("market data", None, "auth failed")
        add("order round trip", None, "auth failed")
        return out
    try:
        await conn.connect()
    except TraderError as e:
        add("market data", False, str(e))
        add("order round trip", None, "no market data")
        return out
    await _market_and_order(conn, conn.trading_spec(), conn.symbol, order, clock, timeout_s, add)
    return out


async def check_connector(
    conn: Connector, symbol: str, *, order: bool, clock: Clock | None = None, timeout_s: float = 10.0
) -> list[Check]:
    """The checks for any connector: connecting covers reachability and auth (brokers and Polymarket
    authenticate in the session), then market data and the order round trip on `symbol`."""
    clock = clock or LiveClock()
    out: list[Check] = []

    def add(name: str, ok: bool | None, detail: str) -> None:
        out.append(Check(conn.venue, name, ok, detail))

    t0 = clock.monotonic_ns()
    try:
        await asyncio.wait_for(conn.connect(), timeout_s)
        info = await conn.instrument_info(symbol)
    except (TraderError, TimeoutError, OSError) as e:
        add("connect + auth", False, str(e) or type(e).__name__)
        for name in ("market data", "order round trip"):
            add(name, None, "not connected")
        return out
    add("connect + auth", True, f"session up in {(clock.monotonic_ns() - t0) / 1e6:.1f} ms")
    try:
        venue_time = await venue_clock(conn, clock)
    except (TraderError, TimeoutError, OSError) as e:
        add("clock", False, f"cannot read the venue's time: {e}")
    else:
        if venue_time is None:
            add("clock", None, "the venue states no time")
        else:
            ms, limit = venue_time.offset_ms, MAX_CLOCK_OFFSET_MS + venue_time.resolution_ms
            add("clock", abs(ms) <= limit, f"offset {ms:+d} ms (limit ±{limit} ms)")
    await _market_and_order(conn, info.spec(), symbol, order, clock, timeout_s, add)
    return out


async def _market_and_order(
    conn: Connector,
    spec: InstrumentSpec,
    symbol: str,
    order: bool,
    clock: Clock,
    timeout_s: float,
    add: Callable[[str, bool | None, str], object],
) -> None:
    """The last two checks of every venue: a two-sided book arrives, then (with `order`) the round trip."""
    try:
        top = await _first_book(conn, timeout_s, symbol)
    except (TraderError, TimeoutError) as e:
        add("market data", False, str(e) or "no book update in time")
        add("order round trip", None, "no market data")
        return
    add("market data", True, f"book {spec.format_price(top.bid or 0)} / {spec.format_price(top.ask or 0)}")
    if not order:
        add("order round trip", None, "not requested (--order)")
        return
    try:
        add("order round trip", True, await _round_trip(conn, spec, symbol, top.bid or 0, clock))
    except TraderError as e:
        add("order round trip", False, str(e))


class VenueTime(NamedTuple):
    offset_ms: int  # the venue's clock minus ours (half the round trip assumed each way)
    resolution_ms: int  # what the venue's clock states: 1000 when whole seconds only


async def venue_clock(conn: Connector, clock: Clock) -> VenueTime | None:
    """The venue's clock against ours, for connectors other than Binance's (which tracks its offset)."""
    from trader.venues.alpaca import AlpacaConnector
    from trader.venues.ibkr import IbkrConnector
    from trader.venues.polymarket import PolymarketConnector

    t0 = clock.now_ns()
    if isinstance(conn, AlpacaConnector):
        venue_ns = (await conn.market_clock()).ts_ns
        return VenueTime((venue_ns - (t0 + clock.now_ns()) // 2) // 1_000_000, 0)
    if isinstance(conn, IbkrConnector):
        venue = await asyncio.wait_for(conn.ib.reqCurrentTimeAsync(), 5.0)
        return VenueTime(int(venue.timestamp() * 1000) - (t0 + clock.now_ns()) // 2_000_000, 1000)
    if isinstance(conn, PolymarketConnector):
        return VenueTime(conn.clock_offset_ms, 1000)
    return None


async def _round_trip(conn: Connector, spec: InstrumentSpec, symbol: str, best_bid: int, clock: Clock) -> str:
    """A buy 10% under the best bid (post-only where the venue has it), at the smallest size the venue
    takes, then its cancel. It passes a risk gate sized for exactly this order, like every order does."""
    tick, lot = Decimal(spec.price_unit), Decimal(spec.qty_unit)
    price = (best_bid * 9 // 10) // spec.tick * spec.tick
    px = Decimal(price) * tick
    qty_dec = max(Decimal(spec.min_qty) * lot, Decimal(spec.min_notional) * Decimal("1.1") / px)
    qty = int((qty_dec / lot).to_integral_value(ROUND_CEILING))
    qty = -(-qty // spec.lot) * spec.lot
    notional = spec.notional(price, qty)
    limit = str(notional * 2)
    gate = RiskGate(
        max_gross_notional=limit,
        max_net_notional=limit,
        max_open_orders=1,
        max_orders_per_sec=1,
        daily_loss_limit=limit,
    )
    venue = gate.add_venue(conn.venue, max_gross_notional=limit, max_open_orders=1)
    strategy = gate.add_strategy("testnet", max_orders_per_sec=1)
    inst = gate.add_instrument(
        venue,
        symbol,
        spec,
        max_order_qty=str(Decimal(qty) * lot),
        max_order_notional=limit,
        max_position=str(Decimal(qty) * lot),
        max_open_orders=1,
        collar_bps=5000,
    )
    gate.set_reference(inst, best_bid, best_bid + spec.tick, clock.now_ns())
    post_only = conn.capabilities.post_only
    approval = gate.check(strategy, inst, Side.BUY, price, qty, clock.now_ns(), post_only=post_only)
    if not isinstance(approval, Approval):
        raise TraderError(f"the risk gate refused the test order: {approval.detail}")
    cid = f"testnet-{clock.now_ns() // 1_000_000}"
    t0 = clock.monotonic_ns()
    await conn.submit(approval, cid, symbol)
    placed = (clock.monotonic_ns() - t0) / 1e6
    seen = await conn.query(cid)
    if seen is None:
        raise TraderError(f"order {cid} was acknowledged but the venue does not show it")
    await conn.cancel(cid)
    after = await conn.query(cid)
    if after is None or after.state.value != "canceled":
        raise TraderError(f"order {cid} is not canceled after the cancel ({after})")
    return f"{spec.format_qty(qty)} @ {spec.format_price(price)} placed in {placed:.1f} ms, then canceled"
