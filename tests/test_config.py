from decimal import Decimal
from pathlib import Path

import pytest

from trader.config import SecretRef, load_config, parse_config
from trader.core import BinanceSigner
from trader.errors import ConfigError

GOOD = """
[risk]
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 50
max_orders_per_sec = 20
daily_loss_limit = "500"

[venues.binance]
api_key = "env:TEST_BINANCE_KEY"
secret = "env:TEST_BINANCE_SECRET"
environment = "testnet"
"""


def test_good_config_and_secret_references(monkeypatch: pytest.MonkeyPatch) -> None:
    c = parse_config(GOOD)
    assert c.risk is not None
    assert str(c.risk.daily_loss_halt) == "500"
    v = c.venues["binance"]
    assert v.environment == "testnet"
    assert repr(v.secrets["secret"]) == "SecretRef(env:TEST_BINANCE_SECRET)"
    monkeypatch.setenv("TEST_BINANCE_KEY", "k")
    monkeypatch.setenv("TEST_BINANCE_SECRET", "CANARYsecret")
    key, secret = v.secrets["api_key"].resolve(), v.secrets["secret"].resolve()
    assert isinstance(key, str)
    signer = BinanceSigner(key, secret)
    assert "CANARY" not in repr(signer) + repr(c)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[risk\n", "not valid TOML"),
        ('[risk]\nmax_gross_notional = "1"', "missing"),
        (GOOD.replace('"100000"', '"0"'), "> 0"),
        (GOOD.replace('"100000"', '"inf"'), "finite"),
        (GOOD.replace('"100000"', '"-5"'), "> 0"),
        (GOOD.replace('"100000"', "1.5"), "decimal string"),
        (GOOD.replace("max_open_orders = 50", "max_open_orders = 0"), "integer > 0"),
        (GOOD.replace('daily_loss_limit = "500"', 'daily_loss_limit = "500"\nbogus = "1"'), "unknown keys"),
        (
            GOOD.replace('daily_loss_limit = "500"', 'daily_loss_limit = "500"\ndaily_loss_halt = "1"'),
            "below",
        ),
        (GOOD.replace('"env:TEST_BINANCE_SECRET"', '"plaintext-secret"'), "reference"),
        (GOOD.replace('"env:TEST_BINANCE_SECRET"', '"vault:x"'), "unknown secret reference"),
        (GOOD.replace('"testnet"', '"prod"'), "environment must be"),
    ],
)
def test_bad_configs_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_unresolvable_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(ConfigError, match="NOPE is not set"):
        SecretRef("env", "NOPE").resolve()
    monkeypatch.delenv("TRADER_KEYSTORE_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="TRADER_KEYSTORE_PASSWORD"):
        SecretRef("keystore", str(tmp_path / "k.json")).resolve()
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")


# ---- the multi-exchange config: [risk] aggregates, per-venue risk and kill, symbols, strategies ----

FULL = """
[risk]
reporting_currency = "USD"
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 50
orders_per_second = 20
daily_loss_limit = "500"
daily_loss_halt = "1000"

[risk.assets.BTC]
max_net_notional = "20000"
max_gross_notional = "40000"

[risk.currencies.USDT]
rate = "1"
max_depeg_bps = 100

[venues.binance]
api_key = "env:TEST_BINANCE_KEY"
secret = "env:TEST_BINANCE_SECRET"
environment = "testnet"
orders_per_second = 10

[venues.binance.risk]
max_gross_notional = "50000"
max_open_orders = 20
daily_loss_limit = "200"
max_position = "0.5"
max_order_qty = "0.1"
max_order_notional = "5000"
collar_bps = 50

[venues.binance.kill]
max_loss = "300"
max_reject_rate = 0.5
max_unknown = 5
max_disconnected_s = 30
watchdog_s = 2.5

[venues.binance-futures]
api_key = "env:TEST_BINANCE_KEY"
secret = "env:TEST_BINANCE_SECRET"

[symbols.BTC-USDT]
binance = "BTCUSDT"
binance-futures = "BTCUSDT"
kraken = "XBT/USDT"

[strategies.mm-btc]
kind = "mm"
legs = ["binance:BTC-USDT"]
orders_per_second = 10

[strategies.mm-btc.params]
min_spread_bps = 30
quote_size = 0.001
name = "a"
post_only = true

[strategies.basis]
kind = "basis"
legs = ["binance:BTC-USDT", "binance-futures:BTC-USDT"]
"""


def test_the_full_schema_parses_into_typed_values() -> None:
    from trader.config import AssetLimit, CurrencyRate, KillThresholds, StrategyConfig, SymbolEntry, VenueRisk

    c = parse_config(FULL)
    assert c.risk is not None
    assert c.risk.max_orders_per_sec == c.risk.orders_per_second == 20
    assert c.risk.reporting_currency == "USD"
    assert c.risk.assets == {"BTC": AssetLimit("BTC", Decimal("20000"), Decimal("40000"))}
    assert c.risk.currencies == {"USDT": CurrencyRate("USDT", Decimal("1"), 100)}
    b = c.venues["binance"]
    assert b.orders_per_second == 10
    assert b.risk == VenueRisk(
        max_gross_notional=Decimal("50000"),
        max_open_orders=20,
        daily_loss_limit=Decimal("200"),
        daily_loss_halt=Decimal("200"),  # defaults to the limit
        max_position=Decimal("0.5"),
        max_order_qty=Decimal("0.1"),
        max_order_notional=Decimal("5000"),
        collar_bps=50,
    )
    assert b.kill == KillThresholds(
        max_loss=Decimal("300"),
        max_reject_rate=Decimal("0.5"),
        reject_window=20,
        max_unknown=5,
        max_disconnected_s=30.0,
        watchdog_s=2.5,
    )
    assert isinstance(b.kill.max_disconnected_s, float)
    f = c.venues["binance-futures"]
    assert (f.risk, f.orders_per_second, f.kill) == (None, None, KillThresholds())
    assert f.options == {"market": "futures"}  # the alias's market
    assert set(b.secrets) == {"api_key", "secret"}  # risk, kill, orders_per_second are no secrets
    assert c.symbols["BTC-USDT"] == SymbolEntry(
        "BTC-USDT", "BTC", "USDT", {"binance": "BTCUSDT", "binance-futures": "BTCUSDT", "kraken": "XBT/USDT"}
    )
    assert c.strategies["mm-btc"] == StrategyConfig(
        "mm-btc",
        "mm",
        (("binance", "BTC-USDT"),),
        10,
        {"min_spread_bps": 30, "quote_size": Decimal("0.001"), "name": "a", "post_only": True},
    )
    assert c.strategies["basis"].legs == (("binance", "BTC-USDT"), ("binance-futures", "BTC-USDT"))
    assert c.strategies["basis"].orders_per_second is None
    assert c.venue_symbol("binance", "BTC-USDT") == "BTCUSDT"
    assert c.venue_symbol("kraken", "BTC-USDT") == "XBT/USDT"


def test_defaults_and_old_names_keep_existing_configs_valid() -> None:
    from trader.config import KillThresholds, RiskLimits

    c = parse_config(GOOD)  # max_orders_per_sec, no assets, no venue risk
    assert c.risk is not None
    assert c.risk.max_orders_per_sec == 20
    assert (c.risk.reporting_currency, c.risk.assets, c.risk.currencies) == ("USD", {}, {})
    assert (c.symbols, c.strategies) == ({}, {})
    v = c.venues["binance"]
    assert (v.orders_per_second, v.risk, v.kill) == (None, None, KillThresholds())
    k = KillThresholds()
    assert k.reject_window == 20
    assert [k.max_loss, k.max_reject_rate, k.max_unknown, k.max_disconnected_s, k.watchdog_s] == [None] * 5
    r = RiskLimits(  # the engine's constructors name only the six limits
        max_gross_notional=Decimal(1),
        max_net_notional=Decimal(1),
        max_open_orders=1,
        max_orders_per_sec=1,
        daily_loss_limit=Decimal(1),
        daily_loss_halt=Decimal(1),
    )
    assert (r.reporting_currency, r.assets, r.currencies) == ("USD", {}, {})
    assert parse_config(GOOD.replace("max_orders_per_sec", "orders_per_second")).risk == c.risk


def test_limits_equal_to_the_aggregate_are_allowed() -> None:
    text = (
        FULL.replace('max_gross_notional = "50000"', 'max_gross_notional = "100000"')
        .replace("max_open_orders = 20", "max_open_orders = 50")
        .replace('daily_loss_limit = "200"', 'daily_loss_limit = "1000"')
        .replace('max_loss = "300"', 'max_loss = "1000"')
        .replace("orders_per_second = 10", "orders_per_second = 20")
        .replace('max_net_notional = "20000"', 'max_net_notional = "50000"')
    )
    c = parse_config(text)
    assert c.venues["binance"].risk is not None
    assert c.venues["binance"].risk.max_gross_notional == Decimal("100000")


def test_without_risk_venue_limits_are_parsed_but_not_compared() -> None:
    text = FULL.split("[venues.binance]", 1)[1]
    c = parse_config("[venues.binance]" + text.replace('"50000"', '"900000"'))
    assert c.risk is None
    assert c.venues["binance"].risk is not None


def _swap(old: str, new: str) -> str:
    assert old in FULL, old
    return FULL.replace(old, new, 1)


VENUE_RISK = "[venues.binance.risk]\n"
KILL = "[venues.binance.kill]\n"
PARAMS = "[strategies.mm-btc.params]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # unknown sections, keys and venues
        (FULL + "[bogus]\n", "unknown sections: bogus"),
        (_swap("[venues.binance-futures]", "[venues.nope]"), r"\[venues.nope\] unknown venue 'nope'"),
        (_swap(VENUE_RISK, VENUE_RISK + "bogus = 1\n"), r"\[venues.binance.risk\] has unknown keys: bogus"),
        (_swap(KILL, KILL + "bogus = 1\n"), r"\[venues.binance.kill\] has unknown keys: bogus"),
        (_swap("[risk.assets.BTC]\n", "[risk.assets.BTC]\nbogus = 1\n"), r"\[risk.assets.BTC\] has unknown"),
        (_swap('kind = "mm"', 'kind = "mm"\nbogus = 1'), r"\[strategies.mm-btc\] has unknown keys: bogus"),
        (_swap('kind = "mm"', 'kind = "momentum"'), r"\[strategies.mm-btc\] kind must be one of"),
        (_swap('kraken = "XBT/USDT"', 'nope = "X"'), r"\[symbols.BTC-USDT\] nope: unknown venue"),
        (_swap("binance-futures = ", "market = "), "unknown venue 'market'"),
        # an alias venue is its market; a contradicting option is refused
        (
            _swap("[venues.binance-futures]\n", '[venues.binance-futures]\nmarket = "spot"\n'),
            r"\[venues.binance-futures\] market = 'spot' contradicts the venue",
        ),
        # legs: a venue without a table, an unmapped symbol, a venue symbol where a canonical one exists
        (
            _swap('legs = ["binance:BTC-USDT"]', 'legs = ["okx:BTC-USDT"]'),
            r"leg okx:BTC-USDT: no \[venues.okx\]",
        ),
        (
            _swap('binance-futures = "BTCUSDT"\n', ""),
            r"basis\] leg binance-futures:BTC-USDT: unmapped symbol",
        ),
        (_swap('legs = ["binance:BTC-USDT"]', 'legs = ["binance:BTCUSDT"]'), "use binance:BTC-USDT"),
        (_swap('legs = ["binance:BTC-USDT"]', 'legs = ["BTC-USDT"]'), 'is not "venue:SYMBOL"'),
        (_swap('legs = ["binance:BTC-USDT"]', 'legs = "binance:BTC-USDT"'), "legs must be a list"),
        (
            _swap('legs = ["binance:BTC-USDT", ', "legs = ["),
            r"\[strategies.basis\] legs must be a list of at least 2",
        ),
        (_swap('legs = ["binance:BTC-USDT"]', 'legs = ["binance:BTC-USDT", "binance:BTC-USDT"]'), "twice"),
        (_swap(PARAMS, PARAMS + "bad = [1]\n"), r"\[strategies.mm-btc.params\] bad must be"),
        (_swap(PARAMS, PARAMS + "bad = nan\n"), "not a finite number"),
        # a missing limit
        (
            _swap('max_gross_notional = "50000"\n', ""),
            r"\[venues.binance.risk\] is missing max_gross_notional",
        ),
        (_swap("max_open_orders = 20\n", ""), r"\[venues.binance.risk\] is missing max_open_orders"),
        (_swap('daily_loss_limit = "200"\n', ""), r"\[venues.binance.risk\] is missing daily_loss_limit"),
        (_swap("orders_per_second = 20\n", ""), r"\[risk\] is missing orders_per_second"),
        (_swap("orders_per_second = 20\n", "orders_per_second = 20\nmax_orders_per_sec = 20\n"), "both"),
        (_swap('max_net_notional = "20000"\n', ""), r"\[risk.assets.BTC\] is missing max_net_notional"),
        (_swap('rate = "1"\n', ""), r"\[risk.currencies.USDT\] is missing rate"),
        (_swap("max_depeg_bps = 100\n", 'max_depeg_bps = 100\nmark = "USDCUSDT"\n'), "mark must be"),
        (
            _swap("max_depeg_bps = 100\n", 'max_depeg_bps = 100\nmark = "kraken:USDTUSD"\n'),
            "no \\[venues.kraken\\]",
        ),
        # a per-venue (or per-asset, per-strategy) limit looser than the aggregate's
        (
            _swap('max_gross_notional = "50000"', 'max_gross_notional = "900000"'),
            r'^\[venues.binance.risk\] max_gross_notional = "900000" is above \[risk\] max_gross_notional = '
            r'"100000"$',
        ),
        (
            _swap(VENUE_RISK, VENUE_RISK + 'max_net_notional = "50001"\n'),
            r"max_net_notional = \"50001\" is above",
        ),
        (_swap("max_open_orders = 20", "max_open_orders = 51"), r"max_open_orders = 51 is above \[risk\]"),
        (
            _swap(
                "orders_per_second = 10\n\n[venues.binance.risk]",
                "orders_per_second = 21\n\n[venues.binance.risk]",
            ),
            r"^\[venues.binance\] orders_per_second = 21 is above \[risk\] orders_per_second = 20$",
        ),
        (
            _swap('daily_loss_limit = "200"', 'daily_loss_limit = "1001"'),
            r"daily_loss_limit = \"1001\" is above",
        ),
        (
            _swap(VENUE_RISK, VENUE_RISK + 'daily_loss_halt = "1001"\n'),
            r"risk\] daily_loss_halt = \"1001\" is above",
        ),
        (_swap(VENUE_RISK, VENUE_RISK + 'daily_loss_halt = "100"\n'), r"risk\] daily_loss_halt is below"),
        (
            _swap('max_loss = "300"', 'max_loss = "1001"'),
            r"kill\] max_loss = \"1001\" is above \[risk\] daily_loss_halt",
        ),
        (
            _swap(
                "orders_per_second = 10\n\n[strategies.mm-btc.params]", "orders_per_second = 21\n\n" + PARAMS
            ),
            r"^\[strategies.mm-btc\] orders_per_second = 21 is above \[risk\] orders_per_second = 20$",
        ),
        (
            _swap('max_net_notional = "20000"', 'max_net_notional = "50001"'),
            r'^\[risk.assets.BTC\] max_net_notional = "50001" is above \[risk\] max_net_notional = "50000"$',
        ),
        (
            _swap('max_gross_notional = "40000"', 'max_gross_notional = "100001"'),
            r"assets.BTC\] max_gross_notional",
        ),
        # kill thresholds positive, a reject rate in (0, 1]
        (
            _swap('max_loss = "300"', 'max_loss = "0"'),
            r"\[venues.binance.kill\] max_loss must be finite and > 0",
        ),
        (_swap("max_reject_rate = 0.5", "max_reject_rate = 0"), r"max_reject_rate must be in \(0, 1\]"),
        (_swap("max_reject_rate = 0.5", "max_reject_rate = 1.5"), r"max_reject_rate must be in \(0, 1\]"),
        (_swap("max_reject_rate = 0.5", 'max_reject_rate = "x"'), "max_reject_rate = 'x' is not a number"),
        (_swap(KILL, KILL + "reject_window = 0\n"), r"kill\] reject_window must be an integer > 0"),
        (_swap("max_unknown = 5", "max_unknown = 0"), r"kill\] max_unknown must be an integer > 0"),
        (
            _swap("max_disconnected_s = 30", "max_disconnected_s = 0"),
            "max_disconnected_s must be seconds > 0",
        ),
        (_swap("watchdog_s = 2.5", "watchdog_s = -1"), "watchdog_s must be seconds > 0"),
        (_swap("watchdog_s = 2.5", "watchdog_s = true"), "watchdog_s must be seconds > 0"),
        (_swap("collar_bps = 50", "collar_bps = 0"), r"risk\] collar_bps must be an integer > 0"),
        # currencies
        (
            _swap('[risk.currencies.USDT]\nrate = "1"', '[risk.currencies.USD]\nrate = "2"'),
            r'^\[risk.currencies.USD\] rate = "2" must be 1: USD is the reporting currency$',
        ),
        (_swap("max_depeg_bps = 100", "max_depeg_bps = 10001"), "max_depeg_bps = 10001 is above 10000"),
        (_swap('reporting_currency = "USD"', 'reporting_currency = "U S"'), "reporting_currency must be"),
        (
            _swap("[risk.assets.BTC]", "[risk.bogus]\n[risk.assets.BTC]"),
            r"^\[risk\] has unknown keys: bogus$",
        ),
    ],
)
def test_bad_multi_venue_configs_are_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        parse_config(text)
    assert "\n" not in str(e.value)


