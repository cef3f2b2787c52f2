"""The engine's own latency, measured on every order (real time only; the summary and live view report it).

- tick-to-wire: from `ts_recv` of the market-data frame the decision came from (our clock, when its bytes
  were read from the socket) to the moment the order's bytes were handed to the order socket (REST or
  WebSocket: `trader.venues._wire`);
- order round trip: from that moment to the venue's acknowledgement read back (submit -> ack);
- tick-to-order (older, kept): from the frame to the order's creation, before anything is written.
- conflated: market-data events the strategies never saw because a newer book of the same instrument had
  already arrived when the engine got to them (`trader.engine.loops.pump`).

The last `KEEP` samples of each are kept (a ring), the maximum over the whole session.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

KEEP = 200_000


def percentile(sorted_ns: list[int], q: float) -> int:
    """The `q` quantile (0..1) of sorted values, nearest rank (0 for none)."""
    if not sorted_ns:
        return 0
    return sorted_ns[min(len(sorted_ns) - 1, max(0, int(len(sorted_ns) * q + 0.5) - 1))]


@dataclass
class Series:
    """One latency's samples (ns): the last `KEEP`, the count and the session's maximum."""

    samples: deque[int] = field(default_factory=lambda: deque(maxlen=KEEP))
    count: int = 0
    max_ns: int = 0

    def add(self, ns: int) -> None:
        self.samples.append(ns)
        self.count += 1
        if ns > self.max_ns:
            self.max_ns = ns

    def stats(self, last: int | None = None) -> dict[str, int]:
        """p50, p90, p99, p99.9 and max in ns, and the count (over the last `last` samples if given)."""
        data = list(self.samples)[-last:] if last else list(self.samples)
        data.sort()
        return {
            "count": self.count,
            "p50": percentile(data, 0.50),
            "p90": percentile(data, 0.90),
            "p99": percentile(data, 0.99),
            "p999": percentile(data, 0.999),
            "max": self.max_ns if not last else (data[-1] if data else 0),
        }


@dataclass
class Latency:
    tick_to_wire: Series = field(default_factory=Series)
    round_trip: Series = field(default_factory=Series)
    conflated: int = 0
    books: int = 0  # book updates handed to the strategies (their cadence: how cold each tick runs)

    def on_sent(self, tick_ns: int | None, wire_ns: int, ack_ns: int | None) -> None:
        """An order's send ended: its bytes left at `wire_ns` (0: never), acknowledged at `ack_ns`."""
        if not wire_ns:
            return
        if tick_ns is not None:
            self.tick_to_wire.add(max(0, wire_ns - tick_ns))
        if ack_ns is not None:
            self.round_trip.add(max(0, ack_ns - wire_ns))


def us(ns: int) -> float:
    return round(ns / 1000, 1)
