"""Alpaca's payloads (recorded from the simulator, which follows Alpaca's documented shapes, plus a few
documented ones it cannot produce: a short position, a sub-penny trade, a clock in whole seconds) through
the pure parsers and the error table."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trader.core import Side
from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
)
from trader.sim.alpaca import eastern_ns
from trader.venues._http import HttpResponse
from trader.venues.alpaca import parse
from trader.venues.alpaca.errors import decode_error, error_from
from trader.venues.base import OrderState
from trader.venues.profile import VenueTime

FIXTURES = Path(__file__).parent / "fixtures"
SPEC = parse.spec()
CENT = 100  # price units per cent
RECV = 1_704_812_400_000_000_000


def load(name: str, *, decimals: bool = False) -> Any:
    """A fixture; `decimals` parses JSON numbers as the connector's data stream does (as `Decimal`)."""
    text = (FIXTURES / f"{name}.json").read_text()
    return json.loads(text, parse_float=Decimal) if decimals else json.loads(text)


def test_a_new_order_and_a_filled_one() -> None:
    new = parse.order_report(load("order_new"), SPEC, RECV)
    assert (new.client_id, new.instrument, new.side, new.state) == ("c-1", "SPY", Side.BUY, OrderState.OPEN)
    assert (new.ts_event, new.ts_recv) == (parse.parse_time("2024-01-09T15:00:00.067555031Z"), RECV)
    assert (new.price, new.qty, new.filled, new.reason) == (44_699 * CENT, 2, 0, "")
    filled = parse.order_report(load("order_filled"), SPEC, RECV + 1)
    assert (filled.ts_event, filled.ts_recv) == (parse.parse_time("2024-01-09T15:00:00.068412209Z"), RECV + 1)
    assert (filled.client_id, filled.state, filled.qty, filled.filled) == ("c-2", OrderState.FILLED, 5, 5)
    assert filled.price == 45_021 * CENT
    assert parse.order_state({"status": "done_for_day"}) is OrderState.OPEN
    assert parse.order_state({"status": "some_new_status"}) is OrderState.OPEN  # unknown: still open
    expired = {**load("order_new"), "status": "expired"}
    assert parse.order_report(expired, SPEC, RECV).reason == "expired"
    no_update = {k: v for k, v in load("order_new").items() if k != "updated_at"}
    assert parse.order_report(no_update, SPEC, RECV).ts_event == parse.parse_time(no_update["submitted_at"])
    timeless = {k: v for k, v in no_update.items() if k not in ("submitted_at", "created_at")}
    assert parse.order_report(timeless, SPEC, RECV).ts_event == 0


def test_a_stream_fill_and_its_activity_carry_the_same_trade_id() -> None:
    update = load("trade_update_fill")["data"]
    report = parse.order_report(update["order"], SPEC, RECV)
    assert (report.ts_event, report.ts_recv) == (parse.parse_time(update["order"]["updated_at"]), RECV)
    fill = parse.update_fill(update, report, SPEC, RECV)
    assert fill.trade_id == f"{update['order']['id']}:5"
    assert (fill.client_id, fill.instrument, fill.side) == ("c-2", "SPY", Side.BUY)
    assert (fill.price, fill.qty, fill.fee, fill.maker) == (45_001 * CENT, 5, Decimal(0), False)
    assert fill.ts_event == parse.parse_time(update["timestamp"])
    assert fill.ts_recv == RECV
    [activity] = load("activities_fill")
    again = parse.activity_fill(activity, "c-2", SPEC, RECV)
    assert (again.trade_id, again.price, again.qty, again.ts_event) == (
        fill.trade_id,
        fill.price,
        fill.qty,
        fill.ts_event,
    )


def test_positions_long_and_short() -> None:
    [long] = load("positions")
    assert parse.position_units(long, SPEC) == 5
    assert parse.position_units(load("position_short"), SPEC) == -3
    assert parse.position_units({**load("position_short"), "qty": "3"}, SPEC) == -3  # side says short


def test_account_money_is_decimal() -> None:
    a = parse.account(load("account"))
    assert (a.status, a.currency, a.trading_blocked) == ("ACTIVE", "USD", False)
    assert a.cash == Decimal(load("account")["cash"])
    assert isinstance(a.buying_power, Decimal)
    assert isinstance(a.equity, Decimal)
    assert parse.account({**load("account"), "account_blocked": True}).trading_blocked


