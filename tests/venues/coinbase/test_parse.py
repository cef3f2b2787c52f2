"""Coinbase's JSON into `trader` values, on recorded payloads (`fixtures/`, recorded from
`trader.sim.coinbase` through the official SDK; the shapes follow the SDK's types and coinbase.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trader.core import Book, BookNotReadyError, ParseError, Side
from trader.errors import AuthenticationError, InsufficientFundsError, InvalidOrderError, OrderNotFoundError
from trader.venues._http import HttpResponse
from trader.venues.base import OrderState
from trader.venues.coinbase import decode_error, error_from, parse

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


SPEC = parse.instrument_info(load("product.json")).spec()


def test_a_product_becomes_instrument_info_from_its_increments() -> None:
    info = parse.instrument_info(load("product.json"))
    assert (info.symbol, info.base, info.quote) == ("BTC-USD", "BTC", "USD")
    assert (info.tick_size, info.lot_size, info.min_qty, info.max_qty) == (
        "0.01",
        "0.00000001",
        "0.00000001",
        "3400",
    )
    assert info.min_notional == "1"
    assert parse.tradable(load("product.json"))
    assert not parse.tradable({**load("product.json"), "trading_disabled": True})


def test_times() -> None:
    assert parse.parse_time("2024-01-09T15:00:00.123456789Z") == 1_704_812_400_123_456_789
    assert parse.parse_time("2024-01-09T15:00:00Z") == 1_704_812_400_000_000_000
    assert parse.parse_time("2024-01-09T16:00:00.5+01:00") == 1_704_812_400_500_000_000
    assert parse.parse_time("0001-01-01T00:00:00Z") == 0
    ns = 1_704_812_400_123_456_789
    assert parse.parse_time(parse.format_time(ns)) == ns
    t = load("time.json")
    assert parse.venue_time(t).ts_ns == int(t["epochMillis"]) * 1_000_000
    assert parse.venue_time(t).resolution_ns == 1_000_000


def test_rest_orders() -> None:
    opened = parse.order_report(load("order_open.json")["order"], SPEC, ts_recv=7)
    assert (opened.client_id, opened.side, opened.qty, opened.filled) == ("rest-1", Side.BUY, 100_000, 0)
    assert opened.state is OrderState.OPEN
    limit = load("order_open.json")["order"]["order_configuration"]["limit_limit_gtc"]["limit_price"]
    assert opened.price == SPEC.price_to_units(limit)
    assert opened.ts_event > 0
    assert opened.ts_recv == 7
    filled = parse.order_report(load("order_filled.json")["order"], SPEC, ts_recv=7)
    assert (filled.state, filled.qty, filled.filled, filled.price) == (
        OrderState.FILLED,
        5_000_000,
        5_000_000,
        0,
    )
    assert parse.order_state({"status": "CANCELLED"}) is OrderState.CANCELED
    assert parse.order_state({"status": "FAILED"}) is OrderState.REJECTED
    assert parse.order_state({"status": "CANCEL_QUEUED"}) is OrderState.OPEN


def test_rest_fills_and_the_user_channel_name_one_execution_alike() -> None:
    rest = parse.rest_fills(load("fills.json")["fills"], "take-1", SPEC, ts_recv=1)
    assert [f.qty for f in rest]
    assert sum(f.qty for f in rest) == 5_000_000
    assert all(f.side is Side.BUY and not f.maker and f.fee > 0 for f in rest)
    oid = load("order_filled.json")["order"]["order_id"]
    assert rest[-1].trade_id == f"{oid}:5000000"
    stream = []
    before = parse.Progress()
    for msg in load("user.json"):
        for o in msg["events"][0]["orders"]:
            if o["client_order_id"] != "take-1":
                continue
            now = parse.user_progress(o, SPEC)
            fill = parse.stream_fill(o, before, now, SPEC, ts_event=1, ts_recv=2)
            before = now if now.filled > before.filled else before
            if fill is not None:
                stream.append(fill)
    assert [(f.trade_id, f.qty, f.price, f.fee) for f in stream] == [
        (f.trade_id, f.qty, f.price, f.fee) for f in rest
    ]


def test_user_channel_orders() -> None:
    msgs = load("user.json")
    assert msgs[0]["events"][0]["type"] == "snapshot"
    o = msgs[1]["events"][0]["orders"][0]
    r = parse.user_order_report(o, SPEC, ts_event=5, ts_recv=6)
    assert (r.client_id, r.state, r.qty, r.filled, r.ts_event) == ("rest-1", OrderState.OPEN, 100_000, 0, 5)
    gone = parse.user_order_report(msgs[-1]["events"][0]["orders"][0], SPEC, ts_event=5, ts_recv=6)
    assert gone.state is OrderState.CANCELED


def test_level2_and_trades() -> None:
    """level2 messages go into the core's book from their raw bytes (`Book.apply_coinbase_level2`)."""
    snap, update = load("l2_data.json")[0], load("l2_data.json")[1]
    assert snap["sequence_num"] < update["sequence_num"]
    book = Book(SPEC)
    with pytest.raises(BookNotReadyError):  # an update before the snapshot
        book.apply_coinbase_level2(json.dumps(update).encode(), "BTC-USD")
    seq, snapshot, applied = book.apply_coinbase_level2(json.dumps(snap).encode(), "BTC-USD") or (0, False, 0)
    assert (seq, snapshot) == (snap["sequence_num"], True)
    assert applied == len(snap["events"][0]["updates"])
    bids = [u for u in snap["events"][0]["updates"] if u["side"] == "bid"]
    best = max(bids, key=lambda u: Decimal(u["price_level"]))
    assert book.best_bid() == (
        SPEC.price_to_units(best["price_level"]),
        SPEC.qty_to_units(best["new_quantity"]),
    )
    assert book.apply_coinbase_level2(json.dumps(update).encode(), "BTC-USD") is not None
    assert book.apply_coinbase_level2(json.dumps(update).encode(), "ETH-USD") is None
    with pytest.raises(ParseError):
        book.apply_coinbase_level2(
            b'{"channel":"l2_data","sequence_num":9,"events":[{"type":"update"', "BTC-USD"
        )
    t = load("market_trades.json")[0]["events"][0]["trades"][0]
    tick = parse.trade_tick(t, SPEC, ts_recv=3)
    assert tick.aggressor is (Side.SELL if t["side"] == "BUY" else Side.BUY)  # `side` is the maker's
    assert tick.price == SPEC.price_to_units(t["price"])


