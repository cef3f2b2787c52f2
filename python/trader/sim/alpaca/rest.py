"""The Alpaca simulator's REST API (`/v2/...`): account, clock, assets, positions, orders and FILL
activities. Each handler takes the server, the request, the caller's key and account, and answers
`(status, JSON)` or raises `ApiError` (Alpaca's `{"code", "message"}` body)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from trader.sim.alpaca.market_hours import eastern_iso, next_session_time, parse_rfc3339, session
from trader.sim.alpaca.state import (
    CENT,
    LIVE,
    Account,
    ApiError,
    Book,
    Order,
    Request,
    cents,
    order_json,
)

if TYPE_CHECKING:
    from trader.sim.alpaca.server import AlpacaSimServer


def _position_json(
    sim: AlpacaSimServer, symbol: str, shares: int, cost: Decimal, held: int
) -> dict[str, Any]:
    book = sim.books[symbol]
    price = sim._mid_cents(book) * CENT
    last = Decimal(book.listing.mid_cents) * CENT
    value = price * shares
    pl = value - cost
    return {
        "asset_id": book.asset_id,
        "symbol": symbol,
        "exchange": book.listing.exchange,
        "asset_class": "us_equity",
        "asset_marginable": True,
        "qty": str(shares),
        "qty_available": str(shares - held),
        "avg_entry_price": f"{cost / shares:.4f}".rstrip("0").rstrip("."),
        "side": "long" if shares > 0 else "short",
        "market_value": cents(value),
        "cost_basis": cents(cost),
        "unrealized_pl": cents(pl),
        "unrealized_plpc": f"{pl / cost:.6f}" if cost else "0",
        "unrealized_intraday_pl": cents(pl),
        "unrealized_intraday_plpc": f"{pl / cost:.6f}" if cost else "0",
        "current_price": cents(price),
        "lastday_price": cents(last),
        "change_today": f"{(price - last) / last:.6f}",
    }


def get_account(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    long_value = sum(
        (sim._mid_cents(sim.books[s]) * CENT * p[0] for s, p in account.positions.items() if p[0]),
        Decimal(0),
    )
    equity = account.cash + long_value
    bp = cents(sim.buying_power(key))
    return 200, {
        "id": account.id,
        "account_number": account.number,
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "cash": cents(account.cash),
        "buying_power": bp,
        "regt_buying_power": bp,
        "non_marginable_buying_power": bp,
        "options_buying_power": "0",
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "portfolio_value": cents(equity),
        "equity": cents(equity),
        "last_equity": cents(equity),
        "long_market_value": cents(long_value),
        "short_market_value": "0",
        "initial_margin": cents(long_value),
        "maintenance_margin": cents(long_value * Decimal("0.3")),
        "last_maintenance_margin": "0",
        "sma": "0",
        "multiplier": "1",
        "shorting_enabled": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
        "created_at": "2024-01-02T15:00:00.000000000Z",
    }


def get_clock(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    now = sim.now_ns()
    return 200, {
        "timestamp": eastern_iso(now),
        "is_open": session(now) == "regular",
        "next_open": eastern_iso(next_session_time(now, 9, 30)),
        "next_close": eastern_iso(next_session_time(now, 16, 0)),
    }


def get_asset(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    book = sim._book_of(req.match["symbol"])
    if book is None:
        raise ApiError(404, 40410000, "asset not found")
    return 200, {
        "id": book.asset_id,
        "class": "us_equity",
        "exchange": book.listing.exchange,
        "symbol": book.listing.symbol,
        "name": book.listing.name,
        "status": "active",
        "tradable": True,
        "marginable": True,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "100",
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "attributes": [],
    }


def list_positions(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    return 200, [
        _position_json(sim, s, p[0], p[1], sim._held(key, s, "sell"))
        for s, p in sorted(account.positions.items())
        if p[0]
    ]


def get_position(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    book = sim._book_of(req.match["symbol"])
    p = account.positions.get(book.listing.symbol) if book is not None else None
    if book is None or p is None or not p[0]:
        raise ApiError(404, 40410000, "position does not exist")
    s = book.listing.symbol
    return 200, _position_json(sim, s, p[0], p[1], sim._held(key, s, "sell"))


# ---- orders ------------------------------------------------------------------------------------


def _decimal(body: dict[str, Any], name: str) -> Decimal | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | str | Decimal):
        raise ApiError(422, 40010001, f"invalid {name}")
    try:
        d = Decimal(str(v)) if not isinstance(v, Decimal) else v
    except InvalidOperation:
        raise ApiError(422, 40010001, f"invalid {name}") from None
    if not d.is_finite():
        raise ApiError(422, 40010001, f"invalid {name}")
    return d


@dataclass(frozen=True)
class OrderRequest:
    """A `POST /v2/orders` body that passed validation (prices in cents, sizes in shares)."""

    book: Book
    side: str
    type: str
    tif: str
    qty: int
    limit: int  # cents; 0 for market
    extended: bool
    client_id: object  # as sent: a str, or None / "" for one the venue makes up


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null", parse_float=Decimal)
    except ValueError:
        raise ApiError(400, 40010000, "request body format is invalid") from None
    if not isinstance(body, dict):
        raise ApiError(400, 40010000, "request body format is invalid")
    return body


def _kind(body: dict[str, Any]) -> tuple[str, str, str]:
    """The order's side, type and time in force (the kinds the simulator serves)."""
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise ApiError(422, 40010001, "invalid side")
    otype = body.get("type", body.get("order_type"))
    if otype not in ("market", "limit"):
        if otype in ("stop", "stop_limit", "trailing_stop"):
            raise ApiError(422, 40010001, f"order type {otype} is not supported by the simulator")
        raise ApiError(422, 40010001, "invalid order type")
    tif = body.get("time_in_force")
    if tif not in ("day", "gtc", "ioc", "fok", "opg", "cls"):
        raise ApiError(422, 40010001, "invalid time_in_force")
    if tif in ("opg", "cls"):
        raise ApiError(422, 40010001, f"time_in_force {tif} is not supported by the simulator")
    if body.get("order_class") not in (None, "", "simple"):
        raise ApiError(422, 40010001, "only simple orders are supported by the simulator")
    return str(side), str(otype), str(tif)


