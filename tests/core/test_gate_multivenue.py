"""One risk gate over many venues: asset exposure across venues, per-venue throttle and daily loss,
quote currencies converted to the reporting currency with a depeg guard."""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import (
    Approval,
    Denial,
    DenyReason,
    InstrumentSpec,
    InvalidInputError,
    RiskGate,
    Side,
    TradingState,
    UnknownNameError,
)

T0 = 1_700_000_000_000_000_000
SEC = 1_000_000_000
# price and quantity in whole units: price 100 x qty 5 is a notional of 500
SPEC = InstrumentSpec("1", "1", min_qty="1", min_notional="1")


def big_gate() -> RiskGate:
    return RiskGate(
        max_gross_notional="1000000",
        max_net_notional="1000000",
        max_open_orders=1000,
        max_orders_per_sec=1000,
        daily_loss_limit="100000",
        duplicate_window_ns=1,
        max_reference_age_ns=1000 * SEC,
    )


def add(
    g: RiskGate, venue: int, symbol: str, *, currency: int | None = None, asset: int | None = None
) -> int:
    i = g.add_instrument(
        venue,
        symbol,
        SPEC,
        max_order_qty="1000",
        max_order_notional="1000000",
        max_position="10000",
        max_open_orders=1000,
        collar_bps=9999,
        currency=currency,
        asset=asset,
    )
    g.set_reference(i, 99, 101, T0)  # mark 100
    return i


@dataclass
class Two:
    g: RiskGate
    s: int
    binance: int
    okx: int
    spot: int
    perp: int
    btc: int


def two_venues(*, with_asset: bool = True) -> Two:
    g = big_gate()
    binance = g.add_venue(
        "binance",
        max_gross_notional="10000",
        max_open_orders=100,
        max_orders_per_sec=3,
        daily_loss_limit="100",
        daily_loss_halt="200",
    )
    okx = g.add_venue("okx", max_gross_notional="10000", max_open_orders=100)
    s = g.add_strategy("basis", max_orders_per_sec=1000)
    btc = g.add_asset("BTC", max_net_notional="1000") if with_asset else -1
    asset = btc if with_asset else None
    spot = add(g, binance, "BTC-USD", asset=asset)
    perp = add(g, okx, "BTC-USD-SWAP", asset=asset)
    return Two(g, s, binance, okx, spot, perp, btc)


def reason(r: Approval | Denial) -> DenyReason:
    assert isinstance(r, Denial), r
    return r.reason


def fill(g: RiskGate, s: int, i: int, side: Side, price: int, qty: int, now: int = T0) -> None:
    a = g.check(s, i, side, price, qty, now)
    assert isinstance(a, Approval), a
    g.on_fill(a.key, qty, price)


def test_aggregate_denies_what_every_venue_allows() -> None:
    m = two_venues()
    assert isinstance(m.g.check(m.s, m.spot, Side.BUY, 99, 8, T0), Approval)  # BTC long 800 on binance
    d = m.g.check(m.s, m.perp, Side.BUY, 99, 3, T0)  # okx allows 300 more; BTC across venues does not
    assert reason(d) == DenyReason.ASSET_EXPOSURE_LIMIT
    assert isinstance(d, Denial)
    assert "BTC" in d.detail
    assert m.g.asset_exposure(m.btc) == (Decimal(800), Decimal(0))
    # the same orders without the asset limit: every per-venue limit allows them
    n = two_venues(with_asset=False)
    assert isinstance(n.g.check(n.s, n.spot, Side.BUY, 99, 8, T0), Approval)
    assert isinstance(n.g.check(n.s, n.perp, Side.BUY, 99, 3, T0), Approval)


