"""The loopback Polymarket CLOB V2 simulator, against the official SDK (py-clob-client-v2) as the oracle.

The SDK is synchronous: it runs in a worker thread (asyncio.to_thread) while the server runs on the
test's event loop. Raw requests here are signed with the standard library, never with the core.
Most tests need empty books and exact balances: they turn the background market off; the background's
own tests (at the end) turn it on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from eth_utils.crypto import keccak
from py_clob_client_v2 import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    ClobClient,
    CreateOrderOptions,
    MarketOrderArgs,
    OpenOrderParams,
    OrderArgs,
    OrderMarketCancelParams,
    OrderPayload,
    OrderScoringParams,
    OrderType,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException

from trader.clock import LiveClock, SimClock
from trader.sim.polymarket import (
    COLLATERAL,
    CTF,
    EXCHANGE,
    SCALE,
    UNIT,
    BackgroundParams,
    Market,
    PolymarketSimServer,
)
from trader.sim.polymarket.rest import levels

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
    a, b, c = server.markets.values()
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


def test_sdk_creds_limit_order_query_cancel_and_balance() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        client = await new_client(server, "alice")
        creds = client.creds
        assert isinstance(creds, ApiCreds)
        # derive is deterministic per address and nonce; a second create for the same pair is refused
        assert await asyncio.to_thread(client.derive_api_key) == creds
        assert await asyncio.to_thread(client.create_or_derive_api_key) == creds
        other = await asyncio.to_thread(client.create_api_key, 1)
        assert other.api_key != creds.api_key
        assert await asyncio.to_thread(client.get_version) == 2
        assert abs(await asyncio.to_thread(client.get_server_time) - CLOCK.now_ns() // 10**9) < 5

        resp = await place(client, coin.yes, "BUY", 0.42, 10)
        assert (resp["success"], resp["status"], resp["tradeIDs"]) == (True, "live", [])
        oid = resp["orderID"]
        assert oid.startswith("0x")
        assert len(oid) == 66
        order = await asyncio.to_thread(client.get_order, oid)
        assert (order["status"], order["side"], order["price"], order["original_size"]) == (
            "LIVE",
            "BUY",
            "0.42",
            "10",
        )
        assert (order["asset_id"], order["market"], order["outcome"]) == (coin.yes, coin.condition_id, "Yes")
        assert order["maker_address"] == client.get_address()
        assert [o["id"] for o in await asyncio.to_thread(client.get_open_orders)] == [oid]
        mine = OpenOrderParams(market=server.markets[list(server.markets)[1]].condition_id)
        assert await asyncio.to_thread(client.get_open_orders, mine) == []

        book = await asyncio.to_thread(client.get_order_book, coin.yes)
        assert book["bids"] == [{"price": "0.42", "size": "10"}]
        assert book["hash"] == client.get_order_book_hash(dict(book)), "the SDK's own book checksum"
        mirror = await asyncio.to_thread(client.get_order_book, coin.no)
        assert mirror["asks"] == [{"price": "0.58", "size": "10"}], "the NO book mirrors the YES book"

        balance = await asyncio.to_thread(
            client.get_balance_allowance, BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
        )
        assert balance["balance"] == str(1000 * UNIT)
        assert int(balance["allowances"][EXCHANGE]) == 2**256 - 1

        assert await asyncio.to_thread(client.cancel_order, OrderPayload(orderID=oid)) == {
            "canceled": [oid],
            "not_canceled": {},
        }
        again = await asyncio.to_thread(client.cancel_order, OrderPayload(orderID=oid))
        assert again == {"canceled": [], "not_canceled": {oid: "already canceled or matched"}}
        assert (await asyncio.to_thread(client.get_order, oid))["status"] == "CANCELED"
        assert await asyncio.to_thread(client.get_open_orders) == []

    run(t)


def test_bad_hmac_bad_l1_and_bad_order_signature_are_refused() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice = await new_client(server, "alice")
        async with aiohttp.ClientSession() as session:
            status, body = await signed(session, server, alice, "GET", "/data/orders")
            assert (status, body["next_cursor"], body["data"]) == (200, "LTE=", [])
            wrong = base64.urlsafe_b64encode(b"\x01" * 32).decode()
            assert await signed(session, server, alice, "GET", "/data/orders", secret=wrong) == (
                401,
                {"error": "Unauthorized/Invalid api key"},
            )
            # the query string is not signed, the path is: a signature for another path fails
            creds = alice.creds
            assert isinstance(creds, ApiCreds)
            ts = str(CLOCK.now_ns() // 10**9)
            good = base64.urlsafe_b64encode(
                hmac.new(
                    base64.urlsafe_b64decode(creds.api_secret),
                    f"{ts}GET/data/trades".encode(),
                    hashlib.sha256,
                ).digest()
            ).decode()
            headers = {
                "POLY_ADDRESS": alice.get_address(),
                "POLY_SIGNATURE": good,
                "POLY_TIMESTAMP": ts,
                "POLY_API_KEY": creds.api_key,
                "POLY_PASSPHRASE": creds.api_passphrase,
            }
            async with session.get(f"{server.url}/data/trades?next_cursor=MA==", headers=headers) as r:
                assert r.status == 200
            async with session.get(f"{server.url}/data/orders", headers=headers) as r:
                assert r.status == 401
            async with session.get(
                f"{server.url}/auth/derive-api-key",
                headers={
                    "POLY_ADDRESS": alice.get_address(),
                    "POLY_SIGNATURE": "0x" + "11" * 65,
                    "POLY_TIMESTAMP": ts,
                    "POLY_NONCE": "0",
                },
            ) as r:
                assert (r.status, await r.json()) == (401, {"error": "Invalid L1 Request headers"})

            # an order signed by someone else, posted with alice's key and signer field: refused
            mallory = await new_client(server, "mallory")
            order = await asyncio.to_thread(
                mallory.create_order, OrderArgs(token_id=coin.yes, price=0.3, size=10, side="BUY")
            )
            forged = {
                "order": {
                    "salt": int(order.salt),
                    "maker": alice.get_address(),
                    "signer": alice.get_address(),
                    "tokenId": order.tokenId,
                    "makerAmount": order.makerAmount,
                    "takerAmount": order.takerAmount,
                    "side": "BUY",
                    "expiration": "0",
                    "signatureType": 0,
                    "timestamp": order.timestamp,
                    "metadata": order.metadata,
                    "builder": order.builder,
                    "signature": order.signature,
                },
                "owner": creds.api_key,
                "orderType": "GTC",
                "deferExec": False,
                "postOnly": False,
            }
            assert await signed(session, server, alice, "POST", "/order", forged) == (
                400,
                {"error": "invalid signature"},
            )
            # a tampered amount breaks the signature too
            honest = await asyncio.to_thread(
                alice.create_order, OrderArgs(token_id=coin.yes, price=0.3, size=10, side="BUY")
            )
            forged["order"].update(
                salt=int(honest.salt),
                timestamp=honest.timestamp,
                signature=honest.signature,
                makerAmount="1000000",
            )
            assert (await signed(session, server, alice, "POST", "/order", forged))[1] == {
                "error": "invalid signature"
            }
            v1 = {
                **forged,
                "order": {**forged["order"], "taker": "0x" + "00" * 20, "nonce": "0", "feeRateBps": "0"},
            }
            del v1["order"]["timestamp"]
            assert (await signed(session, server, alice, "POST", "/order", v1))[1] == {
                "error": "order_version_mismatch"
            }
            forged["owner"] = "not-my-key"
            assert (await signed(session, server, alice, "POST", "/order", forged))[1] == {
                "error": "the order owner has to be the owner of the API KEY"
            }
            assert server.orders == {}

    run(t)


def test_tick_min_size_balance_post_only_fok_and_gtd_rules() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, rate, _ = markets(server)
        alice = await new_client(server, "alice")
        # the SDK refuses a tick finer than the market's before sending, so build with its order
        # builder (0.001 rounding) and post that
        off_tick = await asyncio.to_thread(
            alice.builder.build_order,
            OrderArgs(token_id=coin.yes, price=0.605, size=10, side="BUY"),
            CreateOrderOptions(tick_size="0.001", neg_risk=False),
        )
        status, err = await rejected(lambda: alice.post_order(off_tick))
        assert status == 400
        assert err["error"].endswith("is invalid. Price (0.605) breaks minimum tick size rule: 0.01")
        # the same price is fine on the 0.001 market
        assert (await place(alice, rate.yes, "BUY", 0.605, 10))["status"] == "live"

        status, err = await rejected(
            lambda: alice.create_and_post_order(OrderArgs(token_id=coin.yes, price=0.5, size=2, side="BUY"))
        )
        assert status == 400
        assert err["error"].endswith("is invalid. Size (2) lower than the minimum: 5")

        status, err = await rejected(
            lambda: alice.create_and_post_order(
                OrderArgs(token_id=coin.yes, price=0.5, size=2001, side="BUY")
            )
        )
        assert (status, err) == (400, {"error": "not enough balance / allowance"}), "1000.5 pUSD > 1000"
        # open orders hold their collateral: 0.605 * 10 is held on the other market
        held = 1000 - Decimal("6.05")
        size = float(held / Decimal("0.5")) + 0.02
        status, err = await rejected(
            lambda: alice.create_and_post_order(
                OrderArgs(token_id=coin.yes, price=0.5, size=size, side="BUY")
            )
        )
        assert err == {"error": "not enough balance / allowance"}
        status, err = await rejected(
            lambda: alice.create_and_post_order(OrderArgs(token_id=coin.yes, price=0.5, size=10, side="SELL"))
        )
        assert err == {"error": "not enough balance / allowance"}, "no YES shares to sell"

        resting = await place(alice, coin.yes, "BUY", 0.50, 10)
        bob = await new_client(server, "bob")
        server.fund(bob.get_address(), tokens={coin.yes: 100})
        status, err = await rejected(
            lambda: bob.create_and_post_order(
                OrderArgs(token_id=coin.yes, price=0.5, size=10, side="SELL"), post_only=True
            )
        )
        assert err == {"error": "invalid post-only order: order crosses book"}
        status, err = await rejected(
            lambda: bob.create_and_post_order(
                OrderArgs(token_id=coin.yes, price=0.5, size=30, side="SELL"), order_type=OrderType.FOK
            )
        )
        assert err == {"error": "order couldn't be fully filled. FOK orders are fully filled or killed."}
        assert (await asyncio.to_thread(alice.get_order, resting["orderID"]))["size_matched"] == "0"

        soon = CLOCK.now_ns() // 10**9 + 30
        status, err = await rejected(
            lambda: bob.create_and_post_order(
                OrderArgs(token_id=coin.yes, price=0.7, size=10, side="SELL", expiration=soon),
                order_type=OrderType.GTD,
            )
        )
        assert err == {"error": "invalid expiration"}, "GTD needs more than the one-minute threshold"
        status, err = await rejected(
            lambda: bob.create_and_post_order(
                OrderArgs(token_id=coin.yes, price=0.7, size=10, side="SELL", expiration=soon + 3600)
            )
        )
        assert err == {"error": "invalid expiration"}, "a GTC order does not expire"

    run(t)


def test_complementary_mint_merge_transfer_and_resolution() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice, bob, carol = [await new_client(server, n) for n in ("alice", "bob", "carol")]

        async def cash(c: ClobClient) -> Decimal:
            b = await asyncio.to_thread(
                c.get_balance_allowance, BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
            )
            return Decimal(b["balance"]) / UNIT

        async def shares(c: ClobClient, token: str) -> Decimal:
            b = await asyncio.to_thread(
                c.get_balance_allowance,
                BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token),
            )
            return Decimal(b["balance"]) / UNIT

        # mint: a YES buy at 0.60 rests; a NO buy at 0.40 meets it
        yes_bid = await place(alice, coin.yes, "BUY", 0.60, 10)
        assert yes_bid["status"] == "live"
        no_bid = await place(bob, coin.no, "BUY", 0.40, 10)
        assert (no_bid["status"], len(no_bid["tradeIDs"])) == ("matched", 1)
        assert (no_bid["makingAmount"], no_bid["takingAmount"]) == ("4", "10")
        assert no_bid["transactionsHashes"][0].startswith("0x")
        for c, oid in ((alice, yes_bid["orderID"]), (bob, no_bid["orderID"])):
            o = await asyncio.to_thread(c.get_order, oid)
            assert (o["status"], o["size_matched"]) == ("MATCHED", "10")
        assert (await cash(alice), await cash(bob)) == (Decimal(994), Decimal(996))
        assert (await shares(alice, coin.yes), await shares(bob, coin.no)) == (Decimal(10), Decimal(10))
        trades = await asyncio.to_thread(bob.get_trades)
        assert [(x["trader_side"], x["side"], x["asset_id"], x["price"], x["size"]) for x in trades] == [
            ("TAKER", "BUY", coin.no, "0.4", "10")
        ]
        maker_view = await asyncio.to_thread(alice.get_trades, TradeParams(market=coin.condition_id))
        assert maker_view[0]["trader_side"] == "MAKER"
        assert maker_view[0]["maker_orders"][0]["order_id"] == yes_bid["orderID"]
        assert maker_view[0]["maker_orders"][0]["price"] == "0.6"

        # merge: a YES sell at 0.65 rests; a NO sell at 0.35 meets it
        await place(alice, coin.yes, "SELL", 0.65, 5)
        merged = await place(bob, coin.no, "SELL", 0.35, 5)
        assert merged["status"] == "matched"
        assert (await cash(alice), await cash(bob)) == (Decimal("997.25"), Decimal("997.75"))
        assert (await shares(alice, coin.yes), await shares(bob, coin.no)) == (Decimal(5), Decimal(5))

        # a plain transfer at the maker's price: alice's YES bid at 0.75 takes carol's YES ask at 0.70
        server.fund(carol.get_address(), tokens={coin.yes: 5})
        ask = await place(carol, coin.yes, "SELL", 0.70, 5)
        take = await place(alice, coin.yes, "BUY", 0.75, 5)
        assert take["status"] == "matched"
        assert (await cash(alice), await cash(carol)) == (Decimal("993.75"), Decimal(1000 + Decimal("3.5")))
        assert (await asyncio.to_thread(carol.get_order, ask["orderID"]))["status"] == "MATCHED"

        # resolution: YES wins; alice holds 10 YES, bob 5 NO
        assert (await shares(alice, coin.yes), await shares(bob, coin.no)) == (Decimal(10), Decimal(5))
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{server.url}/sim/resolve", json={"condition_id": coin.condition_id, "winner": "Yes"}
            ) as r,
        ):
            assert r.status == 200
        assert (await cash(alice), await cash(bob)) == (Decimal("1003.75"), Decimal("997.75"))
        assert (await shares(alice, coin.yes), await shares(bob, coin.no)) == (Decimal(0), Decimal(0))
        market = await asyncio.to_thread(alice.get_market, coin.condition_id)
        assert (market["closed"], [x["winner"] for x in market["tokens"]]) == (True, [True, False])
        status, err = await rejected(
            lambda: alice.create_and_post_order(OrderArgs(token_id=coin.yes, price=0.5, size=5, side="BUY"))
        )
        assert (status, err) == (400, {"error": "the market is not yet ready to process new orders"})

    run(t)


def test_sdk_market_orders_fok_and_fak() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice, bob = await new_client(server, "alice"), await new_client(server, "bob")
        server.fund(bob.get_address(), tokens={coin.yes: 100})
        await place(bob, coin.yes, "SELL", 0.55, 10)
        await place(bob, coin.yes, "SELL", 0.50, 10)

        async def market(amount: float, side: str, kind: str) -> dict[str, Any]:
            args = MarketOrderArgs(token_id=coin.yes, amount=amount, side=side, order_type=kind)
            result: dict[str, Any] = await asyncio.to_thread(
                alice.create_and_post_market_order, args, None, kind
            )
            return result

        # $2.50 at the best ask (the SDK walks the book from its last element): 5 shares at 0.50
        fok = await market(2.5, "BUY", OrderType.FOK)
        assert (fok["status"], fok["makingAmount"], fok["takingAmount"]) == ("matched", "2.5", "5")
        # $8 needs both levels: the SDK prices it at 0.55; the venue spends all of it, 0.50 first
        fak = await market(8, "BUY", OrderType.FAK)
        assert (fak["status"], fak["makingAmount"], fak["takingAmount"]) == ("matched", "8", "15")
        trades = await asyncio.to_thread(alice.get_trades)
        assert sorted((x["price"], x["size"]) for x in trades) == [("0.5", "5"), ("0.5", "5"), ("0.55", "10")]
        # FAK: what the book has is bought, the rest dropped; FOK for more than the book holds is killed
        await place(bob, coin.yes, "SELL", 0.6, 5)
        assert await rejected(
            lambda: alice.post_order(_market_order(alice, coin, 3.5, 0.6), OrderType.FOK)
        ) == (
            400,
            {"error": "order couldn't be fully filled. FOK orders are fully filled or killed."},
        )
        fak = await asyncio.to_thread(alice.post_order, _market_order(alice, coin, 3.5, 0.6), OrderType.FAK)
        assert (fak["makingAmount"], fak["takingAmount"]) == ("3", "5")
        assert (await asyncio.to_thread(alice.get_order, fak["orderID"]))["status"] == "MATCHED"
        # the SDK refuses a FOK the book cannot fill; one crafted at a price no ask meets is killed here
        order = await asyncio.to_thread(
            alice.create_market_order, MarketOrderArgs(token_id=coin.yes, amount=2, side="BUY", price=0.4)
        )
        assert await rejected(lambda: alice.post_order(order, OrderType.FOK)) == (
            400,
            {"error": "order couldn't be fully filled. FOK orders are fully filled or killed."},
        )
        order = await asyncio.to_thread(
            alice.create_market_order, MarketOrderArgs(token_id=coin.yes, amount=2, side="BUY", price=0.4)
        )
        _, err = await rejected(lambda: alice.post_order(order, OrderType.FAK))
        assert err["error"].startswith("no orders found to match with FAK order.")

    run(t)


def _market_order(client: ClobClient, m: Market, amount: float, price: float) -> Any:
    return client.create_market_order(MarketOrderArgs(token_id=m.yes, amount=amount, side="BUY", price=price))


def test_neg_risk_market_signs_for_the_neg_risk_exchange_and_a_proxy_funds_it() -> None:
    async def t(server: PolymarketSimServer) -> None:
        _, _, election = markets(server)
        proxy = "0x" + keccak(text="a proxy wallet").hex()[-40:]
        alice = await new_client(server, "alice", signature_type=1, funder=proxy)
        server.fund(proxy, collateral=50)
        assert await asyncio.to_thread(alice.get_neg_risk, election.yes) is True
        resp = await place(alice, election.yes, "BUY", 0.30, 100)
        order = await asyncio.to_thread(alice.get_order, resp["orderID"])
        assert order["maker_address"].lower() == proxy
        balance = await asyncio.to_thread(
            alice.get_balance_allowance, BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
        )
        assert balance["balance"] == str(50 * UNIT), "signature_type 1 reads the funder's balance"
        _, err = await rejected(
            lambda: alice.create_and_post_order(
                OrderArgs(token_id=election.yes, price=0.3, size=70, side="BUY")
            )
        )
        assert err == {"error": "not enough balance / allowance"}, "30 of 50 pUSD are held"
        # the same order signed for the plain exchange domain is refused on a neg-risk market
        plain = await asyncio.to_thread(
            alice.create_order,
            OrderArgs(token_id=election.yes, price=0.2, size=10, side="BUY"),
            PartialCreateOrderOptions(neg_risk=False),
        )
        assert await rejected(lambda: alice.post_order(plain)) == (400, {"error": "invalid signature"})

    run(t)


def test_ws_market_snapshot_then_price_change_and_trades() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice, bob = await new_client(server, "alice"), await new_client(server, "bob")
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{server.ws_url}/ws/market") as ws:
            await ws.send_str(json.dumps({"assets_ids": [coin.yes], "type": "market"}))
            snapshot = json.loads((await ws.receive(timeout=5)).data)
            assert [(b["event_type"], b["asset_id"], b["bids"], b["asks"]) for b in snapshot] == [
                ("book", coin.yes, [], [])
            ]
            await ws.send_str("PING")
            assert (await ws.receive(timeout=5)).data == "PONG"

            await place(alice, coin.yes, "BUY", 0.45, 20)
            change = json.loads((await ws.receive(timeout=5)).data)
            assert change["event_type"] == "price_change"
            assert change["market"] == coin.condition_id
            assert [
                (c["asset_id"], c["price"], c["size"], c["side"], c["best_bid"], c["best_ask"])
                for c in change["price_changes"]
            ] == [(coin.yes, "0.45", "20", "BUY", "0.45", "1")]

            # a NO buy at 0.40 rests as a YES ask at 0.60 in the one book
            await place(bob, coin.no, "BUY", 0.40, 5)
            change = json.loads((await ws.receive(timeout=5)).data)
            assert [(c["price"], c["side"], c["best_ask"]) for c in change["price_changes"]] == [
                ("0.6", "SELL", "0.6")
            ]
            # a NO buy at 0.55 crosses the YES bid at 0.45: a mint, then book + last trade price
            await place(bob, coin.no, "BUY", 0.55, 5)
            book_event = json.loads((await ws.receive(timeout=5)).data)
            assert (book_event["event_type"], book_event["bids"]) == (
                "book",
                [{"price": "0.45", "size": "15"}],
            )
            last = json.loads((await ws.receive(timeout=5)).data)
            assert (last["event_type"], last["asset_id"], last["price"], last["size"], last["side"]) == (
                "last_trade_price",
                coin.yes,
                "0.45",
                "5",
                "SELL",
            )

            server.set_tick_size(coin.condition_id, Decimal("0.001"))
            tick = json.loads((await ws.receive(timeout=5)).data)
            assert (tick["event_type"], tick["old_tick_size"], tick["new_tick_size"]) == (
                "tick_size_change",
                "0.01",
                "0.001",
            )
            assert (await place(alice, coin.yes, "BUY", 0.451, 10))["status"] == "live"

    run(t)


def test_ws_user_channel_orders_and_trades() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, rate, _ = markets(server)
        alice, bob = await new_client(server, "alice"), await new_client(server, "bob")
        creds = alice.creds
        assert isinstance(creds, ApiCreds)
        auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{server.ws_url}/ws/user") as bad:
                await bad.send_str(json.dumps({"auth": {**auth, "secret": "x"}, "type": "user"}))
                msg = await bad.receive(timeout=5)
                assert msg.type is aiohttp.WSMsgType.CLOSE
            async with session.ws_connect(f"{server.ws_url}/ws/user") as ws:
                await ws.send_str(json.dumps({"auth": auth, "markets": [coin.condition_id], "type": "user"}))
                await LiveClock().sleep(0.05)
                await place(alice, rate.yes, "BUY", 0.3, 10)  # another market: filtered out
                resting = await place(alice, coin.yes, "BUY", 0.5, 10)
                placed = json.loads((await ws.receive(timeout=5)).data)
                assert (placed["event_type"], placed["type"], placed["id"], placed["status"]) == (
                    "order",
                    "PLACEMENT",
                    resting["orderID"],
                    "LIVE",
                )
                server.fund(bob.get_address(), tokens={coin.yes: 10})
                await place(bob, coin.yes, "SELL", 0.5, 6)
                update = json.loads((await ws.receive(timeout=5)).data)
                assert (update["type"], update["size_matched"], update["status"]) == ("UPDATE", "6", "LIVE")
                trades = [json.loads((await ws.receive(timeout=5)).data) for _ in range(2)]
                assert [(x["event_type"], x["status"], x["trader_side"]) for x in trades] == [
                    ("trade", "MATCHED", "MAKER"),
                    ("trade", "CONFIRMED", "MAKER"),
                ]
                await asyncio.to_thread(alice.cancel_all)
                canceled = json.loads((await ws.receive(timeout=5)).data)
                assert (canceled["type"], canceled["status"], canceled["id"]) == (
                    "CANCELLATION",
                    "CANCELED",
                    resting["orderID"],
                )

    run(t)


def test_rpc_balances_match_rest() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice, bob = await new_client(server, "alice"), await new_client(server, "bob")
        await place(alice, coin.yes, "BUY", 0.37, 10)
        await place(bob, coin.no, "BUY", 0.63, 10)
        address = alice.get_address()
        word = address.lower().removeprefix("0x").rjust(64, "0")

        async with aiohttp.ClientSession() as session:

            async def rpc(method: str, *params: Any) -> Any:
                body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
                async with session.post(f"{server.url}/rpc", json=body) as r:
                    reply = await r.json()
                assert reply["id"] == 1
                return reply.get("result", reply.get("error"))

            assert await rpc("eth_chainId") == "0x89"
            on_chain = int(
                await rpc("eth_call", {"to": COLLATERAL, "data": "0x70a08231" + word}, "latest"), 16
            )
            rest = await asyncio.to_thread(
                alice.get_balance_allowance, BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
            )
            assert on_chain == int(rest["balance"]) == (1000 - Decimal("3.7")) * UNIT
            token_word = int(coin.yes).to_bytes(32, "big").hex()
            shares = int(await rpc("eth_call", {"to": CTF, "data": "0x00fdd58e" + word + token_word}), 16)
            rest = await asyncio.to_thread(
                alice.get_balance_allowance,
                BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=coin.yes),
            )
            assert shares == int(rest["balance"]) == 10 * UNIT
            spender = EXCHANGE.lower().removeprefix("0x").rjust(64, "0")
            allowance = await rpc("eth_call", {"to": COLLATERAL, "data": "0xdd62ed3e" + word + spender})
            assert int(allowance, 16) == 2**256 - 1
            approved = await rpc("eth_call", {"to": CTF, "data": "0xe985e9c5" + word + spender})
            assert int(approved, 16) == 1
            server.set_approval(address, EXCHANGE, False)
            assert int(await rpc("eth_call", {"to": CTF, "data": "0xe985e9c5" + word + spender}), 16) == 0
            assert (await rpc("eth_call", {"to": CTF, "data": "0xdeadbeef"}))[
                "message"
            ] == "execution reverted"
            assert (await rpc("eth_getBalance", address))["code"] == -32601
            # without the approval, selling the shares is refused like a missing allowance
        assert await rejected(
            lambda: alice.create_and_post_order(OrderArgs(token_id=coin.yes, price=0.5, size=10, side="SELL"))
        ) == (400, {"error": "not enough balance / allowance"})

    run(t)


def test_heartbeat_dead_man_switch_and_gtd_expiry() -> None:
    clock = ShiftedClock()

    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice, bob = await new_client(server, "alice"), await new_client(server, "bob")
        kept = await place(alice, coin.yes, "BUY", 0.2, 10)
        hb = await asyncio.to_thread(bob.post_heartbeat)
        assert hb["status"] == "ok"
        assert hb["heartbeat_id"]
        doomed = await place(bob, coin.yes, "BUY", 0.2, 10)
        assert (await asyncio.to_thread(bob.post_heartbeat, hb["heartbeat_id"]))["heartbeat_id"] == hb[
            "heartbeat_id"
        ]
        gtd = await _gtd(alice, coin, clock)
        clock.offset_ns += 2 * 10**9  # past bob's 1 s heartbeat timeout
        server.on_step(0)
        assert (await asyncio.to_thread(bob.get_order, doomed["orderID"]))["status"] == "CANCELED"
        assert (await asyncio.to_thread(alice.get_order, kept["orderID"]))["status"] == "LIVE", (
            "no heartbeat: kept"
        )
        assert (await asyncio.to_thread(alice.get_order, gtd["orderID"]))["status"] == "LIVE"
        clock.offset_ns += 60 * 10**9  # expiration - 60 s has passed
        server.on_step(0)
        assert (await asyncio.to_thread(alice.get_order, gtd["orderID"]))["status"] == "CANCELED"
        assert (await asyncio.to_thread(alice.get_order, kept["orderID"]))["status"] == "LIVE"

    run(t, clock=clock, heartbeat_timeout_ms=1000, step_ms=60_000)


async def _gtd(client: ClobClient, m: Market, clock: ShiftedClock) -> dict[str, Any]:
    expiration = clock.now_ns() // 10**9 + 100
    args = OrderArgs(token_id=m.yes, price=0.1, size=10, side="BUY", expiration=expiration)
    result: dict[str, Any] = await asyncio.to_thread(client.create_and_post_order, args, None, OrderType.GTD)
    return result


def test_batch_orders_pages_scoring_and_market_cancels() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, rate, _ = markets(server)
        alice = await new_client(server, "alice")
        orders = [
            await asyncio.to_thread(
                alice.create_order, OrderArgs(token_id=token, price=p, size=s, side="BUY")
            )
            for token, p, s in (
                (coin.yes, 0.40, 30),
                (coin.yes, 0.41, 30),
                (rate.yes, 0.2, 10),
                (coin.no, 0.5, 3),
            )
        ]
        results = await asyncio.to_thread(alice.post_orders, [PostOrdersV2Args(order=o) for o in orders])
        assert [r["success"] for r in results] == [True, True, True, False]
        assert "lower than the minimum: 5" in results[3]["errorMsg"]
        ids = [r["orderID"] for r in results[:3]]
        assert sorted(o["id"] for o in await asyncio.to_thread(alice.get_open_orders)) == sorted(ids)
        first = await asyncio.to_thread(alice.get_open_orders, None, True)
        assert len(first) == 2, "page_size 2: the SDK follows next_cursor to the end"

        # scoring: within the 3.5-cent max spread of the midpoint, with at least 20 shares
        bob = await new_client(server, "bob")
        server.fund(bob.get_address(), tokens={coin.yes: 100})
        await place(bob, coin.yes, "SELL", 0.45, 10)  # mid (0.41 + 0.45) / 2 = 0.43
        assert await asyncio.to_thread(alice.is_order_scoring, OrderScoringParams(orderId=ids[0])) == {
            "scoring": True
        }
        await place(bob, coin.yes, "SELL", 0.43, 10)  # mid 0.42... still both within 0.035
        await place(alice, coin.yes, "BUY", 0.30, 30)
        async with aiohttp.ClientSession() as session:
            status, scores = await signed(session, server, alice, "POST", "/orders-scoring", ids)
            assert (status, scores) == (200, {ids[0]: True, ids[1]: True, ids[2]: False})
            status, err = await signed(session, server, alice, "POST", "/orders", [{}] * 16)
            assert (status, err) == (400, {"error": "Too many orders in payload: 16, max allowed: 15"})

        gone = await asyncio.to_thread(
            alice.cancel_market_orders, OrderMarketCancelParams(market=rate.condition_id)
        )
        assert gone == {"canceled": [ids[2]], "not_canceled": {}}
        everything = await asyncio.to_thread(alice.cancel_all)
        assert set(ids[:2]) <= set(everything["canceled"])
        assert await asyncio.to_thread(alice.get_open_orders) == []

    run(t, page_size=2)


def test_faults_and_rate_limits_apply_to_order_endpoints() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice = await new_client(server, "alice")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/sim/faults", json={"error_5xx_rate": 1.0}) as r:
                assert r.status == 200
            status, _ = await rejected(
                lambda: alice.create_and_post_order(
                    OrderArgs(token_id=coin.yes, price=0.5, size=5, side="BUY")
                )
            )
            assert status == 503
            assert (await asyncio.to_thread(alice.get_order_book, coin.yes))["bids"] == [], "reads unaffected"
            async with session.post(f"{server.url}/sim/faults/reset") as r:
                assert r.status == 200
            assert server.orders == {}, "an injected 503 never reaches the book"
            for _ in range(2):
                assert (await place(alice, coin.yes, "BUY", 0.5, 5))["success"]
            status, err = await rejected(
                lambda: alice.create_and_post_order(
                    OrderArgs(token_id=coin.yes, price=0.5, size=5, side="BUY")
                )
            )
            assert (status, err) == (429, {"error": "Too Many Requests"})

    run(t, rate_limits={"POST /order": (2, 10_000)})


# ---- Gamma (market metadata under /gamma) ----------------------------------------------------------


async def gamma(
    session: aiohttp.ClientSession, server: PolymarketSimServer, path: str, query: Any = None
) -> tuple[int, Any]:
    """A plain Gamma GET (no auth); JSON numbers decoded as Decimal so they compare exactly."""
    async with session.get(f"{server.url}/gamma{path}", params=query) as r:
        return r.status, json.loads(await r.read(), parse_float=Decimal)


def _iso_s(text: str) -> int:
    assert text.endswith("Z"), text
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def test_gamma_markets_shape_follows_the_market_state() -> None:
    """The fields the official Python SDK (`polymarket-client`, models/gamma/market.py) reads, with the
    venue's types: JSON-encoded string arrays, JSON numbers, ISO times; the same state as the CLOB's."""

    async def t(server: PolymarketSimServer) -> None:
        coin, rate, neg = markets(server)
        client = await new_client(server, "alice")
        async with aiohttp.ClientSession() as session:
            status, rows = await gamma(session, server, "/markets")
            assert status == 200
            assert [r["conditionId"] for r in rows] == [m.condition_id for m in (coin, rate, neg)]
            for m, r in zip((coin, rate, neg), rows, strict=True):
                assert isinstance(r["id"], str)
                assert r["id"] == m.gamma_id
                assert (r["question"], r["slug"]) == (m.question, m.slug)
                for name in ("outcomes", "outcomePrices", "clobTokenIds"):
                    assert isinstance(r[name], str), f"{name} is a JSON-encoded string"
                assert json.loads(r["outcomes"]) == ["Yes", "No"]
                assert json.loads(r["clobTokenIds"]) == [m.yes, m.no]
                assert json.loads(r["outcomePrices"]) == ["0.5", "0.5"], "no book yet: the venue's 0.5"
                tick = Decimal(m.tick) / SCALE
                assert r["orderPriceMinTickSize"] == tick, "a JSON number"
                assert isinstance(r["orderPriceMinTickSize"], Decimal)
                assert r["orderMinSize"] == 5
                assert r["negRisk"] is m.neg_risk
                assert ("negRiskMarketID" in r) is m.neg_risk
                assert (r["active"], r["closed"], r["acceptingOrders"], r["enableOrderBook"]) == (
                    True, False, True, True,
                )  # fmt: skip
                assert (r["rewardsMinSize"], r["rewardsMaxSpread"]) == (20, Decimal("3.5")), "shares, cents"
                [reward] = r["clobRewards"]
                assert (reward["conditionId"], reward["rewardsDailyRate"]) == (m.condition_id, 100)
                end = _iso_s(r["endDate"])
                assert end == m.end_s
                assert r["endDateIso"] == r["endDate"][:10]
                now_s = CLOCK.now_ns() // 10**9
                assert 29 * 86_400 < end - now_s <= 31 * 86_400, "about a month ahead"
                assert end % 86_400 == 0, "at a UTC midnight"
                # the CLOB (read by its own SDK) tells the same end date and tick
                clob = await asyncio.to_thread(client.get_market, m.condition_id)
                assert _iso_s(clob["end_date_iso"]) == end
                assert Decimal(str(clob["minimum_tick_size"])) == tick

            # one by Gamma id; an unknown id is a 404
            status, one = await gamma(session, server, f"/markets/{neg.gamma_id}")
            assert (status, one) == (200, rows[2])
            status, _ = await gamma(session, server, "/markets/1")
            assert status == 404

            # filters (repeatable), paging, bad parameters
            two = [("condition_ids", coin.condition_id), ("condition_ids", neg.condition_id)]
            status, found = await gamma(session, server, "/markets", two)
            assert [r["id"] for r in found] == [coin.gamma_id, neg.gamma_id]
            _, found = await gamma(session, server, "/markets", {"slug": rate.slug})
            assert [r["id"] for r in found] == [rate.gamma_id]
            _, found = await gamma(session, server, "/markets", {"clob_token_ids": neg.no})
            assert [r["id"] for r in found] == [neg.gamma_id]
            _, found = await gamma(session, server, "/markets", {"condition_ids": "0x" + "00" * 32})
            assert found == []
            _, page = await gamma(session, server, "/markets", {"limit": "1", "offset": "1"})
            assert [r["id"] for r in page] == [rate.gamma_id]
            for bad in ({"limit": "x"}, {"limit": "100000"}, {"offset": "-1"}, {"closed": "maybe"}):
                status, _ = await gamma(session, server, "/markets", bad)
                assert status == 422, bad

            # state changes show: a resting bid, a tick change, resolution
            assert (await place(client, coin.yes, "BUY", 0.42, 10))["success"]
            server.set_tick_size(rate.condition_id, Decimal("0.01"))
            server.resolve(neg.condition_id, "No")
            _, rows = await gamma(session, server, "/markets")
            assert (rows[0]["bestBid"], rows[0]["bestAsk"]) == (Decimal("0.42"), None)
            assert rows[1]["orderPriceMinTickSize"] == Decimal("0.01")
            assert (rows[2]["closed"], rows[2]["acceptingOrders"]) == (True, False)
            assert json.loads(rows[2]["outcomePrices"]) == ["0", "1"]
            _, closed = await gamma(session, server, "/markets", {"closed": "true"})
            assert [r["id"] for r in closed] == [neg.gamma_id]
            _, still_open = await gamma(session, server, "/markets", {"closed": "false"})
            assert [r["id"] for r in still_open] == [coin.gamma_id, rate.gamma_id]

    run(t)


def test_gamma_admin_hooks_and_throttling() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        async with aiohttp.ClientSession() as session:
            # an end date set by hand (Gamma endDate and the CLOB's end_date_iso)
            body: dict[str, Any] = {
                "condition_id": coin.condition_id,
                "end_date": "2030-06-01T12:00:00+00:00",
            }
            async with session.post(f"{server.url}/sim/end-date", json=body) as r:
                assert r.status == 200
            _, [row] = await gamma(session, server, "/markets", {"condition_ids": coin.condition_id})
            assert row["endDate"] == "2030-06-01T12:00:00Z"
            async with session.get(f"{server.url}/markets/{coin.condition_id}") as r:
                assert (await r.json())["end_date_iso"] == "2030-06-01T12:00:00Z"

            # Gamma made to disagree with the CLOB: only Gamma changes; {} restores it
            body = {"condition_id": coin.condition_id, "fields": {"orderPriceMinTickSize": "0.001"}}
            async with session.post(f"{server.url}/sim/gamma-override", json=body) as r:
                assert r.status == 200
            _, [row] = await gamma(session, server, "/markets", {"condition_ids": coin.condition_id})
            assert row["orderPriceMinTickSize"] == "0.001"
            async with session.get(f"{server.url}/tick-size", params={"token_id": coin.yes}) as r:
                tick = json.loads(await r.read(), parse_float=Decimal)["minimum_tick_size"]
                assert tick == Decimal("0.01"), "the CLOB keeps the market's tick"
            body = {"condition_id": coin.condition_id, "fields": {}}
            async with session.post(f"{server.url}/sim/gamma-override", json=body) as r:
                assert r.status == 200
            _, [row] = await gamma(session, server, "/markets", {"condition_ids": coin.condition_id})
            assert row["orderPriceMinTickSize"] == Decimal("0.01")
            body = {"condition_id": "0xnope", "fields": {"negRisk": True}}
            async with session.post(f"{server.url}/sim/gamma-override", json=body) as r:
                assert r.status == 400

            # the /markets limit (300 per 10 s at the venue; 5 here, 3 of them used above)
            for _ in range(2):
                assert (await gamma(session, server, "/markets"))[0] == 200
            assert await gamma(session, server, "/markets") == (429, {"error": "Too Many Requests"})

    run(t, rate_limits={"GET /gamma/markets": (5, 10_000)})


# ---- the background market -----------------------------------------------------------------------


def _top(book: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """Best bid and best ask of a `/book` answer (the venue lists the best level last on both sides)."""
    return Decimal(book["bids"][-1]["price"]), Decimal(book["asks"][-1]["price"])


async def _events(
    ws: aiohttp.ClientWebSocketResponse, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Market-channel events (a snapshot is a list of them) until one matches."""
    while True:
        data = json.loads((await ws.receive(timeout=2)).data)
        for event in data if isinstance(data, list) else [data]:
            if until(event):
                return dict(event)


