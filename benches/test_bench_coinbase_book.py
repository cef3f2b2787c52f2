"""Coinbase `level2` into the book: an `l2_data` update message of 20 level changes, parsed from raw bytes
in Rust (`Book.apply_coinbase_level2`), against orjson and a Python book (SortedDict ladders, the price
and size strings scaled to integer units in Python): the same work, the same run. A second group times
all the connector does per message (`MarketStream.handle`: envelope, sequence check, book, `BookUpdate`)
against the same baseline, which makes no events."""

from typing import Any

import orjson
import pytest

from benches.baselines import PyBook, to_units
from trader.core import Book, InstrumentSpec, Side

SPEC = InstrumentSpec("0.01", "0.00000001", min_qty="0.00000001")
PRODUCT = "BTC-USD"


def _message(seq: int, kind: str, updates: list[dict[str, str]]) -> bytes:
    event = {"type": kind, "product_id": PRODUCT, "updates": updates}
    return orjson.dumps(
        {"channel": "l2_data", "client_id": "", "timestamp": "2026-12-05T01:13:37.233281510Z",
         "sequence_num": seq, "events": [event]}
    )  # fmt: skip


def _level(side: str, price: str, qty: str) -> dict[str, str]:
    return {
        "side": side,
        "event_time": "2026-12-05T01:13:37.233221297Z",
        "price_level": price,
        "new_quantity": qty,
    }


SNAPSHOT = _message(
    1,
    "snapshot",
    [_level("bid", f"{60000 - i}.{i % 100:02d}", f"0.{i + 1:08d}") for i in range(200)]
    + [_level("offer", f"{60001 + i}.{i % 100:02d}", f"0.{i + 2:08d}") for i in range(200)],
)


def _update(k: int) -> bytes:
    """20 changes, bids and offers alternating; every seventh removes its level."""
    levels = []
    for i in range(20):
        side, price = ("bid", 60000 - i) if i % 2 else ("offer", 60001 + i)
        qty = "0" if (i + k) % 7 == 0 else f"0.{(i * 13 + k) % 90_000 + 1:08d}"
        levels.append(_level(side, f"{price}.{i % 100:02d}", qty))
    return _message(2 + k, "update", levels)


UPDATES = [_update(k) for k in range(500)]


def python_level2(book: PyBook, raw: bytes) -> int:
    """orjson, then each level's strings to units and into SortedDict ladders."""
    msg = orjson.loads(raw)
    n = 0
    for event in msg["events"]:
        if event["product_id"] != PRODUCT:
            continue
        if event["type"] == "snapshot":
            book.snapshot(msg["sequence_num"])
        for u in event["updates"]:
            book.set_level(u["side"] == "bid", to_units(u["price_level"], 2), to_units(u["new_quantity"], 8))
            n += 1
    return n


def _cycle(messages: list[bytes], apply: Any) -> Any:
    state = {"i": 0}

    def run() -> Any:
        i = state["i"]
        state["i"] = (i + 1) % len(messages)
        return apply(messages[i])

    return run


@pytest.mark.benchmark(group="book.coinbase_level2_message")
def test_ours_coinbase_level2(benchmark: Any) -> None:
    book = Book(SPEC)
    book.apply_coinbase_level2(SNAPSHOT, PRODUCT)
    benchmark.extra_info.update(role="ours", min_ratio=10)
    result = benchmark(_cycle(UPDATES, lambda raw: book.apply_coinbase_level2(raw, PRODUCT)))
    assert result is not None
    assert result[2] == 20


@pytest.mark.benchmark(group="book.coinbase_level2_message")
def test_python_orjson_sorteddict_level2(benchmark: Any) -> None:
    book = PyBook(2, 8)
    python_level2(book, SNAPSHOT)
    benchmark.extra_info["role"] = "baseline"
    assert benchmark(_cycle(UPDATES, lambda raw: python_level2(book, raw))) == 20


def _market_stream() -> Any:
    """The connector's market stream, not connected: its books hold SPEC's product."""
    from trader.clock import SimClock
    from trader.venues._ws import WsClient
    from trader.venues.coinbase import loopback_connector
    from trader.venues.coinbase.streams import MarketStream

    clock = SimClock(start_ns=0)
    conn = loopback_connector("http://127.0.0.1:9", symbols=[PRODUCT], clock=clock)
    conn._specs[PRODUCT] = SPEC
    stream = MarketStream(conn, WsClient("coinbase", "ws://127.0.0.1:9", clock=clock))  # never opened
    assert not stream.handle(SNAPSHOT, 1)
    return stream


@pytest.mark.benchmark(group="coinbase.level2_connector_message")
def test_ours_connector_level2(benchmark: Any) -> None:
    """Everything the connector does per `l2_data` message: the envelope (channel, sequence, time), the
    sequence check, the book, and a `BookUpdate` (taken off its queue) when the top changed."""
    stream = _market_stream()
    queue = stream._conn._queue

    def handle(raw: bytes) -> int:
        stream._seq.last = None  # the cycle reuses sequence numbers; not a gap
        stream.handle(raw, 2)
        n = 0
        while not queue.empty():
            queue.get_nowait()
            n += 1
        return n

    benchmark.extra_info["role"] = "ours"
    benchmark(_cycle(UPDATES, handle))
    assert stream._books[PRODUCT].best_bid() is not None


@pytest.mark.benchmark(group="coinbase.level2_connector_message")
def test_python_orjson_sorteddict_level2_for_connector(benchmark: Any) -> None:
    book = PyBook(2, 8)
    python_level2(book, SNAPSHOT)
    benchmark.extra_info["role"] = "baseline"
    assert benchmark(_cycle(UPDATES, lambda raw: python_level2(book, raw))) == 20


def test_baseline_and_core_agree_on_the_book() -> None:
    """The baseline does the same work: after the same messages both books hold the same top."""
    ours, theirs, stream = Book(SPEC), PyBook(2, 8), _market_stream()
    ours.apply_coinbase_level2(SNAPSHOT, PRODUCT)
    python_level2(theirs, SNAPSHOT)
    for raw in UPDATES[:100]:
        ours.apply_coinbase_level2(raw, PRODUCT)
        python_level2(theirs, raw)
        assert not stream.handle(raw, 2)  # consecutive sequence numbers: no gap
    assert ours.best_bid() == theirs.best_bid()
    assert ours.depth(Side.BUY, 5)[0] == theirs.best_bid()
    assert stream._books[PRODUCT].depth(Side.BUY, 200) == ours.depth(Side.BUY, 200)
    assert stream._books[PRODUCT].depth(Side.SELL, 200) == ours.depth(Side.SELL, 200)
