"""The WebSocket transport's own protocol handling (`trader.venues._ws`): a message handed to `on_message`
in the very read that brought it when the reader waits, queued and handed over in order when it does not,
a handler's error raised by the reader, fragments assembled around a ping, an unanswered keepalive and a
refused handshake. The server here is raw TCP speaking RFC 6455 by hand, so frames go out exactly as
written (two in one segment, a fragmented message, no pong)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from trader.clock import LiveClock
from trader.errors import VenueUnavailableError
from trader.venues import _ws
from trader.venues._events import BEHIND, DIRECT, EventQueue
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsEvent, WsMessage

CLOCK = LiveClock()
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame (unmasked)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        return head + bytes([n]) + payload
    return head + bytes([126]) + struct.pack("!H", n) + payload


async def client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The next frame from the client (masked, as a client's must be): its opcode and payload."""
    b0, b1 = await reader.readexactly(2)
    assert b1 & 0x80, "a client frame is masked"
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(c ^ mask[i % 4] for i, c in enumerate(data))


@asynccontextmanager
async def raw_server(script: Script, status: int = 101) -> AsyncIterator[str]:
    """A WebSocket server written by hand: the handshake (or a refusal with `status`), then `script`."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        if status != 101:
            writer.write(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\n\r\n" % status)
            await writer.drain()
            writer.close()
            return
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 - RFC 6455 says SHA-1
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await writer.drain()
        try:
            await script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        server.close()


async def until_closed(reader: asyncio.StreamReader) -> None:
    while (await client_frame(reader))[0] != 0x8:
        pass


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(CLOCK.wait_for(body(), 10))


def test_a_message_is_handed_over_in_the_read_that_brought_it() -> None:
    """The reader waits: both frames of one segment are handled in the transport's callback (no task
    runs them), the first marked behind (a later one came in the same read), the last not."""
    go = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await go.wait()
        writer.write(frame(0x1, b"one") + frame(0x1, b"two"))  # one segment
        await until_closed(reader)

    async def body() -> None:
        seen: list[tuple[bytes, bool, bool]] = []

        def handle(data: bytes, ts_recv: int) -> bool:
            assert 0 < ts_recv <= CLOCK.now_ns()
            seen.append((data, BEHIND.get(), asyncio.current_task() is None))
            return True

        async with raw_server(script) as url:
            ws = WsClient("t", url, clock=CLOCK, on_message=handle)
            events = ws.events()
            assert isinstance(await anext(events), WsConnected)

            async def next_event() -> WsEvent:
                return await anext(events)

            reader = asyncio.get_running_loop().create_task(next_event())  # waits for the next event
            await CLOCK.sleep(0.05)
            go.set()
            while len(seen) < 2:
                await CLOCK.sleep(0.01)
            assert seen == [(b"one", True, True), (b"two", False, True)]
            assert not reader.done(), "a message the handler took is never yielded"
            await ws.close()
            with pytest.raises(StopAsyncIteration):  # closed by us: the events end, nothing more
                await reader

    run(body)


def test_messages_read_while_the_reader_is_busy_are_handed_over_by_the_reader_in_order() -> None:
    """Nothing is handed over behind the reader's back: what arrives while it is busy is queued, then the
    reader hands each to the handler in order (behind: it was already waiting) and yields what the
    handler declines, in its place."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(4):
            writer.write(frame(0x1, b"m%d" % i))
        await until_closed(reader)

    async def body() -> None:
        order: list[str] = []

        def handle(data: bytes, ts_recv: int) -> bool:
            order.append(
                f"handled {data.decode()} behind={BEHIND.get()} in_task={asyncio.current_task() is not None}"
            )
            return data != b"m2"  # declined: yielded instead

        async with raw_server(script) as url:
            ws = WsClient("t", url, clock=CLOCK, on_message=handle)
            events = ws.events()
            assert isinstance(await anext(events), WsConnected)
            await CLOCK.sleep(0.1)  # busy: all four arrive meanwhile
            assert order == []
            ev = await anext(events)
            assert isinstance(ev, WsMessage)
            order.append(f"yielded {ev.data.decode()}")
            assert order == [
                "handled m0 behind=True in_task=True",
                "handled m1 behind=True in_task=True",
                "handled m2 behind=True in_task=True",
                "yielded m2",
            ]
            await ws.close()
            assert [e async for e in events] == [], "m3 is not handed over after close"

    run(body)


def test_a_handler_error_is_raised_by_the_reader() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)  # noqa: TID251 - the raw server keeps real time
        writer.write(frame(0x1, b"boom"))
        await until_closed(reader)

    async def body() -> None:
        def handle(data: bytes, ts_recv: int) -> bool:
            raise ValueError(data.decode())

        async with raw_server(script) as url:
            ws = WsClient("t", url, clock=CLOCK, on_message=handle)
            with pytest.raises(ValueError, match="boom"):
                async for _ in ws.events():
                    pass

    run(body)


def test_a_fragmented_message_is_assembled_and_a_ping_between_its_parts_answered() -> None:
    pongs: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        big = b"x" * 300  # an extended length
        writer.write(frame(0x1, b"ab", fin=False) + frame(0x9, b"png") + frame(0x0, big, fin=False))
        writer.write(frame(0x0, b"cd"))
        opcode, data = await client_frame(reader)
        if opcode == 0xA:
            pongs.append(data)
        await until_closed(reader)

    async def body() -> None:
        async with raw_server(script) as url:
            ws = WsClient("t", url, clock=CLOCK)
            got: list[WsEvent] = []
            async for ev in ws.events():
                got.append(ev)
                if isinstance(ev, WsMessage):
                    await ws.close()
            assert isinstance(got[1], WsMessage)
            assert got[1].data == b"ab" + b"x" * 300 + b"cd"
            assert pongs == [b"png"]

    run(body)


