"""Binance payloads as `trader` types: pure functions, no I/O, no connector state.

Every wire price and quantity becomes integer units here, once (`InstrumentSpec.price_to_units` /
`qty_to_units`); fees stay `Decimal` (they are not order sizes) and are converted to the quote currency
from the fill's price units, never from its string a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from trader.core import InstrumentSpec, Side, Window
from trader.venues.base import (
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    OrderState,
    Quote,
    TradeTick,
)

STATES = {
    "NEW": OrderState.OPEN,
    "PENDING_NEW": OrderState.OPEN,
    "PARTIALLY_FILLED": OrderState.OPEN,
    "FILLED": OrderState.FILLED,
    "CANCELED": OrderState.CANCELED,
    "PENDING_CANCEL": OrderState.OPEN,
    "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED,
    "EXPIRED_IN_MATCH": OrderState.EXPIRED,
}
INTERVALS_NS = {
    "SECOND": 1_000_000_000,
    "MINUTE": 60_000_000_000,
    "HOUR": 3_600_000_000_000,
    "DAY": 86_400_000_000_000,
}
_USAGE_UNITS_NS = {"S": 1_000_000_000, "M": 60_000_000_000, "H": 3_600_000_000_000, "D": 86_400_000_000_000}

Level = tuple[int, int]  # (price units, qty units)


@dataclass(frozen=True)
class Fees:
    """How a fill's commission is read: `base` is the instrument's base asset; `withheld` when a fee in
    the base asset is withheld from the bought amount (spot and margin, not futures)."""

    base: str
    withheld: bool


@dataclass(frozen=True)
class OrderUpdate:
    """One private order event (`executionReport` or the `o` of `ORDER_TRADE_UPDATE`)."""

    client_id: str
    venue_order_id: int
    fill: FillReport | None  # on a trade
    report: OrderReport | None  # None for a status this connector does not know


def side(s: str) -> Side:
    return Side.BUY if s == "BUY" else Side.SELL


def server_time_ms(body: dict[str, Any]) -> int:
    """GET /api/v3/time or /fapi/v1/time: `{"serverTime": ms}`."""
    return int(body["serverTime"])


def _norm(x: str) -> str:
    return Decimal(x).normalize().to_eng_string() if x else ""


def rate_limit_windows(info: dict[str, Any], budget: float) -> dict[str, list[Window]]:
    """exchangeInfo's `rateLimits` per type (REQUEST_WEIGHT, ORDERS, RAW_REQUESTS), each limit cut to the
    `budget` share we allow ourselves."""
    windows: dict[str, list[Window]] = {}
    for rl in info.get("rateLimits", []):
        interval = INTERVALS_NS[rl["interval"]] * int(rl["intervalNum"])
        limit = max(1, int(int(rl["limit"]) * budget))
        windows.setdefault(rl["rateLimitType"], []).append(Window(limit, interval))
    return windows


def instrument_info(info: dict[str, Any], symbol: str) -> InstrumentInfo | None:
    """The trading rules of `symbol` in an exchangeInfo answer (spot or futures filters); None if absent."""
    sym = next((s for s in info.get("symbols", []) if s["symbol"] == symbol), None)
    if sym is None:
        return None
    f = {x["filterType"]: x for x in sym["filters"]}
    n = f.get("NOTIONAL", f.get("MIN_NOTIONAL", {}))
    notional = n.get("minNotional", n.get("notional", "0"))
    pct = f.get("PERCENT_PRICE_BY_SIDE") or f.get("PERCENT_PRICE") or {}
    up = pct.get("multiplierUp", pct.get("bidMultiplierUp", ""))
    down = pct.get("multiplierDown", pct.get("askMultiplierDown", ""))
    return InstrumentInfo(
        symbol,
        sym["baseAsset"],
        sym["quoteAsset"],
        _norm(f["PRICE_FILTER"]["tickSize"]),
        _norm(f["LOT_SIZE"]["stepSize"]),
        _norm(f["LOT_SIZE"]["minQty"]),
        _norm(notional) or "0",
        max_qty=_norm(f["LOT_SIZE"].get("maxQty", "")),
        percent_up=_norm(up),
        percent_down=_norm(down),
    )


def order_time_ns(o: dict[str, Any]) -> int:
    """The venue's time of an order's last change (ms on the wire): `updateTime` (query, open orders),
    else `transactTime` (new order and cancel answers), else `workingTime` or `time`; 0 when the answer
    states none."""
    for k in ("updateTime", "transactTime", "workingTime", "time"):
        if o.get(k):
            return int(o[k]) * 1_000_000
    return 0


def order_report(o: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> OrderReport:
    """An order as REST and the WebSocket API state it (new order RESULT/FULL, query, open orders).
    A market order's price is "0" (0 units). `ts_event`: `order_time_ns`; `ts_recv`: when we read it."""
    return OrderReport(
        str(o["clientOrderId"]),
        str(o["orderId"]),
        str(o["symbol"]),
        side(o["side"]),
        spec.price_to_units(o["price"]),
        spec.qty_to_units(o["origQty"]),
        spec.qty_to_units(o["executedQty"]),
        STATES[o["status"]],
        ts_event=order_time_ns(o),
        ts_recv=ts_recv,
    )


