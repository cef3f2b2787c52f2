"""The Polymarket simulator's WebSocket channels: market (`book`, `price_change`, `last_trade_price`,
`tick_size_change`, `market_resolved`) and user (`order`, `trade`)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from typing import TYPE_CHECKING

import orjson
from aiohttp import WSMsgType, web

from trader.sim.polymarket import rest
from trader.sim.polymarket.state import SCALE, UNIT, Fill, Market, Order, _flip, _yes_side, fmt

if TYPE_CHECKING:
    from trader.sim.polymarket.server import PolymarketSimServer


def market_queues(
    srv: PolymarketSimServer, assets: set[str], custom: bool = False
) -> list[asyncio.Queue[str]]:
    if srv.faults.stale_feed:
        return []
    return [q for subs, c, q in srv._market_subs.values() if subs & assets and (c or not custom)]


def _publish_trades(srv: PolymarketSimServer, m: Market, fills: list[Fill], now: str) -> None:
    """After trades: both tokens' `book`, then a `last_trade_price` per fill and token."""
    for t in (m.yes, m.no):
        b = rest.book(srv, m, t)
        event = {"event_type": "book", **{k: b[k] for k in ("asset_id", "market", "bids", "asks")}}
        event.update(timestamp=b["timestamp"], hash=b["hash"])
        for q in market_queues(srv, {t}):
            q.put_nowait(orjson.dumps(event).decode())
    for f in fills:
        for t in (m.yes, m.no):
            event = {
                "event_type": "last_trade_price",
                "asset_id": t,
                "market": m.condition_id,
                "price": fmt(f.yes_price if t == m.yes else SCALE - f.yes_price, SCALE),
                "size": fmt(f.size, UNIT),
                "side": _yes_side(f) if t == m.yes else _flip(_yes_side(f)),
                "fee_rate_bps": "0",
                "timestamp": now,
                "transaction_hash": f.tx,
            }
            for q in market_queues(srv, {t}):
                q.put_nowait(orjson.dumps(event).decode())


Levels = dict[int, int]


def _price_changes(
    srv: PolymarketSimServer, m: Market, new: tuple[Levels, Levels], old: tuple[Levels, Levels]
) -> list[dict[str, str]]:
    """The `price_changes` entries between two YES books, for both tokens (a YES bid at p is a NO ask at
    1 - p), each with the token's book hash and best prices after the change."""
    changes: list[dict[str, str]] = []
    hashes = {t: rest.book(srv, m, t)["hash"] for t in (m.yes, m.no)}
    tops = {t: rest.levels(srv, m, t) for t in (m.yes, m.no)}
    for yes_side, now_levels, was in (("BUY", new[0], old[0]), ("SELL", new[1], old[1])):
        no_side = _flip(yes_side)
        for p in sorted(set(now_levels) | set(was)):
            if now_levels.get(p, 0) == was.get(p, 0):
                continue
            for t, price, side in ((m.yes, p, yes_side), (m.no, SCALE - p, no_side)):
                tb, ta = tops[t]
                changes.append(
                    {
                        "asset_id": t,
                        "price": fmt(price, SCALE),
                        "size": fmt(now_levels.get(p, 0), UNIT),
                        "side": side,
                        "hash": hashes[t],
                        "best_bid": fmt(max(tb), SCALE) if tb else "0",
                        "best_ask": fmt(min(ta), SCALE) if ta else "1",
                    }
                )
    return changes


def publish_market(srv: PolymarketSimServer, m: Market, fills: list[Fill] | None = None) -> None:
    """Tell the market channel what changed in `m`: after trades, books and prints; else the changed
    levels as `price_change`."""
    now = str(srv.now_ms())
    new = rest.levels(srv, m, m.yes)
    old, m.published = m.published, new
    subscribed = {t for subs, _, _ in srv._market_subs.values() for t in subs}
    if not subscribed & {m.yes, m.no} or srv.faults.stale_feed:
        return
    if fills:
        _publish_trades(srv, m, fills, now)
        return
    changes = _price_changes(srv, m, new, old)
    if not changes:
        return
    for subs, _, q in srv._market_subs.values():
        mine = [c for c in changes if c["asset_id"] in subs]
        if mine:
            event = {"event_type": "price_change", "market": m.condition_id, "price_changes": mine}
            q.put_nowait(orjson.dumps({**event, "timestamp": now}).decode())


