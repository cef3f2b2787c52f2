"""An order round trip over loopback through the Binance connector and the simulator: from `submit` to
the venue's acknowledgement, by REST and by the WebSocket API, against python-binance's AsyncClient
placing the same order on the same simulator in the same run. Our connector runs as an order-entry
connector (`market_data=False, private_stream=False`), like the SDK client it is compared with: the
simulator shares this interpreter, so every stream message it publishes would be timed against us.

The simulator runs in its own thread and event loop (a venue is another process, not a coroutine of
ours); each round places one post-only order far from the touch (timed) and cancels it (untimed).
p50 and p99 go to `extra_info` and RESULTS.md shows the medians.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from tests.venues.test_binance_connector import approve

from trader.clock import LiveClock
from trader.core import Side
from trader.sim.binance import BinanceSimServer
from trader.sim.server import SimThread
from trader.venues.binance import BinanceConnector
from trader.venues.registry import SIM_API_KEY, SIM_SECRET, loopback_connector

CLOCK = LiveClock()
ROUNDS = 300


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    s = SimThread(BinanceSimServer(seed=5, clock=CLOCK, weight_limit=10_000_000, orders_per_10s=1_000_000))
    yield s
    s.close()


def _percentiles(benchmark: Any) -> None:
    stats = getattr(benchmark, "stats", None)
    data = sorted(getattr(getattr(stats, "stats", None), "data", []) or [])
    if data:
        benchmark.extra_info["p50_us"] = round(data[len(data) // 2] * 1e6, 1)
        benchmark.extra_info["p99_us"] = round(data[min(len(data) - 1, len(data) * 99 // 100)] * 1e6, 1)


def _ours(benchmark: Any, sim: SimThread, order_entry: str, min_ratio: float | None) -> None:
    loop = asyncio.new_event_loop()
    conn: BinanceConnector = loopback_connector(
        sim.server.url,
        symbol="BTCUSDT",
        clock=CLOCK,
        order_entry=order_entry,
        market_data=False,
        private_stream=False,
    )
    loop.run_until_complete(conn.connect())
    spec = conn.trading_spec()
    ids = itertools.count()
    last: list[str] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if last:
            loop.run_until_complete(conn.cancel(last.pop()))
        cid = f"rt-{order_entry}-{next(ids)}"
        last.append(cid)
        return (approve(spec, Side.BUY, 4_000_000, spec.lot * 10), cid), {}

    def place(a: Any, cid: str) -> str:
        return loop.run_until_complete(conn.submit(a, cid, "BTCUSDT")).client_id

    info: dict[str, Any] = {"role": "ours"}
    if min_ratio is not None:
        info["min_ratio"] = min_ratio
    benchmark.extra_info.update(info)
    try:
        result = benchmark.pedantic(place, setup=setup, rounds=ROUNDS, warmup_rounds=5)
        assert result == last[-1]
        _percentiles(benchmark)
    finally:
        loop.run_until_complete(conn.cancel_all())
        loop.run_until_complete(conn.close())
        loop.close()


@pytest.mark.benchmark(group="binance.order_round_trip_rest")
def test_ours_rest_round_trip(benchmark: Any, sim: SimThread) -> None:
    # both sides use aiohttp and the simulator's own work dominates the round trip (it shares the
    # interpreter); the Rust signer saves ~8 us of ~400 us. The WebSocket API is the fast path.
    _ours(benchmark, sim, "rest", 1.0)


@pytest.mark.benchmark(group="binance.order_round_trip_ws_api")
def test_ours_ws_api_round_trip(benchmark: Any, sim: SimThread) -> None:
    _ours(benchmark, sim, "ws", 1.0)


def _python_binance(benchmark: Any, sim: SimThread, prefix: str) -> None:
    from binance.async_client import AsyncClient

    loop = asyncio.new_event_loop()

    async def make() -> Any:
        client = AsyncClient(SIM_API_KEY, SIM_SECRET)
        client.API_URL = f"{sim.server.url}/api"
        return client

    client = loop.run_until_complete(make())
    ids = itertools.count()
    last: list[str] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if last:
            loop.run_until_complete(client.cancel_order(symbol="BTCUSDT", origClientOrderId=last.pop()))
        cid = f"{prefix}-{next(ids)}"
        last.append(cid)
        return (cid,), {}

    def place(cid: str) -> str:
        body = loop.run_until_complete(
            client.create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT_MAKER",
                price="40000.00",
                quantity="0.010",
                newClientOrderId=cid,
                newOrderRespType="ACK",
                selfTradePreventionMode="EXPIRE_MAKER",
            )
        )
        return str(body["clientOrderId"])

    benchmark.extra_info["role"] = "baseline"
    try:
        assert benchmark.pedantic(place, setup=setup, rounds=ROUNDS, warmup_rounds=5) == last[-1]
        _percentiles(benchmark)
    finally:
        if last:
            loop.run_until_complete(client.cancel_order(symbol="BTCUSDT", origClientOrderId=last.pop()))
        loop.run_until_complete(client.close_connection())
        loop.close()


@pytest.mark.benchmark(group="binance.order_round_trip_rest")
def test_python_binance_async_rest_round_trip(benchmark: Any, sim: SimThread) -> None:
    _python_binance(benchmark, sim, "pb-rest")


@pytest.mark.benchmark(group="binance.order_round_trip_ws_api")
def test_python_binance_async_rest_round_trip_vs_ws(benchmark: Any, sim: SimThread) -> None:
    _python_binance(benchmark, sim, "pb-ws")