def test_spot_long_and_perp_short_on_two_venues_net() -> None:
    m = two_venues()
    fill(m.g, m.s, m.spot, Side.BUY, 100, 5)
    fill(m.g, m.s, m.perp, Side.SELL, 100, 5)
    assert m.g.asset_net(m.btc) == 0
    assert m.g.asset_exposure(m.btc) == (Decimal(0), Decimal(0))
    assert m.g.venue_gross_exposure(m.binance) == m.g.venue_gross_exposure(m.okx) == 500
    assert m.g.gross_exposure() == 1000
    # with the legs netted, 1000 more long fits; counted leg by leg it would be 1500
    assert isinstance(m.g.check(m.s, m.spot, Side.BUY, 99, 10, T0 + 10), Approval)
    assert reason(m.g.check(m.s, m.spot, Side.BUY, 98, 1, T0 + 20)) == DenyReason.ASSET_EXPOSURE_LIMIT
    # reducing is never denied for exposure
    assert isinstance(m.g.check(m.s, m.perp, Side.BUY, 98, 5, T0 + 30), Approval)


def test_venue_daily_loss_halts_that_venue_only() -> None:
    m = two_venues()
    fill(m.g, m.s, m.spot, Side.BUY, 100, 10)
    fill(m.g, m.s, m.perp, Side.SELL, 100, 10)
    m.g.set_reference(m.spot, 84, 86, T0)  # binance: -150
    assert m.g.venue_daily_pnl(m.binance) == -150
    assert m.g.venue_daily_pnl(m.okx) == 0
    assert m.g.daily_pnl() == -150
    assert m.g.trading_state(venue=m.binance) == TradingState.REDUCING
    d = m.g.check(m.s, m.spot, Side.BUY, 84, 1, T0 + 1)
    assert reason(d) == DenyReason.DAILY_LOSS_LIMIT
    assert isinstance(d, Denial)
    assert "binance" in d.detail
    assert isinstance(m.g.check(m.s, m.spot, Side.SELL, 86, 1, T0 + 2), Approval), "reducing passes"
    m.g.set_reference(m.spot, 74, 76, T0)  # -250: halted
    assert m.g.trading_state(venue=m.binance) == TradingState.HALTED
    assert reason(m.g.check(m.s, m.spot, Side.SELL, 76, 1, T0 + SEC)) == DenyReason.DAILY_LOSS_LIMIT
    assert m.g.trading_state(venue=m.okx) == TradingState.ACTIVE
    assert m.g.trading_state() == TradingState.ACTIVE
    assert isinstance(m.g.check(m.s, m.perp, Side.SELL, 101, 1, T0 + 3), Approval), "okx trades on"
    m.g.reset_daily(T0 + 4)
    assert m.g.trading_state(venue=m.binance) == TradingState.ACTIVE
    assert m.g.venue_daily_pnl(m.binance) == 0


def test_depeg_denies_new_exposure() -> None:
    g = big_gate()
    v = g.add_venue("binance-futures", max_gross_notional="100000", max_open_orders=100)
    s = g.add_strategy("s", max_orders_per_sec=100)
    usdt = g.add_currency("USDT", max_depeg_bps=50)
    assert g.currency_rate(usdt) == 1
    perp = add(g, v, "BTCUSDT", currency=usdt)
    fill(g, s, perp, Side.BUY, 100, 10)
    g.set_rate(usdt, Decimal("0.99"))
    assert g.currency_rate(usdt) == Decimal("0.99")
    d = g.check(s, perp, Side.BUY, 99, 1, T0 + 1)
    assert reason(d) == DenyReason.CURRENCY_DEPEG
    assert isinstance(d, Denial)
    assert "USDT" in d.detail
    assert isinstance(g.check(s, perp, Side.SELL, 101, 4, T0 + 2), Approval), "reducing passes"
    g.set_rate(usdt, "0.996")
    assert isinstance(g.check(s, perp, Side.BUY, 99, 1, T0 + 3), Approval)


