"""Order book: one level update, best bid, and a whole Binance depth message, against plain Python."""

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from benches.baselines import PyBook
from trader.core import Book, InstrumentSpec, Side

VECTOR = json.loads((Path(__file__).parents[1] / "tests" / "vectors" / "binance_depth.json").read_text())
SPEC = InstrumentSpec(**VECTOR["spec"])  # tick 0.01, lot 0.00001
PRICE_SCALE, QTY_SCALE = 2, 5
PRICES = [100_000 + k for k in range(10)]
QTYS = [100_000 + 7 * k for k in range(10)]


def _messages(n: int) -> list[bytes]:
    """n consecutive ~1.2 KB Binance diff-depth events (20 bid + 20 ask levels each)."""
    base = VECTOR["diff"]
    out = []
    for k in range(n):
        m = dict(base)
        m["U"], m["u"] = 20 * k + 1, 20 * (k + 1)
        m["b"] = [[p, f"{(float(q) + k % 7):.8f}" if k % 3 else q] for p, q in base["b"]]
        out.append(json.dumps(m, separators=(",", ":")).encode())
    return out


MESSAGES = _messages(2000)


@pytest.mark.benchmark(group="book.level_update")
def test_ours_level_update(benchmark: Any) -> None:
    """Set one level's quantity on a 10-level ladder (the call a feed handler makes per level)."""
    book = Book(SPEC)
    book.apply_snapshot([(p, q) for p, q in zip(PRICES, QTYS, strict=True)], [(200_000, 1)], 1)
    # the goals: <= 200 ns, and faster than nautilus_trader (benches/test_bench_nautilus.py)
    benchmark.extra_info.update(role="ours", target_median_ns=200, min_ratio=1)
    benchmark(book.set_level, Side.BUY, PRICES[4], 123_456)
    assert book.depth(Side.BUY, 10)[5] == (PRICES[4], 123_456)


@pytest.mark.benchmark(group="book.level_update")
def test_python_sorteddict_level_update(benchmark: Any) -> None:
    book = PyBook(PRICE_SCALE, QTY_SCALE)
    for p, q in zip(PRICES, QTYS, strict=True):
        book.set_level(True, p, q)
    benchmark.extra_info["role"] = "baseline"
    benchmark(book.set_level, True, PRICES[4], 123_456)
    assert book.bids[-PRICES[4]] == 123_456


@pytest.mark.benchmark(group="book.best_bid")
def test_ours_best_bid(benchmark: Any) -> None:
    book = Book(SPEC)
    book.apply_snapshot([(p, q) for p, q in zip(PRICES, QTYS, strict=True)], [(200_000, 1)], 1)
    benchmark.extra_info.update(role="ours", target_median_ns=100)
    assert benchmark(book.best_bid) == (PRICES[-1], QTYS[-1])


@pytest.mark.benchmark(group="book.best_bid")
def test_python_sorteddict_best_bid(benchmark: Any) -> None:
    book = PyBook(PRICE_SCALE, QTY_SCALE)
    for p, q in zip(PRICES, QTYS, strict=True):
        book.set_level(True, p, q)
    benchmark.extra_info["role"] = "baseline"
    assert benchmark(book.best_bid) == (PRICES[-1], QTYS[-1])


@pytest.mark.benchmark(group="book.binance_depth_message")
def test_ours_binance_depth(benchmark: Any) -> None:
    book = Book(SPEC)
    book.apply_snapshot([], [], 0)
    state = {"i": 0}

    def run() -> bool:
        i = state["i"]
        if i == len(MESSAGES):
            book.apply_snapshot([], [], 0)
            i = 0
        state["i"] = i + 1
        return book.apply_binance_depth(MESSAGES[i])

    benchmark.extra_info.update(role="ours", min_ratio=10)
    assert benchmark(run) is True
    assert len(book) > 0


@pytest.mark.benchmark(group="book.binance_depth_message")
def test_python_orjson_sorteddict_depth(benchmark: Any) -> None:
    book = PyBook(PRICE_SCALE, QTY_SCALE)
    book.snapshot(0)
    state = {"i": 0}

    def run() -> bool:
        i = state["i"]
        if i == len(MESSAGES):
            book.snapshot(0)
            i = 0
        state["i"] = i + 1
        return book.apply_binance_depth(MESSAGES[i])

    benchmark.extra_info["role"] = "baseline"
    assert benchmark(run) is True
    assert book.best_bid() is not None