def test_background_book_is_two_sided_and_moves_on_the_market_channel() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, rate, _ = markets(server)
        client = await new_client(server, "alice")
        for m in (coin, rate):
            book = await asyncio.to_thread(client.get_order_book, m.yes)
            bid, ask = _top(book)
            assert Decimal(book["tick_size"]) <= bid < ask <= 1 - Decimal(book["tick_size"])
            assert book["hash"] == client.get_order_book_hash(dict(book))
            no_bid, no_ask = _top(await asyncio.to_thread(client.get_order_book, m.no))
            assert (no_bid, no_ask) == (1 - ask, 1 - bid), "the NO book mirrors the YES book"
            fair = Decimal(server.state()["background"][m.condition_id]["fair"])
            assert Decimal("0.45") <= fair <= Decimal("0.70")
        assert server.orders == {}, "the venue's records hold API orders only"
        assert not server.keys.keys() & {owner for _, owner in server.participants}

        async with aiohttp.ClientSession() as session, session.ws_connect(f"{server.ws_url}/ws/market") as ws:
            await ws.send_str(json.dumps({"assets_ids": [coin.yes], "type": "market"}))
            snapshot = await _events(ws, lambda e: e["event_type"] == "book")
            assert snapshot["bids"]
            assert snapshot["asks"]
            change = await _events(ws, lambda e: e["event_type"] == "price_change")
            assert change["market"] == coin.condition_id
            assert {c["asset_id"] for c in change["price_changes"]} == {coin.yes}
            for c in change["price_changes"]:
                assert Decimal(c["best_bid"]) < Decimal(c["best_ask"])
                assert Decimal(c["price"]) % Decimal("0.01") == 0

    run(t, background=True, step_ms=10)


