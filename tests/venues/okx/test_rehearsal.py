"""The OKX order rehearsal (`OkxConnector.rehearse`, `trader.venues.base.Rehearses`) against the simulator:
the request it builds is, byte for byte, the one `submit` then sends (REST: the signed `POST trade/order`;
WebSocket: the `order` op's frame, down to the next request id), and rehearsing a thousand times sends
nothing, takes no quota, no request id and no future, and logs nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.helpers import FrozenClock, gate_approval
from tests.venues.okx.test_connector import first
from trader.clock import LiveClock
from trader.core import Approval, Side
from trader.venues import registry
from trader.venues.base import BookUpdate, OrderReport, OrderState
from trader.venues.okx import OkxConnector

ORDER = b"POST /api/v5/trade/order "
SYMBOLS = {"spot": "BTC-USDT", "swap": "BTC-USDT-SWAP"}

WALL = LiveClock()


@asynccontextmanager
async def venue(market: str, entry: str) -> AsyncIterator[tuple[Any, OkxConnector, Approval]]:
    """The simulator, a connected connector on a frozen wall clock, and an order that rests."""
    server = registry.simulator("okx", seed=7, clock=LiveClock(), step_ms=20)
    await server.start(port=0)
    symbol = SYMBOLS[market]
    conn = registry.loopback_connector(
        server.url, symbol=symbol, clock=FrozenClock(), venue="okx", market=market, order_entry=entry
    )
    try:
        await conn.connect()
        top = await first(conn, lambda e: isinstance(e, BookUpdate) and bool(e.bid and e.ask))
        price = top.bid - 500  # fifty dollars under the bid: it rests
        a = gate_approval(conn.spec, symbol, Side.BUY, price, 100, bid=price, ask=price + 1, now_ns=1)
        yield server, conn, a
    finally:
        await conn.close()
        await server.stop()


def _sent_frames(conn: OkxConnector, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What goes out on the private WebSocket from now on (login and subscriptions came before)."""
    frames: list[bytes] = []
    ws = conn._private_ws
    assert ws is not None
    send = ws.send

    async def recording(data: bytes | str) -> None:
        frames.append(data if isinstance(data, bytes) else data.encode())
        await send(data)

    monkeypatch.setattr(ws, "send", recording)
    return frames


def _quota_use(conn: OkxConnector) -> list[Any]:
    """Every local quota's use: the endpoint groups' and each endpoint's own."""
    now = conn.clock.now_ns()
    groups = [h.usage(now) for h in conn._http.values()]
    endpoints = [conn._limiter.usage(q, now) for q in conn._endpoint_quota.values()]
    return [*groups, *endpoints]


def _built(conn: OkxConnector, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The order requests the connector builds from now on: the `POST trade/order` bytes `_h11` encodes
    (a sent request's are what it writes) and the frames of `okx.connector.ws_frame` (the rehearsal's
    and `ws_op`'s)."""
    from trader.venues.okx import connector

    built: list[bytes] = []
    place = conn.http("place")._conn
    encode, frame = place.encode, connector.ws_frame

    def encoding(*args: Any) -> bytes:
        out: bytes = encode(*args)
        if out.startswith(ORDER):
            built.append(out)
        return out

    def framing(rid: str, op: str, args: list[dict[str, str]]) -> bytes:
        out = frame(rid, op, args)
        built.append(out)
        return out

    monkeypatch.setattr(place, "encode", encoding)
    monkeypatch.setattr(connector, "ws_frame", framing)
    return built


@pytest.mark.parametrize(("market", "entry"), [("spot", "rest"), ("spot", "ws"), ("swap", "ws")])
def test_the_rehearsed_request_is_the_one_submit_sends(
    market: str, entry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REST: the bytes encoded for the rehearsal and for `submit` (which writes what it encodes).
    WebSocket: the rehearsal's frame and the frame written to the private socket; the request id is the
    next one in both (the rehearsal does not take it), so the frames are equal whole."""

    async def go() -> None:
        async with venue(market, entry) as (_, conn, a):
            symbol = SYMBOLS[market]
            built, frames = _built(conn, monkeypatch), _sent_frames(conn, monkeypatch)
            size = conn.rehearse(a, "rh-1", symbol)
            assert len(built) == 1, "one request built"
            rehearsed = built.pop()
            await conn.submit(a, "rh-1", symbol)
            opened = await first(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "rh-1")
            assert opened.state is OrderState.OPEN
            sent = [f for f in frames if b'"op":"order"' in f] if entry == "ws" else built
            assert len(sent) == 1, "submit sent the order once"
            assert rehearsed == sent[0], "the rehearsal built the very request submit sent"
            assert size == len(rehearsed)
            assert b'"clOrdId":"rh-1"' in rehearsed
            if entry == "rest":
                assert b"OK-ACCESS-SIGN: " in rehearsed
                assert b"OK-ACCESS-TIMESTAMP: " in rehearsed

    asyncio.run(WALL.wait_for(go(), 20))


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_rehearsing_sends_nothing_and_takes_nothing(
    entry: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A thousand rehearsals: the simulator counts no request and holds no new order, no frame goes out
    on the private socket, every local quota is as it was, no request id, future or post-only wait is
    taken, nothing is logged; then the real order is the first the venue sees."""

    async def go() -> None:
        async with venue("spot", entry) as (server, conn, a):
            frames = _sent_frames(conn, monkeypatch)
            requests, state = dict(server.requests), server.state()
            quotas, ids = _quota_use(conn), conn._ws_ids
            with caplog.at_level(logging.DEBUG, logger="trader"):
                sizes = {conn.rehearse(a, "rh-quiet", "BTC-USDT") for _ in range(1000)}
                await WALL.sleep(0.1)  # anything written would have reached the venue by now
            assert len(sizes) == 1, "the same request every time"
            assert min(sizes) > 0
            assert not [r for r in caplog.records if r.name.startswith("trader.venues")], "nothing logged"
            assert dict(server.requests) == requests, "no HTTP request"
            assert server.state() == state, "no order reached the venue (REST or WebSocket)"
            assert frames == [], "nothing written on the private WebSocket"
            assert _quota_use(conn) == quotas, "no local quota used"
            assert (conn._ws_ids, conn._ws_pending, conn._first) == (ids, {}, {}), "nothing taken"
            await conn.submit(a, "rh-quiet", "BTC-USDT")
            assert server.state()["submits"] == {**state["submits"], "rh-quiet": 1}
            assert _quota_use(conn) != quotas, "submit takes the quota a rehearsal leaves"

    asyncio.run(WALL.wait_for(go(), 20))
