from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import Side
from trader.engine.portfolio import Portfolio, Position, to_decimal

UNIT = Decimal("0.00001")  # price 0.01 x qty 0.001


def test_average_cost_realized_and_flip() -> None:
    p = Position("sim", "BTCUSDT", UNIT)
    p.apply_fill(Side.BUY, 10, 100, Decimal("0.01"))
    p.apply_fill(Side.BUY, 20, 103, Decimal("0.02"))
    assert p.avg_price == Fraction(100 * 10 + 103 * 20, 30)
    p.apply_fill(Side.SELL, 40, 110, Decimal("0.04"))  # closes 30, opens 10 short at 110
    assert p.qty == -10
    assert p.avg_price == 110
    assert p.realized == (110 - Fraction(3060, 30)) * 30 * Fraction(UNIT)
    assert p.unrealized(105) == (105 - 110) * -10 * Fraction(UNIT)
    assert p.fees == Decimal("0.07")
    with pytest.raises(ValueError, match="> 0"):
        p.apply_fill(Side.BUY, 0, 1, Decimal(0))


def test_thirds_stay_exact() -> None:
    p = Position("sim", "X", Decimal(1))
    for price in (1, 2, 2):
        p.apply_fill(Side.BUY, 1, price, Decimal(0))
    assert p.avg_price == Fraction(5, 3)
    p.apply_fill(Side.SELL, 3, 2, Decimal(0))
    assert p.realized == 1
    assert to_decimal(Fraction(1, 3), 4) == Decimal("0.3333")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(1, 50), st.integers(1, 1000), st.integers(0, 100)), max_size=40
    ),
    st.integers(1, 1000),
)
def test_pnl_equals_cash_flow(fills: list[tuple[bool, int, int, int]], mark: int) -> None:
    """realized + unrealized - fees == cash + position * mark, exactly, for any fill sequence."""
    port = Portfolio()
    p = port.position("sim", "X", UNIT)
    cash = Fraction(0)
    for buy, qty, price, fee_units in fills:
        fee = Decimal(fee_units) / 1000
        p.apply_fill(Side.BUY if buy else Side.SELL, qty, price, fee)
        cash -= (qty if buy else -qty) * price * Fraction(UNIT) + Fraction(fee)
    assert p.pnl(mark) == cash + p.qty * mark * Fraction(UNIT)
    assert port.total_pnl({("sim", "X"): mark}) == p.pnl(mark)
