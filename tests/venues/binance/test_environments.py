"""Binance's environments by name: live, the testnets (`testnet`, older name `paper`), demo trading, the
simulator; margin, which has no test environment, refused in one line."""

from __future__ import annotations

import pytest

from trader.clock import LiveClock
from trader.config import VenueConfig, parse_config
from trader.errors import ConfigError
from trader.venues import binance, registry
from trader.venues.binance import ENDPOINTS, PROFILE, Market
from trader.venues.binance.endpoints import MARGIN_TEST_ENVIRONMENT, endpoints_of

CLOCK = LiveClock()
KEYS = '\napi_key = "env:BK"\nsecret = "env:BS"\n'


def _cfg(venue: str, body: str) -> VenueConfig:
    return parse_config(f"[venues.{venue}]{KEYS}{body}").venues[venue]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BK", "k")
    monkeypatch.setenv("BS", "s")


def test_each_environment_has_its_hosts() -> None:
    assert PROFILE.environments == ("live", "paper", "testnet", "demo", "sim")
    demo, testnet = ENDPOINTS["demo"], ENDPOINTS["testnet"]
    assert (demo.rest, demo.futures_rest) == ("https://demo-api.binance.com", "https://demo-fapi.binance.com")
    assert demo.stream == "wss://demo-stream.binance.com:9443"
    assert demo.ws_api == "wss://demo-ws-api.binance.com/ws-api/v3"
    assert (testnet.rest, testnet.futures_rest) == (
        "https://testnet.binance.vision",
        "https://testnet.binancefuture.com",
    )
    assert endpoints_of("paper") == testnet  # the older name
    assert ENDPOINTS["live"].rest == "https://api.binance.com"


@pytest.mark.parametrize(
    ("environment", "market", "rest", "futures_rest"),
    [
        ("demo", "spot", "https://demo-api.binance.com", "https://demo-fapi.binance.com"),
        ("demo", "futures", "https://demo-api.binance.com", "https://demo-fapi.binance.com"),
        ("testnet", "futures", "https://testnet.binance.vision", "https://testnet.binancefuture.com"),
        ("paper", "spot", "https://testnet.binance.vision", "https://testnet.binancefuture.com"),
        ("live", "margin", "https://api.binance.com", "https://fapi.binance.com"),
    ],
)
def test_the_config_names_the_environment(
    environment: str, market: str, rest: str, futures_rest: str
) -> None:
    cfg = _cfg("binance", f'environment = "{environment}"\nmarket = "{market}"\n')
    conn = registry.build_connector(cfg, symbol="BTCUSDT", clock=CLOCK)
    assert isinstance(conn, binance.BinanceConnector)
    assert (conn.endpoints.rest, conn.endpoints.futures_rest) == (rest, futures_rest)
    assert conn.market is Market(market)


@pytest.mark.parametrize("environment", ["testnet", "paper", "demo"])
@pytest.mark.parametrize(("venue", "market"), [("binance", 'market = "margin"\n'), ("binance-margin", "")])
def test_margin_on_a_test_environment_is_refused_in_one_line(
    environment: str, venue: str, market: str
) -> None:
    with pytest.raises(ConfigError) as err:  # by the config itself: `trader config check` says so
        _cfg(venue, f'environment = "{environment}"\n{market}')
    name = "binance margin" if market else venue
    text = str(err.value)
    assert text == (
        f"[venues.{venue}] environment = {environment!r}: {name} has no test environment (live, sim only): "
        "rehearse it with --sim"
    )
    # and by the connector, for a VenueConfig built in code rather than parsed
    cfg = VenueConfig(venue, environment, _cfg(venue, 'environment = "live"\n').secrets, {"market": "margin"})
    with pytest.raises(ConfigError) as err:
        binance.build(cfg, symbol="BTCUSDT", clock=CLOCK)
    assert str(err.value) == f"[venues.{venue}] environment = {environment!r}: {MARGIN_TEST_ENVIRONMENT}"


def test_margin_defaults_to_the_testnet_and_is_refused() -> None:
    with pytest.raises(ConfigError, match="rehearse it with --sim"):
        _cfg("binance-margin", "")  # no environment: the config's default, "testnet"


def test_margin_on_the_simulator_is_built() -> None:
    cfg = _cfg("binance-margin", 'environment = "sim"\nurl = "http://127.0.0.1:9"\n')
    conn = binance.build(cfg, symbol="BTCUSDT", clock=CLOCK)
    assert (conn.market, conn.endpoints.rest) == (Market.MARGIN, "http://127.0.0.1:9")
