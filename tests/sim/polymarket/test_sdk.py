"""The loopback Polymarket CLOB V2 simulator against the official SDK (py-clob-client-v2) as the oracle.

The SDK is synchronous: it runs in a worker thread (asyncio.to_thread) while the server runs on the
test's event loop. Raw requests here are signed with the standard library, never with the core.
Orders, signatures, rules, complementary matching, market orders, neg risk."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from decimal import Decimal
from typing import Any

import aiohttp
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
    OrderPayload,
    OrderType,
    PartialCreateOrderOptions,
    TradeParams,
)

from tests.sim.polymarket.helpers import CLOCK, markets, new_client, place, rejected, run, signed
from trader.sim.polymarket import (
    EXCHANGE,
    UNIT,
    Market,
    PolymarketSimServer,
)


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


def test_bad_hmac_and_bad_l1_are_refused() -> None:
    async def t(server: PolymarketSimServer) -> None:
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
            assert server.orders == {}

    run(t)


def test_forged_tampered_v1_and_foreign_owner_orders_are_refused() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        alice = await new_client(server, "alice")
        creds = alice.creds
        assert isinstance(creds, ApiCreds)
        async with aiohttp.ClientSession() as session:
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


def test_py_clob_client_v2_trades_the_protocol_v2_market_by_position_id() -> None:
    """The older official SDK (py-clob-client-v2 1.2.1) signs a position id's order for ExchangeV3; the
    simulator recovers it there, and its CONDITIONAL-V2 balance reads the position."""

    async def t(server: PolymarketSimServer) -> None:
        v2 = next(m for m in server.markets.values() if m.protocol_v2)
        client = await new_client(server, "v2-trader")
        args = OrderArgs(price=0.37, size=10, side="BUY", position_id=v2.yes)
        resp = await asyncio.to_thread(client.create_and_post_order, args)
        assert resp["success"]
        assert server.orders[resp["orderID"]].market is v2
        server.fund(client.get_address(), tokens={v2.yes: 3})
        # the SDK has no constant for it and passes the asset type through
        params = BalanceAllowanceParams(asset_type="CONDITIONAL-V2", token_id=v2.yes)
        balance = await asyncio.to_thread(client.get_balance_allowance, params)
        assert balance["balance"] == str(3 * UNIT)

    run(t)
