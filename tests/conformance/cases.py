"""The suite's parametrization: every case runs for every venue, as the real case or as `n/a` when the
venue lacks a capability the case needs. An `n/a` test asserts the lack: the venue's capabilities (and
traits) say so with a reason, and where the lack shows at the venue it is shown there (`EVIDENCE`). A
venue that claims a capability therefore runs, and must pass, the real case."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conformance.harness import Harness, Need, SteppedClock, lacks
from tests.conformance.venues import HARNESSES
from trader.clock import LiveClock
from trader.core import Side
from trader.venues.base import Capabilities, OrderState


@dataclass(frozen=True)
class Case:
    """One (case, venue) pair: the real case, or `n/a` when the venue lacks a capability it needs."""

    harness: Harness
    needs: tuple[Need, ...]

    @property
    def missing(self) -> dict[Need, str]:
        return {n: why for n in self.needs if (why := self.harness.lacks(n))}

    def run(self, body: Callable[[Harness], Awaitable[None]], timeout: float = 30.0) -> None:
        missing = self.missing
        if missing:
            assert_not_applicable(self.harness, missing)
            return
        asyncio.run(LiveClock().wait_for(body(self.harness), timeout))


def assert_not_applicable(h: Harness, missing: dict[Need, str]) -> None:
    """A venue reported n/a really lacks the capability: its capabilities (read again from a fresh
    connector) and traits say so, with a reason; where the lack shows at the venue, it is shown there
    too (`EVIDENCE`)."""
    caps = h.capabilities()
    assert isinstance(caps, Capabilities)
    for need, why in missing.items():
        assert why, f"{h.id}: {need} reported n/a without a reason"
        assert lacks(caps, h.traits, need) == why
        if need in EVIDENCE:
            asyncio.run(LiveClock().wait_for(EVIDENCE[need](h), 30))


async def _post_only_is_refused_locally(h: Harness) -> None:
    """Without post-only, a post-only order is refused before anything is sent (never sent as a plain
    limit that could take)."""
    from trader.errors import InvalidOrderError

    async with h.open() as live:
        top = await h.top(live)
        sent = h.order_requests(live)
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live), post_only=True)
        with pytest.raises(InvalidOrderError, match="post-only"):
            await live.conn.submit(a, "po-na", live.symbol)
        assert h.order_requests(live) == sent
        assert await live.conn.open_orders() == []


async def _timestamps_are_not_windowed(h: Harness) -> None:
    """Without a receive window, a clock step changes nothing: requests keep passing, none resyncs."""
    clock = SteppedClock()
    async with h.open(clock=clock) as live:
        await h.top(live)
        clock.step_ns = 30_000_000_000
        for _ in range(3):
            assert await live.conn.open_orders() == []


async def _no_http_status(h: Harness) -> None:
    """No HTTP status on the order path: a 5xx fault configured at the simulator changes nothing, the
    order is placed as usual."""
    from trader.sim.faults import Faults

    async with h.open() as live:
        top = await h.top(live)
        paths = live.server.faults.paths
        live.server.faults = Faults(paths=paths, error_5xx_rate=1.0, ack_delay_ms=300)
        a = h.approve(live, Side.BUY, h.rest_price(live, top), h.rest_qty(live))
        await live.conn.submit(a, "na-5xx", live.symbol)
        found = await live.conn.query("na-5xx")
        assert found is not None
        assert found.state is OrderState.OPEN


EVIDENCE: dict[Need, Callable[[Harness], Awaitable[None]]] = {
    Need.POST_ONLY: _post_only_is_refused_locally,
    Need.CLOCK_WINDOW: _timestamps_are_not_windowed,
    Need.SERVER_ERROR: _no_http_status,
    Need.LATE_ACK: _no_http_status,
}


def venues(*needs: Need) -> list[Any]:
    """`pytest.mark.parametrize("case", venues(...))`: every venue, real or n/a (by id)."""
    out = []
    for h in HARNESSES:
        case = Case(h, needs)
        missing = case.missing
        if missing:
            reason = "; ".join(f"{n.name}: {why}" for n, why in missing.items())
            out.append(pytest.param(case, id=f"{h.id}-n/a", marks=pytest.mark.not_applicable(reason)))
        else:
            out.append(pytest.param(case, id=h.id))
    return out
