"""OKX's WebSocket streams: the public `books` (sequence-checked by `seqId`/`prevSeqId`: a gap invalidates
the book and resubscribes for a new snapshot) and `trades`; the private `orders`, `positions` and `account`
channels after a login signed by the core's `OkxSigner`."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import Book, InstrumentSpec, ParseError
from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import BookInvalid, BookUpdate, Stream
from trader.venues.okx import parse

if TYPE_CHECKING:
    from trader.venues.okx.connector import OkxConnector

log = logging.getLogger("trader.venues.okx")

INVALIDATES = {"gap": "sequence gap", "checksum": "checksum mismatch", "malformed": "malformed books push"}
WS_ORDER_OPS = (
    "order",
    "batch-orders",
    "cancel-order",
    "amend-order",
    "batch-amend-orders",
    "batch-cancel-orders",
)
MALFORMED = (ValueError, KeyError, TypeError, AttributeError, ArithmeticError)  # a push we cannot read


class SeqBook:
    """One instrument's book from `books` pushes on the core's ladder (`trader.core.Book`, integer units),
    parsed from the raw bytes by the core (`Book.apply_okx_books`), which checks both of OKX's rules: each
    update's `prevSeqId` equals the last `seqId`, and a non-zero `checksum` (CRC32 over the top 25 levels;
    OKX sends 0 since it deprecated the field in 2026) matches the book after it. `seq` is the last applied
    `seqId`, None while there is no valid book (before the snapshot, after a gap or a checksum mismatch)."""

    def __init__(self) -> None:
        self.book: Book | None = None
        self.wire: InstrumentSpec | None = None  # the wire's size unit when it differs (swap contracts)
        self.seq: int | None = None
        self.ts_ms = 0  # the last push's `ts`
        self._key: tuple[InstrumentSpec, Decimal] | None = None

    def configure(self, spec: InstrumentSpec, ct: Decimal = parse.ONE) -> None:
        """Book in `spec`'s units; wire sizes are `ct` base each (SWAP contracts)."""
        if self._key is not None and self._key == (spec, ct):
            return
        self._key = (spec, ct)
        self.book, self.seq = Book(spec), None
        wire_lot = Decimal(spec.qty_unit) / ct
        self.wire = (
            None if ct == parse.ONE else InstrumentSpec(spec.price_unit, format(wire_lot.normalize(), "f"))
        )

    def reset(self) -> None:
        self.seq = None
        if self.book is not None:
            self.book.begin_resync()

    def apply_raw(self, raw: bytes, inst_id: str) -> str | None:
        """A raw push: the core's verdict ("snapshot", "update", "waiting", "gap", "checksum"), or None when
        it is not `inst_id`'s books. Raises `ParseError` (nothing applied) when malformed."""
        if self.book is None:
            raise ValueError("configure the book first")
        r = self.book.apply_okx_books(raw, inst_id, self.wire)
        if r is None:
            return None
        verdict, seq, self.ts_ms = r
        if verdict in ("snapshot", "update"):
            self.seq = seq
        elif verdict != "waiting":
            self.seq = None
        return verdict

    def apply(self, action: str, d: dict[str, Any], spec: InstrumentSpec, ct: Decimal = parse.ONE) -> bool:
        """One push's data object (decoded): False on a sequence gap or a checksum mismatch (the book is
        then invalid until a new snapshot)."""
        self.configure(spec, ct)
        msg = {"arg": {"channel": "books", "instId": "-"}, "action": action, "data": [d]}
        return self.apply_raw(orjson.dumps(msg), "-") not in ("gap", "checksum")

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
    """`books` and `trades`, handled as they are read: `on_message` is the transport's handler, called in the
    read that brought a frame when the engine waits for events (parsed, applied to the book and handed to
    the engine with no trip through the event loop), else by the reader, in order. It takes every message
    and never raises for what the venue sent: a malformed push is logged and skipped (a malformed books
    push also invalidates the book). The resubscription after a gap, a checksum mismatch or a malformed
    books push is a task started from the handler; `run` follows the connection's life."""

    def __init__(self, conn: OkxConnector, ws: WsClient) -> None:
        self.c, self.ws = conn, ws
        self.book = SeqBook()
        self.book.configure(conn.spec, conn.ct)  # the instrument is loaded before the streams start
        self.snapshots = 0
        self.resubscribing: asyncio.Task[None] | None = None
        ws.on_message = self.on_message

    @staticmethod
    async def subscribe(conn: OkxConnector, ws: WsClient) -> None:
        args = [{"channel": "books", "instId": conn.inst_id}, {"channel": "trades", "instId": conn.inst_id}]
        await ws.send(orjson.dumps({"op": "subscribe", "args": args}))

    async def run(self) -> None:
        c = self.c
        async for ev in self.ws.events():  # every message goes to `on_message`: here the connection's life
            if isinstance(ev, WsConnected):
                self.book.configure(c.spec, c.ct)
                self.book.reset()
            elif isinstance(ev, WsDisconnected | WsStale):
                if self.resubscribing is not None:  # the reconnect subscribes afresh
                    self.resubscribing.cancel()
                    self.resubscribing = None
                self.book.reset()
                c.health.down(Stream.MARKET, lost(ev))
                c.queue.put_nowait(BookInvalid(c.symbol, lost(ev), ts_recv=c.clock.now_ns()))

    def tasks(self) -> list[asyncio.Task[None]]:
        """The resubscription in flight, if any (the connector cancels it on close)."""
        return [self.resubscribing] if self.resubscribing is not None else []

    def on_message(self, raw: bytes, ts_recv: int) -> bool:
        """A books push goes to the core as bytes; anything else is decoded here. Every message is taken."""
        if raw == b"pong":
            return True
        try:
            verdict = self.book.apply_raw(raw, self.c.inst_id)
        except ParseError as e:
            log.warning("%s: malformed books push: %s", self.c.venue, e)
            verdict = "malformed"
        if verdict is None:
            self._message(raw, ts_recv)
        else:
            self._book(verdict, ts_recv)
        return True

    def _message(self, raw: bytes, ts_recv: int) -> None:
        c = self.c
        try:
            msg = orjson.loads(raw)
            arg = msg.get("arg") or {}
            if "event" in msg:
                if msg["event"] == "error":
                    log.warning("%s: public stream error %s %s", c.venue, msg.get("code"), msg.get("msg"))
                return
            if arg.get("channel") != "trades":
                return
            ticks = [parse.trade_tick(t, c.spec, ts_recv, c.ct, name=c.symbol) for t in msg.get("data", [])]
        except MALFORMED as e:
            log.warning("%s: malformed public message skipped: %s", c.venue, type(e).__name__)
            return
        for tick in ticks:
            c.queue.put_nowait(tick)

    def _book(self, verdict: str, ts_recv: int) -> None:
        c = self.c
        if verdict in INVALIDATES:
            if verdict == "malformed":
                self.book.reset()
            c.queue.put_nowait(BookInvalid(c.symbol, INVALIDATES[verdict], ts_recv=ts_recv))
            self._resubscribe()
            return
        if self.book.seq is None:
            return
        if verdict == "snapshot":
            self.snapshots += 1
            c.health.up(Stream.MARKET)
        c.queue.put_nowait(self.book.top(c.symbol, self.book.ts_ms * parse.MS, ts_recv))

    def _resubscribe(self) -> None:
        """Resync: a fresh subscription starts with a snapshot. One at a time: a resubscription not done
        yet has its `subscribe` still to send, so the snapshot it brings follows this invalidation too."""
        if self.resubscribing is None or self.resubscribing.done():
            self.resubscribing = asyncio.get_running_loop().create_task(self._send_resubscribe())

    async def _send_resubscribe(self) -> None:
        args = [{"channel": "books", "instId": self.c.inst_id}]
        try:
            await self.ws.send(orjson.dumps({"op": "unsubscribe", "args": args}))
            await self.ws.send(orjson.dumps({"op": "subscribe", "args": args}))
        except VenueError:
            pass  # the connection is gone: the reconnect resubscribes


