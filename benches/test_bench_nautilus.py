"""One level update against nautilus_trader's PyO3 `OrderBook` (bench-only dependency).

`make bench` installs nautilus_trader (requirements/bench.txt); `make test` does not, so this file is
skipped there with that reason. The workload is the one in test_bench_book.py: set the quantity of
one bid level of a 10-level L2 book.
"""

from typing import Any

import pytest

nt = pytest.importorskip(
    "nautilus_trader.core.nautilus_pyo3",
    reason="bench-only dependency: `make bench` installs nautilus_trader",
)

INSTRUMENT = nt.InstrumentId.from_str("BTCUSDT.BINANCE")
PRICES = [f"{1000 + k / 100:.2f}" for k in range(10)]  # the same levels as test_bench_book.PRICES


def _book() -> Any:
    book = nt.OrderBook(INSTRUMENT, nt.BookType.L2_MBP)
    for seq, p in enumerate(PRICES, start=1):
        order = nt.BookOrder(nt.OrderSide.BUY, nt.Price.from_str(p), nt.Quantity.from_str("1.00000"), 0)
        book.apply_delta(nt.OrderBookDelta(INSTRUMENT, nt.BookAction.ADD, order, 0, seq, 0, 0))
    return book


@pytest.mark.benchmark(group="book.level_update")
def test_nautilus_build_and_apply_delta(benchmark: Any) -> None:
    """Build the delta from the level's values (as a feed handler must) and apply it."""
    book = _book()
    side, action, price, size = nt.OrderSide.BUY, nt.BookAction.UPDATE, 1000.04, 1.23456

    def run() -> None:
        order = nt.BookOrder(side, nt.Price(price, 2), nt.Quantity(size, 5), 0)
        book.apply_delta(nt.OrderBookDelta(INSTRUMENT, action, order, 0, 11, 0, 0))

    benchmark.extra_info["role"] = "baseline"
    benchmark(run)
    assert str(book.best_bid_price()) == "1000.09"
    assert any(str(level.price) == "1000.04" and str(level.size()) == "1.23456" for level in book.bids())


@pytest.mark.benchmark(group="book.level_update")
def test_nautilus_apply_prebuilt_delta(benchmark: Any) -> None:
    """Apply an already built delta: nautilus's floor, without the construction cost."""
    book = _book()
    order = nt.BookOrder(nt.OrderSide.BUY, nt.Price.from_str("1000.04"), nt.Quantity.from_str("1.23456"), 0)
    delta = nt.OrderBookDelta(INSTRUMENT, nt.BookAction.UPDATE, order, 0, 11, 0, 0)
    benchmark.extra_info["role"] = "baseline"
    benchmark(book.apply_delta, delta)
    assert str(book.best_bid_size()) == "1.00000"
