"""Where OKX answers (okx.md §1, §3, §6): base URLs per environment, the REST paths, the WebSocket paths,
and the documented per-endpoint quotas (requests per 2 s)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoints:
    rest: str
    public_ws: str
    private_ws: str
    simulated: bool  # demo trading: the `x-simulated-trading: 1` header on every request

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """A `trader.sim.okx` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, f"{ws}{PUBLIC_WS}", f"{ws}{PRIVATE_WS}", simulated=False)


PUBLIC_WS = "/ws/v5/public"
PRIVATE_WS = "/ws/v5/private"

ENDPOINTS: dict[str, Endpoints] = {
    "live": Endpoints(
        "https://www.okx.com",  # source: ../shared/venues/okx.md §1 (python-okx consts default; OKX v5 docs)
        f"wss://ws.okx.com:8443{PUBLIC_WS}",  # source: okx.md §1 (#overview-production-trading-services)
        f"wss://ws.okx.com:8443{PRIVATE_WS}",  # source: okx.md §1
        False,
    ),
    # demo trading: the same REST host with x-simulated-trading: 1, the wspap WebSocket hosts, demo keys
    "paper": Endpoints(
        "https://www.okx.com",  # source: okx.md §1 (the same REST host + x-simulated-trading: 1)
        f"wss://wspap.okx.com:8443{PUBLIC_WS}",  # source: okx.md §1 (#overview-demo-trading-services)
        f"wss://wspap.okx.com:8443{PRIVATE_WS}",  # source: okx.md §1
        True,
    ),
}

SERVER_TIME = "/api/v5/public/time"
INSTRUMENTS = "/api/v5/public/instruments"
BOOKS = "/api/v5/market/books"
ORDER = "/api/v5/trade/order"  # POST: place; GET: details by ordId / clOrdId
CANCEL = "/api/v5/trade/cancel-order"
AMEND = "/api/v5/trade/amend-order"
BATCH_ORDERS = "/api/v5/trade/batch-orders"
CANCEL_BATCH = "/api/v5/trade/cancel-batch-orders"
PENDING = "/api/v5/trade/orders-pending"
FILLS = "/api/v5/trade/fills"
BALANCE = "/api/v5/account/balance"
POSITIONS = "/api/v5/account/positions"
CANCEL_ALL_AFTER = "/api/v5/trade/cancel-all-after"
BILLS = "/api/v5/account/bills"  # type 8: funding fees
FUNDING_RATE = "/api/v5/public/funding-rate"
SET_LEVERAGE = "/api/v5/account/set-leverage"
ACCOUNT_CONFIG = "/api/v5/account/config"  # acctLv, posMode
SET_POSITION_MODE = "/api/v5/account/set-position-mode"
AMEND_BATCH = "/api/v5/trade/amend-batch-orders"

MAX_BATCH = 20  # orders per batch request
PAGE = 100  # rows per page of orders-pending and fills

WINDOW_NS = 2_000_000_000  # OKX states its limits per 2 s
# requests per 2 s (okx.md §3): place/cancel per instrument, details 60, pending 60, balance 10
QUOTAS: dict[str, int] = {"place": 60, "cancel": 60, "read": 20, "account": 10, "public": 20}
DEAD_MAN_PER_S = 1  # cancel-all-after: 1 request per second

S2, S1 = 2_000_000_000, 1_000_000_000
# Each endpoint's own documented limit (okx.md §3; requests per window, batch endpoints: orders per window),
# keyed "METHOD path". Trade endpoints count per instrument (UID + instId): a connector trades one instrument,
# so its quotas are that instrument's. WebSocket order entry shares the REST endpoint's limit (WS_OPS).
LIMITS: dict[str, tuple[int, int]] = {
    f"POST {ORDER}": (60, S2),
    f"POST {BATCH_ORDERS}": (300, S2),
    f"POST {CANCEL}": (60, S2),
    f"POST {CANCEL_BATCH}": (300, S2),
    f"POST {AMEND}": (60, S2),
    f"POST {AMEND_BATCH}": (300, S2),
    f"GET {ORDER}": (60, S2),
    f"GET {PENDING}": (60, S2),
    f"GET {FILLS}": (60, S2),
    f"GET {BALANCE}": (10, S2),
    f"GET {POSITIONS}": (10, S2),
    f"GET {BILLS}": (5, S1),
    f"GET {ACCOUNT_CONFIG}": (5, S2),
    f"POST {SET_POSITION_MODE}": (5, S2),
    f"POST {SET_LEVERAGE}": (20, S2),
    f"GET {SERVER_TIME}": (10, S2),
    f"GET {INSTRUMENTS}": (20, S2),
    f"GET {BOOKS}": (40, S2),
    f"GET {FUNDING_RATE}": (20, S2),
}
# WebSocket order operations and the REST endpoint whose limit they share
WS_OPS: dict[str, str] = {
    "order": f"POST {ORDER}",
    "batch-orders": f"POST {BATCH_ORDERS}",
    "cancel-order": f"POST {CANCEL}",
    "batch-cancel-orders": f"POST {CANCEL_BATCH}",
    "amend-order": f"POST {AMEND}",
    "batch-amend-orders": f"POST {AMEND_BATCH}",
}
