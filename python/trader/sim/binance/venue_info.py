"""What clients call around trading, as operations of the route table (`ops.ROUTES`): the public tape's
REST side (24 h, book and price tickers, recent and aggregate trades, klines), system status, trading
fees and commission rates, futures leverage brackets, premium index (mark price) and funding-rate
history, and the futures position mode (one-way only: the simulator has no hedge mode).

Fees are the books' own: spot maker 0, taker 5 bps; futures maker 2 bps, taker 5 bps.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trader.sim.binance.errors import ApiError, require
from trader.sim.binance.futures_account import BRACKETS
from trader.sim.binance.state import Market

if TYPE_CHECKING:
    from trader.sim.binance.ops import Operations
    from trader.sim.binance.tape import Tape

SPOT_MAKER, SPOT_TAKER = Decimal("0"), Decimal("0.0005")
FUTURES_MAKER, FUTURES_TAKER = Decimal("0.0002"), Decimal("0.0005")


def _tape(ops: Operations, market: Market) -> Tape:
    return ops.sim.futures_tape if market.book == "futures" else ops.sim.spot_tape


# ---- the tape (public) -------------------------------------------------------------------------------


def ticker_24hr(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    return _tape(ops, market).ticker_24hr(ops.sim.now_ms(), params)


def book_ticker(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    return _tape(ops, market).book_ticker(ops.sim.now_ms(), params)


def price_ticker(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    return _tape(ops, market).price_ticker(ops.sim.now_ms(), params)


def recent_trades(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    return _tape(ops, market).recent_trades(ops.sim.now_ms(), params)


def agg_trades(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    return _tape(ops, market).agg_trades(ops.sim.now_ms(), params)


def klines(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    return _tape(ops, market).klines(ops.sim.now_ms(), params)


def ticker_weight(one: int, every: int) -> Any:
    return lambda params: one if params.get("symbol") else every


def futures_klines_weight(params: dict[str, str]) -> int:
    limit = int(params.get("limit", "500") or 500)
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


# ---- status and fees ---------------------------------------------------------------------------------


def system_status(ops: Operations, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
    return {"status": 0, "msg": "normal"}


def trade_fee(ops: Operations, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
    """`GET /sapi/v1/asset/tradeFee`: every symbol, or the one asked for."""
    symbol = ops.sim.spot.symbol
    if params.get("symbol", symbol) != symbol:
        raise ApiError(-1121, "Invalid symbol.")
    return [{"symbol": symbol, "makerCommission": f"{SPOT_MAKER}", "takerCommission": f"{SPOT_TAKER}"}]


def account_commission(ops: Operations, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
    """`GET /api/v3/account/commission`: the standard rates, no special or tax rates, no BNB discount."""
    ops.sim.spot.check_symbol(params, mandatory=True)
    zero = "0.00000000"
    standard = {
        "maker": f"{SPOT_MAKER:.8f}",
        "taker": f"{SPOT_TAKER:.8f}",
        "buyer": zero,
        "seller": zero,
    }
    return {
        "symbol": ops.sim.spot.symbol,
        "standardCommission": standard,
        "specialCommission": dict.fromkeys(standard, zero),
        "taxCommission": dict.fromkeys(standard, zero),
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": zero,
        },
    }


def futures_commission(ops: Operations, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
    ops.sim.futures.check_symbol(params, mandatory=True)
    return {
        "symbol": ops.sim.futures.symbol,
        "makerCommissionRate": f"{FUTURES_MAKER}",
        "takerCommissionRate": f"{FUTURES_TAKER}",
    }


# ---- futures: brackets, mark price, funding, position mode -------------------------------------------


def leverage_brackets(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    """`GET /fapi/v1/leverageBracket`: a list of every symbol's, or (with `symbol`) that symbol's."""
    book = ops.sim.futures
    book.check_symbol(params, default=True)
    brackets = [
        {
            "bracket": i + 1,
            "initialLeverage": lev,
            "notionalCap": cap,
            "notionalFloor": floor,
            "maintMarginRatio": float(mmr),
            "cum": float(cum),
        }
        for i, (lev, floor, cap, mmr, cum) in enumerate(BRACKETS)
    ]
    body = {"symbol": book.symbol, "notionalCoef": 1.0, "brackets": brackets}
    return body if "symbol" in params else [body]


def premium_index(ops: Operations, market: Market, params: dict[str, str], key: str) -> Any:
    """`GET /fapi/v1/premiumIndex`: mark price (the futures mid), index (the spot mid), funding."""
    sim = ops.sim
    sim.futures.check_symbol(params, default=True)
    now, interval = sim.now_ms(), sim.funding.interval_ms
    body = {
        "symbol": sim.futures.symbol,
        "markPrice": f"{sim.futures.mark():.8f}",
        "indexPrice": f"{sim.mid():.8f}",
        "estimatedSettlePrice": f"{sim.futures.mark():.8f}",
        "lastFundingRate": f"{sim.funding.rate:.8f}",
        "interestRate": "0.00010000",
        "nextFundingTime": (now // interval + 1) * interval,
        "time": now,
    }
    return body if "symbol" in params else [body]


def funding_rate(ops: Operations, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
    """`GET /fapi/v1/fundingRate`: the settlements made, oldest first (`startTime`, `endTime`, `limit`)."""
    sim = ops.sim
    sim.futures.check_symbol(params, default=True)
    limit = int(params.get("limit", "100") or 100)
    if not 1 <= limit <= 1000:
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    start = int(params.get("startTime", "0"))
    end = int(params.get("endTime", str(sim.now_ms())))
    rows = [
        {
            "symbol": sim.futures.symbol,
            "fundingRate": f"{sim.funding.rate:.8f}",
            "fundingTime": at,
            "markPrice": f"{mark:.8f}",
        }
        for at, mark in sorted(sim.funding.marks.items())
        if start <= at <= end
    ]
    return rows[:limit] if "startTime" in params else rows[-limit:]


def position_mode(ops: Operations, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
    return {"dualSidePosition": False}


def change_position_mode(ops: Operations, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
    """One-way mode only: asking for it again is Binance's -4059; hedge mode is refused (not simulated)."""
    dual = require(params, "dualSidePosition").lower()
    if dual == "false":
        raise ApiError(-4059, "No need to change position side.")
    if dual == "true":
        raise ApiError(-1000, "Hedge mode is not simulated: the simulator trades in one-way mode only.")
    raise ApiError(
        -1102, "Mandatory parameter 'dualSidePosition' was not sent, was empty/null, or malformed."
    )
