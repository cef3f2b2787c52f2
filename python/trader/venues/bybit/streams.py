"""Bybit's event sources as the connector reads them.

- `PublicStream`: `/v5/public/<category>`, two connections: the book (`orderbook.50.<symbol>`) and the
  trades (`publicTrade.<symbol>`), so a book frame never shares a read with a trade (the first frame of
  a read that carries more is behind, `_events.BEHIND`, and queued: a trade after it would cost the book
  its direct hand-over) and is never held up behind trade frames on one TCP stream.
  Book frames are parsed and applied from raw bytes by the core (`Book.apply_bybit_orderbook`): a
  snapshot resets the book; a delta must carry `u` = last `u` + 1 (and a larger `seq`), else the book is
  invalid (`BookInvalid`) and the topic is re-subscribed for a fresh snapshot. A drop or a silent
  book stream is `BookInvalid` and `StreamStatus` down; the next snapshot brings it up. The trades are
  informational: their connection's drop is logged, and it reconnects on its own.
  Every frame is handled as it is read (`on_message` and `on_trades`, the transports' synchronous
  handlers: in the call that read it when the engine waits for events, no trip through the event
  loop); the re-subscription after a gap is a task started there (`resync_task`), and `run` and
  `run_trades` only follow the connections' life.
- The private events: `private.py` (`PrivateLedger`, `PrivateStream`), re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import Book, BookNotReadyError, SequenceGapError
from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsDisconnected, WsStale
from trader.venues.base import BookInvalid, BookUpdate, Stream
from trader.venues.bybit import parse
from trader.venues.bybit.endpoints import BOOK_DEPTH
from trader.venues.bybit.private import PrivateLedger, PrivateStream

if TYPE_CHECKING:
    from trader.venues.bybit.connector import BybitConnector

log = logging.getLogger("trader.venues.bybit")

_MS = 1_000_000


class PublicStream:
    def __init__(self, conn: BybitConnector, ws: WsClient, trades: WsClient | None = None) -> None:
        self._conn, self.ws, self.trades = conn, ws, trades
        self.book_topic = f"orderbook.{BOOK_DEPTH}.{conn.symbol}"
        self.trade_topic = f"publicTrade.{conn.symbol}"
        self._book: Book | None = None  # the core's book: frames are parsed and applied from raw bytes
        self.u = 0  # last applied update id; 0: no snapshot yet
        self.seq = 0
        self.resyncs = 0
        self.resync_task: asyncio.Task[None] | None = None  # the re-subscription after a gap, in flight
        # every frame is ours: `events()` yields only the connections' life
        ws.on_message = self.on_message
        if trades is not None:
            trades.on_message = self.on_trades

    @property
    def book(self) -> Book:
        if self._book is None:
            self._book = Book(self._conn.trading_spec())
        return self._book

    @classmethod
    def open(cls, conn: BybitConnector, url: str, stale_after_s: float) -> PublicStream:
        """The book's connection (silent for `stale_after_s`: stale) and the trades' (quiet markets
        have no trades: never stale; a dead socket is found by the keepalive), each subscribing its
        topic on every connect."""
        book, trade = f"orderbook.{BOOK_DEPTH}.{conn.symbol}", f"publicTrade.{conn.symbol}"
        ws = WsClient(
            conn.venue,
            url,
            clock=conn.clock,
            on_connect=lambda c: cls.subscribe(c, "book", book),
            stale_after_s=stale_after_s,
        )
        trades = WsClient(
            conn.venue,
            url,
            clock=conn.clock,
            on_connect=lambda c: cls.subscribe(c, "trades", trade),
            stale_after_s=3600,
        )
        return cls(conn, ws, trades)

    @staticmethod
    async def subscribe(ws: WsClient, req_id: str, topic: str) -> None:
        await ws.send(orjson.dumps({"req_id": req_id, "op": "subscribe", "args": [topic]}))

    async def close(self) -> None:
        for ws in (self.ws, self.trades):
            if ws is not None:
                await ws.close()

    def _invalid(self, reason: str) -> None:
        self.book.begin_resync()  # nothing but a snapshot applies now
        self.u = 0
        conn = self._conn
        conn.emit(BookInvalid(conn.symbol, reason, ts_recv=conn.clock.now_ns()))

    def _start_resync(self) -> None:
        """Re-subscribe the book topic for a fresh snapshot, in a task (the handler cannot await). One
        still in flight covers a later gap: its subscription is not sent yet, so its snapshot follows."""
        if self.resync_task is not None and not self.resync_task.done():
            return
        self.resyncs += 1
        self.resync_task = asyncio.get_running_loop().create_task(self._resync())

    async def _resync(self) -> None:
        try:
            for op in ("unsubscribe", "subscribe"):
                await self.ws.send(orjson.dumps({"req_id": "resync", "op": op, "args": [self.book_topic]}))
        except VenueError as e:  # the socket went: the reconnect subscribes anew (and gets a snapshot)
            log.warning("%s: book resync not sent: %s", self._conn.venue, e)

    async def run(self) -> None:
        """The book connection's life (its frames: `on_message`): a drop or a silent stream invalidates
        the book."""
        conn = self._conn
        async for ev in self.ws.events():
            if isinstance(ev, WsDisconnected | WsStale):
                conn._health.down(Stream.MARKET, lost(ev))
                self._invalid(type(ev).__name__)

    async def run_trades(self) -> None:
        """The trades connection's life (its frames: `on_trades`): a drop is logged, then reconnected."""
        if self.trades is None:
            return
        async for ev in self.trades.events():
            if isinstance(ev, WsDisconnected | WsStale):
                log.info("%s: public trades stream %s; reconnecting", self._conn.venue, lost(ev))

    def on_message(self, data: bytes, ts_recv: int) -> bool:
        """One frame, as it is read (the transport's `on_message`): applied and handed on, a gap starting
        the resync; a malformed frame is logged and skipped (never raised: that would end the stream)."""
        try:
            gap = self.frame(data, ts_recv)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, VenueError) as e:
            log.warning("%s: malformed market data skipped: %s", self._conn.venue, type(e).__name__)
            return True
        if gap:
            self._start_resync()
        return True

    def on_trades(self, data: bytes, ts_recv: int) -> bool:
        """One frame of the trades' connection, as it is read: trades handed on, a malformed frame
        logged and skipped (never raised)."""
        try:
            msg = orjson.loads(data)
            self.message(msg, ts_recv)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, VenueError) as e:
            log.warning("%s: malformed trade data skipped: %s", self._conn.venue, type(e).__name__)
        return True

    def frame(self, raw: bytes, ts_recv: int) -> bool:
        """Apply one frame as received; True when the book broke and needs a new snapshot. The book's
        frames go to the core's parser (`Book.apply_bybit_orderbook`: the `u` chain and a rising `seq`),
        the rest (trades) through orjson. `ParseError` (a `ValueError`): malformed, nothing applied."""
        conn = self._conn
        try:
            r = self.book.apply_bybit_orderbook(raw, self.book_topic, self.seq)
        except SequenceGapError as e:
            self._invalid(f"sequence gap after update id {self.u}: {e}")
            return True
        except BookNotReadyError:
            return False  # a delta before the snapshot (or after a gap, whose resync is asked): wait
        if r is None:
            return self.message(orjson.loads(raw), ts_recv)
        self.u, self.seq, ts_ms, snapshot, _ = r
        if snapshot:
            conn._health.up(Stream.MARKET)
        bid, ask = self.book.best_bid(), self.book.best_ask()
        conn.emit(
            BookUpdate(
                conn.symbol,
                bid[0] if bid else None,
                bid[1] if bid else 0,
                ask[0] if ask else None,
                ask[1] if ask else 0,
                ts_ms * _MS,
                ts_recv,
            )
        )
        return False

    def message(self, msg: dict[str, Any], ts_recv: int) -> bool:
        """A frame that is not the book, decoded: trades are emitted, the rest ignored."""
        if msg.get("topic") == self.trade_topic:
            spec = self._conn.trading_spec()
            for t in msg.get("data") or []:
                self._conn.emit(parse.trade(t, spec, ts_recv))
        return False


# the private side moved to `private.py`; these names stay importable from here
PrivatePoller = PrivateLedger

__all__ = ["PrivateLedger", "PrivatePoller", "PrivateStream", "PublicStream"]
