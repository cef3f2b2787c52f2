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
