"""Extreme inputs never panic across the boundary: every outcome is a value or a typed exception."""

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
