"""Per-venue health: streams, kill thresholds and the watchdog (RELIABILITY; issue "one engine over many
venues").

- A venue whose market feed or private stream is down (`StreamStatus(up=False)` from its connector) stops
  quoting: HALTED in the gate, our orders there canceled, its strategies see empty books; the other venues
  go on. When every stream is back, the venue is resynchronised (our live orders asked, missed fills
  applied) and resumes.
- The watchdog, for venues without a dead-man switch (the venue does not cancel for us when we vanish):
  a stream gone longer than `watchdog_s` -> cancel everything there again, through whatever channel still
  works (REST), every `watchdog_s` until nothing of ours is left open.
- Kill thresholds, each crossing halts that venue with a latched kill (reset only by `trader kill --reset
  --venue`, audited): loss, reject rate over the last `reject_window` orders, unknown-outcome orders at
  once, time disconnected.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from trader.core import TradingState
from trader.engine.reconcile import resync
from trader.venues.base import Stream, StreamStatus

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState

log = logging.getLogger("trader.engine")

_S = 1_000_000_000
DEFAULT_WATCHDOG_S = 10.0  # venues without a dead-man switch, when the operator set no bound


@dataclass(frozen=True)
class HealthRules:
    """A venue's kill thresholds (None: not watched) and watchdog bound."""

    max_loss: Decimal | None = None  # today's loss on this venue, reporting currency
    max_reject_rate: Decimal | None = None  # share of the last `reject_window` order outcomes
    reject_window: int = 20
    max_unknown: int | None = None  # orders whose outcome is unknown, at once
    max_disconnected_s: float | None = None  # a stream down this long
    watchdog_s: float | None = None  # None: DEFAULT_WATCHDOG_S on venues without a dead-man switch


class VenueHealth:
    def __init__(self, rules: HealthRules, dead_man_switch: bool) -> None:
        self.rules = rules
        self.down: dict[Stream, tuple[int, str]] = {}  # stream -> (since, why)
        self.recovering = False  # streams are back; resynchronising before trading again
        self._outcomes: deque[bool] = deque(maxlen=max(rules.reject_window, 1))
        self._next_watchdog_ns = 0
        bound = rules.watchdog_s if rules.watchdog_s is not None else DEFAULT_WATCHDOG_S
        self.watchdog_ns = None if dead_man_switch and rules.watchdog_s is None else int(bound * _S)
        self.disconnects = 0
        self.watchdog_fired = 0

    @property
    def is_down(self) -> bool:
        return bool(self.down)

    def down_since(self) -> int | None:
        return min((t for t, _ in self.down.values()), default=None)

    def on_stream(self, st: StreamStatus) -> bool:
        """Record a stream's status; True when the venue's health changed (went down, or all back up)."""
        if not st.up:
            if st.stream in self.down:
                return False
            was_down = self.is_down
            self.down[st.stream] = (st.ts_recv, st.reason)
            if not was_down:
                self.disconnects += 1
                self._next_watchdog_ns = st.ts_recv + (self.watchdog_ns or 0)
            return not was_down
        if self.down.pop(st.stream, None) is None:
            return False
        return not self.is_down

    def on_outcome(self, rejected: bool) -> None:
        self._outcomes.append(rejected)

    def reject_rate(self) -> Fraction:
        if not self._outcomes:
            return Fraction(0)
        return Fraction(sum(self._outcomes), len(self._outcomes))

    def watchdog_due(self, now_ns: int) -> bool:
        """Down longer than the watchdog's bound (and again every bound while it stays down)."""
        if self.watchdog_ns is None or not self.is_down or now_ns < self._next_watchdog_ns:
            return False
        self._next_watchdog_ns = now_ns + self.watchdog_ns
        self.watchdog_fired += 1
        return True

    def breach(self, now_ns: int, loss: Fraction, unknown: int) -> str | None:
        """The first kill threshold crossed, as a sentence; None when all hold."""
        r = self.rules
        if r.max_loss is not None and loss > Fraction(r.max_loss):
            return f"loss {float(loss):.2f} above max_loss {r.max_loss}"
        window = len(self._outcomes)
        if (
            r.max_reject_rate is not None
            and window >= r.reject_window
            and self.reject_rate() > Fraction(r.max_reject_rate)
        ):
            rejected = sum(self._outcomes)
            return f"{rejected} of the last {window} orders rejected (max_reject_rate {r.max_reject_rate})"
        if r.max_unknown is not None and unknown > r.max_unknown:
            return f"{unknown} orders of unknown outcome (max_unknown {r.max_unknown})"
        since = self.down_since()
        if (
            r.max_disconnected_s is not None
            and since is not None
            and now_ns - since > r.max_disconnected_s * _S
        ):
            streams = ", ".join(sorted(self.down))
            down_s = (now_ns - since) / _S
            return f"{streams} stream down {down_s:.0f}s (max_disconnected_s {r.max_disconnected_s:g})"
        return None


# ---- the engine's side ----------------------------------------------------------------------------


def on_stream(engine: Engine, ev: StreamStatus, v: VenueState) -> None:
    """A stream down halts the venue (orders canceled, books empty); all back: resync, then resume."""
    if not v.health.on_stream(ev):
        return
    if v.health.is_down:
        engine.summary.disconnects += 1
        log.error(
            "%s: %s stream down (%s): venue HALTED, our orders there canceled",
            v.name,
            ev.stream,
            ev.reason,
        )
        set_venue_state(engine, v)
        for inst in v.instruments.values():
            engine._no_book(inst)
        engine._cancel_all_of(v)
        return
    log.warning("%s: streams back: resynchronising before trading again", v.name)
    v.health.recovering = True
    engine._spawn(recover(engine, v))


async def recover(engine: Engine, v: VenueState) -> None:
    try:
        await resync(engine, v)
    finally:
        v.health.recovering = False
        set_venue_state(engine, v)
    log.warning("%s: resynchronised, trading resumes", v.name)


def set_venue_state(engine: Engine, v: VenueState) -> None:
    """The venue's state in the gate from everything that may hold it (a kill latch stays anyway)."""
    if engine.gate is None or v.gate_id < 0:
        return
    halted = engine._blocked(v)
    if halted or not engine.gate.is_killed(venue=v.gate_id):
        state = TradingState.HALTED if halted else TradingState.ACTIVE
        engine.gate.set_trading_state(state, venue=v.gate_id)


async def check(engine: Engine, v: VenueState, now: int) -> None:
    """The watchdog, then the venue's kill thresholds (a crossing latches a kill of that venue)."""
    if v.health.watchdog_due(now):
        left = sum(o.venue == v.name for o in engine.ledger.live())
        log.error(
            "%s: watchdog: stream down past its bound, canceling everything there (%d open)", v.name, left
        )
        engine.summary.watchdog += 1
        await engine.cancel_everything(v.name)
    if engine.gate is None or v.gate_id < 0 or v.failed or engine.gate.is_killed(venue=v.gate_id):
        return
    # the venue's exact PnL (Fractions over its positions) only where a loss threshold asks for it
    loss = -engine.venue_pnl(v.name) if v.health.rules.max_loss is not None else Fraction(0)
    why = v.health.breach(now, loss, len(v.resolver))
    if why is not None:
        await engine.kill(f"{v.name} kill threshold: {why}", venue=v.name, durable=True)
