"""Bybit's JSON (recorded shapes from the v5 docs, in fixtures/) into `trader` values, and retCodes
into the error tree."""

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
from trader.venues._http import HttpResponse
from trader.venues.base import OrderState
from trader.venues.bybit import decode_error, error_from, parse

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def spot_info() -> Any:
    return parse.instrument_info(load("instruments_spot.json")["result"]["list"][0])


def test_spot_rules_and_a_max_qty_finer_than_the_step() -> None:
    info = spot_info()
    assert (info.tick_size, info.lot_size, info.min_qty, info.min_notional) == (
        "0.01",
        "0.000001",
        "0.000048",
        "1",
    )
    assert info.max_qty == "71.739562"  # stated as 71.73956243: rounded down to the base precision
    assert info.spec().min_qty == 48


def test_linear_rules_use_qty_step_and_min_notional_value() -> None:
    info = parse.instrument_info(load("instruments_linear.json")["result"]["list"][0])
    assert (info.tick_size, info.lot_size, info.min_qty, info.min_notional, info.max_qty) == (
        "0.10", "0.001", "0.001", "5", "1190",
    )  # fmt: skip


def test_orders_become_reports() -> None:
    spec = spot_info().spec()
    rows = load("order_realtime.json")["result"]["list"]
    open_, cancelled = (parse.order_report(o, spec, ts_recv=7) for o in rows)
    assert (open_.client_id, open_.side, open_.price, open_.qty, open_.filled, open_.state) == (
        "test-000005", Side.BUY, 2_800_050, 1000, 400, OrderState.OPEN,
    )  # fmt: skip
    assert open_.ts_event == 1684738540561 * 1_000_000
    assert open_.reason == ""
    # a post-only that would have taken is cancelled by Bybit after the ack: it never rested
    assert (cancelled.state, cancelled.reason) == (OrderState.REJECTED, "EC_PostOnlyWillTakeLiquidity")


def test_executions_become_fills_with_base_coin_fees_valued_in_the_quote() -> None:
    info = spot_info()
    taker, maker = (
        parse.fill(x, info, info.spec(), ts_recv=1) for x in load("execution_list.json")["result"]["list"]
    )
    assert (taker.trade_id, taker.price, taker.qty, taker.maker) == (
        "2100000000007764263",
        2_800_050,
        400,
        False,
    )
    assert taker.base_fee == Decimal("0.0000004")
    assert taker.fee == Decimal("0.0000004") * Decimal("28000.50")
    assert (maker.side, maker.maker, maker.fee, maker.base_fee) == (
        Side.SELL,
        True,
        Decimal("0.0280005"),
        Decimal(0),
    )
    assert taker.ts_event == 1684738540560 * 1_000_000


def test_book_levels_trades_time_and_mid() -> None:
    spec = parse.instrument_info(load("instruments_linear.json")["result"]["list"][0]).spec()
    snap, delta = load("orderbook_snapshot.json"), load("orderbook_delta.json")
    assert parse.levels(snap["data"]["b"], spec) == [(164935, 6), (164930, 100)]
    assert parse.levels(delta["data"]["b"], spec)[0] == (164935, 0)  # size 0: the level is gone
    top = parse.top("BTCUSDT", {164930: 100}, {166110: 29}, 5, 6)
    assert (top.bid, top.bid_qty, top.ask, top.ask_qty) == (164930, 100, 166110, 29)
    t = parse.trade(load("public_trade.json")["data"][0], spec, ts_recv=3)
    assert (t.price, t.qty, t.aggressor, t.ts_event) == (165785, 1, Side.BUY, 1672304486865 * 1_000_000)
    vt = parse.venue_time(load("time.json")["result"])
    assert vt.ts_ns == 1688639403423213947
    assert parse.mid_price(snap["data"]) == (Decimal("16493.50") + Decimal("16611.00")) / 2


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (10003, AuthenticationError),
        (10004, AuthenticationError),
        (10006, RateLimitError),
        (110001, OrderNotFoundError),
        (110007, InsufficientFundsError),
        (170213, OrderNotFoundError),
        (170136, InvalidOrderError),
        (10001, InvalidOrderError),
    ],
)
def test_ret_codes_into_the_error_tree(code: int, cls: type) -> None:
    err = error_from("bybit", code, "msg")
    assert type(err) is cls
    assert err.code == str(code)


def test_an_error_body_decodes() -> None:
    body = (FIX / "error_sign.json").read_bytes()
    err = decode_error("bybit", HttpResponse(401, {}, body, 0))
    assert isinstance(err, AuthenticationError)
    assert decode_error("bybit", HttpResponse(502, {}, b"<html>", 0)) is None