def test_background_fills_a_client_bid_above_its_best_bid_and_prints_the_trade() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice = await new_client(server, "alice")
        tick = Decimal("0.01")
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{server.ws_url}/ws/market") as ws:
            await ws.send_str(json.dumps({"assets_ids": [coin.yes], "type": "market"}))
            await _events(ws, lambda e: e["event_type"] == "book")
            for _ in range(100):  # a spread of two ticks or more leaves room above the best bid
                bid, ask = _top(await asyncio.to_thread(alice.get_order_book, coin.yes))
                if ask - bid >= 2 * tick:
                    break
                await LiveClock().sleep(0.01)
            price = bid + tick
            resp = await place(alice, coin.yes, "BUY", float(price), 5)
            assert (resp["status"], resp["tradeIDs"]) == ("live", []), "it rests: nothing crossed it"

            printed = await _events(
                ws, lambda e: e["event_type"] == "last_trade_price" and Decimal(e["price"]) == price
            )
            assert (printed["asset_id"], printed["side"]) == (coin.yes, "SELL"), "a seller hit our bid"
            for _ in range(100):
                order = await asyncio.to_thread(alice.get_order, resp["orderID"])
                if order["status"] == "MATCHED":
                    break
                await LiveClock().sleep(0.01)
            assert (order["status"], order["size_matched"]) == ("MATCHED", "5")

        trades = await asyncio.to_thread(alice.get_trades)
        assert trades
        # the top level describes the background taker (a YES sell, or a NO buy: a mint at 1 - price)
        assert {(x["trader_side"], x["side"], x["outcome"], Decimal(x["price"])) for x in trades} <= {
            ("MAKER", "SELL", "Yes", price),
            ("MAKER", "BUY", "No", 1 - price),
        }
        mine = [x["maker_orders"][0] for x in trades]
        assert {(o["order_id"], o["side"], o["asset_id"], Decimal(o["price"])) for o in mine} == {
            (resp["orderID"], "BUY", coin.yes, price)
        }
        assert sum(Decimal(o["matched_amount"]) for o in mine) == 5
        creds = alice.creds
        assert isinstance(creds, ApiCreds)
        assert {x["maker_orders"][0]["owner"] for x in trades} == {creds.api_key}
        takers = {x["taker_order_id"] for x in trades}
        assert not takers & set(server.orders), "the other side was a background participant"
        cash = await asyncio.to_thread(
            alice.get_balance_allowance, BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)
        )
        assert Decimal(cash["balance"]) == (1000 - 5 * price) * UNIT
        shares = await asyncio.to_thread(
            alice.get_balance_allowance,
            BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=coin.yes),
        )
        assert shares["balance"] == str(5 * UNIT)

    # a busy market (marketable orders at 20/s) so the fill comes within a fraction of a second
    run(t, background=True, step_ms=10, background_params=BackgroundParams(market_rate=20.0))