def test_baseline_and_core_agree_on_the_book() -> None:
    """The baseline does the same work: after the same stream both books hold the same levels."""
    ours = Book(SPEC)
    ours.apply_snapshot([], [], 0)
    theirs = PyBook(PRICE_SCALE, QTY_SCALE)
    theirs.snapshot(0)
    for m in MESSAGES[:50]:
        assert ours.apply_binance_depth(m) == theirs.apply_binance_depth(m)
    assert ours.depth(Side.BUY, 100) == [(-k, q) for k, q in theirs.bids.items()]
    assert ours.depth(Side.SELL, 100) == list(theirs.asks.items())
    assert orjson.loads(MESSAGES[0])["u"] == 20


def _python_kraken_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """python-kraken-sdk's way: strip the dot and leading zeros of each string, CRC32 the concatenation."""
    import zlib

    parts = []
    for p, q in asks[:10] + bids[:10]:
        parts.append(p.replace(".", "").lstrip("0"))
        parts.append(q.replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode())


KRAKEN = json.loads((Path(__file__).parents[1] / "tests" / "vectors" / "kraken_checksum.json").read_text())


@pytest.mark.benchmark(group="book.kraken_checksum")
def test_ours_kraken_checksum(benchmark: Any) -> None:
    """Checksum of the book's top 10 levels, formatted at the pair's precision (done per update)."""
    spec = InstrumentSpec("0.1", "0.00000001")
    book = Book(spec)
    units = (
        [(spec.price_to_units(p), spec.qty_to_units(q)) for p, q in KRAKEN["bids"]],
        [(spec.price_to_units(p), spec.qty_to_units(q)) for p, q in KRAKEN["asks"]],
    )
    book.apply_snapshot(units[0], units[1], 0)
    benchmark.extra_info.update(role="ours")
    assert benchmark(book.kraken_checksum, 1, 8) == KRAKEN["checksum"]


@pytest.mark.benchmark(group="book.kraken_checksum")
def test_python_kraken_checksum(benchmark: Any) -> None:
    asks = [(p, q) for p, q in KRAKEN["asks"]]
    bids = [(p, q) for p, q in KRAKEN["bids"]]
    benchmark.extra_info["role"] = "baseline"
    assert benchmark(_python_kraken_checksum, asks, bids) == KRAKEN["checksum"]


def _python_binance_depth_cache() -> Any:
    """python-binance's own depth path: its DepthCacheManager's message handler and DepthCache (built
    without a client or socket; the snapshot is taken as already applied at update id 0)."""
    from binance.ws.depthcache import DepthCache, DepthCacheManager

    dcm = DepthCacheManager.__new__(DepthCacheManager)
    dcm._depth_cache = DepthCache("BTCUSDT")
    dcm._last_update_id = 0
    dcm._refresh_interval = 0
    dcm._depth_message_buffer = []
    return dcm


def _run_coroutine(coro: Any) -> Any:
    """Drive a coroutine that never awaits anything pending (no event loop overhead in the timing)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine suspended")


@pytest.mark.benchmark(group="book.binance_depth_message")
def test_python_binance_depth_cache(benchmark: Any) -> None:
    """The message as python-binance's socket manager decodes it (orjson), then its depth cache."""
    dcm = _python_binance_depth_cache()
    state = {"i": 0}

    def run() -> Any:
        i = state["i"]
        if i == len(MESSAGES):
            dcm._last_update_id = 0
            i = 0
        state["i"] = i + 1
        return _run_coroutine(dcm._process_depth_message(orjson.loads(MESSAGES[i])))

    # python-binance keeps unsorted dicts of float sizes (no ordering, no exact units): less work than a
    # sorted exact book, so the bar against it is lower than against the sorted Python book
    benchmark.extra_info.update(role="baseline", min_ratio=2)
    assert benchmark(run) is dcm._depth_cache
    assert dcm._depth_cache.get_bids()


def test_python_binance_baseline_sees_the_same_top_of_book() -> None:
    ours = Book(SPEC)
    ours.apply_snapshot([], [], 0)
    dcm = _python_binance_depth_cache()
    for m in MESSAGES[:50]:
        ours.apply_binance_depth(m)
        _run_coroutine(dcm._process_depth_message(orjson.loads(m)))
    bid = ours.best_bid()
    assert bid is not None
    best = dcm._depth_cache.get_bids()[0]
    assert SPEC.format_price(bid[0]) == f"{best[0]:.2f}"
