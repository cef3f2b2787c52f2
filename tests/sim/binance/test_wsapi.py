"""The WebSocket APIs (spot `/ws-api/v3`, futures `/ws-fapi/v1`), their order limits, and Ed25519 keys
on REST and the WebSocket API."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote, urlencode

import orjson

from tests.sim.binance.helpers import (
    ED_KEY,
    QUIET,
    Client,
    Signer,
    ed25519_pair,
    f_far_bid,
    f_limit,
    fpx,
    run,
    ws_call,
    ws_request,
)
from trader.sim.binance import DEMO_KEY, DEMO_SECRET, BinanceSimServer


def test_spot_ws_api_place_status_cancel() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        bid = server.engine.best_bid()
        assert bid is not None
        price = f"{Decimal(bid - 500) * server.tick:.2f}"
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": price}
        order |= {"quantity": "0.010", "newClientOrderId": "ws-1"}
        async with c.session.ws_connect(f"{server.ws_url}/ws-api/v3") as ws:
            placed = await ws_call(ws, ws_request(1, "order.place", order, server))
            assert (placed["id"], placed["status"]) == (1, 200), placed
            assert (placed["result"]["status"], placed["result"]["fills"]) == ("NEW", [])
            limits = {x["rateLimitType"]: x for x in placed["rateLimits"]}
            assert limits["ORDERS"]["count"] == 1
            assert limits["REQUEST_WEIGHT"]["count"] >= 1
            status = await ws_call(
                ws, ws_request(2, "order.status", {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"}, server)
            )
            assert (status["result"]["status"], status["result"]["orderId"]) == (
                "NEW",
                placed["result"]["orderId"],
            )
            listed = await ws_call(ws, ws_request(3, "openOrders.status", {"symbol": "BTCUSDT"}, server))
            assert [o["clientOrderId"] for o in listed["result"]] == ["ws-1"]
            bad = await ws_call(
                ws,
                ws_request(4, "order.place", {**order, "newClientOrderId": "ws-2"}, server, Signer("wrong")),
            )
            assert (bad["status"], bad["error"]["code"]) == (400, -1022)
            canceled = await ws_call(
                ws, ws_request(5, "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"}, server)
            )
            assert canceled["result"]["status"] == "CANCELED"
            again = await ws_call(
                ws, ws_request(6, "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"}, server)
            )
            assert (again["status"], again["error"]["code"]) == (400, -2011)
            await ws_call(ws, ws_request(7, "order.place", {**order, "newClientOrderId": "ws-3"}, server))
            all_canceled = await ws_call(
                ws, ws_request(8, "openOrders.cancelAll", {"symbol": "BTCUSDT"}, server)
            )
            assert [o["origClientOrderId"] for o in all_canceled["result"]] == ["ws-3"]
        # the REST view of the same orders
        _, got, _ = await c.call("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"})
        assert got["status"] == "CANCELED"
        assert "ws-2" not in server.state()[DEMO_KEY]["submissions"], "a bad signature never reaches the book"

    run(t)


def test_futures_ws_api_place_status_cancel() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        order = f_limit("SELL", fpx((server.f_engine.best_ask() or 0) + 100), newClientOrderId="fws-1")
        async with c.session.ws_connect(f"{server.ws_url}/ws-fapi/v1") as ws:
            placed = await ws_call(ws, ws_request(1, "order.place", order, server))
            assert placed["status"] == 200, placed
            assert (placed["result"]["status"], placed["result"]["positionSide"]) == ("NEW", "BOTH")
            limits = {(x["rateLimitType"], x["interval"]): x for x in placed["rateLimits"]}
            assert limits[("ORDERS", "SECOND")]["count"] == 1
            assert limits[("ORDERS", "MINUTE")]["limit"] == 1200
            assert limits[("REQUEST_WEIGHT", "MINUTE")]["limit"] == 2400
            status = await ws_call(
                ws,
                ws_request(
                    2, "order.status", {"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"]}, server
                ),
            )
            assert status["result"]["clientOrderId"] == "fws-1"
            bad = await ws_call(
                ws,
                ws_request(
                    3,
                    "order.cancel",
                    {"symbol": "BTCUSDT", "origClientOrderId": "fws-1"},
                    server,
                    Signer("x"),
                ),
            )
            assert bad["error"]["code"] == -1022
            canceled = await ws_call(
                ws, ws_request(4, "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "fws-1"}, server)
            )
            assert canceled["result"]["status"] == "CANCELED"
            gtx = await ws_call(
                ws,
                ws_request(
                    5,
                    "order.place",
                    {
                        **order,
                        "price": fpx(server.f_engine.best_bid() or 0),
                        "timeInForce": "GTX",
                        "newClientOrderId": "fws-2",
                    },
                    server,
                ),
            )
            assert (gtx["status"], gtx["error"]["code"]) == (400, -5022), "the same order logic as REST"
            balance = await ws_call(ws, ws_request(6, "account.balance", {}, server))
            assert balance["result"][0]["asset"] == "USDT"
            started = await ws_call(
                ws,
                orjson.dumps(
                    {"id": 7, "method": "userDataStream.start", "params": {"apiKey": DEMO_KEY}}
                ).decode(),
            )
            assert (
                started["result"]["listenKey"]
                == (await c.keyed("POST", "/fapi/v1/listenKey"))[1]["listenKey"]
            )
        assert [o["status"] for o in server.state()[DEMO_KEY]["futures"]["orders"]] == ["CANCELED"]

    run(t, step_ms=QUIET)


def test_ws_orders_count_against_the_rest_order_limits() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        bid = server.engine.best_bid()
        assert bid is not None
        spot = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        spot |= {"price": f"{Decimal(bid - 500) * server.tick:.2f}", "quantity": "0.010"}
        fut = f_limit("BUY", f_far_bid(server))
        async with (
            c.session.ws_connect(f"{server.ws_url}/ws-api/v3") as ws,
            c.session.ws_connect(f"{server.ws_url}/ws-fapi/v1") as fws,
        ):
            assert (await c.call("POST", "/api/v3/order", spot))[0] == 200
            assert (await ws_call(ws, ws_request(1, "order.place", spot, server)))["status"] == 200
            refused = await ws_call(ws, ws_request(2, "order.place", spot, server))
            assert (refused["status"], refused["error"]["code"]) == (429, -1015)
            status, body, _ = await c.call("POST", "/api/v3/order", spot)
            assert (status, body["code"]) == (429, -1015)
            # futures: the same 10 s counter behind REST and the futures WebSocket API
            assert (await ws_call(fws, ws_request(3, "order.place", fut, server)))["status"] == 200
            _, _, headers = await c.call("POST", "/fapi/v1/order", fut)
            assert headers["X-MBX-ORDER-COUNT-10S"] == "2"
            refused = await ws_call(fws, ws_request(4, "order.place", fut, server))
            assert (refused["status"], refused["error"]["code"]) == (429, -1015)
            assert "300" not in refused["error"]["msg"]
            assert "2 orders per TEN_SECONDS" in refused["error"]["msg"]

    run(t, orders_per_10s=2, futures_orders_per_10s=2)


def test_ed25519_keys_on_rest_and_ws_api() -> None:
    private, public = ed25519_pair()
    other, _ = ed25519_pair()
    good, wrong = Signer(ed25519=private), Signer(ed25519=other)

    async def t(server: BinanceSimServer, c: Client) -> None:
        account = await c.ok("GET", "/api/v3/account", key=ED_KEY, signer=good)
        assert account["accountType"] == "SPOT"
        assert (await c.ok("GET", "/fapi/v3/balance", key=ED_KEY, signer=good))[0]["asset"] == "USDT"
        status, body, _ = await c.call("GET", "/api/v3/account", key=ED_KEY, signer=wrong)
        assert (status, body["code"]) == (400, -1022)
        status, body, _ = await c.call("GET", "/api/v3/account", key=ED_KEY, signer=Signer(DEMO_SECRET))
        assert body["code"] == -1022, "an HMAC signature does not pass for an Ed25519 key"
        # a body-signed POST: the signature covers query + body bytes
        order = f_limit("BUY", f_far_bid(server), newClientOrderId="ed-1")
        payload = urlencode({**order, "timestamp": server.now_ms()})
        form = payload + "&signature=" + quote(good.sign(payload), safe="")
        async with c.session.post(
            f"{server.url}/fapi/v1/order",
            data=form,
            headers={"X-MBX-APIKEY": ED_KEY, "Content-Type": "application/x-www-form-urlencoded"},
        ) as r:
            assert r.status == 200, await r.text()
        async with c.session.ws_connect(f"{server.ws_url}/ws-fapi/v1") as ws:
            q = {"symbol": "BTCUSDT", "origClientOrderId": "ed-1", "apiKey": ED_KEY}
            assert (await ws_call(ws, ws_request(1, "order.status", q, server, good)))["result"][
                "status"
            ] == "NEW"
            bad = await ws_call(ws, ws_request(2, "order.status", q, server, wrong))
            assert (bad["status"], bad["error"]["code"]) == (400, -1022)
        assert (await c.call("GET", "/api/v3/account"))[0] == 200, "HMAC accounts still work alongside"

    run(t, accounts={DEMO_KEY: DEMO_SECRET}, ed25519_accounts={ED_KEY: public})
