"""Alpaca's order rehearsal (issue 18, `trader.venues.base.Rehearses`) against the loopback simulator: the
request it builds is byte for byte the one `submit` then sends (the key headers carry no time or nonce),
and rehearsing sends, records and charges nothing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.helpers import record_requests
from tests.venues.test_alpaca_connector import CENT, approve, venue
from trader.core import Side
from trader.sim.alpaca import AlpacaSimServer
from trader.venues.alpaca import AlpacaConnector
from trader.venues.base import Rehearses

ORDER = "POST /v2/orders"


def test_alpaca_rehearses_the_very_request_it_then_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    async def go() -> None:
        async with venue() as (server, conn):
            assert isinstance(conn, Rehearses)
            built = record_requests(conn._http, monkeypatch, b"POST /v2/orders ")
            a = approve(conn, "SPY", Side.BUY, 440 * 100 * CENT, 3)  # far below the market: it rests
            size = conn.rehearse(a, "r-1", "SPY")
            assert server.requests[ORDER] == 0
            await conn.submit(a, "r-1", "SPY")
            assert server.requests[ORDER] == 1
            rehearsed, sent = built
            assert rehearsed == sent
            assert size == len(sent)
            assert b'"client_order_id":"r-1"' in sent
            assert b'"limit_price":"440.00"' in sent

    asyncio.run(go())


def test_alpaca_rehearsals_send_record_and_charge_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Five hundred rehearsals: no request leaves (none is even started: nothing can run between them),
    the rate-limit quota is untouched, no id is remembered and nothing is logged; the order is then
    sent once, under the client id the rehearsals used."""

    def state(server: AlpacaSimServer, conn: AlpacaConnector, now: int) -> tuple[Any, ...]:
        usage = conn._limiter.usage(conn._quota, now)
        return dict(server.requests), usage, dict(conn._ids), set(conn._open), dict(conn._cids)

    async def go() -> None:
        async with venue() as (server, conn):
            a = approve(conn, "QQQ", Side.BUY, 300 * 100 * CENT, 2)  # far below the market: it rests
            await conn.clock.sleep(0.1)  # the streams are up
            now = conn.clock.now_ns()
            before = state(server, conn, now)
            with caplog.at_level(logging.DEBUG):
                sizes = {conn.rehearse(a, "r-2", "QQQ") for _ in range(500)}
            assert not caplog.records, "a rehearsal logs nothing"
            assert len(sizes) == 1
            assert sizes.pop() > 0
            await conn.clock.sleep(0.1)  # anything written would have reached the simulator by now
            assert state(server, conn, now) == before
            ack = await conn.submit(a, "r-2", "QQQ")
            assert server.requests[ORDER] == before[0].get(ORDER, 0) + 1
            assert conn._ids == {"r-2": ack.venue_order_id}

    asyncio.run(go())
