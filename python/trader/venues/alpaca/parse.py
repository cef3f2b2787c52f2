"""Pure conversions of Alpaca's JSON (REST bodies, trade_updates, market-data messages) into `trader`
values. A wire number becomes integer units once, here, through the instrument spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from trader.core import InstrumentSpec, Side
from trader.venues.alpaca.endpoints import PRICE_UNIT, TICK, UNITS_PER_CENT, UNITS_PER_DOLLAR
from trader.venues.base import BookUpdate, FillReport, InstrumentInfo, OrderReport, OrderState, TradeTick
from trader.venues.profile import VenueTime

STATES = {
    "new": OrderState.OPEN,
    "accepted": OrderState.OPEN,
    "pending_new": OrderState.OPEN,
    "accepted_for_bidding": OrderState.OPEN,
    "partially_filled": OrderState.OPEN,
    "pending_cancel": OrderState.OPEN,
    "pending_replace": OrderState.OPEN,
    "pending_review": OrderState.OPEN,
    "held": OrderState.OPEN,
    "stopped": OrderState.OPEN,
    "suspended": OrderState.OPEN,
    "calculated": OrderState.OPEN,
    "done_for_day": OrderState.OPEN,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "replaced": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}
TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED, OrderState.REJECTED})
_SECOND = 1_000_000_000


@dataclass(frozen=True)
class AccountInfo:
    """The account as `GET /v2/account` states it (money as `Decimal`)."""

    account_number: str
    status: str
    currency: str
    cash: Decimal
    buying_power: Decimal
    equity: Decimal
    trading_blocked: bool


@dataclass(frozen=True)
class MarketClock:
    """`GET /v2/clock`: whether the regular session is open, and its next open and close (ns)."""

    ts_ns: int
    is_open: bool
    next_open_ns: int
    next_close_ns: int


def spec() -> InstrumentSpec:
    """Every US stock: penny tick, whole shares, prices counted in 1/100 cent."""
    return InstrumentSpec(TICK, "1", min_qty="1", price_unit=PRICE_UNIT)


def instrument_info(symbol: str) -> InstrumentInfo:
    return InstrumentInfo(symbol, symbol, "USD", TICK, "1", "1", "0", price_unit=PRICE_UNIT)


def _split_time(text: str) -> tuple[str, str, str]:
    """An RFC 3339 time as (date and time to the second, fraction digits, zone)."""
    head, dot, tail = text.partition(".")
    frac, zone = "", ""
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, zone = tail[:digits], tail[digits:]
    else:
        for i in range(len(head) - 1, 9, -1):
            if head[i] in "Z+-":
                head, zone = head[:i], head[i:]
                break
    return head, frac, zone


def parse_time(text: str) -> int:
    """An Alpaca RFC 3339 time (nanosecond fractions, `Z` or an offset) as nanoseconds since the epoch."""
    head, frac, zone = _split_time(text)
    when = datetime.fromisoformat(head + ("+00:00" if zone in ("Z", "z") else zone))
    if when.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return int(when.timestamp()) * _SECOND + int((frac or "0")[:9].ljust(9, "0"))


def format_time(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with nanoseconds."""
    sec, nsec = divmod(ns, _SECOND)
    return datetime.fromtimestamp(sec, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nsec:09d}Z"


def venue_time(clock_body: dict[str, Any]) -> VenueTime:
    """`GET /v2/clock`'s timestamp, stated to the digits its fraction has (whole seconds without one)."""
    text = str(clock_body["timestamp"])
    digits = min(len(_split_time(text)[1]), 9)
    return VenueTime(parse_time(text), 10 ** (9 - digits))


def dec(v: Any) -> str:
    """A JSON number or string as exact decimal text (data-stream numbers are parsed as `Decimal`); a
    `ValueError` for anything else (never decimal's own `InvalidOperation`, which handlers do not expect)."""
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v))
    except InvalidOperation:
        raise ValueError(f"not a number: {v!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {v!r}")
    return format(d.normalize(), "f") if d == d.to_integral_value() else format(d, "f")


def penny_text(units: int) -> str:
    """A price in units (1/100 cent) on the penny as Alpaca's limit-price text ("187.25")."""
    dollars, rest = divmod(units, UNITS_PER_DOLLAR)
    return f"{dollars}.{rest // UNITS_PER_CENT:02d}"


def side(s: str) -> Side:
    return Side.BUY if s == "buy" else Side.SELL


def order_state(o: dict[str, Any]) -> OrderState:
    return STATES.get(str(o["status"]), OrderState.OPEN)


def order_time_ns(o: dict[str, Any]) -> int:
    """The venue's time of an order's last change: `updated_at`, else `submitted_at` or `created_at`
    (RFC 3339); 0 when the object states none."""
    for k in ("updated_at", "submitted_at", "created_at"):
        if o.get(k):
            return parse_time(str(o[k]))
    return 0


