"""The spot simulator's instrument presets: filters in exchangeInfo and enforced on orders."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from decimal import Decimal

import aiohttp
import pytest

from trader.sim.spot import DEMO_KEY, DEMO_SECRET, INSTRUMENTS, SpotSimServer


def signed(query: str) -> str:
    sig = hmac.new(DEMO_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


def test_unknown_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="NOPE"):
        SpotSimServer(symbol="NOPE")


def test_altcoin_filters_are_published_and_enforced() -> None:
    async def go() -> None:
        server = SpotSimServer(symbol="DOGEUSDT", step_ms=0)
        await server.start(port=0)
        try:
            async with aiohttp.ClientSession() as s:
                info = await (await s.get(f"{server.url}/api/v3/exchangeInfo")).json()
                filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
                assert Decimal(filters["PRICE_FILTER"]["tickSize"]) == Decimal("0.00001")
                assert Decimal(filters["LOT_SIZE"]["stepSize"]) == 1
                assert Decimal(filters["PERCENT_PRICE_BY_SIDE"]["bidMultiplierDown"]) == Decimal("0.5")
                depth = await (await s.get(f"{server.url}/api/v3/depth?symbol=DOGEUSDT&limit=5")).json()
                mid = (Decimal(depth["bids"][0][0]) + Decimal(depth["asks"][0][0])) / 2
                assert abs(mid - INSTRUMENTS["DOGEUSDT"].mid) < Decimal("0.01")
                ts = server.now_ms()
                headers = {"X-MBX-APIKEY": DEMO_KEY}
                far = (mid * Decimal("0.4")).quantize(Decimal("0.00001"))
                base = f"symbol=DOGEUSDT&side=BUY&type=LIMIT&timeInForce=GTC&timestamp={ts}"
                q = f"{base}&quantity=100&price={far}"
                r = await s.post(f"{server.url}/api/v3/order?{signed(q)}", headers=headers)
                assert (r.status, (await r.json())["msg"]) == (400, "Filter failure: PERCENT_PRICE_BY_SIDE")
                near = (mid * Decimal("0.9")).quantize(Decimal("0.00001"))
                q = f"{base}&quantity=1.5&price={near}"
                r = await s.post(f"{server.url}/api/v3/order?{signed(q)}", headers=headers)
                assert (await r.json())["code"] == -1013  # not on the 1 DOGE lot
                q = f"{base}&quantity=100&price={near}"
                r = await s.post(f"{server.url}/api/v3/order?{signed(q)}", headers=headers)
                assert r.status == 200, await r.text()
        finally:
            await server.stop()

    asyncio.run(go())
