"""One risk gate over many venues: asset exposure across venues, per-venue throttle and daily loss,
quote currencies converted to the reporting currency with a depeg guard."""

from dataclasses import dataclass
from decimal import Decimal

import pytest

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


def add(g: RiskGate, venue: int, symbol: str, *, currency: int | None = None, asset: int | None = None) -> int:
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
    assert isinstance(d, Denial) and "BTC" in d.detail
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
    assert isinstance(d, Denial) and "binance" in d.detail
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
    assert isinstance(d, Denial) and "USDT" in d.detail
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
    assert isinstance(d, Denial) and "venue order rate" in d.detail
    for k in range(5):
        assert isinstance(m.g.check(m.s, m.perp, Side.BUY, 90 - k, 1, T0), Approval), "okx has no venue throttle"
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
