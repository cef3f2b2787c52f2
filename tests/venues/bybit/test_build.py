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
