"""The Binance connector's pure parts: order parameters per market, exchangeInfo filters and limits,
usage headers, error mapping, config options. No network."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.venues.test_binance_connector import approve
from trader.clock import LiveClock
from trader.config import parse_config
from trader.core import BinanceSigner, Side
from trader.engine.engine import collar_bps
from trader.engine.paper import sized_market_maker
from trader.errors import (
    AuthenticationError,
    ConfigError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
)
from trader.venues._http import HttpResponse
from trader.venues.binance import ENDPOINTS, BinanceConnector, Endpoints, Market, error_from
from trader.venues.registry import build_connector

CLOCK = LiveClock()


def exchange_info(futures: bool = False) -> dict[str, object]:
    filters: list[dict[str, object]] = [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "100", "stepSize": "0.001"},
    ]
    if futures:
        filters += [
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.05",
                "multiplierDown": "0.95",
                "multiplierDecimal": "4",
            },
        ]
    else:
        filters += [
            {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": True,
             "maxNotional": "9000000"},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
        ]  # fmt: skip
    return {
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": filters}],
    }


def connector(market: Market, **kw: object) -> BinanceConnector:
    conn = BinanceConnector(
        symbol="BTCUSDT",
        signer=BinanceSigner("k", "s"),
        endpoints=Endpoints.loopback("http://127.0.0.1:9"),
        clock=CLOCK,
        market=market,
        **kw,  # type: ignore[arg-type]
    )
    conn._load_info(exchange_info(market is Market.FUTURES))
    return conn


def test_spot_post_only_is_limit_maker_with_stp() -> None:
    conn = connector(Market.SPOT, stp_mode="EXPIRE_BOTH")
    a = approve(conn.trading_spec(), Side.BUY, 5_000_000, 10)
    p = dict(conn.order_params(a, "mm-1"))
    assert p == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT_MAKER",
        "price": "50000.00",
        "quantity": "0.010",
        "newClientOrderId": "mm-1",
        "newOrderRespType": "ACK",
        "selfTradePreventionMode": "EXPIRE_BOTH",
    }


def test_futures_post_only_is_gtx_and_reduce_only_is_sent() -> None:
    conn = connector(Market.FUTURES)
    a = approve(conn.trading_spec(), Side.SELL, 5_000_000, 10)
    p = dict(conn.order_params(a, "mm-2"))
    assert (p["type"], p["timeInForce"], p["selfTradePreventionMode"]) == ("LIMIT", "GTX", "EXPIRE_MAKER")
    assert "reduceOnly" not in p
    assert "isIsolated" not in p


def test_margin_orders_carry_isolation_and_side_effect() -> None:
    conn = connector(Market.MARGIN, isolated=True, side_effect="AUTO_REPAY")
    a = approve(conn.trading_spec(), Side.SELL, 5_000_000, 10, post_only=False)
    p = dict(conn.order_params(a, "mm-3"))
    assert (p["isIsolated"], p["sideEffectType"], p["type"], p["timeInForce"]) == (
        "TRUE",
        "AUTO_REPAY",
        "LIMIT",
        "GTC",
    )


def test_only_gate_approvals_are_accepted() -> None:
    conn = connector(Market.SPOT)
    with pytest.raises(TypeError):
        conn.order_params("BUY 1 BTC", "x")  # type: ignore[arg-type]


def test_exchange_info_filters_and_budgeted_limits() -> None:
    conn = connector(Market.FUTURES)
    assert conn._info is not None
    i = conn._info
    assert (i.tick_size, i.lot_size, i.min_qty, i.min_notional, i.max_qty) == (
        "0.01",
        "0.001",
        "0.001",
        "100",
        "100",
    )
    assert (i.percent_up, i.percent_down) == ("1.05", "0.95")
    usage = conn.rate_usage()
    assert [lim for _, _, lim in usage["weight"]] == [4800]  # 80 % of 6000
    assert sorted(lim for _, _, lim in usage["orders"]) == [80, 160000]
    assert collar_bps(50, i) == 50
    assert collar_bps(900, i) == 500


def test_usage_headers_raise_the_local_counts() -> None:
    conn = connector(Market.SPOT)
    conn._on_response(
        HttpResponse(200, {"x-mbx-used-weight-1m": "4700", "x-mbx-order-count-10s": "80"}, b"{}", 0)
    )
    usage = conn.rate_usage()
    assert usage["weight"][0][1] == 4700
    assert [u for iv, u, _ in usage["orders"] if iv == 10_000_000_000] == [80]
    # the venue's count says we are at the budget: the next order is refused locally, nothing is sent
    assert conn._limiter.try_acquire(conn._orders_quota or 0, 1, CLOCK.now_ns()) is not None


@pytest.mark.parametrize(
    ("code", "msg", "kind"),
    [
        (-1021, "Timestamp for this request is outside of the recvWindow.", AuthenticationError),
        (-1022, "Signature for this request is not valid.", AuthenticationError),
        (-2010, "Account has insufficient balance for requested action.", InsufficientFundsError),
        (-2019, "Margin is insufficient.", InsufficientFundsError),
        (-2010, "Order would immediately match and take.", InvalidOrderError),
        (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.",
         InvalidOrderError),
        (-2011, "Unknown order sent.", OrderNotFoundError),
        (-2013, "Order does not exist.", OrderNotFoundError),
        (-1003, "Too many requests.", RateLimitError),
        (-1007, "Timeout waiting for response from backend server. Send status unknown; execution status "
         "unknown.", UnknownOutcomeError),
    ],
)  # fmt: skip
def test_error_codes_map_to_the_error_tree(code: int, msg: str, kind: type) -> None:
    err = error_from("binance", code, msg)
    assert type(err) is kind
    assert err.code == str(code)


def test_config_options_build_each_market(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BK", "key")
    monkeypatch.setenv("BS", "secret")
    cfg = parse_config(
        """
