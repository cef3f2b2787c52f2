"""The Polymarket simulator against the official SDK `polymarket-client` (PyPI; repo Polymarket/py-sdk) as
the oracle, next to py-clob-client-v2 (test_sdk.py): derive API keys, post, query and cancel orders on a CTF
market and on a Protocol V2 market, read balances of both asset types.

The SDK is synchronous: it runs in a worker thread (asyncio.to_thread) while the server runs on the test's
event loop. Its environment is the production one with every host pointed at the simulator."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from decimal import Decimal
from typing import Any

import aiohttp
from eth_account import Account
from polymarket import PublicClient, SecureClient
from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment
from polymarket.environments import Environment

from tests.sim.polymarket.helpers import markets, run
from trader.sim.polymarket import UNIT, Market, PolymarketSimServer


def environment(server: PolymarketSimServer) -> Environment:
    url = server.url
    config = dataclasses.replace(
        PRODUCTION_CONFIG,
        clob_url=url,
        gamma_url=f"{url}/gamma",
        data_url=f"{url}/data-api",
        rpc_url=f"{url}/rpc",
        relayer_url=f"{url}/relayer",
        clob_market_ws_url=url.replace("http", "ws") + "/ws/market",
        clob_user_ws_url=url.replace("http", "ws") + "/ws/user",
    )
    return create_environment(name="simulator", config=config)


def client(server: PolymarketSimServer, name: str) -> SecureClient:
    """An EOA wallet (the signer trades for itself: no relayer, no deposit wallet)."""
    pk = "0x" + hashlib.sha256(f"polymarket-client/{name}".encode()).hexdigest()
    address = Account.from_key(pk).address
    return SecureClient.create(private_key=pk, wallet=address, environment=environment(server))


async def trade_round(server: PolymarketSimServer, c: SecureClient, m: Market, asset_type: str) -> None:
    """Post a resting buy, see it by id and among the open orders, cancel it; read the balances."""
    resp = await asyncio.to_thread(
        c.place_limit_order, asset_id=m.yes, price=Decimal("0.42"), size=Decimal(10), side="BUY"
    )
    oid = resp.order_id
    assert resp.status == "live"
    assert server.orders[oid].market is m  # the simulator recovered the signer on the market's domain
    order = await asyncio.to_thread(c.get_order, order_id=oid)
    assert (order.id, order.side, order.price, order.original_size) == (oid, "BUY", Decimal("0.42"), 10)
    assert oid in await asyncio.to_thread(lambda: [o.id for o in c.list_open_orders().iter_items()])
    canceled = await asyncio.to_thread(c.cancel_order, order_id=oid)
    assert list(canceled.canceled) == [oid]
    assert not server.orders[oid].live
    server.fund(c.wallet, tokens={m.yes: 7})
    held = await asyncio.to_thread(c.get_balance_allowance, asset_type=asset_type, asset_id=m.yes)
    assert held.balance == 7 * UNIT


def test_polymarket_client_derives_keys_posts_queries_and_cancels_on_both_kinds_of_market() -> None:
    async def t(server: PolymarketSimServer) -> None:
        coin, _, _ = markets(server)
        v2 = server.add_market("Will the official SDK trade a V2 market?", protocol_v2=True)
        alice = await asyncio.to_thread(client, server, "alice")
        try:
            assert alice.wallet_type == "EOA"
            await trade_round(server, alice, coin, "CONDITIONAL")
            await trade_round(server, alice, v2, "CONDITIONAL-V2")
            cash = await asyncio.to_thread(alice.get_balance_allowance, asset_type="COLLATERAL")
            assert cash.balance == server.wallet(alice.wallet).collateral
        finally:
            alice.close()
        # a second client for the same key derives the same API key (L1 `GET /auth/derive-api-key`)
        again = await asyncio.to_thread(client, server, "alice")
        try:
            assert again.credentials.key == alice.credentials.key
        finally:
            again.close()

    run(t)


async def _get(server: PolymarketSimServer, path: str, **query: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}{path}", params=query) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def test_events_search_positions_trades_and_price_history_for_the_sdk_and_raw_clients() -> None:
    """What clients call around trading: Gamma events and search, the data API's positions and trades,
    price history; the official SDK's shapes (`PublicClient`) and the classic ones, from the same trade."""

    async def t(server: PolymarketSimServer) -> None:
        m = server.add_market("Will the data API see this V2 trade?", protocol_v2=True)
        alice, bob = (
            await asyncio.to_thread(client, server, "alice"),
            await asyncio.to_thread(client, server, "bob"),
        )
        public = PublicClient(environment(server))
        try:
            server.fund(bob.wallet, tokens={m.yes: 20})
            await asyncio.to_thread(
                alice.place_limit_order, asset_id=m.yes, price="0.42", size=10, side="BUY"
            )
            await asyncio.to_thread(bob.place_limit_order, asset_id=m.yes, price="0.42", size=6, side="SELL")
            me = str(alice.wallet)

            positions = await asyncio.to_thread(lambda: list(public.list_positions(user=me).iter_items()))
            assert [(p.asset_id, p.condition_id, p.current_size, p.avg_price) for p in positions] == [
                (m.yes, m.condition_id, Decimal(6), Decimal("0.42"))
            ]
            trades = await asyncio.to_thread(lambda: list(public.list_trades(user=me).iter_items()))
            assert [(x.asset_id, x.side, x.size, x.price) for x in trades] == [
                (m.yes, "BUY", 6, Decimal("0.42"))
            ]
            history = await asyncio.to_thread(
                lambda: list(public.list_price_history(asset_id=m.yes, interval="1h").iter_items())
            )
            assert [p.price for p in history] == [Decimal("0.42")]
            event = await asyncio.to_thread(public.get_event, slug=m.slug)
            assert event.title == m.question
            found = await asyncio.to_thread(lambda: list(public.search(q="data API").iter_items()))
            assert [e.title for r in found for e in r.events] == [m.question]
            listed = await asyncio.to_thread(lambda: [e.title for e in public.list_events().iter_items()])
            assert m.question in listed

            classic = await _get(server, "/data-api/positions", user=me)
            assert [(p["asset"], p["size"], p["avgPrice"], p["outcome"]) for p in classic] == [
                (m.yes, 6, 0.42, "Yes")
            ]
            raw_trades = await _get(server, "/data-api/trades", user=me)
            assert [(x["side"], x["size"], x["price"]) for x in raw_trades] == [("BUY", 6, 0.42)]
            clob_history = await _get(server, "/prices-history", market=m.no, interval="1d")
            assert [h["p"] for h in clob_history["history"]] == [0.58]  # the NO side of the same print
            events = await _get(server, "/gamma/events", slug=m.slug)
            assert [e["markets"][0]["positionIds"] for e in events] == [f'["{m.yes}", "{m.no}"]']
        finally:
            alice.close()
            bob.close()
            public.close()

    run(t)
