"""The in-process matching engine's records as `trader` types: pure conversions (the engine already
counts in integer units, so nothing is parsed twice: a trade's price and quantity pass through)."""

from __future__ import annotations

from trader.core import Side
from trader.sim import matching
from trader.venues.base import BookUpdate, FillReport, OrderReport, OrderState

Level = tuple[int, int]


def matching_side(side: Side) -> matching.Side:
    return matching.Side.BUY if side == Side.BUY else matching.Side.SELL


def fill(t: matching.Trade, order: OrderReport, *, maker: bool, ts_ns: int) -> FillReport:
    """Our side of one engine trade: the maker's or the taker's fee, at the engine's time."""
    return FillReport(
        order.client_id,
        str(t.trade_id),
        order.instrument,
        order.side,
        t.price,
        t.qty,
        t.maker_fee if maker else t.taker_fee,
        ts_ns,
        maker,
        ts_recv=ts_ns,
    )


def filled(order: OrderReport, qty: int, ts_ns: int) -> OrderReport:
    """The order after `qty` more was filled: FILLED once nothing remains. The engine's clock is ours, so
    `ts_ns` is both the venue's time of the change and when we learned of it."""
    total = order.filled + qty
    state = OrderState.FILLED if total >= order.qty else order.state
    return OrderReport(
        order.client_id,
        order.venue_order_id,
        order.instrument,
        order.side,
        order.price,
        order.qty,
        total,
        state,
        ts_event=ts_ns,
        ts_recv=ts_ns,
    )


def top_of_book(instrument: str, bids: list[Level], asks: list[Level], ts_ns: int) -> BookUpdate:
    """The engine's depth (best first) as a `BookUpdate`; an empty side is None with quantity 0."""
    bid, bid_qty = bids[0] if bids else (None, 0)
    ask, ask_qty = asks[0] if asks else (None, 0)
    return BookUpdate(instrument, bid, bid_qty, ask, ask_qty, ts_ns, ts_ns)
