"""The one route table of the Binance simulator: every market's endpoints once, and the WebSocket API
methods derived from it with the REST weights."""

from __future__ import annotations

from trader.sim.binance import ALL_MARKETS, FUTURES_MARKET, SPOT_MARKET, BinanceSimServer, SpotSimServer
from trader.sim.binance.ops import ROUTES, Operations, ws_methods


def test_each_endpoint_once_under_its_market_prefix() -> None:
    seen = [(r.method, r.path) for r in ROUTES]
    assert len(seen) == len(set(seen))
    for r in ROUTES:
        assert r.path.startswith(r.market.prefix), r
        assert r.market in ALL_MARKETS


def test_ws_api_methods_are_the_rest_operations_with_their_weights() -> None:
    spot = {name: (op.__name__, w) for name, (op, w) in ws_methods(SPOT_MARKET).items()}
    assert spot == {
        "order.place": ("new_order", 1),
        "order.status": ("order_status", 4),
        "order.cancel": ("cancel_order", 1),
        "openOrders.status": ("open_orders", 6),
        "openOrders.cancelAll": ("cancel_all", 1),
        "myTrades": ("trades", 20),
        "account.status": ("account", 20),
    }
    futures = {name: (op.__name__, w) for name, (op, w) in ws_methods(FUTURES_MARKET).items()}
    assert futures == {
        "order.place": ("new_order", 0),
        "order.status": ("order_status", 1),
        "order.cancel": ("cancel_order", 1),
        "account.balance": ("balance", 5),
        "v2/account.balance": ("balance", 5),
        "account.position": ("position_v2", 5),
        "v2/account.position": ("position_v3", 5),
        "account.status": ("account", 5),
        "v2/account.status": ("account", 5),
    }
    assert all(getattr(Operations, op.__name__) is op for op, _ in ws_methods(SPOT_MARKET).values())


def test_the_spot_server_serves_only_spot() -> None:
    spot = {r.path for r in SpotSimServer(step_ms=0).routes()}
    full = {r.path for r in BinanceSimServer(step_ms=0).routes()}
    others = ("/fapi", "/sapi", "/public", "/market", "/private", "/ws-fapi")
    assert not any(p.startswith(others) for p in spot)
    assert {"/api/v3/order", "/ws-api/v3", "/sim/ban"} <= spot < full
    assert {"/fapi/v1/order", "/sapi/v1/margin/order", "/ws-fapi/v1", "/private/ws"} <= full
    assert "futures" not in SpotSimServer(step_ms=0).state()["sim-demo-key"]
    assert "margin" in BinanceSimServer(step_ms=0).state()["sim-demo-key"]
