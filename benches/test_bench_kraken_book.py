"""Kraken WebSocket v2 `book` into the book: an update message (one to three level changes, as Kraken sends
them, numbers as JSON numbers) parsed from raw bytes, applied, cut to the subscribed depth (10) and its
CRC32 checksum over the top ten levels verified, all in Rust (`Book.apply_kraken_book`), against the same
work in Python done the fast careful way: orjson, each number scaled to integer units (`round`, exact at
these precisions), SortedDict ladders cut to depth, the checksum string of integer digits and zlib.crc32,
the timestamp to ns. Same messages, same run; every checksum must match on both sides."""

import random
import zlib
from itertools import islice
from typing import Any

import orjson
import pytest

from benches.baselines import PyBook
from trader.core import Book, InstrumentSpec, Side
from trader.venues.kraken.parse import parse_time

SPEC = InstrumentSpec("0.1", "0.00000001", min_qty="0.00000001")
SYMBOL = "BTC/USD"
DEPTH = 10
TS = "2026-12-05T02:51:07.123456Z"
Levels = dict[int, int]  # price ticks -> qty lots


def _top(levels: Levels, bids: bool) -> list[tuple[int, int]]:
    return sorted(levels.items(), reverse=bids)[:DEPTH]


def _checksum(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> int:
    text = "".join(f"{p}{q}" for p, q in asks[:10]) + "".join(f"{p}{q}" for p, q in bids[:10])
    return zlib.crc32(text.encode())


def _num(units: int, decimals: int) -> str:
    """A JSON number at the pair's precision, as Kraken writes it (45283.5, 0.10000000)."""
    whole, frac = divmod(units, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


def _message(kind: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]], checksum: int) -> bytes:
    def side(levels: list[tuple[int, int]]) -> str:
        return ",".join(f'{{"price":{_num(p, 1)},"qty":{_num(q, 8)}}}' for p, q in levels)

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{SYMBOL}","bids":[{side(bids)}],'
        f'"asks":[{side(asks)}],"checksum":{checksum},"timestamp":"{TS}"}}]}}'
    ).encode()


def _diff(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> list[tuple[int, int]]:
    before, after = dict(old), dict(new)
    return [(p, q) for p, q in new if before.get(p) != q] + [(p, 0) for p in before if p not in after]


def _feed(n: int) -> tuple[bytes, list[bytes]]:
    """A venue's full book (30 levels a side) and up to `n` small changes near the top, each sent as Kraken
    does: the changes of the top-`DEPTH` view (levels entering the view included); a last message takes
    the view back to the snapshot's, so the updates can be replayed in a loop."""
    rng = random.Random(7)
    bids = {452_835 - 3 * i: 10_000_000 + 7_919 * i for i in range(30)}
    asks = {452_852 + 3 * i: 20_000_000 + 6_007 * i for i in range(30)}
    first = (_top(bids, True), _top(asks, False))
    snapshot = _message("snapshot", *first, _checksum(*first))
    view, out = first, []
    for _ in range(n - 1):
        for _ in range(rng.randint(1, 3)):
            book, sign = (bids, -1) if rng.random() < 0.5 else (asks, 1)
            best = min(asks) if sign == 1 else max(bids)
            price = best + sign * rng.randint(-1, 12)
            if rng.random() < 0.25 and price in book and len(book) > DEPTH + 5:
                del book[price]
            elif (sign == -1 and price < min(asks)) or (sign == 1 and price > max(bids)):
                book[price] = rng.randint(1, 300_000_000)
        new = (_top(bids, True), _top(asks, False))
        if new == view:
            continue  # a change outside the subscribed depth: Kraken sends nothing
        out.append(_message("update", _diff(view[0], new[0]), _diff(view[1], new[1]), _checksum(*new)))
        view = new
    out.append(_message("update", _diff(view[0], first[0]), _diff(view[1], first[1]), _checksum(*first)))
    return snapshot, out


SNAPSHOT, UPDATES = _feed(500)


def python_book(raw: bytes, book: PyBook) -> tuple[bool, int] | None:
    """orjson, numbers to units, SortedDict ladders cut to depth, zlib CRC32 of the top ten: (checksum
    matched, ts_event)."""
    msg = orjson.loads(raw)
    if msg.get("channel") != "book":
        return None
    for d in msg["data"]:
        if d["symbol"] != SYMBOL:
            continue
        if msg["type"] == "snapshot":
            book.snapshot(0)
        for lv in d["bids"]:
            book.set_level(True, round(lv["price"] * 10), round(lv["qty"] * 100_000_000))
        for lv in d["asks"]:
            book.set_level(False, round(lv["price"] * 10), round(lv["qty"] * 100_000_000))
        while len(book.bids) > DEPTH:
            book.bids.popitem(-1)
        while len(book.asks) > DEPTH:
            book.asks.popitem(-1)
        text = "".join(f"{p}{q}" for p, q in islice(book.asks.items(), 10))
        text += "".join(f"{-p}{q}" for p, q in islice(book.bids.items(), 10))
        return zlib.crc32(text.encode()) == d["checksum"], parse_time(d["timestamp"])
    return None


def _cycle(messages: list[bytes], apply: Any, *args: Any) -> Any:
    """Each call applies the next message: `apply(raw, *args)` (the connector calls the book's bound
    method the same way)."""
    state = {"i": 0}

    def run() -> Any:
        i = state["i"]
        state["i"] = (i + 1) % len(messages)
        return apply(messages[i], *args)

    return run


def ours(book: Book, raw: bytes) -> tuple[bool, int, int, bool] | None:
    return book.apply_kraken_book(raw, SYMBOL, DEPTH, 1, 8)


@pytest.mark.benchmark(group="book.kraken_v2_book_message")
def test_ours_kraken_book(benchmark: Any) -> None:
    book = Book(SPEC)
    ours(book, SNAPSHOT)
    benchmark.extra_info.update(role="ours", min_ratio=10)
    result = benchmark(_cycle(UPDATES, book.apply_kraken_book, SYMBOL, DEPTH, 1, 8))
    assert result is not None
    assert result[3]  # the checksum matched


@pytest.mark.benchmark(group="book.kraken_v2_book_message")
def test_python_orjson_sorteddict_zlib_book(benchmark: Any) -> None:
    book = PyBook(1, 8)
    python_book(SNAPSHOT, book)
    benchmark.extra_info["role"] = "baseline"
    result = benchmark(_cycle(UPDATES, python_book, book))
    assert result is not None
    assert result[0]


def test_baseline_and_core_agree_on_every_message() -> None:
    """The baseline does the same work: both match every checksum, twice round the loop, and hold the
    same book."""
    mine, theirs = Book(SPEC), PyBook(1, 8)
    assert ours(mine, SNAPSHOT) == (True, 20, parse_time(TS), True)
    assert python_book(SNAPSHOT, theirs) == (True, parse_time(TS))
    for raw in UPDATES * 2:
        r = ours(mine, raw)
        assert r is not None
        assert r[3], raw
        assert python_book(raw, theirs) == (True, r[2])
        assert mine.best_bid() == theirs.best_bid()
    assert mine.depth(Side.SELL, DEPTH) == list(theirs.asks.items())
    assert mine.depth(Side.BUY, DEPTH) == [(-p, q) for p, q in theirs.bids.items()]
