"""OKX batch order operations, in requests of up to 20 (`ep.MAX_BATCH`): place (`batch-orders`), amend
(`amend-batch-orders`, WS `batch-amend-orders`) and cancel (`cancel-batch-orders`, WS
`batch-cancel-orders`). Over REST the body is a JSON array, signed over the exact bytes sent; over the
private WebSocket (`order_entry="ws"`) the same items go as one op. Each item's `sCode`/`sMsg` becomes its own
result (None or the ack when accepted, else the typed error of `errors.py`); a lost answer raises
`UnknownOutcomeError` for the whole request (query each order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import Approval
from trader.errors import InvalidOrderError, VenueError
from trader.venues.base import SubmitAck
from trader.venues.okx import endpoints as ep
from trader.venues.okx import parse
from trader.venues.okx.errors import error_from

if TYPE_CHECKING:
    from trader.venues.okx.connector import OkxConnector

Amend = tuple[str, int | None, int | None]  # (client id, new price units or None, new qty units or None)


async def post_raw(c: OkxConnector, path: str, items: list[dict[str, str]], group: str) -> list[Any]:
    """A POST whose body is a JSON array (batch endpoints): signed by the core's `OkxSigner` over
    timestamp + method + path + the exact body sent. The per-item results (sCode each)."""
    await c.endpoint_gate(f"POST {path}", len(items), mutating=True)
    body = orjson.dumps(items)
    req = c.signer.sign("POST", path, [], c.venue_now_ms())
    headers = dict(req.headers)
    stamp = headers["OK-ACCESS-TIMESTAMP"]
    headers["OK-ACCESS-SIGN"] = c.signer.signature(f"{stamp}POST{path}".encode() + body)
    resp = await c.http(group).request(
        "POST", path, body=body, headers=headers, mutating=True, priority=group == "cancel"
    )
    code, msg, data = parse.envelope(orjson.loads(resp.body))
    if code not in ("0", "1", "2"):  # 1, 2: every or some item failed, each says why
        raise error_from(c.venue, code, msg)
    return data


async def send(c: OkxConnector, ws_op: str, path: str, items: list[dict[str, str]], group: str) -> list[Any]:
    """One batch request, over the private WebSocket or REST as the connector enters orders."""
    if c.order_entry == "ws":
        return await c.ws_op(ws_op, items, mutating=True, whole=True)
    return await post_raw(c, path, items, group)


def item_error(c: OkxConnector, item: Any) -> VenueError | None:
    """An item's `sCode` as its typed error, None when "0" (accepted)."""
    code = str(item.get("sCode", "")) if isinstance(item, dict) else ""
    return None if code == "0" else error_from(c.venue, code or "1", str(item.get("sMsg", "")))


async def submit_batch(
    c: OkxConnector, orders: Sequence[tuple[Approval, str]]
) -> list[SubmitAck | VenueError]:
    """Per order its ack or its typed refusal (in order)."""
    out: list[SubmitAck | VenueError] = []
    for i in range(0, len(orders), ep.MAX_BATCH):
        chunk = orders[i : i + ep.MAX_BATCH]
        items = [dict(c.order_params(a, cid)) for a, cid in chunk]
        data = await send(c, "batch-orders", ep.BATCH_ORDERS, items, "place")
        for (_, cid), item in zip(chunk, data, strict=True):
            err = item_error(c, item)
            out.append(SubmitAck(cid, str(item["ordId"])) if err is None else err)
    return out


def amend_params(
    c: OkxConnector, client_id: str, price: int | None, qty: int | None
) -> list[tuple[str, str]]:
    """One amend's fields: a new price and/or a new total quantity (above what filled), by clOrdId."""
    params = [("instId", c.inst_id), ("clOrdId", client_id)]
    if qty is not None:
        params.append(("newSz", parse.size_text(qty, c.spec, c.ct)))
    if price is not None:
        params.append(("newPx", c.spec.format_price(price)))
    if len(params) == 2:
        raise InvalidOrderError(f"an amend of {client_id} needs a new price or quantity", venue=c.venue)
    return params


async def amend_batch(c: OkxConnector, amends: Sequence[Amend]) -> list[VenueError | None]:
    """Per amend None (accepted: the order's next report tells the outcome) or its typed refusal
    (`OrderNotFoundError` when the order is no longer open, ...), in order."""
    items = [dict(amend_params(c, cid, px, qty)) for cid, px, qty in amends]  # all checked before sending
    out: list[VenueError | None] = []
    for i in range(0, len(items), ep.MAX_BATCH):
        chunk = items[i : i + ep.MAX_BATCH]
        data = await send(c, "batch-amend-orders", ep.AMEND_BATCH, chunk, "place")
        out.extend(item_error(c, item) for item in _aligned(c, data, len(chunk)))
    return out


async def cancel_batch(c: OkxConnector, client_ids: Sequence[str]) -> list[VenueError | None]:
    """Per order None (the cancel was accepted) or its typed refusal (`OrderNotFoundError`: already
    closed or unknown), in order. Unlike `cancel`, it does not wait for the orders to show closed."""
    out: list[VenueError | None] = []
    for i in range(0, len(client_ids), ep.MAX_BATCH):
        chunk = [{"instId": c.inst_id, "clOrdId": cid} for cid in client_ids[i : i + ep.MAX_BATCH]]
        data = await send(c, "batch-cancel-orders", ep.CANCEL_BATCH, chunk, "cancel")
        out.extend(item_error(c, item) for item in _aligned(c, data, len(chunk)))
    return out


async def cancel_all(c: OkxConnector) -> int:
    """The open orders, canceled in batches of 20 (`cancel-batch-orders`); how many were canceled."""
    rows = await c.pending()
    n = 0
    for i in range(0, len(rows), ep.MAX_BATCH):
        batch = [{"instId": str(r["instId"]), "ordId": str(r["ordId"])} for r in rows[i : i + ep.MAX_BATCH]]
        data = await post_raw(c, ep.CANCEL_BATCH, batch, "cancel")
        n += sum(1 for item in data if str(item.get("sCode")) == "0")
    return n


def _aligned(c: OkxConnector, data: list[Any], n: int) -> list[Any]:
    if len(data) != n:
        raise VenueError(f"a batch of {n} answered with {len(data)} items", venue=c.venue)
    return data
