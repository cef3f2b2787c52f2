"""Request weight and order-count limits: one implementation for every market, told apart by the
budget a path draws on and the order windows of its market.

Budgets: spot `/api` (and `/ws-api`), futures `/fapi` (and `/ws-fapi`), and every `/sapi` endpoint its
own 12000/min (Binance's SAPI IP limits are per endpoint). Past a budget: 429 + Retry-After until the
minute ends; a request during that block earns a 418 ban of 120 s. Orders: spot and each margin wallet
`orders_per_10s`; futures per 10 s and per minute.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from trader.clock import Clock
from trader.sim.binance.errors import ApiError, too_many_orders
from trader.sim.binance.state import Account, Market

SAPI_WEIGHT_LIMIT = 12_000


@dataclass
class Bucket:
    minute: int = 0
    used: int = 0
    blocked_until_ms: int = 0
    banned_until_ms: int = 0


@dataclass(frozen=True)
class Window:
    """An order-count window: its limit, length, and how headers and rateLimits name it."""

    limit: int
    ms: int
    header: str  # X-MBX-ORDER-COUNT-<header>
    interval: str  # SECOND | MINUTE
    interval_num: int
    label: str  # in the -1015 message


def _ban_error(msg: str, until_ms: int, now: int) -> ApiError:
    return ApiError(-1003, msg, 418, max(1, (until_ms - now) // 1000))


class Limits:
    def __init__(
        self,
        clock: Clock,
        *,
        weight_limit: int,
        orders_per_10s: int,
        futures_weight_limit: int,
        futures_orders_per_10s: int,
        futures_orders_per_1m: int,
    ) -> None:
        self.clock = clock
        self.weight_limit, self.orders_per_10s = weight_limit, orders_per_10s
        self.futures_weight_limit = futures_weight_limit
        self.futures_orders_per_10s, self.futures_orders_per_1m = (
            futures_orders_per_10s,
            futures_orders_per_1m,
        )
        self.buckets: dict[str, Bucket] = {}
        self.ip_banned_until_ms = 0

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def bucket(self, path: str) -> tuple[str, int]:
        """Which request-weight budget a path draws on, and its limit per minute."""
        if path.startswith(("/fapi/", "/ws-fapi/")):
            return "fapi", self.futures_weight_limit
        if path.startswith("/sapi/"):
            return path, SAPI_WEIGHT_LIMIT
        return "api", self.weight_limit

    def charge(self, path: str, weight: int) -> dict[str, str]:
        """Take `weight` from the path's budget: 429 + Retry-After past it, then a 418 ban."""
        name, limit = self.bucket(path)
        b = self.buckets.setdefault(name, Bucket())
        now = self.now_ms()
        if now < self.ip_banned_until_ms:
            raise _ban_error("Way too many requests; IP banned.", self.ip_banned_until_ms, now)
        if now < b.banned_until_ms:
            raise _ban_error("Way too many requests; IP banned.", b.banned_until_ms, now)
        if now < b.blocked_until_ms:  # kept going after a 429: ban
            b.banned_until_ms = now + 120_000
            raise ApiError(-1003, "Way too many requests; IP banned for 120 seconds.", 418, 120)
        minute = now // 60_000
        used = (b.used if b.minute == minute else 0) + weight
        b.minute, b.used = minute, used
        if used > limit:
            b.blocked_until_ms = (minute + 1) * 60_000
            raise ApiError(
                -1003,
                f"Too many requests; current limit of IP is {limit} requests per minute.",
                429,
                max(1, (b.blocked_until_ms - now) // 1000),
            )
        return {"X-MBX-USED-WEIGHT-1M": str(used)}

    def ban(self, seconds: int) -> None:
        self.ip_banned_until_ms = self.now_ms() + seconds * 1000

    def used_weight(self, path: str) -> tuple[int, int]:
        """(used this minute, limit) of the budget `path` draws on."""
        name, limit = self.bucket(path)
        b = self.buckets.get(name)
        used = b.used if b is not None and b.minute == self.now_ms() // 60_000 else 0
        return used, limit

    # ---- orders ------------------------------------------------------------------------------------

    def windows(self, market: Market) -> list[Window]:
        if market.book == "futures":
            return [
                Window(self.futures_orders_per_10s, 10_000, "10S", "SECOND", 10, "TEN_SECONDS"),
                Window(self.futures_orders_per_1m, 60_000, "1M", "MINUTE", 1, "MINUTE"),
            ]
        return [Window(self.orders_per_10s, 10_000, "10S", "SECOND", 10, "TEN_SECONDS")]

    def admit_order(self, market: Market, counters: Account) -> int:
        """Refuse a new order past any order window (-1015, 429); returns now (ms)."""
        now = self.now_ms()
        windows = self.windows(market)
        times = counters.order_times  # in the order they came: what left the longest window goes
        del times[: bisect.bisect_right(times, now - max(w.ms for w in windows))]
        for w in windows:
            if _since(times, now - w.ms) >= w.limit:
                raise too_many_orders(w.limit, w.label)
        return now

    def order_counts(self, market: Market, counters: Account) -> list[tuple[Window, int]]:
        now = self.now_ms()
        return [(w, _since(counters.order_times, now - w.ms)) for w in self.windows(market)]

    def order_headers(self, market: Market, counters: Account) -> dict[str, str]:
        return {f"X-MBX-ORDER-COUNT-{w.header}": str(n) for w, n in self.order_counts(market, counters)}

    def ws_rate_limits(self, market: Market, counters: Account | None) -> list[dict[str, Any]]:
        """The `rateLimits` of a WebSocket API reply: the weight, and the order windows when signed."""
        used, limit = self.used_weight(market.order_path)
        out: list[dict[str, Any]] = [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit}
            | {"count": used}
        ]
        for w, n in self.order_counts(market, counters) if counters is not None else []:
            out.append(
                {
                    "rateLimitType": "ORDERS",
                    "interval": w.interval,
                    "intervalNum": w.interval_num,
                    "limit": w.limit,
                    "count": n,
                }
            )
        return out


def _since(times: list[int], after_ms: int) -> int:
    """How many of `times` (ascending) are later than `after_ms`: a bisection, not a scan (a window
    can hold thousands of orders when a client is timed placing them back to back)."""
    return len(times) - bisect.bisect_right(times, after_ms)