def test_an_unanswered_keepalive_ping_ends_the_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(0x1, b"hello"))
        while True:  # reads pings, never answers
            await client_frame(reader)

    async def body() -> None:
        async with raw_server(script) as url:
            ws = WsClient("t", url, clock=CLOCK, heartbeat_s=0.1)
            got: list[WsEvent] = []
            async for ev in ws.events():
                got.append(ev)
                if isinstance(ev, WsDisconnected):
                    await ws.close()
            assert [type(e) for e in got] == [WsConnected, WsMessage, WsDisconnected]
            assert got[2] == WsDisconnected("keepalive ping timeout")

    run(body)


def test_a_refused_handshake_is_a_failed_connect() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise AssertionError("never reached")

    async def body() -> None:
        async with raw_server(script, status=403) as url:
            ws = WsClient("t", url, clock=CLOCK, max_attempts=2, backoff_initial_s=0.01)
            with pytest.raises(VenueUnavailableError, match="2 failed connects"):
                async for _ in ws.events():
                    pass

    run(body)


def test_frames_and_credentials_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG the protocol logs every frame and the handshake: a frame shows as its kind and size, a
    header that may carry a credential loses its value (`_ws.FRAME_SAFE_LOG`)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await client_frame(reader)  # the login
        writer.write(frame(0x1, b'{"token":"server-secret"}'))
        await until_closed(reader)

    async def body() -> None:
        async def login(c: WsClient) -> None:
            await c.send(b'{"op":"login","secret":"client-secret"}')

        async with raw_server(script) as url:
            ws = WsClient("t", url.replace("ws://", "ws://user:pass-secret@"), clock=CLOCK, on_connect=login)
            async for ev in ws.events():
                if isinstance(ev, WsMessage):
                    await ws.close()

    with caplog.at_level(logging.DEBUG, logger="websockets.client"):
        run(body)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "TEXT [" in text, "frames are logged, by kind and size"
    assert "Authorization: <redacted>" in text
    for secret in ("client-secret", "server-secret", "pass-secret", "dXNlcjpwYXNzLXNlY3JldA"):
        assert secret not in text


def test_an_event_of_a_read_reaches_the_engine_in_that_read_though_a_heartbeat_followed_it() -> None:
    """A book frame and then a heartbeat in one segment: the book's event, held while a later frame of
    the read was still to come, reaches the waiting engine when the read ends, not on a later turn."""
    go = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await go.wait()
        writer.write(frame(0x1, b"book") + frame(0x1, b"heartbeat"))
        await until_closed(reader)

    async def body() -> None:
        queue: EventQueue[bytes] = EventQueue()
        got: list[tuple[bytes, bool]] = []

        def handle(data: bytes, ts_recv: int) -> bool:
            if data != b"heartbeat":
                queue.put_nowait(data)
            return True

        def engine(burst: list[bytes]) -> None:
            got.extend((ev, asyncio.current_task() is None) for ev in burst)

        async def pump() -> None:
            DIRECT.set(engine)
            while True:
                got.append((await queue.get(), False))

        async with raw_server(script) as url, AsyncExitStack() as stack:
            ws = WsClient("t", url, clock=CLOCK, on_message=handle)
            events = ws.events()
            stack.push_async_callback(ws.close)
            assert isinstance(await anext(events), WsConnected)

            async def next_event() -> WsEvent:
                return await anext(events)

            reader = asyncio.get_running_loop().create_task(next_event())  # the stream's reader waits
            engine_task = asyncio.get_running_loop().create_task(pump())
            stack.callback(reader.cancel)
            stack.callback(engine_task.cancel)
            await CLOCK.sleep(0.05)
            go.set()
            while not got:
                await CLOCK.sleep(0.01)
            assert got == [(b"book", True)]

    run(body)


def test_a_reader_far_behind_pauses_the_socket_and_loses_nothing() -> None:
    """Past `_HIGH` queued messages the link stops reading the socket (the kernel holds the rest) and
    resumes once the reader has taken the queue down to `_LOW`: every message arrives, in order."""
    first, count = _ws._HIGH + 1500, _ws._HIGH + 1600

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(frame(0x1, b"%d" % i) for i in range(first)))
        await writer.drain()
        await asyncio.sleep(0.1)  # noqa: TID251 - the raw server keeps real time
        writer.write(b"".join(frame(0x1, b"%d" % i) for i in range(first, count)))  # read once resumed
        await writer.drain()
        await until_closed(reader)

    async def body() -> None:
        paused: list[bool] = []
        async with raw_server(script) as url:
            ws = WsClient("t", url, clock=CLOCK)
            got: list[int] = []
            async for ev in ws.events():
                if isinstance(ev, WsConnected):
                    await CLOCK.sleep(0.3)  # busy while everything arrives
                    assert ws._conn is not None
                    paused.append(ws._conn.paused)
                elif isinstance(ev, WsMessage):
                    got.append(int(ev.data))
                    if len(got) == count:
                        await ws.close()
            assert paused == [True], "reading paused while the reader was behind"
            assert got == list(range(count))

    run(body)
