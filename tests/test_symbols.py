"""Canonical instruments mapped to each venue's symbol (`trader.symbols`), and the rule for a leg."""

from __future__ import annotations

import pytest

from trader.errors import ConfigError
from trader.symbols import SymbolEntry, SymbolMap, parse_symbols, split_canonical

VENUES = ("binance", "binance-futures", "okx", "kraken", "alpaca")
RAW = {
    "BTC-USDT": {"binance": "BTCUSDT", "binance-futures": "BTCUSDT", "okx": "BTC-USDT", "kraken": "XBT/USDT"},
    "BTC-USDT-SWAP": {"okx": "BTC-USDT-SWAP"},
    "XBTEUR": {"asset": "BTC", "quote": "EUR", "kraken": "XBT/EUR"},
}


@pytest.fixture
def symbols() -> SymbolMap:
    return SymbolMap(parse_symbols(RAW, VENUES))


def test_asset_and_quote_default_from_the_canonical_name() -> None:
    assert split_canonical("BTC-USDT") == ("BTC", "USDT")
    assert split_canonical("BTC-USDT-SWAP") == ("BTC", "USDT")
    assert split_canonical("SPY") == ("SPY", "")
    entries = parse_symbols(RAW, VENUES)
    assert entries["BTC-USDT"] == SymbolEntry("BTC-USDT", "BTC", "USDT", RAW["BTC-USDT"])
    assert (entries["BTC-USDT-SWAP"].asset, entries["BTC-USDT-SWAP"].quote) == ("BTC", "USDT")
    assert entries["XBTEUR"] == SymbolEntry(
        "XBTEUR", "BTC", "EUR", {"kraken": "XBT/EUR"}
    )  # given, not derived


def test_a_mapped_canonical_resolves_per_venue(symbols: SymbolMap) -> None:
    assert symbols.resolve("binance", "BTC-USDT") == "BTCUSDT"
    assert symbols.resolve("binance-futures", "BTC-USDT") == "BTCUSDT"
    assert symbols.resolve("okx", "BTC-USDT") == "BTC-USDT"
    assert symbols.resolve("kraken", "BTC-USDT") == "XBT/USDT"
    assert symbols.resolve("okx", "BTC-USDT-SWAP") == "BTC-USDT-SWAP"
    assert "BTC-USDT" in symbols
    assert "ETH-USDT" not in symbols


def test_a_canonical_without_the_venue_is_unmapped(symbols: SymbolMap) -> None:
    with pytest.raises(ConfigError, match=r"unmapped symbol: \[symbols.BTC-USDT\] has no alpaca"):
        symbols.resolve("alpaca", "BTC-USDT")
    with pytest.raises(ConfigError, match=r"has no binance .*\(it maps: okx\)"):
        symbols.resolve("binance", "BTC-USDT-SWAP")


def test_an_unlisted_symbol_is_the_venues_own_unless_a_table_maps_it(symbols: SymbolMap) -> None:
    assert symbols.resolve("alpaca", "SPY") == "SPY"  # no table mentions it: verbatim
    assert symbols.resolve("binance", "ETHUSDT") == "ETHUSDT"
    with pytest.raises(ConfigError, match="use binance:BTC-USDT"):
        symbols.resolve("binance", "BTCUSDT")  # a venue symbol of [symbols.BTC-USDT]: one name per instrument
    with pytest.raises(ConfigError, match="use okx:XBTEUR"):
        symbols.resolve("okx", "XBT/EUR")


def test_venue_symbols_map_back_to_their_canonical_name(symbols: SymbolMap) -> None:
    assert symbols.canonical("binance", "BTCUSDT") == "BTC-USDT"
    assert symbols.canonical("kraken", "XBT/USDT") == "BTC-USDT"
    assert symbols.canonical("kraken", "XBT/EUR") == "XBTEUR"
    assert symbols.canonical("alpaca", "SPY") == "SPY"
    assert symbols.canonical("okx", "BTCUSDT") == "BTCUSDT"  # not okx's symbol of BTC-USDT
    assert symbols.asset_quote("XBTEUR") == ("BTC", "EUR")
    assert symbols.asset_quote("ETH-USDC") == ("ETH", "USDC")
    assert set(symbols.entries()) == set(RAW)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", r"\[symbols\] must be a table"),
        ({"BTC-USDT": "BTCUSDT"}, r"\[symbols.BTC-USDT\] must be a table"),
        ({"BTC-USDT": {"nope": "X"}}, r"\[symbols.BTC-USDT\] nope: unknown venue 'nope'"),
        ({"BTC-USDT": {"binance": 1}}, r"\[symbols.BTC-USDT\] binance must be a symbol"),
        ({"BTC-USDT": {"binance": ""}}, r"\[symbols.BTC-USDT\] binance must be a symbol"),
        ({"BTC-USDT": {"binance": "BTC USDT"}}, "must be a symbol"),
        ({"BTC-USDT": {"binance": "X" * 65}}, "must be a symbol"),
        ({"BTC:USDT": {"binance": "BTCUSDT"}}, r"cannot hold ':'"),
        ({"BTC-USDT": {"asset": 5}}, r"\[symbols.BTC-USDT\] asset must be a symbol"),
        ({"BTC-USDT": {"quote": ""}}, r"\[symbols.BTC-USDT\] quote must be a symbol"),
    ],
)
def test_bad_symbol_tables(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_symbols(raw, VENUES)
