"""The Alpaca simulator's state: listings, books, orders, accounts, stream subscriptions, and the API's
error (one class each)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trader.sim.alpaca.market_hours import rfc3339
from trader.sim.market import BackgroundMarket
from trader.sim.matching import MatchingEngine

DEMO_KEY = "sim-alpaca-key"
DEMO_SECRET = "sim-alpaca-secret"  # noqa: S105 - the simulator's published demo credential

ORDER_PATHS = ("POST /v2/orders", "DELETE /v2/orders")
RATE_LIMIT = 200  # requests per minute per account
CENT = Decimal("0.01")
NS = 1_000_000_000
LIVE = frozenset({"accepted", "pending_new", "new", "partially_filled"})
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")


class ApiError(Exception):
    """An answer with an error body `{"code", "message", ...extra}` and HTTP `status`."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers: dict[str, str] = {}


@dataclass(frozen=True)
class Listing:
    symbol: str
    name: str
    exchange: str
    tape: str
    mid_cents: int


LISTINGS = (
    Listing("SPY", "SPDR S&P 500 ETF Trust", "ARCA", "B", 45_000),
    Listing("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", "C", 38_000),
)


@dataclass
class Book:
    listing: Listing
    asset_id: str
    engine: MatchingEngine
    market: BackgroundMarket
    top: tuple[int, int, int, int] = (0, 0, 0, 0)
    trade_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Order:
    id: str
    key: str
    client_id: str
    symbol: str
    asset_id: str
    side: str  # buy | sell
    type: str  # market | limit
    tif: str
    qty: int  # shares
    limit: int  # cents; 0 for market
    extended: bool
    intent: str
    created_ns: int
    status: str = "pending_new"
    updated_ns: int = 0
    filled: int = 0
    filled_cents: int = 0  # sum of price * qty, for the average
    engine_id: int = 0  # > 0 while it rests in the book
    expires_ns: int | None = None
    filled_ns: int | None = None
    canceled_ns: int | None = None
    expired_ns: int | None = None

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


@dataclass
class Account:
    secret: bytes = field(repr=False)
    id: str
    number: str
    cash: Decimal
    positions: dict[str, list[Any]] = field(default_factory=dict)  # symbol -> [shares, cost basis]
    used_client_ids: set[str] = field(default_factory=set)
    submissions: dict[str, int] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    window: list[int] = field(default_factory=lambda: [0, 0])  # [minute, requests]

    def __repr__(self) -> str:  # never the secret
        return f"Account({self.number}, cash={self.cash})"


@dataclass
class DataSub:
    key: str
    feed: str
    binary: bool  # msgpack
    subs: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CHANNELS})

    def wants(self, channel: str, symbol: str) -> bool:
        s = self.subs[channel]
        return symbol in s or "*" in s


@dataclass(frozen=True)
class Request:
    query: Mapping[str, str]
    match: dict[str, str]
    body: bytes


def cents(d: Decimal) -> str:
    return f"{d:.2f}"


def px(in_cents: int) -> str:
    return cents(Decimal(in_cents) * CENT)


def order_json(o: Order) -> dict[str, Any]:
    def ts(ns: int | None) -> str | None:
        return None if ns is None else rfc3339(ns)

    return {
        "id": o.id,
        "client_order_id": o.client_id,
        "created_at": rfc3339(o.created_ns),
        "updated_at": rfc3339(o.updated_ns or o.created_ns),
        "submitted_at": rfc3339(o.created_ns),
        "filled_at": ts(o.filled_ns),
        "expired_at": ts(o.expired_ns),
        "canceled_at": ts(o.canceled_ns),
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": o.asset_id,
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": str(o.qty),
        "filled_qty": str(o.filled),
        "filled_avg_price": (
            f"{Decimal(o.filled_cents) * CENT / o.filled:.4f}".rstrip("0").rstrip(".") if o.filled else None
        ),
        "order_class": "",
        "order_type": o.type,
        "type": o.type,
        "side": o.side,
        "position_intent": o.intent,
        "time_in_force": o.tif,
        "limit_price": px(o.limit) if o.type == "limit" else None,
        "stop_price": None,
        "status": o.status,
        "extended_hours": o.extended,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "subtag": None,
        "source": None,
        "expires_at": ts(o.expires_ns),
    }
