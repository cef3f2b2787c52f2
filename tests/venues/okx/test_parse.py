"""OKX payloads (recorded shapes of the v5 docs) into `trader` values: instruments, order pushes with and
without a fill, fees in either currency, REST fills, the sequenced book, trades, the error envelope."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trader.core import InstrumentSpec, Side
from trader.errors import InsufficientFundsError, InvalidOrderError, OrderNotFoundError
from trader.venues.base import OrderState
from trader.venues.okx import errors, parse
from trader.venues.okx.streams import SeqBook

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def spec() -> InstrumentSpec:
    return parse.instrument_info(load("instruments_spot.json")["data"][0]).spec()


def test_instrument_rules() -> None:
    info = parse.instrument_info(load("instruments_spot.json")["data"][0])
    assert (info.symbol, info.base, info.quote) == ("BTC-USDT", "BTC", "USDT")
    assert (info.tick_size, info.lot_size, info.min_qty, info.max_qty) == (
        "0.1",
        "0.00000001",
        "0.00001",
        "9999999999",
    )
    assert info.spec().tick == 1


def test_an_order_push_with_a_maker_fill_in_the_quote() -> None:
    o = load("orders_push_fill.json")["data"][0]
    s = spec()
    r = parse.order_report(o, s, ts_recv=5)
    assert (r.client_id, r.venue_order_id, r.side, r.state) == (
        "mm1a2b3c",
        "452197707845865472",
        Side.SELL,
        OrderState.FILLED,
    )
    assert (r.price, r.qty, r.filled) == (315271, 100_000, 100_000)
    assert r.ts_event == 1654084353264 * 1_000_000
    f = parse.order_fill(o, s, "BTC", ts_recv=5)
    assert f is not None
    assert (f.trade_id, f.maker, f.price, f.qty) == ("452197707845865472:242589207", True, 315271, 100_000)
    assert (f.fee, f.base_fee) == (Decimal("0.02522168"), Decimal(0))
    assert f.ts_event == 1654084353263 * 1_000_000


def test_a_spot_buy_pays_its_fee_in_the_base_asset() -> None:
    o = load("orders_push_buy_base_fee.json")["data"][0]
    f = parse.order_fill(o, spec(), "BTC", ts_recv=1)
    assert f is not None
    assert (f.fee, f.base_fee, f.maker, f.side) == (Decimal(0), Decimal("0.0000005"), False, Side.BUY)
    r = parse.order_report(o, spec(), ts_recv=1)
    assert (r.state, r.filled, r.qty) == (OrderState.OPEN, 50_000, 100_000)


def test_a_push_without_a_fill_carries_no_fill() -> None:
    o = dict(load("orders_push_fill.json")["data"][0], tradeId="", fillSz="0")
    assert parse.order_fill(o, spec(), "BTC", ts_recv=1) is None


def test_a_post_only_canceled_as_a_taker_is_rejected() -> None:
    o = load("order_post_only_canceled.json")["data"][0]
    r = parse.order_report(o, spec(), ts_recv=1)
    assert r.state is OrderState.REJECTED
    assert "post-only" in r.reason
    plain = parse.order_report(dict(o, cancelSource="1"), spec(), ts_recv=1)
    assert plain.state is OrderState.CANCELED


def test_rest_fills_have_the_streams_trade_id() -> None:
    f = parse.fill(load("fills.json")["data"][0], spec(), "BTC", ts_recv=1)
    assert f.trade_id == "680800019749904384:744876980"
    assert (f.qty, f.price, f.base_fee, f.fee, f.maker) == (
        192834,
        518580,
        Decimal("0.00000192834"),
        Decimal(0),
        False,
    )
    assert f.ts_event == 1708587373362 * 1_000_000


def seq_of(book: SeqBook) -> int | None:
    return book.seq


def test_books_snapshot_update_and_a_gap() -> None:
    s = InstrumentSpec("0.01", "1")
    book = SeqBook()
    assert book.apply("update", load("books_update.json")["data"][0], s)  # before a snapshot: ignored
    assert seq_of(book) is None
    assert book.apply("snapshot", load("books_snapshot.json")["data"][0], s)
    top = book.top("BTC-USDT", 1, 2)
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (847650, 256, 847698, 415)
    assert book.apply("update", load("books_update.json")["data"][0], s)
    top = book.top("BTC-USDT", 1, 2)
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (847660, 5, 847700, 7)
    assert seq_of(book) == 123457
    assert not book.apply("update", load("books_update_gap.json")["data"][0], s)  # prevSeqId 123458
    assert seq_of(book) is None
    assert book.top("BTC-USDT", 1, 2).bid is None


def test_a_heartbeat_update_keeps_the_chain() -> None:
    s = InstrumentSpec("0.01", "1")
    book = SeqBook()
    book.apply("snapshot", load("books_snapshot.json")["data"][0], s)
    beat = {"asks": [], "bids": [], "ts": "1", "prevSeqId": 123456, "seqId": 123456}
    assert book.apply("update", beat, s)
    reset = {"asks": [], "bids": [], "ts": "1", "prevSeqId": 123456, "seqId": 3}  # after maintenance
    assert book.apply("update", reset, s)
    assert book.apply("update", {"asks": [], "bids": [], "ts": "1", "prevSeqId": 3, "seqId": 5}, s)


def test_trades_time_and_mid() -> None:
    t = parse.trade_tick(load("trades.json")["data"][0], spec(), ts_recv=9)
    assert (t.price, t.qty, t.aggressor) == (422199, 12060306, Side.BUY)
    assert parse.venue_time(load("time.json")["data"]).ts_ns == 1597026383085 * 1_000_000
    book = {"bids": [["100", "1", "0", "1"]], "asks": [["101", "1", "0", "1"]]}
    assert parse.mid_price([book]) == Decimal("100.5")


def test_the_envelope_and_its_item_errors() -> None:
    code, _msg, data = parse.envelope(load("place_failed.json"))
    assert code == "1"
    item = parse.first_item_error(data)
    assert item is not None
    assert isinstance(errors.error_from("okx", *item), InsufficientFundsError)


@pytest.mark.parametrize(
    ("code", "kind"),
    [("51400", OrderNotFoundError), ("51603", OrderNotFoundError), ("51008", InsufficientFundsError),
     ("51008_1000", InsufficientFundsError), ("51121", InvalidOrderError)],
)  # fmt: skip
def test_error_codes(code: str, kind: type[Exception]) -> None:
    err = errors.error_from("okx", code, "text")
    assert type(err) is kind
    assert err.code == code
