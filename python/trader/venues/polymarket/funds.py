"""Funds at the CLOB: `/balance-allowance` of the collateral (pUSD) or a token (asset type `CONDITIONAL`,
or `CONDITIONAL-V2` for a Protocol V2 market's position id), cached for
`balance_ttl_s`, and the check before an order leaves: the balance minus what our live orders hold
must cover it, and the market's exchange must be approved (else `InsufficientFundsError`, nothing sent).
The wallet as Polygon sees it is in chain.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trader.core import PolymarketOrder, Side
from trader.errors import InsufficientFundsError
from trader.venues.polymarket.endpoints import MICRO
from trader.venues.polymarket.markets import asset_type
from trader.venues.polymarket.orders import Order, held
from trader.venues.polymarket.parse import dec

if TYPE_CHECKING:
    from trader.venues.polymarket.connector import PolymarketConnector


@dataclass
class Balance:
    at_ns: int
    balance: int
    allowances: dict[str, int] = field(default_factory=dict)  # spender (lower case) -> micro-units


async def balance(c: PolymarketConnector, token: str | None) -> Balance:
    """`/balance-allowance` for the collateral (None) or a token, cached for `balance_ttl_s`."""
    key = token or "COLLATERAL"
    now = c.clock.monotonic_ns()
    cached = c._balances.get(key)
    if cached is not None and now - cached.at_ns < c._balance_ttl_ns:
        return cached
    query: dict[str, Any] = {"asset_type": asset_type(token) if token else "COLLATERAL"}
    if token:
        query["token_id"] = token
    query["signature_type"] = c._signature_type
    body = await c._private("GET", "/balance-allowance", query=query, mutating=False)
    allowances = {str(k).lower(): int(v) for k, v in (body.get("allowances") or {}).items()}
    b = Balance(now, int(body["balance"]), allowances)
    c._balances[key] = b
    return b


async def check_funds(
    c: PolymarketConnector, new: Sequence[Order], signed: Sequence[PolymarketOrder]
) -> None:
    """Balance and allowance must cover the new orders on top of what ours already hold."""
    need: dict[str | None, int] = {}
    for o, s in zip(new, signed, strict=True):
        key = None if o.side == Side.BUY else o.token
        need[key] = need.get(key, 0) + s.maker_amount
    exchange = c.exchange.lower()
    for token, amount in need.items():
        b = await balance(c, token)
        free = b.balance - held(c._orders.values(), token, dec(c.trading_spec().price_unit))
        what = "pUSD" if token is None else f"{c._symbol_of[token]} shares"
        if free < amount:
            raise InsufficientFundsError(
                f"{what}: {Decimal(amount) * MICRO} needed, {Decimal(max(free, 0)) * MICRO} free",
                venue=c.venue,
                code="local",
            )
        allowed = b.allowances.get(exchange, 0)
        if (token is None and allowed < amount) or (token is not None and allowed <= 0):
            raise InsufficientFundsError(
                f"{what}: the exchange {c.exchange} is not approved for this amount",
                venue=c.venue,
                code="local",
            )


async def positions(c: PolymarketConnector) -> dict[str, int]:
    """Each token's balance at the venue, in micro-shares (`CONDITIONAL` or `CONDITIONAL-V2`)."""
    out: dict[str, int] = {}
    for symbol, token in c._tokens.items():
        query = {"asset_type": asset_type(token), "token_id": token, "signature_type": c._signature_type}
        body = await c._private("GET", "/balance-allowance", query=query, mutating=False)
        out[symbol] = int(body["balance"])
    return out
