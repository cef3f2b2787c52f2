"""Funding on Binance USD-M: `ACCOUNT_UPDATE` with reason FUNDING_FEE and `GET /fapi/v1/income` rows as
`FundingPayment` (exact decimals, the venue's time), and end to end over loopback: a position held in the
simulator (funding every half second) yields the payment on `events()` and the same payment from
`funding_since`, equal to the simulator's own record."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Side, TimeInForce
from trader.sim.binance import BinanceSimServer
from trader.venues.base import BookUpdate, FundingPayment, Stream, StreamStatus, VenueEvent
from trader.venues.binance import loopback
from trader.venues.registry import SIM_API_KEY

FIXTURES = Path(__file__).parent / "fixtures"
MS = 1_000_000


def load() -> Any:
    return json.loads((FIXTURES / "funding.json").read_text())


def test_a_cross_positions_funding_fee_is_the_balance_change() -> None:
    from trader.venues.binance import parse

    e = load()["cross"]["data"]
    p = parse.funding_fee(e, "BTCUSDT", "USDT", ts_recv=42)
    assert p == FundingPayment("BTCUSDT", Decimal("-0.05000020"), 1764892800000 * MS, ts_recv=0)
    assert p is not None
    assert isinstance(p.amount, Decimal)
    assert (p.ts_recv, p.funding_id) == (42, "")


def test_an_isolated_positions_funding_fee_names_its_symbol() -> None:
    from trader.venues.binance import parse

    f = load()
    p = parse.funding_fee(f["isolated"], "BTCUSDT", "USDT", ts_recv=1)
    assert p is not None
    assert p.amount == Decimal("0.01250005")  # a short received
    assert parse.funding_fee(f["isolated_other_symbol"], "BTCUSDT", "USDT", ts_recv=1) is None
    assert parse.funding_fee(f["order"], "BTCUSDT", "USDT", ts_recv=1) is None, "not a funding update"
    assert parse.funding_fee(f["isolated"], "BTCUSDT", "BUSD", ts_recv=1) is None, "another asset"


def test_an_income_row_is_a_payment_with_its_tran_id() -> None:
    from trader.venues.binance import parse

    f = load()
    (row,) = f["income"]
    p = parse.funding_income(row, ts_recv=7)
    assert p == FundingPayment("BTCUSDT", Decimal("-0.05000020"), 1764892800000 * MS, "9689322392", ts_recv=0)
    stream = parse.funding_fee(f["cross"]["data"], "BTCUSDT", "USDT", ts_recv=7)
    assert stream is not None
    assert (stream.amount, stream.ts_event) == (p.amount, p.ts_event), "the same payment, heard twice"
    with pytest.raises(ValueError, match="not a funding fee"):
        parse.funding_income(f["commission"], ts_recv=7)


# ---- end to end over loopback ----------------------------------------------------------------------------


async def _funding_end_to_end() -> None:
    clock = LiveClock()
    server = BinanceSimServer(seed=11, clock=clock, step_ms=20, funding_interval_s=0.5)
    await server.start(port=0)
    conn = loopback(server.url, symbol="BTCUSDT", clock=clock, market="futures")
    try:
        await conn.connect()
        assert await conn.funding_since(0) == []
        seen: list[VenueEvent] = []

        async def collect() -> None:
            async for ev in conn.events():
                seen.append(ev)

        task = asyncio.get_running_loop().create_task(collect())
        try:
            await _hold_a_long(conn, seen, clock)
            since = clock.now_ns()
            for _ in range(300):
                if any(isinstance(e, FundingPayment) for e in seen):
                    break
                await clock.sleep(0.01)
        finally:
            task.cancel()
        streamed = [e for e in seen if isinstance(e, FundingPayment)]
        assert streamed, "a FundingPayment on events()"
        rows = list(server.funding.income[SIM_API_KEY])  # what was paid so far (more may follow)
        by_time = {r["time"] * MS: Decimal(r["income"]) for r in rows}
        for p in streamed:
            assert p.instrument == "BTCUSDT"
            assert p.amount == by_time[p.ts_event], "the simulator's own record, exact"
            assert p.amount < 0, "a long pays at a positive rate"
            assert since - 5_000_000_000 <= p.ts_recv <= clock.now_ns()
        fetched = await conn.funding_since(0)
        assert [(p.ts_event, p.amount, p.funding_id) for p in fetched[: len(rows)]] == [
            (r["time"] * MS, Decimal(r["income"]), str(r["tranId"])) for r in rows
        ]
        first = streamed[0]
        (same,) = [p for p in fetched if p.ts_event == first.ts_event]
        assert (same.instrument, same.amount) == (first.instrument, first.amount)
        later = await conn.funding_since(first.ts_event + MS)
        expected = [p for p in fetched if p.ts_event > first.ts_event]
        assert later[: len(expected)] == expected
        assert all(p.ts_event > first.ts_event for p in later)
    finally:
        await conn.close()
        await server.stop()


async def _hold_a_long(conn: Any, seen: list[VenueEvent], clock: LiveClock) -> None:
    spec = (await conn.instrument_info("BTCUSDT")).spec()
    for _ in range(500):
        tops = [e for e in seen if isinstance(e, BookUpdate) and e.bid and e.ask]
        if tops:
            break
        await clock.sleep(0.01)
    top = tops[-1]
    assert top.bid is not None
    assert top.ask is not None
    a = gate_approval(
        spec, "BTCUSDT", Side.BUY, top.ask + 20 * spec.tick, 10 * spec.lot, bid=top.bid, ask=top.ask,
        now_ns=clock.now_ns(), tif=TimeInForce.IOC,
    )  # fmt: skip
    await conn.submit(a, "fund-long", "BTCUSDT")
    for _ in range(300):
        if (await conn.positions())["BTCUSDT"] > 0:
            return
        await clock.sleep(0.01)
    raise AssertionError("no position")


def test_a_held_position_yields_funding_on_the_stream_and_from_funding_since() -> None:
    asyncio.run(LiveClock().wait_for(_funding_end_to_end(), 20))


async def _funding_across_a_reconnect() -> None:
    """The private stream is cut while funding settles: the catch-up brings what the stream missed, and no
    payment is told twice (the stream's event and the income row of one payment are one payment)."""
    clock = LiveClock()
    server = BinanceSimServer(seed=11, clock=clock, step_ms=20, funding_interval_s=0.3)
    await server.start(port=0)
    conn = loopback(server.url, symbol="BTCUSDT", clock=clock, market="futures")
    seen: list[VenueEvent] = []

    async def collect() -> None:
        async for ev in conn.events():
            seen.append(ev)

    try:
        await conn.connect()
        task = asyncio.get_running_loop().create_task(collect())
        try:
            await _hold_a_long(conn, seen, clock)
            for _ in range(3):  # a few cuts, some while a payment settles
                await clock.sleep(0.35)
                assert server.drop_streams("/private/") == 1
                for _ in range(300):
                    if any(isinstance(e, StreamStatus) and e.up for e in seen[-5:]):
                        break
                    await clock.sleep(0.01)
            await clock.sleep(0.4)
        finally:
            task.cancel()
        told = [(p.ts_event, p.amount) for p in seen if isinstance(p, FundingPayment)]
        assert len(told) == len(set(told)), f"a payment told twice: {told}"
        paid = {(r["time"] * MS, Decimal(r["income"])) for r in server.funding.income[SIM_API_KEY]}
        assert set(told) <= paid
        assert len(told) >= 3
        ups = [e for e in seen if isinstance(e, StreamStatus) and e.stream is Stream.PRIVATE and e.up]
        assert len(ups) == 3
    finally:
        await conn.close()
        await server.stop()


def test_funding_is_told_once_across_private_stream_reconnects() -> None:
    asyncio.run(LiveClock().wait_for(_funding_across_a_reconnect(), 20))


def test_spot_and_margin_have_no_funding() -> None:
    async def go() -> None:
        for market in ("spot", "margin"):
            conn = loopback("http://127.0.0.1:9", symbol="BTCUSDT", clock=LiveClock(), market=market)
            assert await conn.funding_since(0) == []  # answered without a request (the address is dead)

    asyncio.run(go())
