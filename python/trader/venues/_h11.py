"""A small HTTP/1.1 keep-alive client on asyncio, for `_http.HttpClient`: one `Client` per base URL.

A request is built as one bytes object (request line, `Host`, `User-Agent`, `Accept`, the caller's headers,
`Content-Length`, the body: the query string and body byte for byte as given) and handed to the socket
with one `transport.write`, in the same synchronous step as `on_wire` (the order's tick-to-wire stamp).
If an idle connection is at hand that happens before the first `await`. The answer is parsed as it arrives
(`_Conn`, an `asyncio.Protocol`) and resolves one future when complete: Content-Length, chunked, or until
close; 1xx skipped; HEAD, 204 and 304 without a body. Anything else is `Malformed`.

Connections: up to `limit` at a time, TCP_NODELAY on each, idle ones kept (last in, first out) for
`keepalive_timeout_s` and never reused once the peer closed them, after `Connection: close`, after a
failure or a cancelled request (its answer's state is unknown). https uses `ssl.create_default_context()`
(or the given context) with SNI.

Failures say what the venue may have seen: `ConnectFailed` nothing was sent (refused, DNS, TLS, connect
timeout, no free connection in time); after the request was written, `Disconnected`, `Malformed` or
`TimeoutError` (`timeout_s`, the whole request). A request is never sent twice, except a read
(`retry_stale`) whose reused idle connection died before any byte of an answer: once, on a new connection.

Deadlines are the event loop's timers (real time, as a network deadline is), not the trader's `Clock`:
a test that advances a `SimClock` by a minute does not time out a request in flight.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from functools import cache
from typing import cast
from urllib.parse import urlsplit

from trader.venues import _wire

Response = tuple[int, dict[str, str], bytes]  # status, headers (lower-case names), body

_NO_BODY_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))  # no Content-Length: 0 without a body
_MAX_LINE = 65_536  # a head or a chunk-size line longer than this is malformed
_STATUS = re.compile(r"HTTP/1\.([01]) ([0-9]{3})(?: [^\r\n]*)?")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DIGITS = re.compile(r"[0-9]{1,18}")
_HEX = re.compile(rb"([0-9A-Fa-f]{1,15})[ \t]*(?:;[^\r\n]*)?")
_IDLE, _HEAD, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(5)


class ConnectFailed(Exception):  # noqa: N818 - named for what happened
    """No connection: nothing of the request was sent."""


class Disconnected(Exception):  # noqa: N818
    """The connection closed or was reset after the request may have left."""


class Malformed(Exception):  # noqa: N818
    """The answer is not HTTP/1.1 as this client reads it."""


@cache
def default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class _Conn(asyncio.Protocol):
    """One connection and the parser of the answer to its current request."""

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = loop.create_future()
        self.closed = False
        self.fut: asyncio.Future[Response] | None = None  # the answer being read
        self.buf = bytearray()
        self.state = _IDLE
        self.head_only = False
        self.got = False  # a byte of the current answer arrived
        self.reusable = True
        self.idle_at = 0.0
        self.need = 0
        self.status = 0
        self.headers: dict[str, str] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass
        _wire.nodelay(transport)
        self.client._open.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        self.client._gone(self)
        if self.state == _UNTIL_CLOSE and exc is None:
            self._until_closed()
        elif self.fut is not None and not self.fut.done():
            why = "an incomplete answer" if self.got else "no answer"
            self.fut.set_exception(Disconnected(f"the connection closed with {why}"))
        if not self.lost.done():
            self.lost.set_result(None)

    def eof_received(self) -> bool | None:
        self.reusable = False
        if self.state == _UNTIL_CLOSE:
            self._until_closed()
        return None  # the transport closes

    def data_received(self, data: bytes) -> None:
        if self.fut is None or self.fut.done():  # bytes nobody asked for: the connection is not to be trusted
            self.reusable = False
            self.abort()
            return
        self.got = True
        self.buf += data
        try:
            self._parse()
        except Malformed as e:
            self.fut.set_exception(e)
            self.abort()

    def abort(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def send(
        self, data: bytes, head_only: bool, on_wire: Callable[[], None] | None
    ) -> asyncio.Future[Response]:
        """Write the request (stamped in the same step); the future resolves with the answer."""
        assert self.transport is not None
        if self.closed or self.transport.is_closing():
            raise ConnectFailed("the connection closed before the request was sent")
        fut: asyncio.Future[Response] = self.lost.get_loop().create_future()
        self.fut, self.state, self.head_only, self.got = fut, _HEAD, head_only, False
        if on_wire is not None:
            on_wire()
        self.transport.write(data)
        return fut

    def time_out(self) -> None:
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(TimeoutError())

    def _until_closed(self) -> None:
        body = bytes(self.buf)
        self.buf.clear()
        self._done(body)

    def _done(self, body: bytes) -> None:
        self.state = _IDLE
        if self.buf:  # more than the answer: never reuse
            self.reusable = False
        assert self.fut is not None
        if not self.fut.done():
            self.fut.set_result((self.status, self.headers, body))

    def _parse(self) -> None:
        if self.state == _HEAD and not self._head():
            return
        buf = self.buf
        if self.state == _LENGTH and len(buf) >= self.need:
            body = bytes(buf[: self.need])
            del buf[: self.need]
            self._done(body)
        elif self.state == _CHUNKED and (chunked := _dechunk(buf)) is not None:
            del buf[: chunked[1]]
            self._done(chunked[0])

    def _head(self) -> bool:
        """Read the status line and headers (past any 1xx) and choose how the body ends."""
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            lines = self.buf[:end].decode("latin-1").split("\r\n")
            del self.buf[: end + 4]
            m = _STATUS.fullmatch(lines[0])
            if m is None:
                raise Malformed("not an HTTP/1.x status line")
            status = self.status = int(m[2])
            if status == 101:
                raise Malformed("a protocol switch nobody asked for")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep or not _TOKEN.fullmatch(name):
                    raise Malformed("a malformed header line")
                key = name.lower()
                if key in headers and key in ("content-length", "transfer-encoding"):
                    raise Malformed(f"{key} repeated")
                headers[key] = value.strip(" \t")
            if status >= 200:  # else informational: the answer follows
                self.headers = headers
                tokens = headers.get("connection", "").lower()
                keep = "keep-alive" in tokens if m[1] == "0" else "close" not in tokens
                self.reusable = self.reusable and keep
                return self._framing(status, headers)
        if len(self.buf) > _MAX_LINE:
            raise Malformed("the answer's head is too long")
        return False

    def _framing(self, status: int, headers: dict[str, str]) -> bool:
        te, cl = headers.get("transfer-encoding"), headers.get("content-length")
        if self.head_only or status in (204, 304):
            self._done(b"")
            return False
        if te is not None:
            if cl is not None or te.lower() != "chunked":
                raise Malformed("an unsupported Transfer-Encoding")
            self.state = _CHUNKED
        elif cl is not None:
            if not _DIGITS.fullmatch(cl):
                raise Malformed("a malformed Content-Length")
            self.need, self.state = int(cl), _LENGTH
        else:
            self.state, self.reusable = _UNTIL_CLOSE, False
        return True


def _dechunk(buf: bytearray) -> tuple[bytes, int] | None:
    """A chunked body complete in `buf` and its length there; None while incomplete."""
    parts: list[bytes] = []
    pos = 0
    while (eol := buf.find(b"\r\n", pos)) >= 0:
        m = _HEX.fullmatch(buf, pos, eol)
        if m is None:
            raise Malformed("a malformed chunk size")
        size, pos = int(m[1], 16), eol + 2
        if not size:
            while (eol := buf.find(b"\r\n", pos)) > pos:  # trailers, up to the blank line
                if b":" not in buf[pos:eol]:
                    raise Malformed("a malformed trailer")
                pos = eol + 2
            return (b"".join(parts), eol + 2) if eol == pos else None
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size : pos + size + 2] != b"\r\n":
            raise Malformed("a chunk without its CRLF")
        parts.append(bytes(buf[pos : pos + size]))
        pos += size + 2
    if len(buf) - pos > _MAX_LINE:
        raise Malformed("a chunk size line is too long")
    return None


class Client:
    """Keep-alive connections to one base URL (`http(s)://host[:port][/prefix]`)."""

    def __init__(
        self,
        base_url: str,
        *,
        user_agent: str,
        timeout_s: float,
        connect_timeout_s: float,
        limit: int = 32,
        keepalive_timeout_s: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("the base URL must be http(s)://host[:port][/path]")
        self._tls = url.scheme == "https"
        self._hostname = url.hostname
        self._port = url.port or (443 if self._tls else 80)
        host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
        if url.port is not None and url.port != (443 if self._tls else 80):
            host += f":{url.port}"
        self._prefix = url.path.rstrip("/")
        self._fixed = f" HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n"
        self._timeout, self._connect_timeout = timeout_s, connect_timeout_s
        self._limit, self._keepalive = limit, keepalive_timeout_s
        self._ssl = ssl_context
        self._idle: list[_Conn] = []  # most recent last
        self._open: set[_Conn] = set()
        self._busy = 0  # connections in use or being opened
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._sweeper: asyncio.TimerHandle | None = None

    def encode(
        self, method: str, path: str, query: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> bytes:
        """The request as sent, one bytes object; a CR, LF or space that would split a line: ValueError."""
        target = f"{self._prefix}{path}" or "/"
        if query:
            target = f"{target}?{query}"
        parts = [method, " ", target, self._fixed]
        lines = 5  # the request line, Host, User-Agent, Accept, the blank line
        if headers:
            lines += len(headers)
            for k, v in headers.items():
                parts += (k, ": ", v, "\r\n")
        if body is not None:
            parts.append(f"Content-Length: {len(body)}\r\n")
            lines += 1
        elif method not in _NO_BODY_METHODS:
            parts.append("Content-Length: 0\r\n")
            lines += 1
        parts.append("\r\n")
        head = "".join(parts)
        if " " in target or head.count("\n") != lines or head.count("\r") != lines:
            raise ValueError("a line break or a space inside the request line or a header")
        data = head.encode()
        return data + body if body else data

    async def request(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        *,
        on_wire: Callable[[], None] | None = None,
        retry_stale: bool = False,
    ) -> Response:
        """Send one request and read its answer; see the module docstring for the failures."""
        data = self.encode(method, path, query, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        conn = self._take(loop)
        if conn is not None and retry_stale:
            try:
                return await self._exchange(conn, data, method, deadline, on_wire)
            except Disconnected:
                if conn.got:
                    raise
            conn = None  # a stale idle connection, nothing read: a read goes once more on a new one
        if conn is None:
            conn = await self._acquire(loop, deadline)
        return await self._exchange(conn, data, method, deadline, on_wire)

    async def _exchange(
        self, conn: _Conn, data: bytes, method: str, deadline: float, on_wire: Callable[[], None] | None
    ) -> Response:
        try:
            fut = conn.send(data, method == "HEAD", on_wire)
        except BaseException:
            self._release(conn)
            raise
        timer = fut.get_loop().call_at(deadline, conn.time_out)
        try:
            resp = await fut
        except BaseException:  # failed, timed out or cancelled: the answer's state is unknown
            conn.abort()
            raise
        finally:
            timer.cancel()
            self._release(conn)
        return resp

    def _take(self, loop: asyncio.AbstractEventLoop) -> _Conn | None:
        """The most recently used idle connection that is still good, counted as busy."""
        while self._idle:
            conn = self._idle.pop()
            assert conn.transport is not None
            if conn.closed or conn.transport.is_closing() or loop.time() - conn.idle_at > self._keepalive:
                conn.abort()
                continue
            self._busy += 1
            return conn
        return None

    async def _acquire(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Conn:
        while self._busy >= self._limit:
            await self._wait_slot(loop, deadline)
            conn = self._take(loop)
            if conn is not None:
                return conn
        self._busy += 1
        try:
            return await self._dial(loop, deadline)
        except BaseException:
            self._busy -= 1
            self._wake()
            raise

    async def _wait_slot(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append(fut)

        def expire() -> None:
            if not fut.done():
                fut.set_exception(ConnectFailed("no free connection in time"))

        timer = loop.call_at(deadline, expire)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._wake()  # woken, then cancelled: the turn goes to the next
            raise
        finally:
            timer.cancel()
            if fut in self._waiters:
                self._waiters.remove(fut)

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def _dial(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Conn:
        ctx = (self._ssl or default_ssl_context()) if self._tls else None
        task = loop.create_task(
            loop.create_connection(
                lambda: _Conn(self, loop),
                self._hostname,
                self._port,
                ssl=ctx,
                server_hostname=self._hostname if ctx is not None else None,
            )
        )
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            task.cancel()

        timer = loop.call_at(min(deadline, loop.time() + self._connect_timeout), expire)
        try:
            return (await task)[1]
        except asyncio.CancelledError:
            if timed_out:
                raise ConnectFailed("connect timeout") from None
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result()[1].abort()  # connected just as we were cancelled
            raise
        except OSError as e:  # refused, unreachable, DNS, TLS
            raise ConnectFailed(type(e).__name__) from None
        finally:
            timer.cancel()

    def _release(self, conn: _Conn) -> None:
        self._busy -= 1
        if conn.reusable and not conn.closed:
            loop = conn.lost.get_loop()
            conn.idle_at = loop.time()
            conn.fut = None
            self._idle.append(conn)
            if self._sweeper is None:
                self._sweeper = loop.call_at(conn.idle_at + self._keepalive, self._sweep)
        else:
            conn.abort()
        self._wake()

    def _sweep(self) -> None:
        """Close the connections idle for `keepalive_timeout_s` (the oldest are first)."""
        self._sweeper = None
        if not self._idle:
            return
        loop = self._idle[0].lost.get_loop()
        now = loop.time()
        while self._idle and now - self._idle[0].idle_at >= self._keepalive:
            self._idle.pop(0).abort()
        if self._idle:
            self._sweeper = loop.call_at(self._idle[0].idle_at + self._keepalive, self._sweep)

    def _gone(self, conn: _Conn) -> None:
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)

    async def close(self) -> None:
        """Close every connection (a request in flight fails); the client can be used again."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._idle.clear()
        loop = asyncio.get_running_loop()
        conns = [c for c in self._open if c.lost.get_loop() is loop]
        for conn in conns:
            conn.abort()
        if conns:
            await asyncio.wait([c.lost for c in conns])
