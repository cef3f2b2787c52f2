"""Polymarket's pure parsers on recorded payloads (fixtures/): book levels in Rust and in Python, the
market channel's other events, user-channel orders and trades, `/data/orders` and `/data/trades`, and the
error table."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from trader import errors
from trader.core import Book, InstrumentSpec, ParseError, Side
from trader.venues._http import HttpResponse
from trader.venues.base import FillReport, OrderState, TradeTick
from trader.venues.polymarket import ProtocolVersionError, decode_error, error_from
from trader.venues.polymarket.parse import (
    fee,
    fills_of,
    instrument_info,
    levels,
    norm,
    order_report,
    price_units,
    trade_tick,
)

FIXTURES = Path(__file__).parent / "fixtures"
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
CID = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"
ME = "f4f247b7-4ac7-ff29-a152-04fda0a8755a"  # our API key (the `owner` of our orders)
O1 = "0xff354cd7ca7539dfa9c28d90943ab5779a4eac34b9b37a757d7b32bdfb11790b"
O2 = "0x1a9f6c3a8e0b2f11e9d3c1c2b6f0d6c9f8f2e5a4b3c2d1e0f9a8b7c6d5e4f3a2"
SYMBOLS = {YES: f"{CID}:YES", NO: f"{CID}:NO"}
SHARE = 1_000_000


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return orjson.loads(raw(name))


def spec(tick: str = "0.01") -> InstrumentSpec:
    """The connector's spec: the tick as the price unit, micro-shares, 0.01-share lots."""
    return InstrumentSpec(tick, "0.01", min_qty="5", price_unit=tick, qty_unit="0.000001")


def python_book(msg: Any, token: str) -> Book:
    """The book built the pure-Python way (what the connector did before the Rust parser)."""
    events = msg if isinstance(msg, list) else [msg]
    b = next(e for e in events if e["asset_id"] == token)
    book = Book(spec())
    book.apply_snapshot(
        levels(book.spec, b.get("bids")), levels(book.spec, b.get("asks")), int(b["timestamp"])
    )
    return book


def sides(book: Book) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return book.depth(Side.BUY, 100), book.depth(Side.SELL, 100)


# ---- market channel: book levels -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "token"),
    [("book.json", YES), ("book_subscribe.json", YES), ("book_subscribe.json", NO), ("rest_book.json", YES)],
)
def test_rust_book_parser_agrees_with_python_levels(name: str, token: str) -> None:
    book = Book(spec())
    ts = book.apply_polymarket_book(raw(name), token)
    want = python_book(load(name), token)
    assert ts == want.last_update_id > 0
    assert sides(book) == sides(want)
    assert sides(book)[0], "a non-empty book"


def test_book_snapshot_in_units() -> None:
    book = Book(spec())
    assert book.apply_polymarket_book(raw("book.json"), YES) == 1_757_908_892_351
    assert sides(book) == (
        [(48, 30 * SHARE), (47, 35_500_000), (46, 120 * SHARE)],
        [(51, 44 * SHARE), (52, 12_250_000), (53, 200 * SHARE)],
    )
    assert book.apply_polymarket_book(raw("book.json"), NO) is None, "no book of the NO token in it"
    assert book.best_bid() == (48, 30 * SHARE)


def test_price_change_agrees_with_applying_each_change_in_python() -> None:
    msg = load("price_change.json")
    rust, py = Book(spec()), Book(spec())
    for b in (rust, py):
        b.apply_polymarket_book(raw("book.json"), YES)
    applied, top = rust.apply_polymarket_changes(raw("price_change.json"), YES)
    mine = [c for c in msg["price_changes"] if c["asset_id"] == YES]
    for c in mine:
        s = Side.BUY if c["side"] == "BUY" else Side.SELL
        py.set_level(s, py.spec.price_to_units(norm(c["price"])), py.spec.qty_to_units(norm(c["size"])))
    assert applied == len(mine) == 2
    assert sides(rust) == sides(py)
    last = mine[-1]
    assert (
        top
        == (price_units(rust.spec, last["best_bid"]), price_units(rust.spec, last["best_ask"]))
        == (49, 51)
    )
    assert rust.apply_polymarket_changes(raw("price_change.json"), "1") == (0, None), "another token: nothing"


