"""Resolving orders whose outcome is unknown (a timeout or 5xx on submit): ask the venue by client order
id, never send again (RELIABILITY F-ORD-01/02/12).

- found: the venue's answer is applied (and fills it had that the stream has not brought);
- still unresolved `unknown_timeout_s` after the first unknown: LOST (still counted, still fillable);
- never received: only after `never_received_after_s` (30 s) of "not found" answers from the first unknown,
  and at least `not_found_checks` of them, since a venue may not know an order for a while after a
  successful POST. Then REJECTED; never resent.

Lookups back off (from the timer's period up to `_MAX_INTERVAL_NS`), so an outage with many unknown
orders does not become a query storm. A lookup that fails (the venue is down, throttled) is no answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trader.engine import oms
from trader.errors import VenueError

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState

log = logging.getLogger("trader.engine")

_MAX_INTERVAL_NS = 2_000_000_000


@dataclass
class _Pending:
    first_ns: int  # when the outcome became unknown
    next_ns: int  # the next lookup
    not_found: int = 0  # "not found" answers so far


class Resolver:
    def __init__(self, engine: Engine, venue: VenueState) -> None:
        self._engine = engine
        self._venue = venue
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, client_id: str) -> bool:
        return client_id in self._pending

    def track(self, client_id: str, now_ns: int, first_ns: int | None = None) -> None:
        """The order's outcome is unknown since `first_ns` (default: now). Kept if already tracked."""
        if client_id not in self._pending:
            self._pending[client_id] = _Pending(first_ns if first_ns is not None else now_ns, now_ns)

    def forget(self, client_id: str) -> None:
        """Resolved by other evidence (the private stream, a cancel's answer)."""
        self._pending.pop(client_id, None)

    async def run(self, now: int) -> None:
        """One round: ask about every unresolved order whose next lookup is due."""
        for cid in list(self._pending):
            p = self._pending.get(cid)
            if p is not None and now >= p.next_ns:
                await self._resolve(cid, p, now)

    async def _resolve(self, cid: str, p: _Pending, now: int) -> None:
        engine, v = self._engine, self._venue
        try:
            report = await v.connector.query(cid)
        except VenueError as e:
            engine._venue_error(v, e)
            log.warning("order %s: lookup failed (%s); asking again", cid, e)
            report = None
            answered = False
        else:
            answered = True
        if self._pending.get(cid) is not p:
            return  # resolved by other evidence (the private stream) while this lookup was awaited
        if report is not None:
            self._pending.pop(cid, None)
            await engine._catch_up_fills(cid)
            engine._apply_report(report, v, react=True)
            return
        p.not_found += answered
        cfg = v.cfg
        waited = engine.clock.now_ns() - p.first_ns
        if answered and p.not_found >= cfg.not_found_checks and waited >= cfg.never_received_after_s * 1e9:
            self._never_received(cid, waited)
            return
        order = engine.ledger.orders[cid]
        if waited >= cfg.unknown_timeout_s * 1e9 and order.status is oms.OrderStatus.UNKNOWN:
            engine.ledger.apply(cid, oms.Lost(), now)
            log.error("order %s is still unknown after %.0fs: counted as LOST", cid, cfg.unknown_timeout_s)
        step = min(max(cfg.timer_ms * 1_000_000, 1) * 2 ** min(p.not_found, 8), _MAX_INTERVAL_NS)
        verdict_ns = p.first_ns + int(cfg.never_received_after_s * 1e9)
        p.next_ns = min(now + step, verdict_ns) if now < verdict_ns else now + step

    def _never_received(self, cid: str, waited_ns: int) -> None:
        engine = self._engine
        self._pending.pop(cid, None)
        log.warning("order %s: not found for %.0fs: the venue never received it", cid, waited_ns / 1e9)
        if engine.ledger.apply(cid, oms.Rejected("the venue never received it"), engine.clock.now_ns()):
            engine._gate_closed(cid)
            engine._tell_order(engine.ledger.orders[cid])
