"""Alpaca's two WebSocket streams as the connector reads them.

- `/stream` (`authenticate`, then `listen` to `trade_updates`): order events become `OrderReport`s and
  `FillReport`s, handled as they are read (`TradeUpdates.on_message`): a fill of ours reaches the
  engine in the call that read it. After a reconnect the connector catches up by REST (a task).
- The stock market-data stream (`/v2/iex` or `/v2/sip`, JSON mode; numbers parsed as `Decimal`): quotes
  become `BookUpdate`s, trades `TradeTick`s with the aggressor inferred from the last quote. A drop or a
  silent feed is a `BookInvalid`; an auth or subscription error (402, 409) stops the stream. Its frames
  are handled as they are read (`MarketData.on_message`): with the connector's `EventQueue`, a quote
  reaches the engine in the call that read it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.alpaca import parse
from trader.venues.base import BookInvalid, Stream

if TYPE_CHECKING:
    from trader.venues.alpaca.connector import AlpacaConnector

log = logging.getLogger("trader.venues.alpaca")

_STOP_CODES = (402, 409)  # market data: auth failed, not subscribed


def _credentials(conn: AlpacaConnector) -> tuple[str, str]:
    headers = dict(conn._signer.headers())
    return headers["APCA-API-KEY-ID"], headers["APCA-API-SECRET-KEY"]


class TradeUpdates:
    """The private `trade_updates` stream of one connector. Its frames are handled as they are read
    (`on_message`): with the connector's `EventQueue`, a fill of ours reaches the engine in the call that
    read it. The catch-up after a reconnect runs as a task (started when the stream says it listens
    again); a refused login ends the stream in `run`."""

    def __init__(self, conn: AlpacaConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        self._reconnected = False  # connected again: catch up once the stream listens
        self._stop = False  # the login was refused

    @staticmethod
    async def login(conn: AlpacaConnector, ws: WsClient) -> None:
        key, secret = _credentials(conn)
        await ws.send(orjson.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}))
        await ws.send(orjson.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))

    async def run(self) -> None:
        """The stream's life (connects, drops, silence, a refused login); its messages go to
        `on_message`."""
        conn, ws = self._conn, self.ws
        async for ev in ws.events():
            if isinstance(ev, WsConnected):
                self._reconnected = ev.attempt > 1
            elif isinstance(ev, WsDisconnected | WsStale):
                conn._health.down(Stream.PRIVATE, lost(ev))
            elif isinstance(ev, WsMessage) and self._stop:  # the refusal that stopped the stream
                await ws.close()
                return

    def on_message(self, data: bytes, ts_recv: int) -> bool:
        """One frame, handled as it is read (the transport's `on_message`: in the call that read it when
        the engine waits for events, no trip through the event loop). A malformed one is logged and
        skipped, never raised (that would end the stream). False (the frame goes on to `run`, which
        closes the stream) once a refused login stopped it."""
        conn = self._conn
        if self._stop:
            return False
        try:
            msg = orjson.loads(data)
            stream, payload = msg.get("stream"), msg.get("data") or {}
        except (orjson.JSONDecodeError, AttributeError):
            payload = None
        if not isinstance(payload, dict):
            log.warning("%s: malformed trade stream message skipped", conn.venue)
            return True
        if stream == "authorization" and payload.get("status") != "authorized":
            log.error("%s: trade stream: not authorized (%s)", conn.venue, payload.get("message", ""))
            self._stop = True
            return False
        if stream == "listening" and self._reconnected:
            self._reconnected = False
            conn._catch_up_task = asyncio.get_running_loop().create_task(conn._catch_up())
        elif stream == "trade_updates":
            try:
                self.update(payload, ts_recv)
            except (KeyError, TypeError, ValueError, AttributeError, VenueError) as e:
                log.warning("%s: malformed trade update skipped: %s", conn.venue, type(e).__name__)
        return True

    def update(self, data: dict[str, Any], ts_recv: int) -> None:
        conn = self._conn
        o, event = data["order"], str(data["event"])
        if o.get("symbol") not in conn.symbols:
            return
        conn._last_event_ns = max(conn._last_event_ns, parse.parse_time(str(data["timestamp"])))
        report = conn._report(o, ts_recv)
        if event in ("fill", "partial_fill"):
            conn._queue.put_nowait(parse.update_fill(data, report, conn.spec, ts_recv))
        conn._queue.put_nowait(report)


class MarketData:
    """The stock market-data stream of one connector (quotes and trades of its symbols)."""

    def __init__(self, conn: AlpacaConnector, ws: WsClient) -> None:
        self._conn, self.ws = conn, ws
        self._quotes: dict[str, tuple[int, int]] = {}  # symbol -> (bid, ask) units, for trade aggressors
        self._stop = False

    @staticmethod
    async def login(conn: AlpacaConnector, ws: WsClient) -> None:
        key, secret = _credentials(conn)
        await ws.send(orjson.dumps({"action": "auth", "key": key, "secret": secret}))
        symbols = list(conn.symbols)
        await ws.send(orjson.dumps({"action": "subscribe", "quotes": symbols, "trades": symbols}))

    async def run(self) -> None:
        """The stream's life (drops, silence, a stop); its messages go to `on_message`."""
        conn, ws = self._conn, self.ws
        async for ev in ws.events():
            if isinstance(ev, WsDisconnected | WsStale):
                conn._health.down(Stream.MARKET, lost(ev))
                self._quotes.clear()
                for s in conn.symbols:
                    conn._queue.put_nowait(BookInvalid(s, type(ev).__name__, ts_recv=conn.clock.now_ns()))
            elif isinstance(ev, WsMessage) and self._stop:  # the message that stopped the stream
                await ws.close()
                return

    def on_message(self, data: bytes, ts_recv: int) -> bool:
        """One frame, handled as it is read (the transport's `on_message`: in the call that read it when
        the engine waits for events, no trip through the event loop). A malformed one is logged and
        skipped, never raised (that would end the stream). False (the frame goes on to `run`, which
        closes the stream) once an auth or subscription error stopped it."""
        if self._stop:
            return False
        try:
            msgs = json.loads(data, parse_float=Decimal)
            for m in msgs if isinstance(msgs, list) else [msgs]:
                self.message(m, ts_recv)
        except (ValueError, KeyError, TypeError, AttributeError, VenueError) as e:
            log.warning("%s: malformed market data skipped: %s", self._conn.venue, type(e).__name__)
        return not self._stop

    def message(self, m: dict[str, Any], ts_recv: int) -> None:
        conn = self._conn
        kind = m.get("T")
        if kind == "error":
            log.error("%s: market data error %s: %s", conn.venue, m.get("code"), m.get("msg"))
            if m.get("code") in _STOP_CODES:
                self._stop = True
            return
        symbol = m.get("S")
        if symbol not in conn.symbols:
            return
        if kind == "q":
            q = parse.quote(m, conn.spec, ts_recv)
            self._quotes[symbol] = (q.bid or 0, q.ask or 0)
            conn._queue.put_nowait(q)
            conn._health.up(Stream.MARKET)  # back: a top of book again (quotes are the book here)
        elif kind == "t":
            conn._queue.put_nowait(parse.trade(m, conn.spec, self._quotes.get(symbol, (0, 0)), ts_recv))
