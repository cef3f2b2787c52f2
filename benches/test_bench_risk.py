"""Risk gate: one order checked (and released) from Python, against the same checks in Python."""

from typing import Any

import pytest

from benches.baselines import PyGate, PyInstrument
from trader.core import Approval, InstrumentSpec, RiskGate, Side

T0 = 1_700_000_000_000_000_000
STEP_NS = 10_000_000
SPEC = InstrumentSpec("0.01", "0.001", min_qty="0.001", min_notional="5")


def _gate() -> tuple[RiskGate, int, int]:
    g = RiskGate(
        max_gross_notional="10000000",
        max_net_notional="10000000",
        max_open_orders=1000,
        max_orders_per_sec=1000,
        daily_loss_limit="1000",
    )
    v = g.add_venue("binance", max_gross_notional="10000000", max_open_orders=1000)
    s = g.add_strategy("mm", max_orders_per_sec=1000)
    i = g.add_instrument(
        v,
        "BTCUSDT",
        SPEC,
        max_order_qty="10",
        max_order_notional="1000000",
        max_position="100",
        max_open_orders=1000,
        collar_bps=100,
    )
    return g, s, i


@pytest.mark.benchmark(group="risk.check_and_release")
def test_ours_risk_check(benchmark: Any) -> None:
    g, s, i = _gate()
    clock = {"now": T0}

    def run() -> None:
        # 100 orders a second over 20 prices: no duplicates, a fresh reference every second
        now = clock["now"] = clock["now"] + STEP_NS
        n = (now - T0) // STEP_NS
        if n % 100 == 0:
            g.set_reference(i, 5_000_000, 5_000_100, now)
        a = g.check(s, i, Side.BUY, 4_999_000 - n % 20, 100, now)
        g.on_closed(a.key)  # type: ignore[union-attr]

    g.set_reference(i, 5_000_000, 5_000_100, T0)
    benchmark.extra_info.update(role="ours", target_median_ns=1000)
    benchmark(run)
    g.set_reference(i, 5_000_000, 5_000_100, clock["now"])
    a = g.check(s, i, Side.BUY, 4_998_000, 100, clock["now"])
    assert isinstance(a, Approval)
    assert g.open_order_count() == 1


@pytest.mark.benchmark(group="risk.check_and_release")
def test_python_gate_check(benchmark: Any) -> None:
    _python_gate_check(benchmark)


def _python_gate_check(benchmark: Any) -> None:
    inst = PyInstrument(
        tick=1,
        lot=1,
        min_qty=1,
        min_notional=5 * 10**18,
        factor=10**13,
        max_order_qty=10_000,
        max_order_notional=10**24,
        max_position=100_000,
        max_open_orders=1000,
        collar_bps=100,
        bid=5_000_000,
        ask=5_000_100,
        ref_ns=T0,
    )
    g = PyGate(inst, max_gross=10**25, max_open=1000, per_sec=1_000_000_000, max_age_ns=2_000_000_000)
    clock = {"now": T0}

    def run() -> None:
        now = clock["now"] = clock["now"] + STEP_NS
        n = (now - T0) // STEP_NS
        if n % 100 == 0:
            inst.ref_ns = now
        k = g.check(True, 4_999_000 - n % 20, 100, now)
        assert isinstance(k, int), k
        g.on_closed(k)

    benchmark.extra_info["role"] = "baseline"
    benchmark(run)
    assert g.orders == {}


VENUES = ("binance", "binance-futures", "coinbase", "kraken", "okx", "bybit")
ASSETS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
CURRENCIES = (("USDT", "1.0002"), ("USDC", "0.9999"), ("pUSD", "1"), ("USD", "1"))


