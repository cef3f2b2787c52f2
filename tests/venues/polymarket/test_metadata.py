"""Polymarket market metadata from Gamma, cross-checked against the CLOB."""

from __future__ import annotations

import dataclasses
import json
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any

import pytest

from tests.venues.polymarket.helpers import CLOCK, admin, coin, connected, run, until
from trader.errors import (
    ConfigError,
    VenueUnavailableError,
)
from trader.sim.polymarket import NEG_RISK_EXCHANGE, PolymarketSimServer
from trader.venues.polymarket import (
    ENDPOINTS,
    Endpoints,
    MarketMetadataError,
    MetadataMismatchError,
)
from trader.venues.polymarket.parse import iso_ns


def test_metadata_from_gamma_for_a_normal_and_a_neg_risk_market() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice")
        assert server.requests["GET /gamma/markets"] == 1, "fetched and cross-checked at connect"
        at_connect = conn.market_metadata
        assert at_connect is not None
        md = await conn.metadata()
        assert md == at_connect
        assert server.requests["GET /gamma/markets"] == 2, "a fresh fetch per call"
        assert (md.condition_id, md.gamma_id, md.question, md.slug) == (
            m.condition_id, m.gamma_id, m.question, m.slug,
        )  # fmt: skip
        assert md.outcomes == ("Yes", "No")
        assert (md.yes_token, md.no_token) == (m.yes, m.no) == (conn.token_id(conn.symbols[0]), m.no)
        assert (md.tick_size, md.min_order_size, md.neg_risk) == (Decimal("0.01"), Decimal(5), False)
        assert isinstance(md.tick_size, Decimal)
        assert str(md.tick_size) == "0.01", "exact, not through a float"
        assert (md.rewards_min_size, md.rewards_max_spread) == (Decimal(20), Decimal("3.5"))
        assert md.rewards_daily_rate == Decimal(100)
        assert (md.active, md.closed, md.accepting_orders) == (True, False, True)
        now = CLOCK.now_ns()
        assert md.end_ns == m.end_s * 1_000_000_000
        left = md.until_end_ns(now)
        assert left is not None
        assert 29 * 86_400 * 10**9 < left <= 31 * 86_400 * 10**9, "about a month ahead"

        # the end date moves: the next fetch says so; resolution closes it
        await admin(
            server, "/sim/end-date", {"condition_id": m.condition_id, "end_date": "2031-01-02T03:04:05Z"}
        )
        assert (await conn.metadata()).end_ns == iso_ns("2031-01-02T03:04:05+00:00")
        server.resolve(m.condition_id, "Yes")
        closed = await conn.metadata()
        assert (closed.closed, closed.accepting_orders, closed.active) == (True, False, False)

        # the neg-risk market: Gamma and the CLOB agree it is neg risk (orders go to the other exchange)
        _, rate, neg, *_ = server.markets.values()  # then the Protocol V2 market
        negative = await connected(server, stack, "bob", neg)
        nmd = negative.market_metadata
        assert nmd is not None
        assert nmd.neg_risk is True
        assert negative.neg_risk is True
        assert negative.exchange == NEG_RISK_EXCHANGE
        assert (nmd.yes_token, nmd.no_token, nmd.question) == (neg.yes, neg.no, neg.question)
        fine = await connected(server, stack, "bob", rate)
        assert fine.market_metadata is not None
        assert str(fine.market_metadata.tick_size) == "0.001"

    run(t)


def test_gamma_disagreeing_with_the_clob_is_a_typed_error() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice")
        good = conn.market_metadata
        assert good is not None

        # Gamma's tick lags the CLOB's (a numeric string, as some Gamma answers carry)
        await admin(
            server,
            "/sim/gamma-override",
            {"condition_id": m.condition_id, "fields": {"orderPriceMinTickSize": "0.001"}},
        )
        with pytest.raises(MetadataMismatchError, match=r"tick Gamma 0\.001 != CLOB 0\.01") as e:
            await conn.metadata()
        assert e.value.fields == ("tick_size",)
        assert conn.market_metadata is good, "a rejected answer replaces nothing"

        # swapped token ids and another neg-risk flag: both named
        server.set_gamma_override(
            m.condition_id, {"clobTokenIds": json.dumps([m.no, m.yes]), "negRisk": True}
        )
        with pytest.raises(MetadataMismatchError) as e:
            await conn.metadata()
        assert e.value.fields == ("tokens", "tick_size", "neg_risk")

        # a new connection to a market whose metadata disagrees is refused, unless told not to check
        with pytest.raises(MetadataMismatchError):
            await connected(server, stack, "bob")
        unchecked = await connected(server, stack, "carol", check_metadata=False)
        assert unchecked.market_metadata is None
        with pytest.raises(MetadataMismatchError):
            await unchecked.metadata()

        # Gamma agrees again (a tick change reaches both): the check passes
        server.set_gamma_override(m.condition_id, {})
        assert await conn.metadata() == good
        server.set_tick_size(m.condition_id, Decimal("0.001"))
        await until(lambda: conn._tick == "0.001")
        assert (await conn.metadata()).tick_size == Decimal("0.001")

    run(t)


