"""The engine's one listener interface: what monitoring (metrics, alerts, order logs, the run report's
samples) is told, and nothing else. The engine never depends on who listens.

The engine calls an `Observers` fan-out (`engine.ledger.observers`: add listeners there) at five points:
every order state change (the ledger, after the journal write), every risk denial, every venue error,
every kill latch, and every timer tick (where listeners sample what they need, bounded). A listener must
be cheap on the first four and must not block: anything slow (a webhook, a file) is queued and done
elsewhere. A listener that raises is logged and skipped; it never breaks the engine.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trader.engine import oms
    from trader.engine.engine import Engine
    from trader.errors import VenueError
    from trader.strategies.base import Place

log = logging.getLogger("trader.engine")


class EngineObserver:
    """A listener: override what you need (every method does nothing by default)."""

    def on_order(self, order: oms.Order, event: oms.OrderEvent | None, ts_ns: int) -> None:
        """An order changed state (`event` None: it was created, intent journaled, about to be sent)."""

    def on_denial(self, strategy: str, place: Place, reason: str) -> None:
        """The pre-trade check or the gate refused a strategy's order (`reason`: a bounded code)."""

    def on_venue_error(self, venue: str, error: VenueError) -> None:
        """A venue error the engine saw (a reject, a refused cancel, a rate limit, a ban...)."""

    def on_kill(self, reason: str, venue: str | None) -> None:
        """A kill latched: everything (`venue` None) or one venue."""

    def on_timer(self, engine: Engine, now_ns: int) -> None:
        """The engine's timer ticked (every `timer_ms`); sample here, cheaply."""


class Observers(EngineObserver):
    """The engine's fan-out to its listeners (none: every call is a loop over nothing)."""

    def __init__(self) -> None:
        self._all: tuple[EngineObserver, ...] = ()

    def add(self, observer: EngineObserver) -> None:
        self._all = (*self._all, observer)

    def remove(self, observer: EngineObserver) -> None:
        self._all = tuple(o for o in self._all if o is not observer)

    def __len__(self) -> int:
        return len(self._all)

    def _failed(self, o: EngineObserver, what: str, e: Exception) -> None:
        log.error("observer %s failed on %s (continuing): %r", type(o).__name__, what, e, exc_info=e)

    def on_order(self, order: oms.Order, event: oms.OrderEvent | None, ts_ns: int) -> None:
        for o in self._all:
            try:
                o.on_order(order, event, ts_ns)
            except Exception as e:
                self._failed(o, "order", e)

    def on_denial(self, strategy: str, place: Place, reason: str) -> None:
        for o in self._all:
            try:
                o.on_denial(strategy, place, reason)
            except Exception as e:
                self._failed(o, "denial", e)

    def on_venue_error(self, venue: str, error: VenueError) -> None:
        for o in self._all:
            try:
                o.on_venue_error(venue, error)
            except Exception as e:
                self._failed(o, "venue error", e)

    def on_kill(self, reason: str, venue: str | None) -> None:
        for o in self._all:
            try:
                o.on_kill(reason, venue)
            except Exception as e:
                self._failed(o, "kill", e)

    def on_timer(self, engine: Engine, now_ns: int) -> None:
        for o in self._all:
            try:
                o.on_timer(engine, now_ns)
            except Exception as e:
                self._failed(o, "timer", e)
