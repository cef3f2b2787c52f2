"""Perpetual funding on the USD-M futures book: every `interval_ms` (the venue's 8 h by default; settlement
times are multiples of the interval since the epoch, as Binance's 00:00/08:00/16:00 UTC) each open position
pays or receives `position x mark price x rate`. With a positive rate longs pay shorts: the amount credited
to a wallet is `-position x mark x rate` (negative for a long).

Each payment is what Binance reports: an `ACCOUNT_UPDATE` on the user-data stream with reason
`"m": "FUNDING_FEE"` and the margin asset's balance with its change `bc` (a cross position: balances only,
no `P`; an isolated one: also its position), and a row of `GET /fapi/v1/income` (`incomeType` FUNDING_FEE,
`income`, `asset`, `time`, `tranId`, `info`, `tradeId` ""). The event's `T` and the row's `time` are the
settlement time, the same instant in both.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from trader.sim.binance.errors import ApiError, illegal
from trader.sim.binance.filters import FUTURES
from trader.sim.binance.futuresbook import FuturesBook, fqty
from trader.sim.binance.state import money

EIGHT_HOURS_MS = 8 * 3600 * 1000
WEEK_MS = 7 * 24 * 3600 * 1000
UNIT = Decimal("0.00000001")
INCOME_TYPES = frozenset(
    {
        "TRANSFER", "WELCOME_BONUS", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR",
        "REFERRAL_KICKBACK", "COMMISSION_REBATE", "API_REBATE", "CONTEST_REWARD",
        "CROSS_COLLATERAL_TRANSFER", "OPTIONS_PREMIUM_FEE", "OPTIONS_SETTLE_PROFIT", "INTERNAL_TRANSFER",
        "AUTO_EXCHANGE", "DELIVERED_SETTELMENT", "COIN_SWAP_DEPOSIT", "COIN_SWAP_WITHDRAW",
        "POSITION_LIMIT_INCREASE_FEE", "STRATEGY_UMFUTURES_TRANSFER", "FEE_RETURN", "BFUSD_REWARD",
    }
)  # fmt: skip


@dataclass
class Funding:
    """The funding schedule and every payment made, per API key (the income history)."""

    interval_ms: int = EIGHT_HOURS_MS
    rate: Decimal = Decimal("0.0001")
    next_ms: int = 0
    income: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    marks: dict[int, Decimal] = field(default_factory=dict)  # settlement time (ms) -> the mark it used
    _tran_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_689_322_392))

    def due(self, now_ms: int) -> int | None:
        """The settlement time that has come (once), else None; the first call only schedules."""
        if self.next_ms == 0:
            self.next_ms = (now_ms // self.interval_ms + 1) * self.interval_ms
            return None
        if now_ms < self.next_ms:
            return None
        at = self.next_ms
        self.next_ms = (now_ms // self.interval_ms + 1) * self.interval_ms
        return at

    def settle(self, book: FuturesBook, at_ms: int) -> None:
        """Every open position pays or receives its funding at `at_ms`."""
        mark = self.marks[at_ms] = book.mark()
        for key, fa in book.accounts.items():
            pos = fa.position
            if not pos.amt:
                continue
            amount = (-Decimal(pos.amt) * FUTURES.step * mark * self.rate).quantize(UNIT, ROUND_HALF_EVEN)
            if not amount:
                continue
            fa.wallet += amount
            isolated = fa.margin_type == "ISOLATED"
            if isolated:
                pos.isolated_wallet += amount
            tran_id = next(self._tran_ids)
            self.income.setdefault(key, []).append(
                {
                    "symbol": book.symbol,
                    "incomeType": "FUNDING_FEE",
                    "income": money(amount),
                    "asset": book.quote,
                    "info": "FUNDING_FEE",
                    "time": at_ms,
                    "tranId": tran_id,
                    "tradeId": "",
                }
            )
            balance = {"a": book.quote, "wb": money(fa.wallet), "cw": money(fa.wallet - pos.isolated_wallet)}
            update: dict[str, Any] = {"m": "FUNDING_FEE", "B": [{**balance, "bc": money(amount)}]}
            if isolated:
                update["P"] = [_isolated_position(book, key)]
            book.emit(key, {"e": "ACCOUNT_UPDATE", "E": book.now_ms(), "T": at_ms, "a": update})


def _isolated_position(book: FuturesBook, key: str) -> dict[str, Any]:
    p = book.accounts[key].position
    return {
        "s": book.symbol,
        "pa": fqty(p.amt),
        "ep": f"{p.entry:.8f}",
        "bep": f"{book.break_even(key):.8f}",
        "cr": money(p.realized),
        "up": money(book.upnl(key)),
        "mt": "isolated",
        "iw": money(p.isolated_wallet),
        "ps": "BOTH",
    }


def _int(params: dict[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise illegal(name) from None


def income(
    funding: Funding, book: FuturesBook, params: dict[str, str], key: str, now_ms: int
) -> list[dict[str, Any]]:
    """`GET /fapi/v1/income`: symbol, incomeType, startTime and endTime (inclusive; neither: the last 7
    days), page, limit (default 100, max 1000); oldest first."""
    if params.get("symbol"):
        book.check_symbol(params)
    kind = params.get("incomeType", "")
    if kind and kind not in INCOME_TYPES:
        raise ApiError(-1100, "Illegal characters found in parameter 'incomeType'.")
    start, end = _int(params, "startTime"), _int(params, "endTime")
    limit, page = _int(params, "limit") or 100, _int(params, "page") or 1
    if not 1 <= limit <= 1000:
        raise illegal("limit")
    if page < 1:
        raise illegal("page")
    if start is None and end is None:
        start = now_ms - WEEK_MS
    rows = [
        r
        for r in funding.income.get(key, [])
        if (not kind or r["incomeType"] == kind)
        and (not params.get("symbol") or r["symbol"] == params["symbol"])
        and (start is None or r["time"] >= start)
        and (end is None or r["time"] <= end)
    ]
    return rows[(page - 1) * limit : page * limit]
