"""Shared helpers of the Polymarket simulator tests: a simulator per test (background off unless asked),
SDK clients, raw signed requests (standard library only, never the core)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from eth_utils.crypto import keccak
from py_clob_client_v2 import (
    ApiCreds,
    ClobClient,
    OrderArgs,
)
from py_clob_client_v2.exceptions import PolyApiException

from trader.clock import LiveClock
from trader.sim.polymarket import (
    Market,
    PolymarketSimServer,
)

CLOCK = LiveClock()


class ShiftedClock(LiveClock):
    """Wall time plus an offset a test can move forward."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def now_ns(self) -> int:
        return super().now_ns() + self.offset_ns


@asynccontextmanager
async def sim(**kw: Any) -> AsyncIterator[PolymarketSimServer]:
    server = PolymarketSimServer(**{"seed": 3, "step_ms": 20, "background": False, **kw})
    await server.start(port=0)
    try:
        yield server
    finally:
        await server.stop()


def run(test: Callable[[PolymarketSimServer], Awaitable[None]], **kw: Any) -> None:
    async def go() -> None:
        async with sim(**kw) as server:
            await test(server)

    asyncio.run(go())


def markets(server: PolymarketSimServer) -> tuple[Market, Market, Market]:
    a, b, c, *_ = server.markets.values()  # then the Protocol V2 market
    assert (a.tick, b.tick, c.neg_risk) == (100, 10, True)
    return a, b, c


async def new_client(server: PolymarketSimServer, name: str, **kw: Any) -> ClobClient:
    """An unmodified SDK client for a fresh wallet, with API creds made through L1."""
    key = "0x" + keccak(text=f"polymarket-sim-test/{name}").hex()
    client = ClobClient(server.url, chain_id=137, key=key, **kw)
    client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
    return client


async def place(
    client: ClobClient, token: str, side: str, price: float, size: float, **kw: Any
) -> dict[str, Any]:
    args = OrderArgs(token_id=token, price=price, size=size, side=side)
    result: dict[str, Any] = await asyncio.to_thread(client.create_and_post_order, args, **kw)
    return result


async def rejected(call: Callable[[], Any]) -> tuple[int | None, Any]:
    with pytest.raises(PolyApiException) as e:
        await asyncio.to_thread(call)
    return e.value.status_code, e.value.error_msg


async def signed(
    session: aiohttp.ClientSession,
    server: PolymarketSimServer,
    client: ClobClient,
    method: str,
    path: str,
    body: Any = None,
    *,
    secret: str | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """An L2 request signed here with stdlib hmac (urlsafe base64, padded), independent of the SDK."""
    creds = client.creds
    assert isinstance(creds, ApiCreds)
    raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    ts = str(CLOCK.now_ns() // 1_000_000_000)
    mac = hmac.new(
        base64.urlsafe_b64decode(secret or creds.api_secret),
        (ts + method + path).encode() + raw,
        hashlib.sha256,
    )
    headers = {
        "POLY_ADDRESS": client.get_address(),
        "POLY_SIGNATURE": base64.urlsafe_b64encode(mac.digest()).decode(),
        "POLY_TIMESTAMP": ts,
        "POLY_API_KEY": creds.api_key,
        "POLY_PASSPHRASE": creds.api_passphrase,
        "Content-Type": "application/json",
    }
    async with session.request(method, server.url + path, data=raw, headers=headers, params=query) as r:
        return r.status, orjson.loads(await r.read())
