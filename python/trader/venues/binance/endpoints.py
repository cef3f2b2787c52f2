"""Where Binance answers and what each request costs: base URLs per environment (binance.md §1), the paths
and weights that differ between markets (§3-4) and the documented quotas until exchangeInfo states them
(§7)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Market(enum.StrEnum):
    SPOT = "spot"
    FUTURES = "futures"  # USD-M
    MARGIN = "margin"  # cross, or isolated with `isolated=True`


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of one environment (binance.md §1). Margin uses the spot hosts."""

    rest: str
    stream: str
    ws_api: str
    futures_rest: str
    futures_stream: str  # root of the routed streams: /public, /market, /private
    futures_ws_api: str

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a `trader sim` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, ws, f"{ws}/ws-api/v3", base, ws, f"{ws}/ws-fapi/v1")


ENDPOINTS: dict[str, Endpoints] = {
    "live": Endpoints(
        rest="https://api.binance.com",
        stream="wss://stream.binance.com:9443",
        ws_api="wss://ws-api.binance.com:443/ws-api/v3",
        futures_rest="https://fapi.binance.com",
        futures_stream="wss://fstream.binance.com",
        futures_ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",
    ),
    "testnet": Endpoints(
        rest="https://testnet.binance.vision",
        stream="wss://stream.testnet.binance.vision",
        ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
        futures_rest="https://testnet.binancefuture.com",
        futures_stream="wss://fstream.binancefuture.com",
        futures_ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",
    ),
}

# The loopback simulator's public demo account (documented; it exists only inside `trader sim`).
SIM_API_KEY = "sim-demo-key"
SIM_SECRET = "sim-demo-secret"  # noqa: S105 - a published demo credential of the local simulator


@dataclass(frozen=True)
class Api:
    """The paths and weights that differ between markets (binance.md §3-4)."""

    time: str
    exchange_info: str
    exchange_info_weight: int
    depth: str
    depth_limit: int
    depth_weight: int
    order: str
    query_weight: int
    open_orders: str
    open_orders_weight: int
    cancel_all: str
    trades: str
    trades_weight: int


APIS = {
    Market.SPOT: Api(
        "/api/v3/time", "/api/v3/exchangeInfo", 20, "/api/v3/depth", 1000, 50,
        "/api/v3/order", 4, "/api/v3/openOrders", 6, "/api/v3/openOrders", "/api/v3/myTrades", 20,
    ),
    Market.MARGIN: Api(
        "/api/v3/time", "/api/v3/exchangeInfo", 20, "/api/v3/depth", 1000, 50,
        "/sapi/v1/margin/order", 10, "/sapi/v1/margin/openOrders", 10, "/sapi/v1/margin/openOrders",
        "/sapi/v1/margin/myTrades", 10,
    ),
    Market.FUTURES: Api(
        "/fapi/v1/time", "/fapi/v1/exchangeInfo", 1, "/fapi/v1/depth", 1000, 20,
        "/fapi/v1/order", 1, "/fapi/v1/openOrders", 1, "/fapi/v1/allOpenOrders", "/fapi/v1/userTrades", 5,
    ),
}  # fmt: skip

# Account, futures and margin paths with their weights (binance.md §3-4).
SPOT_ACCOUNT = ("/api/v3/account", 20)
FUTURES_BALANCE = ("/fapi/v3/balance", 5)
FUTURES_POSITION = ("/fapi/v3/positionRisk", 5)
FUTURES_LEVERAGE = "/fapi/v1/leverage"
FUTURES_MARGIN_TYPE = "/fapi/v1/marginType"
FUTURES_DEAD_MAN = ("/fapi/v1/countdownCancelAll", 10)
FUTURES_LISTEN_KEY = "/fapi/v1/listenKey"
FUTURES_INCOME = ("/fapi/v1/income", 30)
MARGIN_ACCOUNT = ("/sapi/v1/margin/account", 10)
MARGIN_ISOLATED_ACCOUNT = ("/sapi/v1/margin/isolated/account", 10)
MARGIN_BORROW_REPAY = ("/sapi/v1/margin/borrow-repay", 1500)
MARGIN_LISTEN_TOKEN = "/sapi/v1/userListenToken"  # noqa: S105 - a path, not a credential

# The request-weight quota per minute until exchangeInfo states the limits (binance.md §7).
DOCUMENTED_WEIGHT = {Market.SPOT: 6000, Market.MARGIN: 6000, Market.FUTURES: 2400}
LISTEN_KEY_KEEPALIVE_NS = 1_800_000_000_000  # futures listen keys expire after 60 min without a PUT

STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"})
SIDE_EFFECTS = frozenset({"NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY"})
