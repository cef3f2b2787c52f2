import json
from typing import Any

import pytest

from tests.conftest import load_vector
from trader.core import (
    Book,
    BookNotReadyError,
    BookState,
    InstrumentSpec,
    InvalidInputError,
    ParseError,
    SequenceGapError,
    Side,
    TraderError,
    kraken_checksum,
    okx_checksum,
)


def _book() -> Book:
    return Book(InstrumentSpec("0.01", "0.00001"))


def _diff(first: int, last: int, bids: list[list[str]], asks: list[list[str]], **extra: Any) -> bytes:
    return json.dumps({"e": "depthUpdate", "U": first, "u": last, "b": bids, "a": asks, **extra}).encode()


def test_queries() -> None:
    b = _book()
    assert b.state == BookState.RESYNCING
    b.apply_snapshot([(100, 5), (99, 7)], [(102, 3), (103, 10)], 1)
    assert b.state == BookState.VALID
    assert b.best_bid() == (100, 5)
    assert b.best_ask() == (102, 3)
    assert b.mid() == 101.0
    assert b.spread() == 2
    assert b.depth(Side.BUY, 1) == [(100, 5)]
    assert b.depth(Side.SELL) == [(102, 3), (103, 10)]
    assert b.fill_estimate(Side.BUY, 5) == (5, 102 * 3 + 103 * 2, 103)
    assert b.fill_estimate(Side.SELL, 0) is None
    assert b.imbalance(1) == pytest.approx(0.25)
    assert len(b) == 4
    b.set_level(Side.BUY, 102, 1)
    assert b.is_locked()
    b.set_level(Side.BUY, 103, 1)
    assert b.is_crossed()
    b.set_level(Side.BUY, 103, 0)
    b.set_level(Side.BUY, 102, 0)
    assert b.best_bid() == (100, 5)
    with pytest.raises(InvalidInputError, match="negative quantity"):
        b.set_level(Side.BUY, 100, -1)
    assert "Book(bid=Some((100, 5))" in repr(b)


def test_apply_update_generic_sequence() -> None:
    b = _book()
    with pytest.raises(BookNotReadyError):
        b.apply_update(Side.BUY, 1, 1, 1)
    b.apply_snapshot([], [], 10)
    assert b.apply_update(Side.BUY, 100, 1, 11)
    assert not b.apply_update(Side.BUY, 100, 2, 11)
    with pytest.raises(SequenceGapError) as e:
        b.apply_update(Side.BUY, 100, 2, 13)
    assert (e.value.expected, e.value.got) == (12, 13)
    assert b.state == BookState.INVALID
    with pytest.raises(BookNotReadyError, match="resync"):
        b.apply_update(Side.BUY, 100, 2, 12)
    b.begin_resync()
    assert b.state == BookState.RESYNCING
    b.apply_snapshot([], [], 20)
    b.mark_invalid(21, 25)
    assert b.state == BookState.INVALID
    with pytest.raises(BookNotReadyError):
        b.apply_update(Side.BUY, 100, 2, 21)


def test_binance_vector() -> None:
    v = load_vector("binance_depth.json")
    b = Book(InstrumentSpec(**v["spec"]))
    raw = json.dumps(v["diff"]).encode()
    with pytest.raises(BookNotReadyError):
        b.apply_binance_depth(raw)
    assert b.apply_binance_snapshot(json.dumps(v["snapshot"]).encode()) == 1000
    assert b.apply_binance_depth(raw) is True
    assert b.last_update_id == 1020
    spec = b.spec
    live_bids = {spec.price_to_units(p): spec.qty_to_units(q) for p, q in v["diff"]["b"] if float(q) > 0}
    best = max(live_bids)
    assert b.best_bid() == (best, live_bids[best])
    assert b.apply_binance_depth(raw) is False  # stale replay changes nothing
    with pytest.raises(SequenceGapError, match="expected update 1021, got 1025"):
        b.apply_binance_depth(_diff(1025, 1030, [], []))
    assert b.state == BookState.INVALID


def test_binance_futures_and_combined_stream() -> None:
    b = _book()
    b.apply_snapshot([], [], 100)
    wrapped = {"stream": "btcusdt@depth", "data": json.loads(_diff(90, 105, [["10.00", "1.5"]], [], pu=89))}
    assert b.apply_binance_depth(json.dumps(wrapped).encode())
    assert b.best_bid() == (1000, 150000)
    assert b.apply_binance_depth(_diff(106, 110, [["10.00", "0"]], [["11.00", "2"]], pu=105))
    assert b.best_bid() is None
    with pytest.raises(SequenceGapError):
        b.apply_binance_depth(_diff(112, 115, [], [], pu=111))


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"",
        _diff(11, 12, [["1.001", "1"]], []),
        _diff(11, 12, [["1.00", "-1"]], []),
        _diff(11, 12, [["abc", "1"]], []),
        _diff(13, 12, [], []),
        b'{"u": 12, "b": [], "a": []}',
        b'{"U": 11, "u": 12, "b": [[1.0, "1"]], "a": []}',
        b'{"U": 11, "u": 12, "b": [["2.00", "1"], ["1.00"]], "a": []}',
        b"\xff\xfe",
    ],
)
def test_malformed_binance_messages_change_nothing(raw: bytes) -> None:
    b = _book()
    b.apply_snapshot([(100, 1)], [(200, 1)], 10)
    with pytest.raises(ParseError) as e:
        b.apply_binance_depth(raw)
    assert isinstance(e.value, TraderError)
    assert isinstance(e.value, ValueError)
    assert (b.depth(Side.BUY), b.depth(Side.SELL), b.last_update_id) == ([(100, 1)], [(200, 1)], 10)
    assert b.state == BookState.VALID


def test_checksum_vectors() -> None:
    k = load_vector("kraken_checksum.json")
    asks = [tuple(x) for x in k["asks"]]
    bids = [tuple(x) for x in k["bids"]]
    assert kraken_checksum(asks, bids) == k["checksum"]
    spec = InstrumentSpec("0.1", "0.00000001")
    b = Book(spec)
    b.apply_snapshot(
        [(spec.price_to_units(p), spec.qty_to_units(q)) for p, q in bids],
        [(spec.price_to_units(p), spec.qty_to_units(q)) for p, q in asks],
        0,
    )
    assert b.kraken_checksum(k["price_decimals"], k["qty_decimals"]) == k["checksum"]
    with pytest.raises(InvalidInputError, match="decimal places"):
        b.kraken_checksum(0, 8)
    with pytest.raises(InvalidInputError):
        kraken_checksum([("", "1")], [])
    for case in load_vector("okx_checksum.json")["cases"]:
        bids_o = [tuple(x) for x in case["bids"]]
        asks_o = [tuple(x) for x in case["asks"]]
        assert okx_checksum(bids_o, asks_o) == case["checksum"]


def test_wrong_argument_types_are_type_errors() -> None:
    b = _book()
    with pytest.raises(TypeError):
        b.set_level("buy", 1, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        b.apply_binance_depth("text")  # type: ignore[arg-type]
