"""Coinbase's WebSocket as the connector reads them: two market connections, one for the books
(`level2`, `heartbeats`) and one for the prints (`market_trades`, `heartbeats`), and one user connection
(`user`, `heartbeats`), each subscription message carrying a fresh JWT.

- Every message's `sequence_num` counts the connection's messages: a gap (a message lost) on the books'
  connection invalidates every book (`BookInvalid`) and re-subscribes `level2`, whose new snapshot rebuilds
  it; updates before that snapshot are ignored. The top of each book goes out as `BookUpdate` when it
  changes.
- `market_trades` become `TradeTick`s (the message's `side` is the maker's). They have a connection of
  their own: a print read together with a book message would hold the book update back (`BEHIND`: queued
  for conflation), so the books' connection carries books (and heartbeats) only.
- The market connections' messages are handled as they are read (`on_message`, the transport's
  synchronous handler: in the call that read the message when the engine waits for events, no trip
  through the event loop; a resync's re-subscription is a task); their async loops only follow the
  connections' life. Malformed messages are logged and skipped, never ending a stream.
- The user channel's order updates become `OrderReport`s, and the growth of an order's cumulative size a
  `FillReport` (see `parse.stream_fill`; the connector's `_on_user_order`), handled in the read that
  brought them too (`UserStream.on_message`): a fill the channel tells exactly reaches the engine there;
  one only REST can tell (maker or taker) is read by a task. After a reconnect, or a message lost (a gap
  in `sequence_num`), the connector catches up by REST, in a task started from the read.
- A drop or silence (`heartbeats` each second keep a quiet connection alive) is a `StreamStatus` down; the
  market stream (the books' connection) is up again at its first snapshot, the user stream after its
  catch-up. The prints' connection is reopened without a status: the books are the market's state.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import Book, BookNotReadyError, BookState, ParseError, SequenceGapError
from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsStale
from trader.venues.base import BookInvalid, BookUpdate, Stream
from trader.venues.coinbase import parse

if TYPE_CHECKING:
    from trader.venues.coinbase.connector import CoinbaseConnector

log = logging.getLogger("trader.venues.coinbase")
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)


async def subscribe(conn: CoinbaseConnector, ws: WsClient, channel: str, kind: str = "subscribe") -> None:
    jwt = conn._signer.jwt(None, conn.now_s(), os.urandom(16).hex())
    msg = {"type": kind, "product_ids": list(conn.symbols), "channel": channel, "jwt": jwt}
    await ws.send(orjson.dumps(msg))


class Sequence:
    """The connection's `sequence_num`: True when a message was lost before this one."""

    def __init__(self) -> None:
        self.last: int | None = None

    def gap(self, seq: Any) -> bool:
        if not isinstance(seq, int):
            return False
        lost = self.last is not None and seq != self.last + 1
        self.last = seq
        return lost


def market_message(conn: CoinbaseConnector, msg: dict[str, Any], ts_recv: int) -> None:
    """A market message other than `l2_data`: prints become `TradeTick`s, an error is logged."""
    if msg.get("type") == "error":
        log.error("%s: market stream error: %s", conn.venue, str(msg.get("message", ""))[:200])
    elif msg.get("channel") == "market_trades":
        for event in msg.get("events") or []:
            for t in event.get("trades") or []:
                if t.get("product_id") in conn.symbols:
                    conn._queue.put_nowait(parse.trade_tick(t, conn.spec_of(t["product_id"]), ts_recv))


