"""The Polymarket connector's market and user channels against the simulator: books, trades, resyncs,
tick size changes, resolution, fills missed while disconnected."""

from __future__ import annotations

from contextlib import AsyncExitStack
from decimal import Decimal

import pytest

from tests.venues.polymarket.helpers import (
    SHARE,
    admin,
    approve,
    book_of,
    coin,
    collect,
    connected,
    drain,
    next_event,
    run,
    until,
)
from trader.clock import LiveClock
from trader.core import Side
from trader.errors import (
    InvalidOrderError,
)
from trader.sim.polymarket import PolymarketSimServer
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    FillReport,
    OrderReport,
    OrderState,
    TradeTick,
    VenueEvent,
)


def test_book_snapshot_updates_trades_and_resync_after_a_dropped_socket() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes, no = alice.symbols
        assert alice.books[yes].best_bid() is None, "the subscription's snapshot: an empty book"
        drain(alice)

        await bob.submit(approve(bob, yes, Side.BUY, "0.40", "20"), "b1", yes)
        up = await next_event(alice, book_of(yes))
        assert isinstance(up, BookUpdate)
        assert (up.bid, up.bid_qty, up.ask, up.ask_qty) == (40, 20 * SHARE, None, 0)
        mirror = await next_event(alice, book_of(no))
        assert isinstance(mirror, BookUpdate)
        assert (mirror.bid, mirror.ask, mirror.ask_qty) == (None, 60, 20 * SHARE), "a YES bid is a NO ask"

        # a trade: the public print, then the book after it
        server.fund(alice.address, tokens={m.yes: 5})
        await alice.submit(approve(alice, yes, Side.SELL, "0.40", "5"), "a1", yes)
        tick = await next_event(alice, lambda e: isinstance(e, TradeTick) and e.instrument == yes)
        assert isinstance(tick, TradeTick)
        assert (tick.price, tick.qty, tick.aggressor) == (40, 5 * SHARE, Side.SELL)
        await until(lambda: alice.books[yes].best_bid() == (40, 15 * SHARE))

        # the sockets drop; meanwhile the book changes: BookInvalid, then the REST resync sees the change
        drain(alice)
        await server.close_sockets()
        invalid = await next_event(alice, lambda e: isinstance(e, BookInvalid))
        assert isinstance(invalid, BookInvalid)
        await bob.submit(approve(bob, yes, Side.BUY, "0.41", "7"), "b2", yes)
        resynced = await next_event(alice, lambda e: isinstance(e, BookUpdate) and e.bid == 41)
        assert isinstance(resynced, BookUpdate)
        assert (resynced.instrument, resynced.bid_qty) == (yes, 7 * SHARE)
        assert alice.books[yes].depth(Side.BUY, 5) == [(41, 7 * SHARE), (40, 15 * SHARE)]
        # both tokens are fetched by REST (side by side: the NO book may still be on its way)
        await until(lambda: server.requests["GET /book"] >= 2)

        # and it keeps following the stream afterwards
        await bob.cancel("b2")
        after = await next_event(
            alice, lambda e: isinstance(e, BookUpdate) and e.instrument == yes and e.bid == 40
        )
        assert isinstance(after, BookUpdate)
        assert after.bid_qty == 15 * SHARE
        assert alice.books[yes].depth(Side.BUY, 5) == [(40, 15 * SHARE)]

    run(t)


def test_a_book_that_disagrees_with_the_venue_is_invalidated_and_resynced() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        await bob.submit(approve(bob, yes, Side.BUY, "0.40", "20"), "b1", yes)
        await until(lambda: alice.books[yes].best_bid() == (40, 20 * SHARE))
        drain(alice)
        alice.books[yes].set_level(Side.BUY, 45, SHARE)  # a level the venue never had
        await bob.submit(approve(bob, yes, Side.BUY, "0.30", "5"), "b2", yes)  # its best_bid says 0.40
        invalid = await next_event(alice, lambda e: isinstance(e, BookInvalid))
        assert isinstance(invalid, BookInvalid)
        assert (invalid.instrument, "best bid/ask" in invalid.reason) == (yes, True)
        fixed = await next_event(alice, book_of(yes))
        assert isinstance(fixed, BookUpdate)
        assert (fixed.bid, fixed.bid_qty) == (40, 20 * SHARE)
        assert alice.books[yes].depth(Side.BUY, 5) == [(40, 20 * SHARE), (30, 5 * SHARE)]

    run(t)


