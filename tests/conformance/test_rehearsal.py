"""The order rehearsal (issue 18, `trader.venues.base.Rehearses`), for every venue against its simulator.
Under `--busy-poll` the engine has the connector rehearse the last order about every millisecond
(`trader.engine.rehearsal`), so every connector must: build that order's request as `submit` would, up to
the socket, and send nothing, record nothing and use no rate-limit quota. Here: rehearsed two hundred
times, the venue sees no request; the order then sent is accepted, and over HTTP goes to the endpoint the
rehearsal built its request for."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.cases import Case, venues
from tests.conformance.harness import Harness, Need, next_event
from tests.conformance.test_orders import report_of
from trader.core import Side
from trader.venues import _h11
from trader.venues.base import OrderState, Rehearses


def rehearses(conn: object) -> bool:
    return isinstance(conn, Rehearses)


async def rehearsal(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[bytes] = []
    encode = _h11.Client.encode

    def recording(self: Any, *a: Any) -> bytes:
        out = encode(self, *a)
        method, target, _ = out.split(b"\r\n", 1)[0].split(b" ")
        built.append(method + b" " + target.split(b"?", 1)[0])  # the endpoint: method and path
        return out

    async with h.open() as live:
        conn = live.conn
        assert rehearses(conn), f"{type(conn).__name__} does not rehearse orders"
        top = await h.top(live)
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
        before = h.order_requests(live)
        monkeypatch.setattr(_h11.Client, "encode", recording)
        sizes = [conn.rehearse(a, "conf-rehearsed", live.symbol) for _ in range(200)]
        rehearsed = list(built)
        assert all(n > 0 for n in sizes), "the size of the request built"
        await live.clock.sleep(0.2)  # anything written would have reached the venue by now
        assert h.order_requests(live) == before, "a rehearsal sent nothing"
        built.clear()
        await conn.submit(a, "conf-rehearsed", live.symbol)
        sent = list(built)
        monkeypatch.undo()
        assert h.order_requests(live) == before + 1
        opened = await next_event(conn, report_of("conf-rehearsed"))
        assert opened.state is OrderState.OPEN
        if rehearsed or sent:  # over HTTP: one request per rehearsal, for the endpoint submit uses
            assert len(rehearsed) == 200
            assert set(rehearsed) == {sent[-1]}
        await conn.cancel("conf-rehearsed")


@pytest.mark.parametrize("case", venues(Need.LIMIT))
def test_a_rehearsed_order_is_built_never_sent(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    case.run(lambda h: rehearsal(h, monkeypatch))
