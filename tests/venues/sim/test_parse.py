"""`trader.venues.sim.parse`: the in-process engine's records as `trader` types (units pass through)."""

from __future__ import annotations

from decimal import Decimal

from trader.core import Side
from trader.sim import matching
from trader.venues.base import BookUpdate, FillReport, OrderReport, OrderState
from trader.venues.sim import parse

TRADE = matching.Trade(
    trade_id=41,
    price=5_000_001,
    qty=3,
    maker_order_id=7,
    taker_order_id=9,
    maker_owner="a",
    taker_owner="b",
    taker_side=matching.Side.SELL,
    maker_fee=Decimal("-0.01"),
    taker_fee=Decimal("0.075"),
)
ORDER = OrderReport("mm-1", "7", "BTCUSDT", Side.BUY, 5_000_001, 5, 1, OrderState.OPEN, ts_event=1, ts_recv=1)


def test_sides() -> None:
    assert parse.matching_side(Side.BUY) is matching.Side.BUY
    assert parse.matching_side(Side.SELL) is matching.Side.SELL


def test_fill_takes_our_side_of_the_trade() -> None:
    maker = parse.fill(TRADE, ORDER, maker=True, ts_ns=123)
    assert maker == FillReport(
        "mm-1", "41", "BTCUSDT", Side.BUY, 5_000_001, 3, Decimal("-0.01"), 123, True, ts_recv=123
    )
    assert parse.fill(TRADE, ORDER, maker=False, ts_ns=5).fee == Decimal("0.075")


def test_filled_until_nothing_remains() -> None:
    part = parse.filled(ORDER, 3, 50)
    assert (part.filled, part.state, part.ts_event, part.ts_recv) == (4, OrderState.OPEN, 50, 50)
    done = parse.filled(part, 1, 60)
    assert done == OrderReport(
        "mm-1", "7", "BTCUSDT", Side.BUY, 5_000_001, 5, 5, OrderState.FILLED, ts_event=0, ts_recv=0
    )
    assert (done.ts_event, done.ts_recv) == (60, 60)  # the engine's clock is ours: one time, both fields


def test_top_of_book() -> None:
    assert parse.top_of_book("BTCUSDT", [(10, 2), (9, 1)], [(12, 4)], 77) == BookUpdate(
        "BTCUSDT", 10, 2, 12, 4, 77, 77
    )
    assert parse.top_of_book("BTCUSDT", [], [], 1) == BookUpdate("BTCUSDT", None, 0, None, 0, 1, 1)