def test_the_envelope_is_read_in_rust_as_python_reads_it() -> None:
    """`Book.coinbase_head` (channel, sequence_num, timestamp in ns) agrees with `json` + `parse_time` on
    every recorded message, and refuses a broken envelope with `ParseError`."""
    for name in ("l2_data.json", "user.json", "market_trades.json"):
        for msg in load(name):
            head = Book.coinbase_head(json.dumps(msg).encode())
            assert head == (msg["channel"], msg["sequence_num"], parse.parse_time(msg["timestamp"]))
    assert Book.coinbase_head(b'{"type":"error","message":"x"}') == (None, None, 0)
    for bad in (b"{", b'{"channel":"l2_data","timestamp":"yesterday"}', b'{"sequence_num":-1}', b"\xff"):
        with pytest.raises(ParseError):
            Book.coinbase_head(bad)


def test_balances_and_positions() -> None:
    held = parse.balances(load("accounts.json")["accounts"])
    assert set(held) >= {"USD", "BTC"}
    assert held["BTC"] == Decimal(2) + Decimal("0.05")
    assert parse.base_units(held["BTC"], SPEC) == 205_000_000
    assert parse.base_units(Decimal("0.000000015"), SPEC) == 1  # dust below the lot is dropped


def test_errors() -> None:
    code, message = parse.order_failure(load("create_failed.json"))
    assert code == "INSUFFICIENT_FUND"
    assert isinstance(error_from("coinbase", code, message), InsufficientFundsError)
    assert isinstance(error_from("coinbase", "INVALID_LIMIT_PRICE_POST_ONLY", "x"), InvalidOrderError)
    cancel = load("cancel.json")["results"]
    assert [r["success"] for r in cancel] == [True, False]
    assert isinstance(error_from("coinbase", cancel[1]["failure_reason"], ""), OrderNotFoundError)

    def resp(status: int, body: bytes) -> HttpResponse:
        return HttpResponse(status, {}, body, 0)

    nf = b'{"error":"NOT_FOUND","code":5,"message":"order with this orderID was not found","details":[]}'
    assert isinstance(decode_error("coinbase", resp(404, nf)), OrderNotFoundError)
    assert isinstance(decode_error("coinbase", resp(401, b"Unauthorized\n")), AuthenticationError)
    assert decode_error("coinbase", resp(400, b"<html>")) is None
    bad = b'{"error":"INVALID_ARGUMENT","code":3,"message":"bad"}'
    assert isinstance(decode_error("coinbase", resp(400, bad)), InvalidOrderError)


