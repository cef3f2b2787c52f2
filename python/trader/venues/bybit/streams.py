"""Bybit's event sources as the connector reads them.

- `PublicStream`: `/v5/public/<category>`, topics `orderbook.50.<symbol>` and `publicTrade.<symbol>`.
  A snapshot resets the local book; a delta must carry `u` = last `u` + 1 (and a larger `seq`), else the
  book is invalid (`BookInvalid`) and the topic is re-subscribed for a fresh snapshot. A drop or a silent
  stream is `BookInvalid` and `StreamStatus` down; the next snapshot brings it up.
- `PrivatePoller`: order and execution changes by REST (see the connector's docstring for why), as
  `OrderReport`s (on a change of state, filled quantity, price or quantity) and `FillReport`s (each
  `execId` once).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import InstrumentSpec
from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import BookInvalid, InstrumentInfo, OrderState, Stream
from trader.venues.bybit import parse
from trader.venues.bybit.endpoints import BOOK_DEPTH

if TYPE_CHECKING:
    from trader.venues.bybit.connector import BybitConnector, WsAuth

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


class PrivatePoller:
    """Order and execution events of one connector, by REST."""

    def __init__(self, conn: BybitConnector) -> None:
        self._conn = conn
        self._watch: set[str] = set()  # client ids of our orders last seen open
        self._seen: dict[str, tuple[OrderState, int, int, int]] = {}  # client id -> what was last emitted
        self._execs: set[str] = set()
        self._since_ms = 0
        self.polls = 0

    def watch(self, client_id: str) -> None:
        self._watch.add(client_id)

    async def prime(self) -> None:
        """Start from now: the executions and open orders already there are not news."""
        conn = self._conn
        self._since_ms = conn.venue_now_ms() - 1000  # the venue's clock: executions carry its time
        for x in await conn.executions(self._since_ms):
            self._execs.add(str(x["execId"]))
        for r in await conn.open_orders():
            self._watch.add(r.client_id)
            self._seen[r.client_id] = (r.state, r.filled, r.price, r.qty)
        conn._health.up(Stream.PRIVATE)

    async def run(self) -> None:
        conn = self._conn
        while True:
            await conn.clock.sleep(conn.poll_s)
            try:
                await self.poll()
            except VenueError as e:
                conn._health.down(Stream.PRIVATE, f"poll failed: {type(e).__name__}")
                log.warning("%s: private poll failed: %s", conn.venue, type(e).__name__)
                continue
            conn._health.up(Stream.PRIVATE)

    async def poll(self) -> None:
        conn = self._conn
        self.polls += 1
        info = await conn.instrument_info(conn.symbol)
        spec = conn.trading_spec()
        now = conn.clock.now_ns()
        rows = await conn.executions(self._since_ms)
        for x in sorted(rows, key=lambda r: int(r["execTime"])):
            self.fill(x, info, spec, now)
        if not self._watch:
            return
        open_rows = {str(o["orderLinkId"]): o for o in await conn._orders([("openOnly", 0)])}
        for cid in sorted(self._watch):
            o = open_rows.get(cid)
            if o is None:
                found = await conn._orders([("orderLinkId", cid)]) or await conn._history(cid)
                if not found:
                    continue
                o = found[0]
            self._report(cid, o, now)

    def fill(self, x: dict[str, Any], info: InstrumentInfo, spec: InstrumentSpec, now: int) -> None:
        """An execution heard (by REST or on the private stream): emitted once per `execId`."""
        if str(x["execId"]) in self._execs:
            return
        self._execs.add(str(x["execId"]))
        self._since_ms = max(self._since_ms, int(x["execTime"]) - 1000)
        self._watch.add(str(x["orderLinkId"]))
        self._conn.emit(parse.fill(x, info, spec, now))

    def report(self, o: dict[str, Any], now: int) -> None:
        """An order row heard on the private stream."""
        self._report(str(o["orderLinkId"]), o, now)

    def _report(self, cid: str, o: dict[str, Any], now: int) -> None:
        r = parse.order_report(o, self._conn.trading_spec(), now)
        if self._seen.get(cid) != (r.state, r.filled, r.price, r.qty):  # filled, closed or amended
            self._seen[cid] = (r.state, r.filled, r.price, r.qty)
            self._conn.emit(r)
        if r.state in parse.TERMINAL:
            self._watch.discard(cid)


class PrivateStream:
    """`/v5/private` (`op: auth`, then `order` and `execution`), where the signer can sign its login.
    Events go through the poller's bookkeeping (each execution once, a report on each change); after a
    reconnect one poll catches up on what happened while the stream was down."""

    TOPICS = ("order", "execution")

    def __init__(self, conn: BybitConnector, ws: WsClient, poller: PrivatePoller) -> None:
        self._conn, self.ws, self._poller = conn, ws, poller
        self.catch_up: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # logged in and subscribed, or refused (`refused`)
        self.refused = ""

    @staticmethod
    async def login(conn: BybitConnector, ws: WsClient, auth: WsAuth) -> None:
        key, expires, signature = auth(conn.venue_now_ms() + 10_000)
        await ws.send(orjson.dumps({"req_id": "auth", "op": "auth", "args": [key, expires, signature]}))
        await ws.send(
            orjson.dumps({"req_id": "private", "op": "subscribe", "args": list(PrivateStream.TOPICS)})
        )

    async def run(self) -> None:
        conn = self._conn
        reconnected = False
        async for ev in self.ws.events():
            if isinstance(ev, WsConnected):
                reconnected = ev.attempt > 1
            elif isinstance(ev, WsDisconnected | WsStale):
                conn._health.down(Stream.PRIVATE, lost(ev))
            else:
                try:
                    msg = orjson.loads(ev.data)
                    if not self.message(msg, ev.ts_recv, reconnected):
                        await self.ws.close()
                        return
                except (
                    orjson.JSONDecodeError,
                    KeyError,
                    TypeError,
                    ValueError,
                    AttributeError,
                    VenueError,
                ) as e:
                    log.warning("%s: malformed private message skipped: %s", conn.venue, type(e).__name__)

    def message(self, msg: dict[str, Any], ts_recv: int, reconnected: bool) -> bool:
        """Apply one frame; False when the login was refused (the stream stops)."""
        conn, op = self._conn, msg.get("op")
        if op == "auth" and not msg.get("success"):
            self.refused = str(msg.get("ret_msg", "")) or "login refused"
            log.error("%s: private stream login refused: %s", conn.venue, self.refused)
            self.ready.set()
            return False
        if op == "subscribe" and msg.get("success"):
            self.ready.set()
            if reconnected:
                self.catch_up = asyncio.get_running_loop().create_task(self._poll_once())
            else:
                conn._health.up(Stream.PRIVATE)
            return True
        topic, rows = msg.get("topic"), msg.get("data") or []
        mine = [
            r
            for r in rows
            if r.get("symbol") == conn.symbol and r.get("category", conn.category) == conn.category
        ]
        if topic == "order":
            for o in mine:
                self._poller.report(o, ts_recv)
        elif topic == "execution":
            info, spec = conn._info, conn.trading_spec()
            assert info is not None
            for x in mine:
                if x.get("execType", "Trade") == "Trade":
                    self._poller.fill(x, info, spec, ts_recv)
        return True

    async def _poll_once(self) -> None:
        try:
            await self._poller.poll()
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self._conn.venue, type(e).__name__)
            return
        self._conn._health.up(Stream.PRIVATE)