def test_user_channel_reports_orders_and_a_fill_missed_while_disconnected_arrives_once() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        ack = await alice.submit(approve(alice, yes, Side.BUY, "0.50", "10"), "a1", yes)
        placed = await next_event(alice, lambda e: isinstance(e, OrderReport))
        assert isinstance(placed, OrderReport)
        assert (placed.client_id, placed.venue_order_id, placed.state) == (
            "a1",
            ack.venue_order_id,
            OrderState.OPEN,
        )

        # the user channel drops and cannot resubscribe (its L1 key derivation fails) while a fill happens
        await admin(server, "/sim/faults", {"error_5xx_rate": 1.0, "paths": ["GET /auth/derive-api-key"]})
        await server.close_sockets()
        server.fund(bob.address, tokens={m.yes: 10})
        await bob.submit(approve(bob, yes, Side.SELL, "0.50", "10"), "b1", yes)
        await LiveClock().sleep(0.2)
        assert not [e for e in drain(alice) if isinstance(e, FillReport)], "the stream is down"
        trades_before = server.requests["GET /data/trades"]
        await admin(server, "/sim/faults/reset", {})

        def fills(evs: list[VenueEvent]) -> list[FillReport]:
            return [e for e in evs if isinstance(e, FillReport)]

        def filled(evs: list[VenueEvent]) -> list[OrderReport]:
            return [e for e in evs if isinstance(e, OrderReport) and e.state is OrderState.FILLED]

        events = await collect(alice, lambda evs: bool(fills(evs) and filled(evs)), timeout=2.5)
        [fill] = fills(events)
        assert (fill.client_id, fill.side, fill.price, fill.qty, fill.maker) == (
            "a1",
            Side.BUY,
            50,
            10 * SHARE,
            True,
        )
        assert (filled(events)[0].client_id, filled(events)[0].filled) == ("a1", 10 * SHARE)
        assert server.requests["GET /data/trades"] > trades_before, "reconciled by REST after the reconnect"
        await LiveClock().sleep(0.2)
        assert not [e for e in drain(alice) if isinstance(e, FillReport)], "the same fill only once"
        assert server.requests["GET /auth/derive-api-key"] >= 2, "the channel re-subscribed"

    run(t)


def test_tick_size_change_and_resolution() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        coarse = await connected(server, stack, "alice")
        fine = await connected(server, stack, "bob", price_unit="0.001")
        yes = fine.symbols[0]
        assert fine.trading_spec().tick == 10
        drain(coarse)
        drain(fine)
        server.set_tick_size(m.condition_id, Decimal("0.001"))

        stuck = await next_event(coarse, lambda e: isinstance(e, BookInvalid))
        assert isinstance(stuck, BookInvalid)
        assert "finer than the price unit" in stuck.reason
        moved = await next_event(fine, lambda e: isinstance(e, BookInvalid))
        assert isinstance(moved, BookInvalid)
        assert "0.01 -> 0.001" in moved.reason
        await next_event(fine, book_of(yes))
        assert fine.trading_spec().tick == 1
        assert (await fine.instrument_info(yes)).tick_size == "0.001"
        ack = await fine.submit(approve(fine, yes, Side.BUY, "0.455", "10"), "f1", yes)
        assert server.orders[ack.venue_order_id].price == 4550
        # the coarse connector still trades its own (coarser) prices, signed for the new tick
        await coarse.submit(
            approve(coarse, coarse.symbols[0], Side.BUY, "0.44", "10"), "c1", coarse.symbols[0]
        )

        drain(fine)
        server.resolve(m.condition_id, "Yes")
        resolved = await next_event(fine, lambda e: isinstance(e, BookInvalid))
        assert isinstance(resolved, BookInvalid)
        assert "resolved" in resolved.reason
        with pytest.raises(InvalidOrderError, match="closed"):
            await fine.submit(approve(fine, yes, Side.BUY, "0.500", "10"), "f2", yes)
        report = await fine.query("f1")
        assert report is not None
        assert (report.state, report.reason) == (OrderState.CANCELED, "market resolved")

    run(t)
