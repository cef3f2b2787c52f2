from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from trader.core import Side
from trader.engine.equity import (
    CalendarError,
    DayTradeCounter,
    DayTradingRule,
    Denial,
    EquityConfig,
    EquityOrder,
    EquityRules,
    Session,
    TimeInForce,
    allowed,
    business_days_ending,
    session,
)
from trader.errors import ConfigError

BUY, SELL = Side.BUY, Side.SELL


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, ns: int = 0) -> int:
    """Epoch ns of a UTC wall time: the expected sessions below are written against UTC on purpose,
    so the tests do not use the zone database they check."""
    return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()) * 1_000_000_000 + ns


def limit(
    symbol: str, side: Side, qty: int, price: str = "100", tif: TimeInForce = TimeInForce.DAY
) -> EquityOrder:
    return EquityOrder(symbol, side, qty, Decimal(price), tif)


# ---- the market-hours table --------------------------------------------------------------------------

C, PRE, REG, POST = Session.CLOSED, Session.PRE, Session.REGULAR, Session.POST

HOURS = [
    # a regular day, Tue 2026-11-10 (EST, UTC-5)
    (utc(2026, 11, 10, 8, 59, 59), C),  # 03:59:59
    (utc(2026, 11, 10, 9, 0), PRE),  # 04:00
    (utc(2026, 11, 10, 14, 29, 59, 999_999_999), PRE),  # 09:29:59.999999999
    (utc(2026, 11, 10, 14, 30), REG),  # 09:30
    (utc(2026, 11, 10, 20, 59, 59), REG),  # 15:59:59
    (utc(2026, 11, 10, 21, 0), POST),  # 16:00
    (utc(2026, 11, 11, 0, 59, 59), POST),  # 19:59:59 on the 10th
    (utc(2026, 11, 11, 1, 0), C),  # 20:00 on the 10th
    # an early close, Fri 2026-11-27 (day after Thanksgiving): regular to 13:00, after-hours to 17:00
    (utc(2026, 11, 27, 14, 30), REG),
    (utc(2026, 11, 27, 17, 59, 59), REG),  # 12:59:59
    (utc(2026, 11, 27, 18, 0), POST),  # 13:00
    (utc(2026, 11, 27, 21, 59, 59), POST),  # 16:59:59
    (utc(2026, 11, 27, 22, 0), C),  # 17:00
    (utc(2026, 12, 24, 18, 0), POST),  # Christmas Eve 2026, 13:00
    (utc(2027, 11, 26, 18, 30), POST),  # day after Thanksgiving 2027, 13:30
    # holidays
    (utc(2026, 11, 26, 15, 0), C),  # Thanksgiving 2026
    (utc(2026, 4, 3, 15, 0), C),  # Good Friday 2026 (EDT)
    (utc(2026, 7, 3, 15, 0), C),  # Independence Day observed
    (utc(2027, 6, 18, 15, 0), C),  # Juneteenth 2027 observed on the Friday
    (utc(2027, 12, 24, 15, 0), C),  # Christmas 2027 observed
    (utc(2026, 7, 2, 19, 59), REG),  # 15:59 EDT: no early close before the July 3 holiday
    (utc(2027, 12, 31, 15, 0), REG),  # New Year's Day 2028 is a Saturday and not observed
    # weekend
    (utc(2026, 11, 14, 15, 0), C),
    (utc(2026, 11, 15, 15, 0), C),
    # DST starts Sun 2026-03-08: Friday before is EST (UTC-5), Monday after is EDT (UTC-4)
    (utc(2026, 3, 6, 14, 29), PRE),  # 09:29 EST
    (utc(2026, 3, 6, 14, 30), REG),  # 09:30 EST
    (utc(2026, 3, 6, 21, 0), POST),  # 16:00 EST
    (utc(2026, 3, 9, 13, 29, 59), PRE),  # 09:29:59 EDT
    (utc(2026, 3, 9, 13, 30), REG),  # 09:30 EDT
    (utc(2026, 3, 9, 19, 59, 59), REG),  # 15:59:59 EDT
    (utc(2026, 3, 9, 20, 0), POST),  # 16:00 EDT
    (utc(2026, 3, 9, 8, 0), PRE),  # 04:00 EDT
    # DST ends Sun 2026-11-01
    (utc(2026, 10, 30, 13, 30), REG),  # 09:30 EDT
    (utc(2026, 11, 2, 13, 30), PRE),  # 08:30 EST
    (utc(2026, 11, 2, 14, 30), REG),  # 09:30 EST
    (utc(2026, 11, 2, 20, 30), REG),  # 15:30 EST (would be POST in EDT)
    # 2027 transitions: 2027-03-14 and 2027-11-07
    (utc(2027, 3, 12, 13, 30), PRE),  # Fri, 08:30 EST
    (utc(2027, 3, 15, 13, 30), REG),  # Mon, 09:30 EDT
    (utc(2027, 11, 5, 20, 0), POST),  # Fri, 16:00 EDT
    (utc(2027, 11, 8, 20, 0), REG),  # Mon, 15:00 EST
]


