"""The Alpaca simulator's WebSocket streams: `/stream` (trade_updates; JSON in binary frames, or msgpack
when the upgrade asks for it) and the stock data stream `/v2/iex`, `/v2/sip` (auth, subscribe /
unsubscribe, quotes `q` and trades `t`; msgpack with Timestamp exts, or JSON text with RFC 3339 times)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from trader.sim import auth as sim_auth
from trader.sim.alpaca.market_hours import rfc3339
from trader.sim.alpaca.msgpack import MsgpackTimestamp, packb, unpackb
from trader.sim.alpaca.state import CHANNELS, Book, DataSub, Order, order_json

if TYPE_CHECKING:
    from trader.sim.alpaca.server import AlpacaSimServer

AUTH_TIMEOUT_S = 10.0


def trade_event(sim: AlpacaSimServer, o: Order, event: str, *, ts: int | None = None, **extra: str) -> None:
    subs = [(ws, binary) for ws, (key, binary) in sim.trade_subs.items() if key == o.key]
    if not subs:
        return
    data: dict[str, Any] = {"event": event}
    if "execution_id" in extra:
        data["execution_id"] = extra.pop("execution_id")
    data.update({"order": order_json(o), "timestamp": rfc3339(ts or sim.now_ns()), **extra})
    msg = {"stream": "trade_updates", "data": data}
    raw_json, raw_pack = orjson.dumps(msg), None
    for ws, binary in subs:
        if binary:
            raw_pack = raw_pack or packb(msg)
        sim.send(ws, raw_pack if binary and raw_pack else raw_json)


async def trade_stream(sim: AlpacaSimServer, request: web.Request) -> web.WebSocketResponse:
    binary = request.headers.get("Content-Type", "").startswith("application/msgpack")
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    sim.sockets.add(ws)
    key: str | None = None

    async def reply(msg: dict[str, Any]) -> None:
        await ws.send_bytes(packb(msg) if binary else orjson.dumps(msg))

    try:
        async for m in ws:
            if m.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            try:
                raw = m.data.encode() if isinstance(m.data, str) else m.data
                msg = unpackb(raw) if binary and m.type == WSMsgType.BINARY else orjson.loads(raw)
                action = msg["action"]
                data = msg.get("data") or {}
            except (ValueError, KeyError, TypeError, AttributeError):
                await reply({"stream": "error", "data": {"error_message": "invalid syntax"}})
                continue
            if action in ("authenticate", "auth"):
                k = data.get("key_id", msg.get("key", ""))
                secret = data.get("secret_key", msg.get("secret", ""))
                account = sim.accounts.get(str(k))
                ok = account is not None and sim_auth.same_secret(account.secret, str(secret))
                status = "authorized" if ok else "unauthorized"
                auth: dict[str, Any] = {"status": status, "action": "authenticate"}
                if not ok:
                    auth["message"] = "access key verification failed"
                await reply({"stream": "authorization", "data": auth})
                if not ok:
                    break
                key = str(k)
            elif action == "listen":
                if key is None:
                    await reply(
                        {
                            "stream": "authorization",
                            "data": {"status": "unauthorized", "action": "listen"},
                        }
                    )
                    break
                streams = [s for s in data.get("streams", []) if s == "trade_updates"]
                if streams:
                    sim.trade_subs[ws] = (key, binary)
                else:
                    sim.trade_subs.pop(ws, None)
                await reply({"stream": "listening", "data": {"streams": streams}})
            else:
                await reply({"stream": "error", "data": {"error_message": f"unknown action {action}"}})
    finally:
        sim.trade_subs.pop(ws, None)
        sim.sockets.discard(ws)
        await ws.close()
    return ws


# ---- market data stream ------------------------------------------------------------------------


def _send(sim: AlpacaSimServer, ws: web.WebSocketResponse, payload: bytes, *, text: bool) -> None:
    """The data stream's JSON mode sends text frames (msgpack ones are binary)."""
    if not text:
        sim.send(ws, payload)
        return
    if ws.closed:
        return
    task = asyncio.get_running_loop().create_task(ws.send_str(payload.decode()))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _stamp(ns: int, binary: bool) -> Any:
    return MsgpackTimestamp(ns) if binary else rfc3339(ns)


def _exchange(feed: str, book: Book) -> str:
    return "V" if feed == "iex" else {"ARCA": "P", "NASDAQ": "Q"}.get(book.listing.exchange, "V")


def publish_quote(sim: AlpacaSimServer, book: Book, now: int) -> None:
    bid, bid_qty, ask, ask_qty = book.top
    s = book.listing.symbol
    for ws, sub in list(sim.data_subs.items()):
        if sub.wants("quotes", s):
            x = _exchange(sub.feed, book)
            q = {
                "T": "q", "S": s, "bx": x, "bp": bid / 100, "bs": bid_qty, "ax": x, "ap": ask / 100,
                "as": ask_qty, "c": ["R"], "z": book.listing.tape, "t": _stamp(now, sub.binary),
            }  # fmt: skip
            _send(sim, ws, packb([q]) if sub.binary else orjson.dumps([q]), text=not sub.binary)


