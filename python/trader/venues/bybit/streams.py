"""Bybit's event sources as the connector reads them.

- `PublicStream`: `/v5/public/<category>`, topics `orderbook.50.<symbol>` and `publicTrade.<symbol>`.
  A snapshot resets the local book; a delta must carry `u` = last `u` + 1 (and a larger `seq`), else the
  book is invalid (`BookInvalid`) and the topic is re-subscribed for a fresh snapshot. A drop or a silent
  stream is `BookInvalid` and `StreamStatus` down; the next snapshot brings it up.
- The private events: `private.py` (`PrivateLedger`, `PrivateStream`), re-exported here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsDisconnected, WsMessage, WsStale
from trader.venues.base import BookInvalid, Stream
from trader.venues.bybit import parse
from trader.venues.bybit.endpoints import BOOK_DEPTH
from trader.venues.bybit.private import PrivateLedger, PrivateStream

if TYPE_CHECKING:
    from trader.venues.bybit.connector import BybitConnector

log = logging.getLogger("trader.venues.bybit")

_MS = 1_000_000


class PublicStream:
    def __init__(self, conn: BybitConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        self.book_topic = f"orderbook.{BOOK_DEPTH}.{conn.symbol}"
        self.trade_topic = f"publicTrade.{conn.symbol}"
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.u = 0  # last applied update id; 0: no snapshot yet
        self.seq = 0
        self.resyncs = 0

    @staticmethod
    async def subscribe(conn: BybitConnector, ws: WsClient) -> None:
        topics = [f"orderbook.{BOOK_DEPTH}.{conn.symbol}", f"publicTrade.{conn.symbol}"]
        await ws.send(orjson.dumps({"req_id": "book", "op": "subscribe", "args": topics}))

    def _invalid(self, reason: str) -> None:
        self.bids.clear()
        self.asks.clear()
        self.u = 0
        conn = self._conn
        conn.emit(BookInvalid(conn.symbol, reason, ts_recv=conn.clock.now_ns()))

    async def _resync(self) -> None:
        self.resyncs += 1
        for op in ("unsubscribe", "subscribe"):
            await self.ws.send(orjson.dumps({"req_id": "resync", "op": op, "args": [self.book_topic]}))

    async def run(self) -> None:
        conn = self._conn
        async for ev in self.ws.events():
            if isinstance(ev, WsDisconnected | WsStale):
                conn._health.down(Stream.MARKET, lost(ev))
                self._invalid(type(ev).__name__)
                continue
            if not isinstance(ev, WsMessage):
                continue
            try:
                msg = orjson.loads(ev.data)
                gap = self.message(msg, ev.ts_recv)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, VenueError) as e:
                log.warning("%s: malformed market data skipped: %s", conn.venue, type(e).__name__)
                continue
            if gap:
                await self._resync()

    def message(self, msg: dict[str, Any], ts_recv: int) -> bool:
        """Apply one frame; True when the book broke and needs a new snapshot."""
        topic = msg.get("topic")
        if topic == self.trade_topic:
            spec = self._conn.trading_spec()
            for t in msg.get("data") or []:
                self._conn.emit(parse.trade(t, spec, ts_recv))
            return False
        if topic != self.book_topic:
            return False
        return self.book(msg, ts_recv)

    def book(self, msg: dict[str, Any], ts_recv: int) -> bool:
        conn = self._conn
        spec = conn.trading_spec()
        data, kind = msg["data"], msg.get("type")
        u, seq = int(data["u"]), int(data.get("seq", 0))
        if kind == "snapshot":
            self.bids = dict(parse.levels(data.get("b", []), spec))
            self.asks = dict(parse.levels(data.get("a", []), spec))
            conn._health.up(Stream.MARKET)
        elif self.u == 0:
            return False  # a delta before the snapshot: wait for it
        elif u != self.u + 1 or (seq and seq <= self.seq):
            self._invalid(f"sequence gap: update id {self.u} -> {u}")
            return True
        else:
            for side, rows in ((self.bids, data.get("b", [])), (self.asks, data.get("a", []))):
                for price, qty in parse.levels(rows, spec):
                    if qty:
                        side[price] = qty
                    else:
                        side.pop(price, None)
        self.u, self.seq = u, seq
        conn.emit(parse.top(conn.symbol, self.bids, self.asks, int(msg.get("ts", 0)) * _MS, ts_recv))
        return False


# the private side moved to `private.py`; these names stay importable from here
PrivatePoller = PrivateLedger

__all__ = ["PrivateLedger", "PrivatePoller", "PrivateStream", "PublicStream"]
