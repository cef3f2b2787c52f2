"""The one-port Binance simulator: USD-M futures, margin, Ed25519 keys and the WebSocket APIs, against the
official SDK (python-binance, unmodified) and the raw protocol.

Requests are signed here with the standard library and `cryptography` (as any client would), never with
the core.
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
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trader.clock import LiveClock, SimClock
from trader.sim.binance import BinanceSimServer
from trader.sim.spot import DEMO_KEY, DEMO_SECRET

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


# ---- official SDK --------------------------------------------------------------------------------------


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


def test_python_binance_trades_futures() -> None:
    from binance.exceptions import BinanceAPIException

    async def t(server: BinanceSimServer, c: Client) -> None:
        def body(client: Any) -> None:
            assert client.futures_ping() == {}
            info = client.futures_exchange_info()
            sym = info["symbols"][0]
            assert (sym["symbol"], sym["contractType"]) == ("BTCUSDT", "PERPETUAL")
            filters = {f["filterType"]: f for f in sym["filters"]}
            assert filters["MIN_NOTIONAL"]["notional"] == "100"
            assert filters["PERCENT_PRICE"]["multiplierDecimal"] == "4"
            book = client.futures_order_book(symbol="BTCUSDT", limit=5)
            bid = Decimal(book["bids"][0][0])
            order = client.futures_create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price=f"{bid - 20:.1f}",
                newClientOrderId="fut-1",
            )
            assert (order["status"], order["positionSide"], order["clientOrderId"]) == (
                "NEW",
                "BOTH",
                "fut-1",
            )
            got = client.futures_get_order(symbol="BTCUSDT", origClientOrderId="fut-1")
            assert (got["orderId"], got["status"]) == (order["orderId"], "NEW")
            assert (
                client.futures_cancel_order(symbol="BTCUSDT", orderId=order["orderId"])["status"]
                == "CANCELED"
            )
            with pytest.raises(BinanceAPIException) as err:
                client.futures_cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
            assert err.value.code == -2011
            lev = client.futures_change_leverage(symbol="BTCUSDT", leverage=5)
            assert (lev["leverage"], lev["symbol"]) == (5, "BTCUSDT")
            assert client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")["code"] == 200
            with pytest.raises(BinanceAPIException) as err:
                client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
            assert (err.value.code, err.value.message) == (-4046, "No need to change margin type.")
            taken = client.futures_create_order(
                symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.020", newOrderRespType="RESULT"
            )
            assert (taken["status"], taken["executedQty"]) == ("FILLED", "0.020")
            avg = Decimal(taken["avgPrice"])
            (pos,) = client.futures_position_information(symbol="BTCUSDT")
            assert Decimal(pos["positionAmt"]) == Decimal("0.020")
            assert Decimal(pos["entryPrice"]) == avg
            assert Decimal(pos["isolatedWallet"]) == avg * Decimal("0.020") / 5, "isolated: notional/leverage"
            (bal,) = client.futures_account_balance()
            fee = sum(Decimal(t["commission"]) for t in client.futures_account_trades(symbol="BTCUSDT"))
            assert fee > 0
            assert Decimal(bal["balance"]) == Decimal(100_000) - fee
            account = client.futures_account()
            assert Decimal(account["totalWalletBalance"]) == Decimal(bal["balance"])

        await sdk_session(server, body)
        venue = server.state()[DEMO_KEY]["futures"]
        assert (venue["leverage"], venue["marginType"]) == (5, "ISOLATED")
        assert venue["position"]["positionAmt"] == "0.020"
        assert [o["status"] for o in venue["orders"]] == ["CANCELED", "FILLED"]

    run(t)


def test_python_binance_trades_margin() -> None:
    from binance.exceptions import BinanceAPIException

    async def t(server: BinanceSimServer, c: Client) -> None:
        def body(client: Any) -> None:
            account = client.get_margin_account()
            assert account["marginLevel"] == "999.00000000"
            assert Decimal(account["totalLiabilityOfBtc"]) == 0
            assert client.create_margin_loan(asset="BTC", amount="0.1")["tranId"] > 0
            account = client.get_margin_account()
            btc = next(a for a in account["userAssets"] if a["asset"] == "BTC")
            assert (Decimal(btc["borrowed"]), Decimal(btc["free"])) == (Decimal("0.1"), Decimal("0.1"))
            assert Decimal(account["totalLiabilityOfBtc"]) == Decimal("0.1")
            assert Decimal(account["marginLevel"]) == (
                Decimal(10_000) / server.mid() + Decimal("0.1")
            ) / Decimal("0.1"), "margin level = assets / liabilities"
            with pytest.raises(BinanceAPIException) as err:
                client.create_margin_loan(asset="BTC", amount="1")  # far past 3x
            assert err.value.code == -3006
            client.repay_margin_loan(asset="BTC", amount="0.1")
            assert client.get_margin_account()["marginLevel"] == "999.00000000"
            bid = Decimal(client.get_order_book(symbol="BTCUSDT", limit=5)["bids"][0][0])
            order = client.create_margin_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price=f"{bid - 5:.2f}",
                newClientOrderId="mg-1",
            )
            assert (order["status"], order["isIsolated"]) == ("NEW", False)
            got = client.get_margin_order(symbol="BTCUSDT", origClientOrderId="mg-1")
            assert (got["status"], got["orderId"]) == ("NEW", order["orderId"])
            usdt = next(a for a in client.get_margin_account()["userAssets"] if a["asset"] == "USDT")
            assert Decimal(usdt["locked"]) == (bid - 5) * Decimal("0.010")
            with pytest.raises(BinanceAPIException) as err:
                client.get_order(symbol="BTCUSDT", origClientOrderId="mg-1")
            assert err.value.code == -2013, "a margin order is not a spot order"
            assert (
                client.cancel_margin_order(symbol="BTCUSDT", orderId=order["orderId"])["status"] == "CANCELED"
            )
            tran = client.margin_borrow_repay(
                asset="USDT", amount="100", isIsolated="TRUE", symbol="BTCUSDT", type="BORROW"
            )
            assert tran["tranId"] > 0
            iso = client.get_isolated_margin_account(symbols="BTCUSDT")["assets"][0]
            assert (iso["symbol"], iso["quoteAsset"]["borrowed"]) == ("BTCUSDT", "100.00000000")

        await sdk_session(server, body)
        margin = server.state()[DEMO_KEY]["margin"]
        assert margin["MARGIN"]["assets"]["BTC"]["borrowed"] == "0.00000000"
        assert [o["status"] for o in margin["MARGIN"]["orders"]] == ["CANCELED"]
        assert margin["ISOLATED:BTCUSDT"]["assets"]["USDT"]["borrowed"] == "100.00000000"
        assert server.state()[DEMO_KEY]["orders"] == [], "the spot account saw none of it"

    run(t)


def test_python_binance_with_an_ed25519_key() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    async def t(server: BinanceSimServer, c: Client) -> None:
        def body(client: Any) -> None:
            assert Decimal(client.futures_account_balance()[0]["balance"]) == Decimal(100_000)
            order = client.futures_create_order(
                symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.005", newOrderRespType="RESULT"
            )
            assert order["status"] == "FILLED"
            assert Decimal(client.futures_position_information()[0]["positionAmt"]) == Decimal("-0.005")

        await sdk_session(server, body, api_key=ED_KEY, api_secret=None, private_key=pem)
        assert server.state()[ED_KEY]["futures"]["position"]["positionAmt"] == "-0.005"

    run(t, ed25519_accounts={ED_KEY: public})


# ---- futures, raw protocol -----------------------------------------------------------------------------


def test_futures_public_endpoints_and_usage_headers() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        status, info, headers = await c.public("/fapi/v1/exchangeInfo")
        assert status == 200
        limits = {
            (x["rateLimitType"], x["interval"], x["intervalNum"]): x["limit"] for x in info["rateLimits"]
        }
        assert limits == {
            ("REQUEST_WEIGHT", "MINUTE", 1): 2400,
            ("ORDERS", "MINUTE", 1): 1200,
            ("ORDERS", "SECOND", 10): 300,
        }
        assert headers["X-MBX-USED-WEIGHT-1M"] == "1"
        status, depth, headers = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=5")
        assert {"lastUpdateId", "E", "T", "bids", "asks"} <= set(depth)
        assert len(depth["bids"]) == 5
        assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
        assert headers["X-MBX-USED-WEIGHT-1M"] == "3", "futures weight is its own budget: 1 + 2"
        assert (await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=7"))[1]["code"] == -1100
        assert (await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=abc"))[1]["code"] == -1100
        _, _, headers = await c.call("POST", "/fapi/v1/order", f_limit("BUY", f_far_bid(server)))
        assert (headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")
        _, _, headers = await c.public("/api/v3/time")
        assert headers["X-MBX-USED-WEIGHT-1M"] == "1", "spot weight untouched by futures calls"

    run(t)


def test_futures_weight_limit_429_then_418() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        for _ in range(2):
            assert (await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000"))[0] == 200
        status, body, headers = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000")
        assert (status, body["code"]) == (429, -1003)
        assert int(headers["Retry-After"]) >= 1
        assert (await c.public("/fapi/v1/ping"))[0] == 418
        assert (await c.public("/api/v3/ping"))[0] == 200, "the spot budget is separate"

    run(t, futures_weight_limit=50)


def test_futures_order_rejections() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        ask = server.f_engine.best_ask()
        bid = server.f_engine.best_bid()
        assert ask is not None
        assert bid is not None
        # GTX that would take: -5022, not recorded
        status, body, _ = await c.call(
            "POST", "/fapi/v1/order", f_limit("BUY", fpx(ask), timeInForce="GTX", newClientOrderId="gtx-1")
        )
        assert (status, body["code"]) == (400, -5022)
        assert body["msg"].startswith(
            "Due to the order could not be executed as maker, the Post Only order will be rejected."
        )
        assert (await c.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "gtx-1"}))[
            1
        ]["code"] == -2013
        # GTX that would rest is fine
        gtx = await c.ok("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid), timeInForce="GTX"))
        assert gtx["status"] == "NEW"
        # FOK that cannot fill completely: -5021
        assert (
            await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(ask), qty="5.000", timeInForce="FOK"))
        )[1]["code"] == -5021
        # reduceOnly with no position: -2022
        reduce = {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "MARKET",
            "quantity": "0.010",
            "reduceOnly": "true",
        }
        status, body, _ = await c.call("POST", "/fapi/v1/order", reduce)
        assert (status, body["code"], body["msg"]) == (400, -2022, "ReduceOnly Order is rejected.")
        long = await c.ok(
            "POST",
            "/fapi/v1/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.010",
                "newOrderRespType": "RESULT",
            },
        )
        assert long["status"] == "FILLED"
        increase = {**reduce, "side": "BUY"}
        assert (await c.call("POST", "/fapi/v1/order", increase))[1]["code"] == -2022, "would increase"
        assert (await c.call("POST", "/fapi/v1/order", {**reduce, "quantity": "0.020"}))[1]["code"] == -2022
        closed = await c.ok(
            "POST", "/fapi/v1/order", {**reduce, "quantity": "0.005", "newOrderRespType": "RESULT"}
        )
        assert closed["status"] == "FILLED"
        assert closed["reduceOnly"] is True
        assert server.state()[DEMO_KEY]["futures"]["position"]["positionAmt"] == "0.005"
        # margin: 1x leverage and a notional beyond the wallet
        await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 1})
        big = f_limit("BUY", fpx(bid - 50), qty="3.000")
        status, body, _ = await c.call("POST", "/fapi/v1/order", big)
        assert (status, body["code"], body["msg"]) == (400, -2019, "Margin is insufficient.")
        await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 20})
        assert (await c.ok("POST", "/fapi/v1/order", big))["status"] == "NEW", "20x: the same order fits"
        # filters and duplicates
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid - 50), qty="0.001")))[1][
            "code"
        ] == -4164
        assert (
            await c.call(
                "POST", "/fapi/v1/order", f_limit("BUY", f"{Decimal(fpx(bid)) + Decimal('0.05'):.2f}")
            )
        )[1]["code"] == -4014
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid), qty="0.0101")))[1][
            "code"
        ] == -1111
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(ask * 11 // 10))))[1][
            "code"
        ] == -4016
        assert (await c.call("POST", "/fapi/v1/order", f_limit("SELL", fpx(bid * 9 // 10))))[1][
            "code"
        ] == -4024
        await c.ok("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid - 60), newClientOrderId="dup"))
        status, body, _ = await c.call(
            "POST", "/fapi/v1/order", f_limit("BUY", fpx(bid - 60), newClientOrderId="dup")
        )
        assert (status, body["code"]) == (400, -4116)
        assert server.state()[DEMO_KEY]["futures"]["submissions"]["dup"] == 2
        stop = {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "STOP_MARKET",
            "quantity": "0.010",
            "stopPrice": "1",
        }
        assert (await c.call("POST", "/fapi/v1/order", stop))[1]["code"] == -4120
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid), positionSide="LONG")))[1][
            "code"
        ] == -4061
        assert (await c.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 1}))[1][
            "code"
        ] == -2013
        assert (await c.call("GET", "/fapi/v2/account", signer=Signer("wrong")))[1]["code"] == -1022
        assert (await c.call("GET", "/fapi/v2/account", ts_ms=1000))[1]["code"] == -1021
        assert (await c.call("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "ISOLATED"}))[
            1
        ]["code"] == -4047

    run(t, step_ms=QUIET)


def apply_levels(book: dict[tuple[str, Decimal], Decimal], ev: dict[str, Any]) -> None:
    for side in ("b", "a"):
        for p, q in ev[side]:
            if Decimal(q) == 0:
                book.pop((side, Decimal(p)), None)
            else:
                book[(side, Decimal(p))] = Decimal(q)


def snapshot_book(snap: dict[str, Any]) -> dict[tuple[str, Decimal], Decimal]:
    book = {("b", Decimal(p)): Decimal(q) for p, q in snap["bids"]}
    book |= {("a", Decimal(p)): Decimal(q) for p, q in snap["asks"]}
    return book


def test_futures_depth_stream_pu_chain_continues_the_snapshot() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        async with c.session.ws_connect(f"{server.ws_url}/public/ws/btcusdt@depth@100ms") as ws:

            async def event() -> dict[str, Any]:
                ev: dict[str, Any] = orjson.loads((await ws.receive(timeout=5)).data)
                return ev

            buffered = [await event()]  # buffer from before the snapshot, as the docs say
            assert (buffered[0]["e"], buffered[0]["s"]) == ("depthUpdate", "BTCUSDT")
            assert {"E", "T", "U", "u", "pu"} <= set(buffered[0])
            _, snap, _ = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000")
            book, last_id = snapshot_book(snap), snap["lastUpdateId"]
            prev_u: int | None = None
            jumps = applied = 0
            while applied < 15:
                ev = buffered.pop(0) if buffered else await event()
                if ev["u"] < last_id:
                    continue
                if prev_u is None:
                    assert ev["U"] <= last_id <= ev["u"], "the first event spans the snapshot id"
                else:
                    assert ev["pu"] == prev_u, "pu chains to the previous event's u"
                    jumps += ev["U"] != prev_u + 1
                apply_levels(book, ev)
                prev_u = ev["u"]
                applied += 1
            assert jumps, "ids jump between events, so only pu can be trusted"
            # a fresh snapshot publishes its pending diff first, so it sits exactly on an event's u
            _, fresh, _ = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000")
            while prev_u < fresh["lastUpdateId"]:
                ev = await event()
                assert ev["pu"] == prev_u
                apply_levels(book, ev)
                prev_u = ev["u"]
            assert prev_u == fresh["lastUpdateId"]
            assert max(len(fresh["bids"]), len(fresh["asks"])) < 1000, "the snapshot is the whole book"
            assert book == snapshot_book(fresh)

    run(t)


def test_futures_gap_fault_breaks_the_pu_chain() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        async with c.session.ws_connect(f"{server.ws_url}/public/ws/btcusdt@depth@100ms") as ws:
            a = orjson.loads((await ws.receive(timeout=5)).data)
            server.faults.sequence_gap = True
            for _ in range(30):
                b = orjson.loads((await ws.receive(timeout=5)).data)
                if b["pu"] != a["u"]:
                    break
                a = b
            assert b["pu"] != a["u"], "one event never sent: its successor's pu names it"

    run(t)


def test_futures_routed_streams_book_ticker_agg_trade_mark_price() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        url = server.ws_url
        async with (
            c.session.ws_connect(f"{url}/public/ws/btcusdt@bookTicker") as bt,
            c.session.ws_connect(f"{url}/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s") as mk,
            c.session.ws_connect(f"{url}/market/ws/btcusdt@bookTicker") as wrong_route,
            c.session.ws_connect(f"{url}/ws/btcusdt@bookTicker") as spot,
            c.session.ws_connect(
                f"{url}/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
            ) as both,
        ):
            ev = orjson.loads((await bt.receive(timeout=5)).data)
            assert ev["e"] == "bookTicker"
            assert Decimal(ev["b"]) < Decimal(ev["a"])
            assert {"u", "s", "B", "A", "T", "E"} <= set(ev)
            spot_ev = orjson.loads((await spot.receive(timeout=5)).data)
            assert set(spot_ev) == {"u", "s", "b", "B", "a", "A"}, "the spot bookTicker shape"
            streams: set[str] = set()
            while len(streams) < 2:
                streams.add(orjson.loads((await both.receive(timeout=5)).data)["stream"])
            assert streams == {"btcusdt@depth@100ms", "btcusdt@bookTicker"}
            # our own market order prints an aggTrade on the market route
            await c.ok(
                "POST",
                "/fapi/v1/order",
                {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"},
            )
            seen: set[str] = set()
            while len(seen) < 2:
                msg = orjson.loads((await mk.receive(timeout=5)).data)
                seen.add(msg["stream"])
                if msg["stream"] == "btcusdt@aggTrade":
                    assert msg["data"]["e"] == "aggTrade"
                    assert Decimal(msg["data"]["q"]) > 0
                else:
                    assert msg["data"]["e"] == "markPriceUpdate"
            with pytest.raises(asyncio.TimeoutError):
                await wrong_route.receive(timeout=0.3)  # book streams live on /public only

    run(t)


def test_countdown_cancel_all_fires_unless_refreshed() -> None:
    clock = SimClock(CLOCK.now_ns())

    async def t(server: BinanceSimServer, c: Client) -> None:
        bid = f_far_bid(server)
        o1 = await c.ok("POST", "/fapi/v1/order", f_limit("BUY", bid, newClientOrderId="dm-1"))
        armed = await c.ok(
            "POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 5000}
        )
        assert armed == {"symbol": "BTCUSDT", "countdownTime": "5000"}
        clock.advance(4_000_000_000)
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o1["orderId"]}))[
            "status"
        ] == "NEW"
        await c.ok(
            "POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 5000}
        )  # heartbeat
        clock.advance(4_000_000_000)  # 8 s after the first arming, 4 s after the refresh
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o1["orderId"]}))[
            "status"
        ] == "NEW"
        countdown = server.state()[DEMO_KEY]["futures"]["countdown"]
        assert (countdown["armed"], countdown["fired"]) == (True, 0)
        clock.advance(1_500_000_000)
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o1["orderId"]}))[
            "status"
        ] == "CANCELED"
        countdown = server.state()[DEMO_KEY]["futures"]["countdown"]
        assert (countdown["armed"], countdown["fired"], countdown["canceled"]) == (False, 1, [o1["orderId"]])
        # disarmed with 0: nothing happens later
        o2 = await c.ok("POST", "/fapi/v1/order", f_limit("BUY", bid, newClientOrderId="dm-2"))
        await c.ok("POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 1000})
        await c.ok("POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 0})
        clock.advance(10_000_000_000)
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o2["orderId"]}))[
            "status"
        ] == "NEW"
        assert server.state()[DEMO_KEY]["futures"]["countdown"]["fired"] == 1

    run(t, clock=clock)


def test_futures_self_trade_prevention() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        bid, ask = server.f_engine.best_bid(), server.f_engine.best_ask()
        assert bid is not None
        assert ask is not None
        own_ask = await c.ok(
            "POST", "/fapi/v1/order", f_limit("SELL", fpx(ask - 1) if ask - 1 > bid else fpx(ask))
        )
        # EXPIRE_TAKER: the buy stops before our own ask (nothing better in between), remainder expired
        taker = await c.ok(
            "POST",
            "/fapi/v1/order",
            f_limit("BUY", fpx(ask + 5), selfTradePreventionMode="EXPIRE_TAKER", newOrderRespType="RESULT"),
        )
        assert taker["status"] == "EXPIRED_IN_MATCH"
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": own_ask["orderId"]}))[
            "status"
        ] == "NEW"
        # EXPIRE_MAKER: our resting ask is expired, the buy trades with others
        taker = await c.ok(
            "POST",
            "/fapi/v1/order",
            f_limit("BUY", fpx(ask + 50), selfTradePreventionMode="EXPIRE_MAKER", newOrderRespType="RESULT"),
        )
        assert taker["status"] == "FILLED"
        maker = await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": own_ask["orderId"]})
        assert (maker["status"], maker["executedQty"]) == ("EXPIRED_IN_MATCH", "0.000")
        assert all(not t["maker"] for t in await c.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}))

    run(t, step_ms=QUIET)


# ---- futures user data ---------------------------------------------------------------------------------


def test_futures_user_data_order_and_account_updates() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        status, body = await c.keyed("POST", "/fapi/v1/listenKey")
        assert status == 200
        lk = body["listenKey"]
        assert (await c.keyed("POST", "/fapi/v1/listenKey"))[1]["listenKey"] == lk, "the active key again"
        assert (await c.keyed("PUT", "/fapi/v1/listenKey"))[1] == {"listenKey": lk}
        assert (await c.keyed("POST", "/fapi/v1/listenKey", key="nobody"))[0] == 401
        events = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"
        async with (
            c.session.ws_connect(f"{server.ws_url}/private/ws?listenKey={lk}&events={events}") as ws,
            c.session.ws_connect(f"{server.ws_url}/private/ws/{lk}") as all_events,
        ):
            await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 10})
            config = orjson.loads((await all_events.receive(timeout=5)).data)
            assert (config["e"], config["ac"]) == ("ACCOUNT_CONFIG_UPDATE", {"s": "BTCUSDT", "l": 10})
            order = await c.ok(
                "POST",
                "/fapi/v1/order",
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": "0.010",
                    "newClientOrderId": "ud-1",
                },
            )
            assert order["status"] == "NEW", "ACK (the default) answers before matching"
            got: list[dict[str, Any]] = []

            def done() -> bool:
                filled = any(e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED" for e in got)
                return filled and any(
                    e["e"] == "ACCOUNT_UPDATE" and e["a"]["P"][0]["pa"] == "0.010" for e in got
                )

            while not done():
                got.append(orjson.loads((await ws.receive(timeout=5)).data))
            updates = [e["o"] for e in got if e["e"] == "ORDER_TRADE_UPDATE"]
            assert (updates[0]["x"], updates[0]["X"], updates[0]["c"]) == ("NEW", "NEW", "ud-1")
            trades = [u for u in updates if u["x"] == "TRADE"]
            assert trades
            assert trades[-1]["X"] == "FILLED"
            assert trades[-1]["z"] == "0.010"
            assert sum(Decimal(u["l"]) for u in trades) == Decimal("0.010")
            assert all(u["N"] == "USDT" and Decimal(u["n"]) > 0 and u["m"] is False for u in trades)
            expected_keys = {
                "s",
                "c",
                "S",
                "o",
                "f",
                "q",
                "p",
                "ap",
                "sp",
                "x",
                "X",
                "i",
                "l",
                "z",
                "L",
                "N",
                "n",
                "T",
            }
            expected_keys |= {"t", "b", "a", "m", "R", "wt", "ot", "ps", "cp", "rp", "V", "pm", "gtd"}
            assert expected_keys <= set(updates[0])
            account = [e for e in got if e["e"] == "ACCOUNT_UPDATE"][-1]["a"]
            assert account["m"] == "ORDER"
            (position,) = account["P"]
            assert (position["s"], position["pa"], position["mt"], position["ps"]) == (
                "BTCUSDT",
                "0.010",
                "cross",
                "BOTH",
            )
            assert Decimal(position["ep"]) == Decimal(trades[-1]["ap"])
            (usdt,) = account["B"]
            assert usdt["a"] == "USDT"
            assert Decimal(usdt["wb"]) < 100_000
            assert {"wb", "cw", "bc"} <= set(usdt)
            assert {"ep", "cr", "up", "iw"} <= set(position)
            # the unfiltered socket saw the same order events
            seen = [orjson.loads((await all_events.receive(timeout=5)).data) for _ in range(len(got))]
            assert [e["e"] for e in seen] == [e["e"] for e in got]
        assert (await c.keyed("DELETE", "/fapi/v1/listenKey"))[0] == 200
        async with c.session.get(f"{server.url}/private/ws?listenKey={lk}") as r:
            assert (r.status, (await r.json())["code"]) == (400, -1125)

    run(t)


# ---- WebSocket API -------------------------------------------------------------------------------------


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


# ---- Ed25519 keys --------------------------------------------------------------------------------------


def ed25519_pair() -> tuple[Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


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


# ---- margin, raw protocol ------------------------------------------------------------------------------


def test_margin_borrow_repay_margin_level_and_side_effects() -> None:
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