def _stepped(seed: int, steps: int = 300, dt_ns: int = 100_000_000) -> PolymarketSimServer:
    """A server never started, stepped by hand in simulated time."""
    clock = SimClock()
    server = PolymarketSimServer(seed=seed, clock=clock, step_ms=100)
    for _ in range(steps):
        clock.advance(dt_ns)
        server.on_step(dt_ns)
    return server


def _prints(server: PolymarketSimServer) -> list[tuple[int, int, int, str, str, str]]:
    """Every print: (market index, YES price, size, taker side, taker outcome, maker outcome)."""
    index = {m.condition_id: i for i, m in enumerate(server.markets.values())}
    return [
        (
            index[f.market.condition_id],
            f.yes_price,
            f.size,
            f.taker.side,
            f.market.outcome(f.taker.token),
            f.market.outcome(f.maker.token),
        )
        for f in server.tape
    ]


def test_background_is_deterministic_for_a_seed_and_conserves_tokens() -> None:
    one, two, other = _stepped(11), _stepped(11), _stepped(12)
    prints = _prints(one)
    assert len(prints) > 50, "30 simulated seconds of three markets print trades"
    assert prints == _prints(two), "same seed, same steps: the same prints"
    assert prints != _prints(other)
    for a, b in zip(one.markets.values(), two.markets.values(), strict=True):
        assert levels(one, a, a.yes) == levels(two, b, b.yes), "and the same books"
    assert {p[4] for p in prints} == {"Yes", "No"}, "participants trade both tokens"
    assert {f.taker.order_type for f in one.tape} == {"FAK", "GTC"}, "marketable orders and crossing limits"
    assert {(p[4], p[5]) for p in prints} >= {("Yes", "No"), ("No", "Yes"), ("Yes", "Yes")}, (
        "mints/merges and transfers"
    )

    # never outside [tick, 1 - tick] nor the bounds; no API records; tokens and pUSD conserved
    for m in one.markets.values():
        assert m.background is not None
        assert max(Decimal("0.05"), Decimal(m.tick) / SCALE) * SCALE <= m.background.fair <= 9500
        bids, asks = levels(one, m, m.yes)
        assert bids
        assert asks
        assert m.tick <= min(bids)
        assert max(asks) <= SCALE - m.tick
        yes = sum(w.tokens.get(m.yes, 0) for w in one.wallets.values())
        assert yes == sum(w.tokens.get(m.no, 0) for w in one.wallets.values()), "a YES for every NO"
    assert (one.orders, one.fills, one.keys) == ({}, {}, {})
    start = len(one.participants) * (1 + len(one.markets)) * 10_000_000 * UNIT  # pUSD + YES of each
    total = sum(w.collateral for w in one.wallets.values())
    total += sum(w.tokens.get(m.yes, 0) for w in one.wallets.values() for m in one.markets.values())
    assert total == start, "a mint turns 1 pUSD into a YES and a NO share, a merge back"

    quiet = PolymarketSimServer(seed=11, clock=SimClock(), background=False)
    quiet.on_step(10**9)
    assert [levels(quiet, m, m.yes) for m in quiet.markets.values()] == [({}, {})] * 3
    assert not quiet.tape


def test_background_fair_is_reflected_at_its_bounds() -> None:
    clock = SimClock()
    # 0.1 per sqrt(s): thousands of 0.001 moves a second on the fine market (the normal approximation)
    params = BackgroundParams(bounds=(Decimal("0.45"), Decimal("0.55")), volatility=Decimal("0.1"))
    server = PolymarketSimServer(seed=4, clock=clock, background_params=params)
    seen: dict[str, set[int]] = {m.condition_id: set() for m in server.markets.values()}
    for _ in range(200):
        clock.advance(100_000_000)
        server.on_step(100_000_000)
        for m in server.markets.values():
            assert m.background is not None
            assert 4500 <= m.background.fair <= 5500
            assert m.background.fair % m.tick == 0
            seen[m.condition_id].add(m.background.fair)
    for fairs in seen.values():
        assert min(fairs) <= 4600, "a 10-cent volatility pushes against both bounds in 20 s"
        assert max(fairs) >= 5400
