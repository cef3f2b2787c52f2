"""The brokers' day-trading rule as a config key, `[venues.<broker>] day_trading_rule`: FINRA's intraday
margin rule (Rule 4210 as amended, effective 2026-06-04) by default, the legacy pattern-day-trader rule
selectable, shown with its dates by `trader venues`. Nothing here reads today's date: the orders are
stamped on fixed 2026 trading days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from trader.cli import main
from trader.cli.plan import default_request, plan
from trader.cli.rigs import equity_config
from trader.config import parse_config
from trader.core import Side
from trader.engine.equity import (
    DEFAULT_RULE,
    RULE_EFFECTIVE,
    RULE_PHASE_IN_END,
    DayTradingRule,
    Denial,
    EquityConfig,
    EquityOrder,
    EquityRules,
)
from trader.errors import ConfigError

RISK = (
    '[risk]\nmax_gross_notional = "1000"\nmax_net_notional = "1000"\nmax_open_orders = 4\n'
    'orders_per_second = 2\ndaily_loss_limit = "50"\n'
)
KEYS = 'api_key = "env:K"\nsecret = "env:S"\nenvironment = "paper"\n'


def _config(venue: str, extra: str = "") -> str:
    return f"{RISK}[venues.{venue}]\n{KEYS}{extra}"


def _at(day: int, hour: int) -> int:
    """A fixed instant of November 2026 (15..20 UTC: the regular session in New York)."""
    return int(datetime(2026, 11, day, hour, tzinfo=UTC).timestamp()) * 1_000_000_000


def _fourth_day_trade(rule: DayTradingRule) -> Denial | None:
    """Three day trades on three days, a fourth opened: what the rule says of closing it with $20,000."""
    rules = EquityRules(equity_config_of(rule))
    for day in (5, 6, 9):
        rules.on_fill("AAPL", Side.BUY, 10, _at(day, 15))
        rules.on_fill("AAPL", Side.SELL, 10, _at(day, 16))
    rules.on_fill("AAPL", Side.BUY, 10, _at(10, 15))
    order = EquityOrder("AAPL", Side.SELL, 10, Decimal(100))
    return rules.check(order, _at(10, 16), Decimal(20_000), {"AAPL": Decimal(100)})


def equity_config_of(rule: DayTradingRule) -> EquityConfig:
    config = parse_config(_config("alpaca", f'day_trading_rule = "{rule.value}"\n'))
    assert config.risk is not None
    return equity_config(default_request(config.venues["alpaca"], config.risk))


@pytest.mark.parametrize("venue", ["alpaca", "ibkr"])
def test_the_rule_in_force_is_the_default(venue: str) -> None:
    config = parse_config(_config(venue))
    assert config.risk is not None
    req = default_request(config.venues[venue], config.risk)
    assert req.day_trading is DEFAULT_RULE is DayTradingRule.INTRADAY_MARGIN
    assert equity_config(req).day_trading is DayTradingRule.INTRADAY_MARGIN
    assert (date(2026, 6, 4), date(2027, 10, 20)) == (RULE_EFFECTIVE, RULE_PHASE_IN_END)


def test_the_legacy_rule_is_selectable_and_applies() -> None:
    assert _fourth_day_trade(DayTradingRule.PATTERN_DAY_TRADER) is Denial.PATTERN_DAY_TRADER
    assert _fourth_day_trade(DayTradingRule.INTRADAY_MARGIN) is None, "no count limit: within margin"
    assert _fourth_day_trade(DayTradingRule.NONE) is None


def test_a_strategy_table_keeps_the_venues_rule() -> None:
    text = _config("ibkr", 'day_trading_rule = "pattern_day_trader"\n')
    text += '[strategies.etf]\nkind = "mm"\nlegs = ["ibkr:SPY"]\n'
    config = parse_config(text)
    (planned,) = plan(config, ["ibkr"])
    assert planned.request.day_trading is DayTradingRule.PATTERN_DAY_TRADER


def test_a_wrong_rule_or_a_wrong_venue_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_config("alpaca", 'day_trading_rule = "pdt"\n'))
    assert str(err.value) == (
        "[venues.alpaca] day_trading_rule must be one of intraday_margin, pattern_day_trader, none, not 'pdt'"
    )
    with pytest.raises(ConfigError, match="must be a str"):
        parse_config(_config("ibkr", "day_trading_rule = true\n"))
    with pytest.raises(ConfigError) as err:
        parse_config(_config("binance", 'day_trading_rule = "none"\n'))
    assert "applies to broker venues only" in str(err.value)
    assert "\n" not in str(err.value)


def test_trader_venues_shows_the_rule_and_its_dates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["venues"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for broker in ("ibkr", "alpaca"):
        at = next(i for i, line in enumerate(lines) if line.startswith(broker + " "))
        rule, others = lines[at + 1].strip(), lines[at + 2].strip()
        assert rule.startswith(
            "day_trading_rule = intraday_margin (default): FINRA Rule 4210 intraday margin"
        )
        assert "2026-06-04" in rule
        assert "2027-10-20" in rule
        assert others.startswith("or pattern_day_trader:")
        assert "none:" in others
    binance = next(i for i, line in enumerate(lines) if line.startswith("binance "))
    assert "day_trading_rule" not in lines[binance + 1]
