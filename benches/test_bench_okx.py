"""OKX: a raw `books` push into the connector's book (`streams.SeqBook`: the seqId chain checked, levels on
the core's ladder) against plain Python (orjson, Decimal, dicts). Signing vs python-okx is in
`test_bench_sign.py` (`sign.okx`)."""

from decimal import Decimal
from typing import Any

import orjson
import pytest

from trader.core import InstrumentSpec, Side
from trader.venues.okx.streams import SeqBook

SPEC = InstrumentSpec("0.1", "0.0001")
SNAPSHOT = {
    "asks": [[f"{50000.1 + k / 10:.1f}", "0.5", "0", "3"] for k in range(200)],
    "bids": [[f"{50000.0 - k / 10:.1f}", "0.5", "0", "3"] for k in range(200)],
    "ts": "1700000000000",
    "checksum": 0,
    "prevSeqId": -1,
    "seqId": 1,
}


def _messages(n: int) -> list[bytes]:
    """n updates of 10 bid and 10 ask levels each, chained by seqId/prevSeqId."""
    out = []
    for k in range(n):
        qty = f"{0.1 + (k % 9) / 10:.4f}"
        data = {
            "asks": [[f"{50000.1 + j / 10:.1f}", qty if j % 4 else "0", "0", "1"] for j in range(10)],
            "bids": [[f"{50000.0 - j / 10:.1f}", qty, "0", "1"] for j in range(10)],
            "ts": str(1700000000000 + k),
            "checksum": 0,
            "prevSeqId": k + 1,
            "seqId": k + 2,
        }
        arg = {"channel": "books", "instId": "BTC-USDT"}
        out.append(orjson.dumps({"arg": arg, "action": "update", "data": [data]}))
    return out


MESSAGES = _messages(2000)


class PyOkxBook:
    """The plain-Python way: orjson, Decimal to integer units, one dict per side, the same seq rule."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.seq = 0

    def snapshot(self, d: dict[str, Any]) -> None:
        self.bids, self.asks = {}, {}
        self._levels(d)
        self.seq = int(d["seqId"])

    def _levels(self, d: dict[str, Any]) -> None:
        for side, rows in ((self.bids, d["bids"]), (self.asks, d["asks"])):
            for px, sz, *_ in rows:
                p, q = int(Decimal(px) / Decimal("0.1")), int(Decimal(sz) / Decimal("0.0001"))
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)

    def apply(self, raw: bytes) -> bool:
        for d in orjson.loads(raw)["data"]:
            if int(d["prevSeqId"]) != self.seq:
                return False
            self._levels(d)
            self.seq = int(d["seqId"])
        return True


def _ours() -> tuple[SeqBook, Any]:
    book = SeqBook()
    book.apply("snapshot", SNAPSHOT, SPEC)
    state = {"i": 0}

    def run() -> bool:
        i = state["i"]
        if i == len(MESSAGES):
            book.apply("snapshot", SNAPSHOT, SPEC)
            i = 0
        state["i"] = i + 1
        msg = orjson.loads(MESSAGES[i])
        return all(book.apply(msg["action"], d, SPEC) for d in msg["data"])

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
    """The baseline does the same work: after the same stream both books hold the same levels."""
    ours, run = _ours()
    theirs = PyOkxBook()
    theirs.snapshot(SNAPSHOT)
    for m in MESSAGES[:50]:
        assert run() == theirs.apply(m)
    assert ours.book is not None
    assert ours.book.depth(Side.BUY, 500) == sorted(theirs.bids.items(), reverse=True)
    assert ours.book.depth(Side.SELL, 500) == sorted(theirs.asks.items())
