"""Pre-trade rules for US equities at broker venues (alpaca, ibkr), checked before the risk gate.

Three rules, one entry point (`EquityRules.check`, which returns `None` or a typed `Denial`):

1. **Market hours** (`session`, `allowed`). NYSE regular session 09:30-16:00 America/New_York, extended
   hours pre-market 04:00-09:30 and after-hours 16:00-20:00, on NYSE trading days only. On an early-close
   day the regular session ends at 13:00 and after-hours at 17:00. Outside the regular session an order is
   allowed only when extended hours are enabled, and only as a limit order with time in force DAY (what
   Alpaca accepts for `extended_hours=true`; that IBKR's outside-RTH orders need the same is
   UNVERIFIED). Overnight (20:00-04:00) trading that some brokers now offer is treated as CLOSED.
   Timestamps are converted with `zoneinfo`, so DST changes (2026-03-08, 2026-11-01, 2027-03-14,
   2027-11-07) need no special casing.
   The calendar covers 2026 and 2027 only: a timestamp outside it raises `CalendarError` from `session`
   and is denied (`Denial.CALENDAR_UNKNOWN`) by `check`: fail closed, extend the tables each December.

2. **Day trading** (`DayTradingRule`, selectable in `EquityConfig` and, per broker venue, with the config
   key `[venues.<broker>] day_trading_rule`; `RULE_DESCRIPTIONS` for `trader venues`). What applies in
   November 2026:

   - FINRA filed SR-FINRA-2025-017 on 2025-12-29 to replace Rule 4210's day-trading provisions (the
     pattern-day-trader definition, 4+ day trades in 5 business days, and its $25,000 minimum equity,
     4210(f)(8)(B)) with "intraday margin standards" (notice: Exchange Act Release 34-104572, 91 FR 1580,
     2026-01-14). The SEC approved it, as modified by Amendment No. 1, by accelerated approval on
     2026-04-14 (Release 34-105226, 91 FR 20731, published 2026-04-17; govinfo.gov FR Doc 2026-07485).
   - FINRA's regulatory notice of 2026-04-20 (as reported by assetmarketnews.com; King & Spalding client
     alert of 2026-04-27) gives an **effective date of 2026-06-04**, with an implementation period for
     member firms that need it **ending 2027-10-20** (reported as "up to 18 months").
   - Alpaca deprecated its PDT fields and endpoints on 2026-06-03/04 and removed them on 2026-07-06
     ("accounts are no longer flagged for pattern day trading"; docs.alpaca.markets changelog
     2026-06-03-pdt-f3c04da, 2026-06-04-pdt-f400e9e, 2026-07-06-pdt-db49dba; also
     /work/shared/venues/alpaca.md section 8).

   So the default here is `INTRADAY_MARGIN`: an order is denied when it would create or increase an
   intraday margin deficit, i.e. when the maintenance requirement of the positions after the fill exceeds
   the account equity and is larger than before the order (FINRA: members may monitor intraday and "block
   transactions that would otherwise create or increase intraday margin deficits"). The requirement is
   `sum(|qty| * mark * rate)`, rate 25% for longs and 30% for shorts by default (Rule 4210(c) minimums for
   stocks; low-priced shorts and brokers' house rates are higher: set them in the config). There is no
   day-trade count limit.

   `PATTERN_DAY_TRADER` keeps the legacy rule selectable, for a broker that still applies it during the
   implementation period (allowed until 2027-10-20): with equity below $25,000 it denies the order that
   would complete the 4th day trade within 5 business days, and, once 3 are counted, any order that opens
   or adds to a position (it could not be closed the same day without becoming the 4th; IBKR describes
   keeping small accounts from being flagged by refusing opening transactions, per a third-party copy of
   its PDT page). `NONE` is for cash accounts, to which neither rule applies.

   Uncertain: whether a given broker (IBKR in particular) has already switched, since firms may phase the
   change in until 2027-10-20; the exact intraday-margin computation each broker uses (house rates,
   options, concentration add-ons, whether working orders count), which we only approximate with flat
   rates on positions; and the legacy rule's "more than 6% of total trades" condition, not applied here
   (the broker descriptions found, Alpaca's and DriveWealth's, do not mention it; ignoring it is the
   conservative side). The FINRA notice itself was read through the
   secondary sources named above; the SEC approval through the Federal Register. The reported dates do
   not quite agree: 18 months after 2026-06-04 would be December 2027, not 2027-10-20 (18 months after
   the April notice), and King & Spalding dates the approval 2026-04-15 (the order is dated 2026-04-14).

   Day trades are counted by `DayTradeCounter` as FINRA defined them (4210(f)(8)(B)(i)): opening and then
   closing (or adding and then reducing) a position in the same security on the same trading day. A long
   held overnight sold before any new purchase that day is not a day trade. Counting is sequential: one day
   trade each time a closing fill follows one or more opening fills of that day (buy, buy, sell = 1; buy,
   sell, sell = 1; buy, sell, buy, sell = 2). The window is the 5 NYSE trading days ending with the day of
   the check.

3. **No short sales** unless `allow_short=True`: a sell of more shares than the long position (minus what
   working sell orders already commit) is denied (`Denial.SHORT_SALE`). Locates and easy-to-borrow lists
   are the broker's business and not modelled.

Money is `Decimal`; quantities are whole shares (`int`); fractional shares are not modelled.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from trader.clock import Clock
from trader.core import Side, TraderError
from trader.errors import ConfigError

NEW_YORK = ZoneInfo("America/New_York")

# NYSE holidays and early closes. Source: NYSE Group, "NYSE Group Announces 2026, 2027 and 2028 Holiday
# and Early Closings Calendar" (press release, 2025-12-23; same dates in its 2024-11-08 release for
# 2025-2027), also at https://www.nyse.com/markets/hours-calendars. Early closes: 13:00 for the cash
# market; "late trading sessions will close at 5:00 p.m." (the after-hours end used here).
HOLIDAYS: frozenset[date] = frozenset(
    {
        # 2026
        date(2026, 1, 1),  # New Year's Day
        date(2026, 1, 19),  # Martin Luther King, Jr. Day
        date(2026, 2, 16),  # Washington's Birthday
        date(2026, 4, 3),  # Good Friday
        date(2026, 5, 25),  # Memorial Day
        date(2026, 6, 19),  # Juneteenth National Independence Day
        date(2026, 7, 3),  # Independence Day (observed; July 4 is a Saturday)
        date(2026, 9, 7),  # Labor Day
        date(2026, 11, 26),  # Thanksgiving Day
        date(2026, 12, 25),  # Christmas Day
        # 2027
        date(2027, 1, 1),  # New Year's Day
        date(2027, 1, 18),  # Martin Luther King, Jr. Day
        date(2027, 2, 15),  # Washington's Birthday
        date(2027, 3, 26),  # Good Friday
        date(2027, 5, 31),  # Memorial Day
        date(2027, 6, 18),  # Juneteenth (observed; June 19 is a Saturday)
        date(2027, 7, 5),  # Independence Day (observed; July 4 is a Sunday)
        date(2027, 9, 6),  # Labor Day
        date(2027, 11, 25),  # Thanksgiving Day
        date(2027, 12, 24),  # Christmas Day (observed; December 25 is a Saturday)
        # 2027-12-31 is a trading day: New Year's Day 2028 falls on a Saturday and is not observed.
    }
)
EARLY_CLOSES: frozenset[date] = frozenset(
    {
        date(2026, 11, 27),  # day after Thanksgiving
        date(2026, 12, 24),  # Christmas Eve
        date(2027, 11, 26),  # day after Thanksgiving
        # no July early close in 2026 or 2027 (July 3 is the holiday / a Saturday), no Christmas Eve in 2027
    }
)
CALENDAR_YEARS = range(2026, 2028)

PRE_OPEN = time(4, 0)
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)
POST_CLOSE = time(20, 0)
EARLY_POST_CLOSE = time(17, 0)

_NS = 1_000_000_000


class CalendarError(TraderError, LookupError):
    """A date outside the exchange calendar this module knows (2026-2027)."""


class Session(enum.Enum):
    CLOSED = "closed"
    PRE = "pre"
    REGULAR = "regular"
    POST = "post"


class Denial(enum.StrEnum):
    """Why an equity order was refused; the value is the reason string handed to `on_denied`."""

    INVALID_ORDER = "invalid_order"  # qty <= 0 or a non-positive limit price
    CALENDAR_UNKNOWN = "calendar_unknown"  # the date is outside the holiday tables
    MARKET_CLOSED = "market_closed"  # weekend, holiday, or outside 04:00-20:00 ET
    EXTENDED_HOURS_DISABLED = "extended_hours_disabled"  # pre/post session, extended hours off
    EXTENDED_HOURS_LIMIT_DAY = "extended_hours_limit_day"  # pre/post session needs a DAY limit order
    SHORT_SALE = "short_sale"  # sells more than the long position and shorting is off
    PATTERN_DAY_TRADER = "pattern_day_trader"  # legacy rule: equity below the PDT minimum
    INTRADAY_MARGIN_DEFICIT = "intraday_margin_deficit"  # creates or increases an intraday deficit
    NO_MARK = "no_mark"  # no price to value a position with for the margin requirement


class TimeInForce(enum.Enum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"
    CLS = "cls"


class EquityOrder(NamedTuple):
    symbol: str
    side: Side
    qty: int  # shares
    limit_price: Decimal | None  # None: a market order
    tif: TimeInForce = TimeInForce.DAY


class DayTradingRule(enum.Enum):
    INTRADAY_MARGIN = "intraday_margin"  # FINRA Rule 4210 as amended, effective 2026-06-04 (default)
    PATTERN_DAY_TRADER = "pattern_day_trader"  # the legacy $25,000 rule, 4210(f)(8)(B)
    NONE = "none"  # cash accounts


# What each rule is and since/until when (see the module docstring for the sources), for the config key
# `[venues.<broker>] day_trading_rule` and `trader venues`. Dates are facts about the rules: no code path
# compares them with today's date (the default is the rule in force, whatever the day).
RULE_EFFECTIVE = date(2026, 6, 4)  # FINRA's intraday margin amendment to Rule 4210 takes effect
RULE_PHASE_IN_END = date(2027, 10, 20)  # the end of the implementation period (legacy rule allowed until)
RULE_DESCRIPTIONS: dict[DayTradingRule, str] = {
    DayTradingRule.INTRADAY_MARGIN: (
        f"FINRA Rule 4210 intraday margin, in force since {RULE_EFFECTIVE} "
        f"(firms phase it in until {RULE_PHASE_IN_END})"
    ),
    DayTradingRule.PATTERN_DAY_TRADER: (
        f"the legacy pattern-day-trader rule, 4210(f)(8)(B) ($25,000; allowed until {RULE_PHASE_IN_END})"
    ),
    DayTradingRule.NONE: "no day-trading rule (a cash account)",
}
DEFAULT_RULE = DayTradingRule.INTRADAY_MARGIN


def day_trading_rule(value: object, where: str = "day_trading_rule") -> DayTradingRule:
    """The rule a config names (`intraday_margin`, `pattern_day_trader`, `none`); `ConfigError` in one
    line naming the choices otherwise."""
    choices = ", ".join(r.value for r in DayTradingRule)
    try:
        return DayTradingRule(value)
    except ValueError:
        raise ConfigError(f"{where} must be one of {choices}, not {value!r}") from None


@dataclass(frozen=True)
class EquityConfig:
    extended_hours: bool = False
    allow_short: bool = False
    day_trading: DayTradingRule = DayTradingRule.INTRADAY_MARGIN
    pdt_min_equity: Decimal = Decimal(25_000)
    pdt_day_trades: int = 4  # this many day trades within the window make a pattern day trader
    pdt_window_days: int = 5  # business (trading) days
    long_maintenance: Decimal = Decimal("0.25")
    short_maintenance: Decimal = Decimal("0.30")

    def __post_init__(self) -> None:
        if self.pdt_day_trades < 1 or self.pdt_window_days < 1:
            raise ConfigError("pdt_day_trades and pdt_window_days must be positive")
        for name in ("pdt_min_equity", "long_maintenance", "short_maintenance"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ConfigError(f"{name} must be a finite, non-negative Decimal")


# ---- the calendar ------------------------------------------------------------------------------------


def _check_year(d: date) -> None:
    if d.year not in CALENDAR_YEARS:
        raise CalendarError(f"no NYSE calendar for {d.year} (known: 2026-2027)")


def is_trading_day(d: date) -> bool:
    """A weekday that is not an NYSE holiday. `CalendarError` outside 2026-2027."""
    _check_year(d)
    return d.weekday() < 5 and d not in HOLIDAYS


def local_time(ts_ns: int) -> datetime:
    """The New York wall time of an epoch-nanosecond timestamp (truncated to the second)."""
    return datetime.fromtimestamp(ts_ns // _NS, tz=UTC).astimezone(NEW_YORK)


def trading_date(ts_ns: int) -> date:
    """The New York calendar date of a timestamp: the day a fill belongs to."""
    return local_time(ts_ns).date()


def session_at(local: datetime) -> Session:
    """The session at a New York wall time."""
    d, t = local.date(), local.time()
    if not is_trading_day(d):
        return Session.CLOSED
    early = d in EARLY_CLOSES
    close = EARLY_CLOSE if early else REGULAR_CLOSE
    post_close = EARLY_POST_CLOSE if early else POST_CLOSE
    if t < PRE_OPEN:
        return Session.CLOSED
    if t < REGULAR_OPEN:
        return Session.PRE
    if t < close:
        return Session.REGULAR
    if t < post_close:
        return Session.POST
    return Session.CLOSED


def session(ts_ns: int) -> Session:
    """The US equity session at an epoch-nanosecond timestamp. `CalendarError` outside 2026-2027."""
    return session_at(local_time(ts_ns))


def next_regular_session(ts_ns: int, hour: int = 10, minute: int = 0) -> int:
    """`hour:minute` New York time on the first trading day whose `hour:minute` is after `ts_ns`: a
    clock set there is inside a regular session (rehearsals on simulated brokers, whatever the hour)."""
    d = local_time(ts_ns).date()
    for _ in range(15):
        if is_trading_day(d):
            at = datetime(d.year, d.month, d.day, hour, minute, tzinfo=NEW_YORK)
            t = int(at.timestamp()) * _NS
            if t > ts_ns:
                return t
        d += timedelta(days=1)
    raise CalendarError(f"no trading day within 15 days of {local_time(ts_ns).date()}")  # pragma: no cover


def hours_denial(order: EquityOrder, ts_ns: int, extended_hours: bool) -> Denial | None:
    """Why `order` may not be sent at `ts_ns`, or None. `CalendarError` outside 2026-2027."""
    s = session(ts_ns)
    if s is Session.REGULAR:
        return None
    if s is Session.CLOSED:
        return Denial.MARKET_CLOSED
    if not extended_hours:
        return Denial.EXTENDED_HOURS_DISABLED
    if order.limit_price is None or order.tif is not TimeInForce.DAY:
        return Denial.EXTENDED_HOURS_LIMIT_DAY
    return None


def allowed(order: EquityOrder, ts_ns: int, extended_hours: bool) -> bool:
    """Whether the session at `ts_ns` accepts `order` (False outside the known calendar)."""
    try:
        return hours_denial(order, ts_ns, extended_hours) is None
    except CalendarError:
        return False


def business_days_ending(d: date, n: int) -> list[date]:
    """The last `n` trading days up to and including `d` (if `d` trades), oldest first."""
    days: list[date] = []
    cur = d
    while len(days) < n:
        if cur.year < CALENDAR_YEARS.start:
            break  # before the calendar: nothing was counted there
        if is_trading_day(cur):
            days.append(cur)
        cur -= timedelta(days=1)
    return days[::-1]


# ---- day trades --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Today:
    day: date
    opened: int = 0  # shares of the current position opened (or added) today
    armed: bool = False  # an opening fill since the last counted day trade


def _apply(pos: int, today: _Today, side: Side, qty: int) -> tuple[int, _Today, bool]:
    """(position, today's state, whether this fill completes a day trade) after a fill; pure."""
    signed = qty if side == Side.BUY else -qty
    t = _Today(today.day, today.opened, today.armed)
    if pos == 0 or (pos > 0) == (signed > 0):
        t.opened += qty
        t.armed = True
        return pos + signed, t, False
    closing = min(qty, abs(pos))
    closed_today = min(closing, t.opened)  # today's shares are closed first: the conservative reading
    t.opened -= closed_today
    counted = closed_today > 0 and t.armed
    if counted:
        t.armed = False
    flipped = qty - closing
    if flipped > 0:  # the rest opens a position on the other side
        t.opened, t.armed = flipped, True
    return pos + signed, t, counted


@dataclass
class DayTradeCounter:
    """Positions per symbol and the day trades counted per trading day, from fills."""

    positions: dict[str, int] = field(default_factory=dict)
    _today: dict[str, _Today] = field(default_factory=dict)
    _counts: dict[date, int] = field(default_factory=dict)

    def load_position(self, symbol: str, qty: int) -> None:
        """A position carried in from before (start-up reconciliation): held overnight."""
        self.positions[symbol] = qty
        self._today.pop(symbol, None)

    def _state(self, symbol: str, day: date) -> _Today:
        t = self._today.get(symbol)
        return t if t is not None and t.day == day else _Today(day)

    def on_fill(self, symbol: str, side: Side, qty: int, ts_ns: int) -> bool:
        """Record a fill; True if it completed a day trade."""
        day = trading_date(ts_ns)
        pos, today, counted = _apply(self.positions.get(symbol, 0), self._state(symbol, day), side, qty)
        self.positions[symbol], self._today[symbol] = pos, today
        if counted:
            self._counts[day] = self._counts.get(day, 0) + 1
        return counted

    def would_day_trade(self, symbol: str, side: Side, qty: int, ts_ns: int) -> bool:
        """Whether a fill of `qty` now would complete a day trade."""
        day = trading_date(ts_ns)
        return _apply(self.positions.get(symbol, 0), self._state(symbol, day), side, qty)[2]

    def opens(self, symbol: str, side: Side, qty: int) -> bool:
        """Whether a fill would open or add to a position (a sell of more than the long opens a short)."""
        pos = self.positions.get(symbol, 0)
        return pos == 0 or (pos > 0) == (side == Side.BUY) or qty > abs(pos)

    def count(self, ts_ns: int, window_days: int = 5) -> int:
        """Day trades within the `window_days` trading days ending with the day of `ts_ns`."""
        days = business_days_ending(trading_date(ts_ns), window_days)
        return sum(self._counts.get(d, 0) for d in days)


# ---- the rules ---------------------------------------------------------------------------------------


@dataclass
class EquityRules:
    """The pre-trade equity rules of one broker account. Feed it every fill (`on_fill`)."""

    config: EquityConfig = field(default_factory=EquityConfig)
    day_trades: DayTradeCounter = field(default_factory=DayTradeCounter)

    def position(self, symbol: str) -> int:
        return self.day_trades.positions.get(symbol, 0)

    def on_fill(self, symbol: str, side: Side, qty: int, ts_ns: int) -> bool:
        """Record a fill; True if it completed a day trade."""
        return self.day_trades.on_fill(symbol, side, qty, ts_ns)

    def check(
        self,
        order: EquityOrder,
        ts_ns: int,
        equity: Decimal,
        marks: Mapping[str, Decimal] | None = None,
        *,
        working_sell_qty: int = 0,
    ) -> Denial | None:
        """None if `order` may be sent at `ts_ns`, else why not.

        `equity` is the account's current equity (net liquidation value); `marks` the prices to value
        positions at for the intraday-margin requirement: every held symbol needs one, or the order is
        denied `NO_MARK` (the order's own symbol falls back to its limit price); `working_sell_qty` the
        shares of `order.symbol` already committed by working sell orders.
        """
        cfg = self.config
        if order.qty <= 0 or (order.limit_price is not None and not order.limit_price > 0):
            return Denial.INVALID_ORDER
        try:
            hours = hours_denial(order, ts_ns, cfg.extended_hours)
        except CalendarError:
            return Denial.CALENDAR_UNKNOWN
        if hours is not None:
            return hours
        pos = self.position(order.symbol)
        if order.side == Side.SELL and not cfg.allow_short and order.qty + working_sell_qty > max(pos, 0):
            return Denial.SHORT_SALE
        if cfg.day_trading is DayTradingRule.PATTERN_DAY_TRADER:
            return self._pattern_day_trader(order, ts_ns, equity)
        if cfg.day_trading is DayTradingRule.INTRADAY_MARGIN:
            return self._intraday_margin(order, equity, marks or {})
        return None

    def _pattern_day_trader(self, order: EquityOrder, ts_ns: int, equity: Decimal) -> Denial | None:
        cfg = self.config
        if equity >= cfg.pdt_min_equity:
            return None
        if self.day_trades.count(ts_ns, cfg.pdt_window_days) + 1 < cfg.pdt_day_trades:
            return None  # room for one more day trade
        dt = self.day_trades
        if dt.would_day_trade(order.symbol, order.side, order.qty, ts_ns) or dt.opens(
            order.symbol, order.side, order.qty
        ):
            return Denial.PATTERN_DAY_TRADER
        return None

    def requirement(self, positions: Mapping[str, int], marks: Mapping[str, Decimal]) -> Decimal | None:
        """The maintenance requirement of `positions` at `marks` (None if a position has no mark)."""
        cfg = self.config
        total = Decimal(0)
        for symbol, qty in positions.items():
            if qty == 0:
                continue
            mark = marks.get(symbol)
            if mark is None:
                return None
            rate = cfg.long_maintenance if qty > 0 else cfg.short_maintenance
            total += abs(qty) * mark * rate
        return total

    def _intraday_margin(
        self, order: EquityOrder, equity: Decimal, marks: Mapping[str, Decimal]
    ) -> Denial | None:
        prices = dict(marks)
        if order.symbol not in prices:
            if order.limit_price is None:
                return Denial.NO_MARK
            prices[order.symbol] = order.limit_price
        before = dict(self.day_trades.positions)
        after = dict(before)
        signed = order.qty if order.side == Side.BUY else -order.qty
        after[order.symbol] = after.get(order.symbol, 0) + signed
        req_before, req_after = self.requirement(before, prices), self.requirement(after, prices)
        if req_before is None or req_after is None:
            return Denial.NO_MARK
        if req_after > equity and req_after > req_before:
            return Denial.INTRADAY_MARGIN_DEFICIT
        return None


@dataclass
class EquityGate:
    """The equity rules as the engine's pre-trade check for a broker venue (see `Engine(pre_trade=)`):
    every order the strategy wants passes here before the risk gate, and every fill is fed back.

    `session_clock` decides which market session it is (a simulator's session clock when rehearsing;
    by default the engine's own time); `equity` is the account's net liquidation value."""

    rules: EquityRules
    equity: Decimal
    session_clock: Clock | None = None

    def load_position(self, symbol: str, qty: int) -> None:
        self.rules.day_trades.load_position(symbol, qty)

    def check(
        self,
        symbol: str,
        side: Side,
        price: str,
        qty: str,
        now_ns: int,
        marks: Mapping[str, Decimal],
        working_sell: str = "0",
    ) -> str | None:
        """None, or why not (a `Denial` name). `price`/`qty`/`working_sell` are the venue's decimal
        strings; `working_sell` is held by our live sells (a broker will not sell those shares twice)."""
        shares = Decimal(qty)
        if shares != shares.to_integral_value():
            return Denial.INVALID_ORDER.name
        order = EquityOrder(symbol, side, int(shares), Decimal(price))
        ts = self.session_clock.now_ns() if self.session_clock is not None else now_ns
        working = int(Decimal(working_sell).to_integral_value(rounding=ROUND_CEILING))
        denial = self.rules.check(order, ts, self.equity, marks, working_sell_qty=working)
        return None if denial is None else denial.name

    def on_fill(self, symbol: str, side: Side, qty: str, ts_ns: int) -> None:
        ts = self.session_clock.now_ns() if self.session_clock is not None else ts_ns
        self.rules.on_fill(symbol, side, int(Decimal(qty)), ts)
