"""Cross and isolated margin wallets: orders match on the spot book (`SpotBook`), funds come from the
wallet, shortfalls may be borrowed (`sideEffectType` MARGIN_BUY / AUTO_BORROW_REPAY) and fills may repay
(AUTO_REPAY / AUTO_BORROW_REPAY).

Our picks: cross 3x (borrow allowed while liabilities <= 2 x net equity, i.e. margin level >= 1.5),
isolated 10x (liabilities <= 9 x equity), -3006 past it; no interest accrual, no liquidation; repaying
more than owed repays the whole debt; a borrow made by MARGIN_BUY stays even if the order is then
rejected. Assets are valued at the spot mid.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from trader.sim.binance.errors import ApiError, illegal, insufficient_balance, require
from trader.sim.binance.spotbook import SpotBook
from trader.sim.binance.state import MARGIN, ZERO, Account, MarginWallet, Market, Order, money

SIDE_EFFECTS = ("NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY")


class MarginDesk:
    def __init__(self, book: SpotBook) -> None:
        self.book = book
        self.wallets: dict[str, dict[str, MarginWallet]] = {}
        self.side_effects: dict[tuple[str, str, str], str] = {}
        self._tran_ids = itertools.count(100_000_001)
        book.wallets = self.lookup
        book.borrow_for = self.ensure_funds
        book.after_fill = self.after_fill

    def open(
        self, key: str, cross_usdt: Decimal, isolated_usdt: Decimal, cross_lev: int, isolated_lev: int
    ) -> None:
        base, quote = self.book.base, self.book.quote
        self.wallets[key] = {
            MARGIN: MarginWallet(
                {base: [ZERO, ZERO], quote: [cross_usdt, ZERO]}, cross_lev, Account(b"", {})
            ),
            f"ISOLATED:{self.book.symbol}": MarginWallet(
                {base: [ZERO, ZERO], quote: [isolated_usdt, ZERO]}, isolated_lev, Account(b"", {})
            ),
        }

    def get(self, key: str, wallet: str) -> MarginWallet:
        found = self.wallets[key].get(wallet)
        if found is None:
            raise ApiError(-11001, "Isolated margin account does not exist.")
        return found

    def lookup(self, key: str, wallet: str) -> tuple[dict[str, list[Decimal]], Account]:
        w = self.get(key, wallet)
        return w.balances, w.counters

    def of(self, market: Market, params: dict[str, str], key: str) -> MarginWallet:
        return self.get(key, market.wallet(params))

    # ---- valuation ---------------------------------------------------------------------------------

    def price_of(self, asset: str) -> Decimal:
        return Decimal(1) if asset == self.book.quote else self.book.mid()

    def totals(self, w: MarginWallet) -> tuple[Decimal, Decimal]:
        """(total asset value, total liability) in the quote asset."""
        assets = sum(((v[0] + v[1]) * self.price_of(a) for a, v in w.balances.items()), ZERO)
        debt = sum((w.debt(a) * self.price_of(a) for a in w.balances), ZERO)
        return assets, debt

    def level(self, w: MarginWallet) -> Decimal:
        assets, debt = self.totals(w)
        return assets / debt if debt else Decimal(999)

    def max_borrow(self, w: MarginWallet, asset: str) -> Decimal:
        assets, debt = self.totals(w)
        room = (w.max_leverage - 1) * (assets - debt) - debt
        return max(ZERO, room / self.price_of(asset)).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)

    # ---- borrowing ---------------------------------------------------------------------------------

    def borrow(self, w: MarginWallet, asset: str, amount: Decimal) -> None:
        if asset not in w.balances:
            raise ApiError(-3027, "Not a valid margin asset.")
        if amount > self.max_borrow(w, asset):
            raise ApiError(-3006, "Your borrow amount has exceed maximum borrow amount.")
        w.balances[asset][0] += amount
        w.borrowed[asset] = w.borrowed.get(asset, ZERO) + amount

    def repay(self, w: MarginWallet, asset: str, amount: Decimal) -> Decimal:
        if asset not in w.balances:
            raise ApiError(-3027, "Not a valid margin asset.")
        debt = w.debt(asset)
        if debt <= 0:
            raise ApiError(-3015, "Repayment amount exceeds borrow amount.")
        pay = min(amount, debt)
        if w.balances[asset][0] < pay:
            raise ApiError(-3041, "Balance is not enough")
        w.balances[asset][0] -= pay
        interest = min(pay, w.interest.get(asset, ZERO))
        w.interest[asset] = w.interest.get(asset, ZERO) - interest
        w.borrowed[asset] = w.borrowed.get(asset, ZERO) - (pay - interest)
        return pay

    def ensure_funds(
        self, key: str, wallet: str, asset: str, need: Decimal, params: dict[str, str]
    ) -> dict[str, Any]:
        w = self.get(key, wallet)
        free = w.balances[asset][0]
        if free >= need:
            return {}
        if params.get("sideEffectType", "NO_SIDE_EFFECT") not in ("MARGIN_BUY", "AUTO_BORROW_REPAY"):
            raise insufficient_balance()
        short = (need - free).quantize(Decimal("0.00000001"))
        self.borrow(w, asset, short)
        return {"marginBuyBorrowAmount": money(short), "marginBuyBorrowAsset": asset}

    def after_fill(self, o: Order) -> None:
        """AUTO_REPAY / AUTO_BORROW_REPAY: what a fill brought in repays that asset's debt."""
        effect = self.side_effects.get((o.key, o.wallet, o.client_id))
        if effect not in ("AUTO_REPAY", "AUTO_BORROW_REPAY"):
            return
        w = self.get(o.key, o.wallet)
        asset = self.book.base if o.side == "BUY" else self.book.quote
        pay = min(w.debt(asset), w.balances[asset][0])
        if pay > 0:
            self.repay(w, asset, pay)

    def prepare_order(self, market: Market, params: dict[str, str], key: str) -> dict[str, str]:
        """Before a margin order reaches the spot book: its side effect, remembered by client id."""
        wallet = market.wallet(params)
        w = self.get(key, wallet)
        effect = params.get("sideEffectType", "NO_SIDE_EFFECT")
        if effect not in SIDE_EFFECTS:
            raise illegal("sideEffectType")
        cid = params.get("newClientOrderId") or f"sim{next(self.book.order_ids)}{market.cid_suffix}"
        if cid not in w.counters.used_client_ids:
            self.side_effects[(key, wallet, cid)] = effect
        return {**params, "newClientOrderId": cid}

    # ---- endpoints ---------------------------------------------------------------------------------

    @staticmethod
    def _amount(params: dict[str, str]) -> Decimal:
        try:
            amount = Decimal(require(params, "amount"))
        except InvalidOperation:
            raise illegal("amount") from None
        if not amount.is_finite() or amount <= 0:
            raise illegal("amount")
        return amount

    def max_borrowable(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        w = self.of(market, params, key)
        asset = require(params, "asset")
        if asset not in w.balances:
            raise ApiError(-3027, "Not a valid margin asset.")
        amount = self.max_borrow(w, asset)
        return {"amount": money(amount), "borrowLimit": money(amount + w.borrowed.get(asset, ZERO))}

    def borrow_repay(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        kind = require(params, "type")
        if kind not in ("BORROW", "REPAY"):
            raise illegal("type")
        return self.loan(market, params, key) if kind == "BORROW" else self.pay_back(market, params, key)

    def loan(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        w = self.of(market, params, key)
        self.borrow(w, require(params, "asset"), self._amount(params))
        return {"tranId": next(self._tran_ids)}

    def pay_back(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        w = self.of(market, params, key)
        self.repay(w, require(params, "asset"), self._amount(params))
        return {"tranId": next(self._tran_ids)}

    def _assets(self, w: MarginWallet) -> list[dict[str, Any]]:
        return [
            {
                "asset": a,
                "borrowed": money(w.borrowed.get(a, ZERO)),
                "free": money(v[0]),
                "interest": money(w.interest.get(a, ZERO)),
                "locked": money(v[1]),
                "netAsset": money(v[0] + v[1] - w.debt(a)),
            }
            for a, v in w.balances.items()
        ]

    def account(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        w = self.wallets[key][MARGIN]
        assets, debt = self.totals(w)
        btc = self.price_of(self.book.base)
        return {
            "created": True,
            "borrowEnabled": True,
            "marginLevel": money(self.level(w)),
            "collateralMarginLevel": money(self.level(w)),
            "totalAssetOfBtc": money(assets / btc),
            "totalLiabilityOfBtc": money(debt / btc),
            "totalNetAssetOfBtc": money((assets - debt) / btc),
            "TotalCollateralValueInUSDT": money(assets),
            "totalOpenOrderLossInUsdt": "0.00000000",
            "tradeEnabled": True,
            "transferInEnabled": True,
            "transferOutEnabled": True,
            "accountType": "MARGIN_1",
            "userAssets": self._assets(w),
        }

    def _isolated_side(self, w: MarginWallet, a: str, btc: Decimal) -> dict[str, Any]:
        v = w.balances[a]
        net = v[0] + v[1] - w.debt(a)
        return {
            "asset": a,
            "borrowEnabled": True,
            "borrowed": money(w.borrowed.get(a, ZERO)),
            "free": money(v[0]),
            "interest": money(w.interest.get(a, ZERO)),
            "locked": money(v[1]),
            "netAsset": money(net),
            "netAssetOfBtc": money(net * self.price_of(a) / btc),
            "repayEnabled": True,
            "totalAsset": money(v[0] + v[1]),
        }

    def _isolated_one(self, symbol: str, w: MarginWallet, btc: Decimal) -> dict[str, Any]:
        level = self.level(w)
        return {
            "baseAsset": self._isolated_side(w, self.book.base, btc),
            "quoteAsset": self._isolated_side(w, self.book.quote, btc),
            "symbol": symbol,
            "isolatedCreated": True,
            "enabled": True,
            "marginLevel": money(level),
            "marginLevelStatus": "EXCESSIVE" if level >= 2 else "NORMAL",
            "marginRatio": money(Decimal(w.max_leverage)),
            "indexPrice": money(self.book.mid()),
            "liquidatePrice": "0.00000000",
            "liquidateRate": "0.00000000",
            "tradeEnabled": True,
        }

    def isolated_account(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        wanted = set(params["symbols"].split(",")) if params.get("symbols") else None
        btc = self.price_of(self.book.base)
        out: list[dict[str, Any]] = []
        total_assets = total_debt = ZERO
        for wallet, w in self.wallets[key].items():
            symbol = wallet.partition(":")[2]
            if not wallet.startswith("ISOLATED:") or (wanted is not None and symbol not in wanted):
                continue
            assets, debt = self.totals(w)
            total_assets += assets
            total_debt += debt
            out.append(self._isolated_one(symbol, w, btc))
        return {
            "assets": out,
            "totalAssetOfBtc": money(total_assets / btc),
            "totalLiabilityOfBtc": money(total_debt / btc),
            "totalNetAssetOfBtc": money((total_assets - total_debt) / btc),
        }

    def state(self, key: str) -> dict[str, Any]:
        """The admin view (`GET /sim/state`) of one account's margin wallets."""
        book = self.book
        return {
            wallet: {
                "assets": {
                    a: {
                        "free": money(v[0]),
                        "locked": money(v[1]),
                        "borrowed": money(w.borrowed.get(a, ZERO)),
                        "interest": money(w.interest.get(a, ZERO)),
                    }
                    for a, v in w.balances.items()
                },
                "marginLevel": money(self.level(w)),
                "orders": [
                    {
                        "clientOrderId": o.client_id,
                        "orderId": o.order_id,
                        "status": o.status,
                        "side": o.side,
                        "executedQty": book.fmt(o.filled, book.step),
                    }
                    for o in book.orders_of(key, wallet)
                ],
                "submissions": w.counters.submissions,
            }
            for wallet, w in self.wallets[key].items()
        }
