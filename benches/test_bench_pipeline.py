"""Tick-to-order with the market maker: Binance depth bytes in -> signed order request bytes out.

Ours: core Book (parse + apply in one call) -> MarketMaker -> core RiskGate -> core BinanceSigner.
Baseline, the same pipeline in plain Python: orjson + a SortedDict book, the same MarketMaker, Python
checks (benches/baselines.PyGate) and hmac + urlencode. Every message moves the book by one tick, so every
tick requotes both sides (two orders signed per message).
"""

import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from benches.baselines import PyBook, PyGate, PyInstrument
from trader.core import Approval, BinanceSigner, Book, InstrumentSpec, RiskGate, Side
from trader.strategies.base import BookTop, Place
from trader.strategies.market_maker import MarketMaker, MarketMakerParams

T0 = 1_700_000_000_000_000_000
BASE = json.loads((Path(__file__).parents[1] / "tests" / "vectors" / "binance_depth.json").read_text())[
    "diff"
]
N = 400


def _messages() -> list[bytes]:
    """N consecutive depth events; message k shifts every level by k % 2 ticks (0.01)."""
    out = []
    for k in range(N):
        m = dict(BASE)
        m["U"], m["u"] = 20 * k + 1, 20 * (k + 1)
        shift = Decimal("0.01") * (k % 2)
        m["b"] = [[str(Decimal(p) + shift), q] for p, q in BASE["b"]]
        m["a"] = [[str(Decimal(p) + shift), q] for p, q in BASE["a"]]
        # clear the other shift's levels so the book really moves
        other = Decimal("0.01") * ((k + 1) % 2)
        m["b"] += [[str(Decimal(p) + other), "0.00000000"] for p, _ in BASE["b"]]
        m["a"] += [[str(Decimal(p) + other), "0.00000000"] for p, _ in BASE["a"]]
        out.append(json.dumps(m, separators=(",", ":")).encode())
    return out


MESSAGES = _messages()
PARAMS = MarketMakerParams(
    instrument="BTCUSDT", tick=1, order_qty=1000, max_inventory=100_000, requote_ticks=1
)


def _ours() -> Any:
    spec = InstrumentSpec("0.01", "0.00001")
    book = Book(spec)
    gate = RiskGate(
        max_gross_notional="100000000",
        max_net_notional="100000000",
        max_open_orders=100_000,
        max_orders_per_sec=100_000,
        daily_loss_limit="1000",
        duplicate_window_ns=1,
    )
    v = gate.add_venue("binance", max_gross_notional="100000000", max_open_orders=100_000)
    s = gate.add_strategy("mm", max_orders_per_sec=100_000)
    i = gate.add_instrument(
        v,
        "BTCUSDT",
        spec,
        max_order_qty="10",
        max_order_notional="1000000",
        max_position="1000",
        max_open_orders=100_000,
        collar_bps=500,
    )
    signer = BinanceSigner("k" * 64, "s" * 64)
    mm = MarketMaker(PARAMS)
    state = {"k": 0, "now": T0}

    def tick() -> list[str]:
        k = state["k"]
        if k % N == 0:
            book.apply_snapshot([], [], 0)
        state["k"] = k + 1
        now = state["now"] = state["now"] + 1_000_000
        book.apply_binance_depth(MESSAGES[k % N])
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None
        assert ask is not None
        gate.set_reference(i, bid[0], ask[0], now)
        out = []
        for intent in mm.on_book(BookTop("BTCUSDT", bid[0], bid[1], ask[0], ask[1], now)):
            if isinstance(intent, Place):
                a = gate.check(s, i, intent.side, intent.price, intent.qty, now, post_only=True)
                if isinstance(a, Approval):
                    side = "BUY" if intent.side == Side.BUY else "SELL"
                    params = [
                        ("symbol", "BTCUSDT"),
                        ("side", side),
                        ("type", "LIMIT_MAKER"),
                        ("quantity", spec.format_qty(a.qty)),
                        ("price", spec.format_price(a.price)),
                    ]
                    out.append(signer.sign("POST", "/api/v3/order", params, now // 1_000_000, 5000).query)
                    gate.on_closed(a.key)
        return out

    return tick


def _python() -> Any:
    book = PyBook(2, 5)
    inst = PyInstrument(
        tick=1,
        lot=1,
        min_qty=1,
        min_notional=0,
        factor=10**11,
        max_order_qty=10**6,
        max_order_notional=10**40,
        max_position=10**8,
        max_open_orders=10**6,
        collar_bps=500,
    )
    gate = PyGate(inst, max_gross=10**40, max_open=10**6, per_sec=10**5, max_age_ns=2_000_000_000)
    secret = b"s" * 64
    mm = MarketMaker(PARAMS)
    state = {"k": 0, "now": T0}

    def fmt(units: int, scale: int) -> str:
        s = str(units).rjust(scale + 1, "0")
        return f"{s[:-scale]}.{s[-scale:]}"

    def tick() -> list[str]:
        k = state["k"]
        if k % N == 0:
            book.snapshot(0)
        state["k"] = k + 1
        now = state["now"] = state["now"] + 1_000_000
        book.apply_binance_depth(MESSAGES[k % N])
        bid = book.best_bid()
        ask = book.asks.peekitem(0) if book.asks else None
        assert bid is not None
        assert ask is not None
        inst.bid, inst.ask, inst.ref_ns = bid[0], ask[0], now
        out = []
        for intent in mm.on_book(BookTop("BTCUSDT", bid[0], bid[1], ask[0], ask[1], now)):
            if isinstance(intent, Place):
                key = gate.check(intent.side == Side.BUY, intent.price, intent.qty, now)
                gate.recent.clear()  # the same duplicate rule as ours (window 1 ns)
                if isinstance(key, int):
                    side = "BUY" if intent.side == Side.BUY else "SELL"
                    params = {
                        "symbol": "BTCUSDT",
                        "side": side,
                        "type": "LIMIT_MAKER",
                        "quantity": fmt(intent.qty, 5),
                        "price": fmt(intent.price, 2),
                        "recvWindow": 5000,
                        "timestamp": now // 1_000_000,
                    }
                    q = urlencode(sorted(params.items()))
                    out.append(q + "&signature=" + hmac.new(secret, q.encode(), hashlib.sha256).hexdigest())
                    gate.on_closed(key)
        return out

    return tick


@pytest.mark.benchmark(group="pipeline.tick_to_order")
def test_ours_tick_to_order(benchmark: Any) -> None:
    tick = _ours()
    tick()
    benchmark.extra_info.update(role="ours", target_median_ns=15_000, min_ratio=10)
    orders = benchmark(tick)
    assert len(orders) == 2
    assert all("&signature=" in o for o in orders)


@pytest.mark.benchmark(group="pipeline.tick_to_order")
def test_python_tick_to_order(benchmark: Any) -> None:
    tick = _python()
    tick()
    benchmark.extra_info["role"] = "baseline"
    orders = benchmark(tick)
    assert len(orders) == 2


def test_both_pipelines_emit_the_same_orders() -> None:
    ours, theirs = _ours(), _python()
    for _ in range(20):
        assert ours() == theirs()
