"""Kraken spot's base URLs, request paths and asset names (kraken.md sections 1, 3, 8).

Kraken has no spot testnet or sandbox (only Kraken Futures has a demo environment), so the environments
are `live` and a loopback simulator (`Endpoints.loopback`)."""

from __future__ import annotations

from dataclasses import dataclass

PUBLIC = "/0/public/"
PRIVATE = "/0/private/"
TIME = PUBLIC + "Time"
ASSET_PAIRS = PUBLIC + "AssetPairs"
TICKER = PUBLIC + "Ticker"
ADD_ORDER = PRIVATE + "AddOrder"
ADD_ORDER_BATCH = PRIVATE + "AddOrderBatch"  # a JSON body: {"nonce", "orders": [...], "pair"}
AMEND_ORDER = PRIVATE + "AmendOrder"  # in place, the same txid (EditOrder, the legacy call, replaces it)
CANCEL_ORDER = PRIVATE + "CancelOrder"
CANCEL_ALL = PRIVATE + "CancelAll"
CANCEL_ALL_AFTER = PRIVATE + "CancelAllOrdersAfter"
OPEN_ORDERS = PRIVATE + "OpenOrders"
CLOSED_ORDERS = PRIVATE + "ClosedOrders"
QUERY_ORDERS = PRIVATE + "QueryOrders"
TRADES_HISTORY = PRIVATE + "TradesHistory"
BALANCE = PRIVATE + "Balance"
WS_TOKEN = PRIVATE + "GetWebSocketsToken"

TRADES_PAGE = 50  # TradesHistory answers 50 trades per page (`ofs` pages on)
QUERY_BATCH = 50  # QueryOrders takes up to 50 txids
MAX_BATCH = 15  # AddOrderBatch / batch_add: 2 to 15 orders of one pair
BOOK_DEPTHS = (10, 25, 100, 500, 1000)  # WebSocket v2 book depths

# Kraken's rate counters per verification tier (kraken.md section 6): the REST call counter (max, decay per
# second; +1 a call, +2 TradesHistory; AddOrder/CancelOrder excluded) and the trading engine's per-pair
# counter (threshold, decay per second; +1 an order). Kept locally as the same decaying counters
# (`ratelimit.py`).
RATE_TIERS: dict[str, tuple[int, float, int, float]] = {
    "starter": (15, 0.33, 60, 1.0),
    "intermediate": (20, 0.5, 125, 2.34),
    "pro": (20, 1.0, 180, 3.75),
}
# the REST call counter's cost of a private call (else 1); order entry is the trading counter's
COUNTER_COST = {TRADES_HISTORY: 2, ADD_ORDER: 0, ADD_ORDER_BATCH: 0, AMEND_ORDER: 0, CANCEL_ORDER: 0}

# Kraken's asset names (REST, legacy X/Z prefixes; WebSocket v1 XBT) -> the currency codes we use
ASSETS = {
    "XXBT": "BTC",
    "XBT": "BTC",
    "XBT.F": "BTC",
    "XETH": "ETH",
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "XLTC": "LTC",
    "XXRP": "XRP",
    "XXLM": "XLM",
    "XETC": "ETC",
    "XZEC": "ZEC",
    "XXMR": "XMR",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZCAD": "CAD",
    "ZJPY": "JPY",
}


def asset(name: str) -> str:
    """Our currency code for one of Kraken's asset names (XXBT -> BTC, ZUSD -> USD, USDT -> USDT)."""
    return ASSETS.get(name, name)


def v2_symbol(wsname: str) -> str:
    """The WebSocket v2 symbol of a pair's v1 `wsname` (XBT/USD -> BTC/USD, XDG/USD -> DOGE/USD)."""
    return "/".join(asset(part) for part in wsname.split("/"))


@dataclass(frozen=True)
class Endpoints:
    rest: str  # REST root (paths start /0/)
    ws_public: str  # WebSocket v2, public market data
    ws_private: str  # WebSocket v2, authenticated (executions, order entry)

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a `trader.sim.kraken` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, f"{ws}/v2", f"{ws}/ws-auth/v2")


ENDPOINTS: dict[str, Endpoints] = {
    # source: ../shared/venues/kraken.md §1 (docs.kraken.com spot-ws-intro, spot-rest-auth; python-kraken-sdk)
    "live": Endpoints("https://api.kraken.com", "wss://ws.kraken.com/v2", "wss://ws-auth.kraken.com/v2"),
}
