"""Bybit v5 JSON -> `trader` values. Pure functions: no I/O, no clock; a wire string becomes integer
units here, once (prices in the tick, quantities in the base precision / qty step).

`ts_event` is the venue's stated time: `updatedTime` (orders), `execTime` (executions), `ts` (book
messages), `T` (public trades), `timeNano` (server time); every Bybit payload used here states one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trader.core import InstrumentSpec, Side
from trader.venues.base import (
    BookUpdate,
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    OrderState,
    TradeTick,
    VenueTime,
)

MS = 1_000_000

STATES = {
    "New": OrderState.OPEN,
    "PartiallyFilled": OrderState.OPEN,
    "Untriggered": OrderState.OPEN,
    "Filled": OrderState.FILLED,
    "Cancelled": OrderState.CANCELED,
    "PartiallyFilledCanceled": OrderState.CANCELED,
    "Deactivated": OrderState.CANCELED,
    "Rejected": OrderState.REJECTED,
    "Triggered": OrderState.OPEN,
}
POST_ONLY_CROSS = "EC_PostOnlyWillTakeLiquidity"  # Bybit cancels it after the ack
TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED})


def instrument_info(row: dict[str, Any]) -> InstrumentInfo:
    """One `instruments-info` row (spot: basePrecision and minOrderAmt; linear: qtyStep and
    minNotionalValue)."""
    lot = row["lotSizeFilter"]
    step = str(lot.get("qtyStep") or lot["basePrecision"])
    return InstrumentInfo(
        symbol=str(row["symbol"]),
        base=str(row["baseCoin"]),
        quote=str(row["quoteCoin"]),
        tick_size=str(row["priceFilter"]["tickSize"]),
        lot_size=step,
        min_qty=str(lot["minOrderQty"]),
        min_notional=str(lot.get("minNotionalValue") or lot.get("minOrderAmt") or "0"),
        max_qty=_floor(str(lot.get("maxOrderQty", "")), step),
    )


def _floor(text: str, step: str) -> str:
    """A limit rounded down to the step (spot states maxOrderQty finer than basePrecision)."""
    if not text:
        return ""
    n = Decimal(text) // Decimal(step)
    return f"{(n * Decimal(step)).normalize():f}" if n else ""


def side(text: str) -> Side:
    if text == "Buy":
        return Side.BUY
    if text == "Sell":
        return Side.SELL
    raise ValueError(f"unknown side {text!r}")


def _price(text: object, spec: InstrumentSpec) -> int:
    t = str(text or "0")
    return 0 if Decimal(t) == 0 else spec.price_to_units(t)


def order_report(o: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> OrderReport:
    """An order row (REST `order/realtime`, or the private `order` stream)."""
    status = str(o["orderStatus"])
    reason = str(o.get("rejectReason", ""))
    state = STATES[status]
    if (
        reason == POST_ONLY_CROSS
        and state is OrderState.CANCELED
        and not Decimal(str(o.get("cumExecQty") or 0))
    ):
        state = OrderState.REJECTED  # a post-only that would have taken never rested
    return OrderReport(
        client_id=str(o["orderLinkId"]),
        venue_order_id=str(o["orderId"]),
        instrument=str(o["symbol"]),
        side=side(str(o["side"])),
        price=_price(o.get("price"), spec),
        qty=spec.qty_to_units(str(o["qty"])),
        filled=spec.qty_to_units(str(o.get("cumExecQty") or "0")),
        state=state,
        reason="" if reason in ("", "EC_NoError") else reason,
        ts_event=int(o.get("updatedTime") or o.get("createdTime") or 0) * MS,
        ts_recv=ts_recv,
    )


def fill(x: dict[str, Any], info: InstrumentInfo, spec: InstrumentSpec, ts_recv: int) -> FillReport:
    """An execution (REST `execution/list` or the private `execution` stream). A fee withheld in the
    base coin (spot buys) is also stated in the quote at the execution price."""
    price = Decimal(str(x["execPrice"]))
    fee = Decimal(str(x.get("execFee") or "0"))
    in_base = str(x.get("feeCurrency", "")) == info.base
    return FillReport(
        client_id=str(x["orderLinkId"]),
        trade_id=str(x["execId"]),
        instrument=str(x["symbol"]),
        side=side(str(x["side"])),
        price=spec.price_to_units(str(x["execPrice"])),
        qty=spec.qty_to_units(str(x["execQty"])),
        fee=fee * price if in_base else fee,
        ts_event=int(x["execTime"]) * MS,
        maker=bool(x.get("isMaker", False)),
        base_fee=fee if in_base else Decimal(0),
        ts_recv=ts_recv,
    )


def levels(rows: list[list[str]], spec: InstrumentSpec) -> list[tuple[int, int]]:
    """`[[price, size], ...]` in units (size 0: the level is gone)."""
    return [(spec.price_to_units(p), spec.qty_to_units(q)) for p, q in rows]


def top(symbol: str, bids: dict[int, int], asks: dict[int, int], ts_event: int, ts_recv: int) -> BookUpdate:
    bid = max(bids) if bids else None
    ask = min(asks) if asks else None
    return BookUpdate(
        symbol,
        bid,
        bids[bid] if bid is not None else 0,
        ask,
        asks[ask] if ask is not None else 0,
        ts_event,
        ts_recv,
    )


def trade(t: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> TradeTick:
    """A `publicTrade` row (`S` is the taker's side)."""
    return TradeTick(
        str(t["s"]),
        spec.price_to_units(str(t["p"])),
        spec.qty_to_units(str(t["v"])),
        side(str(t["S"])),
        int(t["T"]) * MS,
        ts_recv=ts_recv,
    )


def mid_price(book: dict[str, Any]) -> Decimal:
    """The mid of an `orderbook` result."""
    bid, ask = Decimal(str(book["b"][0][0])), Decimal(str(book["a"][0][0]))
    return (bid + ask) / 2


def venue_time(result: dict[str, Any]) -> VenueTime:
    """`market/time`: `timeNano` (its resolution is the venue's; we say 1 ms, what it keeps)."""
    return VenueTime(int(result["timeNano"]), MS)


def position_units(row: dict[str, Any], spec: InstrumentSpec) -> int:
    """A linear position row's signed size in qty units."""
    size = spec.qty_to_units(str(row.get("size") or "0"))
    return -size if row.get("side") == "Sell" else size


def funding(x: dict[str, Any], ts_recv: int) -> FundingPayment:
    """An execution of `execType=Funding`: `execFee` > 0 is paid by us (so the payment is negative)."""
    if x.get("execType") != "Funding":
        raise ValueError(f"not a funding execution: {x.get('execType')!r}")
    return FundingPayment(
        str(x["symbol"]),
        -Decimal(str(x["execFee"])),
        int(x["execTime"]) * MS,
        str(x["execId"]),
        ts_recv=ts_recv,
    )
