"""Kraken's order rehearsal (issue 18, `trader.venues.base.Rehearses`): `rehearse` builds AddOrder as `submit`
then sends it (signed with the nonce the next request takes, left untaken) or the `add_order` frame for
WebSocket order entry, and sends nothing, takes no nonce, charges no rate counter and records nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import FrozenClock, gate_approval
from tests.venues.kraken.test_connector import venue
from trader.clock import LiveClock
from trader.core import Approval, Side
from trader.sim.kraken import KrakenSimServer
from trader.venues.base import Rehearses
from trader.venues.kraken import KrakenConnector

WALL = LiveClock()
XBT = "XBTUSD"
ADD_ORDER = "POST /0/private/AddOrder"
QUIET: dict[str, Any] = {"market_data": False, "dead_man_s": 0}  # orders only: no book, no dead-man switch


def approval(conn: KrakenConnector, sim: KrakenSimServer, qty: int = 100_000) -> Approval:
    """A post-only buy well below the market: it rests."""
    bid, _ = sim.top()
    spec = conn.spec(XBT)
    return gate_approval(
        spec, XBT, Side.BUY, bid - 500, qty, bid=bid, ask=bid + 1, now_ns=WALL.now_ns(), post_only=True
    )


def sent_frames(
    conn: KrakenConnector, monkeypatch: pytest.MonkeyPatch, frames: list[bytes | str] | None = None
) -> list[bytes | str]:
    """Every frame the connector writes to its private socket from now on (into `frames`)."""
    stream = conn.executions
    assert stream is not None
    frames = [] if frames is None else frames
    send = stream.ws.send

    async def sending(data: bytes | str) -> None:
        frames.append(data)
        await send(data)

    monkeypatch.setattr(stream.ws, "send", sending)
    return frames


def recording(build: Callable[..., bytes], into: list[bytes], keep: Callable[[bytes], bool]) -> Any:
    def wrapper(*a: Any) -> bytes:
        out = build(*a)
        if keep(out):
            into.append(out)
        return out

    return wrapper


def run(body: Callable[[], Any]) -> None:
    asyncio.run(WALL.wait_for(body(), 20))


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_the_rehearsal_is_the_request_submit_then_sends(entry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """At one instant of the wall clock, the rehearsed request and the one `submit` sends are the same
    bytes: over REST the signed AddOrder (its nonce the one the sent request then takes), over the socket
    the `add_order` frame but for its request id (which only a sent request takes)."""
    built: list[bytes] = []  # AddOrder's request bytes, or the add_order frames: the rehearsed, the sent
    stored: list[int] = []
    frames: list[bytes | str] = []

    async def body() -> None:
        async with venue(clock=FrozenClock(), **QUIET, order_entry=entry, nonce_store=stored.append) as (
            sim,
            conn,
        ):
            assert isinstance(conn, Rehearses)
            http = conn._http._conn
            adds = recording(http.encode, built, lambda out: b"/0/private/AddOrder " in out.split(b"\r\n")[0])
            monkeypatch.setattr(http, "encode", adds)
            stream = conn.executions
            assert stream is not None
            monkeypatch.setattr(stream, "frame", recording(stream.frame, built, lambda _: True))
            sent_frames(conn, monkeypatch, frames)
            a = approval(conn, sim)
            nonce, persisted = conn.last_nonce, len(stored)
            size = conn.rehearse(a, "k-r", XBT)
            assert (conn.last_nonce, len(stored)) == (nonce, persisted), "no nonce taken or persisted"
            assert sim.requests[ADD_ORDER] == 0
            assert frames == []
            ack = await conn.submit(a, "k-r", XBT)
            assert sim.orders[ack.venue_order_id].cl_ord_id == "k-r"
            assert sim.requests[ADD_ORDER] == (1 if entry == "rest" else 0)
            assert size == len(built[0])
            if entry == "rest":
                assert b"nonce=%d&" % conn.last_nonce in built[0], "the nonce the sent request then took"

    run(body)
    rehearsed, sent = built
    if entry == "ws":
        assert frames == [sent], "the frame built is the frame sent"
        assert rehearsed.endswith(b',"req_id":0}'), "a rehearsal takes no request id"
        rehearsed, sent = (re.sub(rb',"req_id":\d+\}$', b"}", f) for f in (rehearsed, sent))
    assert rehearsed == sent


@dataclasses.dataclass
class Seen:
    """What a rehearsal must leave as it was."""

    requests: dict[str, int]
    orders: int
    nonce: int
    persisted: int
    rest_counter: Any
    trading: dict[str, Any]
    touched: dict[str, int]
    ids: dict[str, str]
    pairs: dict[str, str]
    resting: set[str]


def seen(sim: KrakenSimServer, conn: KrakenConnector, stored: list[int]) -> Seen:
    counters = conn.counters
    assert counters is not None
    return Seen(
        dict(sim.requests),
        len(sim.orders),
        conn.last_nonce,
        len(stored),
        dataclasses.replace(counters.rest),
        {pair: dataclasses.replace(c) for pair, c in counters.trading.items()},
        dict(counters.touched),
        dict(conn._ids),
        dict(conn._pair_of),
        set(conn.resting),
    )


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_rehearsals_send_nothing_charge_no_counter_and_take_no_nonce(
    entry: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Five hundred rehearsals in a row (nothing else runs between them): no request or frame sent, no
    nonce taken or persisted, Kraken's trading counter and the key's REST counter as they were, no id or
    resting order recorded, nothing logged. The order then sent goes through with its own fresh nonce."""
    stored: list[int] = []

    async def body() -> None:
        options = {"order_entry": entry, "rate_tier": "starter", "nonce_store": stored.append}
        async with venue(clock=WALL, **QUIET, **options) as (sim, conn):
            await conn.submit(approval(conn, sim), "k-1", XBT)  # an order resting: counters and ids in use
            frames = sent_frames(conn, monkeypatch)
            a = approval(conn, sim, 50_000)
            before = seen(sim, conn, stored)
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                sizes = {conn.rehearse(a, "k-2", XBT) for _ in range(500)}
            assert caplog.records == []
            assert len(sizes) == 1
            assert min(sizes) > 0
            await WALL.sleep(0.1)  # anything written would have reached the simulator by now
            assert seen(sim, conn, stored) == before
            assert frames == []
            await conn.submit(a, "k-2", XBT)
            after = seen(sim, conn, stored)
            assert after.orders == before.orders + 1
            assert after.trading[XBT].level > before.trading[XBT].level, "a sent order is charged"
            assert after.resting == before.resting | {"k-2"}
            assert len(frames) == (1 if entry == "ws" else 0)

    run(body)
