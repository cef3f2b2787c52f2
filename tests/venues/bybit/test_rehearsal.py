"""The Bybit order rehearsal (`BybitConnector.rehearse`, `trader.venues.base.Rehearses`) against the
simulator: the request it builds is, byte for byte, the one `submit` then sends (REST: the signed `POST
/v5/order/create`; trade WebSocket: the `order.create` frame with its timestamp header, down to the next
reqId), and rehearsing a thousand times sends nothing, takes no quota, no reqId, watches no order and
logs nothing."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.helpers import FrozenClock, gate_approval
from tests.venues.bybit.test_connector import next_of
from trader.clock import LiveClock
from trader.core import Approval, Side
from trader.sim.bybit import BybitSimServer
from trader.venues.base import BookUpdate, OrderReport, OrderState
from trader.venues.bybit import BybitConnector, loopback_connector

ORDER = b"POST /v5/order/create "

WALL = LiveClock()


@asynccontextmanager
async def venue(category: str, entry: str) -> AsyncIterator[tuple[BybitSimServer, BybitConnector, Approval]]:
    """The simulator, a connected connector on a frozen wall clock, and an order that rests."""
    server = BybitSimServer(seed=9, step_ms=20, clock=LiveClock())
    await server.start(port=0)
    conn = loopback_connector(
        server.url, symbol="BTCUSDT", clock=FrozenClock(), category=category, order_entry=entry
    )
    try:
        await conn.connect()
        bid = (await next_of(conn, BookUpdate, lambda e: bool(e.bid and e.ask))).bid
        assert bid is not None
        price = bid - bid // 100  # 1% under the bid: it rests
        qty = 1000 if category == "spot" else 10
        spec = conn.trading_spec()
        a = gate_approval(spec, "BTCUSDT", Side.BUY, price, qty, bid=price, ask=price + 1, now_ns=1)
        yield server, conn, a
    finally:
        await conn.close()
        await server.stop()


def _built(conn: BybitConnector, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The order requests the connector builds from now on: the `POST /v5/order/create` bytes `_h11`
    encodes (a sent request's are what it writes) and the trade WebSocket's frames (`TradeSession.frame`:
    the rehearsal's and `request`'s)."""
    built: list[bytes] = []
    http = conn._http._conn
    encode = http.encode

    def encoding(*args: Any) -> bytes:
        out: bytes = encode(*args)
        if out.startswith(ORDER):
            built.append(out)
        return out

    monkeypatch.setattr(http, "encode", encoding)
    if conn.trade is not None:
        frame = conn.trade.frame

        def framing(rid: str, op: str, args: list[dict[str, Any]]) -> bytes:
            out = frame(rid, op, args)
            built.append(out)
            return out

        monkeypatch.setattr(conn.trade, "frame", framing)
    return built


def _sent_frames(conn: BybitConnector, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What goes out on the trade WebSocket from now on (its login came before); [] without one."""
    frames: list[bytes] = []
    if conn.trade is None:
        return frames
    ws = conn.trade.ws
    send = ws.send

    async def recording(data: bytes | str) -> None:
        frames.append(data if isinstance(data, bytes) else data.encode())
        await send(data)

    monkeypatch.setattr(ws, "send", recording)
    return frames


def _quota_use(conn: BybitConnector) -> list[Any]:
    """The local quotas' use: orders (REST and trade WebSocket) and reads."""
    now = conn.clock.now_ns()
    return [conn._http.usage(now), conn._reads.usage(now)]


@pytest.mark.parametrize(("category", "entry"), [("spot", "rest"), ("spot", "ws"), ("linear", "ws")])
def test_the_rehearsed_request_is_the_one_submit_sends(
    category: str, entry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REST: the bytes encoded for the rehearsal and for `submit` (which writes what it encodes).
    Trade WebSocket: the rehearsal's frame and the frame written to the socket; the reqId is the next one
    in both (the rehearsal does not take it), so the frames are equal whole."""

    async def go() -> None:
        async with venue(category, entry) as (_, conn, a):
            built, frames = _built(conn, monkeypatch), _sent_frames(conn, monkeypatch)
            size = conn.rehearse(a, "rh-1", "BTCUSDT")
            assert len(built) == 1, "one request built"
            rehearsed = built.pop()
            await conn.submit(a, "rh-1", "BTCUSDT")
            opened = await next_of(conn, OrderReport, lambda e: e.client_id == "rh-1")
            assert opened.state is OrderState.OPEN
            sent = [f for f in frames if b'"op":"order.create"' in f] if entry == "ws" else built
            assert len(sent) == 1, "submit sent the order once"
            assert rehearsed == sent[0], "the rehearsal built the very request submit sent"
            assert size == len(rehearsed)
            assert re.search(rb'"orderLinkId": ?"rh-1"', rehearsed)
            if entry == "rest":
                assert b"X-BAPI-SIGN: " in rehearsed
                assert b"X-BAPI-TIMESTAMP: " in rehearsed
            else:
                assert b'"X-BAPI-TIMESTAMP":' in rehearsed

    asyncio.run(WALL.wait_for(go(), 20))


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_rehearsing_sends_nothing_and_takes_nothing(
    entry: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A thousand rehearsals: the simulator counts no HTTP request and no trade op and holds no new
    order, no frame goes out on the trade socket, the local quotas are as they were, no reqId is taken,
    no order watched, nothing logged; then the real order is the first the venue sees."""

    async def go() -> None:
        async with venue("spot", entry) as (server, conn, a):
            frames = _sent_frames(conn, monkeypatch)
            requests, ops, orders = dict(server.requests), server.trade.ops, server.state()["orders"]
            quotas, poller = _quota_use(conn), conn.poller
            assert poller is not None
            watched = set(poller._watch)
            trade = (conn.trade.next_id(), conn.trade.requests) if conn.trade is not None else None
            with caplog.at_level(logging.DEBUG, logger="trader"):
                sizes = {conn.rehearse(a, "rh-quiet", "BTCUSDT") for _ in range(1000)}
                await WALL.sleep(0.1)  # anything written would have reached the venue by now
            assert len(sizes) == 1, "the same request every time"
            assert min(sizes) > 0
            assert not [r for r in caplog.records if r.name.startswith("trader.venues")], "nothing logged"
            assert dict(server.requests) == requests, "no HTTP request"
            assert server.trade.ops == ops, "no trade WebSocket op"
            assert server.state()["orders"] == orders, "no order reached the venue"
            assert frames == [], "nothing written on the trade WebSocket"
            assert _quota_use(conn) == quotas, "no local quota used"
            assert poller._watch == watched, "no order watched"
            if conn.trade is not None:
                assert (conn.trade.next_id(), conn.trade.requests) == trade, "no reqId taken"
                assert conn.trade._pending == {}, "no answer awaited"
            await conn.submit(a, "rh-quiet", "BTCUSDT")
            assert len(server.state()["orders"]) == len(orders) + 1
            assert _quota_use(conn) != quotas, "submit takes the quota a rehearsal leaves"

    asyncio.run(WALL.wait_for(go(), 20))
