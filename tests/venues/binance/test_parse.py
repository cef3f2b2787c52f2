"""`trader.venues.binance.parse` on recorded payloads (tests/venues/binance/fixtures/, as binance.md states
them and as `trader.sim.binance` emits them): every price and quantity in exact integer units."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trader.core import Book, InstrumentSpec, InvalidInputError, Side
from trader.venues.base import FillReport, InstrumentInfo, OrderReport, OrderState, Quote, TradeTick
from trader.venues.binance import parse

FIXTURES = Path(__file__).parent / "fixtures"
T = 1764892800123  # the recorded payloads' event time (ms)
MS = 1_000_000


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def spot_info() -> InstrumentInfo:
    info = parse.instrument_info(load("exchange_info_spot"), "BTCUSDT")
    assert info is not None
    return info


def futures_info() -> InstrumentInfo:
    info = parse.instrument_info(load("exchange_info_futures"), "BTCUSDT")
    assert info is not None
    return info


SPOT = InstrumentSpec("0.01", "0.001")
FUTURES = InstrumentSpec("0.1", "0.001")
SPOT_FEES = parse.Fees("BTC", withheld=True)
FUTURES_FEES = parse.Fees("BTC", withheld=False)


# ---- exchangeInfo, time, rate limits ---------------------------------------------------------------


def test_spot_exchange_info_rules() -> None:
    i = spot_info()
    assert (i.symbol, i.base, i.quote) == ("BTCUSDT", "BTC", "USDT")
    assert (i.tick_size, i.lot_size, i.min_qty, i.min_notional) == ("0.01", "0.001", "0.001", "5")
    assert Decimal(i.max_qty) == Decimal(9000)
    assert (i.percent_up, i.percent_down) == ("5", "0.2")  # PERCENT_PRICE_BY_SIDE: bid up, ask down
    spec = i.spec()
    assert (spec.tick_size, spec.lot_size, spec.min_notional) == ("0.01", "0.001", "5")
    assert (spec.tick, spec.lot, spec.min_qty, spec.max_qty) == (1, 1, 1, 9_000_000)


def test_futures_exchange_info_rules() -> None:
    i = futures_info()
    assert (i.tick_size, i.lot_size, i.min_qty, i.min_notional) == ("0.1", "0.001", "0.001", "100")
    assert (i.percent_up, i.percent_down) == ("1.05", "0.95")  # PERCENT_PRICE
    assert i.spec().max_qty == 1_000_000
    assert i.spec().price_to_units("50000.10") == 500_001


def test_unknown_symbol_is_none() -> None:
    assert parse.instrument_info(load("exchange_info_spot"), "ETHUSDT") is None


def test_rate_limits_at_the_budget() -> None:
    w = parse.rate_limit_windows(load("exchange_info_spot"), 0.8)
    assert [(x.limit, x.interval_ns) for x in w["REQUEST_WEIGHT"]] == [(4800, 60_000_000_000)]
    assert [(x.limit, x.interval_ns) for x in w["ORDERS"]] == [(160, 10_000_000_000)]
    f = parse.rate_limit_windows(load("exchange_info_futures"), 0.8)
    assert [(x.limit, x.interval_ns) for x in f["ORDERS"]] == [(960, 60_000_000_000), (240, 10_000_000_000)]


def test_server_time_and_usage_headers() -> None:
    assert parse.server_time_ms(load("time")) == 1_764_892_800_000
    assert parse.usage_interval_ns("1M") == 60_000_000_000
    assert parse.usage_interval_ns("10s") == 10_000_000_000
    assert parse.usage_interval_ns("1D") == 86_400_000_000_000
    assert parse.usage_interval_ns("M") is None
    assert parse.usage_interval_ns("1W") is None


# ---- orders --------------------------------------------------------------------------------------


def test_order_responses() -> None:
    r = load("order_responses")
    assert "price" not in r["ack"]  # ACK: ids only (the connector's submit reads orderId)
    result = parse.order_report(r["result"], SPOT, 5)
    assert result == OrderReport(
        "mm-1", "28", "BTCUSDT", Side.BUY, 4_999_999, 10, 0, OrderState.OPEN, ts_event=0, ts_recv=0
    )
    assert (result.ts_event, result.ts_recv) == (T * MS, 5)  # transactTime; our clock as passed in
    assert parse.order_report(r["full"], SPOT, 5) == OrderReport(
        "mm-2",
        "29",
        "BTCUSDT",
        Side.BUY,
        0,
        20,
        20,
        OrderState.FILLED,  # a market order's price is 0
        ts_event=T * MS,
        ts_recv=5,
    )
    query = parse.order_report(r["query_futures"], FUTURES, 6)
    assert query == OrderReport(
        "mm-3", "4011", "BTCUSDT", Side.SELL, 500_001, 10, 4, OrderState.OPEN, ts_event=0, ts_recv=0
    )
    assert (query.ts_event, query.ts_recv) == ((T + 50) * MS, 6)  # updateTime, not the creation `time`


def test_an_order_answer_without_a_time_has_ts_event_zero() -> None:
    row = {k: v for k, v in load("order_responses")["result"].items() if not k.endswith("Time")}
    r = parse.order_report(row, SPOT, 8)
    assert (r.ts_event, r.ts_recv) == (0, 8)


def test_every_status_has_a_state() -> None:
    states = {s: parse.STATES[s] for s in ("NEW", "PARTIALLY_FILLED", "PENDING_CANCEL")}
    assert set(states.values()) == {OrderState.OPEN}
    assert parse.STATES["EXPIRED_IN_MATCH"] is OrderState.EXPIRED
    assert parse.STATES["REJECTED"] is OrderState.REJECTED


def test_execution_report_new_has_no_fill() -> None:
    e = load("execution_report")["new"]["event"]
    u = parse.execution_report(e, SPOT, SPOT_FEES, ts_recv=7)
    assert (u.client_id, u.venue_order_id, u.fill) == ("mm-1", 28, None)
    assert u.report == OrderReport(
        "mm-1", "28", "BTCUSDT", Side.BUY, 4_999_999, 10, 0, OrderState.OPEN, ts_event=T * MS, ts_recv=7
    )
    assert (u.report.ts_event, u.report.ts_recv) == (T * MS, 7)  # `T`; the frame's receive time


def test_execution_report_trade_with_the_fee_in_the_base_asset() -> None:
    e = load("execution_report")["trade_base_fee"]["event"]
    u = parse.execution_report(e, SPOT, SPOT_FEES, ts_recv=7)
    assert u.fill == FillReport(
        "mm-1",
        "501",
        "BTCUSDT",
        Side.BUY,
        4_999_999,
        4,
        Decimal("0.00000400") * Decimal("49999.99"),  # valued at the fill price: 0.19999996 USDT
        (T + 9) * MS,
        True,
        Decimal("0.000004"),  # withheld from the bought BTC
        ts_recv=7,
    )
    assert u.fill.fee == Decimal("0.19999996")
    assert u.report == OrderReport(
        "mm-1", "28", "BTCUSDT", Side.BUY, 4_999_999, 10, 4, OrderState.OPEN, ts_event=0, ts_recv=0
    )
    assert (u.report.ts_event, u.report.ts_recv) == ((T + 9) * MS, 7)


def test_execution_report_trade_with_the_fee_in_quote() -> None:
    e = load("execution_report")["trade_quote_fee"]["event"]
    u = parse.execution_report(e, SPOT, SPOT_FEES, ts_recv=7)
    assert u.fill is not None
    assert (u.fill.price, u.fill.qty, u.fill.fee, u.fill.base_fee) == (
        4_999_999,
        6,
        Decimal("0.02999999"),
        Decimal(0),
    )
    assert (u.fill.maker, u.fill.ts_event, u.fill.trade_id) == (False, (T + 19) * MS, "502")
    assert u.report is not None
    assert (u.report.filled, u.report.state) == (10, OrderState.FILLED)


def test_execution_report_cancel_names_the_original_order() -> None:
    e = load("execution_report")["canceled"]["event"]
    u = parse.execution_report(e, SPOT, SPOT_FEES, ts_recv=7)
    assert u.client_id == "mm-1"  # `C`, not the cancel request's own id in `c`
    assert u.report is not None
    assert (u.report.client_id, u.report.state, u.report.reason) == ("mm-1", OrderState.CANCELED, "")


def test_execution_report_reasons() -> None:
    ev = load("execution_report")
    expired = parse.execution_report(ev["expired"]["event"], SPOT, SPOT_FEES, ts_recv=7).report
    rejected = parse.execution_report(ev["rejected"]["event"], SPOT, SPOT_FEES, ts_recv=7).report
    assert expired is not None
    assert rejected is not None
    assert (expired.state, expired.reason) == (OrderState.EXPIRED, "")  # "NONE" is no reason
    assert (rejected.state, rejected.reason) == (OrderState.REJECTED, "INSUFFICIENT_BALANCES")


def test_unknown_status_gives_no_report() -> None:
    e = dict(load("execution_report")["trade_base_fee"]["event"], X="SOMETHING_NEW")
    u = parse.execution_report(e, SPOT, SPOT_FEES, ts_recv=7)
    assert u.report is None
    assert u.fill is not None  # the trade is still a fill


def test_futures_order_trade_update() -> None:
    wrapped = load("order_trade_update")["trade"]
    o = wrapped["data"]["o"]
    u = parse.futures_order(o, FUTURES, FUTURES_FEES, ts_recv=9)
    assert u.fill == FillReport(
        "mm-3",
        "9001",
        "BTCUSDT",
        Side.SELL,
        500_001,
        4,
        Decimal("0.04000008"),
        (T + 40) * MS,
        True,
        Decimal(0),
        ts_recv=9,
    )
    assert u.report == OrderReport(
        "mm-3", "4011", "BTCUSDT", Side.SELL, 500_001, 10, 4, OrderState.OPEN, ts_event=0, ts_recv=0
    )
    assert (u.report.ts_event, u.report.ts_recv) == ((T + 40) * MS, 9)
    new = parse.futures_order(load("order_trade_update")["market_new"]["o"], FUTURES, FUTURES_FEES, ts_recv=9)
    assert new.fill is None
    assert new.report == OrderReport(
        "mm-6", "4012", "BTCUSDT", Side.SELL, 0, 10, 0, OrderState.OPEN, ts_event=0, ts_recv=0
    )
    assert (new.report.ts_event, new.report.ts_recv) == ((T + 40) * MS, 9)


def test_a_base_fee_on_futures_is_not_withheld() -> None:
    e = load("execution_report")["trade_base_fee"]["event"]
    u = parse.execution_report(e, SPOT, FUTURES_FEES, ts_recv=7)
    assert u.fill is not None
    assert (u.fill.fee, u.fill.base_fee) == (Decimal("0.19999996"), Decimal(0))


def test_my_trades() -> None:
    t = load("my_trades")
    buy, sell = (
        parse.my_trade(x, SPOT, SPOT_FEES, client_id="c", symbol="BTCUSDT", ts_recv=3) for x in t["spot"]
    )
    assert (buy.side, buy.price, buy.qty, buy.maker, buy.trade_id) == (Side.BUY, 4_999_999, 4, True, "501")
    assert (buy.fee, buy.base_fee, buy.ts_event) == (Decimal("0.19999996"), Decimal("0.000004"), (T + 9) * MS)
    assert (sell.side, sell.price, sell.qty, sell.maker) == (Side.SELL, 5_000_001, 2, False)
    assert (sell.fee, sell.base_fee) == (Decimal("0.10000002"), Decimal(0))
    (fut,) = (
        parse.my_trade(x, FUTURES, FUTURES_FEES, client_id="mm-3", symbol="BTCUSDT", ts_recv=3)
        for x in t["futures"]
    )
    assert (fut.side, fut.price, fut.qty, fut.maker, fut.fee) == (
        Side.SELL,
        500_001,
        4,
        True,
        Decimal("0.04000008"),
    )


# ---- market data ---------------------------------------------------------------------------------


def test_trade_and_agg_trade() -> None:
    m = load("market_streams")
    assert parse.trade_tick(m["trade"]["data"], SPOT, "BTCUSDT", 5) == TradeTick(
        "BTCUSDT",
        5_000_001,
        12,
        Side.SELL,
        (T - 1) * MS,
        ts_recv=5,  # m: the buyer made, a seller took
    )
    assert parse.trade_tick(m["agg_trade"]["data"], FUTURES, "BTCUSDT", 5) == TradeTick(
        "BTCUSDT", 500_001, 250, Side.BUY, (T - 2) * MS, ts_recv=5
    )


def test_book_tickers() -> None:
    m = load("market_streams")
    spot, fut = m["book_ticker_spot"]["data"], m["book_ticker_futures"]
    assert parse.is_book_ticker(spot)
    assert not parse.is_book_ticker(m["trade"]["data"])
    assert parse.book_ticker(spot, SPOT, "BTCUSDT", 5) == Quote("BTCUSDT", 4_999_999, 83, 5_000_001, 39, 0, 5)
    assert parse.book_ticker(fut, FUTURES, "BTCUSDT", 5) == Quote(
        "BTCUSDT", 500_000, 1250, 500_001, 700, T * MS, 5
    )


def test_depth_snapshot_levels_and_mid() -> None:
    depth = load("depth_spot")
    bids, asks = parse.depth_levels(depth, SPOT)
    assert bids[:2] == [(4_999_999, 83), (4_999_998, 102)]
    assert asks[0] == (5_000_001, 39)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert parse.mid_price(depth) == Decimal("50000.00")


def test_recorded_depth_through_the_core_book() -> None:
    """The live path parses depth bytes in the core; the recorded snapshot and diff agree with it."""
    book = Book(SPOT)
    book.apply_binance_snapshot((FIXTURES / "depth_spot.json").read_bytes())
    assert book.best_bid() == (4_999_999, 83)
    diff = json.dumps(load("market_streams")["depth_update"]).encode()
    assert book.apply_binance_depth(diff)
    assert book.best_bid() == (4_999_998, 200)  # 49999.99 removed (qty 0), 49999.98 set to 0.2
    assert book.best_ask() == (5_000_001, 50)


# ---- account, WebSocket API bodies ---------------------------------------------------------------


def test_balances_and_positions() -> None:
    a = load("account")
    assert parse.spot_balances(a["spot"]) == {"BTC": Decimal("1.01"), "USDT": Decimal("10499.9999")}
    assert parse.futures_balances(a["futures_balance"]) == {"USDT": Decimal(100000)}
    amount = parse.futures_position_amount(a["position_risk"], "BTCUSDT")
    assert amount == Decimal("-0.004")
    assert parse.position_units(amount, FUTURES) == -4
    assert parse.position_units(Decimal("1.01"), SPOT) == 1010
    assert parse.position_units(Decimal("0.0125"), SPOT) == 12  # half-even, as Decimal.quantize rounds
    assert parse.position_units(Decimal("-0.0135"), SPOT) == -14
    assert parse.position_units(Decimal(0), SPOT) == 0
    assert parse.futures_position_amount(a["position_risk"], "ETHUSDT") == 0
    cross = parse.margin_assets(a["margin_cross"], None)
    assert cross["USDT"]["netAsset"] == "9999.99000000"
    isolated = parse.margin_assets(a["margin_isolated"], "BTCUSDT")
    assert (isolated["BTC"]["netAsset"], isolated["USDT"]["netAsset"]) == ("0.01", "999.999")


def test_ws_api_rate_limits_and_retry_after() -> None:
    e = load("errors")
    assert parse.ws_usage(e["ws_ok"]["rateLimits"]) == [
        ("ORDERS", 10_000_000_000, 1),
        ("ORDERS", 86_400_000_000_000, 1),
        ("REQUEST_WEIGHT", 60_000_000_000, 2),
    ]
    assert parse.ws_usage([{"rateLimitType": "ORDERS", "interval": "FORTNIGHT"}]) == []
    assert parse.ws_usage(None) == []
    assert parse.ws_retry_after_ns(e["ws_rate_limited"]) == (T + 60_000) * MS
    assert parse.ws_retry_after_ns(e["ws_ok"]) is None


@pytest.mark.parametrize("price", ["49999.995", "abc"])
def test_a_price_off_the_tick_is_refused(price: str) -> None:
    row = dict(load("order_responses")["result"], price=price)
    with pytest.raises(InvalidInputError):
        parse.order_report(row, SPOT, 0)
