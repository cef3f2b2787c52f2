"""Polymarket market channel into the core book: a whole `book` snapshot (20 + 20 levels) and a
`price_change` message (10 changes of each token), parsed from raw bytes in Rust
(`Book.apply_polymarket_book` / `apply_polymarket_changes`), against the pure-Python way the connector
used before (orjson, then per level Decimal -> units and a call into the book)."""

from typing import Any

import orjson
import pytest

from trader.core import Book, InstrumentSpec, Side
from trader.venues.polymarket.parse import levels, norm

SPEC = InstrumentSpec("0.01", "0.01", min_qty="5", price_unit="0.01", qty_unit="0.000001")
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
CID = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"


def _books(n: int) -> list[bytes]:
    """n `book` events of 20 bids (0.30-0.49) and 20 asks (0.51-0.70), sizes varying per message."""
    out = []
    for k in range(n):
        bids = [{"price": f"0.{30 + i}", "size": f"{100 + (i * 7 + k) % 50}.25"} for i in range(20)]
        asks = [{"price": f"0.{70 - i}", "size": f"{90 + (i * 3 + k) % 40}.5"} for i in range(20)]
        event = {"event_type": "book", "asset_id": YES, "market": CID, "bids": bids, "asks": asks}
        out.append(orjson.dumps({**event, "timestamp": str(1_757_908_892_000 + k), "hash": "0x" + "ab" * 20}))
    return out


def _changes(n: int) -> list[bytes]:
    """n `price_change` messages, each 10 changes of YES and their 10 NO mirrors (as the venue sends)."""
    out = []
    for k in range(n):
        changes = []
        for i in range(10):
            p, size = 40 + i, f"{(i + k) % 30}"
            for token, price, side in ((YES, p, "BUY"), (NO, 100 - p, "SELL")):
                changes.append(
                    {
                        "asset_id": token, "price": f"0.{price}", "size": size, "side": side, "hash": "0x01",
                        "best_bid": "0.49", "best_ask": "0.51",
                    }
                )  # fmt: skip
        event = {"event_type": "price_change", "market": CID, "price_changes": changes}
        out.append(orjson.dumps({**event, "timestamp": str(1_757_908_892_000 + k)}))
    return out


BOOKS = _books(500)
CHANGES = _changes(500)


def python_book(book: Book, raw: bytes, token: str) -> int:
    """The connector's former snapshot path."""
    msg = orjson.loads(raw)
    if msg.get("asset_id") != token:
        return 0
    ts = int(msg["timestamp"])
    book.apply_snapshot(levels(book.spec, msg.get("bids")), levels(book.spec, msg.get("asks")), ts)
    return ts


def python_changes(book: Book, raw: bytes, token: str) -> int:
    """The connector's former price_change path."""
    spec = book.spec
    mine = [c for c in orjson.loads(raw)["price_changes"] if c["asset_id"] == token]
    parsed = [
        (Side.BUY if c["side"] == "BUY" else Side.SELL, spec.price_to_units(norm(c["price"])),
         spec.qty_to_units(norm(c["size"])))
        for c in mine
    ]  # fmt: skip
    for side, price, qty in parsed:
        book.set_level(side, price, qty)
    return len(parsed)


def _cycle(messages: list[bytes], apply: Any) -> Any:
    state = {"i": 0}

    def run() -> Any:
        i = state["i"]
        state["i"] = (i + 1) % len(messages)
        return apply(messages[i])

    return run


@pytest.mark.benchmark(group="book.polymarket_book_message")
def test_ours_polymarket_book(benchmark: Any) -> None:
    book = Book(SPEC)
    benchmark.extra_info.update(role="ours", min_ratio=5)
    assert benchmark(_cycle(BOOKS, lambda raw: book.apply_polymarket_book(raw, YES))) is not None
    assert len(book.depth(Side.BUY, 100)) == 20


@pytest.mark.benchmark(group="book.polymarket_book_message")
def test_python_decimal_levels_book(benchmark: Any) -> None:
    book = Book(SPEC)
    benchmark.extra_info["role"] = "baseline"
    assert benchmark(_cycle(BOOKS, lambda raw: python_book(book, raw, YES))) > 0


@pytest.mark.benchmark(group="book.polymarket_price_change")
def test_ours_polymarket_price_change(benchmark: Any) -> None:
    book = Book(SPEC)
    book.apply_polymarket_book(BOOKS[0], YES)
    benchmark.extra_info.update(role="ours", min_ratio=3)
    applied, _ = benchmark(_cycle(CHANGES, lambda raw: book.apply_polymarket_changes(raw, YES)))
    assert applied == 10


@pytest.mark.benchmark(group="book.polymarket_price_change")
def test_python_decimal_levels_price_change(benchmark: Any) -> None:
    book = Book(SPEC)
    python_book(book, BOOKS[0], YES)
    benchmark.extra_info["role"] = "baseline"
    assert benchmark(_cycle(CHANGES, lambda raw: python_changes(book, raw, YES))) == 10


def test_baseline_and_core_agree_on_the_book() -> None:
    """The baseline does the same work: after the same messages both books hold the same levels."""
    ours, theirs = Book(SPEC), Book(SPEC)
    for raw in BOOKS[:5]:
        assert ours.apply_polymarket_book(raw, YES) == python_book(theirs, raw, YES)
    for raw in CHANGES[:50]:
        assert ours.apply_polymarket_changes(raw, YES)[0] == python_changes(theirs, raw, YES)
    for side in (Side.BUY, Side.SELL):
        assert ours.depth(side, 100) == theirs.depth(side, 100)
