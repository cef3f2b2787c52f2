"""OKX: a raw `books` push into the connector's book (`streams.SeqBook`: the core parses the bytes, checks the
seqId chain and the CRC32 checksum over the top 25 levels, and sets the levels on its ladder) against plain
Python doing the same work (orjson, Decimal to integer units, one dict per side, the same seqId rule, and the
checksum by zlib over the top 25 levels of each side, kept as the strings received). Signing vs python-okx
is in `test_bench_sign.py` (`sign.okx`)."""

import heapq
import zlib
from decimal import Decimal
from typing import Any

import orjson
import pytest

from trader.core import InstrumentSpec, Side
from trader.venues.okx.streams import SeqBook

SPEC = InstrumentSpec("0.1", "0.0001")
TICK, LOT = Decimal("0.1"), Decimal("0.0001")


def plain(units: int, unit: Decimal) -> str:
    """As OKX writes a level: a plain decimal without trailing zeros."""
    return format((units * unit).normalize(), "f")


def signed_crc(text: str) -> int:
    crc = zlib.crc32(text.encode())
    return crc - 2**32 if crc >= 2**31 else crc


class PyOkxBook:
    """The plain-Python way: orjson, Decimal to integer units, one dict per side (price units -> (price
    string, size string) as received), the same seqId rule and the zlib checksum over the top 25."""

    def __init__(self) -> None:
        self.bids: dict[int, tuple[str, str]] = {}
        self.asks: dict[int, tuple[str, str]] = {}
        self.seq = 0

    def snapshot(self, d: dict[str, Any]) -> bool:
        self.bids, self.asks = {}, {}
        self._levels(d)
        self.seq = int(d["seqId"])
        return self.verify(int(d["checksum"]))

    def _levels(self, d: dict[str, Any]) -> None:
        for side, rows in ((self.bids, d["bids"]), (self.asks, d["asks"])):
            for px, sz, *_ in rows:
                p, q = int(Decimal(px) / TICK), int(Decimal(sz) / LOT)
                if q:
                    side[p] = (px, sz)
                else:
                    side.pop(p, None)

    def checksum(self) -> int:
        bids = [self.bids[p] for p in heapq.nlargest(25, self.bids)]
        asks = [self.asks[p] for p in heapq.nsmallest(25, self.asks)]
        parts: list[str] = []
        for i in range(max(len(bids), len(asks))):
            if i < len(bids):
                parts += bids[i]
            if i < len(asks):
                parts += asks[i]
        return signed_crc(":".join(parts))

    def verify(self, checksum: int) -> bool:
        return checksum == 0 or self.checksum() == checksum

    def apply(self, raw: bytes) -> bool:
        for d in orjson.loads(raw)["data"]:
            if int(d["prevSeqId"]) != self.seq:
                return False
            self._levels(d)
            self.seq = int(d["seqId"])
            if not self.verify(int(d["checksum"])):
                return False
        return True


def _snapshot() -> dict[str, Any]:
    snap = {
        "asks": [[plain(500001 + k, TICK), "0.5", "0", "3"] for k in range(200)],
        "bids": [[plain(500000 - k, TICK), "0.5", "0", "3"] for k in range(200)],
        "ts": "1700000000000",
        "checksum": 0,
        "prevSeqId": -1,
        "seqId": 1,
    }
    shadow = PyOkxBook()
    shadow.snapshot(snap)
    snap["checksum"] = shadow.checksum()
    return snap


SNAPSHOT = _snapshot()


def _messages(n: int) -> list[bytes]:
    """n updates of 10 bid and 10 ask levels each, chained by seqId/prevSeqId, each with the checksum of
    the book after it (computed on a shadow book)."""
    shadow = PyOkxBook()
    shadow.snapshot(SNAPSHOT)
    out = []
    for k in range(n):
        qty = plain(1000 + (k % 9) * 1000, LOT)
        data: dict[str, Any] = {
            "asks": [[plain(500001 + j, TICK), qty if j % 4 else "0", "0", "1"] for j in range(10)],
            "bids": [[plain(500000 - j, TICK), qty, "0", "1"] for j in range(10)],
            "ts": str(1700000000000 + k),
            "checksum": 0,
            "prevSeqId": k + 1,
            "seqId": k + 2,
        }
        shadow._levels(data)
        data["checksum"] = shadow.checksum()
        arg = {"channel": "books", "instId": "BTC-USDT"}
        out.append(orjson.dumps({"arg": arg, "action": "update", "data": [data]}))
    return out


MESSAGES = _messages(2000)
RAW_SNAPSHOT = orjson.dumps(
    {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "snapshot", "data": [SNAPSHOT]}
)


def _ours() -> tuple[SeqBook, Any]:
    book = SeqBook()
    book.configure(SPEC)
    book.apply_raw(RAW_SNAPSHOT, "BTC-USDT")
    state = {"i": 0}

    def run() -> bool:
        i = state["i"]
        if i == len(MESSAGES):
            book.apply_raw(RAW_SNAPSHOT, "BTC-USDT")
            i = 0
        state["i"] = i + 1
        return book.apply_raw(MESSAGES[i], "BTC-USDT") == "update"

    return book, run


@pytest.mark.benchmark(group="book.okx_books_message")
def test_ours_okx_books(benchmark: Any) -> None:
    book, run = _ours()
    benchmark.extra_info["role"] = "ours"
    assert benchmark(run) is True
    assert book.top("BTC-USDT", 0, 0).bid is not None


@pytest.mark.benchmark(group="book.okx_books_message")
def test_python_okx_books(benchmark: Any) -> None:
    book = PyOkxBook()
    book.snapshot(SNAPSHOT)
    state = {"i": 0}

    def run() -> bool:
        i = state["i"]
        if i == len(MESSAGES):
            book.snapshot(SNAPSHOT)
            i = 0
        state["i"] = i + 1
        return book.apply(MESSAGES[i])

    benchmark.extra_info["role"] = "baseline"
    assert benchmark(run) is True
    assert book.bids


def test_baseline_and_ours_agree_on_the_book() -> None:
    """The baseline does the same work: after the same stream both books hold the same levels, both
    verify every checksum, and both refuse a wrong one."""
    ours, run = _ours()
    theirs = PyOkxBook()
    assert theirs.snapshot(SNAPSHOT)
    for m in MESSAGES[:50]:
        assert run() == theirs.apply(m) is True
    assert ours.book is not None

    def units(side: dict[int, tuple[str, str]]) -> list[tuple[int, int]]:
        return sorted((p, int(Decimal(s) / LOT)) for p, (_, s) in side.items())

    assert ours.book.depth(Side.BUY, 500) == sorted(units(theirs.bids), reverse=True)
    assert ours.book.depth(Side.SELL, 500) == units(theirs.asks)
    assert ours.book.okx_book_checksum() == theirs.checksum()
    bad = MESSAGES[50].replace(b'"checksum":', b'"checksum":1', 1)
    assert theirs.apply(bad) is False
    assert ours.apply_raw(bad, "BTC-USDT") == "checksum"
