"""OKX v5 payloads into `trader` values: pure functions, no I/O. A wire decimal string becomes integer
units here, once (prices in `tickSz`, sizes in `lotSz`).

`name` (where a function takes it) is the instrument's name in our events when it differs from `instId`
(the connector's symbol: `BTC-USDT` on the swap market is `BTC-USDT-SWAP` on the wire).
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
from trader.venues.base import FillReport, FundingPayment, InstrumentInfo, OrderReport, OrderState, TradeTick
from trader.venues.profile import VenueTime

MS = 1_000_000

STATES = {
    "live": OrderState.OPEN,
    "partially_filled": OrderState.OPEN,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "mmp_canceled": OrderState.CANCELED,
}


ONE = Decimal(1)


def size_units(text: str, spec: InstrumentSpec, ct: Decimal = ONE) -> int:
    """A wire size (base, or SWAP contracts of `ct` base each) in the spec's base-quantity units."""
    return spec.qty_to_units(str(Decimal(text or "0") * ct))


def size_text(units: int, spec: InstrumentSpec, ct: Decimal = ONE) -> str:
    """Base-quantity units as the wire size (SWAP: contracts)."""
    out = Decimal(spec.format_qty(units)) / ct
    return format(out.normalize(), "f") if out else "0"


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


def contract_value(row: dict[str, Any]) -> Decimal:
    """Base currency per contract (SWAP `ctVal`); 1 for spot, whose sizes are in base."""
    return Decimal(str(row["ctVal"])) if row.get("instType") == "SWAP" else ONE


def _times(text: Any, ct: Decimal) -> str:
    return format((Decimal(str(text)) * ct).normalize(), "f")


def instrument_info(row: dict[str, Any]) -> InstrumentInfo:
    """One row of `GET /api/v5/public/instruments`. SWAP sizes (contracts) are stated in base here:
    lot, minimum and maximum times `ctVal`, so the engine's quantities and notionals stay in base."""
    ct = contract_value(row)
    return InstrumentInfo(
        symbol=str(row["instId"]),
        base=str(row.get("baseCcy") or row.get("ctValCcy")),
        quote=str(row.get("quoteCcy") or row.get("settleCcy")),
        tick_size=str(row["tickSz"]),
        lot_size=_times(row["lotSz"], ct),
        min_qty=_times(row["minSz"], ct),
        min_notional="0",  # OKX states a minimum size, not a minimum notional
        max_qty=_times(row["maxLmtSz"], ct) if row.get("maxLmtSz") else "",
    )


def _ms(text: Any) -> int:
    s = str(text or "")
    return int(s) * MS if s.isdigit() else 0


POST_ONLY_TOOK = "31"  # cancelSource: the post-only order would have taken liquidity


def order_state(state: str, cancel_source: str = "") -> OrderState:
    if state == "canceled" and cancel_source == POST_ONLY_TOOK:
        return OrderState.REJECTED  # placed, then refused by the venue: it never rested
    return STATES.get(state, OrderState.REJECTED)


