"""Alpaca's environments (base URLs, each citing its source), request paths, price units and the rate limit
(alpaca.md §1)."""

from __future__ import annotations

from dataclasses import dataclass

TICK = "0.01"  # orders are on the penny
PRICE_UNIT = "0.0001"  # sub-penny fills and quotes exist: prices are counted in 1/100 cent
UNITS_PER_DOLLAR = 10_000  # price units in one dollar
UNITS_PER_CENT = 100
RATE_LIMIT_PER_MIN = 200  # requests per minute per account
MINUTE_NS = 60_000_000_000
ACTIVITY_PAGE = 100  # FILL activities per page
ORDERS_PAGE = 500

ACCOUNT = "/v2/account"
ASSETS = "/v2/assets/{symbol}"
CLOCK = "/v2/clock"
ORDERS = "/v2/orders"
ORDER = "/v2/orders/{order_id}"
ORDER_BY_CLIENT_ID = "/v2/orders:by_client_order_id"
POSITIONS = "/v2/positions"
FILL_ACTIVITIES = "/v2/account/activities/FILL"


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of one environment (alpaca.md §1)."""

    trading: str  # REST root, without /v2
    trade_stream: str  # the trade_updates WebSocket
    data_stream: str  # the stock market-data WebSocket root, without the feed

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a `trader.sim.alpaca` server at `url` (http://127.0.0.1:PORT)."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, f"{ws}/stream", f"{ws}/v2")


# Sources: [E] alpaca-py 0.44.0 `alpaca/common/enums.py` (BaseURL), read; [A] ../shared/venues/alpaca.md §1.
ENDPOINTS: dict[str, Endpoints] = {
    "paper": Endpoints(
        trading="https://paper-api.alpaca.markets",  # source: [E] BaseURL.TRADING_PAPER; [A]
        trade_stream="wss://paper-api.alpaca.markets/stream",  # source: [E] BaseURL.TRADING_STREAM_PAPER
        data_stream="wss://stream.data.alpaca.markets/v2",  # source: [E] MARKET_DATA_STREAM + /v2; [A]
    ),
    "live": Endpoints(
        trading="https://api.alpaca.markets",  # source: [E] BaseURL.TRADING_LIVE; [A]
        trade_stream="wss://api.alpaca.markets/stream",  # source: [E] BaseURL.TRADING_STREAM_LIVE; [A]
        data_stream="wss://stream.data.alpaca.markets/v2",  # source: [E] MARKET_DATA_STREAM + /v2; [A]
    ),
}