def fee_in_quote(fee: Decimal, asset: str, price: int, spec: InstrumentSpec, fees: Fees) -> Decimal:
    """The commission in quote currency: a fee in the base asset is valued at the fill's price."""
    if asset == fees.base:
        return fee * price * Decimal(spec.price_unit)
    return fee


def base_fee(fee: Decimal, asset: str, fees: Fees) -> Decimal:
    """The commission when the venue took it from the base asset (a spot buyer without BNB)."""
    return fee if fees.withheld and asset == fees.base else Decimal(0)


def _fill(
    spec: InstrumentSpec,
    fees: Fees,
    *,
    client_id: str,
    trade_id: str,
    symbol: str,
    side_: Side,
    price: str,
    qty: str,
    commission: str,
    commission_asset: str,
    ts_ms: int,
    maker: bool,
    ts_recv: int,
) -> FillReport:
    units = spec.price_to_units(price)
    fee = Decimal(commission)
    return FillReport(
        client_id,
        trade_id,
        symbol,
        side_,
        units,
        spec.qty_to_units(qty),
        fee_in_quote(fee, commission_asset, units, spec, fees),
        ts_ms * 1_000_000,
        maker,
        base_fee(fee, commission_asset, fees),
        ts_recv=ts_recv,
    )


def order_update(
    e: dict[str, Any], spec: InstrumentSpec, fees: Fees, *, client_id: str, reason: str, ts_recv: int
) -> OrderUpdate:
    """The fields executionReport and futures ORDER_TRADE_UPDATE share (s c S q p x X i l z L n N T t m).
    The report's `ts_event` is `T`, the transaction time of this change (both events state it)."""
    fill = None
    if e["x"] == "TRADE":
        fill = _fill(
            spec,
            fees,
            client_id=client_id,
            trade_id=str(e["t"]),
            symbol=e["s"],
            side_=side(e["S"]),
            price=e["L"],
            qty=e["l"],
            commission=e.get("n") or "0",
            commission_asset=e.get("N") or "",
            ts_ms=int(e["T"]),
            maker=bool(e["m"]),
            ts_recv=ts_recv,
        )
    state = STATES.get(e["X"])
    report = None
    if state is not None:
        why = reason if state in (OrderState.REJECTED, OrderState.EXPIRED) and reason != "NONE" else ""
        report = OrderReport(
            client_id,
            str(e["i"]),
            e["s"],
            side(e["S"]),
            spec.price_to_units(e["p"]),
            spec.qty_to_units(e["q"]),
            spec.qty_to_units(e["z"]),
            state,
            why,
            ts_event=int(e.get("T") or 0) * 1_000_000,
            ts_recv=ts_recv,
        )
    return OrderUpdate(client_id, int(e["i"]), fill, report)


