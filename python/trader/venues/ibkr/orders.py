"""The orders IBKR takes through this connector (`CAPABILITIES`) and how an approval becomes the SDK's
`Order`: what `submit` hands to ib_async's `placeOrder` with the qualified `Contract`, and what `rehearse`
builds. Pure: no I/O, no order id (ib_async assigns it when the order is placed)."""

from __future__ import annotations

from decimal import Decimal

from ib_async import Contract, Order, util

from trader.core import Approval, InstrumentSpec, OrderType, Side, TimeInForce
from trader.errors import InvalidOrderError
from trader.venues.base import Capabilities, Tier
from trader.venues.ibkr.errors import VENUE

CAPABILITIES = Capabilities(
    venue=VENUE,
    tier=Tier.BROKER,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC"}),
    post_only=False,
    reduce_only=False,
    cancel_all=True,
    dead_man_switch=False,  # the TWS API has no cancel-on-disconnect
    ws_order_entry=False,
    max_batch=1,
    paper_environment=True,
    needs_credentials=False,  # the Gateway holds the login
)


def order_of(a: Approval, client_id: str, spec: InstrumentSpec, account: str) -> Order:
    """The SDK order for one approval (exact decimal price and quantity; the client id in `orderRef`)."""
    if a.post_only or a.reduce_only:
        raise InvalidOrderError("post-only and reduce-only orders are not offered for stocks", venue=VENUE)
    tif = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC"}.get(a.tif)
    if tif is None:
        raise InvalidOrderError(f"time in force {a.tif} is not supported", venue=VENUE)
    o = Order(
        action="BUY" if a.side == Side.BUY else "SELL",
        totalQuantity=a.qty,  # whole shares: the spec counts quantity in shares (lot 1)
        tif=tif,
        orderRef=client_id,
        account=account,
    )
    if a.order_type == OrderType.MARKET:
        o.orderType = "MKT"
    else:
        o.orderType = "LMT"
        o.lmtPrice = Decimal(spec.format_price(a.price))
    return o


def fields_set(contract: Contract, order: Order) -> int:
    """How many fields of the contract and the order hold a value other than their default: the size
    `rehearse` reports. Not bytes: the TWS message is serialized inside ib_async's `Client.placeOrder`,
    which sends it in the same call, so no request bytes exist before the socket."""
    return len(util.dataclassNonDefaults(contract)) + len(util.dataclassNonDefaults(order))
