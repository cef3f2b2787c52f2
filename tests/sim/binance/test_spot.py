"""The loopback Binance-spot simulator: protocol, auth, filters, streams, limits and faults.

Requests are signed here with the standard library (as any client would), never with the core.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest

from trader.clock import LiveClock
from trader.sim.spot import DEMO_KEY, DEMO_SECRET, SpotSimServer

CLOCK = LiveClock()


@asynccontextmanager
async def sim(**kw: Any) -> AsyncIterator[SpotSimServer]:
    server = SpotSimServer(seed=3, step_ms=20, **kw)
    await server.start(port=0)
    try:
        yield server
    finally:
        await server.stop()


def signed_query(params: dict[str, Any], secret: str = DEMO_SECRET, ts_ms: int | None = None) -> str:
    params = {**params, "recvWindow": 5000, "timestamp": ts_ms or CLOCK.now_ns() // 1_000_000}
    q = urlencode(params)
    return q + "&signature=" + hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()


class Client:
    def __init__(self, server: SpotSimServer, session: aiohttp.ClientSession) -> None:
        self.url, self.session = server.url, session

    async def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, *, key: str = DEMO_KEY, **kw: Any
    ) -> tuple[int, Any, dict[str, str]]:
        q = signed_query(params or {}, **kw)
        async with self.session.request(method, f"{self.url}{path}?{q}", headers={"X-MBX-APIKEY": key}) as r:
            return r.status, orjson.loads(await r.read()), dict(r.headers)

    async def public(self, path: str, query: str = "") -> tuple[int, Any, dict[str, str]]:
        async with self.session.get(f"{self.url}{path}?{query}") as r:
            return r.status, orjson.loads(await r.read()), dict(r.headers)


def run(test: Callable[[SpotSimServer, Client], Awaitable[None]], **kw: Any) -> None:
    async def go() -> None:
        async with sim(**kw) as server, aiohttp.ClientSession() as session:
            await test(server, Client(server, session))

    asyncio.run(go())


def limit(side: str, price: str, qty: str = "0.010", **extra: Any) -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "price": price,
        "quantity": qty,
        **extra,
    }


def far_bid(server: SpotSimServer) -> str:
    bid = server.engine.best_bid()
    assert bid is not None
    return f"{Decimal(bid - 500) * server.tick:.2f}"


def test_public_endpoints_and_weight_header() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        status, body, headers = await c.public("/api/v3/time")
        assert status == 200
        assert abs(body["serverTime"] - CLOCK.now_ns() // 1_000_000) < 5000
        status, info, _ = await c.public("/api/v3/exchangeInfo", "symbol=BTCUSDT")
        f = {x["filterType"]: x for x in info["symbols"][0]["filters"]}
        assert f["PRICE_FILTER"]["tickSize"] == "0.01000000"
        assert f["LOT_SIZE"]["stepSize"] == "0.00100000"
        _, depth, headers = await c.public("/api/v3/depth", "symbol=BTCUSDT&limit=5")
        assert len(depth["bids"]) == 5
        assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
        # time 1 + exchangeInfo 20 + depth 5, unless a minute boundary reset the count in between
        assert int(headers["X-MBX-USED-WEIGHT-1M"]) in (26, 25, 5)
        status, err, _ = await c.public("/api/v3/depth", "symbol=NOPE")
        assert (status, err["code"]) == (400, -1121)

    run(t)


def test_auth_errors() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        assert (await c.call("GET", "/api/v3/account", secret="wrong"))[1]["code"] == -1022
        assert (await c.call("GET", "/api/v3/account", ts_ms=1_000))[1]["code"] == -1021
        status, body, _ = await c.call("GET", "/api/v3/account", key="nobody")
        assert (status, body["code"]) == (401, -2015)
        status, body, _ = await c.call("GET", "/api/v3/account")
        assert status == 200
        assert {b["asset"] for b in body["balances"]} == {"BTC", "USDT"}

    run(t)


def test_order_lifecycle_filters_and_duplicates() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        price = far_bid(server)
        status, body, headers = await c.call(
            "POST", "/api/v3/order", limit("BUY", price, newClientOrderId="a-1")
        )
        assert status == 200, body
        assert body["status"] == "NEW"
        assert body["fills"] == []
        assert headers["X-MBX-ORDER-COUNT-10S"] == "1"
        # the same client id again: Binance's duplicate error, and the venue counts the attempt
        status, body, _ = await c.call("POST", "/api/v3/order", limit("BUY", price, newClientOrderId="a-1"))
        assert (status, body["code"], body["msg"]) == (400, -2010, "Duplicate order sent.")
        assert server.state()[DEMO_KEY]["submissions"]["a-1"] == 2
        off_tick = f"{Decimal(price) + Decimal('0.005')}"
        assert (await c.call("POST", "/api/v3/order", limit("BUY", off_tick)))[1] == {
            "code": -1013,
            "msg": "Filter failure: PRICE_FILTER",
        }
        assert (await c.call("POST", "/api/v3/order", limit("BUY", price, qty="0.0105")))[1]["code"] == -1013
        assert (await c.call("POST", "/api/v3/order", limit("BUY", price, qty="0.00001")))[1]["code"] == -1013
        assert (await c.call("POST", "/api/v3/order", limit("BUY", price, qty="1000")))[1]["msg"] == (
            "Account has insufficient balance for requested action."
        )
        _, account, _ = await c.call("GET", "/api/v3/account")
        usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
        assert Decimal(usdt["locked"]) == Decimal(price) * Decimal("0.010")
        _, got, _ = await c.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "a-1"})
        assert (got["clientOrderId"], got["status"], got["isWorking"]) == ("a-1", "NEW", True)
        _, opened, _ = await c.call("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
        assert [o["clientOrderId"] for o in opened] == ["a-1"]
        _, canceled, _ = await c.call(
            "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "a-1"}
        )
        assert (canceled["status"], canceled["origClientOrderId"]) == ("CANCELED", "a-1")
        status, body, _ = await c.call(
            "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "a-1"}
        )
        assert (status, body["code"]) == (400, -2011)
        assert (await c.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "zz"}))[1][
            "code"
        ] == -2013
        _, account, _ = await c.call("GET", "/api/v3/account")
        usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
        assert Decimal(usdt["locked"]) == 0

    run(t)


def test_taking_orders_post_only_ioc_fok_and_market() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        ask = server.engine.best_ask()
        assert ask is not None
        ask_px = f"{Decimal(ask) * server.tick:.2f}"
        maker = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT_MAKER",
            "price": ask_px,
            "quantity": "0.010",
        }
        assert (await c.call("POST", "/api/v3/order", maker))[1][
            "msg"
        ] == "Order would immediately match and take."
        _, fok, _ = await c.call("POST", "/api/v3/order", limit("BUY", ask_px, qty="15", timeInForce="FOK"))
        assert fok["status"] == "EXPIRED"
        assert fok["executedQty"] == "0.00000000"
        _, ioc, _ = await c.call("POST", "/api/v3/order", limit("BUY", ask_px, qty="5", timeInForce="IOC"))
        assert ioc["status"] in ("EXPIRED", "FILLED")
        assert Decimal(ioc["executedQty"]) > 0
        fills = ioc["fills"]
        assert sum(Decimal(f["qty"]) for f in fills) == Decimal(ioc["executedQty"])
        assert all(f["commissionAsset"] == "USDT" for f in fills)
        _, mkt, _ = await c.call(
            "POST",
            "/api/v3/order",
            {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.020"},
        )
        assert mkt["status"] == "FILLED"
        _, trades, _ = await c.call("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
        assert len(trades) == len(fills) + len(mkt["fills"])
        assert {t["isMaker"] for t in trades} == {False}

    run(t)


def test_depth_stream_continues_the_snapshot() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        async with c.session.ws_connect(f"{server.ws_url}/ws/btcusdt@depth@100ms") as ws:
            first = orjson.loads((await ws.receive()).data)
            _, snap, _ = await c.public("/api/v3/depth", "symbol=BTCUSDT&limit=5000")
            book = {("b", Decimal(p)): Decimal(q) for p, q in snap["bids"]}
            book |= {("a", Decimal(p)): Decimal(q) for p, q in snap["asks"]}
            last = snap["lastUpdateId"]
            assert first["U"] <= last + 1
            applied = 0
            while applied < 10:
                ev = orjson.loads((await ws.receive()).data)
                if ev["u"] <= last:
                    continue
                assert ev["U"] == last + 1, "no gaps"
                for side in ("b", "a"):
                    for p, q in ev[side]:
                        if Decimal(q) == 0:
                            book.pop((side, Decimal(p)), None)
                        else:
                            book[(side, Decimal(p))] = Decimal(q)
                last = ev["u"]
                applied += 1
            server.on_step(0)  # nothing changes in zero time: the published state is the book
            _, fresh, _ = await c.public("/api/v3/depth", "symbol=BTCUSDT&limit=5000")
            want = {("b", Decimal(p)): Decimal(q) for p, q in fresh["bids"]}
            want |= {("a", Decimal(p)): Decimal(q) for p, q in fresh["asks"]}
            if fresh["lastUpdateId"] == last:
                assert book == want

    run(t)


def test_ws_api_user_data_subscription_reports_executions() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        async with c.session.ws_connect(f"{server.ws_url}/ws-api/v3") as ws:
            params = {"apiKey": DEMO_KEY, "timestamp": CLOCK.now_ns() // 1_000_000}
            payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
            sig = hmac.new(DEMO_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
            await ws.send_str(
                orjson.dumps(
                    {
                        "id": 1,
                        "method": "userDataStream.subscribe.signature",
                        "params": {**params, "signature": sig},
                    }
                ).decode()
            )
            reply = orjson.loads((await ws.receive()).data)
            assert reply["status"] == 200
            sub = reply["result"]["subscriptionId"]
            await ws.send_str(
                orjson.dumps(
                    {
                        "id": 2,
                        "method": "userDataStream.subscribe.signature",
                        "params": {**params, "signature": "00"},
                    }
                ).decode()
            )
            assert orjson.loads((await ws.receive()).data)["error"]["code"] == -1022
            price = far_bid(server)
            await c.call("POST", "/api/v3/order", limit("BUY", price, newClientOrderId="u-1"))
            await c.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "u-1"})
            events = [orjson.loads((await ws.receive()).data) for _ in range(4)]
            assert {e["subscriptionId"] for e in events} == {sub}
            new, locked, canceled, released = (e["event"] for e in events)
            assert (new["e"], new["x"], new["c"], new["X"]) == ("executionReport", "NEW", "u-1", "NEW")
            assert (canceled["x"], canceled["C"], canceled["X"]) == ("CANCELED", "u-1", "CANCELED")
            # each balance change is followed by the wallet's balances (Binance's outboundAccountPosition)
            assert (locked["e"], released["e"]) == ("outboundAccountPosition", "outboundAccountPosition")
            lock = {b["a"]: b for b in locked["B"]}
            assert Decimal(lock["USDT"]["l"]) == Decimal(price) * Decimal("0.010")
            assert {b["a"]: b["l"] for b in released["B"]} == {"BTC": "0.00000000", "USDT": "0.00000000"}

    run(t)


def test_request_weight_429_then_418() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        for _ in range(3):
            assert (await c.public("/api/v3/exchangeInfo"))[0] == 200
        status, body, headers = await c.public("/api/v3/exchangeInfo")
        assert (status, body["code"]) == (429, -1003)
        assert int(headers["Retry-After"]) >= 1
        status, body, headers = await c.public("/api/v3/ping")
        assert status == 418, "kept going after a 429: banned"
        assert int(headers["Retry-After"]) >= 60

    run(t, weight_limit=70)


def test_order_count_limit() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        price = far_bid(server)
        for _ in range(2):
            assert (await c.call("POST", "/api/v3/order", limit("BUY", price)))[0] == 200
        status, body, _ = await c.call("POST", "/api/v3/order", limit("BUY", price))
        assert (status, body["code"]) == (429, -1015)

    run(t, orders_per_10s=2)


def test_faults_drop_5xx_429_and_admin() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        price = far_bid(server)
        async with c.session.post(f"{server.url}/sim/faults", json={"drop_response_rate": 1.0}) as r:
            assert r.status == 200
        with pytest.raises(aiohttp.ClientError):
            await c.call("POST", "/api/v3/order", limit("BUY", price, newClientOrderId="d-1"))
        await c.session.post(f"{server.url}/sim/faults/reset")
        _, got, _ = await c.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "d-1"})
        assert got["status"] == "NEW", "the dropped request was processed"
        await c.session.post(f"{server.url}/sim/faults", json={"error_5xx_rate": 1.0})
        status, _, _ = await c.call("POST", "/api/v3/order", limit("BUY", price, newClientOrderId="d-2"))
        assert status == 503
        await c.session.post(f"{server.url}/sim/faults", json={"rate_429_rate": 1.0})
        assert (await c.call("POST", "/api/v3/order", limit("BUY", price)))[0] == 429
        await c.session.post(f"{server.url}/sim/faults/reset")
        assert (await c.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "d-2"}))[1][
            "code"
        ] == -2013, "a 503 fault does not place the order"
        server.faults.latency_ms = 150
        t0 = CLOCK.monotonic_ns()
        await c.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "d-1"})
        assert CLOCK.monotonic_ns() - t0 < 100_000_000, "latency applies to the chosen paths only"
        t0 = CLOCK.monotonic_ns()
        await c.call("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "d-1"})
        assert CLOCK.monotonic_ns() - t0 >= 150_000_000
        server.faults.latency_ms = 0
        async with c.session.post(f"{server.url}/sim/faults", json={"bogus": 1}) as r:
            assert r.status == 400
        state = server.state()[DEMO_KEY]
        assert state["submissions"]["d-1"] == 1
        assert "d-2" not in state["submissions"], "injected 503s never reach the matching engine"

    run(t)


def test_stale_feed_gap_and_disconnect() -> None:
    async def t(server: SpotSimServer, c: Client) -> None:
        async with c.session.ws_connect(f"{server.ws_url}/ws/btcusdt@depth@100ms") as ws:
            a = orjson.loads((await ws.receive(timeout=5)).data)
            server.faults.sequence_gap = True
            b = orjson.loads((await ws.receive(timeout=5)).data)
            for _ in range(20):  # events already in flight when the fault was set are still contiguous
                if b["U"] != a["u"] + 1:
                    break
                a, b = b, orjson.loads((await ws.receive(timeout=5)).data)
            assert b["U"] == a["u"] + 2, "one update id skipped"
            server.faults.stale_feed = True
            await LiveClock().sleep(0.05)
            while not ws._reader.is_eof() and ws._reader._buffer:  # drain what was in flight
                await ws.receive(timeout=1)
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive(timeout=0.3)
            server.faults.stale_feed = False
            async with c.session.post(f"{server.url}/sim/disconnect") as r:
                assert (await r.json())["closed"] >= 1
            msg = await ws.receive(timeout=5)
            while msg.type == aiohttp.WSMsgType.BINARY:
                msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)

    run(t)


@contextmanager
def threaded_sim() -> Iterator[SpotSimServer]:
    """A simulator on its own loop in a thread, for synchronous SDK clients."""
    loop = asyncio.new_event_loop()
    server = SpotSimServer(seed=5, step_ms=20)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start(port=0))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_python_binance_trades_against_the_simulator() -> None:
    """The official-ecosystem SDK, unmodified, pointed at the simulator: the protocol is faithful."""
    from binance.client import Client as BinanceClient

    with threaded_sim() as server:
        client = BinanceClient(DEMO_KEY, DEMO_SECRET, ping=False)
        client.API_URL = f"{server.url}/api"
        try:
            assert abs(client.get_server_time()["serverTime"] - CLOCK.now_ns() // 1_000_000) < 5000
            book = client.get_order_book(symbol="BTCUSDT", limit=10)
            assert len(book["bids"]) == 10
            bid = Decimal(book["bids"][0][0]) - Decimal("5")
            order = client.create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price=f"{bid:.2f}",
                newClientOrderId="sdk-1",
            )
            assert order["status"] == "NEW"
            assert client.get_order(symbol="BTCUSDT", origClientOrderId="sdk-1")["status"] == "NEW"
            assert [o["clientOrderId"] for o in client.get_open_orders(symbol="BTCUSDT")] == ["sdk-1"]
            assert client.cancel_order(symbol="BTCUSDT", origClientOrderId="sdk-1")["status"] == "CANCELED"
            taken = client.order_market_buy(symbol="BTCUSDT", quantity="0.005")
            assert taken["status"] == "FILLED"
            trades = client.get_my_trades(symbol="BTCUSDT")
            assert sum(Decimal(t["qty"]) for t in trades) == Decimal("0.005")
            balances = {b["asset"]: Decimal(b["free"]) for b in client.get_account()["balances"]}
            assert balances["BTC"] == Decimal("10.005")
        finally:
            client.close_connection()
