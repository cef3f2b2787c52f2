"""Resolving orders whose outcome is unknown (a timeout or 5xx on submit): ask the venue by client order
id, never send again. Found: the venue's answer is applied. Still unresolved after `unknown_timeout_s`:
LOST (still counted, still fillable). Denied by the venue `not_found_checks` times: never received.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from trader.engine import oms
from trader.errors import VenueError

if TYPE_CHECKING:
    from trader.engine.engine import Engine

log = logging.getLogger("trader.engine")


class Resolver:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pending: dict[str, tuple[int, int]] = {}  # client id -> (deadline ns, not-found answers)

    def __contains__(self, client_id: str) -> bool:
        return client_id in self._pending

    def track(self, client_id: str, now_ns: int) -> None:
        """The order's outcome became unknown at `now_ns`."""
        deadline = now_ns + int(self._engine.cfg.unknown_timeout_s * 1e9)
        self._pending[client_id] = (deadline, 0)

    def forget(self, client_id: str) -> None:
        """Resolved by other evidence (the private stream, a cancel's answer)."""
        self._pending.pop(client_id, None)

    async def run(self, now: int) -> None:
        """One round: ask about every unresolved order."""
        for cid in list(self._pending):
            await self._resolve(cid, now)

    async def _resolve(self, cid: str, now: int) -> None:
        engine = self._engine
        if cid not in self._pending:
            return  # resolved meanwhile (the private stream) while an earlier query was awaited
        deadline, misses = self._pending[cid]
        try:
            report = await engine.connector.query(cid)
        except VenueError:
            report, misses = None, misses - 1  # could not ask: not an answer
        if cid not in self._pending:
            return  # resolved by other evidence while this query was awaited
        if report is not None:
            await engine._catch_up_fills(cid)
            engine._apply_report(report, react=True)
            self._pending.pop(cid, None)
            return
        misses += 1
        if misses >= engine.cfg.not_found_checks:
            self._pending.pop(cid, None)
            if engine.ledger.apply(cid, oms.Rejected("the venue never received it"), now):
                engine._gate_closed(cid)
                engine._act(engine.strategy.on_order(engine._view(engine.ledger.orders[cid])), None)
            return
        if now >= deadline and engine.ledger.orders[cid].status is oms.OrderStatus.UNKNOWN:
            engine.ledger.apply(cid, oms.Lost(), now)
            log.error(
                "order %s is still unknown after %.0fs: counted as LOST", cid, engine.cfg.unknown_timeout_s
            )
        self._pending[cid] = (deadline, misses)
