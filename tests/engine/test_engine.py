"""The engine against the in-process simulated venue, in simulated time: deterministic end to end."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.engine.rig import T0, Rig, run, status
from trader.config import RiskLimits
from trader.core import Side, TradingState
from trader.engine import oms, orderflow
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.engine.ledger import Owner, format_client_id
from trader.engine.venue import StrategyState
from trader.errors import ReconciliationError
from trader.strategies.base import Intent
from trader.venues.base import FillReport


def first_id(rig: Rig) -> str:
    """The client id of the first order the rig's engine sends."""
    return format_client_id(rig.engine.ledger.instance, "mm", 1)


def test_trades_then_shutdown_cancels_everything() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        await rig.steps(300)
        assert rig.engine.summary.fills > 0
        assert await rig.venue.open_orders(), "the market maker quotes"
        summary = await rig.engine.shutdown()
        assert summary.open_orders_after_shutdown == 0
        assert await rig.venue.open_orders() == []
        assert rig.engine.ledger.live() == []
        assert len(rig.venue.submissions) == len(set(rig.venue.submissions)) == summary.orders

    run(go)


def test_risk_denials_surface_to_the_strategy() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"), config=EngineConfig(max_order_qty="0.01"))  # quotes are 0.05
        await rig.engine.start()
        await rig.steps(5)
        assert rig.venue.submissions == []
        assert rig.strategy.denied
        assert {r for _, r in rig.strategy.denied} == {"MAX_ORDER_QTY"}
        assert rig.engine.denials["MAX_ORDER_QTY"] == len(rig.strategy.denied)

    run(go)


def test_kill_switch_cancels_everything_and_latches() -> None:
    async def go() -> None:
        journal = Journal(":memory:")
        rig = Rig(journal)
        await rig.engine.start()
        await rig.steps(20)
        assert await rig.venue.open_orders()
        journal.next_value("kill")  # what `trader kill` does from another process
        await rig.engine.on_timer()
        await rig.drain()
        assert await rig.venue.open_orders() == []
        gate = rig.engine.gate
        assert gate is not None
        assert gate.is_killed()
        assert gate.trading_state() == TradingState.HALTED
        sent = len(rig.venue.submissions)
        await rig.steps(20)
        assert len(rig.venue.submissions) == sent, "nothing is sent after a kill"
        assert rig.engine.denials

    run(go)


def test_unknown_outcome_is_resolved_by_asking_never_by_resending() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        first = first_id(rig)
        rig.venue.fault = lambda cid: "drop" if cid == first else None
        await rig.engine.start()
        await rig.steps(1)
        order = rig.engine.ledger.orders[first]
        assert order.status in (oms.OrderStatus.UNKNOWN, oms.OrderStatus.ACCEPTED)
        await rig.steps(3)  # the timer asks the venue
        assert order.status in (
            oms.OrderStatus.ACCEPTED,
            oms.OrderStatus.PARTIALLY_FILLED,
            oms.OrderStatus.FILLED,
            oms.OrderStatus.CANCELED,
        )
        assert rig.venue.submissions.count(first) == 1
        assert rig.engine.summary.unknown_outcomes == 1

    run(go)


def test_unknown_outcome_never_placed_becomes_rejected_after_the_venue_denies_it() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"), config=EngineConfig(not_found_checks=2))
        first = first_id(rig)
        rig.venue.fault = lambda cid: "lose" if cid == first else None
        await rig.engine.start()
        await rig.steps(1)
        order = rig.engine.ledger.orders[first]
        assert status(order) is oms.OrderStatus.UNKNOWN
        gate = rig.engine.gate
        assert gate is not None
        counted = gate.open_order_count()
        await rig.steps(6)
        assert status(order) is oms.OrderStatus.UNKNOWN, "two lookups are no verdict (F-ORD-12)"
        await rig.steps(300)  # past never_received_after_s
        assert status(order) is oms.OrderStatus.REJECTED
        assert gate.open_order_count() < counted + 2
        assert rig.venue.submissions.count(first) == 1

    run(go)