async def serve(srv: PolymarketSimServer, ws: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
    """Write a socket's outbox in order until it closes."""
    while True:
        text = await queue.get()
        if ws.closed:
            return
        await ws.send_str(text)


async def market_ws(srv: PolymarketSimServer, request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    srv.sockets.add(ws)
    queue: asyncio.Queue[str] = asyncio.Queue()
    writer = asyncio.get_running_loop().create_task(serve(srv, ws, queue))
    assets: set[str] = set()
    custom = False
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if msg.data.strip() == "PING":
                queue.put_nowait("PONG")
                continue
            try:
                req = orjson.loads(msg.data)
                ids = [str(a) for a in req.get("assets_ids", [])]
            except (orjson.JSONDecodeError, AttributeError, TypeError):
                queue.put_nowait("INVALID OPERATION")
                continue
            if req.get("operation") == "unsubscribe":
                assets.difference_update(ids)
                continue
            new = [a for a in ids if a in srv.tokens and a not in assets]
            assets.update(a for a in ids if a in srv.tokens)
            custom = bool(req.get("custom_feature_enabled", custom))
            srv._market_subs[ws] = (assets, custom, queue)
            if new and not srv.faults.stale_feed:
                snapshot = []
                for a in new:
                    b = rest.book(srv, srv.tokens[a], a)
                    event = {
                        "event_type": "book",
                        **{k: b[k] for k in ("asset_id", "market", "bids", "asks")},
                    }
                    snapshot.append({**event, "timestamp": b["timestamp"], "hash": b["hash"]})
                queue.put_nowait(orjson.dumps(snapshot).decode())
    finally:
        srv._market_subs.pop(ws, None)
        srv.sockets.discard(ws)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


def user_queues(srv: PolymarketSimServer, key: str, market: str) -> list[asyncio.Queue[str]]:
    return [q for k, ms, q in srv._user_subs.values() if k == key and (not ms or market in ms)]


def user_order(srv: PolymarketSimServer, o: Order, kind: str) -> None:
    queues = user_queues(srv, o.key, o.market.condition_id)
    if not queues:
        return
    event = {
        "event_type": "order",
        "type": kind,
        **rest.order_json(srv, o),
        "order_owner": o.key,
        "timestamp": str(srv.now_ms()),
    }
    for q in queues:
        q.put_nowait(orjson.dumps(event).decode())


def user_trade(srv: PolymarketSimServer, f: Fill) -> None:
    for key in dict.fromkeys((f.taker.key, f.maker.key)):
        queues = user_queues(srv, key, f.market.condition_id)
        for status in ("MATCHED", "CONFIRMED"):
            event = {
                "event_type": "trade",
                "type": "TRADE",
                **rest.trade_json(srv, f, key),
                "status": status,
                "trade_owner": key,
                "timestamp": str(srv.now_ms()),
            }
            for q in queues:
                q.put_nowait(orjson.dumps(event).decode())


async def user_ws(srv: PolymarketSimServer, request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    srv.sockets.add(ws)
    queue: asyncio.Queue[str] = asyncio.Queue()
    writer = asyncio.get_running_loop().create_task(serve(srv, ws, queue))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            if msg.data.strip() == "PING":
                queue.put_nowait("PONG")
                continue
            try:
                req = orjson.loads(msg.data)
                auth = req.get("auth") or {}
                key = srv.keys.get(str(auth.get("apiKey", "")))
                markets = {str(m) for m in req.get("markets") or []}
            except (orjson.JSONDecodeError, AttributeError, TypeError):
                key, markets = None, set()
            if (
                key is None
                or not hmac.compare_digest(str(auth.get("secret", "")), key.secret)
                or not hmac.compare_digest(str(auth.get("passphrase", "")), key.passphrase)
            ):
                await ws.close(code=4001, message=b"Unauthorized")  # no outbox write after this
                break
            srv._user_subs[ws] = (key.key, markets, queue)
    finally:
        srv._user_subs.pop(ws, None)
        srv.sockets.discard(ws)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws
