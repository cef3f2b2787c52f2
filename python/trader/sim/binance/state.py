"""The simulator's records: accounts, orders, futures positions, margin wallets, and the market
descriptor that selects per request which book, wallet, paths and error wording apply.

Money is Decimal or integer units (ticks, lots); nothing here is a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from trader.sim.binance.errors import ApiError, require

if TYPE_CHECKING:  # `cryptography` is needed only when Ed25519 accounts are configured
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DEMO_KEY = "sim-demo-key"
DEMO_SECRET = "sim-demo-secret"  # noqa: S105 - the simulator's published demo credential

SPOT = "SPOT"
MARGIN = "MARGIN"
FUTURES_WALLET = "FUTURES"  # the owner wallet of futures orders and user data
LIVE = ("NEW", "PARTIALLY_FILLED")
ZERO = Decimal(0)
UserKey = tuple[str, str]  # (api key, wallet)


@dataclass(frozen=True)
class Market:
    """One market of the Binance protocol, chosen per request by the route it arrived on.

    `book` is the order book it trades on (spot and margin share the spot book); the rest is what differs
    between markets for the same behaviour: paths, generated ids, error wording, limits."""

    name: str  # "spot" | "futures" | "margin"
    book: str  # "spot" | "futures"
    prefix: str  # REST path prefix
    order_path: str  # the budget the WebSocket API's requests draw on
    cid_suffix: str  # of generated client order ids
    missing_id: str  # the -1102 message when neither orderId nor origClientOrderId is sent
    all_orders_max: int  # the largest `limit` of allOrders
    symbol_required: bool  # every order query names the symbol (futures)

    def wallet(self, params: dict[str, str]) -> str:
        """The wallet a request acts on: SPOT, MARGIN or ISOLATED:<symbol> (`isIsolated=TRUE`)."""
        if self.name == "spot":
            return SPOT
        if self.name == "futures":
            return FUTURES_WALLET
        if params.get("isIsolated", "FALSE").upper() != "TRUE":
            return MARGIN
        return f"ISOLATED:{require(params, 'symbol')}"


SPOT_MARKET = Market(
    "spot", "spot", "/api/v3", "/api/v3/order", "x",
    "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!", 1000, False,
)  # fmt: skip
FUTURES_MARKET = Market(
    "futures", "futures", "/fapi", "/fapi/v1/order", "f",
    "Either orderId or origClientOrderId must be sent.", 1000, True,
)  # fmt: skip
MARGIN_MARKET = Market(
    "margin", "spot", "/sapi/v1", "/api/v3/order", "m",
    "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!", 500, False,
)  # fmt: skip
MARKETS = {m.name: m for m in (SPOT_MARKET, FUTURES_MARKET, MARGIN_MARKET)}


class Book(Protocol):
    """What the shared order behaviours need of a book (spot or futures); orders are the book's own."""

    def check_symbol(
        self, params: dict[str, str], *, mandatory: bool = False, default: bool = False
    ) -> None: ...
    def wallet(self, market: Market, params: dict[str, str], key: str) -> str: ...
    def place(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]: ...
    def find(self, market: Market, params: dict[str, str], key: str) -> Any: ...
    def order_json(self, o: Any) -> dict[str, Any]: ...
    def cancel(self, o: Any, params: dict[str, str]) -> dict[str, Any]: ...
    def cancel_all(self, market: Market, params: dict[str, str], key: str) -> Any: ...
    def live(self, key: str, wallet: str) -> list[Any]: ...
    def orders_of(self, key: str, wallet: str) -> list[Any]: ...
    def counters(self, key: str, wallet: str) -> Account: ...


@dataclass
class Account:
    secret: bytes
    balances: dict[str, list[Decimal]]  # asset -> [free, locked]
    used_client_ids: set[str] = field(default_factory=set)
    submissions: dict[str, int] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    order_times: list[int] = field(default_factory=list)  # ms of recent new orders
    public_key: Ed25519PublicKey | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never the secret
        kind = "ed25519" if self.public_key is not None else "hmac"
        return f"Account({kind}, assets={sorted(self.balances)})"

    def submit(self, cid: str) -> bool:
        """Count a submission of `cid`; whether it was used before."""
        self.submissions[cid] = self.submissions.get(cid, 0) + 1
        return cid in self.used_client_ids


@dataclass
class Order:
    """An order on the spot book, from the spot or a margin wallet."""

    order_id: int
    key: str
    client_id: str
    side: str
    type: str
    tif: str
    price: int  # 0 for market
    qty: int
    time_ms: int
    filled: int = 0
    quote: Decimal = ZERO
    status: str = "NEW"
    locked: Decimal = ZERO  # what is still locked for the resting remainder
    update_ms: int = 0
    wallet: str = SPOT
    quote_qty: Decimal = ZERO  # a market order's `quoteOrderQty` (0: by quantity)


@dataclass
class FuturesOrder:
    order_id: int
    key: str
    client_id: str
    side: str
    type: str
    tif: str
    price: int  # ticks; 0 for market
    qty: int  # lots
    reduce_only: bool
    stp: str
    time_ms: int
    update_ms: int
    filled: int = 0
    quote: Decimal = ZERO
    status: str = "NEW"
    wallet: str = FUTURES_WALLET


@dataclass
class Position:
    amt: int = 0  # signed lots
    entry: Decimal = ZERO  # average entry price
    realized: Decimal = ZERO  # accumulated realized PnL
    isolated_wallet: Decimal = ZERO
    update_ms: int = 0


@dataclass
class FuturesAccount:
    wallet: Decimal
    leverage: int = 20
    margin_type: str = "CROSSED"
    position: Position = field(default_factory=Position)
    counters: Account = field(default_factory=lambda: Account(b"", {}))  # ids, submissions, trades
    countdown_ms: int = 0
    countdown_deadline_ms: int = 0
    countdown_fired: int = 0
    countdown_canceled: list[int] = field(default_factory=list)


@dataclass
class MarginWallet:
    balances: dict[str, list[Decimal]]  # asset -> [free, locked]
    max_leverage: int
    counters: Account  # client ids, submissions, order times and trades of this wallet
    borrowed: dict[str, Decimal] = field(default_factory=dict)
    interest: dict[str, Decimal] = field(default_factory=dict)

    def debt(self, asset: str) -> Decimal:
        return self.borrowed.get(asset, ZERO) + self.interest.get(asset, ZERO)


def money(d: Decimal) -> str:
    return f"{d:.8f}"


def trades_of(params: dict[str, str], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """myTrades / userTrades filters: orderId, fromId or startTime, endTime, limit (<= 1000)."""
    if "orderId" in params:
        out = [t for t in out if t["orderId"] == int(params["orderId"])]
    if "fromId" in params:
        out = [t for t in out if t["id"] >= int(params["fromId"])]
    elif "startTime" in params:
        out = [t for t in out if t["time"] >= int(params["startTime"])]
    if "endTime" in params:
        out = [t for t in out if t["time"] <= int(params["endTime"])]
    return out[: min(int(params.get("limit", "500")), 1000)]


def order_id_param(params: dict[str, str]) -> int:
    try:
        return int(params["orderId"])
    except ValueError:
        raise ApiError(-1100, "Illegal characters found in parameter 'orderId'.") from None