def test_the_clock_and_the_venue_time_it_states() -> None:
    body = load("clock")
    c = parse.market_clock(body)
    assert c.is_open
    assert c.next_close_ns == eastern_ns(2024, 1, 9, 16, 0)
    assert c.next_open_ns == eastern_ns(2024, 1, 10, 9, 30)
    assert parse.venue_time(body) == VenueTime(c.ts_ns, 1)  # nine fraction digits: nanoseconds
    closed = load("clock_closed_seconds")
    assert parse.venue_time(closed) == VenueTime(eastern_ns(2024, 1, 6, 12, 0), 1_000_000_000)
    micro = {**closed, "timestamp": "2024-01-06T17:00:00.123456Z"}
    assert parse.venue_time(micro) == VenueTime(eastern_ns(2024, 1, 6, 12, 0) + 123_456_000, 1000)


def test_times_round_trip_and_need_a_zone() -> None:
    ns = parse.parse_time("2024-01-09T15:00:00.068412209Z")
    assert parse.format_time(ns) == "2024-01-09T15:00:00.068412209Z"
    assert parse.parse_time("2024-01-09T10:00:00.068412209-05:00") == ns
    with pytest.raises(ValueError, match="zone"):
        parse.parse_time("2024-01-09T15:00:00")


def test_quotes_and_trades_from_the_data_stream() -> None:
    q = parse.quote(load("quote", decimals=True), SPEC, RECV)
    assert (q.instrument, q.bid, q.bid_qty, q.ask, q.ask_qty) == (
        "SPY",
        44_999 * CENT,
        292,
        45_001 * CENT,
        73,
    )
    assert q.ts_event == parse.parse_time(load("quote")["t"])
    assert q.ts_recv == RECV
    empty = parse.quote({**load("quote", decimals=True), "bp": 0, "bs": 0}, SPEC, RECV)
    assert (empty.bid, empty.bid_qty) == (None, 0)
    t = parse.trade(load("trade", decimals=True), SPEC, (q.bid or 0, q.ask or 0), RECV)
    assert (t.price, t.qty, t.aggressor) == (45_001 * CENT, 18, Side.BUY)  # at the ask: a buyer took
    sub = parse.trade(load("trade_subpenny", decimals=True), SPEC, (q.bid or 0, q.ask or 0), RECV)
    assert (sub.price, sub.qty) == (4_500_125, 100)  # 1/100 cent units keep the sub-penny price
    assert sub.aggressor is Side.BUY  # above the mid
    assert parse.aggressor(44_999 * CENT, q.bid or 0, q.ask or 0) is Side.SELL
    assert parse.aggressor(45_000 * CENT, 0, 0) is Side.SELL  # no quote: not known, called a sell


def test_a_limit_price_leaves_as_penny_text() -> None:
    assert parse.penny_text(45_021 * CENT) == "450.21"
    assert parse.penny_text(5 * CENT) == "0.05"
    assert parse.penny_text(1_000_000 * CENT) == "10000.00"


@pytest.mark.parametrize(
    ("name", "error", "code"),
    [
        ("error_401", AuthenticationError, "40110000"),
        ("error_403_buying_power", InsufficientFundsError, "40310000"),
        ("error_403_wash_trade", InvalidOrderError, "40310000"),
        ("error_404_order", OrderNotFoundError, "40410000"),
        ("error_422_not_cancelable", OrderNotFoundError, "42210000"),
        ("error_422_client_order_id", InvalidOrderError, "40010001"),
        ("error_429", RateLimitError, "42910000"),
    ],
)
def test_error_bodies_become_typed_errors(name: str, error: type[Exception], code: str) -> None:
    f = load(name)
    resp = HttpResponse(f["status"], {}, json.dumps(f["body"]).encode(), 0)
    e = decode_error("alpaca", resp)
    assert e is not None
    assert type(e) is error
    assert e.code == code
    assert e.venue == "alpaca"


def test_error_table_edges() -> None:
    assert decode_error("alpaca", HttpResponse(502, {}, b"<html>bad gateway</html>", 0)) is None
    assert isinstance(error_from("alpaca", 403, 40310000, "forbidden"), AuthenticationError)
    assert isinstance(error_from("alpaca", 500, 40110000, "x"), AuthenticationError)  # the code settles it
    assert isinstance(error_from("alpaca", 400, 40010000, "bad body"), InvalidOrderError)
    assert len(str(error_from("alpaca", 422, 40010001, "x" * 500))) < 300
