"""The base of every loopback venue simulator: an aiohttp server on 127.0.0.1 with HTTP and WebSocket
routes, a seeded background market stepped by the clock, fault injection and an admin API.

A venue simulator subclasses `VenueServer`, adds its protocol's routes in `routes()` and reacts to the
market in `on_step()`. The admin API (for tests and rehearsals) lives under `/sim/`:

- `GET /sim/state`: the venue's view of every API order (status, fills, how often each client order id
  was submitted) and trade;
- `POST /sim/faults` (JSON, see `trader.sim.faults.Faults`), `POST /sim/faults/reset`;
- `POST /sim/disconnect`: drop every WebSocket connection now.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
import sys
import weakref
from typing import Any

import orjson
from aiohttp import web

from trader.clock import Clock, LiveClock
from trader.sim.faults import ORDER_PATHS, Faults

Handler = Any


async def _send_after(prev: asyncio.Task[None] | None, ws: web.WebSocketResponse, payload: bytes) -> None:
    if prev is not None and not prev.done():
        await asyncio.wait([prev])  # its failure is its own
    if not ws.closed:
        await ws.send_bytes(payload)


class VenueServer:
    venue = "sim"
    # the requests order faults apply to unless `/sim/faults` names others: each venue's order endpoints
    FAULT_PATHS: tuple[str, ...] = ORDER_PATHS

    def __init__(self, *, seed: int = 7, clock: Clock | None = None, step_ms: int = 100) -> None:
        self.seed = seed
        self.clock: Clock = clock or LiveClock()
        self.step_ms = step_ms
        self.faults = Faults(seed=seed, paths=self.FAULT_PATHS)
        self.requests: collections.Counter[str] = collections.Counter()  # "METHOD /path", "WS method": seen
        self.sockets: set[web.WebSocketResponse] = set()
        self._last_send: weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Task[None]] = (
            weakref.WeakKeyDictionary()
        )  # each socket's last queued message
        self._stream_paths: dict[asyncio.Transport, str] = {}  # open WebSocket connections -> path
        self._runner: web.AppRunner | None = None
        self._stepper: asyncio.Task[None] | None = None
        self.port = 0

    # ---- for subclasses ----------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return []

    def on_step(self, dt_ns: int) -> None:
        """Advance the background market by `dt_ns` and publish what changed."""

    def state(self) -> dict[str, Any]:
        return {}

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def default_symbol(self) -> str:
        """The instrument a rehearsal trades when none is given ("": the venue profile's default)."""
        return ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application(middlewares=[self._track_streams, self._fault_middleware])
        app.add_routes(
            [
                web.get("/sim/state", self._state),
                web.post("/sim/faults", self._set_faults),
                web.post("/sim/faults/reset", self._reset_faults),
                web.post("/sim/disconnect", self._disconnect),
                *self.routes(),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        self._stepper = asyncio.get_running_loop().create_task(self._step_loop())
        return self.port

    async def stop(self) -> None:
        if self._stepper is not None:
            self._stepper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stepper
        await self.close_sockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close_sockets(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        self.sockets.clear()

    def drop_streams(self, *prefixes: str) -> int:
        """Cut every WebSocket connection whose path starts with one of `prefixes` as a network failure
        would (the TCP connection aborted, no close frame); how many were cut."""
        cut = [t for t, path in self._stream_paths.items() if path.startswith(prefixes)]
        for t in cut:
            t.abort()
        return len(cut)

    @web.middleware
    async def _track_streams(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        if transport is None or request.headers.get("Upgrade", "").lower() != "websocket":
            return await handler(request)  # type: ignore[no-any-return]
        self._stream_paths[transport] = request.path
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            self._stream_paths.pop(transport, None)

    async def _step_loop(self) -> None:
        dt = self.step_ms * 1_000_000
        while True:
            await self.clock.sleep(self.step_ms / 1000)
            self.on_step(dt)

    # ---- sending to sockets ------------------------------------------------------------------------

    def send(self, ws: web.WebSocketResponse, payload: bytes) -> None:
        """Queue `payload` on `ws`; a socket's messages go out in the order they were queued (one task per
        message could let a small one overtake a large one being written, which no venue does)."""
        if ws.closed:
            self.sockets.discard(ws)
            return
        prev = self._last_send.get(ws)
        task = asyncio.get_running_loop().create_task(_send_after(prev, ws, payload))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._last_send[ws] = task

    # ---- faults and admin --------------------------------------------------------------------------

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        f = self.faults
        if not request.path.startswith("/sim/"):
            self.requests[f"{request.method} {request.path}"] += 1
        if request.path.startswith("/sim/") or not f.applies(request.method, request.path):
            return await handler(request)  # type: ignore[no-any-return]
        if f.latency_ms:
            await self.clock.sleep(f.latency_ms / 1000)
        if f.roll(f.rate_429_rate):
            return web.json_response(
                {"code": -1003, "msg": "Too many requests (injected)."},
                status=429,
                headers={"Retry-After": "1"},
            )
        if f.roll(f.error_5xx_rate):
            return web.json_response({"code": -1008, "msg": "Service Unavailable (injected)."}, status=503)
        resp: web.StreamResponse = await handler(request)
        if f.ack_delay_ms:  # processed (its stream events go out now), the answer comes late
            await self.clock.sleep(f.ack_delay_ms / 1000)
        if f.roll(f.drop_response_rate) and request.transport is not None:
            request.transport.abort()  # processed, but the client never hears back
        return resp

    async def _state(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.state()), content_type="application/json")

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("a JSON object is expected")
            self.faults = Faults.from_json({"seed": self.seed, "paths": list(self.FAULT_PATHS), **data})
        except (ValueError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"ok": True})

    async def _reset_faults(self, request: web.Request) -> web.Response:
        self.faults = Faults(seed=self.seed, paths=self.FAULT_PATHS)
        return web.json_response({"ok": True})

    async def _disconnect(self, request: web.Request) -> web.Response:
        n = len(self.sockets)
        await self.close_sockets()
        return web.json_response({"closed": n})


class SimThread:
    """A simulator on its own thread and event loop: a venue that is not a coroutine of the caller's
    loop (benchmarks, a synchronous SDK, a CLI run in the same process). `call` runs a function on the
    simulator's loop, where its state lives."""

    def __init__(self, server: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self.server = server
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.port: int = asyncio.run_coroutine_threadsafe(server.start(host, port), self.loop).result(10)

    def call(self, fn: Any, *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def run_forever(venue: str, port: int, seed: int, host: str = "127.0.0.1") -> int:
    """`trader sim VENUE`: serve until SIGINT/SIGTERM."""

    from trader.venues import registry

    async def main() -> None:
        server = registry.simulator(venue, seed=seed, clock=LiveClock())
        await server.start(host, port)
        print(f"sim venue {venue} listening on {server.url}", flush=True)
        if server.default_symbol:  # what a config names (Polymarket: the market's condition id)
            print(f"sim venue {venue} trades {server.default_symbol} by default", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()

    try:
        asyncio.run(main())
    except OSError as e:
        print(f"trader sim: cannot listen on {host}:{port}: {e.strerror}", file=sys.stderr)
        return 1
    return 0
