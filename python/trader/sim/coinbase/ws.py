"""The Coinbase simulator's WebSocket (`/ws/market` and `/ws/user`, each serving every channel as the real
hosts do): `subscribe` / `unsubscribe` one channel per message, a fresh JWT in each (required for `user`,
checked when present elsewhere); every message in the envelope `{channel, client_id, timestamp,
sequence_num, events}` with `sequence_num` counting the connection's messages. Channels: `level2` (sent as
`l2_data`: a snapshot, then updates of absolute level sizes), `market_trades` (side = the maker's side),
`heartbeats` (each second), `user` (a snapshot of open orders, then order updates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from trader.sim.coinbase.state import ApiError, Order, go_time, rfc3339, user_order_json, verify_jwt

if TYPE_CHECKING:
    from trader.sim.coinbase.server import CoinbaseSimServer

CHANNELS = ("level2", "market_trades", "heartbeats", "user", "ticker", "status")
DEPTH = 50
SNAPSHOT_BATCH = 50  # open orders per user snapshot message
NO_POSITIONS: dict[str, list[Any]] = {"perpetual_futures_positions": [], "expiring_futures_positions": []}


@dataclass
class Conn:
    seq: int = 0
    key: str = ""  # the key name its user subscription was authenticated with
    subs: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CHANNELS})


def send(server: CoinbaseSimServer, ws: web.WebSocketResponse, channel: str, events: list[Any]) -> None:
    conn = server.ws_conns.get(ws)
    if conn is None:
        return
    if channel == "l2_data" and server.faults.sequence_gap:
        server.faults.sequence_gap = False
        conn.seq += 1  # one message lost on the way
    msg = {
        "channel": channel,
        "client_id": "",
        "timestamp": rfc3339(server.clock.now_ns()),
        "sequence_num": conn.seq,
        "events": events,
    }
    conn.seq += 1
    server.send(ws, orjson.dumps(msg))


def _error(server: CoinbaseSimServer, ws: web.WebSocketResponse, message: str) -> None:
    server.send(ws, orjson.dumps({"type": "error", "message": message}))


def snapshot(server: CoinbaseSimServer, ws: web.WebSocketResponse, product_id: str) -> None:
    book = server.books[product_id]
    bids, asks = book.engine.depth(DEPTH)
    now = rfc3339(server.clock.now_ns())
    p = book.product
    updates = [
        {"side": side, "event_time": now, "price_level": p.price(px), "new_quantity": p.size(q)}
        for side, levels in (("bid", bids), ("offer", asks))
        for px, q in levels
    ]
    server.snapshots += 1
    send(server, ws, "l2_data", [{"type": "snapshot", "product_id": product_id, "updates": updates}])


def _subscribe(server: CoinbaseSimServer, ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
    conn = server.ws_conns[ws]
    channel, products = str(msg.get("channel", "")), [str(p) for p in msg.get("product_ids") or []]
    if channel not in CHANNELS:
        _error(server, ws, f"Failed to subscribe: unknown channel {channel!r}")
        return
    token = msg.get("jwt")
    try:
        if token:
            conn.key = verify_jwt(
                str(token), server.public_keys, server.clock.now_ns() // 1_000_000_000, None
            )
        elif channel == "user":
            raise ApiError(401, "UNAUTHENTICATED", "authentication failure")
    except ApiError:
        _error(server, ws, "authentication failure")
        return
    unknown = [p for p in products if p not in server.books]
    if unknown:
        _error(server, ws, f"Failed to subscribe: unknown product {unknown[0]}")
        return
    if msg.get("type") == "unsubscribe":
        conn.subs[channel] -= set(products) if products else conn.subs[channel]
    else:
        conn.subs[channel] |= set(products) or ({"*"} if channel in ("heartbeats", "user") else set())
    subs = {c: sorted(s) for c, s in conn.subs.items() if s}
    send(server, ws, "subscriptions", [{"subscriptions": subs}])
    if msg.get("type") == "unsubscribe":
        return
    if channel == "level2":
        for p in products:
            snapshot(server, ws, p)
    elif channel == "user":  # the open orders in batches of 50 (the last one shorter, maybe empty)
        orders = [user_order_json(o) for o in server.open_orders(conn.key, products)]
        for i in range(0, len(orders) + 1, SNAPSHOT_BATCH):
            batch = orders[i : i + SNAPSHOT_BATCH]
            send(server, ws, "user", [{"type": "snapshot", "orders": batch, "positions": NO_POSITIONS}])


async def stream(server: CoinbaseSimServer, request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    server.sockets.add(ws)
    server.ws_conns[ws] = Conn()
    try:
        async for raw in ws:
            if raw.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            try:
                msg = orjson.loads(raw.data)
                if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
                    raise ValueError("not a subscribe or unsubscribe")
            except (orjson.JSONDecodeError, ValueError):
                _error(server, ws, "Malformed message")
                continue
            _subscribe(server, ws, msg)
    finally:
        server.sockets.discard(ws)
        server.ws_conns.pop(ws, None)
    return ws


def wants(conn: Conn, channel: str, product_id: str) -> bool:
    s = conn.subs[channel]
    return product_id in s or "*" in s


def publish_order(server: CoinbaseSimServer, o: Order) -> None:
    for ws, conn in list(server.ws_conns.items()):
        if conn.key == o.key and wants(conn, "user", o.product.product_id):
            send(server, ws, "user", [{"type": "update", "orders": [user_order_json(o)]}])


def publish_level2(server: CoinbaseSimServer, product_id: str, updates: list[dict[str, str]]) -> None:
    if not updates:
        return
    for ws, conn in list(server.ws_conns.items()):
        if wants(conn, "level2", product_id):
            send(server, ws, "l2_data", [{"type": "update", "product_id": product_id, "updates": updates}])


def publish_trades(server: CoinbaseSimServer, product_id: str, trades: list[dict[str, str]]) -> None:
    if not trades:
        return
    for ws, conn in list(server.ws_conns.items()):
        if wants(conn, "market_trades", product_id):
            send(server, ws, "market_trades", [{"type": "update", "trades": trades}])


def publish_heartbeat(server: CoinbaseSimServer, counter: int) -> None:
    now = server.clock.now_ns()
    beat = {"current_time": go_time(now, counter * 1_000_000_000), "heartbeat_counter": counter}
    for ws, conn in list(server.ws_conns.items()):
        if conn.subs["heartbeats"]:
            send(server, ws, "heartbeats", [beat])
