from decimal import Decimal

from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder


def _run(seed: int, steps: int = 2000) -> tuple[list[tuple[int, int, int]], MatchingEngine, BackgroundMarket]:
    eng = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=Decimal("0.01"))
    mkt = BackgroundMarket(eng, MarketParams(mid=10_000), seed)
    mkt.seed_book()
    trades = []
    for _ in range(steps):
        trades += [(t.price, t.qty, t.taker_order_id) for t in mkt.step(10_000_000)]  # 10 ms
    return trades, eng, mkt


def test_same_seed_same_market() -> None:
    a, ea, _ = _run(7)
    b, eb, _ = _run(7)
    c, _, _ = _run(8)
    assert a == b
    assert ea.depth(50) == eb.depth(50)
    assert a != c


def test_book_moves_trades_and_stays_sane() -> None:
    trades, eng, mkt = _run(3, steps=3000)  # 30 s
    assert len(trades) > 20, "market orders and crossing limits trade"
    bid, ask = eng.best_bid(), eng.best_ask()
    assert bid is not None
    assert ask is not None
    assert bid < ask
    assert abs((bid + ask) / 2 - mkt.mid) < 50, "the book follows the mid"
    assert {p for p, _, _ in trades} != {trades[0][0]}, "prices move"


def test_a_strategy_order_gets_filled_by_the_market() -> None:
    eng = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=Decimal("0.01"))
    mkt = BackgroundMarket(eng, MarketParams(mid=10_000, market_rate=20.0), seed=11)
    mkt.seed_book()
    best_bid = eng.best_bid()
    assert best_bid is not None
    mine = SimOrder(1, "strategy", Side.BUY, best_bid + 1, 5)
    assert eng.submit(mine).resting
    fills = []
    for _ in range(1000):
        fills += [t for t in mkt.step(10_000_000) if t.maker_owner == "strategy"]
    assert sum(t.qty for t in fills) == 5
