"""Orders whose submit outcome is unknown (RELIABILITY F-ORD-01/02/12, issue 13 defect 3): the venue may
say "does not exist" for a while after a successful POST, so "never received" is a verdict reached only
after `never_received_after_s` (30 s) of not-found answers from the first unknown; never resent."""

from __future__ import annotations

from tests.engine.rig import Rig, run, status
from trader.engine import oms
from trader.engine.engine import EngineConfig
from trader.engine.journal import Journal
from trader.venues.base import OrderReport


def test_never_received_is_decided_after_30s_of_not_found_not_after_three_lookups() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        lost: list[str] = []

        def lose_first(cid: str) -> str | None:
            if not lost:
                lost.append(cid)
                return "lose"  # the request timed out before the venue saw it
            return None

        rig.venue.fault = lose_first
        await rig.engine.start()
        await rig.steps(1)
        order = rig.engine.ledger.orders[lost[0]]
        assert status(order) is oms.OrderStatus.UNKNOWN
        await rig.steps(290)  # 29 s: the venue keeps saying "not found"
        assert status(order) is oms.OrderStatus.LOST, "still counted, still fillable, no verdict yet"
        asked = rig.venue.queries.count(order.client_id)
        assert asked >= 3
        assert asked <= 60, "asked with backoff, not on every timer round"
        await rig.steps(20)  # past 30 s
        assert status(order) is oms.OrderStatus.REJECTED
        assert rig.venue.submissions.count(order.client_id) == 1, "never resent"

    run(go)


def test_the_verdict_window_is_configurable() -> None:
    async def go() -> None:
        rig = Rig(Journal(":memory:"), config=EngineConfig(never_received_after_s=2.0))
        lost: list[str] = []

        def lose_first(cid: str) -> str | None:
            if not lost:
                lost.append(cid)
                return "lose"
            return None

        rig.venue.fault = lose_first
        await rig.engine.start()
        await rig.steps(1)
        order = rig.engine.ledger.orders[lost[0]]
        await rig.steps(15)
        assert status(order) is oms.OrderStatus.UNKNOWN
        await rig.steps(10)
        assert status(order) is oms.OrderStatus.REJECTED

    run(go)


def test_an_order_that_shows_up_late_is_found_not_rejected() -> None:
    """The venue says "not found" for 20 s after the POST, then has it (eventual consistency)."""

    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        dropped: list[str] = []

        def drop_first(cid: str) -> str | None:
            if not dropped:
                dropped.append(cid)
                rig.venue.muted.add(cid)
                return "drop"
            return None

        rig.venue.fault = drop_first
        hidden_until = rig.clock.now_ns() + 20 * 1_000_000_000
        real_query = rig.venue.query

        async def lagging(client_id: str) -> OrderReport | None:
            report = await real_query(client_id)
            return None if client_id in dropped and rig.clock.now_ns() < hidden_until else report

        rig.venue.query = lagging  # type: ignore[method-assign]
        await rig.engine.start()
        await rig.steps(1)
        order = rig.engine.ledger.orders[dropped[0]]
        assert status(order) is oms.OrderStatus.UNKNOWN
        await rig.steps(250)
        assert status(order) not in (oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST, oms.OrderStatus.REJECTED)
        assert order.venue_order_id is not None or order.filled > 0

    run(go)


def test_a_cancel_answered_not_found_is_no_verdict_either() -> None:
    """Shutting down with an unknown order: the cancel says "unknown order", the lookup "not found".
    Within the window that proves nothing: the order stays UNKNOWN (not REJECTED, not ACCEPTED)."""

    async def go() -> None:
        rig = Rig(Journal(":memory:"))
        lost: list[str] = []

        def lose_first(cid: str) -> str | None:
            if not lost:
                lost.append(cid)
                return "lose"
            return None

        rig.venue.fault = lose_first
        await rig.engine.start()
        await rig.steps(1)
        await rig.engine.shutdown()
        assert status(rig.engine.ledger.orders[lost[0]]) is oms.OrderStatus.UNKNOWN

    run(go)
