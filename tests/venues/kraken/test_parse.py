"""Kraken's payloads as `trader` values: AssetPairs, OpenOrders, TradesHistory and v2 executions / book
messages (tests/venues/kraken/fixtures: REST shapes from Kraken's docs and python-kraken-sdk examples, the
book from the docs' checksum example), and the error strings."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trader.core import Book, Side, kraken_checksum
from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueUnavailableError,
)
from trader.venues.base import OrderState
from trader.venues.kraken import asset, error_from, parse, v2_symbol

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def pair() -> parse.PairInfo:
    ((key, entry),) = load("asset_pairs.json")["result"].items()
    return parse.pair_info(key, entry)


def test_asset_pairs_become_instrument_info_in_our_asset_names() -> None:
    p = pair()
    assert (p.key, p.altname, p.symbol, p.price_decimals, p.qty_decimals) == (
        "XXBTZUSD",
        "XBTUSD",
        "BTC/USD",
        1,
        8,
    )
    i = p.info
    assert (i.symbol, i.base, i.quote) == ("XBTUSD", "BTC", "USD")
    assert (i.tick_size, i.lot_size, i.min_qty, i.min_notional) == ("0.1", "0.00000001", "0.0001", "0.5")
    spec = i.spec()
    assert (spec.tick, spec.price_to_units("30010.0"), spec.qty_to_units("0.0001")) == (1, 300100, 10_000)


@pytest.mark.parametrize(
    ("kraken", "ours"),
    [("XXBT", "BTC"), ("XBT", "BTC"), ("ZUSD", "USD"), ("XETH", "ETH"), ("XXDG", "DOGE"), ("USDT", "USDT")],
)
def test_asset_names(kraken: str, ours: str) -> None:
    assert asset(kraken) == ours


def test_v2_symbols() -> None:
    assert (v2_symbol("XBT/USD"), v2_symbol("XDG/EUR"), v2_symbol("ETH/USDT")) == (
        "BTC/USD",
        "DOGE/EUR",
        "ETH/USDT",
    )


def test_an_open_order_partly_filled() -> None:
    spec = pair().info.spec()
    ((txid, o),) = load("open_orders.json")["result"]["open"].items()
    r = parse.order_report(txid, o, spec, ts_recv=5)
    assert (r.client_id, r.venue_order_id, r.instrument, r.side) == ("mm-17", txid, "XBTUSD", Side.BUY)
    assert (r.price, r.qty, r.filled, r.state) == (300100, 125_000_000, 37_500_000, OrderState.OPEN)
    assert (r.ts_event, r.ts_recv) == (1688666559897400000, 5)


@pytest.mark.parametrize(
    ("status", "vol_exec", "state"),
    [
        ("closed", "1.25000000", OrderState.FILLED),
        ("closed", "0.50000000", OrderState.CANCELED),  # an IOC's or market order's rest dropped
        ("canceled", "0.00000000", OrderState.CANCELED),
        ("expired", "0.00000000", OrderState.EXPIRED),
        ("pending", "0.00000000", OrderState.OPEN),
    ],
)
def test_order_states(status: str, vol_exec: str, state: OrderState) -> None:
    spec = pair().info.spec()
    ((txid, o),) = load("open_orders.json")["result"]["open"].items()
    o = {**o, "status": status, "vol_exec": vol_exec, "closetm": 1688666600.5}
    r = parse.order_report(txid, o, spec, ts_recv=0)
    assert r.state is state
    assert r.ts_event == 1688666600500000000


def test_a_trade_from_trades_history_and_the_same_from_executions_are_one_fill() -> None:
    spec = pair().info.spec()
    ((tid, t),) = load("trades_history.json")["result"]["trades"].items()
    rest = parse.rest_fill(tid, t, "mm-17", "XBTUSD", spec, ts_recv=1)
    (d,) = load("executions_trade.json")["data"]
    stream = parse.exec_fill(d, "XBTUSD", spec, ts_recv=2)
    assert rest == stream  # ts_recv takes no part in equality
    assert (rest.trade_id, rest.price, rest.qty, rest.fee, rest.maker) == (
        tid,
        300100,
        37_500_000,
        Decimal("28.13437"),
        True,
    )
    assert rest.ts_event == 1688667796880200000
    report = parse.exec_report(d, "XBTUSD", spec, ts_recv=2)
    assert (report.client_id, report.filled, report.qty, report.state) == (
        "mm-17",
        37_500_000,
        125_000_000,
        OrderState.OPEN,
    )


def test_the_docs_book_checksum_through_the_core() -> None:
    p = pair()
    (d,) = load("book_doc_example.json")["data"]
    book = Book(p.info.spec())
    book.apply_snapshot(parse.levels(book.spec, d["bids"]), parse.levels(book.spec, d["asks"]), 0)
    assert book.kraken_checksum(p.price_decimals, p.qty_decimals) == d["checksum"] == 3310070434
    asks = [(f"{r['price']:.1f}", f"{r['qty']:.8f}") for r in d["asks"]]
    bids = [(f"{r['price']:.1f}", f"{r['qty']:.8f}") for r in d["bids"]]
    assert kraken_checksum(asks, bids) == 3310070434
    book.set_level(Side.SELL, parse.units(book.spec, "45285.2", qty=False), 0)
    assert book.kraken_checksum(p.price_decimals, p.qty_decimals) != 3310070434


def test_rfc3339_and_rest_times() -> None:
    assert parse.parse_time("2022-12-25T09:30:59.123456Z") == 1671960659123456000
    assert parse.parse_time("2022-12-25T09:30:59Z") == 1671960659000000000
    assert parse.seconds_ns("1688667796.8802") == 1688667796880200000
    assert parse.venue_time({"unixtime": 1688667796, "rfc1123": "x"}).resolution_ns == 1_000_000_000


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("EAPI:Invalid nonce", AuthenticationError),
        ("EAPI:Invalid key", AuthenticationError),
        ("EAPI:Invalid signature", AuthenticationError),
        ("EGeneral:Permission denied", AuthenticationError),
        ("EOrder:Unknown order", OrderNotFoundError),
        ("EOrder:Insufficient funds", InsufficientFundsError),
        ("EOrder:Order minimum not met", InvalidOrderError),
        ("EOrder:Tick size check failed", InvalidOrderError),
        ("EOrder:Post only order", InvalidOrderError),
        ("EGeneral:Invalid arguments", InvalidOrderError),
        ("EAPI:Rate limit exceeded", RateLimitError),
        ("EOrder:Rate limit exceeded", RateLimitError),
        ("EService: Throttled: 1688667796", RateLimitError),
        ("EService:Unavailable", VenueUnavailableError),
        ("EService:Market in cancel_only mode", VenueUnavailableError),
        ("EGeneral:Internal error", UnknownOutcomeError),
    ],
)
def test_error_strings(error: str, kind: type[Exception]) -> None:
    e = error_from("kraken", error)
    assert type(e) is kind
    assert e.code == error
