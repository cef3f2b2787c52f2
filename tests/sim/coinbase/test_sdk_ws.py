"""The Coinbase simulator against the official SDK's WebSocket clients (coinbase-advanced-py `WSClient` and
`WSUserClient`, their own connection, JWTs and subscribe messages): level2, heartbeats and user stream, and
every message reads into the SDK's own response types (`WebsocketResponse`) with the fields those name."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from coinbase.websocket import WebsocketResponse, WSClient, WSUserClient
from coinbase.websocket.types.misc_types import L2Update, UserOrders

from tests.sim.coinbase.test_sdk import client
from trader.sim.coinbase import DEMO_KEY_NAME, DEMO_PRIVATE_KEY, CoinbaseSimServer
from trader.sim.server import SimThread

PRODUCT = "BTC-USD"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    thread = SimThread(CoinbaseSimServer(seed=8, step_ms=50, rate_limit=1_000))  # 50+ orders at once
    try:
        yield thread
    finally:
        thread.close()


def _fields(cls: type) -> set[str]:
    """The attributes an SDK response type names (what it pops from a message)."""
    return set(vars(cls(**{})))


class Inbox:
    """What an SDK client's `on_message` received, each message read into the SDK's own type."""

    def __init__(self) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        self.seq: list[int] = []

    def next(self, channel: str, timeout: float = 5.0) -> tuple[dict[str, Any], Any]:
        """The next message of `channel` (others skipped, all of them checked for order)."""
        while True:
            raw = self.q.get(timeout=timeout)
            msg = json.loads(raw)
            assert msg.get("type") != "error", msg
            self.seq.append(msg["sequence_num"])
            assert self.seq == list(range(self.seq[0], self.seq[0] + len(self.seq)))  # no gap, no repeat
            typed = WebsocketResponse(json.loads(raw))
            if msg["channel"] == channel:
                return msg, typed


def test_the_sdk_streams_level2_and_heartbeats(sim: SimThread) -> None:
    inbox = Inbox()
    ws = WSClient(
        api_key=DEMO_KEY_NAME,
        api_secret=DEMO_PRIVATE_KEY,
        base_url=f"ws://127.0.0.1:{sim.port}/ws/market",
        on_message=inbox.q.put,
        retry=False,
    )
    ws.open()
    try:
        ws.subscribe([PRODUCT], ["level2", "heartbeats"])  # one message per channel, each with a JWT
        subs, _ = inbox.next("subscriptions")
        assert subs["events"][0]["subscriptions"]["level2"] == [PRODUCT]
        snap, typed = inbox.next("l2_data")
        event = typed.events[0]
        assert (event.type, event.product_id) == ("snapshot", PRODUCT)
        assert {u.side for u in event.updates} == {"bid", "offer"}
        for raw, u in zip(snap["events"][0]["updates"], event.updates, strict=True):
            assert set(raw) == _fields(L2Update)  # every field the SDK names, nothing else
            assert float(u.price_level) > 0
            assert float(u.new_quantity) > 0
        update = inbox.next("l2_data")[1].events[0]
        assert update.type == "update"
        assert update.updates
        beat = inbox.next("heartbeats", timeout=5)[1].events[0]
        assert isinstance(beat.heartbeat_counter, int)
        assert beat.heartbeat_counter >= 1
        assert " +0000 UTC m=+" in beat.current_time  # Go's time format, as Coinbase sends it
        ws.unsubscribe([PRODUCT], ["level2"])
        assert "level2" not in inbox.next("subscriptions")[0]["events"][0]["subscriptions"]
    finally:
        ws.close()


def test_the_sdk_streams_the_user_channel(sim: SimThread) -> None:
    inbox = Inbox()
    ws = WSUserClient(
        api_key=DEMO_KEY_NAME,
        api_secret=DEMO_PRIVATE_KEY,
        base_url=f"ws://127.0.0.1:{sim.port}/ws/user",
        on_message=inbox.q.put,
        retry=False,
    )
    rest = client(sim)
    bid = float(rest.get_product_book(PRODUCT, limit=1)["pricebook"]["bids"][0]["price"])
    resting = [uuid.uuid4().hex for _ in range(51)]  # one more than a snapshot message holds
    for cid in resting:
        assert rest.limit_order_gtc_buy(cid, PRODUCT, "0.0001", f"{bid - 200:.2f}", post_only=True)["success"]
    ws.open()
    try:
        ws.user([PRODUCT])
        ws.heartbeats()
        inbox.next("subscriptions")
        snapshot: list[str] = []
        while len(snapshot) < len(resting):
            event = inbox.next("user")[1].events[0]
            assert event.type == "snapshot"
            assert len(event.orders) <= 50
            assert event.positions.perpetual_futures_positions == []
            snapshot += [o.client_order_id for o in event.orders]
        assert set(resting) <= set(snapshot)
        cid = uuid.uuid4().hex
        rest.limit_order_gtc_buy(cid, PRODUCT, "0.001", f"{bid - 50:.2f}")
        msg, typed = inbox.next("user")
        (raw,) = msg["events"][0]["orders"]
        assert set(raw) == _fields(UserOrders)  # every field of the SDK's type, in its spelling
        order = typed.events[0].orders[0]
        assert (order.client_order_id, order.status, order.order_type) == (cid, "OPEN", "Limit")
        assert order.post_only == "false"
        assert (Decimal(order.leaves_quantity), Decimal(order.cumulative_quantity)) == (
            Decimal("0.001"),
            Decimal(0),
        )
        ids = [order.order_id, *(o["order_id"] for o in _open(rest, resting))]
        assert len(ids) == 1 + len(resting)
        rest.cancel_orders(ids)
        cancelled = {(o.order_id, o.status) for _ in ids for o in inbox.next("user")[1].events[0].orders}
        assert cancelled == {(i, "CANCELLED") for i in ids}  # all read before closing: the SDK's close waits
        # (up to 10 s) on a socket whose unread messages fill its queue
    finally:
        ws.close()


def _open(rest: Any, cids: list[str]) -> list[dict[str, Any]]:
    orders = rest.list_orders(order_status=["OPEN"], product_ids=[PRODUCT])["orders"]
    return [o for o in orders if o["client_order_id"] in cids]
