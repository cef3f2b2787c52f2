"""How an approved order becomes the request that places it: checked against the market's tick and lot,
signed by the Rust signer (the V2 order, EIP-712), and the `POST /order` (or `/orders`) body with its L2
(HMAC) headers. `submit`, `submit_batch` and `rehearse` all build their requests here.

Pure but for two readings: the clock (the order's timestamp, the headers' time) and a fresh random salt
per order (the venue checks no sequence of salts, and nothing else counts up). Nothing is sent, recorded,
charged to a rate limit or read from the venue; funds, heartbeats and the client-id map are the
connector's."""

from __future__ import annotations

import secrets
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, NamedTuple

from trader.core import Approval, InvalidInputError, PolymarketOrder
from trader.errors import InvalidOrderError, VenueError
from trader.venues.polymarket.endpoints import LOT
from trader.venues.polymarket.orders import Order, order_kind

if TYPE_CHECKING:
    from trader.venues.polymarket.connector import PolymarketConnector


class Signed(NamedTuple):
    """One signed order: its tracking record (not yet recorded), the signed order, the venue order type,
    post only, and the GTD expiration (unix seconds, 0 for none)."""

    tracked: Order
    order: PolymarketOrder
    kind: str
    post_only: bool
    expiration: int


def check_tradable(c: PolymarketConnector) -> None:
    if c.spec is None:
        raise VenueError("not connected", venue=c.venue)
    if c._closed:
        raise InvalidOrderError(f"market {c.condition_id} is closed", venue=c.venue)


def tick_representable(c: PolymarketConnector) -> bool:
    """Whether the market's tick is a whole number of price units."""
    spec = c.trading_spec()
    try:
        spec.price_to_units(c._tick)
    except InvalidInputError:
        return False
    return True


def sign(
    c: PolymarketConnector, a: Approval, client_id: str, instrument: str, used: Container[str]
) -> Signed:
    """Check and sign one approved order (`a` a gate's approval: `require_approval` first). `used`: the
    client ids already taken (`submit`'s check; a rehearsal passes none, as it repeats an order sent)."""
    check_tradable(c)
    if client_id in used:
        raise InvalidOrderError(f"client order id {client_id} was already used", venue=c.venue)
    symbol, token = c._resolve(instrument)
    kind, post_only, expiration = order_kind(a, c.venue)
    spec = c.trading_spec()
    tick_units = spec.price_to_units(c._tick) if tick_representable(c) else spec.tick
    if a.price <= 0 or a.price % tick_units or a.qty <= 0 or a.qty % spec.lot:
        raise InvalidOrderError(
            f"price {a.price} or qty {a.qty} is not on the tick {c._tick} / lot {LOT}", venue=c.venue
        )
    now_ns = c.clock.now_ns() + c._offset_s * 1_000_000_000
    try:
        order = c._signer.order(
            token,
            spec.format_price(a.price),
            spec.format_qty(a.qty),
            a.side,
            tick_size=c._tick,
            neg_risk=c._neg_risk,
            salt=secrets.randbits(40),
            timestamp_ms=now_ns // 1_000_000,
            expiration=expiration,
            version=c._version,
        )
    except InvalidInputError as e:
        raise InvalidOrderError(str(e), venue=c.venue) from None
    tracked = Order(client_id, order.hash, symbol, token, a.side, a.price, a.qty, kind)
    return Signed(tracked, order, kind, post_only, expiration)


def l2_headers(c: PolymarketConnector, method: str, path: str, body: bytes | None) -> dict[str, str]:
    """A private request's L2 (HMAC) headers at the venue's time now, and the JSON type with a body."""
    headers = dict(c._signer.l2_headers(c._now_s(), method, path, body))
    if body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def order_request(c: PolymarketConnector, s: Signed) -> tuple[bytes, dict[str, str]]:
    """The body and headers of `POST /order` for one signed order."""
    body = s.order.body(c._api_key, s.kind, s.post_only).encode()
    return body, l2_headers(c, "POST", "/order", body)


def batch_request(c: PolymarketConnector, signed: Sequence[Signed]) -> tuple[bytes, dict[str, str]]:
    """The body and headers of `POST /orders` for a batch of signed orders."""
    body = ("[" + ",".join(s.order.body(c._api_key, s.kind, s.post_only) for s in signed) + "]").encode()
    return body, l2_headers(c, "POST", "/orders", body)
