"""What clients call around trading, made from the simulator's own state: Gamma events (`/gamma/events`,
`/gamma/events/{id}`, `/gamma/events/slug/{slug}`, `/gamma/events/keyset`), `/gamma/markets/keyset`,
`/gamma/markets/slug/{slug}` and search (`/gamma/public-search`); the data API (real host
data-api.polymarket.com, here the prefix `/data-api`) positions and trades, both the classic
`/positions` and `/trades` (camelCase arrays) and the official SDK's `/v2/positions`, `/v2/trades` and
`/v2/prices-history` (snake_case, `{"data": [...], "pagination": {"has_more", "next_cursor"}}`); and the
CLOB's price history `GET /prices-history?market=<token>&interval=|startTs=&endTs=&fidelity=<minutes>`
(`{"history": [{"t", "p"}]}`).

Shapes: the SDK polymarket-client 0.14.0 (`models/gamma/event.py`, `models/gamma/search.py`,
`_internal/actions/gamma.py` keyset pages `{"<items>": [...], "next_cursor"}`, `models/data/portfolio.py`
`Position`, `models/data/activity.py` `Trade`, `models/data/analytics.py` `PriceHistoryPoint`,
`_internal/data_envelope.py`); the classic data API and `/prices-history` fields from polymarket.md §1 and
the docs [DOC docs.polymarket.com]. Deliberate simplifications: one event per market (its slug and
title), no tags, profiles, volumes or fees (costs are fee-exclusive, fees 0); a position's average price
is its buys' volume-weighted price; every page is the last (`next_cursor` null); price history buckets
hold the last print of each bucket (`fidelity` minutes, default 1)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from trader.sim.polymarket import rest
from trader.sim.polymarket.state import SCALE, UNIT, ApiError, Call, Fill, Market, _iso, _key, fmt

if TYPE_CHECKING:
    from trader.sim.polymarket.server import PolymarketSimServer

INTERVAL_S = {"1h": 3600, "6h": 6 * 3600, "1d": 86_400, "1w": 7 * 86_400, "1m": 30 * 86_400}
LAST = {"has_more": False, "next_cursor": None}


def _num(units: int, scale: int) -> orjson.Fragment:
    return orjson.Fragment(fmt(units, scale).encode())


def _dec(d: Decimal) -> orjson.Fragment:
    """A Decimal as an exact JSON number."""
    return orjson.Fragment(f"{d.normalize():f}".encode())


# ---- Gamma: events, keyset pages, search ---------------------------------------------------------


def event_json(srv: PolymarketSimServer, m: Market) -> dict[str, Any]:
    """The market's event (one per market) as Gamma shows it, with the market inside."""
    g = rest.gamma_json(srv, m)
    return {
        "id": str(int(m.gamma_id) + 100_000),
        "version": g.get("version", "v1"),
        "ticker": m.slug,
        "slug": m.slug,
        "title": m.question,
        "description": g["description"],
        "active": not m.closed,
        "closed": m.closed,
        "archived": False,
        "restricted": False,
        "negRisk": m.neg_risk,
        "enableOrderBook": True,
        "startDate": g["startDate"],
        "creationDate": g["startDate"],
        "endDate": g["endDate"],
        "createdAt": g["createdAt"],
        "markets": [g],
    }


def _market_by(srv: PolymarketSimServer, field: str, value: str) -> Market:
    for m in srv.markets.values():
        if (field == "slug" and m.slug == value) or (
            field == "event" and str(int(m.gamma_id) + 100_000) == value
        ):
            return m
    raise ApiError("id not found" if field == "event" else "slug not found", 404)


def gamma_events(srv: PolymarketSimServer, call: Call) -> list[dict[str, Any]]:
    """`GET /events`: a JSON array (filters `id`, `slug`, `closed`; `limit`, `offset`)."""
    return _events(srv, call)[1]


def _events(srv: PolymarketSimServer, call: Call) -> tuple[int, list[dict[str, Any]]]:
    q, multi = call.query, call.multi
    try:
        limit, offset = int(q.get("limit", 100)), int(q.get("offset", 0))
    except ValueError:
        raise ApiError("invalid limit or offset", 422) from None
    closed = q.get("closed")
    ids, slugs = set(multi.get("id", [])), set(multi.get("slug", []))
    items = [
        event_json(srv, m)
        for m in sorted(srv.markets.values(), key=lambda m: int(m.gamma_id))
        if (closed is None or m.closed == (closed == "true"))
        and (not slugs or m.slug in slugs)
        and (not ids or str(int(m.gamma_id) + 100_000) in ids)
    ]
    return len(items), items[offset : offset + limit]


