"""Bybit's trade WebSocket (`/v5/trade`): order entry, answered by `reqId` (bybit.md §5; pybit's
`_V5TradeWebSocketManager`).

- Login: `{"reqId", "op": "auth", "args": [key, expires, signature]}` (the core's `BybitSigner.ws_auth`),
  answered `{"retCode": 0, "op": "auth", ...}` (10004 a bad signature: `AuthenticationError`).
- An operation: `{"reqId", "header": {"X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"}, "op", "args": [params]}`
  with `op` one of `order.create`, `order.amend`, `order.cancel` and the batch ops `order.create-batch`,
  `order.amend-batch`, `order.cancel-batch` (args `[{"category", "request": [...]}]`). The answer
  `{"reqId", "retCode", "retMsg", "op", "data", "retExtInfo", "header", "connId"}`: a non-zero `retCode`
  is a typed error (`errors.TABLE`), the `header`'s `X-Bapi-Limit*` fold into the local limiter like the
  REST headers. No answer within `timeout_s`, or the socket gone with the request in flight:
  `UnknownOutcomeError` (the engine resolves it with `query`, never by resending).
- An operation's answer resolves its caller's future in the read that brought it (`_response`, the
  transport's `on_message`: no trip through the event loop); the login's answer and pongs go to `run`.
- Liveness: `{"op": "ping"}` every `PING_S`; a drop is logged and the socket reconnects (and logs in) on
  its own: the private stream, not this one, carries the events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from trader.errors import AuthenticationError, UnknownOutcomeError, VenueError, VenueUnavailableError
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsStale
from trader.venues.bybit.endpoints import TIME_WINDOW_CODE
from trader.venues.bybit.errors import error_from
from trader.venues.bybit.private import PING_S

if TYPE_CHECKING:
    from trader.venues.bybit.connector import BybitConnector, WsAuth

log = logging.getLogger("trader.venues.bybit")

OPS = frozenset(
    {
        "order.create",
        "order.amend",
        "order.cancel",
        "order.create-batch",
        "order.amend-batch",
        "order.cancel-batch",
    }
)


class TradeSession:
    """One authenticated `/v5/trade` connection of a connector."""

    def __init__(self, conn: BybitConnector, url: str, auth: WsAuth) -> None:
        self._conn, self._auth = conn, auth
        self.ws = WsClient(
            conn.venue,
            url,
            clock=conn.clock,
            on_connect=self._login,
            on_message=self._response,
            stale_after_s=3 * PING_S,
        )
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._sent = 0  # operations sent (reqIds taken)
        self._prefix = f"t{conn.clock.now_ns() % 10**9:x}"  # reqIds stay unique across restarts
        self.ready = asyncio.Event()  # logged in (or refused: `refused`)
        self.logged_in = False
        self.refused = ""
        self.requests = 0

    async def _login(self, ws: WsClient) -> None:
        self.logged_in = False
        key, expires, signature = self._auth(self._conn.venue_now_ms() + 10_000)
        await ws.send(orjson.dumps({"reqId": "auth", "op": "auth", "args": [key, expires, signature]}))

    async def run(self) -> None:
        pinger = asyncio.get_running_loop().create_task(self._ping())
        try:
            async for ev in self.ws.events():
                if isinstance(ev, WsConnected):
                    continue
                if isinstance(ev, WsDisconnected | WsStale):
                    self._lost(type(ev).__name__)
                    continue
                try:
                    msg = orjson.loads(ev.data)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(msg, dict) and not self.answer(msg):
                    await self.ws.close()
                    return
        finally:
            pinger.cancel()
            self._lost("closed")

    async def _ping(self) -> None:
        while True:
            await self._conn.clock.sleep(PING_S)
            try:
                await self.ws.send(orjson.dumps({"op": "ping"}))
            except VenueError:
                continue

    def _lost(self, why: str) -> None:
        """The socket went: every request in flight has an unknown outcome."""
        self.logged_in = False
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(
                    UnknownOutcomeError(f"trade WebSocket lost ({why})", venue=self._conn.venue)
                )
        self._pending.clear()

    def _response(self, data: bytes, ts_recv: int) -> bool:
        """The answer to an operation we wait for, handed to its caller in the read that brought it (the
        transport's `on_message`); anything else (the login's answer, a pong, a malformed frame) goes to
        `run`."""
        if not self._pending:
            return False
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(msg, dict) or msg.get("op") in ("auth", "pong"):
            return False
        fut = self._pending.pop(str(msg.get("reqId", "")), None)
        if fut is None:
            return False
        if not fut.done():
            fut.set_result(msg)
        return True

    def answer(self, msg: dict[str, Any]) -> bool:
        """One frame `_response` did not take; False when the login was refused (the session stops)."""
        op = msg.get("op")
        if op == "auth":
            if int(msg.get("retCode", -1)) == 0:
                self.logged_in = True
            else:
                self.refused = f"{msg.get('retCode')} {msg.get('retMsg', '')}".strip()
                log.error("%s: trade WebSocket login refused: %s", self._conn.venue, self.refused)
            self.ready.set()
            return self.logged_in
        if op == "pong":
            return True
        fut = self._pending.pop(str(msg.get("reqId", "")), None)
        if fut is not None and not fut.done():
            fut.set_result(msg)
        return True

    async def request(self, op: str, args: list[dict[str, Any]], *, mutating: bool = True) -> dict[str, Any]:
        """Send one operation; its answer's envelope (retCode 0), or the typed error."""
        conn = self._conn
        if op not in OPS:
            raise ValueError(f"unknown trade op {op!r}")
        if not self.logged_in:
            raise VenueUnavailableError("the trade WebSocket is not logged in", venue=conn.venue)
        conn._acquire_order_quota(op)
        rid = self.next_id()
        self._sent += 1
        frame = self.frame(rid, op, args)
        fut = self._pending[rid] = asyncio.get_running_loop().create_future()
        self.requests += 1
        try:
            await self.ws.send(frame)
            msg: dict[str, Any] = await conn.clock.wait_for(asyncio.shield(fut), conn._timeout_s)
        except (TimeoutError, VenueUnavailableError):
            if not mutating:
                raise VenueUnavailableError(f"trade WS {op}: no answer", venue=conn.venue) from None
            raise UnknownOutcomeError(f"trade WS {op}: no answer", venue=conn.venue) from None
        finally:
            self._pending.pop(rid, None)
        head = msg.get("header")
        if isinstance(head, Mapping):
            conn._fold_limits({str(k).lower(): str(v) for k, v in head.items()})
        code = int(msg.get("retCode", -1))
        if code != 0:
            if str(code) == TIME_WINDOW_CODE:
                conn._schedule_resync()  # the header's timestamp fell outside the recv window
            raise error_from(conn.venue, code, str(msg.get("retMsg", "")))
        return msg

    def next_id(self) -> str:
        """The reqId of the next operation sent (taken only by sending it)."""
        return f"{self._prefix}-{self._sent + 1}"

    def frame(self, rid: str, op: str, args: list[dict[str, Any]]) -> bytes:
        """One operation as sent: its reqId, the header stamped with the venue's clock of now and the
        recv window, the op and its args (`request`'s, and a rehearsed order's)."""
        conn = self._conn
        header = {"X-BAPI-TIMESTAMP": str(conn.venue_now_ms()), "X-BAPI-RECV-WINDOW": str(conn._recv_window)}
        return orjson.dumps({"reqId": rid, "header": header, "op": op, "args": args})

    async def wait_ready(self, timeout_s: float) -> None:
        try:
            await self._conn.clock.wait_for(self.ready.wait(), timeout_s)
        except TimeoutError:
            raise VenueUnavailableError("trade WebSocket: no login answer", venue=self._conn.venue) from None
        if self.refused:
            raise AuthenticationError(
                f"trade WebSocket: {self.refused}", venue=self._conn.venue, code="10004"
            )