def execution_report(e: dict[str, Any], spec: InstrumentSpec, fees: Fees, *, ts_recv: int) -> OrderUpdate:
    """Spot/margin `executionReport`: a cancel names the order in `C` (its own `c` is the cancel's id)."""
    cid = e["C"] if e["x"] == "CANCELED" and e.get("C") else e["c"]
    return order_update(e, spec, fees, client_id=cid, reason=str(e.get("r", "NONE")), ts_recv=ts_recv)


def futures_order(o: dict[str, Any], spec: InstrumentSpec, fees: Fees, *, ts_recv: int) -> OrderUpdate:
    """The `o` of a futures `ORDER_TRADE_UPDATE`: the same fields as an executionReport."""
    return order_update(o, spec, fees, client_id=o["c"], reason="", ts_recv=ts_recv)


def my_trade(
    t: dict[str, Any], spec: InstrumentSpec, fees: Fees, *, client_id: str, symbol: str, ts_recv: int
) -> FillReport:
    """One entry of GET myTrades (spot, margin: isBuyer/isMaker) or userTrades (futures: buyer/maker)."""
    buyer = t["isBuyer"] if "isBuyer" in t else t["buyer"]
    maker = t["isMaker"] if "isMaker" in t else t["maker"]
    return _fill(
        spec,
        fees,
        client_id=client_id,
        trade_id=str(t["id"]),
        symbol=symbol,
        side_=Side.BUY if buyer else Side.SELL,
        price=t["price"],
        qty=t["qty"],
        commission=t["commission"],
        commission_asset=t["commissionAsset"],
        ts_ms=int(t["time"]),
        maker=bool(maker),
        ts_recv=ts_recv,
    )


def trade_tick(d: dict[str, Any], spec: InstrumentSpec, symbol: str, ts_recv: int) -> TradeTick:
    """A `trade` (spot) or `aggTrade` (futures) event; `m`: the buyer was the maker, so a seller took."""
    return TradeTick(
        symbol,
        spec.price_to_units(d["p"]),
        spec.qty_to_units(d["q"]),
        Side.SELL if d["m"] else Side.BUY,
        int(d["T"]) * 1_000_000,
        ts_recv=ts_recv,
    )


def is_book_ticker(d: dict[str, Any]) -> bool:
    return "b" in d and "a" in d and "B" in d


def book_ticker(d: dict[str, Any], spec: InstrumentSpec, symbol: str, ts_recv: int) -> Quote:
    """A `bookTicker` event (spot carries no time: `ts_event` 0; futures carries E and T)."""
    return Quote(
        symbol,
        spec.price_to_units(d["b"]),
        spec.qty_to_units(d["B"]),
        spec.price_to_units(d["a"]),
        spec.qty_to_units(d["A"]),
        int(d.get("E") or d.get("T") or 0) * 1_000_000,
        ts_recv,
    )


def depth_levels(depth: dict[str, Any], spec: InstrumentSpec) -> tuple[list[Level], list[Level]]:
    """A REST depth snapshot's bids and asks in units, best first (the live book parses its bytes in the
    core: `Book.apply_binance_snapshot`)."""

    def side_levels(rows: list[list[str]]) -> list[Level]:
        return [(spec.price_to_units(p), spec.qty_to_units(q)) for p, q in rows]

    return side_levels(depth["bids"]), side_levels(depth["asks"])


def mid_price(depth: dict[str, Any]) -> Decimal:
    """The middle of a depth snapshot's best bid and ask, as a decimal (for sizing a strategy before the
    rules are known in units)."""
    return (Decimal(depth["bids"][0][0]) + Decimal(depth["asks"][0][0])) / 2


def usage_interval_ns(suffix: str) -> int | None:
    """`1M` -> one minute, `10S` -> ten seconds (X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S)."""
    num, unit = suffix[:-1], suffix[-1:].upper()
    if not num.isdigit() or unit not in _USAGE_UNITS_NS:
        return None
    return int(num) * _USAGE_UNITS_NS[unit]


