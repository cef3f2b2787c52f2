"""Alpaca's market-data stream handled in the read (issue 18, no hop on the hot path): with the engine
waiting (`_events.DIRECT`), a quote reaches it in the call that read it; a malformed frame met there is
skipped and the stream goes on; an auth or subscription error met there still stops the stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest

from tests.helpers import Seen, stand_in_pump
from tests.venues.test_alpaca_connector import venue
from trader.clock import LiveClock
from trader.sim.alpaca import AlpacaSimServer
from trader.venues.base import BookUpdate

CLOCK = LiveClock()


async def inject(server: AlpacaSimServer, *frames: str) -> None:
    """Raw text frames on every market-data socket, as the venue would send them."""
    for ws in list(server.data_subs):
        for f in frames:
            await ws.send_str(f)


async def until(cond: Callable[[], object], timeout: float = 3.0) -> None:
    async def wait() -> None:
        while not cond():
            await CLOCK.sleep(0.01)

    await CLOCK.wait_for(wait(), timeout)


def quotes(seen: Seen, *, direct: bool | None = None) -> list[BookUpdate]:
    return [e for e, d in seen if isinstance(e, BookUpdate) and (direct is None or d is direct)]


def test_malformed_frames_in_the_read_are_skipped_and_quotes_keep_coming_in_the_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def go() -> None:
        async with venue() as (server, conn), AsyncExitStack() as stack:
            assert conn.data_stream is not None
            seen = stand_in_pump(conn, stack)
            await until(lambda: quotes(seen, direct=True))
            await inject(
                server,
                "not json",
                '[{"T": "q", "S": "SPY", "bp": "x"}]',
                '[{"T": "q", "S": "SPY", "bp": "NaN", "ap": 1, "bs": 1, "as": 1}]',
                '[{"T": "t", "S": "SPY"}]',
                '{"T": "q"}',
            )
            n = len(quotes(seen, direct=True))
            await until(lambda: len(quotes(seen, direct=True)) > n + 2)
            assert conn.data_stream.connects == 1, "the stream was never dropped"
            assert not conn.data_stream.closed()
            skipped = [r.getMessage() for r in caplog.records if "malformed market data" in r.getMessage()]
            assert len(skipped) >= 4

    with caplog.at_level(logging.WARNING, logger="trader.venues.alpaca"):
        asyncio.run(go())


@pytest.mark.parametrize("code", [402, 409])
def test_a_stop_error_met_in_the_read_closes_the_stream(code: int) -> None:
    async def go() -> None:
        async with venue() as (server, conn), AsyncExitStack() as stack:
            ws = conn.data_stream
            assert ws is not None
            seen = stand_in_pump(conn, stack)
            await until(lambda: quotes(seen, direct=True))
            await inject(server, f'[{{"T": "error", "code": {code}, "msg": "no"}}, {{"T": "q", "S": "SPY"}}]')
            await until(ws.closed)
            n = len(quotes(seen))
            await CLOCK.sleep(0.1)  # several of the simulator's steps
            assert len(quotes(seen)) == n, "no quote is read once the stream stopped"
            assert ws.connects == 1

    asyncio.run(go())
