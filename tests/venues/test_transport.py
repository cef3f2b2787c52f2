"""The shared transports: HTTP failure classification and the WebSocket reconnect/stale logic, against
small local servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from trader.clock import LiveClock, SimClock
from trader.core import RateLimiter, Window
from trader.errors import (
    BannedError,
    InvalidOrderError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._http import HttpClient, HttpResponse
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale

CLOCK = LiveClock()
T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


@asynccontextmanager
async def serve(routes: list[web.RouteDef]) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def decode(resp: HttpResponse) -> VenueError | None:
    return InvalidOrderError("rejected", venue="t", code="-2010") if b"-2010" in resp.body else None


def classification_routes(seen: list[str]) -> list[web.RouteDef]:
    """A venue that drops, stalls, fails once, answers each status and echoes: what `HttpClient` sorts out."""
    calls = {"flaky": 0}

    async def record_then_drop(request: web.Request) -> web.Response:
        seen.append(request.raw_path.partition("?")[2])
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    async def slow(request: web.Request) -> web.Response:
        await LiveClock().sleep(0.5)
        return web.Response()

    async def flaky(request: web.Request) -> web.Response:
        calls["flaky"] += 1
        return web.Response(status=503) if calls["flaky"] < 2 else web.Response(body=b"ok")

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        body = b'{"code":-2010,"msg":"no"}' if code == 400 else b"{}"
        return web.Response(status=code, body=body, headers={"Retry-After": "7"})

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=request.raw_path.partition("?")[2].encode() + b"|" + await request.read())

    routes = [
        web.post("/drop", record_then_drop),
        web.get("/drop", record_then_drop),
        web.get("/slow", slow),
        web.post("/slow", slow),
        web.get("/flaky", flaky),
        web.route("*", "/status/{code}", status),
        web.post("/echo", echo),
    ]
    return routes


def test_http_classification() -> None:
    seen: list[str] = []
    routes = classification_routes(seen)

    async def go() -> None:
        async with serve(routes) as url:
            limiter = RateLimiter()
            quota = limiter.add_quota("w", [Window(1000, 60_000_000_000)])
            http = HttpClient(
                "t",
                url,
                clock=CLOCK,
                timeout_s=0.3,
                limiter=limiter,
                quota=quota,
                decode_error=decode,
                retry_backoff_s=0.01,
            )
            async with http:
                secret_q = "symbol=A%2FB&b=2&a=1&signature=deadbeef"
                r = await http.request("POST", "/echo", query=secret_q, body=b"x=1&y=%20", mutating=True)
                assert r.body == b"symbol=A%2FB&b=2&a=1&signature=deadbeef|x=1&y=%20", "sent byte for byte"
                with pytest.raises(UnknownOutcomeError) as unknown:
                    await http.request(
                        "POST",
                        "/drop",
                        query=secret_q,
                        headers={"X-MBX-APIKEY": "supersecret"},
                        mutating=True,
                    )
                assert seen == [secret_q], "the venue received it exactly once: never resent"
                assert "deadbeef" not in str(unknown.value)
                assert "supersecret" not in str(unknown.value)
                with pytest.raises(VenueUnavailableError):
                    await http.request("GET", "/drop", mutating=False)
                assert len(seen) >= 4, "reads are retried (aiohttp may also retry a reset idempotent GET)"
                with pytest.raises(UnknownOutcomeError):
                    await http.request("POST", "/slow", mutating=True)
                with pytest.raises(VenueUnavailableError):
                    await http.request("GET", "/slow", mutating=False)
                assert (await http.request("GET", "/flaky", mutating=False)).body == b"ok"
                with pytest.raises(UnknownOutcomeError, match="503"):
                    await http.request("POST", "/status/503", mutating=True)
                with pytest.raises(InvalidOrderError):
                    await http.request("POST", "/status/400", mutating=True)
                with pytest.raises(VenueError) as other:
                    await http.request("GET", "/status/404", mutating=False)
                assert other.value.code == "404"
                assert not other.value.retryable
                t0 = CLOCK.now_ns()
                with pytest.raises(RateLimitError) as rl:
                    await http.request("GET", "/status/429", mutating=False)
                assert rl.value.retry_after_ns is not None
                assert rl.value.retry_after_ns >= t0 + 7_000_000_000
                with pytest.raises(RateLimitError, match="local"):
                    await http.request("GET", "/echo", mutating=False)  # the limiter now blocks

    asyncio.run(go())


def test_http_ban_and_a_refused_connection() -> None:
    async def go() -> None:
        async with serve(classification_routes([])) as url:
            banned = HttpClient("t", url, clock=CLOCK)
            async with banned:
                with pytest.raises(BannedError):
                    await banned.request("GET", "/status/418", mutating=False)
        closed = HttpClient("t", f"http://127.0.0.1:{free_port()}", clock=CLOCK, retry_backoff_s=0.01)
        async with closed:
            with pytest.raises(VenueUnavailableError, match="cannot connect"):
                await closed.request("POST", "/api/v3/order", mutating=True)

    asyncio.run(go())


def ws_server(handler: Callable[[web.WebSocketResponse, int], Awaitable[None]]) -> list[web.RouteDef]:
    count = {"n": 0}

    async def route(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        count["n"] += 1
        await handler(ws, count["n"])
        return ws

    return [web.get("/ws", route)]


def test_ws_reconnects_and_resubscribes() -> None:
    async def handler(ws: web.WebSocketResponse, n: int) -> None:
        msg = await ws.receive()
        await ws.send_str(f"{n}:{msg.data}")
        if n == 1:
            await ws.close()  # drop the first connection
        else:
            await ws.receive()  # until the client closes

    async def go() -> None:
        async with serve(ws_server(handler)) as url:
            subscribes: list[int] = []

            async def on_connect(c: WsClient) -> None:
                subscribes.append(c.connects)
                await c.send("SUBSCRIBE")

            ws = WsClient(
                "t",
                url.replace("http", "ws") + "/ws",
                clock=CLOCK,
                on_connect=on_connect,
                backoff_initial_s=0.01,
            )
            seen: list[object] = []
            async for ev in ws.events():
                seen.append(ev)
                if isinstance(ev, WsMessage) and ev.data.startswith(b"2:"):
                    await ws.close()
            kinds = [type(e).__name__ for e in seen]
            assert kinds[:4] == ["WsConnected", "WsMessage", "WsDisconnected", "WsConnected"]
            assert subscribes == [1, 2], "resubscribed on the reconnect"
            assert isinstance(seen[-1], WsMessage)
            assert seen[-1].data == b"2:SUBSCRIBE"
            with pytest.raises(VenueUnavailableError):
                await ws.send("x")

    asyncio.run(go())


def test_ws_stale_feed_is_detected_and_reconnected() -> None:
    async def handler(ws: web.WebSocketResponse, n: int) -> None:
        await ws.send_str("hello")
        await ws.receive()  # then silence, until the client closes

    async def go() -> None:
        async with serve(ws_server(handler)) as url:
            ws = WsClient(
                "t", url.replace("http", "ws") + "/ws", clock=CLOCK, stale_after_s=0.2, backoff_initial_s=0.01
            )
            seen: list[object] = []
            async for ev in ws.events():
                seen.append(ev)
                if isinstance(ev, WsConnected) and ev.attempt == 2:
                    await ws.close()
            assert [type(e) for e in seen] == [WsConnected, WsMessage, WsStale, WsConnected]

    asyncio.run(go())


def test_ws_gives_up_after_max_attempts_on_a_closed_port() -> None:
    async def go() -> None:
        ws = WsClient(
            "t", f"ws://127.0.0.1:{free_port()}/ws", clock=CLOCK, max_attempts=3, backoff_initial_s=0.01
        )
        with pytest.raises(VenueUnavailableError, match="3 failed connects"):
            async for _ in ws.events():
                pass

    asyncio.run(go())


def test_ws_disconnect_event_names_the_reason() -> None:
    assert WsDisconnected("going away").reason == "going away"


def test_http_backs_off_the_whole_key_after_a_429_or_418_with_a_margin() -> None:
    """Any 429 the venue reports for the key (also one another client caused) stops every request of
    the key, whatever quota or priority, until Retry-After (a venue rounds it down) plus a margin; a 418
    likewise, and what is refused meanwhile is a ban. Nothing reaches the venue in between."""
    hits: list[str] = []

    async def status(request: web.Request) -> web.Response:
        hits.append(request.path)
        code = int(request.match_info["code"])
        return web.Response(status=code, body=b"{}", headers={"Retry-After": "2"})

    async def ok(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"ok")

    routes = [web.route("*", "/status/{code}", status), web.route("*", "/ok", ok)]

    async def go() -> None:
        clock = SimClock(T0)
        async with serve(routes) as url:
            limiter = RateLimiter()
            weight = limiter.add_quota("weight", [Window(1000, 60_000_000_000)])
            orders = limiter.add_quota("orders", [Window(1000, 60_000_000_000)])
            http = HttpClient("t", url, clock=clock, limiter=limiter, quota=weight)
            async with http:
                with pytest.raises(RateLimitError) as first:
                    await http.request("GET", "/status/429", mutating=False)
                assert first.value.retry_after_ns == T0 + 3 * S, "Retry-After 2 s plus a 1 s margin"
                http.set_quota(orders)
                for method, mutating, priority in (("POST", True, False), ("DELETE", True, True)):
                    with pytest.raises(RateLimitError, match="local"):
                        await http.request(method, "/ok", mutating=mutating, priority=priority)
                clock.advance(2 * S)  # Retry-After has passed; the margin has not
                with pytest.raises(RateLimitError, match="local"):
                    await http.request("POST", "/ok", mutating=True)
                assert hits == ["/status/429"], "nothing reached the venue during the back-off"
                clock.advance(S)
                assert (await http.request("POST", "/ok", mutating=True)).body == b"ok"
                with pytest.raises(BannedError):
                    await http.request("GET", "/status/418", mutating=False)
                with pytest.raises(BannedError) as during:
                    await http.request("GET", "/ok", mutating=False)
                assert during.value.retry_after_ns == clock.now_ns() + 3 * S
                assert hits == ["/status/429", "/ok", "/status/418"]

    asyncio.run(go())


def test_http_reads_wait_for_the_local_limiter_within_a_bound() -> None:
    """Our own budget exhausted: a read (connect, reconcile) waits its turn instead of failing; an order
    is refused at once (the gate approved it at a price now); a wait past the bound fails at once."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=b"ok")

    async def go() -> None:
        clock = SimClock(T0)
        async with serve([web.route("*", "/ok", ok)]) as url:
            limiter = RateLimiter()
            quota = limiter.add_quota("w", [Window(2, S)])
            http = HttpClient("t", url, clock=clock, limiter=limiter, quota=quota, max_local_wait_s=5.0)
            async with http:
                for _ in range(2):
                    await http.request("GET", "/ok", mutating=False)
                with pytest.raises(RateLimitError, match="local"):
                    await http.request("POST", "/ok", mutating=True)
                read = asyncio.get_running_loop().create_task(http.request("GET", "/ok", mutating=False))
                for _ in range(20):
                    await clock.sleep(0)
                assert not read.done(), "the read waits for its turn"
                clock.advance(S)
                assert (await LiveClock().wait_for(read, 5)).body == b"ok"
            slow = limiter.add_quota("slow", [Window(1, 60 * S)])
            strict = HttpClient("t", url, clock=clock, limiter=limiter, quota=slow, max_local_wait_s=5.0)
            async with strict:
                await strict.request("GET", "/ok", mutating=False)
                with pytest.raises(RateLimitError, match="local"):
                    await strict.request("GET", "/ok", mutating=False)  # a minute away: not waited

    asyncio.run(go())