def test_a_currency_may_be_marked_from_a_venue_book() -> None:
    c = parse_config(FULL.replace("max_depeg_bps = 100\n", 'max_depeg_bps = 100\nmark = "binance:USDTUSD"\n'))
    assert c.risk is not None
    assert c.risk.currencies["USDT"].mark == ("binance", "USDTUSD")


def test_the_engine_section_says_how_the_engine_runs() -> None:
    from trader.config import EngineSettings

    assert parse_config(GOOD).engine == EngineSettings(None, busy_poll=False, rehearsal=True)
    c = parse_config(GOOD + '\n[engine]\ncpu = "2,3"\nbusy_poll = true\nrehearsal = false\n')
    assert c.engine == EngineSettings("2,3", busy_poll=True, rehearsal=False)
    assert parse_config(GOOD + "\n[engine]\ncpu = 2\n").engine.cpu == "2"


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ('cpu = "two"', "cpu must name CPUs"),
        ('cpu = "2-3"', "cpu must name CPUs"),
        ("cpu = true", "cpu must name CPUs"),
        ('busy_poll = "yes"', "busy_poll must be true or false"),
        ("rehearsal = 1", "rehearsal must be true or false"),
        ("busy_pol = true", "unknown keys: busy_pol"),
    ],
)
def test_a_bad_engine_section_is_refused(engine: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(f"{GOOD}\n[engine]\n{engine}\n")


@pytest.mark.parametrize(
    ("venue", "environment", "refused"),
    [
        ("binance", "testnet", None),
        ("binance-futures", "demo", None),
        ("bybit", "demo", None),  # Bybit's demo trading
        ("binance-margin", "demo", "binance-margin has no test environment (live, sim only)"),
    ],
)
def test_a_market_without_the_venues_test_environment_is_refused_by_the_config(
    venue: str, environment: str, refused: str | None
) -> None:
    """What `trader config check` accepts, the connector builds: a market's own environments."""
    text = f'[venues.{venue}]\nenvironment = "{environment}"\n'
    if refused is None:
        assert parse_config(text).venues[venue].environment == environment
        return
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    want = f"[venues.{venue}] environment = {environment!r}: {refused}: rehearse it with --sim"
    assert str(err.value) == want
