"""Cross and isolated margin on the simulator, raw protocol: borrow/repay, margin level, side effects,
listen keys and tokens; faults and bans on the new routes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import orjson
import pytest

from tests.sim.binance.helpers import (
    CLOCK,
    Client,
    f_far_bid,
    f_limit,
    run,
    ws_call,
    ws_request,
)
from trader.clock import SimClock
from trader.sim.binance import DEMO_KEY, BinanceSimServer


def test_margin_borrow_repay_and_margin_level() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        async def level() -> tuple[Decimal, Decimal]:
            acc = await c.ok("GET", "/sapi/v1/margin/account")
            return Decimal(acc["marginLevel"]), Decimal(acc["totalLiabilityOfBtc"])

        assert await level() == (Decimal(999), Decimal(0))
        max_btc = Decimal((await c.ok("GET", "/sapi/v1/margin/maxBorrowable", {"asset": "BTC"}))["amount"])
        assert max_btc == (2 * Decimal(10_000) / server.mid()).quantize(
            Decimal("0.00000001"), rounding="ROUND_DOWN"
        )
        borrow = {"asset": "USDT", "amount": "5000", "isIsolated": "FALSE", "type": "BORROW"}
        _, _, headers = await c.call("POST", "/sapi/v1/margin/borrow-repay", borrow)
        assert headers["X-MBX-USED-WEIGHT-1M"] == "1500"
        lvl, liab = await level()
        assert lvl == Decimal(15_000) / Decimal(5_000)
        assert liab > 0
        status, body, _ = await c.call("POST", "/sapi/v1/margin/borrow-repay", {**borrow, "amount": "16000"})
        assert (status, body["code"]) == (400, -3006), "3x: liabilities up to twice the equity"
        await c.ok("POST", "/sapi/v1/margin/borrow-repay", {**borrow, "type": "REPAY", "amount": "2000"})
        lvl2, liab2 = await level()
        assert lvl2 > lvl
        assert liab2 < liab
        await c.ok("POST", "/sapi/v1/margin/borrow-repay", {**borrow, "type": "REPAY", "amount": "99999"})
        assert await level() == (Decimal(999), Decimal(0)), "repaying more than owed repays it all"
        assert (await c.call("POST", "/sapi/v1/margin/borrow-repay", {**borrow, "type": "REPAY"}))[1][
            "code"
        ] == -3015

    run(t)


def test_margin_side_effects_listen_key_and_isolated_wallet() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        # a margin listenKey streams executionReports of the margin wallet
        lk = (await c.keyed("POST", "/sapi/v1/userDataStream"))[1]["listenKey"]
        async with c.session.ws_connect(f"{server.ws_url}/ws/{lk}") as ws:
            # MARGIN_BUY: a market buy beyond the free USDT borrows the rest
            buy = {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.300",
                "sideEffectType": "MARGIN_BUY",
            }
            body = await c.ok("POST", "/sapi/v1/margin/order", buy)
            assert body["status"] == "FILLED"
            assert body["marginBuyBorrowAsset"] == "USDT"
            borrowed = Decimal(body["marginBuyBorrowAmount"])
            assert borrowed > 0
            assert body["isIsolated"] is False
            report = orjson.loads((await ws.receive(timeout=5)).data)
            assert (report["e"], report["x"], report["S"]) == ("executionReport", "NEW", "BUY")
            state = server.state()[DEMO_KEY]["margin"]["MARGIN"]["assets"]
            assert Decimal(state["USDT"]["borrowed"]) == borrowed
            assert Decimal(state["BTC"]["free"]) == Decimal("0.300")
            # AUTO_REPAY: selling the BTC pays the USDT debt back from the proceeds
            sell = {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "MARKET",
                "quantity": "0.300",
                "sideEffectType": "AUTO_REPAY",
            }
            assert (await c.ok("POST", "/sapi/v1/margin/order", sell))["status"] == "FILLED"
            state = server.state()[DEMO_KEY]["margin"]["MARGIN"]["assets"]
            assert Decimal(state["USDT"]["borrowed"]) == 0
            plain = {**buy, "sideEffectType": "NO_SIDE_EFFECT", "quantity": "1.000"}
            status, body, _ = await c.call("POST", "/sapi/v1/margin/order", plain)
            assert (status, body["code"]) == (400, -2010)
        trades = await c.ok("GET", "/sapi/v1/margin/myTrades", {"symbol": "BTCUSDT"})
        assert trades
        assert all(t["isIsolated"] is False for t in trades)
        assert (await c.ok("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})) == [], (
            "spot trades are separate"
        )
        # isolated: its own wallet and 10x limit
        iso = {"asset": "USDT", "amount": "9500", "isIsolated": "TRUE", "symbol": "BTCUSDT", "type": "BORROW"}
        assert (await c.call("POST", "/sapi/v1/margin/borrow-repay", iso))[1]["code"] == -3006
        await c.ok("POST", "/sapi/v1/margin/borrow-repay", {**iso, "amount": "8000"})
        acct = (await c.ok("GET", "/sapi/v1/margin/isolated/account"))["assets"][0]
        assert Decimal(acct["marginLevel"]) == Decimal(9000) / Decimal(8000)
        assert (
            await c.call("GET", "/sapi/v1/margin/openOrders", {"isIsolated": "TRUE", "symbol": "ETHUSDT"})
        )[1]["code"] == -11001

    run(t)


def test_faults_apply_to_the_new_routes() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        paths = ["POST /fapi/v1/order", "POST /sapi/v1/margin/order"]
        async with c.session.post(
            f"{server.url}/sim/faults", json={"error_5xx_rate": 1.0, "paths": paths}
        ) as r:
            assert r.status == 200
        fut = f_limit("BUY", f_far_bid(server), newClientOrderId="flt-1")
        assert (await c.call("POST", "/fapi/v1/order", fut))[0] == 503
        assert (await c.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "flt-1"}))[
            1
        ]["code"] == -2013
        await c.session.post(f"{server.url}/sim/faults", json={"drop_response_rate": 1.0, "paths": paths})
        with pytest.raises(aiohttp.ClientError):
            await c.call("POST", "/fapi/v1/order", fut)
        await c.session.post(f"{server.url}/sim/faults/reset")
        got = await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "flt-1"})
        assert got["status"] == "NEW", "the dropped request was processed"

    run(t)


def test_margin_listen_token_subscription_on_the_ws_api() -> None:
    clock = SimClock(CLOCK.now_ns())

    async def t(server: BinanceSimServer, c: Client) -> None:
        token = await c.ok("POST", "/sapi/v1/userListenToken", {"validity": 60_000})
        assert token["expirationTime"] == server.now_ms() + 60_000
        async with c.session.ws_connect(f"{server.ws_url}/ws-api/v3") as ws:
            sub = await ws_call(
                ws,
                orjson.dumps(
                    {
                        "id": 1,
                        "method": "userDataStream.subscribe.listenToken",
                        "params": {"listenToken": token["token"]},
                    }
                ).decode(),
            )
            assert sub["status"] == 200
            assert sub["result"]["expirationTime"] == token["expirationTime"]
            bad = await ws_call(
                ws,
                orjson.dumps(
                    {
                        "id": 2,
                        "method": "userDataStream.subscribe.listenToken",
                        "params": {"listenToken": "nope"},
                    }
                ).decode(),
            )
            assert (bad["status"], bad["error"]["code"]) == (400, -1209)
            bid = server.engine.best_bid()
            assert bid is not None
            order = {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.010",
            }
            order["price"] = f"{Decimal(bid - 500) * server.tick:.2f}"
            await c.ok(
                "POST", "/api/v3/order", {**order, "newClientOrderId": "spot-1"}
            )  # not margin: not sent
            await c.ok("POST", "/sapi/v1/margin/order", {**order, "newClientOrderId": "mtok-1"})
            ev = orjson.loads((await ws.receive(timeout=5)).data)
            assert ev["subscriptionId"] == sub["result"]["subscriptionId"]
            assert (ev["event"]["e"], ev["event"]["c"], ev["event"]["x"]) == (
                "executionReport",
                "mtok-1",
                "NEW",
            )
            balances = orjson.loads((await ws.receive(timeout=5)).data)["event"]  # the lock moved funds
            assert balances["e"] == "outboundAccountPosition"
            usdt = next(b for b in balances["B"] if b["a"] == "USDT")
            assert Decimal(usdt["l"]) == Decimal(order["price"]) * Decimal("0.010")
            clock.advance(61_000_000_000)
            server.on_step(0)
            ended = orjson.loads((await ws.receive(timeout=5)).data)
            assert ended["event"]["e"] == "eventStreamTerminated"
            await c.ok(
                "DELETE", "/sapi/v1/margin/order", {"symbol": "BTCUSDT", "origClientOrderId": "mtok-1"}
            )
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive(timeout=0.2)  # the subscription is over

    run(t, clock=clock)


def test_ip_ban_and_margin_params_on_spot_endpoints() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        bid = server.engine.best_bid()
        assert bid is not None
        order = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.010",
        }
        order |= {"price": f"{Decimal(bid - 500) * server.tick:.2f}", "isIsolated": "FALSE"}
        status, body, _ = await c.call("POST", "/api/v3/order", order)
        assert (status, body["code"]) == (400, -1104), "margin parameters are not read by spot"
        async with c.session.ws_connect(f"{server.ws_url}/ws-api/v3") as ws:
            reply = await ws_call(
                ws, ws_request(1, "order.place", {**order, "sideEffectType": "MARGIN_BUY"}, server)
            )
            assert reply["error"]["code"] == -1104
        server.ban(seconds=60)
        for path in ("/api/v3/ping", "/fapi/v1/ping"):
            status, body, headers = await c.public(path)
            assert (status, body["code"]) == (418, -1003)
            assert 58 <= int(headers["Retry-After"]) <= 60

    run(t)
