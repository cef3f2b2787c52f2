"""The futures account endpoints: leverage, margin type, the dead-man switch (countdownCancelAll),
positionRisk v2/v3, balance and account, all views of `FuturesBook`'s positions and wallets.

Funding is settled by `funding.py`; no liquidation (`liquidationPrice` is "0"); maintenance margin 0.4 %;
leverage 1..125."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from trader.sim.binance.errors import ApiError, illegal, mandatory, require
from trader.sim.binance.filters import FUTURES
from trader.sim.binance.futuresbook import FuturesBook, fpx, fqty
from trader.sim.binance.state import ZERO, money

# A simplified BTCUSDT leverage bracket table (numbers unverified): (initial leverage, notional floor,
# notional cap, maintenance margin ratio, maintenance amount `cum`), as `GET /fapi/v1/leverageBracket`.
BRACKETS = (
    (125, 0, 300_000, Decimal("0.004"), Decimal(0)),
    (100, 300_000, 800_000, Decimal("0.005"), Decimal(300)),
    (50, 800_000, 3_000_000, Decimal("0.01"), Decimal(4300)),
    (20, 3_000_000, 12_000_000, Decimal("0.025"), Decimal(49_300)),
)


def max_notional(lev: int) -> str:
    """The largest position notional at leverage `lev`: the cap of the last bracket that allows it."""
    return str(next(cap for initial, _, cap, _, _ in reversed(BRACKETS) if lev <= initial))


def leverage(book: FuturesBook, params: dict[str, str], key: str) -> dict[str, Any]:
    book.check_symbol(params, mandatory=True)
    text = require(params, "leverage")
    try:
        lev = int(text)
    except ValueError:
        raise illegal("leverage") from None
    if not 1 <= lev <= 125:
        raise ApiError(-4028, f"Leverage {lev} is not valid")
    fa = book.accounts[key]
    old, fa.leverage = fa.leverage, lev
    if book.available(key) < 0:
        fa.leverage = old
        raise ApiError(-2027, "Exceeded the maximum allowable position at current leverage.")
    now = book.now_ms()
    book.emit(key, {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now, "ac": {"s": book.symbol, "l": lev}})
    return {"leverage": lev, "maxNotionalValue": max_notional(lev), "symbol": book.symbol}


def margin_type(book: FuturesBook, params: dict[str, str], key: str) -> dict[str, Any]:
    book.check_symbol(params, mandatory=True)
    kind = require(params, "marginType").upper()
    if kind not in ("ISOLATED", "CROSSED"):
        raise mandatory("marginType")
    fa = book.accounts[key]
    if kind == fa.margin_type:
        raise ApiError(-4046, "No need to change margin type.")
    if book.live(key):
        raise ApiError(-4047, "Margin type cannot be changed if there exists open orders.")
    if fa.position.amt:
        raise ApiError(-4048, "Margin type cannot be changed if there exists position.")
    fa.margin_type = kind
    return {"code": 200, "msg": "success"}


def countdown(book: FuturesBook, params: dict[str, str], key: str) -> dict[str, Any]:
    """Arm (or with 0 disarm) the dead-man switch: every open order is canceled when it runs out."""
    book.check_symbol(params, mandatory=True)
    text = params.get("countdownTime", "")
    if text == "":
        raise mandatory("countdownTime")
    try:
        ms = int(text)
    except ValueError:
        raise illegal("countdownTime") from None
    if ms < 0:
        raise illegal("countdownTime")
    fa = book.accounts[key]
    fa.countdown_ms = ms
    fa.countdown_deadline_ms = book.now_ms() + ms if ms else 0
    return {"symbol": book.symbol, "countdownTime": str(ms)}


def position_fields(book: FuturesBook, key: str) -> dict[str, Any]:
    fa = book.accounts[key]
    p = fa.position
    mark = book.mark()
    notional = p.amt * FUTURES.step * mark
    upnl, pos_im, order_im = book.upnl(key), book.position_margin(key), book.open_order_margin(key)
    return {
        "symbol": book.symbol,
        "positionSide": "BOTH",
        "positionAmt": fqty(p.amt),
        "entryPrice": f"{p.entry:.8f}",
        "breakEvenPrice": f"{book.break_even(key):.8f}",
        "markPrice": f"{mark:.8f}",
        "unRealizedProfit": money(upnl),
        "liquidationPrice": "0",
        "isolatedMargin": money(p.isolated_wallet + upnl if fa.margin_type == "ISOLATED" else ZERO),
        "notional": money(notional),
        "marginAsset": book.quote,
        "isolatedWallet": money(p.isolated_wallet),
        "initialMargin": money(pos_im + order_im),
        "maintMargin": money(abs(notional) * FUTURES.maint_rate),
        "positionInitialMargin": money(pos_im),
        "openOrderInitialMargin": money(order_im),
        "adl": 0,
        "bidNotional": money(book.side_notional(key, "BUY")),
        "askNotional": money(book.side_notional(key, "SELL")),
        "updateTime": p.update_ms,
    }


def position_v3(book: FuturesBook, params: dict[str, str], key: str) -> list[dict[str, Any]]:
    book.check_symbol(params, default=True)
    if not book.accounts[key].position.amt and not book.live(key):
        return []  # v3 lists only symbols with a position or open orders
    return [position_fields(book, key)]


def position_v2(book: FuturesBook, params: dict[str, str], key: str) -> list[dict[str, Any]]:
    book.check_symbol(params, default=True)
    fa = book.accounts[key]
    d = position_fields(book, key)
    return [
        {
            "entryPrice": d["entryPrice"],
            "breakEvenPrice": d["breakEvenPrice"],
            "marginType": "isolated" if fa.margin_type == "ISOLATED" else "cross",
            "isAutoAddMargin": "false",
            "isolatedMargin": d["isolatedMargin"],
            "leverage": str(fa.leverage),
            "liquidationPrice": "0",
            "markPrice": d["markPrice"],
            "maxNotionalValue": max_notional(fa.leverage),
            "positionAmt": d["positionAmt"],
            "notional": d["notional"],
            "isolatedWallet": d["isolatedWallet"],
            "symbol": book.symbol,
            "unRealizedProfit": d["unRealizedProfit"],
            "positionSide": "BOTH",
            "updateTime": d["updateTime"],
        }
    ]


def totals(book: FuturesBook, key: str) -> dict[str, str]:
    fa = book.accounts[key]
    upnl = book.upnl(key)
    cross_upnl = upnl if fa.margin_type == "CROSSED" else ZERO
    pos_im, order_im = book.position_margin(key), book.open_order_margin(key)
    avail = book.available(key)
    maint = abs(fa.position.amt) * FUTURES.step * book.mark() * FUTURES.maint_rate
    return {
        "walletBalance": money(fa.wallet),
        "unrealizedProfit": money(upnl),
        "marginBalance": money(fa.wallet + upnl),
        "maintMargin": money(maint),
        "initialMargin": money(pos_im + order_im),
        "positionInitialMargin": money(pos_im),
        "openOrderInitialMargin": money(order_im),
        "crossWalletBalance": money(fa.wallet - fa.position.isolated_wallet),
        "crossUnPnl": money(cross_upnl),
        "availableBalance": money(avail),
        "maxWithdrawAmount": money(max(avail, ZERO)),
    }


def balance(book: FuturesBook, params: dict[str, str], key: str) -> list[dict[str, Any]]:
    t = totals(book, key)
    return [
        {
            "accountAlias": hashlib.sha256(key.encode()).hexdigest()[:4],
            "asset": book.quote,
            "balance": t["walletBalance"],
            "crossWalletBalance": t["crossWalletBalance"],
            "crossUnPnl": t["crossUnPnl"],
            "availableBalance": t["availableBalance"],
            "maxWithdrawAmount": t["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": book.now_ms(),
        }
    ]


_ACCOUNT_POSITION = (
    "positionAmt", "isolatedMargin", "notional", "isolatedWallet", "initialMargin", "maintMargin",
    "positionInitialMargin", "openOrderInitialMargin",
)  # fmt: skip


def account(book: FuturesBook, params: dict[str, str], key: str) -> dict[str, Any]:
    t = totals(book, key)
    fa = book.accounts[key]
    pos = position_fields(book, key)
    position = {"symbol": book.symbol, "positionSide": "BOTH", "positionAmt": pos["positionAmt"]}
    position["unrealizedProfit"] = pos["unRealizedProfit"]
    position.update({k: pos[k] for k in _ACCOUNT_POSITION[1:]})
    position.update(
        {
            "leverage": str(fa.leverage),
            "isolated": fa.margin_type == "ISOLATED",
            "entryPrice": pos["entryPrice"],
            "breakEvenPrice": pos["breakEvenPrice"],
            "maxNotional": max_notional(fa.leverage),
            "bidNotional": pos["bidNotional"],
            "askNotional": pos["askNotional"],
            "updateTime": pos["updateTime"],
        }
    )
    head = {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": 0}
    head |= {"multiAssetsMargin": False, "tradeGroupId": -1}
    return head | {
        "totalInitialMargin": t["initialMargin"],
        "totalMaintMargin": t["maintMargin"],
        "totalWalletBalance": t["walletBalance"],
        "totalUnrealizedProfit": t["unrealizedProfit"],
        "totalMarginBalance": t["marginBalance"],
        "totalPositionInitialMargin": t["positionInitialMargin"],
        "totalOpenOrderInitialMargin": t["openOrderInitialMargin"],
        "totalCrossWalletBalance": t["crossWalletBalance"],
        "totalCrossUnPnl": t["crossUnPnl"],
        "availableBalance": t["availableBalance"],
        "maxWithdrawAmount": t["maxWithdrawAmount"],
        "assets": [{"asset": book.quote, **t, "marginAvailable": True, "updateTime": book.now_ms()}],
        "positions": [position],
    }


def state(book: FuturesBook, key: str) -> dict[str, Any]:
    """The admin view (`GET /sim/state`) of one account's futures."""
    fa = book.accounts[key]
    p = fa.position
    orders = [
        {
            "clientOrderId": o.client_id,
            "orderId": o.order_id,
            "status": o.status,
            "side": o.side,
            "price": fpx(o.price),
            "origQty": fqty(o.qty),
            "executedQty": fqty(o.filled),
            "reduceOnly": o.reduce_only,
        }
        for o in book.orders_of(key)
    ]
    return {
        "wallet": money(fa.wallet),
        "available": totals(book, key)["availableBalance"],
        "leverage": fa.leverage,
        "marginType": fa.margin_type,
        "position": {
            "positionAmt": fqty(p.amt),
            "entryPrice": f"{p.entry:.8f}",
            "unRealizedProfit": money(book.upnl(key)),
            "realized": money(p.realized),
            "isolatedWallet": money(p.isolated_wallet),
        },
        "orders": orders,
        "submissions": fa.counters.submissions,
        "trades": fa.counters.trades,
        "countdown": {
            "armed": bool(fa.countdown_deadline_ms),
            "countdownTime": fa.countdown_ms,
            "deadlineMs": fa.countdown_deadline_ms,
            "fired": fa.countdown_fired,
            "canceled": fa.countdown_canceled,
        },
    }
