"""The Kraken simulator's AmendOrder, AddOrderBatch and rate counters against independent clients: krakenex
(AmendOrder is a form call), and AddOrderBatch signed here with the standard library the way
python-kraken-sdk sends it (a JSON body with the nonce, API-Sign over path + SHA256(nonce + JSON))."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import krakenex
import pytest

from trader.clock import LiveClock
from trader.sim.kraken import DEMO_KEY, DEMO_SECRET, KrakenSimServer
from trader.sim.server import SimThread

_NONCES = itertools.count(LiveClock().now_ns() // 1000)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    thread = SimThread(KrakenSimServer(seed=22, step_ms=20))
    yield thread
    thread.close()


def sdk(sim: SimThread) -> krakenex.API:
    api = krakenex.API(DEMO_KEY, DEMO_SECRET)
    api.uri = f"http://127.0.0.1:{sim.port}"
    api._nonce = lambda: next(_NONCES)
    return api


def post_json(sim: SimThread, method: str, doc: dict[str, Any]) -> Any:
    """A private call with a JSON body, as python-kraken-sdk's `do_json` sends AddOrderBatch."""
    path = f"/0/private/{method}"
    nonce = next(_NONCES)
    body = json.dumps({**doc, "nonce": nonce}).encode()
    digest = hashlib.sha256(str(nonce).encode() + body).digest()
    sign = hmac.new(base64.b64decode(DEMO_SECRET), path.encode() + digest, hashlib.sha512).digest()
    headers = {
        "API-Key": DEMO_KEY,
        "API-Sign": base64.b64encode(sign).decode(),
        "Content-Type": "application/json",
    }
    req = urllib.request.Request(f"http://127.0.0.1:{sim.port}{path}", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def bid(api: krakenex.API) -> Decimal:
    return Decimal(api.query_public("Ticker", {"pair": "XBTUSD"})["result"]["XXBTZUSD"]["b"][0])


def test_amend_order_keeps_the_txid(sim: SimThread) -> None:
    api = sdk(sim)
    price = bid(api) - 100
    (txid,) = api.query_private(
        "AddOrder",
        {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": str(price), "volume": "0.01"},
    )["result"]["txid"]
    amended = api.query_private(
        "AmendOrder", {"txid": txid, "order_qty": "0.02", "limit_price": str(price - 1)}
    )
    assert amended["error"] == []
    assert amended["result"]["amend_id"].startswith("T")
    o = api.query_private("QueryOrders", {"txid": txid})["result"][txid]
    assert (o["status"], o["vol"], o["descr"]["price"]) == ("open", "0.02000000", str(price - 1))
    assert api.query_private("AmendOrder", {"txid": txid}) == {"error": ["EGeneral:Invalid arguments"]}
    assert api.query_private("AmendOrder", {"txid": txid, "limit_price": "1.05"}) == {
        "error": ["EOrder:Tick size check failed"]
    }
    api.query_private("CancelOrder", {"txid": txid})
    assert api.query_private("AmendOrder", {"txid": txid, "order_qty": "0.03"}) == {
        "error": ["EOrder:Unknown order"]
    }


def test_add_order_batch_with_a_json_body(sim: SimThread) -> None:
    price = bid(sdk(sim)) - 200
    orders = [
        {
            "ordertype": "limit",
            "type": "buy",
            "volume": "0.01",
            "price": str(price - i),
            "cl_ord_id": f"b-{i}",
        }
        for i in range(3)
    ]
    answer = post_json(sim, "AddOrderBatch", {"orders": orders, "pair": "XBTUSD"})
    assert answer["error"] == []
    placed = answer["result"]["orders"]
    assert [o["descr"]["order"] for o in placed] == [
        f"buy 0.01000000 XBTUSD @ limit {price - i}" for i in range(3)
    ]
    assert len({o["txid"] for o in placed}) == 3
    # one invalid order: the whole batch refused, nothing placed
    bad = [*orders[:1], {**orders[1], "price": "1.05", "cl_ord_id": "b-x"}]
    bad[0] = {**bad[0], "cl_ord_id": "b-y"}
    assert post_json(sim, "AddOrderBatch", {"orders": bad, "pair": "XBTUSD"}) == {
        "error": ["EOrder:Tick size check failed"]
    }
    assert post_json(sim, "AddOrderBatch", {"orders": orders[:1], "pair": "XBTUSD"}) == {
        "error": ["EGeneral:Invalid arguments"]  # 2 to 15 orders
    }


def test_the_rest_counter_refuses_a_client_that_does_not_count() -> None:
    thread = SimThread(KrakenSimServer(seed=23, step_ms=20, rate_tier="starter"))
    try:
        api = sdk(thread)
        answers = [api.query_private("Balance")["error"] for _ in range(16)]
        assert answers[:15] == [[]] * 15
        assert answers[15] == ["EAPI:Rate limit exceeded"]
        assert api.query_public("Time")["error"] == []  # public calls are not the key's counter
    finally:
        thread.close()
