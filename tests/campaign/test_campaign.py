"""The fault campaign's fast subset (issue 13, "Figures for the closing note"): every fault mix once, for a
few hundred submissions, in simulated time. `make campaign` runs the same code for >= 10,000 submissions
per seed over the 30% drops + 5xx mix and thousands over the others (`python -m tests.campaign`).

The last tests are the campaign's own controls: an engine with each defect the campaign exists to find (a
resend of an unknown order, unknowns never resolved, a timer loop that ends) is caught by it."""

from __future__ import annotations

import asyncio

import pytest

from tests.campaign.faults import MIXES, Result, run_mix
from trader.core import Approval
from trader.engine.engine import Engine

FAST = 600


def assert_targets(r: Result) -> None:
    assert r.submissions >= FAST
    assert r.duplicates == 0, f"{r.mix} seed {r.seed}: client ids sent twice"
    assert r.unresolved == 0, f"{r.mix} seed {r.seed}: unknown or lost after the calm"
    assert r.disagreements == [], f"{r.mix} seed {r.seed}: {r.disagreements[:5]}"
    assert r.position[0] == r.position[1], f"{r.mix} seed {r.seed}: engine vs venue position"
    assert r.timer_alive, f"{r.mix} seed {r.seed}: the timer stopped ({r.failure})"
    assert r.task_errors == 0
    assert r.failure == ""
    assert r.stale_detect_s, "the feed stalled during the mix"
    assert max(r.stale_detect_s) <= 2.0 + 0.011, f"stale detected after {r.stale_detect_s}"
    assert max(r.stale_pulled_s) <= 5.0, f"quotes pulled after {r.stale_pulled_s}"
    assert r.ok


@pytest.mark.parametrize("mix", list(MIXES))
def test_fault_mix(mix: str) -> None:
    r = run_mix(MIXES[mix], seed=1, submissions=FAST)
    assert_targets(r)
    m = MIXES[mix]
    if m.p_drop or m.p_5xx:
        assert r.unknown_outcomes >= FAST * (m.p_drop + m.p_5xx) / 2, "the mix's faults happened"


# ---- the campaign finds the defects it is for --------------------------------------------------------


class Resends(Engine):
    """Defect: an order whose submit timed out is sent again."""

    def _unknown(self, cid: str, approval: Approval, reason: str) -> None:
        super()._unknown(cid, approval, reason)
        order = self.ledger.orders[cid]

        async def again() -> None:
            await self.connector.submit(approval, cid, order.instrument)

        self._spawn(again())


class NeverAsks(Engine):
    """Defect: unknown orders are never asked about (only the stream resolves them)."""

    async def _retries(self, now: int) -> None:
        return


class TimerEnds(Engine):
    """Defect: the timer loop ends quietly after a while (the engine reports it; the campaign sees it)."""

    async def _timer_loop(self) -> None:
        loop = asyncio.get_running_loop().create_task(super()._timer_loop())
        await self.clock.sleep(20.0)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


def test_the_campaign_finds_a_resend() -> None:
    r = run_mix(MIXES["drop30+5xx30"], seed=1, submissions=200, engine=Resends)
    assert r.duplicates > 0
    assert not r.ok


def test_the_campaign_finds_unknowns_left_unresolved() -> None:
    r = run_mix(MIXES["drop30+5xx30"], seed=1, submissions=200, engine=NeverAsks)
    assert r.unresolved > 0
    assert not r.ok


def test_the_campaign_finds_a_dead_timer() -> None:
    r = run_mix(MIXES["calm"], seed=1, submissions=200, engine=TimerEnds)
    assert not r.timer_alive
    assert "timer stopped" in r.failure
    assert not r.ok
