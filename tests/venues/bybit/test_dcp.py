"""Bybit's disconnect cancel protection (DCP) against the simulator's model of it: used where the account
has it (`query-dcp-info` at connect; the connector then states a dead-man switch and may set the window),
it cancels our resting orders once every private connection subscribed to `dcp.spot` / `dcp.future` has
been gone for the window, and not when the stream comes back within it; an account without DCP (or
`dcp=False`) leaves the engine's watchdog as the fallback. The simulator's clock
is jumped past the window (`ShiftedClock.set`) instead of waiting it out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.venues.bybit.test_connector import approve, next_of, sync
from trader.clock import LiveClock, ShiftedClock
from trader.core import Side
from trader.sim.bybit import BybitSimServer
from trader.sim.faults import Faults
from trader.venues.base import OrderReport, OrderState, Stream, StreamStatus
from trader.venues.bybit import BybitConnector, loopback

WINDOW_S = 3


@asynccontextmanager
async def venue(
    *, enabled: bool = True, category: str = "spot", **kw: Any
) -> AsyncIterator[tuple[BybitSimServer, BybitConnector, ShiftedClock]]:
    clock = LiveClock()
    venue_clock = ShiftedClock(clock.now_ns())
    server = BybitSimServer(seed=4, step_ms=20, clock=venue_clock, dcp_enabled=enabled)
    await server.start(port=0)
    options: dict[str, Any] = {"dcp_window_s": WINDOW_S, **kw}
    conn = loopback(
        server.url, symbol="BTCUSDT", clock=clock, market_data=False, category=category, **options
    )
    try:
        await conn.connect()
        yield server, conn, venue_clock
    finally:
        await conn.close()
        await server.stop()


async def _dropped(server: BybitSimServer, conn: BybitConnector, *, come_back: bool) -> None:
    if not come_back:
        server.faults = Faults(paths=("GET /v5/private",), error_5xx_rate=1.0)
    assert server.drop_streams("/v5/private") == 1
    down = await next_of(conn, StreamStatus, lambda s: s.stream is Stream.PRIVATE)
    assert not down.up
    await LiveClock().sleep(0.1)  # the simulator sees the connection gone
    if come_back:
        up = await next_of(conn, StreamStatus, lambda s: s.stream is Stream.PRIVATE)
        assert up.up


@pytest.mark.parametrize("category", ["spot", "linear"])
def test_dcp_is_armed_and_cancels_when_the_private_stream_stays_gone(category: str) -> None:
    @sync
    async def run() -> None:
        async with venue(category=category) as (server, conn, venue_clock):
            assert conn.dcp_armed
            assert conn.capabilities.dead_man_switch, "the engine leaves it to the venue"
            product = "SPOT" if category == "spot" else "DERIVATIVES"
            assert server.dcp.windows[product] == WINDOW_S, "the window set at connect"
            assert conn.private is not None
            topic = "dcp.spot" if category == "spot" else "dcp.future"
            assert conn.private.dcp_topic == topic
            assert conn.private.dcp_subscribed
            assert any(topic in subs for subs in server.private.values()), "subscribed on its own"
            assert topic not in conn.private.topics
            price = 4_000_000 if category == "spot" else 400_000
            await conn.submit(
                approve(conn, Side.BUY, price, 1000 if category == "spot" else 10), "dcp-1", "BTCUSDT"
            )
            await _dropped(server, conn, come_back=False)
            venue_clock.set(venue_clock.now_ns() + (WINDOW_S + 1) * 1_000_000_000)
            await LiveClock().sleep(0.1)
            assert server.dcp.fired == 1
            assert not [o for o in server.ex.orders.values() if o.open]
            server.faults = Faults()
            venue_clock.set(LiveClock().now_ns())
            closed = await next_of(
                conn, OrderReport, lambda r: r.client_id == "dcp-1" and r.state is not OrderState.OPEN
            )
            assert closed.state is OrderState.CANCELED, "the catch-up after the reconnect reports it"

    run()


@sync
async def test_dcp_does_not_fire_when_the_stream_is_back_within_the_window() -> None:
    async with venue() as (server, conn, venue_clock):
        await conn.submit(approve(conn, Side.BUY, 4_000_000, 1000), "dcp-2", "BTCUSDT")
        await _dropped(server, conn, come_back=True)
        venue_clock.set(venue_clock.now_ns() + (WINDOW_S + 1) * 1_000_000_000)
        await LiveClock().sleep(0.1)
        venue_clock.set(LiveClock().now_ns())
        assert server.dcp.fired == 0
        assert [o.link_id for o in server.ex.orders.values() if o.open] == ["dcp-2"]


@sync
async def test_an_account_without_dcp_keeps_the_engines_watchdog() -> None:
    async with venue(enabled=False) as (server, conn, _):
        assert not conn.dcp_armed
        assert not conn.capabilities.dead_man_switch
        assert server.requests["GET /v5/account/query-dcp-info"] == 1
        assert server.requests["POST /v5/order/disconnected-cancel-all"] == 0
        assert conn.private is not None
        assert conn.private.dcp_topic == ""
        assert not any(t.startswith("dcp") for subs in server.private.values() for t in subs)


@sync
async def test_dcp_on_the_accounts_window_or_turned_off() -> None:
    async with venue(dcp_window_s=None) as (server, conn, _):
        assert conn.dcp_armed
        assert conn.capabilities.dead_man_switch
        assert server.dcp.windows == {"SPOT": 10, "DERIVATIVES": 10}, "the account's window, unchanged"
        assert server.requests["POST /v5/order/disconnected-cancel-all"] == 0
    async with venue(dcp_window_s=None, dcp=False) as (server, conn, _):
        assert not conn.dcp_armed
        assert not conn.capabilities.dead_man_switch
        assert server.requests["GET /v5/account/query-dcp-info"] == 0


def test_dcp_window_bounds_and_the_stream_it_needs() -> None:
    for bad in (
        {"dcp_window_s": 2},
        {"dcp_window_s": 301},
        {"dcp_window_s": 10, "private_stream": False},
        {"dcp_window_s": 10, "dcp": False},
    ):
        with pytest.raises(ValueError, match="dcp"):
            loopback("http://127.0.0.1:9", symbol="BTCUSDT", clock=LiveClock(), **bad)