class MarketStream:
    """The books' connection. Every message goes to `on_message` (the transport's handler); `run` only
    follows the connection's life."""

    def __init__(self, conn: CoinbaseConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        ws.on_message = self.on_message
        self._seq = Sequence()
        self._books: dict[str, Book] = {}  # synced books (the core's ladder: O(log n) per level)
        self._tops: dict[str, tuple[int | None, int, int | None, int]] = {}
        self._sends: set[asyncio.Task[None]] = set()  # re-subscriptions started from a message

    @staticmethod
    async def login(conn: CoinbaseConnector, ws: WsClient) -> None:
        for channel in ("heartbeats", "level2"):
            await subscribe(conn, ws, channel)

    def _invalidate(self, reason: str) -> None:
        conn = self._conn
        self._books.clear()
        self._tops.clear()
        for s in conn.symbols:
            conn._queue.put_nowait(BookInvalid(s, reason, ts_recv=conn.clock.now_ns()))

    async def run(self) -> None:
        conn = self._conn
        try:
            async for ev in self.ws.events():  # messages went to `on_message`: here the connection's life
                if isinstance(ev, WsConnected):
                    self._seq = Sequence()
                elif isinstance(ev, WsDisconnected | WsStale):
                    conn._health.down(Stream.MARKET, lost(ev))
                    self._invalidate(type(ev).__name__)
        finally:
            for task in self._sends:
                task.cancel()

    def on_message(self, raw: bytes, ts_recv: int) -> bool:
        """One message of the books' connection (always taken), in the read that brought it when the
        stream's reader waits. A gap or an unreadable `l2_data` starts the re-subscription (a task: the
        handler never waits); anything malformed is logged and skipped."""
        conn = self._conn
        try:
            if self.handle(raw, ts_recv):
                conn.resyncs += 1
                task = asyncio.get_running_loop().create_task(self._resubscribe())
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)
        except (orjson.JSONDecodeError, ParseError, *_MALFORMED) as e:
            log.warning("%s: malformed market message skipped: %s", conn.venue, type(e).__name__)
        return True

    async def _resubscribe(self) -> None:
        """`level2` again, for a new snapshot. The socket gone meanwhile: the reconnect subscribes."""
        conn = self._conn
        try:
            await subscribe(conn, self.ws, "level2", "unsubscribe")
            await subscribe(conn, self.ws, "level2")
        except VenueError as e:
            log.warning("%s: level2 re-subscription not sent: %s", conn.venue, e)

    def handle(self, raw: bytes, ts_recv: int) -> bool:
        """One market message; True when `level2` must be re-subscribed for a new snapshot: a message was
        lost (a gap in `sequence_num`) or an `l2_data` message could not be read (the books missed it).
        Only the envelope is read first (in Rust, the first hundred bytes): an `l2_data` message is never
        parsed in Python, its levels go from the bytes to the books in one call per product."""
        channel, seq, ts_event = Book.coinbase_head(raw)
        resync = self._seq.gap(seq)
        if resync:
            self._invalidate("sequence gap")
        if channel != "l2_data":
            market_message(self._conn, orjson.loads(raw), ts_recv)
            return resync
        try:
            self.level2(raw, ts_event, ts_recv)
        except ParseError as e:
            log.warning("%s: unreadable level2 message, resyncing: %s", self._conn.venue, str(e)[:200])
            self._invalidate("malformed level2")
            return True
        return resync

    def level2(self, raw: bytes, ts_event: int, ts_recv: int) -> None:
        """An `l2_data` message into each product's book (the core parses the raw levels); a changed
        top becomes a `BookUpdate`. An update before its snapshot (after a gap) waits for the snapshot."""
        conn = self._conn
        for symbol in conn.symbols:
            book = self._books.get(symbol)
            if book is None:
                book = self._books[symbol] = Book(conn.spec_of(symbol))
            try:
                applied = book.apply_coinbase_level2(raw, symbol)
            except (BookNotReadyError, SequenceGapError):
                continue  # the snapshot will replace it
            if applied is None:
                continue
            best_bid, best_ask = book.best_bid(), book.best_ask()
            bid, bid_qty = best_bid if best_bid is not None else (None, 0)
            ask, ask_qty = best_ask if best_ask is not None else (None, 0)
            top = (bid, bid_qty, ask, ask_qty)
            if top != self._tops.get(symbol):
                self._tops[symbol] = top
                conn._queue.put_nowait(BookUpdate(symbol, *top, ts_event=ts_event, ts_recv=ts_recv))
            books = self._books.values()
            if (
                applied[1]
                and len(books) == len(conn.symbols)
                and all(b.state == BookState.VALID for b in books)
            ):
                conn._health.up(Stream.MARKET)  # every product's snapshot is in


