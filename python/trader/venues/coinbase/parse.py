"""Pure conversions of Coinbase Advanced Trade's JSON (REST bodies, WebSocket messages) into `trader` values.
A wire decimal string becomes integer units once, here, through the instrument spec.

`ts_event`: an order's last fill time (else its creation time) on REST; the envelope's `timestamp` on the
WebSocket (the user channel's orders carry no update time of their own); a fill's `trade_time`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from trader.core import InstrumentSpec, Side
from trader.venues.base import FillReport, InstrumentInfo, OrderReport, OrderState, TradeTick
from trader.venues.profile import VenueTime

NS = 1_000_000_000
STATES = {
    "PENDING": OrderState.OPEN,
    "OPEN": OrderState.OPEN,
    "QUEUED": OrderState.OPEN,
    "CANCEL_QUEUED": OrderState.OPEN,
    "EDIT_QUEUED": OrderState.OPEN,
    "FILLED": OrderState.FILLED,
    "CANCELLED": OrderState.CANCELED,
    "EXPIRED": OrderState.EXPIRED,
    "FAILED": OrderState.REJECTED,
}


def parse_time(text: str) -> int:
    """An RFC 3339 time (any fraction, `Z` or an offset) as ns since the epoch; 0 for Coinbase's zero time."""
    if not text or text.startswith("0001-"):
        return 0
    head, dot, tail = text.partition(".")
    frac, zone = "", "Z"
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, zone = tail[:digits], tail[digits:] or "Z"
    elif len(head) > 19:
        head, zone = head[:19], head[19:]
    dt = datetime.fromisoformat(head + ("+00:00" if zone in ("Z", "z") else zone))
    return int(dt.astimezone(UTC).timestamp()) * NS + int((frac + "000000000")[:9])


