"""The user channel handled in the read (issue 18, no hop): with the engine waiting (`_events.DIRECT`),
a fill of ours and its order event reach it in the call that read them from the socket (outside any
task); a malformed user message met there is skipped and the channel goes on; a FAILED trade met there
starts the REST reconciliation as a task, the channel staying up."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import pytest

from tests.helpers import Seen, stand_in_pump
from tests.venues.polymarket.helpers import CLOCK, SHARE, approve, coin, connected, run, until
from trader.core import Side
from trader.sim.polymarket import PolymarketSimServer
from trader.venues._ws import WsClient
from trader.venues.base import FillReport, OrderReport
from trader.venues.polymarket import PolymarketConnector


def inject(server: PolymarketSimServer, conn: PolymarketConnector, *frames: str) -> None:
    """Raw frames on the connector's user-channel sockets, as the venue would send them."""
    for key, _, q in server._user_subs.values():
        if key == conn._api_key:
            for f in frames:
                q.put_nowait(f)


def user_channel(conn: PolymarketConnector) -> WsClient:
    return next(ws for ws in conn._clients if ws.url.endswith("/ws/user"))


def fills(seen: Seen, client_id: str) -> list[tuple[FillReport, bool]]:
    return [(e, d) for e, d in seen if isinstance(e, FillReport) and e.client_id == client_id]


def test_a_fill_and_its_order_event_reach_the_engine_in_the_read() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        await alice.submit(approve(alice, yes, Side.BUY, "0.50", "10"), "a1", yes)
        seen = stand_in_pump(alice, stack)
        await until(lambda: any(isinstance(e, OrderReport) and e.client_id == "a1" for e, _ in seen))
        server.fund(bob.address, tokens={m.yes: 10})
        await bob.submit(approve(bob, yes, Side.SELL, "0.50", "10"), "b1", yes)  # takes alice's bid
        await until(lambda: bool(fills(seen, "a1")))
        [(fill, direct)] = fills(seen, "a1")
        assert (fill.qty, fill.price, fill.maker, direct) == (10 * SHARE, 50, True, True)
        assert fill.ts_recv > 0
        await until(
            lambda: any(isinstance(e, OrderReport) and e.client_id == "a1" and e.filled for e, _ in seen)
        )
        updates = [d for e, d in seen if isinstance(e, OrderReport) and e.client_id == "a1" and e.filled]
        assert updates[0] is True, "the order event, handed over in the read too"
        await CLOCK.sleep(0.1)
        assert len(fills(seen, "a1")) == 1, "MATCHED then CONFIRMED: the fill once"

    run(t)


def test_malformed_user_messages_in_the_read_are_skipped_and_the_channel_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        token = alice._tokens[yes]
        await alice.submit(approve(alice, yes, Side.BUY, "0.50", "10"), "a1", yes)
        seen = stand_in_pump(alice, stack)
        await until(lambda: any(isinstance(e, OrderReport) and e.client_id == "a1" for e, _ in seen))
        inject(
            server,
            alice,
            "not json",
            f'{{"event_type": "order", "asset_id": "{token}"}}',
            f'[{{"event_type": "order", "asset_id": "{token}", "id": "x", "original_size": "abc"}}]',
            '{"event_type": "trade", "id": "t1", "trader_side": "TAKER"}',
            '{"event_type": "trade", "id": "t2", "maker_orders": ["not an object"]}',
            f'{{"event_type": "trade", "id": "t3", "trader_side": "TAKER", "taker_order_id": "o",'
            f' "asset_id": "{token}", "side": "BUY", "price": "NaN", "size": "1"}}',
        )
        server.fund(bob.address, tokens={m.yes: 10})
        await bob.submit(approve(bob, yes, Side.SELL, "0.50", "10"), "b1", yes)
        await until(lambda: bool(fills(seen, "a1")))
        assert [d for _, d in fills(seen, "a1")] == [True], "the fill after them, in the read"
        assert user_channel(alice).connects == 1, "the user channel was never dropped"
        skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
        assert any("non-JSON user message" in s for s in skipped)
        assert sum("malformed user event" in s for s in skipped) >= 5

    with caplog.at_level(logging.WARNING, logger="trader.venues.polymarket"):
        run(t)


def test_a_failed_trade_met_in_the_read_starts_the_reconciliation_as_a_task() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        alice = await connected(server, stack, "alice")
        yes = alice.symbols[0]
        await alice.submit(approve(alice, yes, Side.BUY, "0.40", "10"), "a1", yes)
        seen = stand_in_pump(alice, stack)
        await until(lambda: any(isinstance(e, OrderReport) and e.client_id == "a1" for e, _ in seen))
        orders, trades = server.requests["GET /data/orders"], server.requests["GET /data/trades"]
        n = len(seen)
        inject(server, alice, '{"event_type": "trade", "id": "t-failed", "status": "FAILED"}')
        await until(lambda: server.requests["GET /data/trades"] > trades)
        assert server.requests["GET /data/orders"] > orders, "open orders, by REST"
        await until(lambda: any(isinstance(e, OrderReport) and e.client_id == "a1" for e, _ in seen[n:]))
        reconciled = [d for e, d in seen[n:] if isinstance(e, OrderReport) and e.client_id == "a1"]
        assert reconciled[0] is False, "the reconciliation's report comes from its task, not the read"
        assert user_channel(alice).connects == 1

    run(t)
