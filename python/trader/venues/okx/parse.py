"""OKX v5 payloads into `trader` values: pure functions, no I/O. A wire decimal string becomes integer
units here, once (prices in `tickSz`, sizes in `lotSz`).

`ts_event` is the venue's stated time: an order's `uTime`, a fill's `fillTime` / `ts`, a book or trade
message's `ts` (all milliseconds). A fill's trade id is `<ordId>:<tradeId>`, the same from the `orders`
channel and from `GET /api/v5/trade/fills`, so the engine sees one fill heard both ways as one.
Fees: OKX states them signed (paid < 0) in `feeCcy`; a spot buy pays in the bought (base) asset, which
becomes `FillReport.base_fee`; a fee in the quote becomes `FillReport.fee` (paid > 0)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trader.core import InstrumentSpec, Side
from trader.errors import VenueError
from trader.venues.base import FillReport, InstrumentInfo, OrderReport, OrderState, TradeTick
from trader.venues.profile import VenueTime

MS = 1_000_000

STATES = {
    "live": OrderState.OPEN,
    "partially_filled": OrderState.OPEN,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "mmp_canceled": OrderState.CANCELED,
}


def envelope(body: Any) -> tuple[str, str, list[Any]]:
    """`{"code","msg","data"}` -> (code, msg, data)."""
    if not isinstance(body, dict) or "code" not in body:
        raise VenueError("not an OKX answer", venue="okx")
    data = body.get("data")
    return str(body["code"]), str(body.get("msg", "")), data if isinstance(data, list) else []


def first_item_error(data: list[Any]) -> tuple[str, str] | None:
    """The first item's (sCode, sMsg) when it is not "0"."""
    for item in data:
        if isinstance(item, dict) and str(item.get("sCode", "0")) != "0":
            return str(item["sCode"]), str(item.get("sMsg", ""))
    return None


def instrument_info(row: dict[str, Any]) -> InstrumentInfo:
    """One row of `GET /api/v5/public/instruments` (SPOT)."""
    return InstrumentInfo(
        symbol=str(row["instId"]),
        base=str(row["baseCcy"]),
        quote=str(row["quoteCcy"]),
        tick_size=str(row["tickSz"]),
        lot_size=str(row["lotSz"]),
        min_qty=str(row["minSz"]),
        min_notional="0",  # OKX states a minimum size, not a minimum notional
        max_qty=str(row.get("maxLmtSz", "")),
    )


def _ms(text: Any) -> int:
    s = str(text or "")
    return int(s) * MS if s.isdigit() else 0


POST_ONLY_TOOK = "31"  # cancelSource: the post-only order would have taken liquidity


def order_state(state: str, cancel_source: str = "") -> OrderState:
    if state == "canceled" and cancel_source == POST_ONLY_TOOK:
        return OrderState.REJECTED  # placed, then refused by the venue: it never rested
    return STATES.get(state, OrderState.REJECTED)


def order_report(o: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> OrderReport:
    """An order object (details, orders-pending, the `orders` channel)."""
    px = str(o.get("px") or "")
    return OrderReport(
        client_id=str(o.get("clOrdId", "")),
        venue_order_id=str(o["ordId"]),
        instrument=str(o["instId"]),
        side=Side.BUY if o["side"] == "buy" else Side.SELL,
        price=spec.price_to_units(px) if px and Decimal(px) else 0,
        qty=spec.qty_to_units(str(o["sz"])),
        filled=spec.qty_to_units(str(o.get("accFillSz") or "0")),
        state=order_state(str(o["state"]), str(o.get("cancelSource") or "")),
        reason="post-only order would take liquidity"
        if str(o.get("cancelSource") or "") == POST_ONLY_TOOK
        else str(o.get("msg") or ""),
        ts_event=_ms(o.get("uTime") or o.get("cTime")),
        ts_recv=ts_recv,
    )


def fee_split(fee: str, fee_ccy: str, base: str) -> tuple[Decimal, Decimal]:
    """OKX's signed fee (paid < 0) -> (quote fee paid > 0, base-asset fee paid > 0)."""
    paid = -Decimal(fee or "0")
    return (Decimal(0), paid) if fee_ccy == base else (paid, Decimal(0))


def order_fill(o: dict[str, Any], spec: InstrumentSpec, base: str, ts_recv: int) -> FillReport | None:
    """The fill an `orders` channel push carries (`tradeId`, `fillSz` > 0), else None."""
    size = str(o.get("fillSz") or "0")
    if not o.get("tradeId") or not Decimal(size):
        return None
    quote_fee, base_fee = fee_split(str(o.get("fillFee") or "0"), str(o.get("fillFeeCcy", "")), base)
    return FillReport(
        client_id=str(o.get("clOrdId", "")),
        trade_id=f"{o['ordId']}:{o['tradeId']}",
        instrument=str(o["instId"]),
        side=Side.BUY if o["side"] == "buy" else Side.SELL,
        price=spec.price_to_units(str(o["fillPx"])),
        qty=spec.qty_to_units(size),
        fee=quote_fee,
        ts_event=_ms(o.get("fillTime")),
        maker=o.get("execType") == "M",
        base_fee=base_fee,
        ts_recv=ts_recv,
    )


def fill(f: dict[str, Any], spec: InstrumentSpec, base: str, ts_recv: int) -> FillReport:
    """One row of `GET /api/v5/trade/fills`."""
    quote_fee, base_fee = fee_split(str(f.get("fee") or "0"), str(f.get("feeCcy", "")), base)
    return FillReport(
        client_id=str(f.get("clOrdId", "")),
        trade_id=f"{f['ordId']}:{f['tradeId']}",
        instrument=str(f["instId"]),
        side=Side.BUY if f["side"] == "buy" else Side.SELL,
        price=spec.price_to_units(str(f["fillPx"])),
        qty=spec.qty_to_units(str(f["fillSz"])),
        fee=quote_fee,
        ts_event=_ms(f.get("ts")),
        maker=f.get("execType") == "M",
        base_fee=base_fee,
        ts_recv=ts_recv,
    )


def levels(rows: list[list[str]], spec: InstrumentSpec) -> list[tuple[int, int]]:
    """`[[px, sz, "0", numOrders], ...]` -> [(price units, qty units)] (qty 0: delete the level)."""
    return [(spec.price_to_units(r[0]), spec.qty_to_units(r[1]) if Decimal(r[1]) else 0) for r in rows]


def trade_tick(t: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> TradeTick:
    """One `trades` channel row; `side` is the taker's."""
    return TradeTick(
        instrument=str(t["instId"]),
        price=spec.price_to_units(str(t["px"])),
        qty=spec.qty_to_units(str(t["sz"])),
        aggressor=Side.BUY if t["side"] == "buy" else Side.SELL,
        ts_event=_ms(t.get("ts")),
        ts_recv=ts_recv,
    )


def venue_time(data: list[Any]) -> VenueTime:
    """`GET /api/v5/public/time`: milliseconds."""
    return VenueTime(int(data[0]["ts"]) * MS, MS)


def mid_price(data: list[Any]) -> Decimal:
    """The mid of `GET /api/v5/market/books`."""
    book = data[0]
    return (Decimal(book["bids"][0][0]) + Decimal(book["asks"][0][0])) / 2


def cash(data: list[Any], ccy: str) -> Decimal:
    """The cash balance of `ccy` in `GET /api/v5/account/balance` (0 when absent)."""
    for account in data:
        for d in account.get("details", []):
            if d.get("ccy") == ccy:
                return Decimal(str(d.get("cashBal") or "0"))
    return Decimal(0)