def publish_trade(sim: AlpacaSimServer, book: Book, price: int, qty: int, now: int) -> None:
    if sim.faults.stale_feed:
        return
    s = book.listing.symbol
    trade_id = next(book.trade_ids)
    for ws, sub in list(sim.data_subs.items()):
        if sub.wants("trades", s):
            t = {
                "T": "t", "S": s, "i": trade_id, "x": _exchange(sub.feed, book), "p": price / 100,
                "s": qty, "c": ["@"], "z": book.listing.tape, "t": _stamp(now, sub.binary),
            }  # fmt: skip
            _send(sim, ws, packb([t]) if sub.binary else orjson.dumps([t]), text=not sub.binary)


def _subscription(sub: DataSub) -> dict[str, Any]:
    out: dict[str, Any] = {"T": "subscription"}
    for c in CHANNELS:
        out[c] = sorted(sub.subs[c])
    out["corrections"] = sorted(sub.subs["trades"])
    out["cancelErrors"] = sorted(sub.subs["trades"])
    return out


class _DataSession:
    """One data-stream connection: its feed, its encoding and (once authenticated) its subscription."""

    def __init__(self, sim: AlpacaSimServer, ws: web.WebSocketResponse, feed: str, binary: bool) -> None:
        self.sim, self.ws, self.feed, self.binary = sim, ws, feed, binary
        self.sub: DataSub | None = None

    async def reply(self, *msgs: dict[str, Any]) -> None:
        if self.binary:
            await self.ws.send_bytes(packb(list(msgs)))
        else:
            await self.ws.send_str(orjson.dumps(list(msgs)).decode())

    async def handle(self, msg: dict[str, Any]) -> bool:
        """One client message; False when the connection is to be closed."""
        action = msg["action"]
        if action == "auth":
            return await self.auth(msg)
        if action in ("subscribe", "unsubscribe"):
            await self.subscribe(msg, add=action == "subscribe")
        else:
            await self.reply({"T": "error", "code": 400, "msg": "invalid syntax"})
        return True

    async def auth(self, msg: dict[str, Any]) -> bool:
        sim = self.sim
        if self.sub is not None:
            await self.reply({"T": "error", "code": 403, "msg": "already authenticated"})
            return True
        key, secret = str(msg.get("key", "")), str(msg.get("secret", ""))
        account = sim.accounts.get(key)
        if account is None or not sim_auth.same_secret(account.secret, secret):
            await self.reply({"T": "error", "code": 402, "msg": "auth failed"})
            return False
        same = sum(1 for s in sim.data_subs.values() if s.key == key and s.feed == self.feed)
        if same >= sim.data_connections:
            await self.reply({"T": "error", "code": 406, "msg": "connection limit exceeded"})
            return False
        self.sub = DataSub(key, self.feed, self.binary)
        sim.data_subs[self.ws] = self.sub
        await self.reply({"T": "success", "msg": "authenticated"})
        return True

    async def subscribe(self, msg: dict[str, Any], *, add: bool) -> None:
        if self.sub is None:
            await self.reply({"T": "error", "code": 401, "msg": "not authenticated"})
            return
        lists = {c: msg.get(c) or [] for c in CHANNELS}
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists.values()):
            await self.reply({"T": "error", "code": 400, "msg": "invalid syntax"})
            return
        for c, symbols in lists.items():
            if add:
                self.sub.subs[c].update(symbols)
            else:
                self.sub.subs[c].difference_update(symbols)
        await self.reply(_subscription(self.sub))

    async def run(self) -> None:
        await self.reply({"T": "success", "msg": "connected"})
        while True:
            try:
                m = await self.sim.clock.wait_for(self.ws.receive(), None if self.sub else AUTH_TIMEOUT_S)
            except TimeoutError:
                await self.reply({"T": "error", "code": 404, "msg": "auth timeout"})
                return
            if m.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return
            try:
                raw = m.data.encode() if isinstance(m.data, str) else m.data
                msg = unpackb(raw) if m.type == WSMsgType.BINARY else orjson.loads(raw)
                msg["action"]
            except (ValueError, KeyError, TypeError):
                await self.reply({"T": "error", "code": 400, "msg": "invalid syntax"})
                continue
            if not await self.handle(msg):
                return


async def data_stream(sim: AlpacaSimServer, request: web.Request) -> web.StreamResponse:
    feed = request.match_info["feed"]
    if feed not in ("iex", "sip"):
        raise web.HTTPNotFound()
    binary = request.headers.get("Content-Type", "").startswith("application/msgpack")
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    sim.sockets.add(ws)
    try:
        await _DataSession(sim, ws, feed, binary).run()
    finally:
        sim.data_subs.pop(ws, None)
        sim.sockets.discard(ws)
        await ws.close()
    return ws
