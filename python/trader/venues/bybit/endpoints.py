"""Bybit v5's environments (base URLs), paths and per-UID rate limits (bybit.md §1, §3, §6)."""

from __future__ import annotations

from dataclasses import dataclass

SECOND_NS = 1_000_000_000
RECV_WINDOW_MS = 5000
TIME_WINDOW_CODE = "10002"  # retCode of a request stamped outside the recv window

TIME = "/v5/market/time"
INSTRUMENTS = "/v5/market/instruments-info"
ORDERBOOK = "/v5/market/orderbook"
CREATE = "/v5/order/create"
CANCEL = "/v5/order/cancel"
AMEND = "/v5/order/amend"
CANCEL_ALL = "/v5/order/cancel-all"
REALTIME = "/v5/order/realtime"
HISTORY = "/v5/order/history"
EXECUTIONS = "/v5/execution/list"
WALLET = "/v5/account/wallet-balance"
POSITIONS = "/v5/position/list"
CREATE_BATCH = "/v5/order/create-batch"
AMEND_BATCH = "/v5/order/amend-batch"
CANCEL_BATCH = "/v5/order/cancel-batch"
DCP = "/v5/order/disconnected-cancel-all"  # DCP's window (institutional accounts)
DCP_INFO = "/v5/account/query-dcp-info"  # the products with DCP on (main accounts; sub-accounts read [])

# per UID per endpoint per second (bybit.md §6): orders spot 20/s, linear 10/s; reads 50/s
ORDER_LIMITS_PER_S = {"spot": 20, "linear": 10}
ORDER_LIMIT_PER_S = ORDER_LIMITS_PER_S["spot"]
READ_LIMIT_PER_S = 50
ORDER_PATHS = (CREATE, AMEND, CANCEL, CANCEL_ALL, CREATE_BATCH, AMEND_BATCH, CANCEL_BATCH)
# orders per batch request (v5 batch-place: spot 10, linear 20)
MAX_BATCH = {"spot": 10, "linear": 20}
DCP_PRODUCT = {"spot": "SPOT", "linear": "DERIVATIVES"}
DCP_WINDOW_S = (3, 300)  # the accepted timeWindow, seconds
BOOK_DEPTH = 50  # orderbook.50: 20 ms pushes, snapshot then deltas
EXECUTIONS_PAGE = 100
MAX_PAGES = 50  # of one listing; more is a catch-up the engine does in several reads
ORDERS_PAGE = 50


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of one environment."""

    rest: str
    public_ws: str  # without the category: /v5/public/{spot,linear}
    private_ws: str
    trade_ws: str = ""  # order entry; "" where the environment has none (demo trading)

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a `trader.sim.bybit` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, f"{ws}/v5/public", f"{ws}/v5/private", f"{ws}/v5/trade")


ENDPOINTS: dict[str, Endpoints] = {
    "live": Endpoints(  # source: ../shared/venues/bybit.md §1 (bybit-exchange/docs v5 guide, wss-auth)
        "https://api.bybit.com",  # source: bybit.md §1
        "wss://stream.bybit.com/v5/public",  # source: bybit.md §1
        "wss://stream.bybit.com/v5/private",  # source: bybit.md §1
        "wss://stream.bybit.com/v5/trade",  # source: pybit WebSocketTrading (unified_trading.py)
    ),
    "paper": Endpoints(  # testnet; source: bybit.md §1 (docs v5 guide)
        "https://api-testnet.bybit.com",  # source: bybit.md §1
        "wss://stream-testnet.bybit.com/v5/public",  # source: bybit.md §1
        "wss://stream-testnet.bybit.com/v5/private",  # source: bybit.md §1
        "wss://stream-testnet.bybit.com/v5/trade",  # source: pybit WebSocketTrading (testnet=True)
    ),
    "demo": Endpoints(  # demo trading: mainnet public streams, the demo private stream, no trade WS
        "https://api-demo.bybit.com",  # source: bybit.md §1 (docs v5 demo.mdx)
        "wss://stream.bybit.com/v5/public",  # source: bybit.md §1 ("use mainnet public streams")
        "wss://stream-demo.bybit.com/v5/private",  # source: bybit.md §1 (demo.mdx)
    ),
}