class PrivateStream:
    """Login, then the `orders` and `account` channels (and `positions` on the swap market); after a
    reconnect, a REST catch-up before `up`.

    Handled in the read that brought it (`on_message`, the transport's handler, called there when the
    engine waits for events, else by the reader, in order): the answer to an order operation (to its
    caller), an `orders` push (its fill and report to the engine, with no trip through the event loop),
    a `positions` or `account` push, an error event. It never raises for what the venue sent: a malformed
    message is logged and skipped. The login's answer and the `orders` subscription's (which subscribe,
    and catch up by REST after a reconnect: they await) go to `run`, which also follows the connection's
    life; what arrives while it awaits waits in the transport's queue and is handled after, in order."""

    def __init__(self, conn: OkxConnector, ws: WsClient) -> None:
        self.c, self.ws = conn, ws
        ws.on_message = self.on_message

    @staticmethod
    async def login(conn: OkxConnector, ws: WsClient) -> None:
        key, passphrase, ts, sign = conn.signer.ws_login(conn.venue_now_ms() // 1000)
        args = [{"apiKey": key, "passphrase": passphrase, "timestamp": ts, "sign": sign}]
        await ws.send(orjson.dumps({"op": "login", "args": args}))

    def on_message(self, raw: bytes, ts_recv: int) -> bool:
        """Every message is taken here but the login's and the subscriptions' answers (for `run`)."""
        if raw == b"pong":
            return True
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("%s: malformed private message skipped", self.c.venue)
            return True
        if not isinstance(msg, dict):
            return True  # not a message of OKX's
        if msg.get("op") not in WS_ORDER_OPS and msg.get("event") in ("login", "subscribe"):
            return False
        try:
            self._push(msg, ts_recv)
        except MALFORMED as e:
            log.warning("%s: malformed private message skipped: %s", self.c.venue, type(e).__name__)
        return True

    def _push(self, msg: dict[str, Any], ts_recv: int) -> None:
        c = self.c
        if msg.get("op") in WS_ORDER_OPS:
            c.ws_answer(msg)  # False when nothing waits for it any more (late): dropped
            return
        if msg.get("event") == "error":
            log.warning("%s: private stream error %s %s", c.venue, msg.get("code"), msg.get("msg"))
            return
        channel = _channel(msg)
        if channel == "orders":
            for o in msg.get("data", []):
                self._order(o, ts_recv)
        elif channel == "positions":
            c.account.on_positions(c, msg)
        elif channel == "account":
            c.account.on_account(c, msg)

    def _order(self, o: Any, ts_recv: int) -> None:
        """One order of an `orders` push (ours if of our instrument); a malformed one is skipped alone."""
        try:
            if o.get("instId") == self.c.inst_id:
                self.c.on_order(o, ts_recv)
        except MALFORMED as e:
            log.warning("%s: malformed order push skipped: %s", self.c.venue, type(e).__name__)

    async def run(self) -> None:
        c = self.c
        async for ev in self.ws.events():  # the login's and subscriptions' answers, and the connection's life
            if isinstance(ev, WsMessage):
                msg = orjson.loads(ev.data)  # `on_message` declined only what it read
                await self._answer(msg)
            elif isinstance(ev, WsDisconnected | WsStale):
                c.health.down(Stream.PRIVATE, lost(ev))

    async def _answer(self, msg: dict[str, Any]) -> None:
        """The login's answer (then subscribe) or a subscription's (the `orders` one: catch up, `up`)."""
        c = self.c
        if msg.get("event") == "login" and str(msg.get("code")) == "0":
            args = [{"channel": "orders", "instType": "ANY"}, {"channel": "account"}]
            if c.market == "swap":  # spot holds balances (the account channel), not positions
                args.append({"channel": "positions", "instType": "SWAP"})
            await self.ws.send(orjson.dumps({"op": "subscribe", "args": args}))
        elif msg.get("event") == "subscribe" and _channel(msg) == "orders":
            await c.private_ready()


def _channel(msg: dict[str, Any]) -> Any:
    arg = msg.get("arg")
    return arg.get("channel") if isinstance(arg, dict) else None
