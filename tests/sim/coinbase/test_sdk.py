"""The Coinbase simulator against the official SDK (coinbase-advanced-py): its RESTClient places, gets, lists
and cancels orders, reads accounts and fills; its JWTs (`jwt_generator.build_ws_jwt`) subscribe a plain
WebSocket to level2 and user. The SDK builds `https://` URLs; a requests transport adapter sends them over
plain HTTP to the loopback simulator (the request, its path and its JWT unchanged)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from coinbase import jwt_generator
from coinbase.rest import RESTClient
from requests.adapters import HTTPAdapter
from websockets.sync.client import connect

from trader.sim.coinbase import DEMO_KEY_NAME, DEMO_PRIVATE_KEY, CoinbaseSimServer
from trader.sim.server import SimThread


class _PlainHttp(HTTPAdapter):
    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        request.url = "http://" + str(request.url).removeprefix("https://")
        return super().send(request, *args, **kwargs)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    thread = SimThread(CoinbaseSimServer(seed=3, step_ms=20))
    try:
        yield thread
    finally:
        thread.close()


def client(sim: SimThread, key: str = DEMO_PRIVATE_KEY) -> RESTClient:
    c = RESTClient(api_key=DEMO_KEY_NAME, api_secret=key, base_url=f"127.0.0.1:{sim.port}")
    c.session.mount("https://", _PlainHttp())
    return c


def test_the_sdk_places_gets_lists_and_cancels_an_order(sim: SimThread) -> None:
    c = client(sim)
    product = c.get_product("BTC-USD")
    assert (product["base_increment"], product["quote_increment"]) == ("0.00000001", "0.01")
    bid = float(c.get_product_book("BTC-USD", limit=5)["pricebook"]["bids"][0]["price"])
    cid = uuid.uuid4().hex
    placed = c.limit_order_gtc_buy(cid, "BTC-USD", "0.001", f"{bid - 100:.2f}", post_only=True)
    assert placed["success"] is True
    oid = placed["success_response"]["order_id"]
    order = c.get_order(oid)["order"]
    assert (order["client_order_id"], order["status"], order["time_in_force"]) == (
        cid,
        "OPEN",
        "GOOD_UNTIL_CANCELLED",
    )
    assert oid in [o["order_id"] for o in c.list_orders(order_status=["OPEN"])["orders"]]
    again = c.limit_order_gtc_buy(cid, "BTC-USD", "0.001", f"{bid - 100:.2f}")  # the same client id
    assert again["success_response"]["order_id"] == oid
    assert c.cancel_orders([oid])["results"][0]["success"] is True
    assert c.get_order(oid)["order"]["status"] == "CANCELLED"
    assert c.cancel_orders([oid])["results"][0]["success"] is False


def test_the_sdk_takes_liquidity_and_sees_fills_and_balances(sim: SimThread) -> None:
    c = client(sim)
    usd_before = _balance(c, "USD")
    placed = c.market_order_buy(uuid.uuid4().hex, "BTC-USD", base_size="0.002")
    assert placed["success"] is True
    oid = placed["success_response"]["order_id"]
    fills = c.get_fills(order_ids=[oid])["fills"]
    assert fills
    assert all(f["liquidity_indicator"] == "TAKER" for f in fills)
    assert sum(float(f["size"]) for f in fills) == pytest.approx(0.002)
    assert c.get_order(oid)["order"]["status"] == "FILLED"
    assert _balance(c, "USD") < usd_before


def test_the_sdk_buys_by_quote_size(sim: SimThread) -> None:
    """`market_order_buy(quote_size=...)`: spends at most that, the fee included (size_inclusive_of_fees)."""
    c = client(sim)
    placed = c.market_order_buy(uuid.uuid4().hex, "BTC-USD", quote_size="25.00")
    assert placed["success"] is True
    order = c.get_order(placed["success_response"]["order_id"])["order"]
    assert order["status"] == "FILLED"
    assert (order["size_in_quote"], order["size_inclusive_of_fees"]) == (True, True)
    spent = Decimal(order["filled_value"]) + Decimal(order["total_fees"])
    assert Decimal("24.5") < spent <= Decimal(25)
    assert Decimal(order["filled_size"]) > 0
    refused = c.market_order_buy(uuid.uuid4().hex, "BTC-USD", quote_size="25.001")
    assert refused["success"] is False
    assert refused["error_response"]["error"] == "INVALID_SIZE_PRECISION"


def _balance(c: RESTClient, currency: str) -> float:
    accounts = c.get_accounts()["accounts"]
    return next(float(a["available_balance"]["value"]) for a in accounts if a["currency"] == currency)


def test_refusals_come_as_the_venue_sends_them(sim: SimThread) -> None:
    c = client(sim)
    broke = c.limit_order_gtc_buy(uuid.uuid4().hex, "BTC-USD", "1000", "50000.00")
    assert broke["success"] is False
    assert broke["error_response"]["error"] == "INSUFFICIENT_FUND"
    with pytest.raises(requests.HTTPError, match="404"):
        c.get_order("no-such-order")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with pytest.raises(requests.HTTPError, match="401"):
        client(sim, other.decode()).get_accounts()


def _messages(ws: Any, channel: str, n: int = 50) -> Iterator[dict[str, Any]]:
    for _ in range(n):
        msg = json.loads(ws.recv(timeout=5))
        if msg.get("channel") == channel:
            yield msg


def test_level2_and_user_with_the_sdks_jwt(sim: SimThread) -> None:
    url = f"ws://127.0.0.1:{sim.port}/ws/market"
    with connect(url) as ws:
        for channel in ("level2", "heartbeats"):
            token = jwt_generator.build_ws_jwt(DEMO_KEY_NAME, DEMO_PRIVATE_KEY)
            ws.send(
                json.dumps(
                    {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": channel, "jwt": token}
                )
            )
        msgs = _messages(ws, "l2_data")
        first = next(msgs)
        assert first["events"][0]["type"] == "snapshot"
        update = next(msgs)
        assert update["events"][0]["type"] == "update"
        assert update["sequence_num"] > first["sequence_num"]
    with connect(f"ws://127.0.0.1:{sim.port}/ws/user") as ws:
        ws.send(json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "user"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "error"  # user needs a JWT
        token = jwt_generator.build_ws_jwt(DEMO_KEY_NAME, DEMO_PRIVATE_KEY)
        ws.send(
            json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "user", "jwt": token})
        )
        snap = next(_messages(ws, "user"))
        assert snap["events"][0]["type"] == "snapshot"
        c = client(sim)
        bid = float(c.get_product_book("BTC-USD", limit=1)["pricebook"]["bids"][0]["price"])
        cid = uuid.uuid4().hex
        c.limit_order_gtc_buy(cid, "BTC-USD", "0.001", f"{bid - 50:.2f}")
        update = next(_messages(ws, "user"))
        order = update["events"][0]["orders"][0]
        assert (order["client_order_id"], order["status"]) == (cid, "OPEN")
        c.cancel_orders([order["order_id"]])
        assert next(_messages(ws, "user"))["events"][0]["orders"][0]["status"] == "CANCELLED"