def test_an_empty_side_is_none_in_the_venues_top() -> None:
    book = Book(spec())
    msg = b'{"event_type":"price_change","price_changes":[{"asset_id":"7","price":"0.3","size":"0",'
    msg += b'"side":"BUY","best_bid":"0","best_ask":"1"}]}'
    assert book.apply_polymarket_changes(msg, "7") == (1, (None, None))


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not json",
        # off the tick
        b'{"event_type":"book","asset_id":"7","bids":[{"price":"0.485","size":"1"}],"asks":[]}',
        b'{"event_type":"book","asset_id":"7","bids":[{"price":"0.48","size":"-1"}],"asks":[]}',
        b'{"event_type":"book","asset_id":"7","bids":[{"size":"1"}],"asks":[]}',
        b'{"event_type":"book","asset_id":"7","bids":[],"asks":[],"timestamp":"soon"}',
        b'{"event_type":"book","asset_id":"7","bids":[],"asks":[]',
    ],
)
def test_a_malformed_book_is_a_parse_error_and_changes_nothing(bad: bytes) -> None:
    book = Book(spec())
    book.apply_polymarket_book(raw("book.json"), YES)
    before = (sides(book), book.last_update_id)
    with pytest.raises(ParseError, match="polymarket"):
        book.apply_polymarket_book(bad, "7")
    assert (sides(book), book.last_update_id) == before
    assert issubclass(ParseError, ValueError), "callers that catch ValueError keep working"


@pytest.mark.parametrize(
    "bad",
    [
        b'{"price_changes":[{"asset_id":"7","price":"0.5","size":"1","side":"HOLD"}]}',
        b'{"price_changes":[{"asset_id":"7","price":"0.5","side":"BUY"}]}',
        b'{"price_changes":[{"asset_id":"7","price":"0.4","size":"1","side":"BUY"},'
        b'{"asset_id":"7","price":"0.5","size":"lots","side":"BUY"}]}',
        b'{"price_changes":[{"asset_id":"7","price":"0.5","size":"1","side":"BUY","best_bid":"0.505","best_ask":"1"}]}',
    ],
)
def test_a_malformed_price_change_is_a_parse_error_and_changes_nothing(bad: bytes) -> None:
    book = Book(spec())
    book.apply_polymarket_book(raw("book.json"), YES)
    before = sides(book)
    with pytest.raises(ParseError):
        book.apply_polymarket_changes(bad, "7")
    assert sides(book) == before


# ---- market channel: the other events --------------------------------------------------------------


def test_last_trade_price_is_a_trade_tick() -> None:
    tick = trade_tick(load("last_trade_price.json"), spec(), SYMBOLS[YES], ts_recv=5)
    assert tick == TradeTick(SYMBOLS[YES], 51, 12_500_000, Side.BUY, 1_757_908_892_370_000_000, ts_recv=5)


def test_tick_size_change_names_the_new_tick() -> None:
    m = load("tick_size_change.json")
    assert (norm(m["old_tick_size"]), norm(m["new_tick_size"])) == ("0.01", "0.001")
    assert price_units(spec(), "0.515") == 52, "a price finer than the unit is rounded, not refused"


# ---- user channel and REST ------------------------------------------------------------------------


def client_of(order_id: str) -> str:
    return {O1: "c1", O2: "c2"}.get(order_id, order_id)


def test_order_event_is_an_order_report() -> None:
    r = order_report(load("order_event.json"), spec(), SYMBOLS, client_of, 77)
    assert (r.client_id, r.venue_order_id, r.instrument, r.side) == ("c1", O1, SYMBOLS[YES], Side.BUY)
    assert (r.ts_event, r.ts_recv) == (1_757_908_892_400_000_000, 77)  # the event's `timestamp` (ms)
    assert (r.price, r.qty, r.filled, r.state, r.reason) == (57, 10 * SHARE, 4 * SHARE, OrderState.OPEN, "")


def test_data_orders_open_and_a_partly_filled_fak() -> None:
    page = load("data_orders.json")
    assert page["next_cursor"] == "LTE="
    live, fak = (order_report(o, spec(), SYMBOLS, client_of, 78) for o in page["data"])
    assert (live.ts_event, live.ts_recv) == (1_757_908_890_000_000_000, 78)  # `created_at` (s): no later time
    assert order_report({**page["data"][0], "created_at": 0}, spec(), SYMBOLS, client_of, 78).ts_event == 0
    assert (live.client_id, live.state, live.filled) == ("c1", OrderState.OPEN, 4 * SHARE)
    assert (fak.client_id, fak.instrument, fak.side) == ("c2", SYMBOLS[NO], Side.SELL)
    assert (fak.price, fak.qty, fak.filled) == (40, 5 * SHARE, 2_500_000)
    assert (fak.state, fak.reason) == (OrderState.EXPIRED, "FAK: unfilled rest canceled")