def test_aggregates_are_converted_at_the_rate() -> None:
    g = big_gate()
    v = g.add_venue("polymarket", max_gross_notional="100000", max_open_orders=100)
    s = g.add_strategy("s", max_orders_per_sec=100)
    half = g.add_currency("HALF", "0.5")
    eth = g.add_asset("ETH", max_net_notional="100000", max_gross_notional="100000")
    i = add(g, v, "ETH-HALF", currency=half, asset=eth)
    a = g.check(s, i, Side.BUY, 100, 30, T0)
    assert isinstance(a, Approval)
    assert a.notional == 3000, "the order itself is in its own units"
    assert g.venue_gross_exposure(v) == g.gross_exposure() == 1500
    g.on_fill(a.key, 30, 100)
    g.set_reference(i, 109, 111, T0)  # +300 in its units, +150 reported
    assert g.daily_pnl() == g.venue_daily_pnl(v) == 150
    g.set_rate(half, "1")
    assert g.daily_pnl() == 300
    assert g.asset_net(eth) == 3300
    assert g.net_exposure() == (Decimal(3300), Decimal(3300))


def test_venue_throttle() -> None:
    m = two_venues()
    for k in range(3):
        assert isinstance(m.g.check(m.s, m.spot, Side.BUY, 90 - k, 1, T0), Approval)
    d = m.g.check(m.s, m.spot, Side.BUY, 80, 1, T0)
    assert reason(d) == DenyReason.ORDER_RATE_LIMIT
    assert isinstance(d, Denial)
    assert "venue order rate" in d.detail
    for k in range(5):
        assert isinstance(m.g.check(m.s, m.perp, Side.BUY, 90 - k, 1, T0), Approval), (
            "okx has no venue throttle"
        )
    assert isinstance(m.g.check(m.s, m.spot, Side.BUY, 80, 1, T0 + SEC + 1), Approval)


def test_new_limits_are_validated() -> None:
    g = big_gate()
    with pytest.raises(InvalidInputError):
        g.add_venue("a", max_gross_notional="1", max_open_orders=1, max_orders_per_sec=0)
    with pytest.raises(InvalidInputError):
        g.add_venue("a", max_gross_notional="1", max_open_orders=1, daily_loss_limit="0")
    with pytest.raises(InvalidInputError):
        g.add_venue("a", max_gross_notional="1", max_open_orders=1, daily_loss_limit="2", daily_loss_halt="1")
    with pytest.raises(InvalidInputError):
        g.add_venue("a", max_gross_notional="1", max_open_orders=1, daily_loss_halt="1")
    with pytest.raises(InvalidInputError):
        g.add_currency("C", "0")
    with pytest.raises(InvalidInputError):
        g.add_currency("C", "1.0000000001")
    with pytest.raises(InvalidInputError):
        g.add_currency("C", max_depeg_bps=0)
    with pytest.raises(InvalidInputError):
        g.add_asset("A", max_net_notional="0")
    with pytest.raises(InvalidInputError):
        g.add_asset("A", max_net_notional="1", max_gross_notional="-1")
    v = g.add_venue("a", max_gross_notional="1", max_open_orders=1, daily_loss_limit="5")
    with pytest.raises(UnknownNameError):
        add(g, v, "X", currency=7)
    with pytest.raises(UnknownNameError):
        add(g, v, "X", asset=7)
    with pytest.raises(UnknownNameError):
        g.asset_net(0)
    with pytest.raises(UnknownNameError):
        g.set_rate(3, "1")


# ---- the multi-venue gate against a small Python model --------------------------------------------

E18 = 10**18
RATE_ONE = 10**9
# (venue, currency, asset) per instrument; currency 0 has a 100 bps depeg guard
LAYOUT = [(0, None, 0), (1, 0, 0), (2, 1, 0), (0, 0, 1), (1, None, 1), (2, 0, None)]
VENUE_THROTTLE = [4, None, 6]
VENUE_LOSS = [(60, 150), (40, 40), None]
VENUE_GROSS = 1000
ASSET_NET = [1200, 900]
ASSET_GROSS = [1300, None]
RATES = ["1", "0.995", "1.02", "0.5", "1.25", "0.333333333", "1.0099"]


