"""The WebSocket transport every streaming connector uses: reconnect with backoff, keepalive pings,
resubscribe on every connect, and staleness detection.

`events()` yields `WsConnected` (after `on_connect` sent the subscriptions: state such as an order book must
be rebuilt now), every frame as `WsMessage`, `WsDisconnected` when the connection drops and `WsStale` when
nothing arrived for `stale_after_s` (the socket is then closed and reopened: a silent feed is never
traded on as if it were live). Backoff is exponential with seeded jitter and resets after a connection
that delivered data.

Latency: every connection has TCP_NODELAY (a small frame is never held back for Nagle); `send` stamps the
current order's `WireProbe` (`trader.venues._wire`) once the frame was written to the transport. A frame
already received is taken at once (`_recv`: no trip through the event loop, no task per frame), and marks
the reader as behind (`_events.BEHIND`: its events are then queued and conflated); only when none is there
does the read wait, on the library's own future, with the staleness timeout.

Nothing a connection carries is logged: the `websockets` library logs every frame and the handshake at
DEBUG, and our frames include logins (Alpaca's key and secret, Binance's WS API logon, Polymarket's L2
credentials). Each connection gets `FRAME_SAFE_LOG`, which logs a frame as its kind and size only.
"""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import Frame

from trader.clock import Clock
from trader.errors import VenueUnavailableError
from trader.venues import _wire
from trader.venues._events import BEHIND


class _RedactedFrame(Frame):
    """A frame as our logs show it: its kind and size, never its payload."""

    def __str__(self) -> str:
        return f"{self.opcode.name} [{len(self.data)} bytes, payload not logged]"

    __repr__ = __str__


_SENSITIVE = ("authorization", "cookie", "key", "secret", "token", "passphrase", "signature")


