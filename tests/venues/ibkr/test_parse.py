"""What ib_async decodes from the Gateway (recorded from the simulator through ib_async: contract
details, orders, executions with commissions, ticks, depth rows, account values) through the pure
parsers, and the TWS error table."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ib_async import (
    AccountValue,
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    Fill,
    Order,
    OrderStatus,
    Ticker,
    Trade,
)

from trader.core import InstrumentSpec, Side
from trader.errors import (
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    VenueUnavailableError,
)
from trader.venues.base import OrderState
from trader.venues.ibkr import errors, parse

FIXTURES = Path(__file__).parent / "fixtures"
SPEC = InstrumentSpec("0.01", "1", min_qty="1")
RECV = 1_704_812_400_000_000_000


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def contract(d: dict[str, Any]) -> Contract:
    return Contract(**d)


def fill(d: dict[str, Any]) -> Fill:
    x = {**d["execution"], "time": dt.datetime.fromisoformat(d["execution"]["time"])}
    return Fill(contract(d["contract"]), Execution(**x), CommissionReport(**d["commissionReport"]), x["time"])


def trade(name: str, **status: Any) -> Trade:
    d = load(name)
    st = OrderStatus(**{**d["orderStatus"], **status})
    return Trade(contract(d["contract"]), Order(**d["order"]), st, [fill(f) for f in d["fills"]])


def test_contract_details_give_the_trading_spec_and_info() -> None:
    d = load("contract_details_spy")
    details = ContractDetails(contract=contract(d["contract"]), minTick=d["minTick"])
    spec = parse.trading_spec(details)
    assert (spec.tick_size, spec.lot_size, spec.min_qty) == ("0.01", "1", 1)
    assert details.contract is not None
    info = parse.instrument_info("SPY", details.contract, spec)
    assert (info.symbol, info.base, info.quote, info.tick_size, info.lot_size) == (
        "SPY",
        "SPY",
        "USD",
        "0.01",
        "1",
    )
    assert parse.describe(details.contract) == "SPY/STK/SMART/ARCA/USD#756733"
    listings = [parse.describe(contract(x["contract"])) for x in load("contract_details_ambiguous")]
    assert len(set(listings)) == len(listings) > 1  # one detail per exchange: ambiguous on purpose
    odd = ContractDetails(contract=contract(d["contract"]), minTick=0.0001)
    assert parse.trading_spec(odd).tick_size == "0.0001"


def ticker(bid: float, bid_size: float, ask: float, ask_size: float) -> Ticker:
    """A ticker as the SDK fills it from tick messages (its constructor resets the quote fields)."""
    t = Ticker(contract=contract(load("ticker_spy")["contract"]))
    t.bid, t.bidSize, t.ask, t.askSize = bid, bid_size, ask, ask_size
    return t


def test_the_top_of_book_in_integer_units() -> None:
    d = load("ticker_spy")
    assert parse.top(SPEC, ticker(d["bid"], d["bidSize"], d["ask"], d["askSize"])) == (
        59_999,
        427,
        60_001,
        164,
    )
    no_bid = ticker(math.nan, math.nan, d["ask"], d["askSize"])
    assert parse.top(SPEC, no_bid) == (None, 0, 60_001, 164)
    unset = ticker(1.7976931348623157e308, 5.0, -1.0, 3.0)
    assert parse.top(SPEC, unset) == (None, 0, None, 0)  # IB's unset double and "no ask" (-1)


def test_a_float_price_becomes_units_through_its_shortest_repr() -> None:
    assert parse.price_units(SPEC, 600.21) == 60_021  # 600.21 is not exact in binary
    assert parse.price_units(SPEC, Decimal("600.21")) == 60_021
    assert parse.shares(5.0) == 5
    with pytest.raises(ValueError, match="finite"):
        parse.exact(math.inf)
    assert not parse.finite(1.7976931348623157e308)


def test_orders_resting_filled_and_an_ioc_that_expired() -> None:
    rest = trade("trade_resting")
    state = parse.order_state(rest, rejected=False, cancel_asked=False)
    r = parse.order_report("c-1", rest, "SPY", SPEC, state, "", RECV)
    assert (r.client_id, r.venue_order_id, r.side, r.state) == ("c-1", "1000001", Side.BUY, OrderState.OPEN)
    assert (r.ts_event, r.ts_recv) == (0, RECV)  # IB states no time for a status; our clock as passed
    assert (r.price, r.qty, r.filled) == (59_699, 2, 0)
    take = trade("trade_filled")
    assert parse.order_state(take, rejected=False, cancel_asked=False) is OrderState.FILLED
    f = parse.order_report("c-2", take, "SPY", SPEC, OrderState.FILLED, "", RECV + 1)
    assert (f.price, f.qty, f.filled) == (60_021, 5, 5)
    last_execution = parse.time_ns(dt.datetime.fromisoformat("2026-12-04T22:26:37+00:00"))
    assert (f.ts_event, f.ts_recv) == (last_execution, RECV + 1)  # filled: its last execution's time
    ioc = trade("trade_ioc_canceled")
    assert parse.order_state(ioc, rejected=False, cancel_asked=False) is OrderState.EXPIRED
    assert parse.order_state(ioc, rejected=False, cancel_asked=True) is OrderState.CANCELED
    assert parse.order_state(ioc, rejected=True, cancel_asked=False) is OrderState.REJECTED
    refused = parse.order_report("c-3", ioc, "SPY", SPEC, OrderState.REJECTED, "201: no margin", RECV)
    assert refused.reason == "201: no margin"
    assert parse.order_report("c-3", ioc, "SPY", SPEC, OrderState.EXPIRED, "ignored", RECV).reason == ""


def test_filled_shares_of_a_completed_order_from_an_earlier_session() -> None:
    done = trade("trade_filled", filled=0.0)
    done.fills.clear()  # a completed order: no executions in this session, no filled count
    assert parse.filled_shares(done) == 5  # filledQuantity is unset: the order's total
    done.order.filledQuantity = 3.0
    assert parse.filled_shares(done) == 3
    live = trade("trade_filled", filled=0.0)
    assert parse.filled_shares(live) == 5  # from this session's executions


def test_an_execution_with_its_commission() -> None:
    [rec] = load("executions")
    f = fill(rec)
    r = parse.fill_report(f, "SPY", SPEC, RECV)
    assert (r.client_id, r.trade_id, r.side, r.price, r.qty) == (
        "c-2",
        "00000001.000f4242.01.01",
        Side.BUY,
        60_001,
        5,
    )
    assert r.fee == Decimal("1.0")
    assert r.maker is False  # lastLiquidity 2: removed liquidity
    when = dt.datetime.fromisoformat(rec["execution"]["time"])
    assert r.ts_event == int(when.timestamp()) * 1_000_000_000  # the Gateway states whole seconds
    assert r.ts_recv == RECV
    x = parse.execution(f, "SPY")
    assert (x.exec_id, x.order_ref, x.side, x.shares, x.price) == (
        r.trade_id,
        "c-2",
        Side.BUY,
        Decimal("5.0"),
        Decimal("600.01"),
    )
    assert (x.commission, x.commission_currency, x.perm_id) == (Decimal("1.0"), "USD", 1_000_002)
    assert x.time_ns == r.ts_event
    no_report = Fill(f.contract, f.execution, CommissionReport(), f.time)
    assert parse.fill_report(no_report, "SPY", SPEC, RECV).fee == 0
    assert parse.execution(no_report, "SPY").commission is None
    off_tick = Fill(
        f.contract, Execution(**{**rec["execution"], "price": 600.005}), f.commissionReport, f.time
    )
    with pytest.raises(ValueError, match=r"multiple of 0\.01"):
        parse.fill_report(off_tick, "SPY", SPEC, RECV)


def test_execution_times_are_exact_and_naive_ones_are_utc() -> None:
    t = dt.datetime(2024, 1, 9, 15, 0, 0, 123456, tzinfo=dt.UTC)
    assert parse.time_ns(t) == 1_704_812_400_123_456_000
    assert parse.time_ns(t.replace(tzinfo=None)) == 1_704_812_400_123_456_000
    assert parse.time_ns("20240109 15:00:00") == 0


def test_depth_rows_in_integer_units() -> None:
    ticks = load("depth_ticks")
    rows = [parse.row(SPEC, t["price"], t["size"]) for t in ticks if t["operation"] != 2]
    assert rows[0] == (59_999, 427)
    assert all(isinstance(p, int) and isinstance(q, int) for p, q in rows)
    with pytest.raises(ValueError, match="shares"):
        parse.row(SPEC, 599.99, 1.5)
    with pytest.raises(ValueError, match="no price"):
        parse.row(SPEC, math.nan, 100.0)


def test_account_values_in_the_base_currency() -> None:
    values = [AccountValue(**v) for v in load("account_values")]
    out = parse.base_currency_values(values)
    assert out["NetLiquidation"] == Decimal("999998.95")
    assert all(isinstance(v, Decimal) for v in out.values())
    both = [
        AccountValue("DU1", "NetLiquidation", "100", "EUR", ""),
        AccountValue("DU1", "NetLiquidation", "110", "BASE", ""),
        AccountValue("DU1", "CashBalance", "5", "USD", ""),
        AccountValue("DU1", "AccountType", "INDIVIDUAL", "EUR", ""),
    ]
    assert parse.base_currency_values(both) == {"NetLiquidation": Decimal(110)}


@pytest.mark.parametrize(
    ("code", "text", "error"),
    [
        (201, "Order rejected - reason:Insufficient buying power", InsufficientFundsError),
        (201, "Order rejected - reason:The margin requirement is not met", InsufficientFundsError),
        (201, "Order rejected - reason:Missing or invalid limit price", InvalidOrderError),
        (135, "Can't find order with id =7", OrderNotFoundError),
        (10147, "OrderId 7 that needs to be cancelled is not found.", OrderNotFoundError),
        (10148, "OrderId 7 that needs to be cancelled cannot be cancelled", OrderNotFoundError),
        (100, "Max rate of messages per second has been exceeded", RateLimitError),
        (1100, "Connectivity between IB and Trader Workstation has been lost.", VenueUnavailableError),
        (161, "Cancel attempted when order is not in a cancellable state.", VenueUnavailableError),
        (110, "The price does not conform to the minimum price variation", InvalidOrderError),
    ],
)
def test_tws_error_codes_become_typed_errors(code: int, text: str, error: type[Exception]) -> None:
    e = errors.error_from(code, text)
    assert type(e) is error
    assert (e.venue, e.code) == ("ibkr", str(code))


def test_notices_are_not_rejections() -> None:
    assert not errors.is_rejection(2104)  # market data farm OK
    assert not errors.is_rejection(202)  # the confirmation of our cancel
    assert not errors.is_rejection(399)
    assert errors.is_rejection(201)
    assert errors.is_rejection(1100)