def order_report(
    o: dict[str, Any], spec: InstrumentSpec, ts_recv: int, ct: Decimal = ONE, *, name: str = ""
) -> OrderReport:
    """An order object (details, orders-pending, the `orders` channel)."""
    px = str(o.get("px") or "")
    return OrderReport(
        client_id=str(o.get("clOrdId", "")),
        venue_order_id=str(o["ordId"]),
        instrument=name or str(o["instId"]),
        side=Side.BUY if o["side"] == "buy" else Side.SELL,
        price=spec.price_to_units(px) if px and Decimal(px) else 0,
        qty=size_units(str(o["sz"]), spec, ct),
        filled=size_units(str(o.get("accFillSz") or "0"), spec, ct),
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


def order_fill(
    o: dict[str, Any], spec: InstrumentSpec, base: str, ts_recv: int, ct: Decimal = ONE, *, name: str = ""
) -> FillReport | None:
    """The fill an `orders` channel push carries (`tradeId`, `fillSz` > 0), else None."""
    size = str(o.get("fillSz") or "0")
    if not o.get("tradeId") or not Decimal(size):
        return None
    quote_fee, base_fee = fee_split(str(o.get("fillFee") or "0"), str(o.get("fillFeeCcy", "")), base)
    return FillReport(
        client_id=str(o.get("clOrdId", "")),
        trade_id=f"{o['ordId']}:{o['tradeId']}",
        instrument=name or str(o["instId"]),
        side=Side.BUY if o["side"] == "buy" else Side.SELL,
        price=spec.price_to_units(str(o["fillPx"])),
        qty=size_units(size, spec, ct),
        fee=quote_fee,
        ts_event=_ms(o.get("fillTime")),
        maker=o.get("execType") == "M",
        base_fee=base_fee,
        ts_recv=ts_recv,
    )


def fill(
    f: dict[str, Any], spec: InstrumentSpec, base: str, ts_recv: int, ct: Decimal = ONE, *, name: str = ""
) -> FillReport:
    """One row of `GET /api/v5/trade/fills`."""
    quote_fee, base_fee = fee_split(str(f.get("fee") or "0"), str(f.get("feeCcy", "")), base)
    return FillReport(
        client_id=str(f.get("clOrdId", "")),
        trade_id=f"{f['ordId']}:{f['tradeId']}",
        instrument=name or str(f["instId"]),
        side=Side.BUY if f["side"] == "buy" else Side.SELL,
        price=spec.price_to_units(str(f["fillPx"])),
        qty=size_units(str(f["fillSz"]), spec, ct),
        fee=quote_fee,
        ts_event=_ms(f.get("ts")),
        maker=f.get("execType") == "M",
        base_fee=base_fee,
        ts_recv=ts_recv,
    )


def levels(rows: list[list[str]], spec: InstrumentSpec, ct: Decimal = ONE) -> list[tuple[int, int]]:
    """`[[px, sz, "0", numOrders], ...]` -> [(price units, qty units)] (qty 0: delete the level)."""
    return [(spec.price_to_units(r[0]), size_units(r[1], spec, ct)) for r in rows]


def trade_tick(
    t: dict[str, Any], spec: InstrumentSpec, ts_recv: int, ct: Decimal = ONE, *, name: str = ""
) -> TradeTick:
    """One `trades` channel row; `side` is the taker's."""
    return TradeTick(
        instrument=name or str(t["instId"]),
        price=spec.price_to_units(str(t["px"])),
        qty=size_units(str(t["sz"]), spec, ct),
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


def position_units(rows: list[Any], instrument: str, spec: InstrumentSpec, ct: Decimal) -> int:
    """The net SWAP position (`pos`, contracts, signed) of `GET /api/v5/account/positions` in base units."""
    return sum(size_units(str(r.get("pos") or "0"), spec, ct) for r in rows if r.get("instId") == instrument)


def funding(bill: dict[str, Any], ts_recv: int, *, name: str = "") -> FundingPayment:
    """A funding bill (`type` 8) of `GET /api/v5/account/bills`: `balChg` received > 0, paid < 0."""
    return FundingPayment(
        instrument=name or str(bill["instId"]),
        amount=Decimal(str(bill["balChg"])),
        ts_event=_ms(bill.get("ts")),
        funding_id=str(bill.get("billId", "")),
        ts_recv=ts_recv,
    )


def cash(data: list[Any], ccy: str) -> Decimal:
    """The cash balance of `ccy` in `GET /api/v5/account/balance` (0 when absent)."""
    for account in data:
        for d in account.get("details", []):
            if d.get("ccy") == ccy:
                return Decimal(str(d.get("cashBal") or "0"))
    return Decimal(0)


def position_push(msg: dict[str, Any], instrument: str, spec: InstrumentSpec, ct: Decimal) -> int | None:
    """A `positions` channel push: the net position (`pos`, contracts, signed) of `instrument` in base
    units, or None when the push says nothing of it. A snapshot (`eventType` "snapshot", one page) lists
    every open position, so `instrument` missing from it is flat (0); an update lists only what changed."""
    rows = [r for r in msg.get("data", []) if isinstance(r, dict) and r.get("instId") == instrument]
    if rows:
        return position_units(rows, instrument, spec, ct)
    whole = msg.get("eventType") == "snapshot" and str(msg.get("curPage", 1)) == "1"
    return 0 if whole and msg.get("lastPage", True) is not False else None


def account_push(msg: dict[str, Any]) -> dict[str, Decimal]:
    """An `account` channel push (or a `GET /api/v5/account/balance` data list under "data"): the cash
    balance (`cashBal`) per currency it states. Updates carry the currencies that changed."""
    out: dict[str, Decimal] = {}
    for account in msg.get("data", []):
        for d in account.get("details", []) if isinstance(account, dict) else []:
            if d.get("ccy"):
                out[str(d["ccy"])] = Decimal(str(d.get("cashBal") or "0"))
    return out


SUPPORTED_POS_MODE = "net_mode"  # we send no posSide: one net position per instrument
SPOT_ONLY_LEVEL = "1"  # acctLv 1 (spot mode) cannot trade swaps; 2 spot and futures, 3 multi-currency, 4 PM


def account_config(data: list[Any]) -> tuple[str, str]:
    """`GET /api/v5/account/config`: (acctLv, posMode)."""
    row = data[0] if data and isinstance(data[0], dict) else {}
    return str(row.get("acctLv", "")), str(row.get("posMode", ""))
