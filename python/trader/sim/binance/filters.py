"""What the simulator lists, and the checks a new order passes before it reaches a book.

Spot (and margin, on the spot book) lists one of `INSTRUMENTS`; USD-M futures lists `FUTURES` (a
perpetual with the same symbol name). Each market's filters are one step of the new-order pipeline
(`parse -> filters -> admit -> match -> respond`): wire strings become integer ticks and lots once, here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from trader.sim.binance.errors import ApiError, illegal

ZERO = Decimal(0)


@dataclass(frozen=True)
class SpotInstrument:
    """The one symbol a simulator lists: its filters, starting mid and the demo account's base balance."""

    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    mid: Decimal
    base_balance: Decimal
    max_lots: int = 200  # largest background order, in lots
    percent_up: Decimal = Decimal(5)  # PERCENT_PRICE_BY_SIDE multipliers around the mid
    percent_down: Decimal = Decimal("0.2")
    volatility_ticks: float = 2.0  # the background market's mid move per second, in ticks
    distance_ticks: float = 4.0  # mean distance of background limit orders from the mid


INSTRUMENTS = {
    i.symbol: i
    for i in (
        SpotInstrument(
            "BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
            Decimal(9000), Decimal(5), Decimal(50000), Decimal(10),
        ),
        # altcoins: a coarse lot, a fine tick and a tighter price band, like their real filters
        SpotInstrument(
            "DOGEUSDT", "DOGE", "USDT", Decimal("0.00001"), Decimal(1), Decimal(1),
            Decimal(9_000_000), Decimal(1), Decimal("0.15"), Decimal(100_000), max_lots=2000,
            percent_up=Decimal("1.5"), percent_down=Decimal("0.5"), volatility_ticks=15, distance_ticks=25,
        ),
        SpotInstrument(
            "SOLUSDT", "SOL", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.001"),
            Decimal(90000), Decimal(5), Decimal(150), Decimal(500), max_lots=5000,
            percent_up=Decimal("1.5"), percent_down=Decimal("0.5"), volatility_ticks=3, distance_ticks=8,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class FuturesSpec:
    """The USD-M perpetual's filters (our picks, see the package docstring)."""

    tick: Decimal = Decimal("0.1")
    step: Decimal = Decimal("0.001")
    min_qty: Decimal = Decimal("0.001")
    max_qty: Decimal = Decimal("1000")
    market_max_qty: Decimal = Decimal("120")
    min_notional: Decimal = Decimal(100)
    up: Decimal = Decimal("1.05")  # PERCENT_PRICE around the mark price
    down: Decimal = Decimal("0.95")
    maint_rate: Decimal = Decimal("0.004")


FUTURES = FuturesSpec()
CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
ALGO_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")


def _decimal(name: str, text: str) -> Decimal:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise illegal(name) from None
    if not d.is_finite():
        raise illegal(name)
    return d


def spot_units(name: str, text: str, unit: Decimal, filter_name: str) -> int:
    """A spot price or quantity in integer `unit`s: -1100 unless a positive number, -1013 off the grid."""
    d = _decimal(name, text)
    if d <= 0:
        raise illegal(name)
    q = d / unit
    if q != q.to_integral_value():
        raise ApiError(-1013, f"Filter failure: {filter_name}")
    return int(q)


def futures_units(name: str, text: str, unit: Decimal, places: int) -> int:
    """A futures price or quantity in integer `unit`s, with the futures codes for each failure."""
    d = _decimal(name, text)
    if d <= 0:
        if name == "quantity":
            raise ApiError(-4003, "Quantity less than or equal to zero.")
        raise ApiError(-4001, "Price less than 0.")
    if d != d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
    q = d / unit
    if q != q.to_integral_value():
        if name == "quantity":
            raise ApiError(-4023, "Quantity not increased by step size.")
        raise ApiError(-4014, "Price not increased by tick size.")
    return int(q)


def spot_filters(inst: SpotInstrument, qty: int, price: int, bid: int | None, ask: int | None) -> None:
    """LOT_SIZE bounds, PERCENT_PRICE_BY_SIDE around the mid, NOTIONAL (market orders at the best)."""
    lots = Decimal(qty) * inst.step
    if lots < inst.min_qty or lots > inst.max_qty:
        raise ApiError(-1013, "Filter failure: LOT_SIZE")
    if price and bid and ask:  # the band around the mid (the venue uses a 5-minute average)
        mid = Decimal(bid + ask) / 2
        if not mid * inst.percent_down <= price <= mid * inst.percent_up:
            raise ApiError(-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
    ref = price or ask or bid or 0
    if Decimal(ref * qty) * (inst.tick * inst.step) < inst.min_notional:
        raise ApiError(-1013, "Filter failure: NOTIONAL")


def futures_qty_filters(qty: int, market: bool) -> None:
    lots = Decimal(qty) * FUTURES.step
    if lots < FUTURES.min_qty:
        raise ApiError(-4004, "Quantity less than min quantity.")
    if lots > (FUTURES.market_max_qty if market else FUTURES.max_qty):
        raise ApiError(-4005, "Quantity greater than max quantity.")


def futures_price_filters(side: str, price: int, qty: int, mark: Decimal, reduce_only: bool) -> None:
    """PERCENT_PRICE around the mark and MIN_NOTIONAL (waived for reduce-only orders)."""
    if price:
        px = Decimal(price) * FUTURES.tick
        if side == "BUY" and px > mark * FUTURES.up:
            raise ApiError(-4016, f"Limit price can't be higher than {mark * FUTURES.up:.2f}.")
        if side == "SELL" and px < mark * FUTURES.down:
            raise ApiError(-4024, f"Limit price can't be lower than {mark * FUTURES.down:.2f}.")
    ref = Decimal(price) * FUTURES.tick if price else mark
    if not reduce_only and ref * qty * FUTURES.step < FUTURES.min_notional:
        raise ApiError(
            -4164,
            f"Order's notional must be no smaller than {FUTURES.min_notional} "
            "(unless you choose reduce only).",
        )
