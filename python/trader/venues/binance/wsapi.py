"""The Binance WebSocket API client: one kept-open connection, signed requests matched to their answers by
id, and the user-data subscription's events handed on (binance.md §6)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from trader.errors import UnknownOutcomeError, VenueError, VenueUnavailableError
from trader.venues._http import status_error
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsStale
from trader.venues.base import Stream
from trader.venues.binance.errors import error_from
from trader.venues.binance.parse import ws_retry_after_ns

if TYPE_CHECKING:
    from trader.venues.binance.connector import BinanceConnector

log = logging.getLogger("trader.venues.binance")


def frame(rid: int, method: str, params_json: str) -> bytes:
    """One request's text: its id, method and signed parameters (`params_json`, the signer's)."""
    return b'{"id":%d,"method":"%s","params":%s}' % (rid, method.encode(), params_json.encode())


class WsApi:
    """A kept-open WebSocket API connection: signed requests matched to responses by id; events (the
    user-data subscription) handed to `on_event` with their frame's `ts_recv`; `on_connect` runs on every
    (re)connect. Responses and events are handled in the read that brought them (`_message`, the
    transport's `on_message`)."""

    def __init__(
        self,
        conn: BinanceConnector,
        url: str,
        *,
        on_connect: Callable[[WsApi, int], Awaitable[None]] | None = None,
        on_event: Callable[[dict[str, Any], int], None] | None = None,
    ) -> None:
        self._conn = conn
        self._on_connect = on_connect
        self._on_event = on_event
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._ready = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None
        self.ws = WsClient(conn.venue, url, clock=conn.clock, stale_after_s=3600, on_message=self._message)

    async def wait_ready(self, timeout_s: float) -> None:
        await self.ws.clock.wait_for(self._ready.wait(), timeout_s)

    async def run(self) -> None:
        async for ev in self.ws.events():
            if isinstance(ev, WsConnected):
                self._ready.set()
                if self._on_connect is not None:  # a task: its requests' responses arrive on this loop
                    self._connect_task = asyncio.get_running_loop().create_task(self._connected(ev.attempt))
                continue
            if isinstance(ev, WsDisconnected | WsStale):
                self._ready.clear()
                if self._on_event is not None:  # it carries the private stream
                    self._conn._health.down(Stream.PRIVATE, lost(ev))
                self._fail_pending(f"websocket API dropped ({type(ev).__name__})")
                continue
            try:
                msg = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                log.warning("malformed WebSocket API message skipped")
                continue
            if isinstance(msg, dict) and msg.get("status") not in (None, 200):
                log.error("%s: WebSocket API: %s", self._conn.venue, msg.get("error", {}).get("msg", "?"))

    def _message(self, data: bytes, ts_recv: int) -> bool:
        """A response to a request we wait for (handed to its caller) or a user-data event (to `on_event`),
        in the read that brought it (the transport's `on_message`); anything else (an unmatched or failed
        response, a malformed message) goes to `run`."""
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(msg, dict):
            return False
        rid = msg.get("id")
        fut = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if fut is not None:
            if not fut.done():
                fut.set_result(msg)
            return True
        event = msg.get("event")
        if isinstance(event, dict) and self._on_event is not None:
            self._on_event(event, ts_recv)
            return True
        return False

    async def _connected(self, attempt: int) -> None:
        assert self._on_connect is not None
        try:
            await self._on_connect(self, attempt)
        except VenueError as e:
            log.warning("%s: on connect: %s", self._conn.venue, e)

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(VenueUnavailableError(why, venue=self._conn.venue))

    async def request(
        self, method: str, params_json: str, *, mutating: bool, timeout_s: float
    ) -> dict[str, Any]:
        """Send one request and wait for its response. A lost or late response to a mutating request is
        an unknown outcome (the request may have been executed)."""
        venue = self._conn.venue
        if not self._ready.is_set():
            raise VenueUnavailableError("websocket API not connected", venue=venue)
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        raw = frame(rid, method, params_json)
        try:
            await self.ws.send(raw)
        except VenueUnavailableError:
            self._pending.pop(rid, None)
            raise  # never left this process
        try:
            msg = await self.ws.clock.wait_for(fut, timeout_s)
        except (TimeoutError, VenueUnavailableError) as e:
            self._pending.pop(rid, None)
            if mutating:
                raise UnknownOutcomeError(
                    f"{method}: no response ({type(e).__name__})", venue=venue
                ) from None
            raise VenueUnavailableError(f"{method}: no response", venue=venue) from None
        return self._answer(method, msg, mutating)

    def _answer(self, method: str, msg: dict[str, Any], mutating: bool) -> dict[str, Any]:
        """A response's result, or its error: 418/429/5xx read as HTTP answers are (`status_error`), any
        other status by Binance's code table."""
        self._conn._observe_ws_limits(msg.get("rateLimits"))
        status = int(msg.get("status", 0))
        if status == 200:
            result: dict[str, Any] = msg.get("result") or {}
            return result
        retry_ns = ws_retry_after_ns(msg) if status in (418, 429) else None
        if status == 418:
            self._conn._ban(retry_ns)
        err = status_error(
            self._conn.venue, method, status, mutating=mutating, retry_after_ns=retry_ns, transport="status"
        )
        if err is not None:
            raise err
        body = msg.get("error") or {}
        raise error_from(self._conn.venue, int(body.get("code", status)), str(body.get("msg", "")))

    async def close(self) -> None:
        self._fail_pending("closed")
        if self._connect_task is not None:
            self._connect_task.cancel()
        await self.ws.close()
