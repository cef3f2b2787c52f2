from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from trader.engine.journal import Journal
from trader.sim.session import PaperConfig, PaperSession


def test_session_trades_and_shuts_down_clean(tmp_path: Path) -> None:
    journal = tmp_path / "paper.db"
    s = PaperSession(PaperConfig(seed=7, duration_s=60, journal=journal))
    summary = s.run()
    assert summary.orders > 10
    assert summary.fills > 0
    assert summary.open_orders_after_shutdown == 0
    gate = s.engine.gate
    assert gate is not None
    assert gate.open_order_count() == 0
    # exact arithmetic: the PnL decomposes into cash and marked inventory, fees included
    assert Decimal(summary.fees) >= 0
    # the gate's own PnL (cash + position x mid, fees) agrees with the session's to the last digit
    assert gate.daily_pnl() == Decimal(summary.pnl)
    # the average-cost view (realized + unrealized - fees) agrees with the cash-flow PnL
    pos = s.engine.portfolio.position("sim", "BTCUSDT", s.unit_notional)
    bid, ask = s.matching.best_bid(), s.matching.best_ask()
    assert bid is not None
    assert ask is not None
    assert pos.pnl(Fraction(bid + ask, 2)) == Fraction(Decimal(summary.pnl))
    # the journal replays to the same orders
    replayed = Journal(journal).replay()
    assert {k: (o.status, o.filled) for k, o in replayed.items()} == {
        k: (o.status, o.filled) for k, o in s.engine.ledger.orders.items()
    }


def test_deterministic_for_a_seed() -> None:
    a = PaperSession(PaperConfig(seed=3, duration_s=20)).run().as_dict()
    b = PaperSession(PaperConfig(seed=3, duration_s=20)).run().as_dict()
    for k in ("tick_to_order_p50_us", "tick_to_order_p99_us"):
        a.pop(k)
        b.pop(k)
    assert a == b