[venues.binance]
api_key = "env:BK"
secret = "env:BS"
environment = "testnet"
market = "futures"
order_entry = "ws"
leverage = 3
symbol = "ETHUSDT"
"""
    ).venues["binance"]
    conn = build_connector(cfg, symbol="ETHUSDT", clock=CLOCK)
    assert isinstance(conn, BinanceConnector)
    assert conn.market is Market.FUTURES
    assert conn.endpoints == ENDPOINTS["testnet"]
    assert conn.capabilities.ws_order_entry
    assert conn.capabilities.dead_man_switch
    with pytest.raises(ConfigError, match="leverage must be a int"):
        parse_config('[venues.binance]\napi_key = "env:BK"\nleverage = "3"\n')
    bad = parse_config('[venues.binance]\napi_key = "env:BK"\nsecret = "env:BS"\nmarket = "options"\n')
    with pytest.raises(ConfigError, match="market must be"):
        build_connector(bad.venues["binance"], symbol="BTCUSDT", clock=CLOCK)
    sim = parse_config('[venues.binance]\napi_key = "env:BK"\nsecret = "env:BS"\nenvironment = "sim"\n')
    with pytest.raises(ConfigError, match="needs url"):
        build_connector(sim.venues["binance"], symbol="BTCUSDT", clock=CLOCK)


def test_sized_market_maker_respects_the_venue_minimums() -> None:
    conn = connector(Market.SPOT)
    assert conn._info is not None
    mm, cfg = sized_market_maker(conn._info, Decimal("50000"), quote_notional=Decimal(1))
    spec = conn.trading_spec()
    qty = Decimal(spec.format_qty(mm.params.order_qty))
    assert qty >= Decimal("0.001")
    assert qty * 50000 >= Decimal("7.5")
    assert Decimal(cfg.max_position) >= qty * mm.params.max_inventory // mm.params.order_qty
    assert mm.params.min_spread_bps == 30
    bid, ask = mm.quotes(5_000_000.0)
    assert bid is not None
    assert ask is not None
    assert ask - bid >= 5_000_000 * 30 // 10_000
