"""The Polymarket simulator's WebSocket channels, JSON-RPC, heartbeats, batches, faults and limits
(the SDK as the oracle where it has a call)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
from py_clob_client_v2 import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    ClobClient,
    OrderArgs,
    OrderMarketCancelParams,
    OrderScoringParams,
    OrderType,
    PostOrdersV2Args,
)

from tests.sim.polymarket.helpers import ShiftedClock, markets, new_client, place, rejected, run, signed
from trader.clock import LiveClock
from trader.sim.polymarket import (
    COLLATERAL,
    CTF,
    EXCHANGE,
    UNIT,
    Market,
    PolymarketSimServer,
)


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
