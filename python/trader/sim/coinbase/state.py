"""The Coinbase simulator's state: products, orders, accounts, the API's errors, the JSON shapes of an order,
a fill and an account, and the JWT check (PyJWT and `cryptography`, never `trader._core`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

DEMO_KEY_NAME = "organizations/trader-sim/apiKeys/demo"
# the simulator's published demo credential (a P-256 key made for it; it guards nothing)
DEMO_PRIVATE_KEY = """-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFczwIgGQhSFWCkaOuCQ0OeL7Ljg6gB5qXXHQ41TxqM+oAoGCCqGSM49
AwEHoUQDQgAEKetJ+pLGvejit4al77uGgJNRGI4K8FPXEiprxfiJGy6u+nylliXq
+fxhX//z87eKDrjQ0ta3JAK92WWtQIaL5w==
-----END EC PRIVATE KEY-----
"""

PREFIX = "/api/v3/brokerage"
ORDER_PATHS = (f"POST {PREFIX}/orders",)
RATE_LIMIT = 30  # private requests per second per key
MAKER_BPS = Decimal(60)  # the default (lowest volume) tier: 0.60 % maker, 1.20 % taker
TAKER_BPS = Decimal(120)
NS = 1_000_000_000
OPEN = frozenset({"PENDING", "OPEN", "QUEUED"})
JWT_LIFETIME_S = 120
LEEWAY_S = 1  # Coinbase's own leeway is unstated


class ApiError(Exception):
    """A gRPC-style error body `{"error", "code", "message", "details"}` with HTTP `status`."""

    def __init__(self, status: int, error: str, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.code = status, error, message, code

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "code": self.code, "message": self.message, "details": []}


class OrderFailedError(Exception):
    """A create-order failure: HTTP 200 with `success: false` and an `error_response`."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error, self.message = error, message


@dataclass(frozen=True)
class Product:
    product_id: str
    base: str
    quote: str
    base_increment: Decimal
    quote_increment: Decimal
    base_min_size: Decimal
    base_max_size: Decimal
    quote_min_size: Decimal
    quote_max_size: Decimal
    mid: int  # starting mid, quote increments

    def price(self, units: int) -> str:
        return fmt(Decimal(units) * self.quote_increment)

    def size(self, units: int) -> str:
        return fmt(Decimal(units) * self.base_increment)

    def to_units(self, text: str, increment: Decimal) -> int:
        value = Decimal(text) / increment
        if value != value.to_integral_value() or value <= 0:
            raise ValueError(text)
        return int(value)


PRODUCTS = (
    Product(
        "BTC-USD", "BTC", "USD", Decimal("0.00000001"), Decimal("0.01"), Decimal("0.00000001"),
        Decimal("3400"), Decimal("1"), Decimal("150000000"), 6_000_000,
    ),
    Product(
        "ETH-USD", "ETH", "USD", Decimal("0.00000001"), Decimal("0.01"), Decimal("0.00000001"),
        Decimal("50000"), Decimal("1"), Decimal("50000000"), 300_000,
    ),
)  # fmt: skip


@dataclass
class Order:
    order_id: str
    key: str
    client_id: str
    product: Product
    side: str  # BUY | SELL
    config_kind: str  # the order_configuration key
    config: dict[str, Any]
    tif: str  # GOOD_UNTIL_CANCELLED, GOOD_UNTIL_DATE_TIME, IMMEDIATE_OR_CANCEL, FILL_OR_KILL
    size: int  # base increments
    limit: int  # quote increments; 0 for market
    post_only: bool
    created_ns: int
    end_ns: int = 0  # GTD
    status: str = "PENDING"
    filled: int = 0
    filled_value: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    fills: int = 0
    engine_id: int = 0
    last_fill_ns: int = 0
    cancel_message: str = ""

    @property
    def remaining(self) -> int:
        return self.size - self.filled

    @property
    def order_type(self) -> str:
        return "MARKET" if self.config_kind.startswith("market") else "LIMIT"


@dataclass
class Account:
    public_key: Any = field(repr=False)
    user_id: str
    balances: dict[str, Decimal]
    fills: list[dict[str, Any]] = field(default_factory=list)
    submissions: dict[str, int] = field(default_factory=dict)
    window: list[int] = field(default_factory=lambda: [0, 0])  # [second, requests]


