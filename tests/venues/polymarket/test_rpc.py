"""The Polygon RPC: a default that is public today (the official SDK's), the operator's `rpc_url`, and
`trader testnet`'s check that says clearly when the RPC does not answer."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack

import pytest

from tests.venues.polymarket.helpers import CLOCK, coin, connected, key, run
from trader.config import parse_config
from trader.errors import ConfigError
from trader.sim.polymarket import PolymarketSimServer
from trader.venues.polymarket import ENDPOINTS, Endpoints, build
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


def test_rpc_url_may_be_read_from_the_environment_and_its_key_never_shows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PM_KEY", key("rpc-env"))

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        monkeypatch.setenv("PM_RPC", f"{server.url}/rpc?apikey=KEY123")
        text = f"""
[venues.polymarket]
private_key = "env:PM_KEY"
environment = "sim"
url = "{server.url}"
condition_id = "{coin(server).condition_id}"
rpc_url = "env:PM_RPC"
"""
        cfg = parse_config(text).venues["polymarket"]
        assert "rpc_url" not in cfg.options
        assert "KEY123" not in repr(cfg)
        conn = build(cfg, symbol="", clock=CLOCK)
        stack.push_async_callback(conn.close)
        assert conn.endpoints.rpc == f"{server.url}/rpc?apikey=KEY123"
        await conn.connect()
        [(name, passed, detail)] = await conn.extra_checks()
        assert (name, passed) == ("polygon rpc", True), detail
        assert "KEY123" not in detail
        monkeypatch.delenv("PM_RPC")
        with pytest.raises(ConfigError, match="PM_RPC is not set"):
            build(cfg, symbol="", clock=CLOCK)

    run(t)
    assert "KEY123" not in capsys.readouterr().out


def test_rpc_url_is_a_plain_url_or_an_env_reference_never_a_keystore() -> None:
    with pytest.raises(ConfigError, match="a URL is read from env:NAME, not from a keystore"):
        parse_config('[venues.polymarket]\nenvironment = "live"\nrpc_url = "keystore:~/rpc.json"\n')
    plain = parse_config('[venues.polymarket]\nenvironment = "live"\nrpc_url = "https://node.example"\n')
    assert plain.venues["polymarket"].url("rpc_url") == "https://node.example"
    assert plain.venues["polymarket"].url("url") is None
