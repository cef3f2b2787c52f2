"""`trader testnet`: per venue, is it reachable, is our clock close to its clock, do our keys work, does
market data flow, and (with `--order`) does a tiny far-from-market order round-trip (place, see, cancel)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from trader.clock import Clock, LiveClock
from trader.core import Approval, RiskGate, Side
from trader.errors import TraderError
from trader.venues.base import BookUpdate
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


async def _first_book(conn: BinanceConnector, timeout_s: float) -> BookUpdate:
    async def wait() -> BookUpdate:
        async for ev in conn.events():
            if isinstance(ev, BookUpdate) and ev.bid is not None and ev.ask is not None:
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
        top = await _first_book(conn, timeout_s)
        spec = conn.trading_spec()
        add(
            "market data", True, f"book {spec.format_price(top.bid or 0)} / {spec.format_price(top.ask or 0)}"
        )
    except (TraderError, TimeoutError) as e:
        add("market data", False, str(e) or "no book update in time")
        add("order round trip", None, "no market data")
        return out
    if not order:
        add("order round trip", None, "not requested (--order)")
        return out
    try:
        add("order round trip", True, await _round_trip(conn, top.bid or 0, clock))
    except TraderError as e:
        add("order round trip", False, str(e))
    return out


async def _round_trip(conn: BinanceConnector, best_bid: int, clock: Clock) -> str:
    """A post-only buy 10% under the best bid, at the smallest size the venue takes, then its cancel.
    It passes a risk gate sized for exactly this order, like every order does."""
    spec = conn.trading_spec()
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
        conn.symbol,
        spec,
        max_order_qty=str(Decimal(qty) * lot),
        max_order_notional=limit,
        max_position=str(Decimal(qty) * lot),
        max_open_orders=1,
        collar_bps=5000,
    )
    gate.set_reference(inst, best_bid, best_bid + spec.tick, clock.now_ns())
    approval = gate.check(strategy, inst, Side.BUY, price, qty, clock.now_ns(), post_only=True)
    if not isinstance(approval, Approval):
        raise TraderError(f"the risk gate refused the test order: {approval.detail}")
    cid = f"testnet-{clock.now_ns() // 1_000_000}"
    t0 = clock.monotonic_ns()
    await conn.submit(approval, cid, conn.symbol)
    placed = (clock.monotonic_ns() - t0) / 1e6
    seen = await conn.query(cid)
    if seen is None:
        raise TraderError(f"order {cid} was acknowledged but the venue does not show it")
    await conn.cancel(cid)
    after = await conn.query(cid)
    if after is None or after.state.value != "canceled":
        raise TraderError(f"order {cid} is not canceled after the cancel ({after})")
    return f"{spec.format_qty(qty)} @ {spec.format_price(price)} placed in {placed:.1f} ms, then canceled"