def conv(x: int, rate: int) -> int:
    """Quote-currency notional units to reporting currency: times the rate, truncated toward zero."""
    q = abs(x) * rate // RATE_ONE
    return q if x >= 0 else -q


@dataclass
class Order:
    key: int
    inst: int
    buy: bool
    price: int
    qty: int


class Model:
    def __init__(self) -> None:
        self.pos = [0] * len(LAYOUT)
        self.cash = [0] * len(LAYOUT)
        self.mark = [100] * len(LAYOUT)
        self.rates = [RATE_ONE, RATE_ONE]
        self.orders: list[Order] = []
        self.sent = [0, 0, 0]  # approvals per venue since the window cleared
        self.day_start = [0, 0, 0]
        self.loss = [0, 0, 0]  # 0 active, 1 reducing, 2 halted

    def rate(self, i: int) -> int:
        c = LAYOUT[i][1]
        return RATE_ONE if c is None else self.rates[c]

    def open(self, i: int, buy: bool) -> int:
        return sum(o.qty for o in self.orders if o.inst == i and o.buy == buy)

    def worst(self, i: int, eb: int = 0, es: int = 0) -> tuple[int, int]:
        p, v = self.pos[i], self.mark[i] * E18
        long = (p + self.open(i, True) + eb) * v
        short = (p - self.open(i, False) - es) * v
        return conv(long, self.rate(i)), conv(short, self.rate(i))

    def gross(self, i: int, eb: int = 0, es: int = 0) -> int:
        lo, sh = self.worst(i, eb, es)
        return max(abs(lo), abs(sh))

    def pnl(self, i: int) -> int:
        return conv(self.cash[i] + self.pos[i] * self.mark[i] * E18, self.rate(i))

    def venue_pnl(self, v: int) -> int:
        return sum(self.pnl(i) for i in range(len(LAYOUT)) if LAYOUT[i][0] == v)

    def venue_gross(self, v: int) -> int:
        return sum(self.gross(i) for i in range(len(LAYOUT)) if LAYOUT[i][0] == v)

    def asset(self, a: int) -> tuple[int, int, int, int]:
        ks = [i for i in range(len(LAYOUT)) if LAYOUT[i][2] == a]
        net = sum(conv(self.pos[i] * self.mark[i] * E18, self.rate(i)) for i in ks)
        return (
            sum(self.worst(i)[0] for i in ks),
            sum(self.worst(i)[1] for i in ks),
            sum(self.gross(i) for i in ks),
            net,
        )

    def update_loss(self) -> None:
        for v, lim in enumerate(VENUE_LOSS):
            if lim is not None:
                loss = self.day_start[v] - self.venue_pnl(v)
                s = 2 if loss >= lim[1] * E18 else 1 if loss >= lim[0] * E18 else 0
                self.loss[v] = max(self.loss[v], s)

    def check(self, i: int, buy: bool, price: int, qty: int) -> DenyReason | None:
        v, c, a = LAYOUT[i]
        if self.loss[v] == 2:
            return DenyReason.DAILY_LOSS_LIMIT
        p = self.pos[i]
        reduces = (
            p < 0 and p + self.open(i, True) + qty <= 0
            if buy
            else p > 0 and p - self.open(i, False) - qty >= 0
        )
        if not reduces:
            if self.loss[v] == 1:
                return DenyReason.DAILY_LOSS_LIMIT
            if c == 0 and abs(self.rates[0] - RATE_ONE) * 10_000 > 100 * RATE_ONE:
                return DenyReason.CURRENCY_DEPEG
        if any(
            o.inst == i and o.buy != buy and (o.price <= price if buy else o.price >= price)
            for o in self.orders
        ):
            return DenyReason.SELF_CROSS
        eb, es = (qty, 0) if buy else (0, qty)
        d_gross = self.gross(i, eb, es) - self.gross(i)
        (nl, ns), (ol, os_) = self.worst(i, eb, es), self.worst(i)
        if d_gross > 0 and self.venue_gross(v) + d_gross > VENUE_GROSS * E18:
            return DenyReason.VENUE_EXPOSURE_LIMIT
        if not reduces and a is not None:
            al, ash, ag, _ = self.asset(a)
            limit, gross_limit = ASSET_NET[a] * E18, ASSET_GROSS[a]
            breach = nl > ol and al + nl - ol > limit if buy else ns < os_ and ash + ns - os_ < -limit
            if breach or (d_gross > 0 and gross_limit is not None and ag + d_gross > gross_limit * E18):
                return DenyReason.ASSET_EXPOSURE_LIMIT
        throttle = VENUE_THROTTLE[v]
        if throttle is not None:
            if self.sent[v] >= throttle:
                return DenyReason.ORDER_RATE_LIMIT
            self.sent[v] += 1
        return None


