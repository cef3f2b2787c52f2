"""Extreme inputs never panic across the boundary: every outcome is a value or a typed exception."""

import contextlib
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import Approval, Book, Denial, InstrumentSpec, InvalidInputError, RiskGate, Side

I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
QTY = st.integers(min_value=0, max_value=2**63 - 1)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), I64, QTY), max_size=30), st.integers(min_value=-5, max_value=2**63 - 1)
)
def test_book_queries_at_the_edges(levels: list[tuple[bool, int, int]], want: int) -> None:
    b = Book(InstrumentSpec("0.01", "0.01"))
    for is_bid, p, q in levels:
        b.set_level(Side.BUY if is_bid else Side.SELL, p, q)
    b.best_bid()
    b.best_ask()
    b.mid()
    b.spread()
    b.is_crossed()
    b.imbalance(10)
    b.depth(Side.SELL, 1000)
    for side in (Side.BUY, Side.SELL):
        est = b.fill_estimate(side, want)
        if est is not None:
            assert 0 < est[0] <= want


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    I64,
    I64,
)
def test_gate_checks_at_the_edges(price: int, qty: int, buy: bool, bid: int, ask: int) -> None:
    g = RiskGate(
        max_gross_notional="1e19",
        max_net_notional="1e19",
        max_open_orders=10,
        max_orders_per_sec=10,
        daily_loss_limit="1e18",
    )
    v = g.add_venue("v", max_gross_notional="1e19", max_open_orders=10)
    s = g.add_strategy("s", max_orders_per_sec=10)
    i = g.add_instrument(
        v,
        "X",
        InstrumentSpec("0.01", "0.01"),
        max_order_qty="1e15",
        max_order_notional="1e19",
        max_position="1e15",
        max_open_orders=10,
        collar_bps=9999,
    )
    try:
        g.set_reference(i, bid, ask, 0)
    except InvalidInputError:
        assert bid < 0 or ask < 0
    r = g.check(s, i, Side.BUY if buy else Side.SELL, price, qty, 1)
    assert isinstance(r, (Approval, Denial))
    if isinstance(r, Approval):
        g.on_fill(r.key, r.qty, r.price, fee="0.01")
        g.daily_pnl()
        g.gross_exposure()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=2**62),
    st.integers(min_value=1, max_value=2**62),
    st.booleans(),
    st.integers(min_value=1, max_value=2**62),
    st.sampled_from(["0.000000001", "0.5", "1", "1.000000001", "999999999999"]),
)
def test_multi_venue_gate_at_the_edges(price: int, qty: int, buy: bool, mark: int, rate: str) -> None:
    """Saturating conversion: extreme rates and sizes never panic, and the read-outs stay readable."""
    g = RiskGate(
        max_gross_notional="1e19",
        max_net_notional="1e19",
        max_open_orders=10,
        max_orders_per_sec=10,
        daily_loss_limit="1e18",
    )
    v = g.add_venue("v", max_gross_notional="1e19", max_open_orders=10, daily_loss_limit="1e18")
    s = g.add_strategy("s", max_orders_per_sec=10)
    c = g.add_currency("C", rate, max_depeg_bps=10_000)
    a = g.add_asset("A", max_net_notional="1e19", max_gross_notional="1e19")
    i = g.add_instrument(
        v,
        "X",
        InstrumentSpec("0.01", "0.01"),
        max_order_qty="1e15",
        max_order_notional="1e19",
        max_position="1e15",
        max_open_orders=10,
        collar_bps=9999,
        currency=c,
        asset=a,
    )
    g.set_reference(i, mark, mark, 0)
    with contextlib.suppress(InvalidInputError):  # price x quantity beyond i128: refused, not wrapped
        g.on_external_fill(i, Side.BUY if buy else Side.SELL, qty, price)
    r = g.check(s, i, Side.SELL if buy else Side.BUY, price, qty, 1)
    assert isinstance(r, (Approval, Denial))
    g.set_rate(c, "2")
    g.set_reference(i, 1, 1, 1)
    for x in (
        g.daily_pnl(),
        g.venue_daily_pnl(v),
        g.venue_gross_exposure(v),
        g.asset_net(a),
        *g.asset_exposure(a),
    ):
        assert isinstance(x, Decimal)
