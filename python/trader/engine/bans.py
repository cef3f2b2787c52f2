"""A venue's ban (HTTP 418, Bybit's 403: RELIABILITY F-RL-02/03): every venue error the engine sees
passes `on_error`; a `BannedError` HALTs the venue in the gate until the ban is over, Retry-After rounded
up to the second plus `ban_margin_s` (a venue that rounds its Retry-After down would otherwise ban again
at once), or `ban_default_s` without one. The strategy sees empty books meanwhile (it pulls its quotes and
stops producing orders); the timer lifts the halt (`check`) and the next book update reaches it again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from trader.core import TradingState
from trader.errors import BannedError, VenueError

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState

log = logging.getLogger("trader.engine")

_S = 1_000_000_000


class VenueBan:
    def __init__(self, engine: Engine, venue: VenueState) -> None:
        self._engine = engine
        self._venue = venue
        self.until_ns = 0  # banned until then (our clock); 0: not banned

    @property
    def active(self) -> bool:
        return self.until_ns != 0

    def on_error(self, e: VenueError) -> None:
        if isinstance(e, BannedError):
            self.banned(e.retry_after_ns)

    def banned(self, retry_after_ns: int | None) -> None:
        engine, v = self._engine, self._venue
        cfg, gate = v.cfg, engine.gate
        now = engine.clock.now_ns()
        end = retry_after_ns if retry_after_ns is not None else now + int(cfg.ban_default_s * _S)
        until = -(-end // _S) * _S + int(cfg.ban_margin_s * _S)
        if until <= self.until_ns or gate is None:
            return
        first = not self.active
        self.until_ns = until
        if not first:
            return  # extended
        engine.summary.bans += 1
        log.error("%s banned us: venue HALTED for %.0fs", v.name, (until - now) / _S)
        gate.set_trading_state(TradingState.HALTED, venue=v.gate_id)
        for inst in v.instruments.values():
            engine._no_book(inst)

    def check(self, now: int) -> None:
        """Lift the halt once the ban (and the margin) is over; a kill latched meanwhile stays."""
        if not self.active or now < self.until_ns or self._engine.gate is None:
            return
        self.until_ns = 0
        self._engine._set_venue_state(self._venue)  # resumes unless something else holds the venue
        log.warning("%s: the ban is over, trading resumes", self._venue.name)