def test_metadata_without_gamma_or_without_the_market(caplog: pytest.LogCaptureFixture) -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        # Gamma unreachable: the connection still comes up (trading needs only the CLOB)
        dead = dataclasses.replace(Endpoints.loopback(server.url), gamma="http://127.0.0.1:9")
        conn = await connected(server, stack, "alice", endpoints=dead)
        assert conn.market_metadata is None
        assert "no Gamma metadata at connect" in caplog.text
        with pytest.raises(VenueUnavailableError):
            await conn.metadata()

        no_gamma = await connected(
            server, stack, "alice", endpoints=dataclasses.replace(Endpoints.loopback(server.url), gamma=None)
        )
        assert no_gamma.market_metadata is None
        with pytest.raises(ConfigError, match="Gamma"):
            await no_gamma.metadata()
        assert ENDPOINTS["live"].gamma == "https://gamma-api.polymarket.com"
        assert Endpoints.loopback(server.url).gamma == f"{server.url}/gamma"

        # Gamma lists something else: asked once more with closed=true, then a typed error
        conn = await connected(server, stack, "alice")
        before = server.requests["GET /gamma/markets"]
        server.set_gamma_override(m.condition_id, {"conditionId": "0x" + "ab" * 32})
        with pytest.raises(MarketMetadataError, match="lists no market"):
            await conn.metadata()
        assert server.requests["GET /gamma/markets"] == before + 1, "the filter found it: no second ask"
        server.set_gamma_override(m.condition_id, {"conditionId": m.condition_id, "clobTokenIds": '["1"]'})
        with pytest.raises(MarketMetadataError, match="not binary"):
            await conn.metadata()
        server.set_gamma_override(
            m.condition_id, {"clobTokenIds": json.dumps([m.yes, m.no]), "endDate": "soon"}
        )
        with pytest.raises(MarketMetadataError, match="malformed"):
            await conn.metadata()

    run(t)


def test_a_closed_market_gamma_lists_only_on_request_is_found() -> None:
    """Gamma's default for `closed` is contested (docs: false; observed: true on /events): a Gamma that
    leaves closed markets out unless `closed=true` still yields the metadata, on the second ask."""

    class OpenByDefault(PolymarketSimServer):
        def gamma_markets(self, call: Any) -> list[dict[str, Any]]:
            if "closed" not in call.query:
                call.query["closed"] = "false"
            return super().gamma_markets(call)

    async def t(_: PolymarketSimServer, stack: AsyncExitStack) -> None:
        server = OpenByDefault(seed=5, step_ms=20, background=False)
        await server.start(port=0)
        stack.push_async_callback(server.stop)
        m = coin(server)
        conn = await connected(server, stack, "alice")
        assert server.requests["GET /gamma/markets"] == 1
        server.resolve(m.condition_id, "No")
        md = await conn.metadata()
        assert server.requests["GET /gamma/markets"] == 3, "empty without closed=true, then asked with it"
        assert (md.closed, md.condition_id) == (True, m.condition_id)

    run(t)


def test_gamma_times_parse_exactly() -> None:
    assert iso_ns("1970-01-01T00:00:01Z") == 1_000_000_000
    assert iso_ns("2026-12-31T00:00:00Z") == 1_798_675_200 * 1_000_000_000
    assert iso_ns("2025-07-11T18:36:02.893Z") == 1_752_258_962_893_000_000
    assert iso_ns("2024-11-06 00:00:00+00") == iso_ns("2024-11-06T00:00:00Z"), "Gamma's closedTime form"
    assert iso_ns("2024-11-06T02:00:00+02:00") == iso_ns("2024-11-06T00:00:00Z")
    assert iso_ns("2024-11-06T00:00:00") == iso_ns("2024-11-06T00:00:00Z"), "no offset: UTC"
