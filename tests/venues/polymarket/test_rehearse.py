"""Polymarket's order rehearsal (issue 18, `trader.venues.base.Rehearses`) against the simulator: the
signed order and `POST /order` request it builds are the ones `submit` then sends, and rehearsing sends,
records, reads and charges nothing.

The request carries two readings: the time (the order's timestamp, the L2 headers' time) and a random salt
per order (which changes the EIP-712 signature, the body, its length and the L2 HMAC). With the wall clock
frozen and the salt fixed the two requests are the same bytes; with a real salt, everything but the salt,
the order's signature, the HMAC and the length is the same."""

from __future__ import annotations

import logging
import secrets
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import FrozenClock, record_requests
from tests.venues.polymarket.helpers import approve, connected, run
from trader.clock import LiveClock
from trader.core import Side
from trader.errors import InvalidOrderError
from trader.sim.polymarket import PolymarketSimServer
from trader.venues.base import Rehearses
from trader.venues.polymarket import PolymarketConnector


async def rehearsed_then_sent(
    server: PolymarketSimServer, stack: AsyncExitStack, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[bytes]]:
    """One order rehearsed, then submitted, by a connector on a frozen wall clock: (the size the
    rehearsal gave, [the rehearsed request, the sent request])."""
    conn = await connected(server, stack, "rehearse", clock=FrozenClock())
    assert isinstance(conn, Rehearses)
    built = record_requests(conn._http, monkeypatch, b"POST /order ")
    yes = conn.symbols[0]
    a = approve(conn, yes, Side.BUY, "0.30", "10")
    size = conn.rehearse(a, "r-1", yes)
    assert server.requests["POST /order"] == 0
    ack = await conn.submit(a, "r-1", yes)
    assert server.requests["POST /order"] == 1
    assert ack.venue_order_id == conn.order_id("r-1")
    return size, built


def test_polymarket_rehearses_the_very_request_it_then_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The salt fixed and the wall clock frozen: the same bytes, order signature and HMAC included."""
    monkeypatch.setattr(secrets, "randbits", lambda bits: 0x5A17)  # the salt of every order

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        size, (rehearsed, sent) = await rehearsed_then_sent(server, stack, monkeypatch)
        assert rehearsed == sent
        assert size == len(sent)
        assert orjson.loads(sent.split(b"\r\n\r\n", 1)[1])["order"]["salt"] == 0x5A17

    run(t)


def _parts(request: bytes) -> tuple[dict[str, str], dict[str, Any]]:
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return {"request line": lines[0], **headers}, orjson.loads(body)


def test_polymarket_rehearsal_differs_from_the_sent_request_only_by_its_salt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real salt (each order draws its own): the salt and what depends on it differ, nothing else."""

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        size, (rehearsed, sent) = await rehearsed_then_sent(server, stack, monkeypatch)
        assert size == len(rehearsed)
        (h1, b1), (h2, b2) = _parts(rehearsed), _parts(sent)
        assert b1["order"]["salt"] != b2["order"]["salt"], "a salt of its own"
        assert b1["order"]["signature"] != b2["order"]["signature"]
        for h in (h1, h2):
            del h["POLY_SIGNATURE"], h["Content-Length"]  # the HMAC and the length of a body with the salt
        for b in (b1, b2):
            del b["order"]["salt"], b["order"]["signature"]
        assert h1 == h2
        assert b1 == b2
        assert b1["owner"]
        assert b1["orderType"] == "GTC"

    run(t)


def test_polymarket_rehearsals_send_record_read_and_charge_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Five hundred rehearsals: no order request, no funds read and no heartbeat leave; no rate-limit
    quota is used; no client id is recorded (in memory or in the order log); nothing is logged. Then the
    order is sent once under the client id the rehearsals used, and rehearsing it again (the engine
    rehearses the order it last sent) works while a second submit of that id is refused."""
    order_log = tmp_path / "orders.jsonl"
    watched = ("POST /order", "POST /orders", "GET /balance-allowance", "POST /v1/heartbeats")

    def state(server: PolymarketSimServer, conn: PolymarketConnector, now: int) -> tuple[Any, ...]:
        usage = [conn._limiter.usage(conn._quotas[q], now) for q in ("POST /order", "general")]
        return (
            [server.requests[p] for p in watched], usage, dict(conn._by_client), dict(conn._orders),
            set(conn._balances), conn._inflight, conn._hb.failed, conn._hb._id, order_log.exists(),
        )  # fmt: skip

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        conn = await connected(server, stack, "quiet", order_log=order_log)
        yes = conn.symbols[0]
        a = approve(conn, yes, Side.BUY, "0.30", "10")
        now = conn.clock.now_ns()
        before = state(server, conn, now)
        with caplog.at_level(logging.DEBUG):
            sizes = {conn.rehearse(a, "r-2", yes) for _ in range(500)}
        assert not caplog.records, "a rehearsal logs nothing"
        assert min(sizes) > 0
        await LiveClock().sleep(0.1)  # anything written would have reached the simulator by now
        assert state(server, conn, now) == before
        await conn.submit(a, "r-2", yes)
        assert server.requests["POST /order"] == 1
        assert conn.rehearse(a, "r-2", yes) > 0, "a used client id: rehearsed all the same"
        with pytest.raises(InvalidOrderError, match="already used"):
            await conn.submit(a, "r-2", yes)
        assert server.requests["POST /order"] == 1

    run(t)
