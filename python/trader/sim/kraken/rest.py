"""The Kraken simulator's REST API: `/0/public/<Method>` (GET) and `/0/private/<Method>` (POST, form body,
`API-Key` / `API-Sign` headers, a strictly growing `nonce`). Every answer is HTTP 200 with Kraken's
envelope `{"error": [...], "result": ...}` (kraken.md section 3)."""

from __future__ import annotations

import email.utils
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from trader.sim.kraken.state import (
    INVALID_ARGUMENTS,
    INVALID_KEY,
    INVALID_NONCE,
    INVALID_SIGNATURE,
    NS,
    UNKNOWN_METHOD,
    UNKNOWN_ORDER,
    KrakenError,
)

if TYPE_CHECKING:
    from trader.sim.kraken.server import KrakenSimServer

Fields = dict[str, Any]  # form fields (text); a JSON body's lists and objects as they are


def rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(result: Any = None, error: str = "") -> web.Response:
    body: dict[str, Any] = {"error": [error] if error else []}
    if not error:
        body["result"] = result
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def routes(sim: KrakenSimServer) -> list[web.RouteDef]:
    async def public(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        handler = PUBLIC.get(method)
        fields: Fields = dict(request.query)
        if request.method == "POST":
            fields.update(parse_qsl((await request.read()).decode(), keep_blank_values=True))
        try:
            if handler is None:
                raise KrakenError(UNKNOWN_METHOD)
            return envelope(handler(sim, fields))
        except KrakenError as e:
            return envelope(error=e.message)

    async def private(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await request.read()
        try:
            key, fields = authenticate(sim, request, body)
            handler = PRIVATE.get(method)
            if handler is None:
                raise KrakenError(UNKNOWN_METHOD)
            return envelope(handler(sim, key, fields))
        except KrakenError as e:
            return envelope(error=e.message)

    return [
        web.get("/0/public/{method}", public),
        web.post("/0/public/{method}", public),
        web.post("/0/private/{method}", private),
    ]


def body_fields(request: web.Request, body: bytes) -> dict[str, Any]:
    """A form body, or a JSON one (`Content-Type: application/json`, as AddOrderBatch needs): its
    top-level scalars as text, lists and objects as they are."""
    try:
        if request.content_type == "application/json":
            doc = orjson.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            return {k: v if isinstance(v, list | dict) else _text(v) for k, v in doc.items()}
        return dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise KrakenError(INVALID_ARGUMENTS) from None


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return "" if v is None else str(v)


def authenticate(sim: KrakenSimServer, request: web.Request, body: bytes) -> tuple[str, Fields]:
    key = request.headers.get("API-Key", "")
    acct = sim.accounts.get(key)
    if acct is None:
        raise KrakenError(INVALID_KEY)
    fields = body_fields(request, body)
    nonce = fields.get("nonce", "")
    if not nonce.isdigit():
        raise KrakenError(INVALID_NONCE)
    if not sim.check_signature(key, request.path, nonce, body, request.headers.get("API-Sign", "")):
        raise KrakenError(INVALID_SIGNATURE)
    if int(nonce) <= acct.last_nonce:
        raise KrakenError(INVALID_NONCE)
    acct.last_nonce = int(nonce)
    if sim.limits is not None:
        error = sim.limits.call(key, request.path.rsplit("/", 1)[-1], sim.now_ns())
        if error:
            raise KrakenError(error)
    return key, fields


# ---- public --------------------------------------------------------------------------------------------


def time(sim: KrakenSimServer, f: Fields) -> Any:
    now = sim.now_ns()
    return {"unixtime": now // NS, "rfc1123": email.utils.formatdate(now / NS, usegmt=True)}


def system_status(sim: KrakenSimServer, f: Fields) -> Any:
    return {"status": "online", "timestamp": rfc3339(sim.now_ns())}


def asset_pairs(sim: KrakenSimServer, f: Fields) -> Any:
    names = [n for n in f.get("pair", "").split(",") if n]
    markets = [sim.market(n) for n in names] if names else list(sim.markets.values())
    return {m.pair.key: m.pair.asset_pair() for m in markets}


def depth(sim: KrakenSimServer, f: Fields) -> Any:
    m = sim.market(f.get("pair", ""))
    count = int(f.get("count", "100") or 100)
    bids, asks = m.engine.depth(count)
    ts = sim.now_ns() // NS
    p = m.pair
    return {
        p.key: {
            "asks": [[p.price_text(px), p.vol_text(q), ts] for px, q in asks],
            "bids": [[p.price_text(px), p.vol_text(q), ts] for px, q in bids],
        }
    }


def ticker(sim: KrakenSimServer, f: Fields) -> Any:
    m = sim.market(f.get("pair", ""))
    p = m.pair
    bids, asks = m.engine.depth(1)
    bid, bq = bids[0] if bids else (0, 0)
    ask, aq = asks[0] if asks else (0, 0)
    return {
        p.key: {
            "a": [p.price_text(ask), "1", p.vol_text(aq)],
            "b": [p.price_text(bid), "1", p.vol_text(bq)],
            "c": [p.price_text(round(m.market.mid)), "0"],
        }
    }


PUBLIC: dict[str, Callable[[KrakenSimServer, Fields], Any]] = {
    "Time": time,
    "SystemStatus": system_status,
    "AssetPairs": asset_pairs,
    "Depth": depth,
    "Ticker": ticker,
}


# ---- private -------------------------------------------------------------------------------------------


def add_order(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    if f.get("validate", "").lower() == "true":
        o = sim.validate(key, f)
        return {"descr": {"order": o.describe()}}
    o = sim.place(key, f)
    return {"descr": {"order": o.describe()}, "txid": [o.txid]}


def add_order_batch(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    orders = f.get("orders")
    if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
        raise KrakenError(INVALID_ARGUMENTS)
    placed = sim.place_batch(
        key, str(f.get("pair", "")), [{k: _text(v) for k, v in o.items()} for o in orders]
    )
    out: list[dict[str, Any]] = []
    for o in placed:
        if isinstance(o, KrakenError):
            out.append({"error": o.message})
        else:
            out.append({"descr": {"order": o.describe()}, "txid": o.txid})
    return {"orders": out}


def amend_order(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    sim.amend(key, f)
    return {"amend_id": sim.amend_id()}


def cancel_order(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    ref = f.get("txid") or f.get("cl_ord_id") or f.get("userref") or ""
    if not ref:
        raise KrakenError(INVALID_ARGUMENTS)
    return {"count": sim.cancel(key, ref), "pending": False}


def cancel_all(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    return {"count": sim.cancel_all(key)}


def cancel_all_after(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    timeout = f.get("timeout", "")
    if not timeout.isdigit():
        raise KrakenError(INVALID_ARGUMENTS)
    acct, now = sim.accounts[key], sim.now_ns()
    acct.dead_man_at = now + int(timeout) * NS if int(timeout) else 0
    trigger = rfc3339(acct.dead_man_at) if acct.dead_man_at else "0"
    return {"currentTime": rfc3339(now), "triggerTime": trigger}


def _mine(sim: KrakenSimServer, key: str, f: Fields, statuses: tuple[str, ...]) -> dict[str, Any]:
    cid, userref = f.get("cl_ord_id", ""), f.get("userref", "")
    start = _seconds(f.get("start", "")) if f.get("start") else 0
    out: dict[str, Any] = {}
    for txid, o in sim.orders.items():
        if o.key != key or o.status not in statuses:
            continue
        if (cid and o.cl_ord_id != cid) or (userref and str(o.userref) != userref) or o.opentm < start:
            continue
        out[txid] = o.json()
    return out


def _seconds(text: str) -> int:
    try:
        return int(Decimal(text) * NS)
    except InvalidOperation:
        raise KrakenError(INVALID_ARGUMENTS) from None


def open_orders(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    return {"open": _mine(sim, key, f, ("pending", "open"))}


def closed_orders(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    closed = _mine(sim, key, f, ("closed", "canceled", "expired"))
    return {"closed": closed, "count": len(closed)}


def query_orders(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    txids = [t for t in f.get("txid", "").split(",") if t]
    if not txids or len(txids) > 50:
        raise KrakenError(INVALID_ARGUMENTS)
    out: dict[str, Any] = {}
    for t in txids:
        o = sim.orders.get(t)
        if o is None or o.key != key:
            raise KrakenError(UNKNOWN_ORDER)
        out[t] = o.json()
    return out


def trades_history(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    start = _seconds(f["start"]) if f.get("start") else 0
    end = _seconds(f["end"]) if f.get("end") else None
    trades = {}
    for tid, t in sim.trades.items():
        ts = int(Decimal(str(t["time"])) * NS)
        if t["key"] == key and ts >= start and (end is None or ts <= end):
            trades[tid] = {k: v for k, v in t.items() if k != "key"}
    return {"trades": trades, "count": len(trades)}


def balance(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    return {asset: f"{amount:.10f}" for asset, amount in sim.accounts[key].balances.items()}


def ws_token(sim: KrakenSimServer, key: str, f: Fields) -> Any:
    return {"token": sim.new_token(key), "expires": 900}


PRIVATE: dict[str, Callable[[KrakenSimServer, str, Fields], Any]] = {
    "AddOrder": add_order,
    "AddOrderBatch": add_order_batch,
    "AmendOrder": amend_order,
    "CancelOrder": cancel_order,
    "CancelAll": cancel_all,
    "CancelAllOrdersAfter": cancel_all_after,
    "OpenOrders": open_orders,
    "ClosedOrders": closed_orders,
    "QueryOrders": query_orders,
    "TradesHistory": trades_history,
    "Balance": balance,
    "GetWebSocketsToken": ws_token,
}

Handler = Callable[[web.Request], Awaitable[web.Response]]