@pytest.mark.parametrize("text", ["garbage", "2024-13-40T00:00:00Z"])
def test_malformed_times_raise(text: str) -> None:
    with pytest.raises(ValueError, match=r"format|month|Invalid"):
        parse.parse_time(text)


def test_post_only_as_the_user_channel_spells_it() -> None:
    """The channel sends `"post_only": "false"` (a string: truthy in Python); a JSON bool reads too."""
    for value, expected in [
        ("false", False),
        ("true", True),
        ("TRUE", True),
        (True, True),
        (False, False),
        (None, False),
    ]:
        assert parse.post_only({"post_only": value}) is expected
    o = {
        "client_order_id": "c",
        "order_id": "o",
        "product_id": "BTC-USD",
        "order_side": "BUY",
        "post_only": "false",
    }
    fill = parse.stream_fill(
        o, parse.Progress(), parse.Progress(10, Decimal("0.006"), Decimal(0)), SPEC, 1, 2
    )
    assert fill is not None
    assert not fill.maker


def test_the_channel_tells_maker_or_taker_only_of_one_execution_whose_liquidity_is_certain() -> None:
    """`channel_maker`: one execution (`number_of_fills` + 1) of a post-only order makes; of a market, IOC
    or FOK order, or of a limit order filled better than its limit, takes; anything else is REST's to say
    (None): a plain limit order filled at its limit (it may have rested), several executions in one update
    (REST lists each under its own id), or a count the channel did not give."""
    o = {"order_type": "Limit", "time_in_force": "GOOD_UNTIL_CANCELLED", "post_only": "false"}
    limit = {**o, "limit_price": "60000.00"}
    none, one = parse.Progress(), parse.Progress(10, Decimal("0.006"), Decimal(0), 1)  # 10 sat at 60,000
    better = parse.Progress(10, Decimal("0.0059999"), Decimal(0), 1)  # at 59,999
    assert parse.user_progress({"number_of_fills": "3"}, SPEC).count == 3
    for missing in (None, "", "x", "²", True, -1):
        assert parse.user_progress({"number_of_fills": missing}, SPEC).count is None
    for order, before, now, expected in [
        ({**limit, "post_only": "true"}, none, one, True),
        ({**o, "order_type": "Market", "time_in_force": "IMMEDIATE_OR_CANCEL"}, none, one, False),
        ({**limit, "time_in_force": "IMMEDIATE_OR_CANCEL"}, none, one, False),
        ({**limit, "time_in_force": "FILL_OR_KILL"}, none, one, False),
        ({**limit, "order_side": "BUY"}, none, better, False),  # better than its limit: it took
        (limit, none, one, None),  # at its limit: maker or taker, REST says
        ({**limit, "post_only": "true"}, none, parse.Progress(10, Decimal("0.006"), Decimal(0), 2), None),
        ({**limit, "post_only": "true"}, none, parse.Progress(10, Decimal("0.006"), Decimal(0)), None),
        ({**limit, "post_only": "true"}, parse.Progress(5, Decimal("0.003"), Decimal(0)), one, None),
        (
            {**limit, "post_only": "true"},
            parse.Progress(5, Decimal("0.003"), Decimal(0), 1),
            parse.Progress(10, Decimal("0.006"), Decimal(0), 2),
            True,
        ),
    ]:
        assert parse.channel_maker(order, before, now, SPEC) is expected, (order, before, now)
    told = {"client_order_id": "c", "order_id": "o", "product_id": "BTC-USD", "order_side": "BUY", **limit}
    fill = parse.stream_fill(told, none, one, SPEC, 1, 2, maker=True)
    assert fill is not None
    assert (fill.maker, fill.price, fill.qty, fill.trade_id) == (True, 6_000_000, 10, "o:10")