def test_unknown_status_is_taken_as_open_and_a_resolved_market_says_so() -> None:
    o = {**load("order_event.json"), "status": "SOMETHING_NEW"}
    assert order_report(o, spec(), SYMBOLS, client_of, 0).state is OrderState.OPEN
    o = {**o, "status": "CANCELED_MARKET_RESOLVED"}
    r = order_report(o, spec(), SYMBOLS, client_of, 0)
    assert (r.state, r.reason) == (OrderState.CANCELED, "market resolved")


def ours(owner: str, order_id: str) -> bool:
    return owner == ME or order_id in (O1, O2)


def test_trade_event_is_our_maker_fill_at_our_orders_side_and_price() -> None:
    """A NO buy (the taker) matched our YES buy: a mint, reported as the YES buy it was."""
    fills = fills_of(load("trade_event.json"), spec(), SYMBOLS, client_of, ours, ts_recv=9)
    assert fills == [
        FillReport(
            "c1", f"28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e:{O1}", SYMBOLS[YES], Side.BUY, 57, 4 * SHARE,
            Decimal(0), 1_757_908_892_000_000_000, True, ts_recv=9,
        )
    ]  # fmt: skip


def test_data_trades_taker_fill_and_no_fill_for_someone_elses_maker_order() -> None:
    first = load("data_trades.json")["data"][0]
    fills = fills_of(first, spec(), SYMBOLS, client_of, ours, ts_recv=1)
    assert [(f.client_id, f.instrument, f.side, f.price, f.qty, f.maker) for f in fills] == [
        ("c2", SYMBOLS[NO], Side.SELL, 40, 2_500_000, False)
    ]
    assert fills[0].trade_id == first["id"]
    assert fills[0].ts_event == 1_757_908_891 * 10**9


def test_trade_fee_from_its_rate() -> None:
    t = {**load("trade_event.json"), "trader_side": "TAKER", "taker_order_id": O2, "maker_orders": []}
    (f,) = fills_of(t, spec(), SYMBOLS, client_of, ours, ts_recv=1)
    assert (f.side, f.price, f.fee) == (Side.BUY, 43, Decimal("0.0172"))  # 1 % x 0.43 x 4


def test_fee_is_charged_in_collateral_on_the_cheaper_side() -> None:
    assert fee(Decimal(10), Decimal("0.30"), "100") == Decimal("0.03")  # 1 % x min(0.3, 0.7) x 10
    assert fee(Decimal(10), Decimal("0.80"), 50) == Decimal("0.01")  # 0.5 % x 0.2 x 10
    assert fee(Decimal(10), Decimal("0.5"), "0") == Decimal(0)


def test_instrument_info() -> None:
    info = instrument_info(spec(), SYMBOLS[YES], YES, "0.01", "5")
    assert (info.symbol, info.base, info.quote) == (SYMBOLS[YES], YES, "pUSD")
    assert (info.tick_size, info.lot_size, info.min_qty) == ("0.01", "0.01", "5")
    assert (info.price_unit, info.qty_unit) == ("0.01", "0.000001")


# ---- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", load("errors.json"), ids=lambda c: f"{c['status']}-{c['class']}")
def test_error_bodies_are_typed(case: dict[str, Any]) -> None:
    cls = ProtocolVersionError if case["class"] == "ProtocolVersionError" else getattr(errors, case["class"])
    resp = HttpResponse(case["status"], {}, orjson.dumps(case["body"]), 0)
    e = decode_error("polymarket", resp)
    assert type(e) is cls
    assert (e.venue, e.code) == ("polymarket", str(case["status"]))
    assert case["body"]["error"] in str(e)
    assert type(error_from("polymarket", case["body"]["error"], case["status"])) is cls


def test_a_body_without_an_error_is_left_to_the_transport() -> None:
    assert decode_error("polymarket", HttpResponse(502, {}, b"<html>bad gateway</html>", 0)) is None
    long = str(error_from("polymarket", "x" * 500))
    assert "x" * 200 in long, "messages are cut to 200 characters"
    assert "x" * 201 not in long