def test_not_sent_is_a_reject_not_an_unknown() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        rig.venue.fault = lambda cid: "down"
        await rig.engine.start()
        await rig.steps(2)
        assert rig.engine.summary.rejects == len(rig.venue.submissions) > 0
        assert rig.engine.ledger.live() == []
        gate = rig.engine.gate
        assert gate is not None
        assert gate.open_order_count() == 0

    run(go)


def test_restart_reconciles_then_cancels_survivors_without_resending(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def go() -> None:
        first = Rig(Journal(path), seed=4)
        await first.engine.start()
        await first.steps(200)  # ...and the process dies: no shutdown
        survivors = {r.client_id for r in await first.venue.open_orders()}
        assert survivors
        fills_before = first.engine.summary.fills
        assert fills_before > 0
        first.engine.journal.close()
        second = Rig(Journal(path), venue=first.venue)
        await second.engine.start()
        assert await second.venue.open_orders() == [], "orders from before the restart are canceled"
        assert second.engine.summary.reconciled_at_start >= len(survivors)
        for cid in survivors:
            assert second.engine.ledger.orders[cid].status is oms.OrderStatus.CANCELED
        await second.steps(50)
        subs = second.venue.submissions
        assert len(subs) == len(set(subs)), "no client order id was ever sent twice"
        # journal and venue agree on every order
        for cid, o in second.engine.ledger.orders.items():
            v = await second.venue.query(cid)
            assert v is not None
            assert v.filled == o.filled, cid
        pos = second.engine._position
        assert pos is not None
        assert pos.qty == (await second.venue.positions()).get("BTCUSDT", 0)
        await second.engine.shutdown()

    run(go)


def test_restart_adopts_our_orders_in_reserved_blocks_and_refuses_other_mismatches(tmp_path: Path) -> None:
    """Orders at the venue that carry this journal's id but that it does not know (here: the journal was
    restored from an older copy) are ours when their numbers lie in a block the journal reserved: they are
    adopted (asked of the venue, recorded, canceled). With numbers beyond anything it reserved (a copy
    older than the first order) they are mismatches; so is someone trading by hand on the account (ids
    that are no trader session's: `test_client_ids.py`). Another trader session's orders are not."""
    path, backup, oldest = tmp_path / "j.db", tmp_path / "backup.db", tmp_path / "oldest.db"

    async def go() -> None:
        first = Rig(Journal(path))
        with sqlite3.connect(path) as src, sqlite3.connect(oldest) as dst:
            src.backup(dst)  # a copy from before the first order: it reserved no ids
        await first.engine.start()
        await first.steps(30)
        with sqlite3.connect(path) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)  # the copy the operator will restore
        await first.steps(30)  # ...more orders, then the process dies
        first.engine.journal.close()
        mine = first.engine.ledger.instance
        unknown = [r for r in await first.venue.open_orders() if r.client_id not in Journal(backup).replay()]
        assert unknown, "orders sent after the copy are still open"
        assert all(first.engine.ledger.owner(r.client_id) is Owner.OURS for r in unknown)
        too_old = Rig(Journal(oldest), venue=first.venue)
        assert too_old.engine.ledger.instance == mine
        with pytest.raises(ReconciliationError, match="not in the journal"):
            await too_old.engine.start()
        too_old.engine.journal.close()
        restored = Rig(Journal(backup), venue=first.venue)
        assert restored.engine.ledger.instance == mine
        await restored.engine.start()
        for r in unknown:
            adopted = restored.engine.ledger.orders[r.client_id]
            assert (adopted.side, adopted.price, adopted.qty) == (r.side, r.price, r.qty)
            assert not adopted.is_live, "canceled as every order that outlived its process"
        assert not await first.venue.open_orders()
        journaled = Journal(backup).replay()
        assert all(r.client_id in journaled for r in unknown), "recorded in the journal"

    run(go)