class FrameSafeLogger(logging.LoggerAdapter[logging.Logger]):
    """The logger `websockets` gets for our connections (its own `websockets.client`, so the filters and
    levels an operator set still apply). At DEBUG the library logs every frame and the handshake; here a
    frame is logged as its kind and size only (`> TEXT [69 bytes, payload not logged]`) and a handshake
    header that may carry a credential loses its value."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        safe = tuple(_redact(a) for a in args)
        if msg in ("> %s: %s", "< %s: %s") and len(safe) == 2 and _sensitive(safe[0]):
            safe = (safe[0], "<redacted>")
        self.logger.log(level, msg, *safe, **kwargs)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs


def _redact(arg: object) -> object:
    if isinstance(arg, Frame) and not isinstance(arg, _RedactedFrame):
        return _RedactedFrame(arg.opcode, arg.data, arg.fin, arg.rsv1, arg.rsv2, arg.rsv3)
    return arg


def _sensitive(header: object) -> bool:
    name = str(header).lower()
    return any(word in name for word in _SENSITIVE)


FRAME_SAFE_LOG = FrameSafeLogger(logging.getLogger("websockets.client"), {})


@dataclass(frozen=True)
class WsConnected:
    attempt: int  # 1 for the first connection, then counts reconnects


@dataclass(frozen=True)
class WsMessage:
    data: bytes
    ts_recv: int  # our clock (Clock.now_ns) when the frame was read


@dataclass(frozen=True)
class WsDisconnected:
    reason: str


@dataclass(frozen=True)
class WsStale:
    silence_ns: int


WsEvent = WsConnected | WsMessage | WsDisconnected | WsStale


async def _recv(recv: Coroutine[Any, Any, Any], clock: Clock, timeout_s: float) -> Any:
    """`recv`'s result: at once when a frame is already there (we are behind: `_events.BEHIND` is set
    while it is handled); else waited for on the future it blocks on (`clock.wait_for`, no task),
    `TimeoutError` (and `recv` closed) after `timeout_s` in all."""
    deadline = clock.monotonic_ns() + int(timeout_s * 1e9)
    waited = False
    while True:
        try:
            blocked_on = recv.send(None)
        except StopIteration as done:
            BEHIND.set(not waited)
            return done.value
        waited = True
        if blocked_on is None:  # a bare yield: give the loop a turn
            await clock.sleep(0)
            continue
        try:
            await clock.wait_for(blocked_on, max(0.0, (deadline - clock.monotonic_ns()) / 1e9))
        except BaseException:
            if blocked_on.done() and not blocked_on.cancelled():
                continue  # the library's future failed (a closed connection): `recv` says how
            recv.close()  # a timeout, or our task cancelled: the read is abandoned
            raise


def nodelay(conn: ClientConnection) -> None:
    """TCP_NODELAY on the connection's socket (asyncio and uvloop set it on TCP too; said here once)."""
    sock = conn.transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class WsClient:
    def __init__(
        self,
        venue: str,
        url: str,
        *,
        clock: Clock,
        on_connect: Callable[[WsClient], Awaitable[None]] | None = None,
        heartbeat_s: float = 20.0,
        stale_after_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
        max_attempts: int | None = None,
        seed: int = 0,
        open_timeout_s: float = 5.0,
    ) -> None:
        self.venue = venue
        self.url = url
        self.clock = clock
        self._on_connect = on_connect
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = stale_after_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._max_attempts = max_attempts
        self._rng = random.Random(seed)
        self._open_timeout_s = open_timeout_s
        self._conn: ClientConnection | None = None
        self._closed = False
        self.connects = 0

    async def send(self, data: bytes | str) -> None:
        conn = self._conn
        if conn is None:
            raise VenueUnavailableError("websocket not connected", venue=self.venue)
        try:
            await conn.send(data if isinstance(data, str) else data.decode())
        except ConnectionClosed:
            raise VenueUnavailableError("websocket closed while sending", venue=self.venue) from None
        _wire.stamp(self.clock)

    async def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            await self._conn.close()

    def closed(self) -> bool:
        return self._closed

    def _backoff(self, failures: int) -> float:
        base: float = min(self._backoff_max_s, self._backoff_initial_s * 2.0 ** max(0, failures - 1))
        return base * (0.5 + self._rng.random() / 2)

    async def events(self) -> AsyncIterator[WsEvent]:
        failures = 0
        while not self._closed:
            try:
                conn = await connect(
                    self.url,
                    ping_interval=self._heartbeat_s,
                    ping_timeout=self._heartbeat_s,
                    open_timeout=self._open_timeout_s,
                    max_size=2**24,
                    compression=None,  # no permessage-deflate: inflating every frame is latency
                    logger=FRAME_SAFE_LOG,
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
                failures += 1
                if self._max_attempts is not None and failures >= self._max_attempts:
                    raise VenueUnavailableError(
                        f"websocket: {failures} failed connects ({type(e).__name__})", venue=self.venue
                    ) from None
                await self.clock.sleep(self._backoff(failures))
                continue
            self._conn = conn
            self.connects += 1
            nodelay(conn)
            got_data = False
            try:
                if self._on_connect is not None:
                    await self._on_connect(self)
                yield WsConnected(self.connects)
                while True:
                    try:
                        frame = await _recv(conn.recv(decode=False), self.clock, self._stale_after_s)
                    except TimeoutError:
                        yield WsStale(int(self._stale_after_s * 1e9))
                        break
                    got_data = True
                    data = frame.encode() if isinstance(frame, str) else frame
                    yield WsMessage(data, self.clock.now_ns())
            except (ConnectionClosed, VenueUnavailableError) as e:
                if not self._closed:
                    yield WsDisconnected(str(e) or type(e).__name__)
            finally:
                self._conn = None
                await conn.close()
            failures = 0 if got_data else failures + 1
            if self.closed():
                return
            if self._max_attempts is not None and failures >= self._max_attempts:
                raise VenueUnavailableError(f"websocket: {failures} connects without data", venue=self.venue)
            await self.clock.sleep(self._backoff(max(failures, 1)))