def ws_usage(limits: object) -> list[tuple[str, int, int]]:
    """The WebSocket API's `rateLimits` as (type, interval_ns, count); malformed entries are skipped."""
    if not isinstance(limits, list):
        return []
    out = []
    for rl in limits:
        try:
            interval = INTERVALS_NS[rl["interval"]] * int(rl["intervalNum"])
            out.append((str(rl["rateLimitType"]), interval, int(rl["count"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def ws_retry_after_ns(msg: dict[str, Any]) -> int | None:
    """A WebSocket API 418/429 answer's `error.data.retryAfter` (ms since the epoch) in ns."""
    err = msg.get("error") or {}
    data = err.get("data") if isinstance(err, dict) else None
    retry_ms = data.get("retryAfter") if isinstance(data, dict) else None
    return int(retry_ms) * 1_000_000 if isinstance(retry_ms, int) else None


def spot_balances(body: dict[str, Any]) -> dict[str, Decimal]:
    """GET /api/v3/account: free + locked per asset."""
    return {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in body["balances"]}


def futures_balances(body: list[dict[str, Any]]) -> dict[str, Decimal]:
    """GET /fapi/v3/balance: the wallet balance per asset."""
    return {b["asset"]: Decimal(b["balance"]) for b in body}


def margin_assets(body: dict[str, Any], symbol: str | None) -> dict[str, dict[str, Any]]:
    """Per asset, its margin account record: cross (`userAssets`), or the base and quote legs of
    `symbol`'s isolated account (`assets[].baseAsset/quoteAsset`)."""
    if symbol is None:
        return {a["asset"]: a for a in body["userAssets"]}
    out: dict[str, dict[str, Any]] = {}
    for a in body.get("assets", []):
        if a.get("symbol") == symbol:
            for leg in ("baseAsset", "quoteAsset"):
                out[a[leg]["asset"]] = a[leg]
    return out


def futures_position_amount(body: list[dict[str, Any]], symbol: str) -> Decimal:
    """GET /fapi/v3/positionRisk: the net position of `symbol` (negative short)."""
    return sum((Decimal(p["positionAmt"]) for p in body if p["symbol"] == symbol), Decimal(0))


def position_units(total: Decimal, spec: InstrumentSpec) -> int:
    """A decimal position (a sum of wire amounts) in qty units, rounded half-even to the unit, signed:
    counted straight from the decimal, not through a string again."""
    units = int((abs(total) / Decimal(spec.qty_unit)).to_integral_value(ROUND_HALF_EVEN))
    return -units if total < 0 else units


# ---- funding (USD-M perpetuals) ------------------------------------------------------------------------


def funding_fee(e: dict[str, Any], symbol: str, asset: str, *, ts_recv: int) -> FundingPayment | None:
    """An `ACCOUNT_UPDATE` whose reason is `FUNDING_FEE` as the funding paid (< 0) or received (> 0) on
    `symbol`: the balance change `bc` of the margin `asset`, at the event's transaction time `T`. None for
    any other update, or one about another symbol's isolated position (a cross position's event names no
    symbol: it is this connector's). The event states no payment id (`funding_id` ""); the income
    history does (`funding_income`)."""
    a = e.get("a") or {}
    if e.get("e") != "ACCOUNT_UPDATE" or a.get("m") != "FUNDING_FEE":
        return None
    if any(p.get("s") != symbol for p in a.get("P") or []):
        return None
    for b in a.get("B") or []:
        if b.get("a") == asset:
            return FundingPayment(symbol, Decimal(str(b["bc"])), int(e["T"]) * 1_000_000, ts_recv=ts_recv)
    return None


def funding_income(row: dict[str, Any], *, ts_recv: int) -> FundingPayment:
    """One `GET /fapi/v1/income` row of type FUNDING_FEE: `income` (a signed decimal string) at `time`,
    its `tranId` as the payment's id."""
    if row.get("incomeType") != "FUNDING_FEE":
        raise ValueError(f"not a funding fee: {row.get('incomeType')!r}")
    return FundingPayment(
        str(row["symbol"]),
        Decimal(str(row["income"])),
        int(row["time"]) * 1_000_000,
        str(row["tranId"]),
        ts_recv=ts_recv,
    )