def test_gate_and_session_pnl_agree_exactly() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"), seed=9)
        await rig.engine.start()
        await rig.steps(400)
        summary = await rig.engine.shutdown()
        gate = rig.engine.gate
        assert gate is not None
        assert gate.daily_pnl() == Decimal(summary.pnl)
        assert gate.position(rig.engine._inst) * Decimal("0.001") == Decimal(summary.inventory)

    run(go)


def test_config_limits_reach_the_gate() -> None:
    tight = RiskLimits(
        max_gross_notional=Decimal(1000),
        max_net_notional=Decimal(1000),
        max_open_orders=1,
        max_orders_per_sec=1,
        daily_loss_limit=Decimal(1),
        daily_loss_halt=Decimal(1),
    )

    async def go() -> None:
        rig = Rig(Journal(":memory:"), config=EngineConfig(risk=tight))
        await rig.engine.start()
        await rig.steps(3)
        assert rig.engine.denials
        assert all(p.side in (Side.BUY, Side.SELL) for p, _ in rig.strategy.denied)

    run(go)


def test_an_overfill_counts_in_the_position_and_is_reported() -> None:
    """RELIABILITY F-ORD-07: a venue that fills more than the order's quantity (Polymarket's marketable
    BUYs can) moves the position by what it filled; the overfill is counted and alerted."""

    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        await rig.engine.start()
        await rig.steps(20)
        order = next(o for o in rig.engine.ledger.live() if o.status is oms.OrderStatus.ACCEPTED)
        position = rig.engine._position.qty
        extra = order.qty + 7
        sign = 1 if order.side == Side.BUY else -1
        rig.engine.handle(
            FillReport(
                order.client_id,
                "over-1",
                "BTCUSDT",
                order.side,
                order.price,
                extra,
                Decimal(0),
                T0,
                True,
                ts_recv=T0,
            )
        )
        assert rig.engine._position.qty == position + sign * extra
        assert rig.engine.summary.overfills == 1
        assert status(order) is oms.OrderStatus.FILLED
        rig.engine.handle(  # the same trade again: a duplicate, not a second overfill
            FillReport(
                order.client_id,
                "over-1",
                "BTCUSDT",
                order.side,
                order.price,
                extra,
                Decimal(0),
                T0,
                True,
                ts_recv=T0,
            )
        )
        assert rig.engine.summary.overfills == 1

    run(go)


def test_a_requotes_order_goes_out_before_its_cancel_is_handled() -> None:
    """The market maker requotes as [Cancel(old), Place(new)]: the new order is approved and its send
    started before the cancel is looked at, and the cancel follows in the same event."""

    async def go() -> None:
        rig = Rig(Journal(":memory:"), config=EngineConfig(eager_send=True))
        calls: list[str] = []
        cancel, send_out, act = rig.engine._cancel, orderflow.send_out, rig.engine._act

        def spy_cancel(client_id: str) -> list[Intent]:
            calls.append("cancel")
            return cancel(client_id)

        def spy_send_out(engine: Engine) -> None:
            calls.extend("sent" for _ in engine._outbox)
            send_out(engine)

        def spy_act(st: StrategyState, intents: list[Intent], tick_ns: int | None) -> None:
            if not rig.engine._acting:  # an event's outermost call (an eager send may handle another inside)
                calls.append("|")
            act(st, intents, tick_ns)

        rig.engine._cancel = spy_cancel  # type: ignore[method-assign]
        rig.engine._act = spy_act  # type: ignore[method-assign]
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(orderflow, "send_out", spy_send_out)
            await rig.engine.start()
            await rig.steps(200)
        events = " ".join(calls).split("|")
        requotes = [e.split() for e in events if "cancel" in e and "sent" in e]
        assert requotes, "the market maker requoted"
        for e in requotes:
            assert e.index("cancel") > e.index("sent"), e
        await rig.engine.shutdown()

    run(go)