def _quantity(body: dict[str, Any]) -> int:
    if body.get("notional") is not None:
        if body.get("qty") is not None:
            raise ApiError(422, 40010001, "qty and notional cannot both be given")
        raise ApiError(422, 40010001, "notional orders are not supported by the simulator")
    qty_d = _decimal(body, "qty")
    if qty_d is None:
        raise ApiError(422, 40010001, "qty is required")
    if qty_d <= 0:
        raise ApiError(422, 40010001, "qty must be > 0")
    if qty_d != qty_d.to_integral_value():
        raise ApiError(422, 40010001, "fractional orders are not supported by the simulator")
    return int(qty_d)


def _limit(body: dict[str, Any], otype: str) -> int:
    """A limit order's price in cents (0 for a market order)."""
    limit_d = _decimal(body, "limit_price")
    if otype != "limit":
        return 0
    if limit_d is None:
        raise ApiError(422, 40010001, "limit_price is required for limit orders")
    if limit_d <= 0:
        raise ApiError(422, 40010001, "limit_price must be > 0")
    in_cents = limit_d / CENT
    if in_cents != in_cents.to_integral_value():
        raise ApiError(
            422,
            42210000,
            f"invalid limit_price {limit_d}. sub-penny increment does not fulfill minimum pricing criteria",
        )
    return int(in_cents)


def parse_order(sim: AlpacaSimServer, raw: bytes) -> OrderRequest:
    """Validate an order body in the order Alpaca checks it."""
    body = _body(raw)
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ApiError(422, 40010001, "symbol is required")
    book = sim._book_of(symbol)
    if book is None:
        raise ApiError(422, 40010001, f'asset "{symbol}" not found')
    side, otype, tif = _kind(body)
    qty = _quantity(body)
    limit = _limit(body, otype)
    extended = body.get("extended_hours") is True
    if extended and (otype != "limit" or tif != "day"):
        raise ApiError(422, 42210000, "extended hours order must be DAY limit orders")
    return OrderRequest(book, side, otype, tif, qty, limit, extended, body.get("client_order_id"))


def _client_id(sim: AlpacaSimServer, account: Account, given: object) -> str:
    """The order's client order id (made up when none is given), counted and checked for reuse."""
    cid = sim._uuid() if given is None or given == "" else given
    if not isinstance(cid, str):
        raise ApiError(422, 40010001, "invalid client_order_id")
    if len(cid) > 128:
        raise ApiError(422, 40010001, "client_order_id must be no more than 128 characters")
    account.submissions[cid] = account.submissions.get(cid, 0) + 1
    if cid in account.used_client_ids:
        raise ApiError(422, 40010001, "client_order_id must be unique")
    return cid


def _check_funds(sim: AlpacaSimServer, key: str, o: OrderRequest, position: int) -> None:
    """Buying power for a buy, shares not yet held for other sells for a sell (no shorting)."""
    s = o.book.listing.symbol
    if o.side == "buy":
        need = Decimal(o.qty * (o.limit or sim._ask_cents(o.book))) * CENT
        bp = sim.buying_power(key)
        if need > bp:
            raise ApiError(
                403, 40310000, "insufficient buying power", buying_power=cents(bp), cost_basis=cents(need)
            )
        return
    held = sim._held(key, s, "sell")
    available = max(0, position - held)
    if o.qty > available:
        raise ApiError(
            403,
            40310000,
            f"insufficient qty available for order (requested: {o.qty}, available: {available})",
            available=str(available),
            existing_qty=str(position),
            held_for_orders=str(held),
            symbol=s,
        )


