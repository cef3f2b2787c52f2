from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif


def _engine() -> MatchingEngine:
    return MatchingEngine(
        maker_fee_bps=Decimal("-1"), taker_fee_bps=Decimal("5"), unit_notional=Decimal("0.01")
    )


def test_price_time_priority_partial_fills_and_fees() -> None:
    m = _engine()
    assert m.submit(SimOrder(1, "a", Side.SELL, 101, 5)).resting
    assert m.submit(SimOrder(2, "b", Side.SELL, 101, 5)).resting
    assert m.submit(SimOrder(3, "c", Side.SELL, 102, 5)).resting
    r = m.submit(SimOrder(4, "me", Side.BUY, 102, 12))
    assert [(t.maker_order_id, t.price, t.qty) for t in r.trades] == [(1, 101, 5), (2, 101, 5), (3, 102, 2)]
    assert not r.resting
    assert r.trades[0].taker_fee == Decimal("0.002525")  # 101 * 5 * 0.01 = 5.05 quote, 5 bp
    assert r.trades[0].maker_fee == Decimal("-0.000505")  # a 1 bp rebate
    assert m.depth() == ([], [(102, 3)])


def test_ioc_fok_market_post_only() -> None:
    m = _engine()
    m.submit(SimOrder(1, "a", Side.SELL, 101, 5))
    r = m.submit(SimOrder(2, "me", Side.BUY, 101, 8, Tif.IOC))
    assert (sum(t.qty for t in r.trades), r.resting) == (5, False)
    assert m.best_ask() is None
    m.submit(SimOrder(3, "a", Side.SELL, 101, 5))
    r = m.submit(SimOrder(4, "me", Side.BUY, 101, 6, Tif.FOK))
    assert not r.accepted
    assert m.depth()[1] == [(101, 5)], "a rejected FOK changes nothing"
    r = m.submit(SimOrder(5, "me", Side.BUY, 100, 1, post_only=True))
    assert r.resting
    r = m.submit(SimOrder(6, "me", Side.BUY, 101, 1, post_only=True))
    assert not r.accepted
    assert r.reason == "post-only order would take liquidity"
    r = m.submit(SimOrder(7, "me", Side.SELL, None, 3))
    assert [(t.price, t.qty) for t in r.trades] == [(100, 1)]
    assert not r.resting, "a market order never rests"


def test_cancel() -> None:
    m = _engine()
    m.submit(SimOrder(1, "a", Side.BUY, 99, 5))
    m.submit(SimOrder(2, "a", Side.BUY, 99, 5))
    assert m.cancel(1) is not None
    assert m.cancel(1) is None
    assert m.depth()[0] == [(99, 5)]
    assert not m.submit(SimOrder(2, "a", Side.BUY, 99, 5)).accepted, "duplicate id"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(95, 105), st.integers(1, 10), st.sampled_from(list(Tif))),
        max_size=60,
    )
)
def test_book_never_crossed_and_quantity_conserved(orders: list[tuple[bool, int, int, Tif]]) -> None:
    m = _engine()
    submitted = traded = 0
    for i, (buy, price, qty, tif) in enumerate(orders):
        r = m.submit(SimOrder(i, "x", Side.BUY if buy else Side.SELL, price, qty, tif))
        if r.accepted:
            submitted += qty
            traded += 2 * sum(t.qty for t in r.trades)
            if tif is Tif.FOK:
                assert sum(t.qty for t in r.trades) == qty
        bid, ask = m.best_bid(), m.best_ask()
        assert bid is None or ask is None or bid < ask
    resting = sum(q for _, q in m.depth(1000)[0]) + sum(q for _, q in m.depth(1000)[1])
    # every unit either traded (counted on both sides), rests, or was cancelled (IOC/FOK remainder)
    assert traded + resting <= submitted
