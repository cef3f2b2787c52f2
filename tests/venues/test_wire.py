"""Tick-to-wire stamps (`trader.venues._wire`): an order's send is stamped as its bytes go to the socket,
over HTTP and WebSocket; reads and sends without a probe are not; order sockets have TCP_NODELAY. A frame
already waiting when it is read marks the reader as behind (`_events.BEHIND`)."""

from __future__ import annotations

import asyncio
import contextvars
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from tests.venues.test_transport import CLOCK, serve, ws_server
from trader.venues import _wire
from trader.venues._events import BEHIND
from trader.venues._http import HttpClient
from trader.venues._ws import WsClient, WsConnected, WsMessage


async def _probed(send: Callable[[], Coroutine[Any, Any, object]]) -> _wire.WireProbe:
    """Run `send` as the engine runs an order's send: a task whose context holds a probe."""
    probe = _wire.WireProbe()
    ctx = contextvars.copy_context()
    ctx.run(_wire.PROBE.set, probe)
    await asyncio.get_running_loop().create_task(send(), context=ctx)
    return probe


def test_http_stamps_a_mutating_request_of_a_probed_send_only() -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="{}")

    async def go() -> None:
        async with serve([web.route("*", "/order", ok)]) as url:
            http = HttpClient("t", url, clock=CLOCK)
            try:
                before = CLOCK.now_ns()
                sent = await _probed(lambda: http.request("POST", "/order", mutating=True))
                assert before <= sent.wire_ns <= CLOCK.now_ns()
                read = await _probed(lambda: http.request("GET", "/order", mutating=False))
                assert read.wire_ns == 0, "a read is not an order's send"
                await http.request("POST", "/order", mutating=True)  # no probe: nothing to stamp, no error
            finally:
                await http.close()

    asyncio.run(go())


def test_ws_send_is_stamped_and_the_socket_has_nodelay() -> None:
    async def handler(ws: web.WebSocketResponse, _attempt: int) -> None:
        async for _ in ws:
            pass

    async def go() -> None:
        async with serve(ws_server(handler)) as url:
            ws = WsClient("t", url.replace("http", "ws") + "/ws", clock=CLOCK)
            events = ws.events()
            try:
                assert isinstance(await anext(events), WsConnected)
                conn = ws._conn
                assert conn is not None
                assert conn.transport is not None
                sock = conn.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                before = CLOCK.now_ns()
                probe = await _probed(lambda: ws.send(b'{"method":"order.place"}'))
                assert before <= probe.wire_ns <= CLOCK.now_ns()
            finally:
                await ws.close()
                await events.aclose()  # type: ignore[attr-defined]  # an async generator

    asyncio.run(go())


def test_frames_already_waiting_mark_the_reader_behind() -> None:
    async def handler(ws: web.WebSocketResponse, _attempt: int) -> None:
        await ws.send_str("one")
        await ws.send_str("two")
        await CLOCK.sleep(0.3)
        await ws.send_str("three")
        async for _ in ws:
            pass

    async def go() -> None:
        async with serve(ws_server(handler)) as url:
            ws = WsClient("t", url.replace("http", "ws") + "/ws", clock=CLOCK)
            events = ws.events()
            try:
                assert isinstance(await anext(events), WsConnected)
                await CLOCK.sleep(0.1)  # both frames arrive while we are busy
                seen = []
                for _ in range(3):
                    ev = await anext(events)
                    assert isinstance(ev, WsMessage)
                    seen.append((ev.data, BEHIND.get()))
                assert seen == [(b"one", True), (b"two", True), (b"three", False)]
            finally:
                await ws.close()
                await events.aclose()  # type: ignore[attr-defined]  # an async generator

    asyncio.run(go())