def multi_gate() -> RiskGate:
    g = big_gate()
    for v in range(3):
        loss = VENUE_LOSS[v]
        g.add_venue(
            f"v{v}",
            max_gross_notional=str(VENUE_GROSS),
            max_open_orders=1000,
            max_orders_per_sec=VENUE_THROTTLE[v],
            daily_loss_limit=None if loss is None else str(loss[0]),
            daily_loss_halt=None if loss is None else str(loss[1]),
        )
    g.add_strategy("s", max_orders_per_sec=1000)
    g.add_currency("USDT", max_depeg_bps=100)
    g.add_currency("USDC")
    for k in range(2):
        gross = ASSET_GROSS[k]
        g.add_asset(
            f"A{k}",
            max_net_notional=str(ASSET_NET[k]),
            max_gross_notional=None if gross is None else str(gross),
        )
    for i, (v, c, a) in enumerate(LAYOUT):
        add(g, v, f"I{i}", currency=c, asset=a)
    return g


def units(d: Decimal) -> int:
    return int(d.scaleb(18))


def assert_agree(g: RiskGate, m: Model) -> None:
    for v in range(3):
        assert units(g.venue_daily_pnl(v)) == m.venue_pnl(v) - m.day_start[v]
        assert units(g.venue_gross_exposure(v)) == m.venue_gross(v)
        assert (
            g.trading_state(venue=v)
            == [TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED][m.loss[v]]
        )
    for a in range(2):
        lo, sh, _, net = m.asset(a)
        assert tuple(units(x) for x in g.asset_exposure(a)) == (lo, sh)
        assert units(g.asset_net(a)) == net
    assert units(g.daily_pnl()) == sum(m.venue_pnl(v) - m.day_start[v] for v in range(3))
    assert units(g.gross_exposure()) == sum(m.gross(i) for i in range(len(LAYOUT)))


_CHECK = st.tuples(st.just("check"), st.integers(0, len(LAYOUT) - 1), st.booleans(), st.integers(1, 8))
_OPS = st.one_of(
    *[_CHECK] * 6,
    st.tuples(st.just("fill"), st.integers(0, 50), st.integers(0, 9)),
    st.tuples(st.just("fill"), st.integers(0, 50), st.integers(0, 9)),
    st.tuples(st.just("close"), st.integers(0, 50)),
    st.tuples(st.just("external"), st.integers(0, len(LAYOUT) - 1), st.booleans(), st.integers(1, 6)),
    st.tuples(st.just("mark"), st.integers(0, len(LAYOUT) - 1), st.integers(60, 140)),
    st.tuples(st.just("mark"), st.integers(0, len(LAYOUT) - 1), st.integers(60, 140)),
    st.tuples(st.just("rate"), st.integers(0, 1), st.sampled_from(RATES)),
    st.tuples(st.just("advance")),
    st.tuples(st.just("reset")),
)