def gamma_event(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    return event_json(srv, _market_by(srv, "event", call.match["id"]))


def gamma_event_by_slug(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    return event_json(srv, _market_by(srv, "slug", call.match["slug"]))


def gamma_market_by_slug(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    return rest.gamma_json(srv, _market_by(srv, "slug", call.match["slug"]))


def events_keyset(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """`GET /events/keyset` (the SDK's listing): every event on one page."""
    return {"events": _events(srv, call)[1], "next_cursor": None}


def markets_keyset(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """`GET /markets/keyset` (the SDK's listing): the `/markets` filters, one page."""
    return {"markets": rest.gamma_markets(srv, call), "next_cursor": None}


def public_search(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """`GET /public-search?q=`: the events whose title or slug holds every word of `q` (any case)."""
    words = call.query.get("q", "").lower().split()
    if not words:
        raise ApiError("q is required", 422)
    hits = [
        event_json(srv, m)
        for m in sorted(srv.markets.values(), key=lambda m: int(m.gamma_id))
        if all(w in f"{m.question} {m.slug}".lower() for w in words)
    ]
    return {
        "events": hits,
        "tags": [],
        "profiles": [],
        "pagination": {"hasMore": False, "totalResults": len(hits)},
    }


# ---- data API: positions and trades ----------------------------------------------------------------


def _user(call: Call) -> str:
    user = call.query.get("user", "")
    if not user.startswith("0x") or len(user) != 42:
        raise ApiError("invalid user", 400)
    return _key(user)


def _price(f: Fill, token: str) -> int:
    return f.yes_price if token == f.market.yes else SCALE - f.yes_price


def _user_fills(srv: PolymarketSimServer, user: str) -> list[tuple[Fill, str, str]]:
    """(fill, the user's token, the user's side) of every trade of the user's orders, oldest first."""
    out = []
    for f in srv.fills.values():
        for o in (f.taker, f.maker):
            if _key(o.maker) == user:
                out.append((f, o.token, o.side))
    return out


def _positions(srv: PolymarketSimServer, user: str) -> list[tuple[Market, str, int, int]]:
    """(market, token, micro-shares held, average buy price in price units) of the user's holdings."""
    w = srv.wallets.get(user)
    if w is None:
        return []
    bought: dict[str, tuple[int, int]] = {}
    for f, token, side in _user_fills(srv, user):
        if side == "BUY":
            qty, cost = bought.get(token, (0, 0))
            bought[token] = (qty + f.size, cost + f.size * _price(f, token))
    out = []
    for token, size in w.tokens.items():
        m = srv.tokens.get(token)
        if m is None or size <= 0:
            continue
        qty, cost = bought.get(token, (0, 0))
        out.append((m, token, size, cost // qty if qty else 0))
    return out


def _mark(srv: PolymarketSimServer, m: Market, token: str) -> Decimal:
    return Decimal(rest.mark(srv, m, token))


def classic_positions(srv: PolymarketSimServer, call: Call) -> list[dict[str, Any]]:
    """`GET /positions?user=`: the classic data API's array."""
    user, out = _user(call), []
    for m, token, size, avg in _positions(srv, user):
        cur, shares, avg_d = _mark(srv, m, token), Decimal(size) / UNIT, Decimal(avg) / SCALE
        value, initial = cur * shares, avg_d * shares
        pct = (value - initial) / initial * 100 if initial else Decimal(0)
        out.append(
            {
                "proxyWallet": user, "asset": token, "conditionId": m.condition_id,
                "size": _num(size, UNIT), "avgPrice": _num(avg, SCALE), "curPrice": _dec(cur),
                "initialValue": _dec(initial), "currentValue": _dec(value), "cashPnl": _dec(value - initial),
                "percentPnl": _dec(pct),
                "redeemable": m.closed, "mergeable": False, "negativeRisk": m.neg_risk,
                "title": m.question, "slug": m.slug, "eventSlug": m.slug,
                "outcome": m.outcome(token), "outcomeIndex": 0 if token == m.yes else 1,
                "oppositeOutcome": m.outcome(m.other(token)), "oppositeAsset": m.other(token),
                "endDate": _iso(m.end_s)[:10] if m.end_s else None,
            }
        )  # fmt: skip
    return out


def v2_positions(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """`GET /v2/positions?user=` (the official SDK's `list_positions`)."""
    user, out = _user(call), []
    for m, token, size, avg in _positions(srv, user):
        cur, shares, avg_d = _mark(srv, m, token), Decimal(size) / UNIT, Decimal(avg) / SCALE
        value, cost = cur * shares, avg_d * shares
        pnl = value - cost
        out.append(
            {
                "proxy_wallet": user, "token_id": token, "condition_id": m.condition_id,
                "current_size": str(shares), "total_size": str(shares), "avg_price": str(avg_d),
                "entry_cost_usdc": str(cost), "entry_fees_usdc": "0", "total_cost_usdc": str(cost),
                "current_price": str(cur), "current_value": str(value), "realized_pnl": "0",
                "unrealized_pnl": str(pnl), "total_pnl": str(pnl),
                "percent_pnl": str(pnl / cost * 100 if cost else 0), "percent_realized_pnl": "0",
                "status": "REDEEMABLE" if m.closed else "OPEN", "redeemable": m.closed, "mergeable": False,
                "negative_risk": m.neg_risk, "archived": False, "verified": True,
                "title": m.question, "slug": m.slug, "event_slug": m.slug, "outcome": m.outcome(token),
                "opposite_outcome": m.outcome(m.other(token)), "outcome_index": 0 if token == m.yes else 1,
                "opposite_token_id": m.other(token),
            }
        )  # fmt: skip
    return {"data": out, "pagination": LAST}


def _trades(srv: PolymarketSimServer, call: Call) -> list[tuple[Fill, str, str, str]]:
    """(fill, wallet, token, side) of the trades `user` (or, without it, `market`) asks for, newest first."""
    q = call.query
    market = q.get("market") or q.get("condition_id")
    if q.get("user"):
        rows = [(f, _user(call), t, s) for f, t, s in _user_fills(srv, _user(call))]
    elif market:
        rows = [(f, _key(f.taker.maker), f.taker.token, f.taker.side) for f in srv.fills.values()]
    else:
        raise ApiError("user or market is required", 400)
    return [r for r in reversed(rows) if not market or r[0].market.condition_id == market]


def classic_trades(srv: PolymarketSimServer, call: Call) -> list[dict[str, Any]]:
    """`GET /trades?user=|market=`: the classic data API's array."""
    return [
        {
            "proxyWallet": w, "side": side, "asset": token, "conditionId": f.market.condition_id,
            "size": _num(f.size, UNIT), "price": _num(_price(f, token), SCALE), "timestamp": f.time_s,
            "title": f.market.question, "slug": f.market.slug, "eventSlug": f.market.slug,
            "outcome": f.market.outcome(token), "outcomeIndex": 0 if token == f.market.yes else 1,
            "transactionHash": f.tx,
        }
        for f, w, token, side in _trades(srv, call)
    ]  # fmt: skip


def v2_trades(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """`GET /v2/trades?user=|condition_id=` (the official SDK's `list_trades`)."""
    data = [
        {
            "proxy_wallet": w, "token_id": token, "condition_id": f.market.condition_id, "side": side,
            "size": fmt(f.size, UNIT), "price": fmt(_price(f, token), SCALE), "timestamp": f.time_s,
            "transaction_hash": f.tx, "title": f.market.question, "slug": f.market.slug,
            "event_slug": f.market.slug, "outcome": f.market.outcome(token),
            "outcome_index": 0 if token == f.market.yes else 1,
        }
        for f, w, token, side in _trades(srv, call)
    ]  # fmt: skip
    return {"data": data, "pagination": LAST}


# ---- price history --------------------------------------------------------------------------------


def _history(
    srv: PolymarketSimServer, token: str, start: int, end: int, bucket: int
) -> list[tuple[int, int]]:
    """(bucket start, last price in it) of every print of `token`'s market between `start` and `end`."""
    m = srv.tokens.get(token)
    if m is None:
        raise ApiError("Invalid token id")
    points: dict[int, int] = {}
    for f in srv.tape:
        if f.market is m and start <= f.time_s <= end:
            points[f.time_s // bucket * bucket] = _price(f, token)
    return sorted(points.items())


def _window(q: dict[str, str], now_s: int, start_key: str, end_key: str) -> tuple[int, int]:
    try:
        if q.get("interval"):
            span = INTERVAL_S.get(q["interval"])
            return (0 if span is None else now_s - span), now_s
        return int(q.get(start_key, 0)), int(q.get(end_key, now_s))
    except ValueError:
        raise ApiError("invalid filters", 400) from None


def prices_history(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """CLOB `GET /prices-history?market=<token>`: `{"history": [{"t": unix s, "p": price}]}`."""
    q = call.query
    start, end = _window(q, srv.now_ms() // 1000, "startTs", "endTs")
    try:
        bucket = max(60, int(q.get("fidelity", 1)) * 60)
    except ValueError:
        raise ApiError("invalid filters", 400) from None
    history = _history(srv, q.get("market", ""), start, end, bucket)
    return {"history": [{"t": t, "p": _num(p, SCALE)} for t, p in history]}


def v2_prices_history(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """Data API `GET /v2/prices-history?token_id=` (the official SDK's `list_price_history`)."""
    q = call.query
    start, end = _window(q, srv.now_ms() // 1000, "start", "end")
    try:
        bucket = int(q.get("bucket_seconds", 60))
    except ValueError:
        raise ApiError("invalid filters", 400) from None
    history = _history(srv, q.get("token_id", ""), start, end, bucket)
    data = [{"timestamp": t, "price": fmt(p, SCALE), "resolution_seconds": bucket} for t, p in history]
    return {"data": data, "pagination": LAST}