def order_report(o: dict[str, Any], sp: InstrumentSpec, ts_recv: int) -> OrderReport:
    """An order object (REST or the `order` of a trade update) as an OrderReport, read at `ts_recv` (our
    clock); `ts_event` is `order_time_ns`."""
    limit = o.get("limit_price")
    return OrderReport(
        str(o["client_order_id"]),
        str(o["id"]),
        str(o["symbol"]),
        side(str(o["side"])),
        sp.price_to_units(dec(limit)) if limit is not None else 0,
        sp.qty_to_units(dec(o["qty"])),
        sp.qty_to_units(dec(o.get("filled_qty") or "0")),
        order_state(o),
        str(o["status"]) if o["status"] in ("rejected", "expired") else "",
        ts_event=order_time_ns(o),
        ts_recv=ts_recv,
    )


def update_fill(data: dict[str, Any], report: OrderReport, sp: InstrumentSpec, ts_recv: int) -> FillReport:
    """The fill of a `fill`/`partial_fill` trade update; its trade id is `<order id>:<cumulative shares>`."""
    return FillReport(
        report.client_id,
        f"{report.venue_order_id}:{report.filled}",
        report.instrument,
        report.side,
        sp.price_to_units(dec(data["price"])),
        sp.qty_to_units(dec(data["qty"])),
        Decimal(0),
        parse_time(str(data["timestamp"])),
        False,
        ts_recv=ts_recv,
    )


def activity_fill(a: dict[str, Any], client_id: str, sp: InstrumentSpec, ts_recv: int) -> FillReport:
    """A FILL account activity; the same trade id as its stream event (`<order id>:<cum_qty>`)."""
    oid = str(a["order_id"])
    cum = sp.qty_to_units(dec(a["cum_qty"]))
    return FillReport(
        client_id,
        f"{oid}:{cum}",
        str(a["symbol"]),
        side(str(a["side"])),
        sp.price_to_units(dec(a["price"])),
        sp.qty_to_units(dec(a["qty"])),
        Decimal(0),
        parse_time(str(a["transaction_time"])),
        False,
        ts_recv=ts_recv,
    )


def position_units(p: dict[str, Any], sp: InstrumentSpec) -> int:
    """A position's signed shares in units (negative for a short)."""
    text = dec(p["qty"])
    units = sp.qty_to_units(text.lstrip("-"))
    return -units if text.startswith("-") or p.get("side") == "short" else units


def account(a: dict[str, Any]) -> AccountInfo:
    return AccountInfo(
        str(a["account_number"]),
        str(a["status"]),
        str(a.get("currency") or "USD"),
        Decimal(str(a.get("cash") or "0")),
        Decimal(str(a.get("buying_power") or "0")),
        Decimal(str(a.get("equity") or "0")),
        bool(a.get("trading_blocked")) or bool(a.get("account_blocked")),
    )


def market_clock(c: dict[str, Any]) -> MarketClock:
    return MarketClock(
        parse_time(str(c["timestamp"])),
        bool(c["is_open"]),
        parse_time(str(c["next_open"])),
        parse_time(str(c["next_close"])),
    )


def quote(m: dict[str, Any], sp: InstrumentSpec, ts_recv: int) -> BookUpdate:
    """A `q` message as the top of book (a zero price is an empty side)."""
    bid, ask = sp.price_to_units(dec(m["bp"])), sp.price_to_units(dec(m["ap"]))
    return BookUpdate(
        str(m["S"]),
        bid if bid > 0 else None,
        sp.qty_to_units(dec(m["bs"])) if bid > 0 else 0,
        ask if ask > 0 else None,
        sp.qty_to_units(dec(m["as"])) if ask > 0 else 0,
        parse_time(str(m["t"])),  # the quote's time at the venue: records only
        ts_recv,
    )


def aggressor(price: int, bid: int, ask: int) -> Side:
    """Alpaca does not say who took: a trade at or through the ask bought, at or through the bid sold,
    else the nearer side of the last quote (0 for a side not known)."""
    if ask and price >= ask:
        return Side.BUY
    if bid and price <= bid:
        return Side.SELL
    return Side.BUY if bid and ask and 2 * price >= bid + ask else Side.SELL


def trade(m: dict[str, Any], sp: InstrumentSpec, last_quote: tuple[int, int], ts_recv: int) -> TradeTick:
    """A `t` message, the aggressor inferred from the last quote's (bid, ask) units."""
    price = sp.price_to_units(dec(m["p"]))
    return TradeTick(
        str(m["S"]),
        price,
        sp.qty_to_units(dec(m["s"])),
        aggressor(price, *last_quote),
        parse_time(str(m["t"])),
        ts_recv=ts_recv,
    )