def _step(g: RiskGate, m: Model, op: tuple[object, ...], now: int) -> None:
    match op:
        case ("check", int(i), bool(buy), int(qty)):
            price = m.mark[i] - 1 if buy else m.mark[i] + 1
            got = g.check(0, i, Side.BUY if buy else Side.SELL, price, qty, now)
            want = m.check(i, buy, price, qty)
            assert (got.reason if isinstance(got, Denial) else None) == want, (op, got)
            if isinstance(got, Approval):
                m.orders.append(Order(got.key, i, buy, price, qty))
        case ("fill", int(k), int(fee)) if m.orders:
            # a fee of a few 1e-18 makes the conversion's truncation show
            o = m.orders.pop(k % len(m.orders))
            g.on_fill(o.key, o.qty, o.price, f"{fee}e-18")
            sign = 1 if o.buy else -1
            m.pos[o.inst] += sign * o.qty
            m.cash[o.inst] -= sign * o.price * o.qty * E18 + fee
        case ("external", int(i), bool(buy), int(qty)):
            # a fill of no order of ours (liquidation, an order placed elsewhere) at the mark
            g.on_external_fill(i, Side.BUY if buy else Side.SELL, qty, m.mark[i])
            m.pos[i] += qty if buy else -qty
            m.cash[i] -= (1 if buy else -1) * m.mark[i] * qty * E18
        case ("close", int(k)) if m.orders:
            g.on_closed(m.orders.pop(k % len(m.orders)).key)
        case ("mark", int(i), int(mark)):
            g.set_reference(i, mark - 1, mark + 1, now)
            m.mark[i] = mark
        case ("rate", int(c), str(rate)):
            g.set_rate(c, rate)
            m.rates[c] = int(Decimal(rate) * RATE_ONE)
            assert g.currency_rate(c) == Decimal(rate)
        case ("advance",):
            m.sent = [0, 0, 0]
        case ("reset",):
            g.reset_daily(now)
            m.day_start = [m.venue_pnl(v) for v in range(3)]
            m.loss = [0, 0, 0]


@settings(max_examples=100, deadline=None)
@given(st.lists(_OPS, min_size=20, max_size=60))
def test_multi_venue_gate_matches_model(ops: list[tuple[object, ...]]) -> None:
    g, m, now = multi_gate(), Model(), T0
    for op in ops:
        now += 3 * SEC // 2 if op == ("advance",) else 2
        _step(g, m, op, now)
        m.update_loss()
        assert_agree(g, m)


def test_a_venue_net_limit_bounds_its_long_and_short_but_not_reducing_orders() -> None:
    g = big_gate()
    v = g.add_venue("v", max_gross_notional="100000", max_open_orders=100, max_net_notional="1000")
    other = g.add_venue("w", max_gross_notional="100000", max_open_orders=100)
    s = g.add_strategy("s", max_orders_per_sec=1000)
    a, b = add(g, v, "A"), add(g, v, "B")
    c = add(g, other, "C")
    assert isinstance(g.check(s, a, Side.BUY, 100, 6, T0), Approval)  # 600 long on v
    denied = g.check(s, b, Side.BUY, 100, 5, T0 + 1)  # 1,100 long on v: over its net
    assert isinstance(denied, Denial)
    assert denied.reason == DenyReason.VENUE_EXPOSURE_LIMIT
    assert "net" in denied.detail
    assert isinstance(g.check(s, b, Side.BUY, 100, 4, T0 + 2), Approval)  # 1,000: at the limit
    assert isinstance(g.check(s, c, Side.BUY, 100, 50, T0 + 3), Approval)  # another venue: its own
    assert isinstance(g.check(s, b, Side.SELL, 101, 10, T0 + 4), Approval)  # the short side: -1,000
    assert isinstance(g.check(s, a, Side.SELL, 101, 6, T0 + 5), Denial)  # -1,600 worst-case short
    with pytest.raises(InvalidInputError):
        g.add_venue("x", max_gross_notional="1", max_open_orders=1, max_net_notional="0")
