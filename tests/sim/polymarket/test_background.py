"""The Polymarket simulator's seeded background market: two-sided books that move, fills, determinism."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
from py_clob_client_v2 import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
)

from tests.sim.polymarket.helpers import markets, new_client, place, run
from trader.clock import LiveClock, SimClock
from trader.sim.polymarket import (
    SCALE,
    UNIT,
    BackgroundParams,
    PolymarketSimServer,
)
from trader.sim.polymarket.rest import levels


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
    assert len(quiet.markets) == 4  # three CTF markets and a Protocol V2 one
    assert [levels(quiet, m, m.yes) for m in quiet.markets.values()] == [({}, {})] * 4
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
