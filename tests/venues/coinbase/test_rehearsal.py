"""Coinbase's order rehearsal (issue 18, `trader.venues.base.Rehearses`): `rehearse` builds `POST /orders` as
`submit` then sends it (the order's JSON, a JWT, the request bytes) and sends nothing, uses no rate-limit
quota and records nothing. Each JWT carries a random nonce (and so its own signature): the two requests are
compared in everything else, and the rehearsed JWT is checked as the venue would check it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from tests.helpers import FrozenClock, gate_approval
from tests.venues.coinbase.test_connector import opened
from trader.clock import LiveClock
from trader.core import Approval, Side
from trader.sim.coinbase import DEMO_KEY_NAME, CoinbaseSimServer, verify_jwt
from trader.venues.base import Rehearses
from trader.venues.coinbase import CoinbaseConnector

WALL = LiveClock()
SYMBOL = "BTC-USD"
ORDERS = "POST /api/v3/brokerage/orders"


def approval(conn: CoinbaseConnector, server: CoinbaseSimServer, qty: int = 100_000) -> Approval:
    """A post-only buy well below the market: it rests."""
    bid, _ = server.top(SYMBOL)
    spec = conn.spec_of(SYMBOL)
    return gate_approval(
        spec, SYMBOL, Side.BUY, bid - 100, qty, bid=bid, ask=bid + 1, now_ns=WALL.now_ns(), post_only=True
    )


def run(body: Callable[[], Any]) -> None:
    asyncio.run(WALL.wait_for(body(), 20))


def parts(request: bytes) -> tuple[list[bytes], str, bytes]:
    """A request's lines but its Authorization header, that header's JWT, and its body."""
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    (auth,) = [line for line in lines if line.lower().startswith(b"authorization:")]
    token = auth.split(b"Bearer ", 1)[1].decode()
    return [line for line in lines if line != auth], token, body


def test_the_rehearsal_is_the_request_submit_then_sends_but_for_the_jwt_nonce(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At one instant of the wall clock: the request line, every header and the body are the same bytes;
    the JWTs have the same header and claims but for their random nonce (hence their signatures differ),
    and the rehearsed one passes the venue's check for that endpoint."""
    built: list[bytes] = []  # POST /orders: the rehearsed, the sent
    checked: list[str] = []

    async def body() -> None:
        async with opened(clock=FrozenClock(), market_data=False) as (server, conn):
            assert isinstance(conn, Rehearses)
            http = conn._http._conn
            encode = http.encode

            def recording(*a: Any) -> bytes:
                out: bytes = encode(*a)
                if out.startswith(b"POST /api/v3/brokerage/orders "):
                    built.append(out)
                return out

            monkeypatch.setattr(http, "encode", recording)
            a = approval(conn, server)
            size = conn.rehearse(a, "cb-r", SYMBOL)
            assert server.requests[ORDERS] == 0
            await conn.submit(a, "cb-r", SYMBOL)
            assert server.requests[ORDERS] == 1
            assert size == len(built[0])
            _, token, _ = parts(built[0])
            uri = f"POST {conn.endpoints.host}/api/v3/brokerage/orders"
            checked.append(verify_jwt(token, server.public_keys, server.now_ns() // 1_000_000_000, uri))

    run(body)
    assert checked == [DEMO_KEY_NAME], "the rehearsed JWT passes the venue's check"
    (rehearsed, r_token, r_body), (sent, s_token, s_body) = (parts(b) for b in built)
    assert rehearsed == sent, "request line and headers but Authorization"
    assert r_body == s_body
    r_header, s_header = jwt.get_unverified_header(r_token), jwt.get_unverified_header(s_token)
    assert r_header.pop("nonce") != s_header.pop("nonce"), "the random part"
    assert r_header == s_header
    unverified = {"verify_signature": False}
    assert jwt.decode(r_token, options=unverified) == jwt.decode(s_token, options=unverified)


def test_rehearsals_send_nothing_use_no_quota_and_record_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Two hundred rehearsals in a row (more than the key's requests a second): no request sent, the rate
    limiter's windows as they were, no order id or open order recorded, nothing logged. The order then sent
    goes through and is counted."""

    async def body() -> None:
        async with opened(clock=WALL, market_data=False) as (server, conn):
            await conn.submit(approval(conn, server), "cb-1", SYMBOL)

            def api() -> dict[str, int]:  # the REST requests (the user socket may connect meanwhile)
                return {k: n for k, n in server.requests.items() if " /api/" in k}

            def state(now: int) -> tuple[Any, ...]:
                usage = conn._limiter.usage(conn._quota, now)
                return usage, api(), dict(conn._ids), dict(conn._qty), set(conn._open)

            a = approval(conn, server, 50_000)
            now = WALL.now_ns()
            before = state(now)
            caplog.clear()
            with caplog.at_level(logging.DEBUG):
                sizes = {conn.rehearse(a, "cb-2", SYMBOL) for _ in range(200)}
            assert caplog.records == []
            assert len(sizes) == 1
            assert min(sizes) > 0
            assert state(now) == before, "no quota used, nothing recorded"
            await WALL.sleep(0.1)  # anything written would have reached the simulator by now
            assert api() == before[1]
            await conn.submit(a, "cb-2", SYMBOL)
            (_, used, _), *_ = conn._limiter.usage(conn._quota, WALL.now_ns())
            assert used >= 1, "a sent order is charged"
            assert api()[ORDERS] == before[1][ORDERS] + 1
            assert "cb-2" in conn._open

    run(body)
