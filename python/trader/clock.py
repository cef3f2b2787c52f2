"""The one seam where time enters. Nothing else in `trader` reads the clock.

The core takes `now_ns` as an argument; the engine, connectors and simulators take a `Clock`, so
tests run in simulated time.
"""

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Wall-clock time in nanoseconds since the Unix epoch."""
        ...

    def monotonic_ns(self) -> int:
        """A monotonic reading in nanoseconds, for durations and deadlines."""
        ...


class LiveClock:
    """The real clocks."""

    def now_ns(self) -> int:
        return time.time_ns()  # noqa: TID251 - this is the clock seam

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()  # noqa: TID251 - this is the clock seam


class SimClock:
    """A clock that moves only when told to."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def advance(self, ns: int) -> int:
        if ns < 0:
            raise ValueError("a SimClock does not go backwards")
        self._now += ns
        return self._now

    def set(self, now_ns: int) -> None:
        if now_ns < self._now:
            raise ValueError("a SimClock does not go backwards")
        self._now = now_ns


class ShiftedClock:
    """Wall time that starts at `start_ns` and moves at the base clock's pace; `set()` jumps. A venue's
    own time (its market session) when it differs from ours, or a simulator put inside market hours."""

    def __init__(self, start_ns: int, base: Clock | None = None) -> None:
        self._base: Clock = base or LiveClock()
        self._start = start_ns
        self._t0 = self._base.monotonic_ns()

    def now_ns(self) -> int:
        return self._start + self._base.monotonic_ns() - self._t0

    def monotonic_ns(self) -> int:
        return self._base.monotonic_ns()

    def set(self, now_ns: int) -> None:
        self._start, self._t0 = now_ns, self._base.monotonic_ns()
