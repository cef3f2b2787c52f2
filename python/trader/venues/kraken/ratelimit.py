"""Kraken's rate counters kept locally, the way Kraken keeps them (kraken.md section 6), so the connector
never trips them in normal use.

Kraken counts with decaying counters, not windows: the key's REST call counter (+1 a private call, +2
TradesHistory; order entry not counted) and the trading engine's counter per pair (add +1, batch add n/2,
amend +1 and more for a young order, cancel up to +8 for a young order), each decaying at its tier's rate
down to zero. Here the same counters run on our clock, `MARGIN` below Kraken's limits (our count starts
when a request leaves, Kraken's when it arrives):

- a private REST read waits until it fits (`rest`); `priority` calls (the dead-man switch, cancel-all)
  may use the last `PRIORITY_RESERVE` units the others leave free;
- an add, batch or amend that does not fit, with room left for one young order's cancel
  (`CANCEL_RESERVE`), is refused before sending (`RateLimitError`, code "local"): an order never waits;
- a cancel is never held back: it is counted and sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from trader.clock import Clock
from trader.errors import RateLimitError
from trader.venues.kraken import endpoints as ep

NS = 1_000_000_000
MARGIN = 1.0
PRIORITY_RESERVE = 2.0
CANCEL_RESERVE = 8.0
AMEND_AGE = ((5, 3), (10, 2), (15, 1))  # (younger than s, extra points)
CANCEL_AGE = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))


def _by_age(table: tuple[tuple[int, int], ...], age_ns: int) -> int:
    return next((points for seconds, points in table if age_ns < seconds * NS), 0)


def amend_cost(age_ns: int) -> float:
    """An amend of an order `age_ns` old (since placed or last amended)."""
    return 1 + _by_age(AMEND_AGE, age_ns)


def cancel_cost(age_ns: int) -> float:
    """A cancel of an order `age_ns` old."""
    return float(_by_age(CANCEL_AGE, age_ns))


@dataclass
class Counter:
    """A counter decaying by `decay` a second to zero."""

    limit: float
    decay: float
    level: float = 0.0
    at_ns: int = 0

    def value(self, now_ns: int) -> float:
        return max(0.0, self.level - self.decay * max(0, now_ns - self.at_ns) / NS)

    def wait_ns(self, cost: float, now_ns: int, headroom: float = 0.0) -> int:
        """0 when `cost` fits now with `headroom` left, else ns until it does."""
        over = self.value(now_ns) + cost + headroom - self.limit
        return 0 if over <= 1e-9 else int(over / self.decay * NS) + 1

    def add(self, cost: float, now_ns: int) -> None:
        self.level, self.at_ns = self.value(now_ns) + cost, now_ns


class Counters:
    """The key's REST counter and the trading counters of its pairs, at one verification tier."""

    def __init__(self, tier: str, clock: Clock, venue: str = "kraken") -> None:
        if tier not in ep.RATE_TIERS:
            raise ValueError(f"rate_tier must be one of {', '.join(ep.RATE_TIERS)}")
        calls, decay, orders, order_decay = ep.RATE_TIERS[tier]
        self.clock, self.venue = clock, venue
        self.rest = Counter(calls - MARGIN, decay)
        self._trading_limit = (orders - MARGIN, order_decay)
        self.trading: dict[str, Counter] = {}  # pair -> its counter
        self.touched: dict[str, int] = {}  # client id -> ns it was placed or last amended

    async def call(self, path: str, *, priority: bool = False) -> None:
        """Wait until a private REST call fits the key's counter, then count it."""
        cost = ep.COUNTER_COST.get(path, 1)
        if not cost:
            return
        headroom = 0.0 if priority else PRIORITY_RESERVE
        while wait := self.rest.wait_ns(cost, self.clock.now_ns(), headroom):
            await self.clock.sleep(wait / NS)
        self.rest.add(cost, self.clock.now_ns())

    def _pair(self, pair: str) -> Counter:
        c = self.trading.get(pair)
        if c is None:
            c = self.trading[pair] = Counter(*self._trading_limit)
        return c

    def order(self, pair: str, cost: float, what: str) -> None:
        """Count an add / batch / amend on the pair's trading counter, or refuse it (`RateLimitError`,
        nothing counted) when it would not leave room for a young order's cancel."""
        now, c = self.clock.now_ns(), self._pair(pair)
        wait = c.wait_ns(cost, now, CANCEL_RESERVE)
        if wait:
            raise RateLimitError(
                f"{what}: local trading-rate counter ({c.value(now):.1f} of {c.limit + MARGIN:.0f})",
                venue=self.venue,
                code="local",
                retry_after_ns=now + wait,
            )
        c.add(cost, now)

    def amend(self, pair: str, client_id: str) -> None:
        now = self.clock.now_ns()
        self.order(pair, amend_cost(now - self.touched.get(client_id, now)), "AmendOrder")

    def cancel(self, pair: str, client_id: str) -> None:
        """Count a cancel (never refused: a cancel is always sent)."""
        now = self.clock.now_ns()
        self._pair(pair).add(cancel_cost(now - self.touched.pop(client_id, now)), now)

    def placed(self, client_id: str) -> None:
        """The order was placed or amended now: the age its next amend or cancel is charged by."""
        self.touched[client_id] = self.clock.now_ns()
