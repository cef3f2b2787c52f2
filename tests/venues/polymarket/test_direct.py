"""The market channel handled in the read (issue 18, no hop on the hot path): with the engine waiting
(`_events.DIRECT`), a book frame reaches it in the call that read it; a malformed frame met there is
skipped and the channel goes on; an inconsistent book met there starts the REST resync."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import pytest

from tests.helpers import stand_in_pump
from tests.venues.polymarket.helpers import CLOCK, SHARE, approve, connected, drain, run, until
from trader.core import Side
from trader.sim.polymarket import PolymarketSimServer
from trader.venues.base import BookInvalid, BookUpdate


def inject(server: PolymarketSimServer, *frames: str) -> None:
    """Raw frames on every market-channel socket, as the venue would send them."""
    for _, _, q in server._market_subs.values():
        for f in frames:
            q.put_nowait(f)


def test_malformed_frames_in_the_read_are_skipped_and_the_channel_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        drain(alice)
        tick, token = alice._tick, alice._tokens[yes]
        seen = stand_in_pump(alice, stack)
        await CLOCK.sleep(0)  # the engine waits
        inject(
            server,
            "not json",
            '{"event_type": "price_change", "market": "m", "price_changes": 5}',
            '{"event_type": "tick_size_change", "new_tick_size": "0"}',
            '{"event_type": "tick_size_change", "new_tick_size": "abc"}',
            f'[{{"event_type": "last_trade_price", "asset_id": "{token}", "price": "x", "size": "1"}}]',
        )
        await bob.submit(approve(bob, yes, Side.BUY, "0.40", "20"), "b1", yes)
        await until(lambda: any(isinstance(e, BookUpdate) and e.bid == 40 for e, _ in seen))
        up = next(e for e, _ in seen if isinstance(e, BookUpdate) and e.instrument == yes and e.bid == 40)
        assert isinstance(up, BookUpdate)
        assert up.bid_qty == 20 * SHARE
        assert (up, True) in seen, "handed over in the read that brought it"
        assert alice._clients[0].connects == 1, "the market channel was never dropped"
        assert alice._tick == tick
        assert alice.books[yes].best_bid() == (40, 20 * SHARE)
        skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
        assert any("non-JSON market message" in m for m in skipped)
        assert sum("malformed market message" in m for m in skipped) >= 3
        assert any("malformed last_trade_price" in m for m in skipped)

    with caplog.at_level(logging.WARNING, logger="trader.venues.polymarket"):
        run(t)


def test_an_inconsistent_book_met_in_the_read_starts_the_resync() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        await bob.submit(approve(bob, yes, Side.BUY, "0.40", "20"), "b1", yes)
        await until(lambda: alice.books[yes].best_bid() == (40, 20 * SHARE))
        drain(alice)
        seen = stand_in_pump(alice, stack)
        alice.books[yes].set_level(Side.BUY, 45, SHARE)  # a level the venue never had
        rest = server.requests["GET /book"]
        await bob.submit(approve(bob, yes, Side.BUY, "0.30", "5"), "b2", yes)  # its best_bid says 0.40
        await until(lambda: any(isinstance(e, BookUpdate) and e.instrument == yes for e, _ in seen))
        invalid = [(e, direct) for e, direct in seen if isinstance(e, BookInvalid)]
        assert [(e.instrument, "best bid/ask" in e.reason, direct) for e, direct in invalid] == [
            (yes, True, True)
        ]
        assert server.requests["GET /book"] == rest + 1, "the REST snapshot, from a task the read started"
        fixed = next(e for e, _ in seen if isinstance(e, BookUpdate) and e.instrument == yes)
        assert isinstance(fixed, BookUpdate)
        assert (fixed.bid, fixed.bid_qty) == (40, 20 * SHARE)
        assert alice.books[yes].depth(Side.BUY, 5) == [(40, 20 * SHARE), (30, 5 * SHARE)]

    run(t)
