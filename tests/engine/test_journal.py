from decimal import Decimal
from pathlib import Path

import pytest

from trader.core import Side
from trader.engine import oms
from trader.engine.journal import Journal
from trader.engine.ledger import OrderLedger, parse_client_id
from trader.errors import ConfigError, UnknownOrderError


def test_replay_rebuilds_orders_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    j = Journal(path)
    ledger = OrderLedger(j)
    a = ledger.create("mm", "sim", "BTCUSDT", Side.BUY, 100, 10, ts_ns=1)
    b = ledger.create("mm", "sim", "BTCUSDT", Side.SELL, 105, 5, ts_ns=2)
    ledger.apply(a.client_id, oms.Submitted(), 3)
    ledger.apply(a.client_id, oms.Accepted("v-1"), 4)
    ledger.apply(a.client_id, oms.Filled(oms.Fill("t1", 4, 100, Decimal("0.004"), 5)), 5)
    ledger.apply(a.client_id, oms.Filled(oms.Fill("t1", 4, 100, Decimal("0.004"), 5)), 6)  # duplicate
    ledger.apply(b.client_id, oms.Submitted(), 7)
    ledger.apply(b.client_id, oms.OutcomeUnknown("timeout"), 8)
    j.close()

    again = OrderLedger(Journal(path))
    ra, rb = again.orders[a.client_id], again.orders[b.client_id]
    assert (ra.status, ra.filled, ra.venue_order_id) == (oms.OrderStatus.PARTIALLY_FILLED, 4, "v-1")
    assert ra.fills["t1"].fee == Decimal("0.004")
    assert rb.status is oms.OrderStatus.UNKNOWN
    assert [o.client_id for o in again.unresolved()] == [b.client_id]
    assert {o.client_id for o in again.live()} == {a.client_id, b.client_id}
    c = again.create("mm", "sim", "BTCUSDT", Side.BUY, 99, 1, ts_ns=9)
    used = [parse_client_id(x.client_id) for x in (a, b, c)]
    numbers = [u.n for u in used if u is not None]
    assert len(numbers) == 3, "every id is in the format"
    assert numbers[2] > max(numbers[:2]), "client ids continue above every id ever used"
    assert {u.instance for u in used if u is not None} == {again.instance}, "one instance id per journal"


def test_counters_and_errors(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    j.set_counter_at_least("kraken_nonce", 1_700_000_000_000)
    j.set_counter_at_least("kraken_nonce", 5)
    assert j.get_counter("kraken_nonce") == 1_700_000_000_000
    with pytest.raises(ConfigError, match="alphanumeric"):
        j.next_client_id("bad name")
    with pytest.raises(UnknownOrderError):
        OrderLedger(j).apply("nope-1", oms.Submitted(), 1)
    with pytest.raises(ConfigError, match="cannot open journal"):
        Journal(tmp_path / "missing-dir" / "j.db")
