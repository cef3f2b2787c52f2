"""`[venues.bybit]` into a connector: live, paper (testnet), demo or a simulator; secrets by reference;
config mistakes are `ConfigError`s naming the key."""

from __future__ import annotations

import pytest

from trader.clock import LiveClock
from trader.config import SecretRef, VenueConfig
from trader.errors import ConfigError
from trader.venues import bybit, registry

SECRETS = {"api_key": SecretRef("env", "BYBIT_KEY"), "secret": SecretRef("env", "BYBIT_SECRET")}


def test_build_per_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_KEY", "key")
    monkeypatch.setenv("BYBIT_SECRET", "secret")
    clock = LiveClock()
    for env, url in (("live", "https://api.bybit.com"), ("paper", "https://api-testnet.bybit.com"),
                     ("demo", "https://api-demo.bybit.com")):  # fmt: skip
        conn = bybit.build(VenueConfig("bybit", env, secrets=SECRETS), symbol="btcusdt", clock=clock)
        assert (conn.endpoints.rest, conn.symbol, conn.category) == (url, "BTCUSDT", "spot")
    linear = bybit.build(
        VenueConfig(
            "bybit", "sim", secrets=SECRETS, options={"url": "http://127.0.0.1:9", "market": "linear"}
        ),
        symbol="BTCUSDT",
        clock=clock,
    )
    assert (linear.endpoints.public_ws, linear.category) == ("ws://127.0.0.1:9/v5/public", "linear")
    assert linear.capabilities == bybit.PROFILE.capabilities["linear"]
    assert registry.client_id_rule("bybit").field == "orderLinkId"
    assert "bybit" in registry.PACKAGES
    assert "bybit" not in registry.PLANNED


def test_config_mistakes_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_KEY", "key")
    monkeypatch.setenv("BYBIT_SECRET", "secret")
    clock = LiveClock()
    with pytest.raises(ConfigError, match="api_key"):
        bybit.build(VenueConfig("bybit", "live"), symbol="BTCUSDT", clock=clock)
    with pytest.raises(ConfigError, match="url"):
        bybit.build(VenueConfig("bybit", "sim", secrets=SECRETS), symbol="BTCUSDT", clock=clock)
    with pytest.raises(ConfigError, match="category must be spot or linear"):
        bybit.build(
            VenueConfig("bybit", "live", secrets=SECRETS, options={"category": "option"}),
            symbol="X",
            clock=clock,
        )


def test_order_entry_private_stream_and_dcp_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYBIT_KEY", "key")
    monkeypatch.setenv("BYBIT_SECRET", "secret")
    clock = LiveClock()

    def build(env: str, **options: str | int | bool) -> bybit.BybitConnector:
        return bybit.build(
            VenueConfig("bybit", env, secrets=SECRETS, options=options), symbol="X", clock=clock
        )

    default = build("live")
    assert (default.order_entry, default._private_stream, default._dcp, default.dcp_window_s) == (
        "rest",
        True,
        True,
        None,
    )
    ws = build("paper", order_entry="ws", dcp_window_s=20)
    assert (ws.order_entry, ws.endpoints.trade_ws, ws.dcp_window_s) == (
        "ws",
        "wss://stream-testnet.bybit.com/v5/trade",
        20,
    )
    polled = build("live", private_stream=False)
    assert (polled._private_stream, polled._dcp) == (False, False)
    for env, options, key in (
        ("demo", {"order_entry": "ws"}, "trade WebSocket"),  # demo trading has none
        ("live", {"order_entry": "fix"}, "order_entry"),
        ("live", {"dcp_window_s": 1}, "dcp_window_s"),
        ("live", {"dcp": False, "dcp_window_s": 10}, "dcp_window_s"),
    ):
        with pytest.raises(ConfigError, match=key):
            build(env, **options)
