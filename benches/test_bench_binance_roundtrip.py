"""An order round trip over loopback through the Binance connector and the simulator: from `submit` to
the venue's acknowledgement, by REST and by the WebSocket API, against python-binance's AsyncClient
placing the same order on the same simulator in the same run. Our connector runs as an order-entry
connector (`market_data=False, private_stream=False`), like the SDK client it is compared with: the
simulator shares this interpreter, so every stream message it publishes would be timed against us.

The simulator runs in its own process (`benches.simproc`: a venue is another process; on a thread of
ours its work would be timed as the client's); each round places one post-only order far from the touch
(timed) and cancels it (untimed). The WebSocket API is compared with python-binance's own WebSocket API
order call (`ws_create_order`). p50 and p99 go to `extra_info` and RESULTS.md shows the medians.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from tests.venues.test_binance_connector import approve

from benches.simproc import SimProcess
from trader.clock import LiveClock
from trader.core import Side
from trader.venues.binance import BinanceConnector
from trader.venues.registry import SIM_API_KEY, SIM_SECRET, loopback_connector

CLOCK = LiveClock()
ROUNDS = 300


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    s = SimProcess(seed=5)
    yield s
    s.close()


def _percentiles(benchmark: Any) -> None:
    stats = getattr(benchmark, "stats", None)
    data = sorted(getattr(getattr(stats, "stats", None), "data", []) or [])
    if data:
        benchmark.extra_info["p50_us"] = round(data[len(data) // 2] * 1e6, 1)
        benchmark.extra_info["p99_us"] = round(data[min(len(data) - 1, len(data) * 99 // 100)] * 1e6, 1)


def _ours(benchmark: Any, sim: SimProcess, order_entry: str, min_ratio: float | None) -> None:
    loop = asyncio.new_event_loop()
    conn: BinanceConnector = loopback_connector(
        sim.url,
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
def test_ours_rest_round_trip(benchmark: Any, sim: SimProcess) -> None:
    _ours(benchmark, sim, "rest", 2.0)


@pytest.mark.benchmark(group="binance.order_round_trip_ws_api")
def test_ours_ws_api_round_trip(benchmark: Any, sim: SimProcess) -> None:
    _ours(benchmark, sim, "ws", 2.5)


def _python_binance(benchmark: Any, sim: SimProcess, prefix: str, *, ws: bool = False) -> None:
    from binance.async_client import AsyncClient
    from binance.ws.websocket_api import WebsocketAPI

    loop = asyncio.new_event_loop()

    async def make() -> Any:
        client = AsyncClient(SIM_API_KEY, SIM_SECRET)
        client.API_URL = f"{sim.url}/api"
        client.ws_api = WebsocketAPI(url=f"{sim.ws_url}/ws-api/v3")
        client.ws_api.TIMEOUT = 0.2  # how long its read loop waits before it sees the close (default 10 s)
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

    create = client.ws_create_order if ws else client.create_order

    def place(cid: str) -> str:
        body = loop.run_until_complete(
            create(
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
def test_python_binance_async_rest_round_trip(benchmark: Any, sim: SimProcess) -> None:
    _python_binance(benchmark, sim, "pb-rest")


@pytest.mark.benchmark(group="binance.order_round_trip_ws_api")
def test_python_binance_async_ws_api_round_trip(benchmark: Any, sim: SimProcess) -> None:
    _python_binance(benchmark, sim, "pb-ws", ws=True)