def post_order(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    r = parse_order(sim, req.body)
    cid = _client_id(sim, account, r.client_id)
    s = r.book.listing.symbol
    position = account.positions.get(s, [0, Decimal(0)])[0]
    _check_funds(sim, key, r, position)
    sim._check_wash(key, s, r.side, r.limit)
    now = sim.now_ns()
    intent = ("buy_to_open" if position >= 0 else "buy_to_close") if r.side == "buy" else "sell_to_close"
    o = Order(
        sim._uuid(),
        key,
        cid,
        s,
        r.book.asset_id,
        r.side,
        r.type,
        r.tif,
        r.qty,
        r.limit,
        r.extended,
        intent,
        now,
    )
    o.updated_ns = now
    if r.tif == "day":
        o.expires_ns = next_session_time(now, 20 if r.extended else 16, 0)
    o.status = "pending_new" if sim._can_trade(o, now) else "accepted"
    account.used_client_ids.add(cid)
    sim.orders[o.id] = o
    sim.live[o.id] = o
    body_out = order_json(o)
    asyncio.get_running_loop().call_soon(sim._route_if_possible, o)
    return 200, body_out


def _find(sim: AlpacaSimServer, key: str, order_id: str) -> Order:
    try:
        uuid.UUID(order_id)
    except ValueError:
        raise ApiError(422, 40010001, "order_id is missing") from None
    o = sim.orders.get(order_id)
    if o is None or o.key != key:
        raise ApiError(404, 40410000, "order not found")
    return o


def get_order(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    return 200, order_json(_find(sim, key, req.match["order_id"]))


def get_by_client_id(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    cid = req.query.get("client_order_id", "")
    if not cid:
        raise ApiError(422, 40010001, "client_order_id is missing")
    for o in sim.orders.values():
        if o.key == key and o.client_id == cid:
            return 200, order_json(o)
    raise ApiError(404, 40410000, "order not found")


def list_orders(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    q = req.query
    status = q.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise ApiError(422, 40010001, "invalid status")
    try:
        limit = int(q.get("limit", "50"))
        after = parse_rfc3339(q["after"]) if q.get("after") else None
        until = parse_rfc3339(q["until"]) if q.get("until") else None
    except ValueError:
        raise ApiError(422, 40010001, "invalid query parameter") from None
    if not 1 <= limit <= 500:
        raise ApiError(422, 40010001, "limit must be between 1 and 500")
    direction = q.get("direction", "desc")
    symbols = {s.strip().upper() for s in q.get("symbols", "").split(",") if s.strip()}
    side = q.get("side")
    out = [
        o
        for o in sim.orders.values()
        if o.key == key
        and (status == "all" or (o.status in LIVE) == (status == "open"))
        and (not symbols or o.symbol in symbols)
        and (side is None or o.side == side)
        and (after is None or o.created_ns > after)
        and (until is None or o.created_ns < until)
    ]
    out.sort(key=lambda o: o.created_ns, reverse=direction != "asc")
    return 200, [order_json(o) for o in out[:limit]]


def cancel_order(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    o = _find(sim, key, req.match["order_id"])
    if o.status not in LIVE:
        raise ApiError(422, 42210000, f'order is already in "{o.status}" state')
    sim._close(o, "canceled")
    return 204, None


def cancel_all(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    out = []
    for o in [x for x in sim.live.values() if x.key == key]:
        sim._close(o, "canceled")
        out.append({"id": o.id, "status": 200, "body": order_json(o)})
    return 207, out


def activities(sim: AlpacaSimServer, req: Request, key: str, account: Account) -> tuple[int, Any]:
    q = req.query
    kind = req.match.get("kind") or q.get("activity_types") or "FILL"
    if "FILL" not in kind.split(","):
        return 200, []
    try:
        after = parse_rfc3339(q["after"]) if q.get("after") else None
        until = parse_rfc3339(q["until"]) if q.get("until") else None
        page_size = int(q.get("page_size", "100"))
    except ValueError:
        raise ApiError(422, 40010001, "invalid query parameter") from None
    if not 1 <= page_size <= 100:
        raise ApiError(422, 40010001, "page_size must be between 1 and 100")
    asc = q.get("direction", "desc") == "asc"
    rows = [
        a
        for a in account.activities
        if (after is None or parse_rfc3339(a["transaction_time"]) > after)
        and (until is None or parse_rfc3339(a["transaction_time"]) < until)
    ]
    if not asc:
        rows.reverse()
    token = q.get("page_token")
    if token:
        ids = [a["id"] for a in rows]
        rows = rows[ids.index(token) + 1 :] if token in ids else []
    return 200, rows[:page_size]