def format_time(ns: int) -> str:
    t = datetime.fromtimestamp(ns // NS, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{t}.{ns % NS:09d}Z"


def venue_time(body: dict[str, Any]) -> VenueTime:
    """`GET /time`: `epochMillis` (to the millisecond)."""
    return VenueTime(int(body["epochMillis"]) * 1_000_000, 1_000_000)


def instrument_info(p: dict[str, Any]) -> InstrumentInfo:
    """A product's increments and sizes: tick = `price_increment` (else `quote_increment`), lot =
    `base_increment`, min/max = `base_min_size`/`base_max_size`, min notional = `quote_min_size`."""
    tick = str(p.get("price_increment") or p["quote_increment"])
    return InstrumentInfo(
        symbol=str(p["product_id"]),
        base=str(p.get("base_currency_id") or str(p["product_id"]).split("-")[0]),
        quote=str(p.get("quote_currency_id") or str(p["product_id"]).split("-")[1]),
        tick_size=tick,
        lot_size=str(p["base_increment"]),
        min_qty=str(p.get("base_min_size") or p["base_increment"]),
        min_notional=str(p.get("quote_min_size") or "0"),
        max_qty=str(p.get("base_max_size") or ""),
    )


def tradable(p: dict[str, Any]) -> bool:
    return p.get("status") == "online" and not p.get("trading_disabled") and not p.get("cancel_only")


def _config(o: dict[str, Any]) -> dict[str, Any]:
    configs = o.get("order_configuration") or {}
    return next(iter(configs.values()), {}) if isinstance(configs, dict) else {}


def _units(spec: InstrumentSpec, text: str | None, price: bool) -> int:
    if not text or Decimal(text) == 0:
        return 0
    return spec.price_to_units(text) if price else spec.qty_to_units(text)


def order_state(o: dict[str, Any]) -> OrderState:
    return STATES.get(str(o.get("status", "")), OrderState.OPEN)


def order_report(o: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> OrderReport:
    """A REST order (`GET /orders/historical/...`)."""
    cfg = _config(o)
    filled = _units(spec, str(o.get("filled_size") or "0"), False)
    qty = _units(spec, cfg.get("base_size"), False) or filled
    return OrderReport(
        client_id=str(o["client_order_id"]),
        venue_order_id=str(o["order_id"]),
        instrument=str(o["product_id"]),
        side=Side.BUY if o["side"] == "BUY" else Side.SELL,
        price=_units(spec, cfg.get("limit_price"), True),
        qty=qty,
        filled=filled,
        state=order_state(o),
        reason=str(o.get("cancel_message") or o.get("reject_message") or ""),
        ts_event=parse_time(str(o.get("last_fill_time") or o.get("created_time") or "")),
        ts_recv=ts_recv,
    )


def user_order_report(o: dict[str, Any], spec: InstrumentSpec, ts_event: int, ts_recv: int) -> OrderReport:
    """An order of the `user` channel (qty = cumulative + leaves)."""
    filled = _units(spec, str(o.get("cumulative_quantity") or "0"), False)
    leaves = _units(spec, str(o.get("leaves_quantity") or "0"), False)
    return OrderReport(
        client_id=str(o["client_order_id"]),
        venue_order_id=str(o["order_id"]),
        instrument=str(o["product_id"]),
        side=Side.BUY if o["order_side"] == "BUY" else Side.SELL,
        price=_units(spec, str(o.get("limit_price") or "0"), True),
        qty=filled + leaves,
        filled=filled,
        state=order_state(o),
        reason=str(o.get("cancel_reason") or o.get("reject_reason") or ""),
        ts_event=ts_event,
        ts_recv=ts_recv,
    )


@dataclass(frozen=True)
class Progress:
    """What the user channel said of an order's fills so far: cumulative size (units), value, fees, and how
    many executions (`number_of_fills`; None when the channel did not say)."""

    filled: int = 0
    value: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    count: int | None = None


def user_progress(o: dict[str, Any], spec: InstrumentSpec) -> Progress:
    n = o.get("number_of_fills")
    count = (
        n
        if type(n) is int and n >= 0
        else int(n)
        if isinstance(n, str) and n.isascii() and n.isdigit()
        else None
    )
    return Progress(
        _units(spec, str(o.get("cumulative_quantity") or "0"), False),
        Decimal(str(o.get("filled_value") or "0")),
        Decimal(str(o.get("total_fees") or "0")),
        count,
    )


TAKING_TIFS = ("IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")  # never rest: every fill takes


def channel_maker(o: dict[str, Any], before: Progress, now: Progress, spec: InstrumentSpec) -> bool | None:
    """Whether the growth between two user-channel states of one order was a maker's fill (True) or a
    taker's (False), when the channel alone says so exactly; None when only REST's `liquidity_indicator`
    can. Exact only for ONE execution (`number_of_fills` grew by one: its size, price and fee are REST's
    fill's, under the same id) of an order whose liquidity is certain: post-only (makes), market, IOC or
    FOK (take), or a limit order filled at a better price than its limit (a maker trades at its own
    price). A plain limit order filled at its limit may have rested: REST says."""
    was = 0 if before.filled == 0 else before.count
    if was is None or now.count is None or now.count - was != 1:
        return None
    if post_only(o):
        return True
    if str(o.get("order_type", "")).upper() == "MARKET" or o.get("time_in_force") in TAKING_TIFS:
        return False
    limit = _units(spec, str(o.get("limit_price") or "0"), True)
    if limit and price_units(spec, now.value - before.value, now.filled - before.filled) != limit:
        return False
    return None


def price_units(spec: InstrumentSpec, value: Decimal, qty: int) -> int:
    """The average price of `qty` units worth `value` (quote), in price units (rounded half-even)."""
    unit = Decimal(spec.price_unit or spec.tick_size)
    per_base = value / (Decimal(qty) * Decimal(spec.qty_unit or spec.lot_size))
    return int((per_base / unit).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def stream_fill(
    o: dict[str, Any],
    before: Progress,
    now: Progress,
    spec: InstrumentSpec,
    ts_event: int,
    ts_recv: int,
    *,
    maker: bool | None = None,
) -> FillReport | None:
    """The execution between two user-channel states of one order (None when nothing more filled). Its id,
    `<order id>:<cumulative units>`, is the one `rest_fills` gives the same execution. `maker` as known
    (`channel_maker`), else inferred: post-only makes."""
    qty = now.filled - before.filled
    if qty <= 0:
        return None
    return FillReport(
        client_id=str(o["client_order_id"]),
        trade_id=f"{o['order_id']}:{now.filled}",
        instrument=str(o["product_id"]),
        side=Side.BUY if o["order_side"] == "BUY" else Side.SELL,
        price=price_units(spec, now.value - before.value, qty),
        qty=qty,
        fee=now.fees - before.fees,
        ts_event=ts_event,
        maker=post_only(o) if maker is None else maker,  # the channel does not say: see `channel_maker`
        ts_recv=ts_recv,
    )


def post_only(o: dict[str, Any]) -> bool:
    """A user-channel order's `post_only`: the string "true"/"false" the channel sends (a JSON bool also)."""
    v = o.get("post_only")
    return v is True or (isinstance(v, str) and v.lower() == "true")


def cumulative(fill: FillReport) -> int:
    """The order's filled size after `fill`, in qty units: the tail of its id `<order id>:<cumulative>`."""
    return int(fill.trade_id.rpartition(":")[2])


def rest_fills(
    fills: list[dict[str, Any]], client_id: str, spec: InstrumentSpec, ts_recv: int
) -> list[FillReport]:
    """Every fill of ONE order (any order Coinbase lists them in), oldest first, each with the id
    `<order id>:<cumulative units after it>`."""
    ordered = sorted(reversed(fills), key=lambda f: parse_time(str(f["sequence_timestamp"])))
    out, cum = [], 0
    for f in ordered:
        qty = spec.qty_to_units(str(f["size"]))
        cum += qty
        out.append(
            FillReport(
                client_id=client_id,
                trade_id=f"{f['order_id']}:{cum}",
                instrument=str(f["product_id"]),
                side=Side.BUY if f["side"] == "BUY" else Side.SELL,
                price=spec.price_to_units(str(f["price"])),
                qty=qty,
                fee=Decimal(str(f["commission"])),
                ts_event=parse_time(str(f["trade_time"])),
                maker=f.get("liquidity_indicator") == "MAKER",
                ts_recv=ts_recv,
            )
        )
    return out


def trade_tick(t: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> TradeTick:
    """A market_trades print: `side` is the maker's, so the aggressor is the other side."""
    return TradeTick(
        str(t["product_id"]),
        spec.price_to_units(str(t["price"])),
        spec.qty_to_units(str(t["size"])),
        Side.SELL if t["side"] == "BUY" else Side.BUY,
        parse_time(str(t["time"])),
        ts_recv=ts_recv,
    )


def balances(accounts: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Each currency's total (available + hold)."""
    out: dict[str, Decimal] = {}
    for a in accounts:
        total = Decimal(str(a["available_balance"]["value"])) + Decimal(
            str((a.get("hold") or {}).get("value", 0))
        )
        out[str(a["currency"])] = out.get(str(a["currency"]), Decimal(0)) + total
    return out


def base_units(amount: Decimal, spec: InstrumentSpec) -> int:
    """A balance in whole qty units (a dust finer than the lot is dropped)."""
    unit = Decimal(spec.qty_unit or spec.lot_size)
    return int((amount / unit).to_integral_value(rounding=ROUND_FLOOR))


def order_failure(body: dict[str, Any]) -> tuple[str, str]:
    """A refused create-order answer's (error, message)."""
    err = body.get("error_response") or {}
    code = str(err.get("error") or body.get("failure_reason") or "UNKNOWN_FAILURE_REASON")
    return code, str(err.get("message") or err.get("preview_failure_reason") or code)
