"""Public market descriptions and snapshots, one shape per market: exchangeInfo, depth (and its
weight), and the spot account."""

from __future__ import annotations

from typing import Any

from trader.sim.binance.errors import ApiError, invalid_symbol
from trader.sim.binance.filters import FUTURES
from trader.sim.binance.futuresbook import FuturesBook, fpx, fqty
from trader.sim.binance.limits import Limits
from trader.sim.binance.spotbook import SpotBook
from trader.sim.binance.state import Account

FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def _weight_limit(limit: int) -> dict[str, Any]:
    return {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit}


def _orders_limit(interval: str, num: int, limit: int) -> dict[str, Any]:
    return {"rateLimitType": "ORDERS", "interval": interval, "intervalNum": num, "limit": limit}


def spot_depth_weight(params: dict[str, str]) -> int:
    limit = int(params.get("limit", "100") or 100)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def futures_depth_weight(params: dict[str, str]) -> int:
    limit = int(params.get("limit", "500") or 500)
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def futures_open_orders_weight(params: dict[str, str]) -> int:
    return 1 if params.get("symbol") else 40


def spot_filters(book: SpotBook) -> list[dict[str, Any]]:
    inst = book.inst
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": f"{inst.tick:.8f}",
            "maxPrice": "1000000.00000000",
            "tickSize": f"{inst.tick:.8f}",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": f"{inst.min_qty:.8f}",
            "maxQty": f"{inst.max_qty:.8f}",
            "stepSize": f"{inst.step:.8f}",
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": f"{inst.min_notional:.8f}",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": f"{inst.percent_up:f}",
            "bidMultiplierDown": f"{inst.percent_down:f}",
            "askMultiplierUp": f"{inst.percent_up:f}",
            "askMultiplierDown": f"{inst.percent_down:f}",
            "avgPriceMins": 5,
        },
    ]


def spot_exchange_info(book: SpotBook, limits: Limits, params: dict[str, str]) -> dict[str, Any]:
    book.check_symbol(params, default=True)
    symbol = {
        "symbol": book.symbol,
        "status": "TRADING",
        "baseAsset": book.base,
        "baseAssetPrecision": 8,
        "quoteAsset": book.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "permissionSets": [["SPOT", "MARGIN"]],
        "filters": spot_filters(book),
    }
    return {
        "timezone": "UTC",
        "serverTime": book.now_ms(),
        "rateLimits": [
            _weight_limit(limits.weight_limit),
            _orders_limit("SECOND", 10, limits.orders_per_10s),
        ],
        "exchangeFilters": [],
        "symbols": [symbol],
    }


def futures_filters() -> list[dict[str, Any]]:
    f = FUTURES
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.10",
            "maxPrice": "4529764",
            "tickSize": f"{f.tick:.2f}",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": f"{f.min_qty:.3f}",
            "maxQty": f"{f.max_qty:.3f}",
            "stepSize": f"{f.step:.3f}",
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": f"{f.min_qty:.3f}",
            "maxQty": f"{f.market_max_qty:.3f}",
            "stepSize": f"{f.step:.3f}",
        },
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
        {"filterType": "MIN_NOTIONAL", "notional": f"{f.min_notional}"},
        {
            "filterType": "PERCENT_PRICE",
            "multiplierUp": f"{f.up:.4f}",
            "multiplierDown": f"{f.down:.4f}",
            "multiplierDecimal": "4",
        },
    ]


def futures_exchange_info(
    book: FuturesBook, base: str, limits: Limits, params: dict[str, str]
) -> dict[str, Any]:
    symbol = {
        "symbol": book.symbol,
        "pair": book.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": book.quote,
        "marginAsset": book.quote,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": futures_filters(),
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }
    rate_limits = [
        _weight_limit(limits.futures_weight_limit),
        _orders_limit("MINUTE", 1, limits.futures_orders_per_1m),
        _orders_limit("SECOND", 10, limits.futures_orders_per_10s),
    ]
    return {
        "timezone": "UTC",
        "serverTime": book.now_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": rate_limits,
        "exchangeFilters": [],
        "assets": [{"asset": book.quote, "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [symbol],
    }


def spot_depth(book: SpotBook, last_update_id: int, params: dict[str, str]) -> dict[str, Any]:
    if params.get("symbol") != book.symbol:
        raise invalid_symbol()
    limit = min(int(params.get("limit", "100") or 100), 5000)
    bids, asks = book.engine.depth(limit)
    return {
        "lastUpdateId": last_update_id,
        "bids": [[book.fmt(p, book.tick), book.fmt(q, book.step)] for p, q in bids],
        "asks": [[book.fmt(p, book.tick), book.fmt(q, book.step)] for p, q in asks],
    }


def futures_depth_limit(book: FuturesBook, params: dict[str, str]) -> int:
    if params.get("symbol") != book.symbol:
        raise invalid_symbol()
    limit = int(params.get("limit", "500") or 500)
    if limit not in FUTURES_DEPTH_LIMITS:
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'limit'; legal range is '5, 10, 20, 50, 100, 500, 1000'.",
        )
    return limit


def futures_depth(book: FuturesBook, last_update_id: int, limit: int) -> dict[str, Any]:
    bids, asks = book.engine.depth(limit)
    now = book.now_ms()
    return {
        "lastUpdateId": last_update_id,
        "E": now,
        "T": now,
        "bids": [[fpx(p), fqty(q)] for p, q in bids],
        "asks": [[fpx(p), fqty(q)] for p, q in asks],
    }


def spot_account(book: SpotBook, account: Account) -> dict[str, Any]:
    return {
        "makerCommission": int(book.engine.maker_fee_bps),  # bps: the default tier's
        "takerCommission": int(book.engine.taker_fee_bps),
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "accountType": "SPOT",
        "updateTime": book.now_ms(),
        "balances": [
            {"asset": a, "free": f"{v[0]:.8f}", "locked": f"{v[1]:.8f}"} for a, v in account.balances.items()
        ],
        "permissions": ["SPOT"],
    }