def _loaded_gate() -> tuple[RiskGate, int, list[int]]:
    """6 venues x 50 instruments, each with an asset and a quote currency, positions and live orders."""
    g = RiskGate(
        max_gross_notional="1000000000",
        max_net_notional="1000000000",
        max_open_orders=10_000,
        max_orders_per_sec=1000,
        daily_loss_limit="1000000",
        max_reference_age_ns=3_600_000_000_000,
    )
    currencies = [g.add_currency(n, r, max_depeg_bps=100) for n, r in CURRENCIES]
    assets = [g.add_asset(a, max_net_notional="500000000", max_gross_notional="900000000") for a in ASSETS]
    s = g.add_strategy("mm", max_orders_per_sec=1000)
    ids = []
    for v_name in VENUES:
        v = g.add_venue(
            v_name,
            max_gross_notional="100000000",
            max_open_orders=1000,
            max_orders_per_sec=1000,
            daily_loss_limit="100000",
        )
        for k in range(50):
            i = g.add_instrument(
                v,
                f"SYM{k}",
                SPEC,
                max_order_qty="10",
                max_order_notional="1000000",
                max_position="100",
                max_open_orders=1000,
                collar_bps=100,
                currency=currencies[k % len(currencies)],
                asset=assets[k % len(assets)],
            )
            g.set_reference(i, 5_000_000, 5_000_100, T0)
            ids.append(i)
    for n, i in enumerate(ids):  # a position and a bid and an ask resting on every instrument
        side = Side.BUY if n % 2 else Side.SELL
        a = g.check(s, i, side, 5_000_000 if n % 2 else 5_000_100, 100, T0)
        assert isinstance(a, Approval), a
        g.on_fill(a.key, 100, a.price)
        for side, price in ((Side.BUY, 4_990_000), (Side.SELL, 5_010_000)):
            a = g.check(s, i, side, price, 100, T0 + 1)
            assert isinstance(a, Approval), a
            g.on_ack(a.key)
    return g, s, ids


@pytest.mark.benchmark(group="risk.check_6_venues_x_50_loaded")
def test_ours_risk_check_loaded(benchmark: Any) -> None:
    """Gate check, 6 venues x 50 instruments loaded: currency conversion, venue and asset aggregates."""
    g, s, ids = _loaded_gate()
    assert g.open_order_count() == 2 * len(ids)
    clock = {"now": T0 + STEP_NS}

    def run() -> None:
        # 100 orders a second, over the 300 instruments and 20 prices: no duplicates
        now = clock["now"] = clock["now"] + STEP_NS
        n = (now - T0) // STEP_NS
        a = g.check(s, ids[n * 7 % len(ids)], Side.BUY, 4_999_000 - n % 20, 100, now)
        g.on_closed(a.key)  # type: ignore[union-attr]

    benchmark.extra_info.update(role="ours", target_median_ns=1000)
    benchmark(run)
    assert g.open_order_count() == 2 * len(ids)


@pytest.mark.benchmark(group="risk.check_6_venues_x_50_loaded")
def test_python_gate_check_loaded(benchmark: Any) -> None:
    """The same-run baseline: the Python gate's check on one instrument, as in risk.check_and_release."""
    _python_gate_check(benchmark)


@pytest.mark.benchmark(group="risk.set_reference")
def test_ours_set_reference(benchmark: Any) -> None:
    """Per book change: the gate's collar reference and marks (exposure and PnL re-valued)."""
    g, s, i = _gate()
    g.set_reference(i, 5_000_000, 5_000_100, T0)
    a = g.check(s, i, Side.BUY, 4_999_000, 100, T0)
    assert isinstance(a, Approval)
    g.on_fill(a.key, 100, 4_999_000)
    clock = {"n": 0}

    def run() -> None:
        n = clock["n"] = clock["n"] + 1
        g.set_reference(i, 5_000_000 + n % 7, 5_000_100 + n % 7, T0 + n)

    benchmark.extra_info.update(role="ours")
    benchmark(run)
    assert g.daily_pnl() != 0


@pytest.mark.benchmark(group="risk.set_reference")
def test_python_set_reference(benchmark: Any) -> None:
    """The same bookkeeping in Python: reference, mark, position value and PnL re-valued."""
    state = {"bid": 0, "ask": 0, "ts": 0, "mark_x2": 0, "position": 100, "cash": -4_999_000 * 100, "pnl": 0}
    clock = {"n": 0}

    def run() -> None:
        n = clock["n"] = clock["n"] + 1
        bid, ask = 5_000_000 + n % 7, 5_000_100 + n % 7
        state["bid"], state["ask"], state["ts"] = bid, ask, T0 + n
        m = bid + ask
        if m != state["mark_x2"]:
            state["mark_x2"] = m
            state["pnl"] = state["cash"] + state["position"] * m // 2

    benchmark.extra_info["role"] = "baseline"
    benchmark(run)
    assert state["pnl"] != 0
