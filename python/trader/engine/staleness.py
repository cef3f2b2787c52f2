"""The engine's feed watchdog (RELIABILITY F-MD-06, C40): per instrument, how long since the last book update
arrived (its `ts_recv`: our clock, read once when the message arrived), against a threshold drawn from that
feed's own message rate.

The threshold is `factor` x the median gap between recent updates, kept within [`min_s`, `max_s`] (default
20 x median, 2 s to 5 s), or a fixed `fixed_s`. Until `min_samples` gaps were seen it is `max_s`. A feed
past its threshold is stale until its next update; the engine then pulls the quotes resting on that
instrument and tells the strategy the book is empty.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

_SAMPLES = 64


@dataclass(frozen=True)
class StaleRule:
    min_s: float = 2.0
    max_s: float = 5.0
    factor: float = 20.0
    fixed_s: float | None = None  # a fixed threshold instead of one drawn from the message rate
    min_samples: int = 8


@dataclass
class _Feed:
    last_ns: int
    gaps: deque[int] = field(default_factory=lambda: deque(maxlen=_SAMPLES))
    threshold_ns: int = 0
    stale: bool = False


class FeedWatch:
    def __init__(self, rule: StaleRule) -> None:
        self.rule = rule
        self._feeds: dict[str, _Feed] = {}

    def on_update(self, symbol: str, now_ns: int) -> bool:
        """A book update arrived; True when it ends a stale period. Cheap: this is the hot path."""
        feed = self._feeds.get(symbol)
        if feed is None:
            self._feeds[symbol] = _Feed(now_ns, threshold_ns=self._threshold(()))
            return False
        if now_ns > feed.last_ns:
            feed.gaps.append(now_ns - feed.last_ns)
        feed.last_ns = now_ns
        was, feed.stale = feed.stale, False
        return was

    def threshold_s(self, symbol: str) -> float:
        feed = self._feeds.get(symbol)
        return (feed.threshold_ns if feed is not None else self._threshold(())) / 1e9

    def _threshold(self, gaps: deque[int] | tuple[()]) -> int:
        r = self.rule
        if r.fixed_s is not None:
            return int(r.fixed_s * 1e9)
        if len(gaps) < r.min_samples:
            return int(r.max_s * 1e9)
        derived = r.factor * statistics.median(gaps)
        return int(min(max(derived, r.min_s * 1e9), r.max_s * 1e9))

    def newly_stale(self, now_ns: int) -> list[str]:
        """Feeds that went past their threshold since the last call (each reported once per stale
        period). Thresholds are recomputed here, off the hot path."""
        out = []
        for symbol, feed in self._feeds.items():
            if feed.stale:
                continue
            feed.threshold_ns = self._threshold(feed.gaps)
            if now_ns - feed.last_ns >= feed.threshold_ns:
                feed.stale = True
                out.append(symbol)
        return out

    def next_deadline(self) -> int | None:
        """The earliest time a live feed turns stale if nothing arrives (for the timer's wake-up)."""
        live = [f.last_ns + f.threshold_ns for f in self._feeds.values() if not f.stale]
        return min(live, default=None)
