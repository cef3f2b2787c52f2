"""The Polymarket simulator's Gamma (market metadata, under /gamma): shape, state, admin hooks."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp

from tests.sim.polymarket.helpers import CLOCK, markets, new_client, place, run
from trader.sim.polymarket import (
    SCALE,
    Market,
    PolymarketSimServer,
)


async def gamma(
    session: aiohttp.ClientSession, server: PolymarketSimServer, path: str, query: Any = None
) -> tuple[int, Any]:
    """A plain Gamma GET (no auth); JSON numbers decoded as Decimal so they compare exactly."""
    async with session.get(f"{server.url}/gamma{path}", params=query) as r:
        return r.status, json.loads(await r.read(), parse_float=Decimal)


def _iso_s(text: str) -> int:
    assert text.endswith("Z"), text
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _assert_gamma_row(m: Market, r: dict[str, Any]) -> int:
    """One Gamma `/markets` row of a market without a book: its fields and types. Returns its end (s)."""
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
    return end


def test_gamma_markets_shape_follows_the_market_state() -> None:
    """The fields the official Python SDK (`polymarket-client`, models/gamma/market.py) reads, with the
    venue's types: JSON-encoded string arrays, JSON numbers, ISO times; the same state as the CLOB's."""

    async def t(server: PolymarketSimServer) -> None:
        coin, rate, neg = markets(server)
        client = await new_client(server, "alice")
        async with aiohttp.ClientSession() as session:
            status, rows = await gamma(session, server, "/markets")
            assert status == 200
            assert [r["conditionId"] for r in rows] == [m.condition_id for m in server.markets.values()]
            v2 = rows[3]  # the Protocol V2 market: its trading ids are its position ids
            assert (v2["version"], "clobTokenIds" in v2) == ("v2", False)
            assert json.loads(v2["positionIds"]) == [
                server.markets[v2["conditionId"]].yes,
                server.markets[v2["conditionId"]].no,
            ]
            assert all(r["version"] == "v1" for r in rows[:3])
            for m, r in zip((coin, rate, neg), rows[:3], strict=True):
                end = _assert_gamma_row(m, r)
                tick = Decimal(m.tick) / SCALE
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
            assert [r["id"] for r in still_open] == [coin.gamma_id, rate.gamma_id, v2["id"]]

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