@pytest.mark.parametrize(("ts", "expected"), HOURS)
def test_session_table(ts: int, expected: Session) -> None:
    assert session(ts) is expected


def test_outside_the_calendar_fails_closed() -> None:
    with pytest.raises(CalendarError, match="2028"):
        session(utc(2028, 1, 4, 15, 0))
    assert not allowed(limit("SPY", BUY, 1), utc(2028, 1, 4, 15, 0), extended_hours=True)
    rules = EquityRules()
    assert (
        rules.check(limit("SPY", BUY, 1), utc(2025, 12, 30, 15, 0), Decimal(10**6)) is Denial.CALENDAR_UNKNOWN
    )


def test_allowed_by_session_and_order_type() -> None:
    pre, reg, post = utc(2026, 11, 10, 12, 0), utc(2026, 11, 10, 15, 0), utc(2026, 11, 10, 22, 0)
    closed = utc(2026, 11, 14, 15, 0)
    market = EquityOrder("SPY", BUY, 1, None)
    day_limit, gtc_limit = limit("SPY", BUY, 1), limit("SPY", BUY, 1, tif=TimeInForce.GTC)
    assert allowed(market, reg, extended_hours=False)
    assert allowed(gtc_limit, reg, extended_hours=False)
    for ts in (pre, post):
        assert not allowed(day_limit, ts, extended_hours=False)
        assert allowed(day_limit, ts, extended_hours=True)
        assert not allowed(market, ts, extended_hours=True), "extended hours take limit orders only"
        assert not allowed(gtc_limit, ts, extended_hours=True), "extended hours take DAY orders only"
    assert not allowed(day_limit, closed, extended_hours=True)
    rules, ext = EquityRules(), EquityRules(EquityConfig(extended_hours=True))
    assert rules.check(day_limit, pre, Decimal(10**6)) is Denial.EXTENDED_HOURS_DISABLED
    assert ext.check(market, post, Decimal(10**6)) is Denial.EXTENDED_HOURS_LIMIT_DAY
    assert ext.check(day_limit, post, Decimal(10**6)) is None
    assert ext.check(day_limit, closed, Decimal(10**6)) is Denial.MARKET_CLOSED


# ---- day trades --------------------------------------------------------------------------------------

DAY = (2026, 11, 10)


def at(hour: int, day: tuple[int, int, int] = DAY) -> int:
    return utc(*day, hour, 0)  # 15..20 UTC is inside the regular session in EST


@pytest.mark.parametrize(
    ("fills", "expected"),
    [
        ([(BUY, 100), (BUY, 100), (SELL, 200)], 1),
        ([(BUY, 100), (SELL, 50), (SELL, 50)], 1),
        ([(BUY, 100), (SELL, 100), (BUY, 100), (SELL, 100)], 2),
        ([(SELL, 100), (BUY, 100)], 1),  # a short opened and covered the same day
        ([(BUY, 100), (SELL, 150), (BUY, 50)], 2),  # the flip opens a short that is covered
        ([(BUY, 100), (BUY, 100)], 0),
    ],
)
def test_day_trades_are_counted_in_sequence(fills: list[tuple[Side, int]], expected: int) -> None:
    c = DayTradeCounter()
    for i, (side, qty) in enumerate(fills):
        c.on_fill("AAPL", side, qty, at(15) + i)
    assert c.count(at(20)) == expected


