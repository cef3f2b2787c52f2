"""Pure conversions of what ib_async decoded from the TWS socket into `trader` values.

The SDK decodes prices and sizes to floats; each becomes integer units once, here: a float goes back to
the wire's decimal text through its shortest repr (`exact`), and that text to units through the
instrument's spec. Nothing downstream converts again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ib_async import AccountValue, Contract, ContractDetails, Fill, Ticker, Trade

from trader.core import InstrumentSpec, Side
from trader.venues.base import FillReport, InstrumentInfo, OrderReport, OrderState

OPEN_STATUSES = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"})
ACKED_STATUSES = frozenset({"PreSubmitted", "Submitted", "Filled", "Cancelled", "ApiCancelled", "Inactive"})
FALLBACK_SPEC = InstrumentSpec("0.01", "1")  # an instrument not configured here (an order placed elsewhere)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECOND = 1_000_000_000


@dataclass(frozen=True)
class StockSpec:
    """How an instrument name maps to an IB stock contract. An empty exchange asks for every listing
    (ambiguous on purpose: qualification refuses it)."""

    symbol: str
    exchange: str = "SMART"
    currency: str = "USD"
    primary_exchange: str = ""


@dataclass(frozen=True)
class IbExecution:
    """One execution as the Gateway reports it (`reqExecutions`), with its commission report."""

    exec_id: str
    order_ref: str  # the client order id the order carried ("" for an order placed elsewhere)
    symbol: str  # the configured instrument name (the contract's symbol if it is not configured)
    side: Side
    shares: Decimal
    price: Decimal
    commission: Decimal | None  # None while the Gateway has sent no commission report for it
    commission_currency: str
    time_ns: int  # the Gateway's execution time (whole seconds)
    perm_id: int


def exact(x: float | Decimal) -> Decimal:
    """A float the SDK decoded from the wire, back to the wire's decimal text (a `Decimal` we handed the
    SDK ourselves stays as it is)."""
    if isinstance(x, Decimal):
        return x
    if not math.isfinite(x):
        raise ValueError("not a finite number")
    return Decimal(repr(x))


def finite(x: float | Decimal) -> bool:
    """A real value, not the SDK's NaN or IB's unset double (1.7976931348623157e308)."""
    return math.isfinite(x) and -1e300 < float(x) < 1e300  # a range check only, never a price


def price_units(spec: InstrumentSpec, x: float | Decimal) -> int:
    """A price the SDK decoded, in the instrument's integer price units (ValueError if off the tick)."""
    return spec.price_to_units(f"{exact(x):f}")


def shares(x: float | Decimal) -> int:
    """A share count the SDK decoded (a float or `Decimal` of whole shares), as an int."""
    return int(exact(x))


def row(spec: InstrumentSpec, price: float, size: float) -> tuple[int, int]:
    """A depth row's price and size in integer units (ValueError if off the tick or not whole shares)."""
    if not (finite(price) and finite(size)):
        raise ValueError("no price or size")
    qty = exact(size)
    if qty != qty.to_integral_value():
        raise ValueError(f"a size of {qty} shares")
    return price_units(spec, price), int(qty)


def side(action: str) -> Side:
    """An order action ("BUY"/"SELL") or an execution side ("BOT"/"SLD")."""
    return Side.BUY if action in ("BUY", "BOT") else Side.SELL


def trading_spec(details: ContractDetails) -> InstrumentSpec:
    """The trading spec of a stock contract: its minimum tick, whole shares."""
    tick = exact(details.minTick).normalize()
    return InstrumentSpec(f"{tick:f}", "1", min_qty="1")


def describe(c: Contract) -> str:
    return f"{c.symbol}/{c.secType}/{c.exchange or '-'}/{c.primaryExchange or '-'}/{c.currency}#{c.conId}"


def instrument_info(name: str, contract: Contract, spec: InstrumentSpec) -> InstrumentInfo:
    return InstrumentInfo(name, contract.symbol, contract.currency, spec.tick_size, "1", "1", "0")


def top(spec: InstrumentSpec, t: Ticker) -> tuple[int | None, int, int | None, int]:
    """A ticker's best bid and ask (None when absent) and their sizes, in integer units."""
    bid = price_units(spec, t.bid) if finite(t.bid) and t.bid > 0 else None
    ask = price_units(spec, t.ask) if finite(t.ask) and t.ask > 0 else None
    bid_qty = int(t.bidSize) if bid is not None and finite(t.bidSize) else 0
    ask_qty = int(t.askSize) if ask is not None and finite(t.askSize) else 0
    return bid, bid_qty, ask, ask_qty


def perm_id(t: Trade) -> int:
    return t.orderStatus.permId or t.order.permId


