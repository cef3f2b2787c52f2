"""The shared classifier behind every venue's error tables."""

from trader.errors import InsufficientFundsError, InvalidOrderError, OrderNotFoundError, RateLimitError
from trader.venues._errors import Broad, ErrorTable, classify

TABLE = ErrorTable(
    exact={"-2011": OrderNotFoundError, "-1003": RateLimitError},
    broad=(Broad(InsufficientFundsError, code="-2010", contains="Insufficient"),),
)


def test_exact_then_broad_then_default() -> None:
    e = classify("x", -2011, "Unknown order sent.", TABLE)
    assert type(e) is OrderNotFoundError
    assert (e.code, e.venue) == ("-2011", "x")
    assert type(classify("x", -2010, "Account has insufficient balance", TABLE)) is InsufficientFundsError
    assert type(classify("x", -2010, "Order would immediately match", TABLE)) is InvalidOrderError
    assert type(classify("x", "weird", "?", TABLE)) is InvalidOrderError


def test_messages_are_cut() -> None:
    assert len(str(classify("x", 1, "a" * 1000, TABLE))) < 300