def test_positions_held_overnight() -> None:
    c = DayTradeCounter()
    c.load_position("AAPL", 100)
    assert not c.on_fill("AAPL", SELL, 100, at(15)), "sold before any purchase today: not a day trade"
    c.load_position("MSFT", 100)
    c.on_fill("MSFT", SELL, 50, at(15))
    c.on_fill("MSFT", BUY, 50, at(16))  # a new purchase today...
    assert c.on_fill("MSFT", SELL, 100, at(17)), "...then a sale: a day trade"
    assert c.count(at(20)) == 1
    # bought yesterday, sold today: not a day trade
    c.on_fill("KO", BUY, 10, at(19, (2026, 11, 9)))
    assert not c.would_day_trade("KO", SELL, 10, at(15))
    assert c.would_day_trade("KO", SELL, 10, at(23, (2026, 11, 9))), "after-hours is the same day"


def test_five_business_day_window_skips_weekends_and_holidays() -> None:
    c = DayTradeCounter()
    for day in ((2026, 11, 19), (2026, 11, 20), (2026, 11, 24)):
        c.on_fill("AAPL", BUY, 10, at(15, day))
        c.on_fill("AAPL", SELL, 10, at(16, day))
    window = business_days_ending(date(2026, 11, 27), 5)
    assert [d.day for d in window] == [20, 23, 24, 25, 27], "not Thanksgiving (26th) nor the weekend"
    assert c.count(at(15, (2026, 11, 25))) == 3
    assert c.count(at(15, (2026, 11, 27))) == 2, "the 19th left the window"
    assert c.count(at(15, (2026, 11, 30))) == 1, "so did the 20th"
    assert c.count(at(15, (2026, 12, 1))) == 1
    assert c.count(at(15, (2026, 12, 2))) == 0
    assert c.count(at(15, (2026, 11, 28))) == 2, "on a Saturday: the 5 trading days before"


# ---- the day-trading rules ---------------------------------------------------------------------------


def _three_day_trades(rules: EquityRules) -> None:
    for day in ((2026, 11, 5), (2026, 11, 6), (2026, 11, 9)):
        rules.on_fill("AAPL", BUY, 10, at(15, day))
        rules.on_fill("AAPL", SELL, 10, at(16, day))


def test_legacy_pattern_day_trader_rule() -> None:
    rules = EquityRules(EquityConfig(day_trading=DayTradingRule.PATTERN_DAY_TRADER))
    small, big = Decimal(20_000), Decimal(25_000)
    first = (2026, 11, 5)
    rules.on_fill("AAPL", BUY, 10, at(15, first))
    assert rules.check(limit("AAPL", SELL, 10), at(16, first), small) is None, "the 1st day trade: fine"
    rules.on_fill("AAPL", SELL, 10, at(16, first))
    for day in ((2026, 11, 6), (2026, 11, 9)):
        rules.on_fill("AAPL", BUY, 10, at(15, day))
        rules.on_fill("AAPL", SELL, 10, at(16, day))
    rules.day_trades.load_position("KO", 10)  # held overnight
    rules.on_fill("AAPL", BUY, 10, at(15))
    assert rules.day_trades.count(at(15)) == 3
    assert rules.check(limit("AAPL", SELL, 10), at(16), small) is Denial.PATTERN_DAY_TRADER, "the 4th"
    assert rules.check(limit("MSFT", BUY, 1), at(16), small) is Denial.PATTERN_DAY_TRADER, "opens"
    assert rules.check(limit("KO", SELL, 10), at(16), small) is None, "closing an overnight position"
    assert rules.check(limit("AAPL", SELL, 10), at(16), big) is None, "at the $25,000 minimum"
    assert rules.check(limit("MSFT", BUY, 1), at(15, (2026, 11, 12)), small) is None, "the 5th left"


def test_intraday_margin_is_the_default_and_has_no_count_limit() -> None:
    rules = EquityRules()
    assert rules.config.day_trading is DayTradingRule.INTRADAY_MARGIN
    _three_day_trades(rules)
    rules.on_fill("AAPL", BUY, 10, at(17))
    marks = {"AAPL": Decimal(100)}
    assert rules.check(limit("AAPL", SELL, 10), at(18), Decimal(2_000), marks) is None, "4th day trade"


