"""The Kraken simulator against the official SDK as the oracle: krakenex (`API.uri` pointed at it) signs
and places, queries and cancels orders; a stale nonce, a bad signature and an unknown key are refused with
Kraken's error strings; the public endpoints answer in Kraken's shapes; WebSocket v2 order entry trades."""

from __future__ import annotations

import asyncio
import base64
import itertools
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import krakenex
import orjson
import pytest

from trader.clock import LiveClock
from trader.sim.kraken import DEMO_KEY, DEMO_SECRET, KrakenSimServer, checksum
from trader.sim.server import SimThread


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    thread = SimThread(KrakenSimServer(seed=21, step_ms=20))
    yield thread
    thread.close()


# krakenex's own nonce is the time in ms: two calls in one ms reuse it (Kraken refuses the second), so the
# SDK gets a strictly growing one here (microseconds, counted on)
_NONCES = itertools.count(LiveClock().now_ns() // 1000)


def sdk(sim: SimThread, key: str = DEMO_KEY, secret: str = DEMO_SECRET) -> krakenex.API:
    api = krakenex.API(key, secret)
    api.uri = f"http://127.0.0.1:{sim.port}"
    api._nonce = lambda: next(_NONCES)
    return api


def test_public_endpoints_in_krakens_shapes(sim: SimThread) -> None:
    api = sdk(sim)
    assert api.query_public("Time")["result"]["unixtime"] > 1_600_000_000
    pairs = api.query_public("AssetPairs", {"pair": "XBTUSD"})
    p = pairs["result"]["XXBTZUSD"]
    assert (p["altname"], p["wsname"], p["base"], p["quote"]) == ("XBTUSD", "XBT/USD", "XXBT", "ZUSD")
    assert (p["tick_size"], p["pair_decimals"], p["lot_decimals"], p["ordermin"], p["costmin"]) == (
        "0.1",
        1,
        8,
        "0.0001",
        "0.5",
    )
    assert p["fees_maker"][0][1] == 0.25  # the default tier
    assert p["fees"][0][1] == 0.4
    depth = api.query_public("Depth", {"pair": "XBTUSD", "count": 3})["result"]["XXBTZUSD"]
    assert len(depth["bids"]) == 3
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    assert api.query_public("Depth", {"pair": "NOPE"}) == {"error": ["EQuery:Unknown asset pair"]}


def test_the_sdk_places_queries_and_cancels(sim: SimThread) -> None:
    api = sdk(sim)
    bid = Decimal(api.query_public("Ticker", {"pair": "XBTUSD"})["result"]["XXBTZUSD"]["b"][0])
    price = str(bid - 100)
    placed = api.query_private(
        "AddOrder",
        {
            "pair": "XBTUSD",
            "type": "buy",
            "ordertype": "limit",
            "price": price,
            "volume": "0.01",
            "cl_ord_id": "sdk-1",
        },
    )
    assert placed["error"] == []
    (txid,) = placed["result"]["txid"]
    assert placed["result"]["descr"]["order"] == f"buy 0.01000000 XBTUSD @ limit {price}"
    o = api.query_private("QueryOrders", {"txid": txid})["result"][txid]
    assert (o["status"], o["cl_ord_id"], o["vol"], o["descr"]["price"]) == (
        "open",
        "sdk-1",
        "0.01000000",
        price,
    )
    assert txid in api.query_private("OpenOrders", {"cl_ord_id": "sdk-1"})["result"]["open"]
    assert api.query_private("CancelOrder", {"cl_ord_id": "sdk-1"})["result"]["count"] == 1
    assert api.query_private("QueryOrders", {"txid": txid})["result"][txid]["status"] == "canceled"
    assert api.query_private("CancelOrder", {"txid": txid}) == {"error": ["EOrder:Unknown order"]}
    balance = api.query_private("Balance")["result"]
    assert {"XXBT", "ZUSD"} <= set(balance)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"price": "50000.05"}, "EOrder:Tick size check failed"),
        ({"volume": "0.00001"}, "EOrder:Order minimum not met"),
        ({"volume": "100000"}, "EOrder:Insufficient funds"),
        ({"pair": "NOPEUSD"}, "EQuery:Unknown asset pair"),
        ({"ordertype": "stop-loss"}, "EGeneral:Invalid arguments"),
    ],
)
def test_refusals_are_krakens_error_strings(sim: SimThread, fields: dict[str, str], error: str) -> None:
    order = {
        "pair": "XBTUSD",
        "type": "buy",
        "ordertype": "limit",
        "price": "50000.0",
        "volume": "0.01",
        **fields,
    }
    assert sdk(sim).query_private("AddOrder", order) == {"error": [error]}


def test_a_stale_nonce_a_bad_signature_and_an_unknown_key_are_refused(sim: SimThread) -> None:
    api = sdk(sim)
    assert api.query_private("Balance")["error"] == []
    api._nonce = lambda: 1  # older than the last one
    assert api.query_private("Balance") == {"error": ["EAPI:Invalid nonce"]}
    wrong = base64.b64encode(b"x" * 64).decode()
    assert sdk(sim, secret=wrong).query_private("Balance") == {"error": ["EAPI:Invalid signature"]}
    assert sdk(sim, key="nobody").query_private("Balance") == {"error": ["EAPI:Invalid key"]}


def test_the_sims_checksum_is_krakens() -> None:
    from trader.sim.kraken import PAIRS

    p = PAIRS[0]
    asks = [(452852, 100000), (452864, 154571953)]
    bids = [(452835, 10000000)]
    expected = zlib.crc32(b"452852100000" + b"452864154571953" + b"45283510000000") & 0xFFFFFFFF
    assert checksum(p, bids, asks) == expected


def test_websocket_v2_order_entry_and_executions(sim: SimThread) -> None:
    token = sdk(sim).query_private("GetWebSocketsToken")["result"]["token"]

    async def body() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as s, s.ws_connect(f"ws://127.0.0.1:{sim.port}/ws-auth/v2") as ws:
            await ws.send_str(
                orjson.dumps(
                    {"method": "subscribe", "params": {"channel": "executions", "token": token}}
                ).decode()
            )
            add = {
                "order_type": "limit",
                "side": "buy",
                "order_qty": 0.01,
                "symbol": "BTC/USD",
                "limit_price": 40000.0,
                "cl_ord_id": "ws-1",
                "token": token,
            }
            await ws.send_str(orjson.dumps({"method": "add_order", "params": add, "req_id": 7}).decode())
            await ws.send_str(
                orjson.dumps(
                    {"method": "cancel_order", "params": {"cl_ord_id": ["ws-1"], "token": token}, "req_id": 8}
                ).decode()
            )
            got: list[dict[str, Any]] = []
            while not any(m.get("req_id") == 8 for m in got) or b'"canceled"' not in orjson.dumps(got):
                got.append(orjson.loads((await ws.receive(timeout=5)).data))
            return got

    got = asyncio.run(body())
    acks = {m["req_id"]: m for m in got if "req_id" in m}
    assert acks[7]["success"] is True
    assert acks[8]["success"] is True
    statuses = [
        d["exec_type"]
        for m in got
        if m.get("channel") == "executions" and m.get("type") == "update"
        for d in m["data"]
    ]
    assert statuses == ["pending_new", "new", "canceled"]
