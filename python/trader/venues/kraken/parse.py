"""Kraken's REST JSON and WebSocket v2 messages as `trader` values: pure functions, no I/O, no clock.

Wire decimals (REST strings, v2 JSON numbers read as `Decimal`) become the spec's integer units here.
`ts_event` is the venue's time: an order's `closetm` / `opentm` (REST) or the message's `timestamp` (v2),
a trade's `time`; a v2 book snapshot without a `timestamp` has `ts_event` 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from trader.core import InstrumentSpec, Side
from trader.venues.base import FillReport, InstrumentInfo, OrderReport, OrderState, VenueTime
from trader.venues.kraken.endpoints import asset, v2_symbol

NS = 1_000_000_000

REST_STATE = {
    "pending": OrderState.OPEN,
    "open": OrderState.OPEN,
    "canceled": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
}
WS_STATE = {
    "pending_new": OrderState.OPEN,
    "new": OrderState.OPEN,
    "partially_filled": OrderState.OPEN,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
}


@dataclass(frozen=True)
class PairInfo:
    """One AssetPairs entry: our instrument (the pair's `altname`), its names on the wire and rules."""

    key: str  # REST result key (XXBTZUSD)
    altname: str  # XBTUSD: our instrument id, accepted in every REST request
    symbol: str  # BTC/USD: WebSocket v2
    info: InstrumentInfo
    price_decimals: int
    qty_decimals: int


def text(value: Any) -> str:
    """A wire number (string, or a v2 JSON number read as Decimal) as a plain decimal string."""
    return f"{Decimal(str(value)):f}"


def pair_info(key: str, p: dict[str, Any]) -> PairInfo:
    price_decimals, qty_decimals = int(p["pair_decimals"]), int(p["lot_decimals"])
    tick = str(p.get("tick_size") or f"{Decimal(1).scaleb(-price_decimals):f}")
    info = InstrumentInfo(
        symbol=str(p["altname"]),
        base=asset(str(p["base"])),
        quote=asset(str(p["quote"])),
        tick_size=text(tick),
        lot_size=f"{Decimal(1).scaleb(-qty_decimals):f}",
        min_qty=text(p.get("ordermin") or "0"),
        min_notional=text(p.get("costmin") or "0"),
    )
    wsname = str(p.get("wsname") or f"{p['base']}/{p['quote']}")
    return PairInfo(key, str(p["altname"]), v2_symbol(wsname), info, price_decimals, qty_decimals)


def parse_time(value: str) -> int:
    """RFC 3339 (2022-12-25T09:30:59.123456Z) as ns since the epoch."""
    head, _, frac = value.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head + "+00:00")
    return int(whole.timestamp()) * NS + int((frac + "000000000")[:9])


def seconds_ns(value: Any) -> int:
    """Kraken's REST times (unix seconds with a fraction) as ns."""
    return int(Decimal(str(value)) * NS)


def venue_time(result: dict[str, Any]) -> VenueTime:
    return VenueTime(int(result["unixtime"]) * NS, NS)


def units(spec: InstrumentSpec, value: Any, *, qty: bool) -> int:
    d = Decimal(str(value))
    if qty:
        return int(spec.qty_to_units(text(d.quantize(Decimal(spec.qty_unit), ROUND_DOWN))))
    return int(spec.price_to_units(text(d)))


def side(value: str) -> Side:
    return Side.BUY if value == "buy" else Side.SELL


def order_report(txid: str, o: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> OrderReport:
    """A REST order (OpenOrders, ClosedOrders, QueryOrders) read at `ts_recv`."""
    descr = o["descr"]
    qty, filled = units(spec, o["vol"], qty=True), units(spec, o["vol_exec"], qty=True)
    status = str(o["status"])
    state = REST_STATE.get(status)
    if state is None:  # closed: filled, or an IOC / market order's rest was dropped
        state = OrderState.FILLED if filled >= qty else OrderState.CANCELED
    price = units(spec, descr.get("price") or "0", qty=False)
    ts = o.get("closetm") or o.get("opentm") or 0
    return OrderReport(
        str(o.get("cl_ord_id") or ""),
        txid,
        str(descr["pair"]),
        side(str(descr["type"])),
        price,
        qty,
        filled,
        state,
        str(o.get("reason") or ""),
        ts_event=seconds_ns(ts),
        ts_recv=ts_recv,
    )


def exec_report(d: dict[str, Any], instrument: str, spec: InstrumentSpec, ts_recv: int) -> OrderReport:
    """One `executions` entry (v2) as the order's state."""
    status = str(d.get("order_status") or d.get("exec_type"))
    qty = units(spec, d["order_qty"], qty=True)
    filled = units(spec, d.get("cum_qty", 0), qty=True)
    state = WS_STATE.get(status, OrderState.OPEN)
    return OrderReport(
        str(d.get("cl_ord_id") or ""),
        str(d["order_id"]),
        instrument,
        side(str(d["side"])),
        units(spec, d.get("limit_price", 0), qty=False),
        qty,
        filled,
        state,
        str(d.get("reason") or ""),
        ts_event=parse_time(str(d["timestamp"])) if d.get("timestamp") else 0,
        ts_recv=ts_recv,
    )


def exec_fill(d: dict[str, Any], instrument: str, spec: InstrumentSpec, ts_recv: int) -> FillReport:
    """An `executions` entry with `exec_type` trade: its `exec_id` is the REST trade id (TradesHistory)."""
    fee = sum((Decimal(str(f["qty"])) for f in d.get("fees") or []), Decimal(0))
    return FillReport(
        str(d.get("cl_ord_id") or ""),
        str(d["exec_id"]),
        instrument,
        side(str(d["side"])),
        units(spec, d["last_price"], qty=False),
        units(spec, d["last_qty"], qty=True),
        fee,
        parse_time(str(d["timestamp"])),
        d.get("liquidity_ind") == "m",
        ts_recv=ts_recv,
    )


def rest_fill(
    tid: str, t: dict[str, Any], client_id: str, instrument: str, spec: InstrumentSpec, ts_recv: int
) -> FillReport:
    """A TradesHistory entry."""
    return FillReport(
        client_id,
        tid,
        instrument,
        side(str(t["type"])),
        units(spec, t["price"], qty=False),
        units(spec, t["vol"], qty=True),
        Decimal(str(t["fee"])),
        seconds_ns(t["time"]),
        bool(t.get("maker")),
        ts_recv=ts_recv,
    )


def levels(spec: InstrumentSpec, rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """v2 book levels `[{price, qty}]` in units (qty 0 removes a level)."""
    return [(units(spec, r["price"], qty=False), units(spec, r["qty"], qty=True)) for r in rows]


def balance_units(spec: InstrumentSpec, amount: str) -> int:
    return units(spec, amount, qty=True)
