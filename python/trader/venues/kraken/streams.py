"""Kraken's WebSocket v2 streams as the connector reads them.

- Public (`wss://ws.kraken.com/v2`), two connections. `book` at the connector's depth: the raw message
  goes to the core (`Book.apply_kraken_book`: parsed from the bytes, levels in ticks/lots, applied, cut to
  the subscribed depth since Kraken sends no deletes for levels that fall out of scope, and its CRC32 over
  the top ten levels at the pair's decimals compared with the message's `checksum`, all in Rust). A
  mismatch is a `BookInvalid` and a re-subscription (a fresh snapshot); a malformed message changes
  nothing and is skipped. A drop or a silent feed is a `BookInvalid` for every pair and
  `StreamStatus(MARKET, up=False)`; the next valid book brings it back up.
  `trade` prints, on a connection of their own (as Binance's), become `TradeTick`s (`side` is the
  taker's): a print read together with a book message would hold the book update back (`BEHIND`: queued
  for conflation), so the book's connection carries books only.
  Both are handled as they are read (`on_message`, the transport's synchronous handler: in the call that
  read the message when the engine waits for events, no trip through the event loop); the async loops
  only follow the connections' life.
- Private (`wss://ws-auth.kraken.com/v2`): `executions` with a fresh GetWebSocketsToken token on every
  connect; order events become `OrderReport`s, `trade` events also `FillReport`s (their `exec_id` is the
  REST trade id, so fills heard both ways are one). Every message is handled in the read that brought it
  (`PrivateStream.on_message`): a fill of ours reaches the waiting engine there, no trip through the event
  loop. After a reconnect the connector catches up by REST, in a task started from the read that brought
  the subscription's acknowledgement (the handler never waits); the loop only follows the connection's
  life (the token, the subscription, the stream's health). With `ws_orders=True` the connector also sends
  orders and cancels on this socket (`add_order`, `cancel_order`, numbers written as the exact decimal
  text); their answers are handed to the waiting request in the read (`PrivateStream.answer`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import Book, BookNotReadyError
from trader.errors import UnknownOutcomeError, VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsStale
from trader.venues.base import BookInvalid, BookUpdate, Stream, TradeTick
from trader.venues.kraken import parse
from trader.venues.kraken.errors import error_from

if TYPE_CHECKING:
    from trader.venues.kraken.connector import KrakenConnector

log = logging.getLogger("trader.venues.kraken")
BOOK = b'"book"'
REQ_ID = b'"req_id"'


def _loads(data: bytes) -> Any:
    return json.loads(data, parse_float=Decimal)


async def subscribe(
    ws: WsClient, channel: str, symbols: list[str], depth: int = 0, method: str = "subscribe"
) -> None:
    params: dict[str, Any] = {"channel": channel, "symbol": symbols}
    if channel == "book":
        params.update({"depth": depth, "snapshot": True})
    await ws.send(orjson.dumps({"method": method, "params": params}))


def _refused(venue: str, m: Any) -> None:
    if m.get("success") is False:
        log.error("%s: %s refused: %s", venue, m.get("method"), m.get("error"))


class MarketStream:
    """The public `book` channel of the connector's pairs. Every message goes to `on_message` (the
    transport's handler: in the call that read it when the engine waits for events, no trip through the
    event loop); `run` only follows the connection's life."""

    def __init__(self, conn: KrakenConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        ws.on_message = self.on_message
        self.books: dict[str, Book] = {}  # altname -> book
        self.resubscribes = 0  # after a checksum mismatch
        self._needles: dict[str, bytes] = {}  # v2 symbol -> its JSON string
        self.checked = 0  # book messages whose checksum matched
        self._sends: set[asyncio.Task[None]] = set()  # re-subscriptions started from a message

    async def run(self) -> None:
        conn = self._conn
        try:
            async for ev in self.ws.events():  # messages went to `on_message`: here the connection's life
                if isinstance(ev, WsConnected):
                    self.books = {s: Book(conn.specs[s]) for s in conn.pairs}
                    await subscribe(self.ws, "book", [p.symbol for p in conn.pairs.values()], conn.book_depth)
                elif isinstance(ev, WsDisconnected | WsStale):
                    conn._health.down(Stream.MARKET, lost(ev))
                    for s in conn.pairs:
                        conn.put(BookInvalid(s, type(ev).__name__, ts_recv=conn.clock.now_ns()))
        finally:
            for task in self._sends:
                task.cancel()

    def on_message(self, raw: bytes, ts_recv: int) -> bool:
        """One message of the book connection (always taken): a book message straight into the core,
        anything else (a subscription's answer, a heartbeat) parsed here. A malformed one is logged and
        skipped: nothing raised, the stream goes on."""
        try:
            if BOOK in raw and self.book(raw, ts_recv):
                return True
            _refused(self._conn.venue, _loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, VenueError) as e:
            log.warning("%s: malformed market data skipped: %s", self._conn.venue, type(e).__name__)
        return True

    def book(self, raw: bytes, ts_recv: int) -> bool:
        """A `book` message of our pairs applied by the core (whether it held one of them). `ParseError`
        (malformed, nothing changed) goes to the caller."""
        conn, handled = self._conn, False
        for pair in conn.pairs.values():
            needle = self._needles.get(pair.symbol)
            if needle is None:
                needle = self._needles[pair.symbol] = b'"' + pair.symbol.encode() + b'"'
            if needle not in raw:
                continue
            book = self.books[pair.altname]
            try:
                r = book.apply_kraken_book(
                    raw, pair.symbol, conn.book_depth, pair.price_decimals, pair.qty_decimals
                )
            except BookNotReadyError:  # waiting for the snapshot of a re-subscription
                handled = True
                continue
            if r is None:
                continue
            handled = True
            _, _, ts_event, ok = r
            if not ok:
                self.resync(pair.altname, pair.symbol, ts_recv)
                continue
            self.checked += 1
            bid, ask = book.best_bid(), book.best_ask()
            conn.put(
                BookUpdate(
                    pair.altname,
                    bid[0] if bid else None,
                    bid[1] if bid else 0,
                    ask[0] if ask else None,
                    ask[1] if ask else 0,
                    ts_event,
                    ts_recv,
                )
            )
            conn._health.up(Stream.MARKET)
        return handled

    def resync(self, instrument: str, symbol: str, ts_recv: int) -> None:
        """The checksum did not match: the book is invalid until a new snapshot. The re-subscription is
        sent by a task (a message's handler never waits)."""
        log.warning("%s: %s book checksum mismatch: re-subscribing", self._conn.venue, instrument)
        self.books[instrument].begin_resync()
        self.resubscribes += 1
        self._conn.put(BookInvalid(instrument, "checksum mismatch", ts_recv=ts_recv))
        task = asyncio.get_running_loop().create_task(self._resubscribe(symbol))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _resubscribe(self, symbol: str) -> None:
        """A fresh snapshot of one pair's book. The socket gone meanwhile: the reconnect subscribes all."""
        depth = self._conn.book_depth
        try:
            await subscribe(self.ws, "book", [symbol], depth, "unsubscribe")
            await subscribe(self.ws, "book", [symbol], depth)
        except VenueError as e:
            log.warning("%s: %s book re-subscription not sent: %s", self._conn.venue, symbol, e)


class TradeStream:
    """The public `trade` channel of the connector's pairs, on its own connection. Its messages go to
    `on_message` as they are read; a drop or a silent feed is logged and the connection reopened (the
    book is the market's state: its connection reports the stream's health)."""

    def __init__(self, conn: KrakenConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        ws.on_message = self.on_message

    async def run(self) -> None:
        conn = self._conn
        async for ev in self.ws.events():  # messages went to `on_message`: here the connection's life
            if isinstance(ev, WsConnected):
                await subscribe(self.ws, "trade", [p.symbol for p in conn.pairs.values()])
            elif isinstance(ev, WsDisconnected | WsStale):
                log.warning("%s: trade stream %s: reconnecting", conn.venue, lost(ev))

    def on_message(self, raw: bytes, ts_recv: int) -> bool:
        """One message of the trade connection (always taken); a malformed one is logged and skipped."""
        try:
            m = _loads(raw)
            if m.get("channel") == "trade":
                for d in m.get("data") or []:
                    self.trade(d, ts_recv)
            else:
                _refused(self._conn.venue, m)
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, VenueError) as e:
            log.warning("%s: malformed trade skipped: %s", self._conn.venue, type(e).__name__)
        return True

    def trade(self, d: dict[str, Any], ts_recv: int) -> None:
        conn = self._conn
        pair = conn.by_symbol.get(str(d["symbol"]))
        if pair is None:
            return
        spec = conn.specs[pair.altname]
        conn.put(
            TradeTick(
                pair.altname,
                parse.units(spec, d["price"], qty=False),
                parse.units(spec, d["qty"], qty=True),
                parse.side(str(d["side"])),
                parse.parse_time(str(d["timestamp"])),
                ts_recv=ts_recv,
            )
        )


class PrivateStream:
    """The authenticated `executions` channel, and order entry on the same socket (`request`). Every
    message goes to `on_message` (the transport's handler: in the call that read it when the engine waits
    for events); `run` only follows the connection's life."""

    def __init__(self, conn: KrakenConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        ws.on_message = self.on_message
        self.catch_ups: set[asyncio.Task[None]] = set()  # REST catch-ups started from a message
        self._reconnected = False
        self._token = ""
        self._req_ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def request(self, method: str, params: dict[str, Any], timeout_s: float) -> Any:
        """One trading method (`add_order`, `cancel_order`); its answer's `result`. Nothing sent (no socket):
        `VenueUnavailableError`; sent and no answer in time or the socket lost: `UnknownOutcomeError`; a
        refusal: Kraken's error string, typed."""
        conn = self._conn
        req_id = next(self._req_ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        try:
            await self.ws.send(self.frame(method, params, req_id))
            try:
                answer = await conn.clock.wait_for(future, timeout_s)
            except TimeoutError:
                raise UnknownOutcomeError(f"{method}: no answer in {timeout_s} s", venue=conn.venue) from None
        finally:
            self._pending.pop(req_id, None)
        if not answer.get("success"):
            raise error_from(conn.venue, str(answer.get("error") or "EGeneral:Unknown error"))
        return answer.get("result") or {}

    def frame(self, method: str, params: dict[str, Any], req_id: int) -> bytes:
        """One trading method's message, with the session's token."""
        return orjson.dumps({"method": method, "params": {**params, "token": self._token}, "req_id": req_id})

    def on_message(self, data: bytes, ts_recv: int) -> bool:
        """One message of the private socket (always taken): the answer to a request we wait for, else an
        execution, a subscription's answer or a heartbeat. A malformed one is logged and skipped: nothing
        raised, the stream goes on."""
        if self.answer(data, ts_recv):
            return True
        try:
            self.message(_loads(data), ts_recv)
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, VenueError) as e:
            log.warning("%s: malformed execution skipped: %s", self._conn.venue, type(e).__name__)
        return True

    def answer(self, data: bytes, ts_recv: int) -> bool:
        """The answer to a request we wait for, handed to its caller (whether it was one); anything else
        (executions, a malformed message) is `on_message`'s."""
        if not self._pending or REQ_ID not in data:
            return False
        try:
            m = _loads(data)
        except ValueError:
            return False
        req_id = m.get("req_id") if isinstance(m, dict) else None
        future = self._pending.get(req_id) if type(req_id) is int else None
        if future is None:
            return False
        if not future.done():
            future.set_result(m)
        return True

    def _lost(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(UnknownOutcomeError("private socket lost", venue=self._conn.venue))

    async def run(self) -> None:
        conn = self._conn
        try:
            async for ev in self.ws.events():  # messages went to `on_message`: here the connection's life
                if isinstance(ev, WsConnected):
                    self._reconnected = ev.attempt > 1
                    try:
                        token = await conn.ws_token()
                    except VenueError as e:
                        log.error("%s: no WebSocket token: %s", conn.venue, e)
                        continue
                    self._token = token
                    params = {
                        "channel": "executions",
                        "token": token,
                        "snap_orders": True,
                        "snap_trades": False,
                    }
                    await self.ws.send(orjson.dumps({"method": "subscribe", "params": params}))
                elif isinstance(ev, WsDisconnected | WsStale):
                    self._lost()
                    conn._health.down(Stream.PRIVATE, lost(ev))
        finally:
            for task in self.catch_ups:
                task.cancel()

    def message(self, m: Any, ts_recv: int) -> None:
        conn = self._conn
        if m.get("method") == "subscribe":
            if not m.get("success"):
                log.error("%s: executions refused: %s", conn.venue, m.get("error"))
                return
            conn.private_ready.set()
            if self._reconnected:
                self._reconnected = False
                self.catch_up()
            return
        if m.get("channel") != "executions":
            return
        for d in m.get("data") or []:
            self.execution(d, ts_recv)

    def catch_up(self) -> None:
        """The connector's REST catch-up after a reconnect, in a task (a message's handler never waits),
        cancelled when the stream ends."""
        task = asyncio.get_running_loop().create_task(self._conn.catch_up())
        self.catch_ups.add(task)
        task.add_done_callback(self.catch_ups.discard)

    def execution(self, d: dict[str, Any], ts_recv: int) -> None:
        conn = self._conn
        pair = conn.by_symbol.get(str(d.get("symbol")))
        if pair is None:
            return
        spec = conn.specs[pair.altname]
        if not d.get("cl_ord_id") and str(d["order_id"]) in conn._cids:
            d = {**d, "cl_ord_id": conn._cids[str(d["order_id"])]}
        if d.get("timestamp"):
            conn.last_event_ns = max(conn.last_event_ns, parse.parse_time(str(d["timestamp"])))
        if d.get("exec_type") == "trade":
            conn.put(parse.exec_fill(d, pair.altname, spec, ts_recv))
        if "order_qty" in d:
            report = parse.exec_report(d, pair.altname, spec, ts_recv)
            conn.track(report)
            conn.put(report)
