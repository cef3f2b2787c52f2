"""Bybit `orderbook.50` into a book: a snapshot (50 + 50 levels) and 20 deltas (5 changes a side each),
from raw bytes, through the connector's `PublicStream` (the core's raw-bytes parser
`Book.apply_bybit_orderbook`: units, the `u` chain check; then the top of book) against pybit's own merge
(`_process_delta_orderbook` on the same messages, json-decoded)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pybit._websocket_stream as pybit_ws
import pytest

from trader.clock import LiveClock
from trader.venues._ws import WsClient
from trader.venues.bybit import loopback, parse
from trader.venues.bybit.streams import PublicStream

TOPIC = "orderbook.50.BTCUSDT"
LOT = {"qtyStep": "0.001", "minOrderQty": "0.001", "maxOrderQty": "1190", "minNotionalValue": "5"}
INFO = {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "priceFilter": {"tickSize": "0.10"}}
INFO["lotSizeFilter"] = LOT


def _messages() -> list[bytes]:
    bids = [[f"{50000 - i / 10:.1f}", f"{(i % 9 + 1) / 1000:.3f}"] for i in range(1, 51)]
    asks = [[f"{50000 + i / 10:.1f}", f"{(i % 7 + 1) / 1000:.3f}"] for i in range(1, 51)]
    out = [
        {
            "topic": TOPIC,
            "type": "snapshot",
            "ts": 1,
            "data": {"s": "BTCUSDT", "b": bids, "a": asks, "u": 1, "seq": 1},
        }
    ]
    for k in range(20):
        b = [
            [f"{50000 - (i + k % 5) / 10:.1f}", "0" if i == 4 else f"{(i + k) % 5 + 1}.000"]
            for i in range(1, 6)
        ]
        a = [
            [f"{50000 + (i + k % 5) / 10:.1f}", "0" if i == 4 else f"{(i + k) % 3 + 1}.000"]
            for i in range(1, 6)
        ]
        out.append(
            {
                "topic": TOPIC,
                "type": "delta",
                "ts": 2 + k,
                "data": {"s": "BTCUSDT", "b": b, "a": a, "u": 2 + k, "seq": 2 + k},
            }
        )
    return [orjson.dumps(m) for m in out]


MESSAGES = _messages()


def _ours() -> PublicStream:
    clock = LiveClock()
    conn = loopback("http://127.0.0.1:9", symbol="BTCUSDT", clock=clock, category="linear")
    conn._info = parse.instrument_info(INFO)
    conn._spec = conn._info.spec()
    setattr(conn, "emit", lambda ev: None)  # noqa: B010 - the bench measures the book, not a queue
    return PublicStream(conn, WsClient("bybit", "ws://127.0.0.1:9", clock=clock))


@pytest.mark.benchmark(group="book.bybit")
def test_ours_bybit_book(benchmark: Any) -> None:
    stream = _ours()

    def run() -> None:
        for raw in MESSAGES:
            assert not stream.frame(raw, 0)

    benchmark(run)
    benchmark.extra_info.update(role="ours")
    assert stream.u == 21


@pytest.mark.benchmark(group="book.bybit")
def test_pybit_bybit_book(benchmark: Any) -> None:
    manager: Any = object.__new__(pybit_ws._V5WebSocketManager)
    manager.data = {}

    def run() -> None:
        for raw in MESSAGES:
            manager._process_delta_orderbook(json.loads(raw), TOPIC)

    benchmark(run)
    benchmark.extra_info.update(role="baseline", min_ratio=1)
    assert manager.data[TOPIC]["u"] == 21
