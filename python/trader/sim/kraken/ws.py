"""The Kraken simulator's WebSocket v2: public `/v2` (`book` with the CRC32 checksum over the top ten
levels on every message, `trade`, `heartbeat`, `ping`) and private `/ws-auth/v2` (`executions` with a
token from GetWebSocketsToken, order entry `add_order` / `amend_order` / `batch_add` / `cancel_order` /
`cancel_all`). Prices and quantities are JSON numbers, times RFC 3339, as Kraken sends them (kraken.md
sections 4, 5)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from trader.sim.kraken.state import INVALID_ARGUMENTS, NS, KrakenError, Order, Pair
from trader.sim.matching import Side, Trade

if TYPE_CHECKING:
    from trader.sim.kraken.server import KrakenSimServer, Market

DEPTHS = (10, 25, 100, 500, 1000)
Levels = list[tuple[int, int]]


def rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class PublicSub:
    books: dict[str, int] = field(default_factory=dict)  # v2 symbol -> depth
    views: dict[str, tuple[Levels, Levels]] = field(default_factory=dict)  # what the client was sent
    trades: set[str] = field(default_factory=set)
    quiet: bool = True  # nothing sent on the channels since the last heartbeat's turn


@dataclass
class PrivateSub:
    key: str
    sequence: int = 0


def checksum(pair: Pair, bids: Levels, asks: Levels) -> int:
    """Kraken's book checksum, written here with zlib (independent of the core's)."""

    def text(levels: Levels) -> str:
        out = ""
        for px, q in levels[:10]:
            out += pair.price_text(px).replace(".", "").lstrip("0")
            out += pair.vol_text(q).replace(".", "").lstrip("0")
        return out

    return zlib.crc32((text(asks) + text(bids)).encode()) & 0xFFFFFFFF


def _num(text: str) -> float:
    return float(Decimal(text))


def _levels(pair: Pair, levels: Levels) -> list[dict[str, float]]:
    return [{"price": _num(pair.price_text(px)), "qty": _num(pair.vol_text(q))} for px, q in levels]


def _diff(old: Levels, new: Levels) -> Levels:
    before, after = dict(old), dict(new)
    out = [(px, q) for px, q in new if before.get(px) != q]
    return out + [(px, 0) for px in before if px not in after]


def book_message(
    sim: KrakenSimServer, m: Market, sub: PublicSub, kind: str, bad: bool = False
) -> bytes | None:
    pair, depth = m.pair, sub.books[m.pair.symbol]
    bids, asks = m.engine.depth(depth)
    old_bids, old_asks = sub.views.get(pair.symbol, ([], []))
    sub.views[pair.symbol] = (bids, asks)
    if kind == "update":
        d_bids, d_asks = _diff(old_bids, bids), _diff(old_asks, asks)
        if not d_bids and not d_asks:
            return None
    else:
        d_bids, d_asks = bids, asks
    data = {
        "symbol": pair.symbol,
        "bids": _levels(pair, d_bids),
        "asks": _levels(pair, d_asks),
        "checksum": checksum(pair, bids, asks) ^ (1 if bad else 0),
        "timestamp": rfc3339(sim.now_ns()),
    }
    return orjson.dumps({"channel": "book", "type": kind, "data": [data]})


def publish_books(sim: KrakenSimServer, *, bad_checksum: bool, heartbeat: bool) -> bool:
    """Send what changed in every subscribed book; whether a wrong checksum (`bad_checksum`) went out."""
    sent_bad = False
    for ws, sub in list(sim.public.items()):
        for m in sim.markets.values():
            if m.pair.symbol in sub.books:
                kind = "update" if m.pair.symbol in sub.views else "snapshot"
                raw = book_message(sim, m, sub, kind, bad_checksum)
                if raw is not None:
                    sim.send(ws, raw)
                    sub.quiet = False
                    sent_bad = sent_bad or bad_checksum
        if heartbeat:  # ~1/s, only when the channels sent nothing meanwhile (kraken.md section 4)
            if sub.quiet and (sub.books or sub.trades):
                sim.send(ws, b'{"channel":"heartbeat"}')
            sub.quiet = True
    return sent_bad


def public_trade(sim: KrakenSimServer, m: Market, t: Trade) -> None:
    if sim.faults.stale_feed:
        return
    pair = m.pair
    data = {
        "symbol": pair.symbol,
        "side": "buy" if t.taker_side is Side.BUY else "sell",
        "price": _num(pair.price_text(t.price)),
        "qty": _num(pair.vol_text(t.qty)),
        "ord_type": "limit",
        "trade_id": m.trade_seq,
        "timestamp": rfc3339(sim.now_ns()),
    }
    raw = orjson.dumps({"channel": "trade", "type": "update", "data": [data]})
    for ws, sub in list(sim.public.items()):
        if pair.symbol in sub.trades:
            sim.send(ws, raw)
            sub.quiet = False


def _ack(method: str, req_id: Any, sim: KrakenSimServer, result: Any = None, error: str = "") -> bytes:
    now = rfc3339(sim.now_ns())
    msg: dict[str, Any] = {"method": method, "success": not error, "time_in": now, "time_out": now}
    if req_id is not None:
        msg["req_id"] = req_id
    msg.update({"error": error} if error else {"result": result})
    return orjson.dumps(msg)


def _status(sim: KrakenSimServer) -> bytes:
    data = {"api_version": "v2", "connection_id": sim.seed, "system": "online", "version": "2.0.0"}
    return orjson.dumps({"channel": "status", "type": "update", "data": [data]})


async def _messages(ws: web.WebSocketResponse) -> Any:
    async for raw in ws:
        if raw.type != WSMsgType.TEXT:
            continue
        try:
            msg = orjson.loads(raw.data)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError:
            await ws.send_bytes(orjson.dumps({"error": "Malformed request", "success": False}))
            continue
        yield msg


async def public_stream(sim: KrakenSimServer, request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    sim.sockets.add(ws)
    sub = sim.public[ws] = PublicSub()
    await ws.send_bytes(_status(sim))
    try:
        async for msg in _messages(ws):
            await _public_request(sim, ws, sub, msg)
    finally:
        sim.public.pop(ws, None)
        sim.sockets.discard(ws)
    return ws


async def _public_request(sim: KrakenSimServer, ws: web.WebSocketResponse, sub: PublicSub, msg: Any) -> None:
    method, req_id, params = msg.get("method"), msg.get("req_id"), msg.get("params") or {}
    if method == "ping":
        await ws.send_bytes(_ack("pong", req_id, sim, {}))
        return
    if method not in ("subscribe", "unsubscribe"):
        await ws.send_bytes(_ack(str(method), req_id, sim, error="Method not found"))
        return
    channel, depth = params.get("channel"), int(params.get("depth", 10))
    for symbol in params.get("symbol") or []:
        try:
            m = sim.market(str(symbol))
        except KrakenError:
            await ws.send_bytes(_ack(method, req_id, sim, error=f"Currency pair not supported {symbol}"))
            continue
        if channel not in ("book", "trade") or (channel == "book" and depth not in DEPTHS):
            await ws.send_bytes(_ack(method, req_id, sim, error="Invalid channel or depth"))
            continue
        result: dict[str, Any] = {"channel": channel, "symbol": m.pair.symbol, "snapshot": True}
        if channel == "book":
            result["depth"] = depth
        await ws.send_bytes(_ack(method, req_id, sim, result))
        if method == "unsubscribe":
            sub.books.pop(m.pair.symbol, None)
            sub.views.pop(m.pair.symbol, None)
            sub.trades.discard(m.pair.symbol)
        elif channel == "book":
            sub.books[m.pair.symbol] = depth
            sub.views.pop(m.pair.symbol, None)
            if not sim.faults.stale_feed:  # else the snapshot comes when the feed does
                raw = book_message(sim, m, sub, "snapshot")
                if raw is not None:
                    await ws.send_bytes(raw)
        else:
            sub.trades.add(m.pair.symbol)


# ---- private: executions and order entry ---------------------------------------------------------------


def execution_json(sim: KrakenSimServer, o: Order, exec_type: str, trade: Any = None) -> dict[str, Any]:
    p = o.pair
    status = {"pending_new": "pending_new", "new": "new", "trade": "partially_filled"}.get(exec_type, "")
    if exec_type == "amended":
        status = "partially_filled" if o.vol_exec else "new"
    if exec_type == "trade" and o.vol_exec >= o.vol:
        status = "filled"
    data: dict[str, Any] = {
        "order_id": o.txid,
        "symbol": p.symbol,
        "side": o.side,
        "order_type": o.ordertype,
        "order_qty": _num(p.vol_text(o.vol)),
        "time_in_force": o.tif.lower(),
        "exec_type": exec_type,
        "order_status": status or exec_type,
        "cum_qty": _num(p.vol_text(o.vol_exec)),
        "cum_cost": float(o.cost),
        "fee_usd_equiv": float(o.fee),
        "order_userref": o.userref,
        "post_only": o.post_only,
        "timestamp": rfc3339(sim.now_ns()),
    }
    if o.cl_ord_id:
        data["cl_ord_id"] = o.cl_ord_id
    if o.price is not None:
        data["limit_price"] = _num(p.price_text(o.price))
    if o.reason:
        data["reason"] = o.reason
    if trade is not None:
        tid, t, maker, fee = trade
        data.update(
            {
                "exec_id": tid,
                "trade_id": t.trade_id,
                "last_qty": _num(p.vol_text(t.qty)),
                "last_price": _num(p.price_text(t.price)),
                "liquidity_ind": "m" if maker else "t",
                "cost": float(Decimal(t.price * t.qty) * p.tick * p.lot),
                "fees": [{"asset": "USD", "qty": float(fee)}],
            }
        )
    return data


def execution(sim: KrakenSimServer, o: Order, exec_type: str, trade: Any = None) -> None:
    subs = [(ws, s) for ws, s in sim.private.items() if s.key == o.key]
    if not subs:
        return
    data = execution_json(sim, o, exec_type, trade)
    for ws, s in subs:
        s.sequence += 1
        msg = {"channel": "executions", "type": "update", "data": [data], "sequence": s.sequence}
        sim.send(ws, orjson.dumps(msg))


def _order_fields(p: dict[str, Any]) -> dict[str, str]:
    f = {
        "pair": str(p.get("symbol", "")),
        "type": str(p.get("side", "")),
        "ordertype": str(p.get("order_type", "")),
        "volume": f"{Decimal(str(p.get('order_qty', '0'))):f}",
        "timeinforce": str(p.get("time_in_force", "gtc")).upper(),
    }
    if "limit_price" in p:
        f["price"] = f"{Decimal(str(p['limit_price'])):f}"
    if p.get("post_only"):
        f["oflags"] = "post"
    if p.get("cl_ord_id"):
        f["cl_ord_id"] = str(p["cl_ord_id"])
    if p.get("expire_time"):
        when = datetime.fromisoformat(str(p["expire_time"]).replace("Z", "+00:00"))
        f["expiretm"] = str(when.timestamp())
    return f


async def private_stream(sim: KrakenSimServer, request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    sim.sockets.add(ws)
    await ws.send_bytes(_status(sim))
    try:
        async for msg in _messages(ws):
            await _private_request(sim, ws, msg)
    finally:
        sim.private.pop(ws, None)
        sim.sockets.discard(ws)
    return ws


async def _private_request(sim: KrakenSimServer, ws: web.WebSocketResponse, msg: Any) -> None:
    method, req_id, params = str(msg.get("method")), msg.get("req_id"), msg.get("params") or {}
    if method == "ping":
        await ws.send_bytes(_ack("pong", req_id, sim, {}))
        return
    key = sim.tokens.get(str(params.get("token", "")))
    if key is None:
        await ws.send_bytes(_ack(method, req_id, sim, error="EAccount:Invalid permissions"))
        return
    try:
        result = _trade_method(sim, ws, key, method, params)
    except KrakenError as e:
        await ws.send_bytes(_ack(method, req_id, sim, error=e.message))
        return
    except (ValueError, ArithmeticError):
        await ws.send_bytes(_ack(method, req_id, sim, error=INVALID_ARGUMENTS))
        return
    await ws.send_bytes(_ack(method, req_id, sim, result))
    if method == "subscribe" and params.get("snap_orders", True):
        open_orders = [o for o in sim.orders.values() if o.key == key and o.status == "open"]
        data = [execution_json(sim, o, "new") for o in open_orders]
        sub = sim.private[ws]
        sub.sequence += 1
        snap = {"channel": "executions", "type": "snapshot", "data": data, "sequence": sub.sequence}
        await ws.send_bytes(orjson.dumps(snap))


def _trade_method(sim: KrakenSimServer, ws: web.WebSocketResponse, key: str, method: str, p: Any) -> Any:
    if method == "subscribe":
        if p.get("channel") != "executions":
            raise KrakenError("Channel not supported")
        sim.private[ws] = PrivateSub(key)
        return {"channel": "executions", "snapshot": bool(p.get("snap_orders", True))}
    if method == "add_order":
        o = sim.place(key, _order_fields(p))
        return {"order_id": o.txid, **({"cl_ord_id": o.cl_ord_id} if o.cl_ord_id else {})}
    if method == "batch_add":
        placed = sim.place_batch(
            key, str(p.get("symbol", "")), [_order_fields(o) for o in p.get("orders") or []]
        )
        return [
            {"error": o.message}
            if isinstance(o, KrakenError)
            else {"order_id": o.txid, "cl_ord_id": o.cl_ord_id}
            for o in placed
        ]
    if method == "amend_order":
        fields = {k: str(p[k]) for k in ("order_id", "cl_ord_id") if p.get(k)}
        fields |= {k: f"{Decimal(str(p[k])):f}" for k in ("order_qty", "limit_price") if k in p}
        o = sim.amend(key, fields)
        return {
            "amend_id": sim.amend_id(),
            "order_id": o.txid,
            **({"cl_ord_id": o.cl_ord_id} if o.cl_ord_id else {}),
        }
    if method == "cancel_order":
        refs = [*(p.get("order_id") or []), *(p.get("cl_ord_id") or [])]
        if not refs:
            raise KrakenError(INVALID_ARGUMENTS)
        for ref in refs:
            sim.cancel(key, str(ref))
        return {"order_id": str(refs[0])}
    if method == "cancel_all":
        return {"count": sim.cancel_all(key)}
    raise KrakenError("Method not found")
