"""pybit's WebSocket client (the oracle) against the simulator's streams: the public `orderbook.50`
snapshot and deltas, which pybit merges into its own book (it must stay sorted, uncrossed, without empty
levels), and the private stream's auth and `order` topic for an order placed through pybit's HTTP
client."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from trader.clock import LiveClock
from trader.sim.bybit import DEMO_KEY, DEMO_SECRET, BybitSimServer
from trader.sim.server import SimThread

unified = pytest.importorskip("pybit.unified_trading")
WALL = LiveClock()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    t = SimThread(BybitSimServer(seed=8, step_ms=20))
    yield t
    t.close()


@pytest.fixture
def at_sim(sim: SimThread, monkeypatch: pytest.MonkeyPatch) -> str:
    base = f"ws://127.0.0.1:{sim.port}"
    monkeypatch.setattr(unified, "PUBLIC_WSS", base + "/v5/public/{CHANNEL_TYPE}")
    monkeypatch.setattr(unified, "PRIVATE_WSS", base + "/v5/private")
    return f"http://127.0.0.1:{sim.port}"


def _wait(cond: Any, what: str, timeout: float = 5.0) -> None:
    deadline = WALL.monotonic_ns() + int(timeout * 1e9)
    while not cond():
        if WALL.monotonic_ns() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s")
        time.sleep(0.02)


def test_pybit_streams_the_book(at_sim: str) -> None:
    got: list[dict[str, Any]] = []
    lock = threading.Lock()

    def keep(m: dict[str, Any]) -> None:
        with lock:
            got.append(copy.deepcopy(m))  # pybit hands on its one book, changed in place

    ws = unified.WebSocket(testnet=False, channel_type="spot")
    try:
        ws.orderbook_stream(depth=50, symbol="BTCUSDT", callback=keep)
        _wait(lambda: len(got) >= 4, "a snapshot and three deltas")
    finally:
        ws.exit()
    with lock:
        books = [m for m in got if m.get("topic") == "orderbook.50.BTCUSDT"]
    # pybit applies each delta to its own book and hands on the whole book (as a "snapshot")
    assert all(m["type"] == "snapshot" for m in books)
    assert books[0]["data"]["b"]
    assert books[0]["data"]["a"]
    for m in books:
        bids = [float(p) for p, q in m["data"]["b"] if float(q) > 0]
        asks = [float(p) for p, q in m["data"]["a"] if float(q) > 0]
        assert len(bids) == len(m["data"]["b"])
        assert len(asks) == len(m["data"]["a"])
        assert bids == sorted(bids, reverse=True)
        assert asks == sorted(asks)
        assert bids[0] < asks[0]
    assert len({str(m["data"]) for m in books}) > 1, "the deltas moved the book"


def test_pybit_private_stream_hears_its_order(at_sim: str) -> None:
    orders: list[dict[str, Any]] = []
    http = unified.HTTP(api_key=DEMO_KEY, api_secret=DEMO_SECRET, max_retries=1)
    http.endpoint = at_sim
    ws = unified.WebSocket(testnet=False, channel_type="private", api_key=DEMO_KEY, api_secret=DEMO_SECRET)
    try:
        ws.order_stream(callback=lambda m: orders.extend(m["data"]))
        time.sleep(0.2)  # the subscription reaches the simulator before the order does
        bid = http.get_orderbook(category="spot", symbol="BTCUSDT")["result"]["b"][0][0]
        price = f"{float(bid) - 300:.2f}"
        http.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001",
                         price=price, orderLinkId="pybit-ws-1")  # fmt: skip
        _wait(lambda: any(o["orderLinkId"] == "pybit-ws-1" for o in orders), "the order on the stream")
        http.cancel_order(category="spot", symbol="BTCUSDT", orderLinkId="pybit-ws-1")
        _wait(lambda: any(o["orderStatus"] == "Cancelled" for o in orders), "the cancel on the stream")
    finally:
        ws.exit()
    first = next(o for o in orders if o["orderLinkId"] == "pybit-ws-1")
    assert (first["orderStatus"], first["price"], first["qty"], first["category"]) == (
        "New",
        price,
        "0.001",
        "spot",
    )
