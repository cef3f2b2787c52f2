"""The WebSocket transport every streaming connector uses: reconnect with backoff, keepalive pings,
resubscribe on every connect, and staleness detection.

`events()` yields `WsConnected` (after `on_connect` sent the subscriptions: state such as an order book must
be rebuilt now), every frame as `WsMessage`, `WsDisconnected` when the connection drops and `WsStale` when
nothing arrived for `stale_after_s` (the socket is then closed and reopened: a silent feed is never
traded on as if it were live). Backoff is exponential with seeded jitter and resets after a connection
that delivered data.

The protocol is websockets' own sans-I/O implementation (handshake, framing, masking, ping replies, the
closing handshake), driven here directly by the transport's callbacks (`_Link`): no task per connection
or frame, no lock, no queue between the socket and us.

Latency: every connection has TCP_NODELAY (a small frame is never held back for Nagle); `send` writes the
frame in the calling step and stamps the current order's `WireProbe` (`trader.venues._wire`). A message is
stamped (`ts_recv`) when the read that completed it returns. With `on_message` (a synchronous handler
that returns whether it took the message), a message is handed over in the very call that read it from
the socket when the reader is waiting and nothing is queued before it: a market-data frame is parsed,
applied to the book and handed to the engine there, with no trip through the event loop. Otherwise it is
queued and the reader hands it over (or yields it, if the handler declines it) in order. `_events.BEHIND`
tells the handler whether newer messages were already read (its events are then queued and conflated):
in a direct hand-over, a message is behind when the same read carried a later one; from the queue, when it
was already waiting.

Nothing a connection carries is logged: the `websockets` library logs every frame and the handshake at
DEBUG, and our frames include logins (Alpaca's key and secret, Binance's WS API logon, Polymarket's L2
credentials). Each connection gets `FRAME_SAFE_LOG`, which logs a frame as its kind and size only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import struct
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import USER_AGENT
from websockets.protocol import State
from websockets.uri import parse_uri

from trader.clock import Clock
from trader.errors import VenueUnavailableError
from trader.venues import _wire
from trader.venues._events import BEHIND, end_of_read


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


OnMessage = Callable[[bytes, int], bool]
_HIGH, _LOW = 4096, 1024  # queued messages at which reading pauses, and resumes


class _Link(asyncio.Protocol):
    """One connection: websockets' sans-I/O protocol (handshake, framing, masking, ping replies, the
    closing handshake) driven directly by the transport's callbacks, with no task and no lock of its own.

    A message is stamped when the read that completed it returns (`ts_recv`). It is handed to the client's
    `on_message` in that same call when the reader is waiting and nothing is queued before it (no trip
    through the event loop); else it is queued for the reader, in order."""

    def __init__(self, client: WsClient, proto: ClientProtocol, loop: asyncio.AbstractEventLoop) -> None:
        self.client, self.proto, self.loop = client, proto, loop
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.inbox: deque[tuple[bytes, int]] = deque()
        self.waiter: asyncio.Future[None] | None = None  # the reader, waiting with nothing queued
        self.error: BaseException | None = None  # raised by `on_message` in a read: the reader's to raise
        self.parts: list[bytes] = []  # a fragmented message so far
        self.messages = 0
        self.rx_mono = 0  # our monotonic clock at the last message
        self.ping_data: bytes | None = None  # the keepalive ping not answered yet
        self.timer: asyncio.TimerHandle | None = None
        self.paused = False
        self.writable: asyncio.Future[None] | None = None  # set while the transport asks us to pause
        self.why = ""  # why we ended it, when we did (a keepalive without answer)

    # ---- transport callbacks ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass
        _wire.nodelay(transport)
        request = self.proto.connect()
        request.headers["User-Agent"] = USER_AGENT
        self.proto.send_request(request)
        self.flush()

    def data_received(self, data: bytes) -> None:
        ts = self.client.clock.now_ns()
        self.proto.receive_data(data)
        events = self.proto.events_received()
        self.flush()
        done: list[bytes] = []
        for ev in events:
            if isinstance(ev, Frame):
                self._frame(ev, done)
            elif not self.opened.done():  # the handshake's answer
                exc = self.proto.handshake_exc
                self.opened.set_exception(exc) if exc is not None else self.opened.set_result(None)
        if done:
            self.messages += len(done)
            self.rx_mono = self.client.clock.monotonic_ns()
            last = len(done) - 1
            for i, msg in enumerate(done):
                self._arrived(msg, ts, i < last)
            if last:
                end_of_read()
        if self.proto.handshake_exc is not None and self.transport is not None:
            self.transport.close()

    def _frame(self, ev: Frame, done: list[bytes]) -> None:
        """A data frame completes a message into `done` (or is one part of it); a pong answers a ping."""
        if ev.opcode is Opcode.TEXT or ev.opcode is Opcode.BINARY:
            data = ev.data if type(ev.data) is bytes else bytes(ev.data)  # the reader's may be a bytearray
            if ev.fin:
                done.append(data)
            else:
                self.parts = [data]
        elif ev.opcode is Opcode.CONT:
            self.parts.append(ev.data)
            if ev.fin:
                done.append(b"".join(self.parts))
                self.parts = []
        elif ev.opcode is Opcode.PONG and bytes(ev.data) == self.ping_data:
            self.ping_data = None

    def eof_received(self) -> bool | None:
        self.proto.receive_eof()
        self.flush()
        return None  # the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.proto.receive_eof()  # idempotent: the protocol is CLOSED now
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("the connection closed during the handshake"))
        self.stop_keepalive()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        if not self.lost.done():
            self.lost.set_result(None)
        self._wake()

    def pause_writing(self) -> None:
        self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    # ---- messages ----

    def _arrived(self, msg: bytes, ts: int, behind: bool) -> None:
        handler = self.client.on_message
        if handler is not None and self.waiter is not None and not self.inbox and self.error is None:
            token = BEHIND.set(behind)
            try:
                if handler(msg, ts):
                    return
            except Exception as e:  # the reader raises it, in its own task, as a handler it ran would
                self.error = e
                self.abort()
                self._wake()
                return
            finally:
                BEHIND.reset(token)
        self.inbox.append((msg, ts))
        if len(self.inbox) >= _HIGH and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def take(self) -> tuple[bytes, int] | None:
        if not self.inbox:
            return None
        item = self.inbox.popleft()
        if self.paused and len(self.inbox) <= _LOW and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return item

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- sending ----

    def flush(self) -> None:
        """Write what the protocol has to send (frames; an empty chunk is the end of our side)."""
        transport = self.transport
        if transport is None:
            return
        for data in self.proto.data_to_send():
            if data:
                transport.write(data)
            elif transport.can_write_eof():
                with contextlib.suppress(OSError, RuntimeError):  # uvloop may raise RuntimeError
                    transport.write_eof()
            else:
                transport.close()

    def is_open(self) -> bool:
        return self.proto.state is State.OPEN and not self.lost.done()

    def keepalive(self, every_s: float) -> None:
        """A ping every `every_s`; one not answered by the next ends the connection. It runs on the event
        loop's own timer, as the library's keepalive did: it is about the socket, not the trading clock."""

        def tick() -> None:
            if not self.is_open():
                return
            if self.ping_data is not None:
                self.why = "keepalive ping timeout"
                self.abort()
                return
            self.ping_data = struct.pack("!I", random.getrandbits(32))
            self.proto.send_ping(self.ping_data)
            self.flush()
            self.timer = self.loop.call_later(every_s, tick)

        self.timer = self.loop.call_later(every_s, tick)

    def stop_keepalive(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def close(self, timeout_s: float) -> None:
        """The closing handshake (1000), the server given `timeout_s` to end the connection."""
        if self.proto.state is State.OPEN:
            self.proto.send_close(1000)
            self.flush()
        if not self.lost.done():
            try:
                await self.client.clock.wait_for(asyncio.shield(self.lost), timeout_s)
            except TimeoutError:
                self.abort()

    def reason(self) -> str:
        exc = self.proto.close_exc
        return str(exc) or type(exc).__name__


class WsClient:
    def __init__(
        self,
        venue: str,
        url: str,
        *,
        clock: Clock,
        on_connect: Callable[[WsClient], Awaitable[None]] | None = None,
        on_message: OnMessage | None = None,
        heartbeat_s: float = 20.0,
        stale_after_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
        max_attempts: int | None = None,
        seed: int = 0,
        open_timeout_s: float = 5.0,
        close_timeout_s: float = 1.0,
    ) -> None:
        self.venue = venue
        self.url = url
        self.clock = clock
        self._on_connect = on_connect
        self.on_message = on_message
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = stale_after_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._max_attempts = max_attempts
        self._rng = random.Random(seed)
        self._open_timeout_s = open_timeout_s
        self._close_timeout_s = close_timeout_s
        self._conn: _Link | None = None
        self._closed = False
        self.connects = 0

    async def send(self, data: bytes | str) -> None:
        """Write one text frame (stamped for tick-to-wire once it is handed to the socket)."""
        link = self._conn
        if link is None or not link.is_open():
            raise VenueUnavailableError("websocket not connected", venue=self.venue)
        if link.writable is not None:  # the socket's buffer is full: wait until it drains
            await link.writable
            if not link.is_open():
                raise VenueUnavailableError("websocket closed while sending", venue=self.venue)
        link.proto.send_text(data if isinstance(data, bytes) else data.encode())
        link.flush()
        _wire.stamp(self.clock)

    async def close(self) -> None:
        self._closed = True
        link = self._conn
        if link is not None:
            await link.close(self._close_timeout_s)
            link._wake()

    def closed(self) -> bool:
        return self._closed

    def _backoff(self, failures: int) -> float:
        base: float = min(self._backoff_max_s, self._backoff_initial_s * 2.0 ** max(0, failures - 1))
        return base * (0.5 + self._rng.random() / 2)

    async def _open(self) -> _Link:
        uri = parse_uri(self.url)
        loop = asyncio.get_running_loop()
        proto = ClientProtocol(uri, max_size=2**24, logger=FRAME_SAFE_LOG)  # no compression: latency

        async def opened() -> _Link:
            _, link = await loop.create_connection(
                lambda: _Link(self, proto, loop),
                uri.host,
                uri.port,
                ssl=ssl.create_default_context() if uri.secure else None,
            )
            try:
                await link.opened
            except BaseException:
                link.abort()
                raise
            return link

        return await self.clock.wait_for(opened(), self._open_timeout_s)

    async def _next(self, link: _Link) -> tuple[bytes, int] | WsStale | None:
        """The next queued message (BEHIND says whether it was already waiting), `WsStale` after
        `stale_after_s` without one, None once the connection is gone. Messages that `on_message` takes
        are handed to it here too, in order."""
        stale_ns = int(self._stale_after_s * 1e9)
        waited = False
        while not self._closed:
            if link.error is not None:
                raise link.error
            item = link.take()
            if item is not None:
                BEHIND.set(not waited)
                if self.on_message is None or not self.on_message(*item):
                    return item
                waited = False
                continue
            if link.lost.done():
                return None
            remaining = link.rx_mono + stale_ns - self.clock.monotonic_ns()
            if remaining <= 0:
                return WsStale(stale_ns)
            link.waiter = asyncio.get_running_loop().create_future()
            waited = True
            try:
                await self.clock.wait_for(link.waiter, remaining / 1e9)
            except TimeoutError:
                pass
            finally:
                link.waiter = None
        return None

    async def _session(self, link: _Link) -> AsyncGenerator[WsEvent, None]:
        """One connection's events, from `WsConnected` to its end."""
        link.rx_mono = self.clock.monotonic_ns()
        link.keepalive(self._heartbeat_s)
        try:
            if self._on_connect is not None:
                await self._on_connect(self)
            yield WsConnected(self.connects)
            while True:
                item = await self._next(link)
                if item is None:
                    if not self._closed:
                        yield WsDisconnected(link.why or link.reason())
                    return
                if isinstance(item, WsStale):
                    yield item
                    return
                yield WsMessage(*item)
        except VenueUnavailableError as e:  # on_connect could not send: the connection went
            if not self._closed:
                yield WsDisconnected(str(e))
        finally:
            link.stop_keepalive()

    async def events(self) -> AsyncIterator[WsEvent]:
        failures = 0
        while not self._closed:
            try:
                link = await self._open()
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
                failures += 1
                if self._max_attempts is not None and failures >= self._max_attempts:
                    raise VenueUnavailableError(
                        f"websocket: {failures} failed connects ({type(e).__name__})", venue=self.venue
                    ) from None
                await self.clock.sleep(self._backoff(failures))
                continue
            self._conn = link
            self.connects += 1
            try:
                async with contextlib.aclosing(self._session(link)) as session:
                    async for ev in session:
                        yield ev
            finally:
                self._conn = None
                await link.close(self._close_timeout_s)
            failures = 0 if link.messages else failures + 1
            if self.closed():
                return
            if self._max_attempts is not None and failures >= self._max_attempts:
                raise VenueUnavailableError(f"websocket: {failures} connects without data", venue=self.venue)
            await self.clock.sleep(self._backoff(max(failures, 1)))
