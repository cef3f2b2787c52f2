"""Pure parsers: Polymarket payloads (CLOB REST, the user and market channels, Gamma) to `trader` types.

Prices become integer units of the connector's spec (`price_unit`, by default the tick), quantities
micro-shares. Book levels of the market channel are parsed in Rust from the raw message
(`Book.apply_polymarket_book` / `apply_polymarket_changes`); `levels` is the same conversion in Python,
kept as the reference the bench and the tests compare against."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from trader.core import InstrumentSpec, InvalidInputError, Side
from trader.venues.base import FillReport, InstrumentInfo, OrderReport, OrderState, TradeTick
from trader.venues.polymarket.endpoints import LOT, MICRO
from trader.venues.polymarket.errors import MarketMetadataError

log = logging.getLogger("trader.venues.polymarket")

STATES = {
    "LIVE": OrderState.OPEN,
    "DELAYED": OrderState.OPEN,
    "UNMATCHED": OrderState.OPEN,
    "MATCHED": OrderState.FILLED,
    "CANCELED": OrderState.CANCELED,
    "CANCELED_MARKET_RESOLVED": OrderState.CANCELED,
    "INVALID": OrderState.REJECTED,
}


def side(s: Any) -> Side:
    return Side.BUY if str(s).upper() == "BUY" else Side.SELL


def dec(x: Any) -> Decimal:
    try:
        d = Decimal(str(x))
    except InvalidOperation:
        raise ValueError(f"not a number: {x!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {x!r}")
    return d


def norm(x: Any) -> str:
    return f"{dec(x).normalize():f}"


def fee(size: Decimal, price: Decimal, bps: Any) -> Decimal:
    """The fee in pUSD: rate x min(p, 1 - p) x shares (the documented CLOB fee curve; V2 sets the rate
    at match time and reports it per trade as `fee_rate_bps`) [formula UNVERIFIED for V2]."""
    rate = dec(bps or 0)
    if not rate:
        return Decimal(0)
    return (size * min(price, 1 - price) * rate / 10_000).quantize(MICRO)


def price_units(spec: InstrumentSpec, raw: Any) -> int:
    """A reported price in price units (rounded to the unit if the venue's is finer)."""
    d = dec(raw)
    try:
        return spec.price_to_units(norm(d))
    except InvalidInputError:
        return int((d / dec(spec.price_unit)).to_integral_value())


def levels(spec: InstrumentSpec, rows: Any) -> list[tuple[int, int]]:
    """`[{"price": "0.48", "size": "30"}, ...]` as (price units, micro-shares), in Python."""
    return [(spec.price_to_units(norm(r["price"])), spec.qty_to_units(norm(r["size"]))) for r in rows or []]


def instrument_info(
    spec: InstrumentSpec, symbol: str, token: str, tick: str, min_size: str
) -> InstrumentInfo:
    return InstrumentInfo(
        symbol, token, "pUSD", tick, LOT, min_size, "0", price_unit=spec.price_unit, qty_unit=spec.qty_unit
    )


def order_time_ns(o: Mapping[str, Any]) -> int:
    """The venue's time of an order's last change: a user-channel event's `timestamp` (ms), else the
    order's `created_at` (s; `/data/order(s)` state no later time); 0 when neither is stated (a `POST
    /order(s)` result states no time, so the connector's report from it carries 0)."""
    if o.get("timestamp"):
        return int(dec(o["timestamp"])) * 1_000_000
    if o.get("created_at"):
        return int(dec(o["created_at"])) * 1_000_000_000
    return 0


def order_report(
    o: Mapping[str, Any],
    spec: InstrumentSpec,
    symbol_of: Mapping[str, str],
    client_of: Callable[[str], str],
    ts_recv: int,
) -> OrderReport:
    """An order as the venue shows it (`/data/order`, `/data/orders`, user-channel `order` events), read
    at `ts_recv` (our clock); `ts_event` is `order_time_ns`. A MATCHED order with an unfilled rest
    (FAK/FOK) is EXPIRED; an unknown status is taken as open."""
    oid = str(o["id"])
    asset = str(o.get("asset_id", ""))
    qty = spec.qty_to_units(norm(o["original_size"]))
    filled = spec.qty_to_units(norm(o.get("size_matched") or 0))
    status = str(o.get("status", "")).upper()
    state = STATES.get(status)
    if state is None:
        log.warning("polymarket: unknown order status %r taken as open", status)
        state = OrderState.OPEN
    reason = ""
    if state is OrderState.FILLED and filled < qty:
        state, reason = OrderState.EXPIRED, f"{o.get('order_type', '')}: unfilled rest canceled"
    elif status == "CANCELED_MARKET_RESOLVED":
        reason = "market resolved"
    return OrderReport(
        client_of(oid), oid, symbol_of.get(asset, asset), side(o.get("side")),
        price_units(spec, o.get("price", 0)), qty, filled, state, reason,
        ts_event=order_time_ns(o), ts_recv=ts_recv,
    )  # fmt: skip


def fills_of(
    t: Mapping[str, Any],
    spec: InstrumentSpec,
    symbol_of: Mapping[str, str],
    client_of: Callable[[str], str],
    ours: Callable[[str, str], bool],
    ts_recv: int,
) -> list[FillReport]:
    """Our fills in one trade (`/data/trades` row or user-channel `trade` event): as its taker, and
    through each `maker_orders` entry that is ours (`ours(owner, order_id)`). The side, token and price
    are those of OUR order (a YES buy matched by a NO buy stays a YES buy)."""
    tid = str(t["id"])
    ts_ns = int(dec(t.get("match_time") or 0)) * 1_000_000_000
    out: list[FillReport] = []

    def fill(fid: str, oid: str, token: str, s: Any, price: Any, size: Any, bps: Any, maker: bool) -> None:
        symbol = symbol_of.get(token)
        if symbol is None:
            return
        p, q = dec(price), dec(size)
        out.append(
            FillReport(
                client_of(oid), fid, symbol, side(s), price_units(spec, p), spec.qty_to_units(norm(q)),
                fee(q, p, bps), ts_ns, maker, ts_recv=ts_recv,
            )
        )  # fmt: skip

    if str(t.get("trader_side", "")).upper() == "TAKER":
        fill(
            tid, str(t["taker_order_id"]), str(t["asset_id"]), t["side"], t["price"], t["size"],
            t.get("fee_rate_bps"), False,
        )  # fmt: skip
    for m in t.get("maker_orders") or []:
        oid = str(m.get("order_id"))
        if not ours(str(m.get("owner", "")), oid):
            continue
        fill(
            f"{tid}:{oid}", oid, str(m["asset_id"]), m["side"], m["price"], m["matched_amount"],
            m.get("fee_rate_bps"), True,
        )  # fmt: skip
    return out


def trade_tick(m: Mapping[str, Any], spec: InstrumentSpec, symbol: str, ts_recv: int) -> TradeTick:
    """A market-channel `last_trade_price` event (its `timestamp` in ms)."""
    return TradeTick(
        symbol,
        price_units(spec, m["price"]),
        spec.qty_to_units(norm(m["size"])),
        side(m.get("side")),
        int(dec(m.get("timestamp") or 0)) * 1_000_000,
        ts_recv=ts_recv,
    )


# ---- Gamma (market metadata) -----------------------------------------------------------------------


@dataclass(frozen=True)
class MarketMetadata:
    """One binary market as Gamma describes it (see the connector's docstring for the fields' sources)."""

    condition_id: str
    gamma_id: str  # Gamma's own market id
    question: str
    slug: str
    outcomes: tuple[str, str]  # (YES's name, NO's name), as Gamma pairs them with the token ids
    yes_token: str
    no_token: str
    tick_size: Decimal  # orderPriceMinTickSize
    min_order_size: Decimal  # shares (orderMinSize)
    neg_risk: bool
    end_ns: int | None  # endDate, ns since the Unix epoch (None: Gamma gives none)
    rewards_min_size: Decimal  # shares an order needs to score for liquidity rewards (0: no program)
    rewards_max_spread: Decimal  # cents from the midpoint within which orders score (0: no program)
    rewards_daily_rate: Decimal  # pUSD per day shared by the market's makers (sum of clobRewards)
    active: bool
    closed: bool
    accepting_orders: bool
    version: str = "v1"  # Gamma's `version`: "v1" (CTF: clobTokenIds) or "v2" (Protocol V2: positionIds)

    def until_end_ns(self, now_ns: int) -> int | None:
        """Nanoseconds left before the end date (negative once past it), or None without one."""
        return None if self.end_ns is None else self.end_ns - now_ns


def json_list(value: Any) -> list[str]:
    """Gamma's JSON-encoded string arrays (`outcomes`, `clobTokenIds`); a real array is accepted too."""
    items = json.loads(value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"not an array: {str(value)[:40]!r}")
    return [str(i) for i in items]


def gamma_dec(value: Any, default: Decimal | None = None) -> Decimal:
    """A Gamma number (JSON number or numeric string) as an exact Decimal; missing/null -> `default`."""
    if value is None or value == "":
        if default is None:
            raise ValueError("missing number")
        return default
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    return dec(value)


def iso_ns(text: str) -> int:
    """An ISO 8601 time (`2026-12-31T00:00:00Z`, with fractions, `+00`, or a space) as ns since the epoch;
    a time without an offset is UTC."""
    t = text.strip().replace(" ", "T", 1).replace("Z", "+00:00")
    if t.endswith("+00"):
        t += ":00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parse_gamma_market(raw: Mapping[str, Any], venue: str = "polymarket") -> MarketMetadata:
    """One Gamma `/markets` item (decoded with Decimal for JSON floats) as `MarketMetadata`."""
    try:
        version = str(raw.get("version") or "v1").lower()  # "v2": Protocol V2, traded by position id
        ids = raw.get("positionIds") if version == "v2" else raw.get("clobTokenIds")
        outcomes, tokens = json_list(raw.get("outcomes")), json_list(ids)
        if len(outcomes) != 2 or len(tokens) != 2:
            raise MarketMetadataError(
                f"Gamma market {raw.get('conditionId')} is not binary ({len(outcomes)} outcomes, "
                f"{len(tokens)} token ids)",
                venue=venue,
            )
        rewards = raw.get("clobRewards") or []
        if not isinstance(rewards, list):
            raise ValueError("clobRewards is not an array")
        closed = bool(raw.get("closed", False))
        end = raw.get("endDate")
        return MarketMetadata(
            condition_id=str(raw["conditionId"]),
            gamma_id=str(raw.get("id", "")),
            question=str(raw.get("question") or ""),
            slug=str(raw.get("slug") or ""),
            outcomes=(outcomes[0], outcomes[1]),
            yes_token=tokens[0],
            no_token=tokens[1],
            tick_size=gamma_dec(raw.get("orderPriceMinTickSize")),
            min_order_size=gamma_dec(raw.get("orderMinSize"), Decimal(0)),
            neg_risk=bool(raw.get("negRisk", False)),
            end_ns=iso_ns(str(end)) if end else None,
            rewards_min_size=gamma_dec(raw.get("rewardsMinSize"), Decimal(0)),
            rewards_max_spread=gamma_dec(raw.get("rewardsMaxSpread"), Decimal(0)),
            rewards_daily_rate=sum(
                (gamma_dec(r.get("rewardsDailyRate"), Decimal(0)) for r in rewards if isinstance(r, dict)),
                Decimal(0),
            ),
            active=bool(raw.get("active", False)),
            closed=closed,
            accepting_orders=bool(raw.get("acceptingOrders", not closed)),
            version=version,
        )
    except (KeyError, TypeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        raise MarketMetadataError(
            f"malformed Gamma market {raw.get('conditionId')}: {type(e).__name__}: {str(e)[:80]}", venue=venue
        ) from None