def order_state(trade: Trade, *, rejected: bool, cancel_asked: bool) -> OrderState:
    """The order's state from its status; `rejected` if the Gateway refused it, `cancel_asked` if we
    asked for its cancel (an IOC canceled without our asking expired)."""
    status = trade.orderStatus.status
    if status in OPEN_STATUSES:
        return OrderState.OPEN
    if status == "Filled":
        return OrderState.FILLED
    if rejected or status == "Inactive":
        return OrderState.REJECTED
    if trade.order.tif == "IOC" and not cancel_asked:
        return OrderState.EXPIRED
    return OrderState.CANCELED


def filled_shares(trade: Trade) -> int:
    """Shares filled: the status's count, else the executions of this session, else (a completed order
    from before this session) the order's own filled quantity."""
    o, st = trade.order, trade.orderStatus
    filled = shares(st.filled) if st.filled else sum(shares(f.execution.shares) for f in trade.fills)
    if not filled and st.status == "Filled":
        filled = shares(o.filledQuantity if finite(o.filledQuantity) else o.totalQuantity)
    return filled


def order_time_ns(trade: Trade, state: OrderState) -> int:
    """The venue's time of the order's last change, where IB states one: a filled order's is its last
    execution's time. IB states no time for any other status (ib_async's trade log times are its own wall
    clock when the message came, not the venue's), so those are 0."""
    if state is not OrderState.FILLED:
        return 0
    return max((time_ns(f.execution.time) for f in trade.fills), default=0)


def order_report(
    client_id: str,
    trade: Trade,
    instrument: str,
    spec: InstrumentSpec,
    state: OrderState,
    reason: str,
    ts_recv: int,
) -> OrderReport:
    """The order of a Trade as the Gateway last stated it, read at `ts_recv` (our clock); `ts_event` is
    `order_time_ns`."""
    o, st = trade.order, trade.orderStatus
    limit = o.lmtPrice
    price = price_units(spec, limit) if o.orderType == "LMT" and limit is not None and finite(limit) else 0
    return OrderReport(
        client_id,
        str(st.permId or o.permId or ""),
        instrument,
        side(o.action),
        price,
        shares(o.totalQuantity),
        filled_shares(trade),
        state,
        reason if state is OrderState.REJECTED else "",
        ts_event=order_time_ns(trade, state),
        ts_recv=ts_recv,
    )


def fill_report(f: Fill, instrument: str, spec: InstrumentSpec, ts_recv: int) -> FillReport:
    """An execution and its commission (0 until the commission report came) as a FillReport; ValueError
    (or InvalidOperation / VenueError from the spec) for an off-tick price."""
    x = f.execution
    price = price_units(spec, x.price)
    ts = x.time if isinstance(x.time, dt.datetime) else dt.datetime.fromtimestamp(0, dt.UTC)
    fee = exact(f.commissionReport.commission) if f.commissionReport.execId else Decimal(0)
    return FillReport(
        x.orderRef,
        x.execId,
        instrument,
        side(x.side),
        price,
        shares(x.shares),
        fee,
        int(ts.timestamp()) * _SECOND,
        x.lastLiquidity == 1,
        ts_recv=ts_recv,
    )


def execution(f: Fill, instrument: str) -> IbExecution:
    x, cr = f.execution, f.commissionReport
    reported = bool(cr.execId) and finite(cr.commission)
    return IbExecution(
        x.execId,
        x.orderRef,
        instrument,
        side(x.side),
        exact(x.shares),
        exact(x.price),
        exact(cr.commission) if reported else None,
        cr.currency if reported else "",
        time_ns(x.time),
        x.permId,
    )


def base_currency_values(values: Iterable[AccountValue]) -> dict[str, Decimal]:
    """Numeric account values in the base currency: the currency NetLiquidation is reported in, with
    IB's "BASE" totals (every currency converted) taking precedence for a tag reported both ways."""
    values = list(values)
    base = next((v.currency for v in values if v.tag == "NetLiquidation" and v.currency != "BASE"), "")
    out: dict[str, Decimal] = {}
    for wanted in (base, "BASE"):
        for v in values:
            if not wanted or v.currency != wanted:
                continue
            try:
                d = Decimal(v.value)
            except InvalidOperation:
                continue  # a text value (AccountType, ...)
            if d.is_finite():
                out[v.tag] = d
    return out


def time_ns(t: object) -> int:
    """An SDK timestamp as ns since the epoch, exactly (a naive one is taken as UTC)."""
    if not isinstance(t, dt.datetime):
        return 0
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return (t - _EPOCH) // dt.timedelta(microseconds=1) * 1000
