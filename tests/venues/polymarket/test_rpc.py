"""The Polygon RPC: a default that is public today (the official SDK's), the operator's `rpc_url`, and
`trader testnet`'s check that says clearly when the RPC does not answer."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack

from tests.venues.polymarket.helpers import connected, run
from trader.sim.polymarket import PolymarketSimServer
from trader.venues.polymarket import ENDPOINTS, Endpoints
from trader.venues.polymarket.chain import rpc_host
from trader.venues.polymarket.endpoints import POLYGON_RPC


def test_the_default_rpc_is_the_sdks_public_one_not_polygon_rpc_com() -> None:
    assert ENDPOINTS["live"].rpc == POLYGON_RPC == "https://polygon.drpc.org"
    assert "polygon-rpc.com" not in str(ENDPOINTS)
    assert (
        rpc_host("https://polygon-mainnet.example.io/v2/SECRETKEY?x=1")
        == "https://polygon-mainnet.example.io"
    )


def test_testnet_check_passes_on_a_live_rpc_and_says_when_it_does_not_answer() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        ok = await connected(server, stack, "rpc-ok")
        assert await ok.extra_checks() == [
            ("polygon rpc", True, f"{rpc_host(server.url)} answers (chain 137)")
        ]
        dead = dataclasses.replace(Endpoints.loopback(server.url), rpc="http://127.0.0.1:9/KEY123")
        bad = await connected(server, stack, "rpc-dead", endpoints=dead, timeout_s=2.0)
        [(name, passed, detail)] = await bad.extra_checks()
        assert (name, passed) == ("polygon rpc", False)
        assert "the Polygon RPC http://127.0.0.1 does not answer" in detail
        assert "set rpc_url in [venues.polymarket]" in detail
        assert "KEY123" not in detail
        none = dataclasses.replace(Endpoints.loopback(server.url), rpc=None)
        off = await connected(server, stack, "rpc-none", endpoints=none)
        assert (await off.extra_checks())[0][1] is None

    run(t)
