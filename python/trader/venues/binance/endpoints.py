"""Where Binance answers and what each request costs: base URLs per environment (binance.md §1; every host
cites its source), the paths and weights that differ between markets (§3-4) and the documented quotas
until exchangeInfo states them (§7)."""

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


# Every host Binance is reached at, per environment. Sources, read for this table:
#   [C] binance/binance-connector-python, common/src/binance_common/constants.py (the official SDK's
#       constants, commit 0705b596): SPOT_* and DERIVATIVES_TRADING_USDS_FUTURES_* URLs.
#   [P] sammchardy/python-binance 1.0.37, binance/base_client.py (API_*_URL, FUTURES_*_URL, WS_*_URL)
#       and binance/ws/streams.py (STREAM_*_URL, FSTREAM_*_URL).
#   [S] ../shared/venues/binance.md section 1 (spot docs: testnet/, demo-mode/general-info.md).
# `testnet`: the spot testnet (testnet.binance.vision) and the USD-M testnet (testnet.binancefuture.com),
# both still in both SDKs' tables. `demo`: Binance's demo trading (demo-api / demo-fapi), which the docs
# now also call the futures "testnet". `paper` is the older name of `testnet`. Margin (/sapi) has neither:
# it rehearses on `--sim` only (`MARGIN_TEST_ENVIRONMENT`).
ENDPOINTS: dict[str, Endpoints] = {
    "live": Endpoints(
        rest="https://api.binance.com",  # source: [C] SPOT_REST_API_PROD_URL; [P] API_URL
        stream="wss://stream.binance.com:9443",  # source: [C] SPOT_WS_STREAMS_PROD_URL; [P] STREAM_URL
        ws_api="wss://ws-api.binance.com:443/ws-api/v3",  # source: [C] SPOT_WS_API_PROD_URL
        futures_rest="https://fapi.binance.com",  # source: [C] ..._USDS_FUTURES_REST_API_PROD_URL; [P]
        futures_stream="wss://fstream.binance.com",  # source: [C] ..._USDS_FUTURES_WS_STREAMS_PROD_URL
        futures_ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",  # source: [C] ..._WS_API_PROD_URL
    ),
    "testnet": Endpoints(
        rest="https://testnet.binance.vision",  # source: [C] SPOT_REST_API_TESTNET_URL; [P] API_TESTNET_URL
        stream="wss://stream.testnet.binance.vision",  # source: [C] SPOT_WS_STREAMS_TESTNET_URL; [P]
        ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",  # source: [C] SPOT_WS_API_TESTNET_URL
        futures_rest="https://testnet.binancefuture.com",  # source: [C] ..._REST_API_TESTNET_URL; [P]
        futures_stream="wss://fstream.binancefuture.com",  # source: [C] ..._WS_STREAMS_TESTNET_URL; [P]
        futures_ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",  # source: [C] ..._WS_API_TESTNET_URL
    ),
    "demo": Endpoints(
        rest="https://demo-api.binance.com",  # source: [C] SPOT_REST_API_DEMO_URL; [P] API_DEMO_URL; [S]
        stream="wss://demo-stream.binance.com:9443",  # source: [C] SPOT_WS_STREAMS_DEMO_URL; [S]
        ws_api="wss://demo-ws-api.binance.com/ws-api/v3",  # source: [C] SPOT_WS_API_DEMO_URL; [P]
        futures_rest="https://demo-fapi.binance.com",  # source: [C] ..._REST_API_DEMO_URL; [P]
        # [C] has no USD-M demo stream or WebSocket API constant; python-binance's demo values are the
        # testnet's (demo-fstream.binance.com, seen in third-party code, is unverified: binance.md section 1)
        futures_stream="wss://fstream.binancefuture.com",  # source: [P] FSTREAM_DEMO_URL
        futures_ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",  # source: [P] WS_FUTURES_DEMO_URL
    ),
}
ENVIRONMENT_ALIASES = {"paper": "testnet"}  # the older name of the testnets
MARGIN_TEST_ENVIRONMENT = (
    "margin has no testnet or demo environment (Binance serves /sapi on live only): "
    "rehearse margin with --sim"
)


def endpoints_of(environment: str) -> Endpoints:
    """The hosts of a named environment (`live`, `testnet` or its older name `paper`, `demo`)."""
    return ENDPOINTS[ENVIRONMENT_ALIASES.get(environment, environment)]


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