def fmt(d: Decimal) -> str:
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def rfc3339(ns: int) -> str:
    t = datetime.fromtimestamp(ns // NS, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{t}.{ns % NS:09d}Z"


def go_time(ns: int, uptime_ns: int) -> str:
    """A time as Go's `time.Time.String()` prints it, which is what the heartbeats channel's `current_time`
    carries (`2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105`)."""
    t = datetime.fromtimestamp(ns // NS, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{t}.{ns % NS:09d} +0000 UTC m=+{uptime_ns // NS}.{uptime_ns % NS:09d}"


def parse_rfc3339(text: str) -> int:
    head, _, frac = text.rstrip("Z").partition(".")
    secs = int(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return secs * NS + int((frac + "000000000")[:9])


def order_json(o: Order) -> dict[str, Any]:
    """An order as `GET /orders/historical/{id}` shows it (a documented subset of the fields)."""
    p = o.product
    avg = o.filled_value / (Decimal(o.filled) * p.base_increment) if o.filled else Decimal(0)
    return {
        "order_id": o.order_id,
        "product_id": p.product_id,
        "user_id": o.key,
        "order_configuration": {o.config_kind: o.config},
        "side": o.side,
        "client_order_id": o.client_id,
        "status": o.status,
        "time_in_force": o.tif,
        "created_time": rfc3339(o.created_ns),
        "completion_percentage": fmt(Decimal(100 * o.filled) / Decimal(o.size)) if o.size else "0",
        "filled_size": p.size(o.filled),
        "average_filled_price": fmt(avg.quantize(p.quote_increment)) if o.filled else "0",
        "fee": "",
        "number_of_fills": str(o.fills),
        "filled_value": fmt(o.filled_value),
        "pending_cancel": False,
        "size_in_quote": "quote_size" in o.config,
        "total_fees": fmt(o.fees),
        "size_inclusive_of_fees": "quote_size" in o.config,
        "total_value_after_fees": fmt(o.filled_value + (o.fees if o.side == "BUY" else -o.fees)),
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": o.order_type,
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": o.status not in OPEN,
        "product_type": "SPOT",
        "reject_message": "",
        "cancel_message": o.cancel_message,
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": "0",
        "is_liquidation": False,
        "last_fill_time": rfc3339(o.last_fill_ns) if o.last_fill_ns else None,
        "edit_history": [],
        "leverage": "",
        "margin_type": "UNKNOWN_MARGIN_TYPE",
        "retail_portfolio_id": "",
    }


ZERO_TIME = "0001-01-01T00:00:00Z"  # Coinbase's "no time"


def user_order_json(o: Order) -> dict[str, Any]:
    """An order as the `user` channel shows it: every field of the SDK's `UserOrders`, in the channel's own
    spellings where they differ from REST (`order_type` "Limit"/"Market", `post_only` "true"/"false", the
    futures-only fields at their spot values), as in the channel's documented example."""
    p = o.product
    avg = o.filled_value / (Decimal(o.filled) * p.base_increment) if o.filled else Decimal(0)
    return {
        "avg_price": fmt(avg.quantize(p.quote_increment)) if o.filled else "0",
        "cancel_reason": o.cancel_message,
        "client_order_id": o.client_id,
        "completion_percentage": fmt(Decimal(100 * o.filled) / Decimal(o.size)) if o.size else "0",
        "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
        "cumulative_quantity": p.size(o.filled),
        "filled_value": fmt(o.filled_value),
        "leaves_quantity": p.size(o.remaining if o.status in OPEN else 0),
        "limit_price": p.price(o.limit) if o.limit else "0",
        "number_of_fills": str(o.fills),
        "order_id": o.order_id,
        "order_side": o.side,
        "order_type": o.order_type.title(),
        "outstanding_hold_amount": "0",
        "post_only": "true" if o.post_only else "false",
        "product_id": p.product_id,
        "product_type": "SPOT",
        "reject_reason": "",
        "retail_portfolio_id": "",
        "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
        "status": o.status,
        "stop_price": "",
        "time_in_force": o.tif,
        "total_fees": fmt(o.fees),
        "total_value_after_fees": fmt(o.filled_value + (o.fees if o.side == "BUY" else -o.fees)),
        "trigger_status": "INVALID_ORDER_TYPE",
        "creation_time": rfc3339(o.created_ns),
        "end_time": rfc3339(o.end_ns) if o.end_ns else ZERO_TIME,
        "start_time": ZERO_TIME,
    }


def product_json(p: Product, price: str) -> dict[str, Any]:
    return {
        "product_id": p.product_id,
        "price": price,
        "base_increment": fmt(p.base_increment),
        "quote_increment": fmt(p.quote_increment),
        "base_min_size": fmt(p.base_min_size),
        "base_max_size": fmt(p.base_max_size),
        "quote_min_size": fmt(p.quote_min_size),
        "quote_max_size": fmt(p.quote_max_size),
        "price_increment": fmt(p.quote_increment),
        "status": "online",
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": False,
        "is_disabled": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "base_currency_id": p.base,
        "quote_currency_id": p.quote,
        "base_display_symbol": p.base,
        "quote_display_symbol": p.quote,
        "display_name": p.product_id,
    }


def verify_jwt(token: str, keys: dict[str, Any], now_s: int, uri: str | None) -> str:
    """The key name a CDP JWT was signed by, checked independently with PyJWT (ES256 or EdDSA): header
    `kid`, claims `sub` = kid, `iss` = "cdp", `nbf` <= now <= `exp` (on the simulator's clock, with a few
    seconds' leeway, lifetime at most 120 s), and `uri` = "METHOD host/path" for REST or none for the
    WebSocket. `ApiError(401)` otherwise."""
    import jwt

    fail = ApiError(401, "UNAUTHENTICATED", "Unauthorized", code=16)
    try:
        header = jwt.get_unverified_header(token)
        kid = str(header.get("kid", ""))
        if kid not in keys:
            raise fail
        claims = jwt.decode(
            token,
            keys[kid],
            algorithms=["ES256", "EdDSA"],
            options={"verify_exp": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        raise fail from None
    nbf, exp = int(claims.get("nbf", 0)), int(claims.get("exp", 0))
    if claims.get("sub") != kid or claims.get("iss") != "cdp" or exp - nbf > JWT_LIFETIME_S:
        raise fail
    if not nbf - LEEWAY_S <= now_s <= exp + LEEWAY_S:
        raise ApiError(401, "UNAUTHENTICATED", "Unauthorized: token expired or not yet valid", code=16)
    if claims.get("uri") != uri:
        raise fail
    return kid