class TradeStream:
    """The prints' connection (`market_trades`): its messages go to `on_message` as they are read; a
    drop or a silent feed is logged and the connection reopened (nothing of a book was lost)."""

    def __init__(self, conn: CoinbaseConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        ws.on_message = self.on_message

    @staticmethod
    async def login(conn: CoinbaseConnector, ws: WsClient) -> None:
        for channel in ("heartbeats", "market_trades"):
            await subscribe(conn, ws, channel)

    async def run(self) -> None:
        async for ev in self.ws.events():  # messages went to `on_message`: here the connection's life
            if isinstance(ev, WsDisconnected | WsStale):
                log.warning("%s: market_trades stream %s: reconnecting", self._conn.venue, lost(ev))

    def on_message(self, raw: bytes, ts_recv: int) -> bool:
        """One message of the prints' connection (always taken); a malformed one is logged and skipped."""
        try:
            market_message(self._conn, orjson.loads(raw), ts_recv)
        except (orjson.JSONDecodeError, *_MALFORMED) as e:
            log.warning("%s: malformed market message skipped: %s", self._conn.venue, type(e).__name__)
        return True


class UserStream:
    """The user channel's connection. Every message goes to `on_message` (the transport's handler: in the
    call that read it when the stream's reader waits, no trip through the event loop); `run` only follows
    the connection's life."""

    def __init__(self, conn: CoinbaseConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        ws.on_message = self.on_message
        self._seq = Sequence()
        self._reconnected = False

    @staticmethod
    async def login(conn: CoinbaseConnector, ws: WsClient) -> None:
        for channel in ("heartbeats", "user"):
            await subscribe(conn, ws, channel)

    async def run(self) -> None:
        conn = self._conn
        async for ev in self.ws.events():  # messages went to `on_message`: here the connection's life
            if isinstance(ev, WsConnected):  # before any message of the new connection is handled
                self._seq = Sequence()
                self._reconnected = ev.attempt > 1
            elif isinstance(ev, WsDisconnected | WsStale):
                conn._health.down(Stream.PRIVATE, lost(ev))

    def on_message(self, raw: bytes, ts_recv: int) -> bool:
        """One message of the user connection (always taken). A gap in `sequence_num` (an order update
        lost) starts the REST catch-up (a task: the handler never waits); anything malformed is logged and
        skipped."""
        try:
            msg = orjson.loads(raw)
            if self._seq.gap(msg.get("sequence_num")):
                self._reconnected = True  # a lost order update: catch up by REST
                self._catch_up()
            self.message(msg, ts_recv)
        except (orjson.JSONDecodeError, *_MALFORMED) as e:
            log.warning("%s: malformed user message skipped: %s", self._conn.venue, type(e).__name__)
        return True

    def _catch_up(self) -> None:
        conn = self._conn
        if conn._catch_up_task is None or conn._catch_up_task.done():
            conn._catch_up_task = asyncio.get_running_loop().create_task(conn._catch_up())

    def message(self, msg: dict[str, Any], ts_recv: int) -> None:
        conn = self._conn
        if msg.get("type") == "error":
            log.error("%s: user stream error: %s", conn.venue, str(msg.get("message", ""))[:200])
            return
        if msg.get("channel") != "user":
            return
        ts_event = parse.parse_time(str(msg.get("timestamp", "")))
        for event in msg.get("events") or []:
            for o in event.get("orders") or []:
                if o.get("product_id") in conn.symbols:
                    conn._on_user_order(o, ts_event, ts_recv, fills=event.get("type") != "snapshot")
            if event.get("type") == "snapshot" and self._reconnected:
                self._reconnected = False
                self._catch_up()
