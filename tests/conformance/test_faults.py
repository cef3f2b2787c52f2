"""Faults of ../shared/RELIABILITY.md §6, for every venue that can have them:

- F-ORD-01/02/03: an order request times out after the venue accepted it (UnknownOutcomeError, found by
  query, sent once), or fails with a 5xx before it did (UnknownOutcomeError, the venue knows nothing);
- F-RL-01/02: 429 blocks us locally until Retry-After; a 418 ban halts every request until it ends;
- F-CLK-01: the host clock steps: one time resync, no storm of refused requests;
- the venue's dead-man switch: armed while orders rest, refreshed, and the venue cancels them when the
  refreshes stop.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.harness import WALL, Harness, Need, SteppedClock, next_event, until
from trader.core import Side
from trader.errors import BannedError, RateLimitError, UnknownOutcomeError
from trader.venues.base import OrderReport, OrderState

# ---- F-ORD-01..03: ambiguous order outcomes ----------------------------------------------------------


async def timeout_after_acceptance(h: Harness) -> None:
    async with h.open(timeout_s=2.0) as live:
        conn = live.conn
        top = await h.top(live)
        sent = h.order_requests(live)
        h.drop_order_responses(live)
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
        with pytest.raises(UnknownOutcomeError):
            await conn.submit(a, "amb-1", live.symbol)
        h.clear_faults(live)
        found = await conn.query("amb-1")
        assert found is not None
        assert (found.state, found.qty) == (OrderState.OPEN, h.rest_qty(live))
        assert h.order_requests(live) == sent + 1  # never resent
        assert [o.client_id for o in await conn.open_orders()] == ["amb-1"]


@pytest.mark.parametrize("case", venues(Need.LOST_ANSWER, Need.LIMIT))
def test_timeout_after_acceptance_is_unknown_found_by_query_and_sent_once(case: Case) -> None:
    case.run(timeout_after_acceptance)


async def error_5xx_before_acceptance(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        sent = h.order_requests(live)
        h.fail_orders_5xx(live)
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
        with pytest.raises(UnknownOutcomeError):
            await conn.submit(a, "amb-2", live.symbol)
        h.clear_faults(live)
        assert await conn.query("amb-2") is None
        assert await conn.open_orders() == []
        assert h.order_requests(live) == sent + 1


@pytest.mark.parametrize("case", venues(Need.SERVER_ERROR, Need.LIMIT))
def test_5xx_without_acceptance_is_unknown_and_the_venue_knows_nothing(case: Case) -> None:
    case.run(error_5xx_before_acceptance)


# ---- F-RL-01/02: 429, then 418 ----------------------------------------------------------------------


async def rate_limited(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        px, qty = h.rest_price(live, top), h.rest_qty(live)
        h.rate_limit_orders(live)
        with pytest.raises(RateLimitError) as e429:
            await conn.submit(h.approve(live, Side.BUY, px, qty), "rl-1", live.symbol)
        assert e429.value.code == "429"
        assert e429.value.retry_after_ns is not None
        sent = h.order_requests(live)
        h.clear_faults(live)
        with pytest.raises(RateLimitError) as local:  # refused here: the venue never sees it
            await conn.submit(h.approve(live, Side.BUY, px, qty), "rl-2", live.symbol)
        assert local.value.code == "local"
        assert h.order_requests(live) == sent
        await WALL.sleep(2.05)  # Retry-After: 1, plus the transport's 1 s margin
        await conn.submit(h.approve(live, Side.BUY, px, qty), "rl-3", live.symbol)
        assert h.order_requests(live) == sent + 1
        assert await conn.query("rl-2") is None


@pytest.mark.parametrize("case", venues(Need.RATE_LIMIT, Need.LIMIT))
def test_429_blocks_locally_until_retry_after(case: Case) -> None:
    case.run(rate_limited)


async def banned(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
        await conn.submit(a, "b-1", live.symbol)
        # after rate-limit violations (ours or another client's on this IP) the venue bans: a 418
        h.ban(live)
        with pytest.raises(BannedError) as ban:
            await conn.query("b-1")
        assert ban.value.retry_after_ns is not None
        before = h.requests_total(live)
        for call in (conn.query("b-1"), conn.cancel("b-1"), conn.open_orders()):
            with pytest.raises(RateLimitError):  # blocked here until the ban ends: nothing is sent
                await call
        assert h.requests_total(live) == before


@pytest.mark.parametrize("case", venues(Need.RATE_LIMIT, Need.BAN, Need.LIMIT))
def test_418_halts_every_request_until_the_ban_ends(case: Case) -> None:
    case.run(banned)


# ---- F-CLK-01: a clock step ------------------------------------------------------------------------


async def clock_step(h: Harness) -> None:
    clock = SteppedClock()
    async with h.open(clock=clock) as live:
        conn = live.conn
        await h.top(live)
        syncs = h.time_syncs(live)
        clock.step_ns = 2_000_000_000  # NTP step: our timestamps are now 2 s ahead of the venue
        before = h.requests_total(live)
        results = await asyncio.gather(*(conn.open_orders() for _ in range(5)), return_exceptions=True)
        refused = [r for r in results if isinstance(r, Exception)]
        if h.resigns_after_clock_error:  # each refused once, then signed again after the one measurement
            assert refused == []
            assert h.requests_total(live) - before == 5 + 1 + 5
        else:
            assert refused, "the venue refuses requests stamped outside its window"
            assert all(h.clock_error in str(r) for r in refused)
        await WALL.sleep(0.3)
        assert h.time_syncs(live) == syncs + 1  # one resync, not five
        assert abs(conn.clock_offset_ms + 2000) < 200
        assert await conn.open_orders() == []  # signed requests pass again
        assert h.time_syncs(live) == syncs + 1


@pytest.mark.parametrize("case", venues(Need.CLOCK_WINDOW))
def test_clock_step_resyncs_once_without_a_storm(case: Case) -> None:
    case.run(clock_step)


# ---- the venue's dead-man switch ------------------------------------------------------------------------


async def dead_man(h: Harness) -> None:
    async with h.open(**h.dead_man_options()) as live:
        conn = live.conn
        top = await h.top(live)
        assert not h.dead_man_armed(live), "nothing rests: not armed"
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
        await conn.submit(a, "dms-1", live.symbol)
        await next_event(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "dms-1")
        await until(lambda: h.dead_man_armed(live), what="armed")
        refreshes = h.dead_man_refreshes(live)
        await until(lambda: h.dead_man_refreshes(live) >= refreshes + 2, what="refreshed")
        assert (await conn.query("dms-1")).state is OrderState.OPEN
        # the process stops refreshing (hung, cut off): the venue cancels what rests
        h.stop_dead_man_refreshes(live)
        await until(lambda: not h.dead_man_armed(live), timeout=3.0, what="fired")
        h.clear_faults(live)
        gone = await conn.query("dms-1")
        assert gone is not None
        assert gone.state is OrderState.CANCELED


@pytest.mark.parametrize("case", venues(Need.DEAD_MAN, Need.LIMIT))
def test_dead_man_switch_armed_while_orders_rest_fires_when_refreshes_stop(case: Case) -> None:
    case.run(dead_man)
