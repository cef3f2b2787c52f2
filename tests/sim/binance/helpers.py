"""Shared helpers of the Binance simulator tests: a simulator on a free port, a raw client that signs
with the standard library and `cryptography` (as any client would, never with the core), WebSocket API
requests, and python-binance in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trader.clock import LiveClock
from trader.sim.binance import DEMO_KEY, DEMO_SECRET, BinanceSimServer

CLOCK = LiveClock()
ED_KEY = "sim-ed25519-key"
QUIET = 600_000


@asynccontextmanager
async def sim(**kw: Any) -> AsyncIterator[BinanceSimServer]:
    """A simulator on a free port; `step_ms=QUIET` keeps the background market still for the whole test
    (for tests that read the book and then act on its prices)."""
    server = BinanceSimServer(**{"seed": 3, "step_ms": 20, **kw})
    await server.start(port=0)
    try:
        yield server
    finally:
        await server.stop()


class Signer:
    """HMAC (hex) or Ed25519 (base64, URL-encoded in a query) over the exact payload."""

    def __init__(self, secret: str = DEMO_SECRET, ed25519: Ed25519PrivateKey | None = None) -> None:
        self.secret, self.ed25519 = secret, ed25519

    def sign(self, payload: str) -> str:
        if self.ed25519 is not None:
            return base64.b64encode(self.ed25519.sign(payload.encode())).decode()
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class Client:
    def __init__(self, server: BinanceSimServer, session: aiohttp.ClientSession) -> None:
        self.server, self.url, self.session = server, server.url, session

    def query(self, params: dict[str, Any], signer: Signer, ts_ms: int | None = None) -> str:
        params = {**params, "recvWindow": 5000, "timestamp": ts_ms or self.server.now_ms()}
        q = urlencode(params)
        return q + "&signature=" + quote(signer.sign(q), safe="")

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        key: str = DEMO_KEY,
        signer: Signer | None = None,
        ts_ms: int | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        q = self.query(params or {}, signer or Signer(), ts_ms)
        async with self.session.request(method, f"{self.url}{path}?{q}", headers={"X-MBX-APIKEY": key}) as r:
            return r.status, orjson.loads(await r.read()), dict(r.headers)

    async def ok(self, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        status, body, _ = await self.call(method, path, params, **kw)
        assert status == 200, body
        return body

    async def public(self, path: str, query: str = "") -> tuple[int, Any, dict[str, str]]:
        async with self.session.get(f"{self.url}{path}?{query}") as r:
            return r.status, orjson.loads(await r.read()), dict(r.headers)

    async def keyed(self, method: str, path: str, key: str = DEMO_KEY) -> tuple[int, Any]:
        async with self.session.request(method, f"{self.url}{path}", headers={"X-MBX-APIKEY": key}) as r:
            return r.status, orjson.loads(await r.read())


def run(test: Callable[[BinanceSimServer, Client], Awaitable[None]], **kw: Any) -> None:
    async def go() -> None:
        async with sim(**kw) as server, aiohttp.ClientSession() as session:
            await test(server, Client(server, session))

    asyncio.run(go())


def ws_request(
    rid: int, method: str, params: dict[str, Any], server: BinanceSimServer, signer: Signer | None = None
) -> str:
    """A signed WebSocket API request: all params but `signature`, sorted, `k=v&...`."""
    params = {**params, "apiKey": params.get("apiKey", DEMO_KEY), "timestamp": server.now_ms()}
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    params["signature"] = (signer or Signer()).sign(payload)
    return orjson.dumps({"id": rid, "method": method, "params": params}).decode()


async def ws_call(ws: aiohttp.ClientWebSocketResponse, request: str) -> dict[str, Any]:
    await ws.send_str(request)
    while True:
        reply: dict[str, Any] = orjson.loads((await ws.receive(timeout=5)).data)
        if "id" in reply:
            return reply


def fpx(ticks: int) -> str:
    return f"{Decimal(ticks) * Decimal('0.1'):.1f}"


def f_limit(side: str, price: str, qty: str = "0.010", **extra: Any) -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": price,
        "quantity": qty,
        **extra,
    }


def f_far_bid(server: BinanceSimServer, ticks: int = 100) -> str:
    bid = server.f_engine.best_bid()
    assert bid is not None
    return fpx(bid - ticks)


def sdk_session(server: BinanceSimServer, body: Callable[[Any], None], **client_kw: Any) -> Awaitable[None]:
    """Run python-binance's sync Client in a worker thread against the simulator in this loop."""

    def go() -> None:
        from binance.client import Client as BinanceClient

        kw: dict[str, Any] = {"api_key": DEMO_KEY, "api_secret": DEMO_SECRET, **client_kw}
        client = BinanceClient(ping=False, **kw)
        client.API_URL = f"{server.url}/api"
        client.FUTURES_URL = f"{server.url}/fapi"
        client.MARGIN_API_URL = f"{server.url}/sapi"
        try:
            body(client)
        finally:
            client.close_connection()
            client.loop.close()

    return asyncio.to_thread(go)


def ed25519_pair() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()
