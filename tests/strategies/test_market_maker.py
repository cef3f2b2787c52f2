from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import Side
from trader.strategies.base import BookTop, Cancel, OwnFill, OwnOrder, Place, Strategy
from trader.strategies.market_maker import MarketMaker, MarketMakerParams

P = MarketMakerParams(instrument="BTCUSDT", tick=5, order_qty=10, max_inventory=30)


def _name(side: Side) -> str:
    return "BUY" if side == Side.BUY else "SELL"


def _top(bid: int, ask: int, ts: int = 1_000_000_000) -> BookTop:
    return BookTop("BTCUSDT", bid, 1, ask, 1, ts)


def _places(intents: list[Place | Cancel]) -> dict[Side, int]:
    return {i.side: i.price for i in intents if isinstance(i, Place)}


def test_is_a_strategy() -> None:
    s: Strategy = MarketMaker(P)
    assert s.on_timer(0) == []


def test_symmetric_at_zero_inventory_and_on_tick() -> None:
    mm = MarketMaker(P)
    q = _places(mm.on_book(_top(10_000, 10_010)))
    assert set(q) == {Side.BUY, Side.SELL}
    assert q[Side.BUY] % 5 == 0
    assert q[Side.SELL] % 5 == 0
    assert q[Side.BUY] < 10_010
    assert q[Side.SELL] > 10_000
    assert abs((10_005 - q[Side.BUY]) - (q[Side.SELL] - 10_005)) <= 5


def test_inventory_skews_and_caps() -> None:
    flat = MarketMaker(P).quotes(10_005.0)
    long = MarketMaker(P, inventory=20).quotes(10_005.0)
    assert long[0] is not None
    assert flat[0] is not None
    assert long[0] < flat[0], "long inventory lowers the bid"
    full = MarketMaker(P, inventory=30).quotes(10_005.0)
    assert full[0] is None, "no bid at max inventory"
    assert full[1] is not None


def test_requotes_only_when_the_quote_moves() -> None:
    mm = MarketMaker(P)
    first = mm.on_book(_top(10_000, 10_010))
    for side, price in _places(first).items():
        mm.on_order(OwnOrder(f"{_name(side)}-1", "BTCUSDT", side, price, 10, True))
    assert mm.on_book(_top(10_000, 10_010, 2_000_000_000)) == []
    moved = mm.on_book(_top(10_100, 10_110, 3_000_000_000))
    assert Cancel("BUY-1") in moved
    assert Cancel("SELL-1") in moved
    assert len([i for i in moved if isinstance(i, Place)]) == 2
    mm.on_fill(OwnFill("BUY-1", "BTCUSDT", Side.BUY, 10_000, 10, 4))
    assert mm.inventory == 10


def test_one_sided_book_pulls_quotes() -> None:
    mm = MarketMaker(P)
    for side, price in _places(mm.on_book(_top(10_000, 10_010))).items():
        mm.on_order(OwnOrder(f"{_name(side)}-1", "BTCUSDT", side, price, 10, True))
    pulled = mm.on_book(BookTop("BTCUSDT", 10_000, 1, None, 0, 5))
    assert set(pulled) == {Cancel("BUY-1"), Cancel("SELL-1")}


@settings(max_examples=300, deadline=None)
@given(st.integers(1000, 100_000), st.integers(1, 40), st.integers(-29, 29), st.integers(0, 50))
def test_quotes_never_cross_the_touch(bid_ticks: int, spread_ticks: int, inventory: int, vol: int) -> None:
    mm = MarketMaker(P, inventory=inventory, sigma2=float(vol * vol))
    bid, ask = bid_ticks * 5, (bid_ticks + spread_ticks) * 5
    q = _places(mm.on_book(_top(bid, ask)))
    if Side.BUY in q:
        assert q[Side.BUY] < ask
    if Side.SELL in q:
        assert q[Side.SELL] > bid
    if Side.BUY in q and Side.SELL in q:
        assert q[Side.BUY] < q[Side.SELL]