def test_intraday_margin_blocks_creating_or_increasing_a_deficit() -> None:
    rules = EquityRules(EquityConfig(allow_short=True))
    rules.on_fill("SPY", BUY, 250, at(15))  # requirement 250 * 100 * 0.25 = 6,250
    marks = {"SPY": Decimal(100)}
    equity = Decimal(10_000)
    assert rules.requirement(rules.day_trades.positions, marks) == Decimal(6_250)
    assert rules.check(limit("SPY", BUY, 150), at(16), equity, marks) is None  # 400 -> 10,000: not above
    assert rules.check(limit("SPY", BUY, 151), at(16), equity, marks) is Denial.INTRADAY_MARGIN_DEFICIT
    # in deficit already (equity fell): reducing is allowed, adding is not
    assert rules.check(limit("SPY", SELL, 100), at(16), Decimal(3_000), marks) is None, "3,750: smaller"
    assert rules.check(limit("SPY", BUY, 1), at(16), Decimal(5_000), marks) is Denial.INTRADAY_MARGIN_DEFICIT
    # a short is charged 30%: 250 long (6,250) + 100 QQQ short at 200 (6,000) = 12,250
    q = limit("QQQ", SELL, 100, "200")
    assert rules.check(q, at(16), Decimal(12_250), marks) is None, "the limit price values the new symbol"
    assert rules.check(q, at(16), Decimal("12249.99"), marks) is Denial.INTRADAY_MARGIN_DEFICIT
    assert rules.check(EquityOrder("QQQ", SELL, 1, None), at(16), equity, marks) is Denial.NO_MARK
    assert rules.check(limit("QQQ", BUY, 1), at(16), equity, {}) is Denial.NO_MARK, "SPY has no mark"


def test_no_short_sale_unless_enabled() -> None:
    rules = EquityRules(EquityConfig(day_trading=DayTradingRule.NONE))
    rules.on_fill("AAPL", BUY, 100, at(15))
    eq = Decimal(10**6)
    assert rules.check(limit("AAPL", SELL, 100), at(16), eq) is None
    assert rules.check(limit("AAPL", SELL, 101), at(16), eq) is Denial.SHORT_SALE
    assert rules.check(limit("AAPL", SELL, 60), at(16), eq, working_sell_qty=50) is Denial.SHORT_SALE
    assert rules.check(limit("MSFT", SELL, 1), at(16), eq) is Denial.SHORT_SALE, "flat: any sell is short"
    shorting = EquityRules(EquityConfig(day_trading=DayTradingRule.NONE, allow_short=True))
    assert shorting.check(limit("MSFT", SELL, 1), at(16), eq) is None
    reason = rules.check(limit("AAPL", SELL, 101), at(16), eq)
    assert isinstance(reason, str), "the reason is a plain string for on_denied"
    assert str(reason) == "short_sale"


def test_invalid_orders_and_config() -> None:
    rules = EquityRules()
    assert rules.check(limit("AAPL", BUY, 0), at(16), Decimal(10**6)) is Denial.INVALID_ORDER
    assert rules.check(limit("AAPL", BUY, 1, "0"), at(16), Decimal(10**6)) is Denial.INVALID_ORDER
    with pytest.raises(ConfigError):
        EquityConfig(long_maintenance=Decimal("NaN"))
    with pytest.raises(ConfigError):
        EquityConfig(pdt_window_days=0)


def test_next_regular_session_skips_weekends_and_holidays() -> None:
    from trader.engine.equity import Session, next_regular_session, session
    from trader.sim.alpaca import eastern_ns

    wed_evening = eastern_ns(2026, 11, 25, 18, 0)  # Thanksgiving (26th) is a holiday
    t = next_regular_session(wed_evening)
    assert t == eastern_ns(2026, 11, 27, 10, 0)
    assert session(t) is Session.REGULAR
    assert next_regular_session(eastern_ns(2026, 11, 30, 9, 0)) == eastern_ns(2026, 11, 30, 10, 0)
    assert next_regular_session(eastern_ns(2026, 11, 28, 12, 0)) == eastern_ns(2026, 11, 30, 10, 0)
