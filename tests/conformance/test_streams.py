"""Market data and the private stream, for every venue against its simulator (RELIABILITY F-MD-01/02):

- a sequence gap in the depth feed: BookInvalid, a new snapshot, a valid BookUpdate again;
- a stale or lost feed: BookInvalid, then a valid BookUpdate when it returns; through the engine the
  strategy is told (its quote is pulled at the venue);
- every stream dropped: BookInvalid, reconnect, books and private updates flow again;
- the time contract (STYLE 13): every event a connector emits, and every report it answers with, carries
  `ts_recv` from OUR clock (an hour off the simulator's, so a venue stamp cannot pass for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.engine_kit import RestOne, engine, run_engine
from tests.conformance.harness import Harness, Live, Need, SteppedClock, next_event, until
from trader.core import Side, TimeInForce
from trader.engine.engine import Engine
from trader.engine.journal import Journal
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    FillReport,
    FundingPayment,
    OrderReport,
    OrderState,
    Quote,
    StreamStatus,
    TradeTick,
    VenueEvent,
)

HOUR_NS = 3_600_000_000_000


def invalid_book(symbol: str) -> Callable[[VenueEvent], bool]:
    return lambda e: isinstance(e, BookInvalid) and e.instrument == symbol


# ---- F-MD-01: a gap in the sequence --------------------------------------------------------------


async def sequence_gap(h: Harness) -> None:
    async with h.open() as live:
        await h.top(live)
        snapshots = h.snapshots(live)
        h.gap(live)
        invalid = await next_event(live.conn, invalid_book(live.symbol))
        assert "sequence" in invalid.reason
        bid, ask = await h.top(live)  # valid again, from a new snapshot
        assert bid < ask
        assert h.snapshots(live) == snapshots + 1


@pytest.mark.parametrize("case", venues(Need.SEQUENCED_BOOK))
def test_a_sequence_gap_invalidates_the_book_then_resyncs(case: Case) -> None:
    case.run(sequence_gap)


# ---- F-MD-02: a stale (silent) or lost feed ------------------------------------------------------


async def stale_feed(h: Harness) -> None:
    async with h.open(**h.stale_options()) as live:
        await h.top(live)
        h.go_stale(live)
        await next_event(live.conn, invalid_book(live.symbol))
        h.come_back(live)
        bid, ask = await h.top(live)
        assert bid < ask


@pytest.mark.parametrize("case", venues(Need.STALE_FEED))
def test_a_stale_feed_invalidates_the_book_until_it_returns(case: Case) -> None:
    case.run(stale_feed)


async def stale_feed_pulls_quotes(h: Harness) -> None:
    async with h.open(connected=False, **h.stale_options()) as live:
        conn = live.conn  # the engine's: it connects it
        strategy = RestOne(live.symbol, h.rest_qty(live), h.rest_ticks * live.spec.tick)

        async def during(e: Engine) -> None:
            await until(lambda: strategy.resting is not None, what="a resting quote")
            resting = strategy.resting
            await until(lambda: h.order_requests(live) >= 1, what="the order at the venue")
            h.go_stale(live)
            await until(lambda: strategy.pulled == 1, what="the strategy told the book is invalid")
            h.come_back(live)
            report = None
            for _ in range(100):
                report = await conn.query(resting or "")
                if report is not None and report.state is not OrderState.OPEN:
                    break
                await live.clock.sleep(0.05)
            assert report is not None
            assert report.state is OrderState.CANCELED  # pulled at the venue
            e.stop()

        try:
            e = await run_engine(engine(h, live, conn, strategy, Journal(":memory:")), 6.0, during)
        finally:
            await conn.close()
        assert e.summary.orders == 1
        assert e.summary.open_orders_after_shutdown == 0


@pytest.mark.parametrize("case", venues(Need.STALE_FEED, Need.LIMIT))
def test_a_stale_feed_pulls_the_strategys_quotes(case: Case) -> None:
    case.run(stale_feed_pulls_quotes)


# ---- every stream dropped ------------------------------------------------------------------------


async def streams_dropped(h: Harness) -> None:
    async with h.open() as live:
        conn = live.conn
        top = await h.top(live)
        before = live.clock.now_ns()
        await h.cut_streams(live)
        invalid = await next_event(conn, invalid_book(live.symbol))
        assert before <= invalid.ts_recv <= live.clock.now_ns()  # when we detected it, by our clock
        bid, ask = await h.top(live)  # the market stream is back
        assert bid < ask
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
        await conn.submit(a, "after-drop", live.symbol)
        opened = await next_event(  # and the private one
            conn, lambda e: isinstance(e, OrderReport) and e.client_id == "after-drop"
        )
        assert opened.state is OrderState.OPEN
        await conn.cancel("after-drop")


@pytest.mark.parametrize("case", venues(Need.LIMIT))
def test_dropped_streams_invalidate_the_book_and_reconnect(case: Case) -> None:
    case.run(streams_dropped)


async def stamped(h: Harness) -> None:
    async with h.open() as live:
        ev = await next_event(live.conn, lambda e: isinstance(e, BookUpdate))
        now = live.clock.now_ns()
        assert now - 10_000_000_000 <= ev.ts_recv <= now
        assert ev.ts_event > 0


@pytest.mark.parametrize("case", venues())
def test_book_updates_carry_our_receive_time(case: Case) -> None:
    """`ts_recv` comes from our clock (the decisions' time, STYLE 13); `ts_event` is the venue's."""
    case.run(stamped)


# ---- the time contract: `ts_recv` is our clock, on every event and every answer ----------------------

Stamped = (
    BookUpdate | BookInvalid | FillReport | OrderReport | TradeTick | Quote | StreamStatus | FundingPayment
)


def _top(seen: list[VenueEvent], symbol: str) -> tuple[int, int] | None:
    books = [e for e in seen if isinstance(e, BookUpdate) and e.instrument == symbol]
    valid = [(e.bid, e.ask) for e in books if e.bid is not None and e.ask is not None]
    return valid[-1] if valid else None


def _has(seen: list[VenueEvent], kind: type, client_id: str) -> bool:
    return any(isinstance(e, kind) and getattr(e, "client_id", None) == client_id for e in seen)


async def _trade_and_answer(h: Harness, live: Live, seen: list[VenueEvent]) -> list[Stamped]:
    """A resting order and a marketable IOC (their reports and fill on the stream), a cancel, then the
    connector's answers: query, open orders, fills since."""
    conn = live.conn
    await until(lambda: _top(seen, live.symbol) is not None, timeout=10, what="a top of book")
    top = _top(seen, live.symbol)
    assert top is not None
    rest = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
    await conn.submit(rest, "ts-rest", live.symbol)
    await h.provide_liquidity(live, top)
    take = h.approve(live, Side.BUY, h.take_price(live, top), h.take_qty(live), tif=TimeInForce.IOC)
    await conn.submit(take, "ts-take", live.symbol)
    await until(lambda: _has(seen, OrderReport, "ts-rest"), what="the resting order's report")
    await until(lambda: _has(seen, FillReport, "ts-take"), what="the IOC's fill")
    await conn.cancel("ts-rest")
    answers: list[Stamped] = [r for r in [await conn.query("ts-rest"), await conn.query("ts-take")] if r]
    answers += await conn.open_orders()
    answers += await conn.fills_since(0)
    assert {r.client_id for r in answers if isinstance(r, OrderReport)} >= {"ts-rest", "ts-take"}
    assert any(isinstance(f, FillReport) and f.client_id == "ts-take" for f in answers)
    return answers


async def stamped_by_our_clock(h: Harness) -> None:
    clock = SteppedClock()
    clock.step_ns = HOUR_NS  # ours runs an hour ahead of every simulator's clock
    start = clock.now_ns()
    async with h.open(clock=clock) as live:
        seen: list[VenueEvent] = []

        async def collect() -> None:
            async for ev in live.conn.events():
                seen.append(ev)

        collector = asyncio.get_running_loop().create_task(collect())
        try:
            answers = await _trade_and_answer(h, live, seen)
        finally:
            collector.cancel()
        end = clock.now_ns()
    kinds = {type(e) for e in seen}
    assert {BookUpdate, OrderReport, FillReport} <= kinds, kinds
    for e in [*seen, *answers]:
        assert isinstance(e, Stamped)
        assert start <= e.ts_recv <= end, f"{h.id}: {type(e).__name__} ts_recv is not our clock: {e}"
        if isinstance(e, OrderReport | FillReport) and e.ts_event:
            assert not start <= e.ts_event <= end, f"{h.id}: {type(e).__name__} ts_event is ours: {e}"


@pytest.mark.parametrize("case", venues(Need.LIMIT, Need.IOC))
def test_every_event_and_report_carries_our_receive_time(case: Case) -> None:
    """Book updates, order reports and fills from the stream, and the reports and fills a connector
    answers with, all carry `ts_recv` from the connector's clock (ours); an order's or fill's `ts_event`,
    where the venue states one, is the venue's (here an hour off ours)."""
    case.run(stamped_by_our_clock)
