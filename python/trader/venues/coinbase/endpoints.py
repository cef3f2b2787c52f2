"""Coinbase Advanced Trade's environments (hosts), request paths and rate limits (coinbase.md §1, §4, §6).

Environments: `live` (api.coinbase.com and the two WebSocket hosts) and `sim` (a `trader.sim.coinbase`
server on loopback). Coinbase's sandbox (api-sandbox.coinbase.com) answers static, pre-canned responses
without authentication and has no WebSocket: nothing can trade there, so it is not offered as a paper
environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

PREFIX = "/api/v3/brokerage"
TIME = f"{PREFIX}/time"
PRODUCT = f"{PREFIX}/products/{{product_id}}"
PRODUCT_BOOK = f"{PREFIX}/product_book"
ORDERS = f"{PREFIX}/orders"
BATCH_CANCEL = f"{PREFIX}/orders/batch_cancel"
ORDER = f"{PREFIX}/orders/historical/{{order_id}}"
LIST_ORDERS = f"{PREFIX}/orders/historical/batch"
FILLS = f"{PREFIX}/orders/historical/fills"
ACCOUNTS = f"{PREFIX}/accounts"

RATE_LIMIT_PER_S = 30  # private REST requests per second per key [3P: exact current number unconfirmed]
SECOND_NS = 1_000_000_000
PAGE = 250  # rows per list request
MAX_BATCH_CANCEL = 100  # order ids per batch_cancel request [UNVERIFIED: Coinbase states none we found]


@dataclass(frozen=True)
class Endpoints:
    rest: str  # scheme and host, without the path prefix
    host: str  # host[:port] as the JWT's `uri` claim names it
    ws_market: str
    ws_user: str

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a `trader.sim.coinbase` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, urlsplit(base).netloc, f"{ws}/ws/market", f"{ws}/ws/user")


ENDPOINTS: dict[str, Endpoints] = {
    "live": Endpoints(
        rest="https://api.coinbase.com",  # source: coinbase-advanced-py 1.8.4 BASE_URL; coinbase.md §1
        host="api.coinbase.com",  # source: coinbase.md §1 (the JWT `uri` host)
        ws_market="wss://advanced-trade-ws.coinbase.com",  # source: coinbase.md §1 (SDK WS_BASE_URL)
        ws_user="wss://advanced-trade-ws-user.coinbase.com",  # source: coinbase.md §1 (SDK WS_USER_BASE_URL)
    ),
}
# Not an environment (named so that the docs and notes that mention it quote a host of this table): the
# static sandbox answers canned responses without auth and has no WebSocket.
SANDBOX_REST = "https://api-sandbox.coinbase.com"  # source: ../shared/venues/coinbase.md §1 ([DOC])
