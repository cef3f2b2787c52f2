"""OKX's WebSocket streams: the public `books` (sequence-checked by `seqId`/`prevSeqId`: a gap invalidates
the book and resubscribes for a new snapshot) and `trades`; the private `orders`, `positions` and `account`
channels after a login signed by the core's `OkxSigner`."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import Book, InstrumentSpec, Side
from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import BookInvalid, BookUpdate, Stream
from trader.venues.okx import parse

if TYPE_CHECKING:
    from trader.venues.okx.connector import OkxConnector

log = logging.getLogger("trader.venues.okx")

WS_ORDER_OPS = (
    "order",
    "batch-orders",
    "cancel-order",
    "amend-order",
    "batch-amend-orders",
    "batch-cancel-orders",
)


class SeqBook:
    """One instrument's book from `books` pushes on the core's ladder (`trader.core.Book`, integer units);
    `seq` is the last applied `seqId` (OKX's chain: each update's `prevSeqId` equals it)."""

    def __init__(self) -> None:
        self.book: Book | None = None
        self.seq: int | None = None  # None: no valid snapshot (waiting for one)

    def reset(self) -> None:
        self.seq = None
        if self.book is not None:
            self.book.begin_resync()

    def apply(self, action: str, d: dict[str, Any], spec: InstrumentSpec, ct: Decimal = parse.ONE) -> bool:
        """Apply one push; False on a sequence gap (the book is then invalid until a new snapshot)."""
        prev, seq = int(d.get("prevSeqId", -1)), int(d["seqId"])
        bids, asks = parse.levels(d.get("bids", []), spec, ct), parse.levels(d.get("asks", []), spec, ct)
        if action == "snapshot":
            if self.book is None or self.book.spec != spec:
                self.book = Book(spec)
            self.book.apply_snapshot([lv for lv in bids if lv[1]], [lv for lv in asks if lv[1]], max(seq, 0))
            self.seq = seq
            return True
        if self.seq is None or self.book is None:
            return True  # an update before the snapshot: ignored until the snapshot arrives
        if prev != self.seq:
            self.book.mark_invalid(self.seq, prev)
            self.seq = None
            return False
        for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
            for price, qty in levels:
                self.book.set_level(side, price, qty)
        self.seq = seq
        return True

    def top(self, instrument: str, ts_event: int, ts_recv: int) -> BookUpdate:
        bid = self.book.best_bid() if self.book is not None and self.seq is not None else None
        ask = self.book.best_ask() if self.book is not None and self.seq is not None else None
        return BookUpdate(
            instrument,
            bid[0] if bid else None,
            bid[1] if bid else 0,
            ask[0] if ask else None,
            ask[1] if ask else 0,
            ts_event,
            ts_recv,
        )


class PublicStream:
    def __init__(self, conn: OkxConnector, ws: WsClient) -> None:
        self.c, self.ws = conn, ws
        self.book = SeqBook()
        self.snapshots = 0

    @staticmethod
    async def subscribe(conn: OkxConnector, ws: WsClient) -> None:
        args = [{"channel": "books", "instId": conn.inst_id}, {"channel": "trades", "instId": conn.inst_id}]
        await ws.send(orjson.dumps({"op": "subscribe", "args": args}))

    async def run(self) -> None:
        c = self.c
        async for ev in self.ws.events():
            if isinstance(ev, WsConnected):
                self.book.reset()
            elif isinstance(ev, WsMessage):
                if ev.data != b"pong":
                    await self._message(orjson.loads(ev.data), ev.ts_recv)
            elif isinstance(ev, WsDisconnected | WsStale):
                self.book.reset()
                c.health.down(Stream.MARKET, lost(ev))
                c.queue.put_nowait(BookInvalid(c.symbol, lost(ev), ts_recv=c.clock.now_ns()))

    async def _message(self, msg: dict[str, Any], ts_recv: int) -> None:
        c = self.c
        if "event" in msg:
            if msg["event"] == "error":
                log.warning("%s: public stream error %s %s", c.venue, msg.get("code"), msg.get("msg"))
            return
        channel = msg.get("arg", {}).get("channel")
        if channel == "trades":
            for t in msg.get("data", []):
                c.queue.put_nowait(parse.trade_tick(t, c.spec, ts_recv, c.ct, name=c.symbol))
        elif channel == "books":
            for d in msg.get("data", []):
                await self._book(str(msg.get("action", "update")), d, ts_recv)

    async def _book(self, action: str, d: dict[str, Any], ts_recv: int) -> None:
        c = self.c
        if not self.book.apply(action, d, c.spec, c.ct):
            c.queue.put_nowait(BookInvalid(c.symbol, "sequence gap", ts_recv=ts_recv))
            args = [{"channel": "books", "instId": c.inst_id}]
            try:  # resync: a fresh subscription starts with a snapshot
                await self.ws.send(orjson.dumps({"op": "unsubscribe", "args": args}))
                await self.ws.send(orjson.dumps({"op": "subscribe", "args": args}))
            except VenueError:
                pass  # the connection is gone: the reconnect resubscribes
            return
        if self.book.seq is None:
            return
        if action == "snapshot":
            self.snapshots += 1
            c.health.up(Stream.MARKET)
        c.queue.put_nowait(self.book.top(c.symbol, parse._ms(d.get("ts")), ts_recv))


class PrivateStream:
    """Login, then the `orders` channel; after a reconnect, a REST catch-up before `up`."""

    def __init__(self, conn: OkxConnector, ws: WsClient) -> None:
        self.c, self.ws = conn, ws

    @staticmethod
    async def login(conn: OkxConnector, ws: WsClient) -> None:
        key, passphrase, ts, sign = conn.signer.ws_login(conn.venue_now_ms() // 1000)
        args = [{"apiKey": key, "passphrase": passphrase, "timestamp": ts, "sign": sign}]
        await ws.send(orjson.dumps({"op": "login", "args": args}))

    async def run(self) -> None:
        c = self.c
        async for ev in self.ws.events():
            if isinstance(ev, WsMessage):
                if ev.data != b"pong":
                    await self._message(orjson.loads(ev.data), ev.ts_recv)
            elif isinstance(ev, WsDisconnected | WsStale):
                c.health.down(Stream.PRIVATE, lost(ev))

    async def _message(self, msg: dict[str, Any], ts_recv: int) -> None:
        c = self.c
        event = msg.get("event")
        channel = msg.get("arg", {}).get("channel")
        if msg.get("op") in WS_ORDER_OPS:
            c.ws_answer(msg)
        elif event == "login" and str(msg.get("code")) == "0":
            args = [
                {"channel": "orders", "instType": "ANY"},
                {"channel": "positions", "instType": c.inst_type},
                {"channel": "account"},
            ]
            await self.ws.send(orjson.dumps({"op": "subscribe", "args": args}))
        elif event == "subscribe":
            if channel == "orders":
                await c.private_ready()
        elif event == "error":
            log.warning("%s: private stream error %s %s", c.venue, msg.get("code"), msg.get("msg"))
        elif channel == "orders":
            for o in msg.get("data", []):
                if o.get("instId") == c.inst_id:
                    c.on_order(o, ts_recv)
        elif channel == "positions":
            c.account.on_positions(c, msg)
        elif channel == "account":
            c.account.on_account(c, msg)
