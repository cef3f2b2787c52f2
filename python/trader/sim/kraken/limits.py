"""Kraken's rate counters as the simulator keeps them (kraken.md section 6), per verification tier.

- The REST call counter, per API key: +1 a private call, +2 TradesHistory / QueryTrades / Ledgers; the
  order-entry calls (AddOrder, AddOrderBatch, AmendOrder, EditOrder, CancelOrder, CancelOrderBatch) are
  not counted (the trading engine's counter limits them). It decays continuously; a call that would take
  it over the tier's maximum is refused with `EAPI:Rate limit exceeded` and not counted.
- The trading engine's counter, per key and pair (shared by REST and WebSocket): add +1, batch add n/2,
  amend +1 plus +3/+2/+1 for an order younger than 5/10/15 s, cancel +8/+6/+5/+4/+2/+1 for an order
  younger than 5/10/15/45/90/300 s (its age since it was placed or last amended). Over the tier's
  threshold: `EOrder:Rate limit exceeded`, nothing done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NS = 1_000_000_000
REST_LIMIT = "EAPI:Rate limit exceeded"
ORDER_LIMIT = "EOrder:Rate limit exceeded"

# tier -> (REST max, REST decay a second, trading threshold, trading decay a second)
TIERS: dict[str, tuple[float, float, float, float]] = {
    "starter": (15, 0.33, 60, 1.0),
    "intermediate": (20, 0.5, 125, 2.34),
    "pro": (20, 1.0, 180, 3.75),
}
NOT_COUNTED = frozenset(
    ("AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch")
)
DOUBLE = frozenset(("TradesHistory", "QueryTrades", "Ledgers", "QueryLedgers"))
# (younger than this many seconds, extra points)
AMEND_AGE = ((5, 3), (10, 2), (15, 1))
CANCEL_AGE = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))


def by_age(table: tuple[tuple[int, int], ...], age_ns: int) -> int:
    """The points of an order `age_ns` old by one of Kraken's age tables."""
    for seconds, points in table:
        if age_ns < seconds * NS:
            return points
    return 0


def amend_cost(age_ns: int) -> float:
    return 1 + by_age(AMEND_AGE, age_ns)


def cancel_cost(age_ns: int) -> float:
    return by_age(CANCEL_AGE, age_ns)


@dataclass
class Counter:
    """A counter that decays by `decay` a second down to zero and refuses to pass `limit`."""

    limit: float
    decay: float
    level: float = 0.0
    at_ns: int = 0

    def value(self, now_ns: int) -> float:
        return max(0.0, self.level - self.decay * max(0, now_ns - self.at_ns) / NS)

    def wait_ns(self, cost: float, now_ns: int, limit: float | None = None) -> int:
        """0 when `cost` fits now (under `limit`, default the counter's own), else ns until it does."""
        over = self.value(now_ns) + cost - (self.limit if limit is None else limit)
        return 0 if over <= 1e-9 else int(over / self.decay * NS) + 1

    def add(self, cost: float, now_ns: int) -> None:
        self.level, self.at_ns = self.value(now_ns) + cost, now_ns


@dataclass
class Limits:
    """One tier's counters for every key (REST) and every key and pair (trading)."""

    tier: str
    rest: dict[str, Counter] = field(default_factory=dict)
    trading: dict[tuple[str, str], Counter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"rate tier must be one of {', '.join(TIERS)}")

    def call(self, key: str, method: str, now_ns: int) -> str:
        """Count a private REST call: "" when it may go on, else Kraken's error string."""
        if method in NOT_COUNTED:
            return ""
        limit, decay, _, _ = TIERS[self.tier]
        c = self.rest.setdefault(key, Counter(limit, decay))
        cost = 2 if method in DOUBLE else 1
        if c.wait_ns(cost, now_ns):
            return REST_LIMIT
        c.add(cost, now_ns)
        return ""

    def trade(self, key: str, pair: str, cost: float, now_ns: int) -> str:
        """Charge the trading counter of (key, pair): "" when it may go on, else Kraken's error string."""
        _, _, limit, decay = TIERS[self.tier]
        c = self.trading.setdefault((key, pair), Counter(limit, decay))
        if c.wait_ns(cost, now_ns):
            return ORDER_LIMIT
        c.add(cost, now_ns)
        return ""
