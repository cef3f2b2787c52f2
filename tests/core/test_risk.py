from decimal import Decimal

import pytest

from trader.core import (
    Approval,
    Denial,
    DenyReason,
    InstrumentSpec,
    InvalidInputError,
    KillSwitchLatchedError,
    OrderType,
    RiskGate,
    Side,
    TimeInForce,
    TraderError,
    TradingState,
    UnknownNameError,
    UnknownOrderError,
)

T0 = 1_700_000_000_000_000_000
SPEC = InstrumentSpec("0.01", "0.001", min_qty="0.001", min_notional="5")


def make_gate() -> tuple[RiskGate, int, int]:
    g = RiskGate(
        max_gross_notional="100000",
        max_net_notional="80000",
        max_open_orders=50,
        max_orders_per_sec=100,
        daily_loss_limit="500",
        daily_loss_halt="1000",
    )
    v = g.add_venue("binance", max_gross_notional="60000", max_open_orders=40)
    s = g.add_strategy("mm", max_orders_per_sec=50)
    i = g.add_instrument(
        v,
        "BTCUSDT",
        SPEC,
        max_order_qty="0.5",
        max_order_notional="30000",
        max_position="1",
        max_open_orders=10,
        collar_bps=100,
    )
    g.set_reference(i, 5_000_000, 5_000_100, T0)  # 50000.00 / 50001.00
    return g, s, i


def denied(r: Approval | Denial) -> DenyReason:
    assert isinstance(r, Denial), r
    assert not r
    assert r.approved is False
    return r.reason


def test_approval_carries_the_order() -> None:
    g, s, i = make_gate()
    a = g.check(s, i, Side.BUY, 4_999_000, 100, T0)
    assert isinstance(a, Approval)
    assert a
    assert a.approved
    assert (a.strategy, a.instrument, a.side, a.price, a.qty) == (s, i, Side.BUY, 4_999_000, 100)
    assert (a.order_type, a.tif, a.expire_ns, a.reduce_only, a.post_only) == (
        OrderType.LIMIT,
        TimeInForce.GTC,
        0,
        False,
        False,
    )
    assert a.notional == Decimal("4999")
    assert a.approved_ns == T0
    assert g.open_quantity(i) == (100, 0)
    assert g.open_order_count() == 1
    assert "Approval(key=" in repr(a)


def test_only_the_gate_creates_approvals() -> None:
    with pytest.raises(TypeError):
        Approval()
    with pytest.raises(TypeError):
        Denial()


@pytest.mark.parametrize(
    ("side", "price", "qty", "kwargs", "reason"),
    [
        (Side.BUY, 4_999_000, 0, {}, DenyReason.INVALID_QUANTITY),
        (Side.BUY, 4_999_000, -5, {}, DenyReason.INVALID_QUANTITY),
        (Side.BUY, 0, 1, {}, DenyReason.INVALID_PRICE),
        (Side.BUY, -1, 1, {}, DenyReason.INVALID_PRICE),
        (Side.BUY, 2**70, 1, {}, DenyReason.NUMERIC_OVERFLOW),
        (Side.BUY, 4_999_000, -(2**70), {}, DenyReason.NUMERIC_OVERFLOW),
        (Side.BUY, 4_999_000, 501, {}, DenyReason.MAX_ORDER_QTY),
        (Side.BUY, 100, 1, {}, DenyReason.BELOW_MIN_NOTIONAL),
        (Side.BUY, 5_050_200, 1, {}, DenyReason.PRICE_COLLAR),
        (Side.SELL, 4_949_999, 1, {}, DenyReason.PRICE_COLLAR),
        (Side.BUY, 4_999_000, 1, {"tif": TimeInForce.GTD, "expire_ns": T0}, DenyReason.INVALID_EXPIRY),
        (Side.SELL, 5_000_100, 1, {"reduce_only": True}, DenyReason.REDUCE_ONLY_WOULD_INCREASE),
        (Side.BUY, 5_000, 1, {"order_type": OrderType.MARKET}, DenyReason.INVALID_PRICE),
    ],
)
def test_per_order_denials(
    side: Side, price: int, qty: int, kwargs: dict[str, object], reason: DenyReason
) -> None:
    g, s, i = make_gate()
    r = g.check(s, i, side, price, qty, T0, **kwargs)  # type: ignore[arg-type]
    assert denied(r) == reason
    assert r.detail  # type: ignore[union-attr]
    assert g.open_order_count() == 0


def test_non_int_prices_are_typed_errors_not_denials() -> None:
    g, s, i = make_gate()
    for bad in (float("nan"), float("inf"), 1.5, "100", Decimal("1"), True):
        with pytest.raises(InvalidInputError, match="must be an int"):
            g.check(s, i, Side.BUY, bad, 1, T0)  # type: ignore[arg-type]


def test_market_order_gets_a_protective_price() -> None:
    g, s, i = make_gate()
    a = g.check(s, i, Side.BUY, 0, 10, T0, order_type=OrderType.MARKET)
    assert isinstance(a, Approval)
    assert a.price == 5_050_101  # 50001.00 * 1.01 = 50501.01
    g.invalidate_reference(i)
    assert (
        denied(g.check(s, i, Side.BUY, 0, 11, T0, order_type=OrderType.MARKET))
        == DenyReason.NO_REFERENCE_PRICE
    )


def test_stale_reference_denies() -> None:
    g, s, i = make_gate()
    assert denied(g.check(s, i, Side.BUY, 4_999_000, 1, T0 + 3_000_000_000)) == DenyReason.NO_REFERENCE_PRICE


def test_duplicates_self_cross_and_unknown_exposure() -> None:
    g, s, i = make_gate()
    a = g.check(s, i, Side.BUY, 4_999_000, 600 // 2, T0)
    assert isinstance(a, Approval)
    assert denied(g.check(s, i, Side.BUY, 4_999_000, 300, T0 + 1)) == DenyReason.DUPLICATE_INTENT
    assert denied(g.check(s, i, Side.SELL, 4_999_000, 1, T0 + 2)) == DenyReason.SELF_CROSS
    g.on_unknown(a.key)
    assert g.unknown_orders() == [a.key]
    b = g.check(s, i, Side.BUY, 4_998_000, 500, T0 + 3)
    assert isinstance(b, Approval)
    # 300 + 500 in flight/unknown; max position 1.000 = 1000 units
    assert denied(g.check(s, i, Side.BUY, 4_997_000, 201, T0 + 4)) == DenyReason.POSITION_LIMIT
    g.on_fill(a.key, 300, 4_999_000, fee="0.5")
    assert g.position(i) == 300
    assert g.open_quantity(i) == (500, 0)
    with pytest.raises(UnknownOrderError):
        g.on_fill(a.key, 1, 4_999_000)
    g.on_closed(b.key)
    assert g.open_order_count() == 0
    assert g.live_orders() == []


def test_pnl_exposure_and_daily_loss() -> None:
    g, s, i = make_gate()
    a = g.check(s, i, Side.BUY, 5_000_000, 500, T0)
    assert isinstance(a, Approval)
    g.on_ack(a.key)
    g.on_fill(a.key, 500, 5_000_000, fee="1.25")
    # 0.5 BTC at 50000, mark 50000.50: pnl = 0.25 - 1.25
    assert g.daily_pnl() == Decimal("-1")
    assert g.gross_exposure() == Decimal("25000.25")
    assert g.net_exposure() == (Decimal("25000.25"), Decimal("25000.25"))
    g.set_reference(i, 4_899_000, 4_899_100, T0 + 1)  # mark 48990.50 -> loss 505 + 1.25
    assert g.trading_state() == TradingState.REDUCING
    assert denied(g.check(s, i, Side.BUY, 4_899_000, 1, T0 + 2)) == DenyReason.DAILY_LOSS_LIMIT
    assert isinstance(g.check(s, i, Side.SELL, 4_899_100, 500, T0 + 2), Approval)
    g.reset_daily(T0 + 3)
    assert g.daily_pnl() == Decimal("0")


def test_states_and_kill_switch() -> None:
    g, s, i = make_gate()
    g.set_trading_state(TradingState.HALTED, venue=0)
    assert g.trading_state(venue=0) == TradingState.HALTED
    assert denied(g.check(s, i, Side.BUY, 4_999_000, 1, T0)) == DenyReason.TRADING_HALTED
    g.set_trading_state(TradingState.ACTIVE, venue=0)
    g.kill("operator pressed the button", T0, strategy=s)
    assert g.is_killed(strategy=s)
    assert denied(g.check(s, i, Side.BUY, 4_999_000, 1, T0)) == DenyReason.KILL_SWITCH
    with pytest.raises(KillSwitchLatchedError) as e:
        g.set_trading_state(TradingState.ACTIVE, strategy=s)
    assert isinstance(e.value, TraderError)
    with pytest.raises(InvalidInputError, match="operator"):
        g.reset_kill("", T0, strategy=s)
    g.reset_kill("alice", T0 + 1, strategy=s)
    assert g.trading_state(strategy=s) == TradingState.HALTED
    g.set_trading_state(TradingState.ACTIVE, strategy=s)
    assert isinstance(g.check(s, i, Side.BUY, 4_999_000, 1, T0), Approval)
    assert any("alice" in line for line in g.audit_log())
    with pytest.raises(InvalidInputError, match="not both"):
        g.kill("x", T0, venue=0, strategy=0)
    with pytest.raises(UnknownNameError):
        g.kill("x", T0, venue=7)


def test_bad_limits_are_rejected() -> None:
    base: dict[str, object] = {
        "max_gross_notional": "1",
        "max_net_notional": "1",
        "max_open_orders": 1,
        "max_orders_per_sec": 1,
        "daily_loss_limit": "1",
    }
    for key, bad in [("max_gross_notional", "0"), ("max_net_notional", "-5"), ("daily_loss_limit", "inf")]:
        with pytest.raises(InvalidInputError):
            RiskGate(**{**base, key: bad})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="daily_loss_halt"):
        RiskGate(**{**base, "daily_loss_halt": "0.5"})  # type: ignore[arg-type]
    g = RiskGate(**base)  # type: ignore[arg-type]
    v = g.add_venue("v", max_gross_notional=Decimal("10"), max_open_orders=1)
    with pytest.raises(InvalidInputError, match="already registered"):
        g.add_venue("v", max_gross_notional="10", max_open_orders=1)
    with pytest.raises(InvalidInputError, match="not a multiple"):
        g.add_instrument(
            v,
            "X",
            SPEC,
            max_order_qty="0.0005",
            max_order_notional="1",
            max_position="1",
            max_open_orders=1,
            collar_bps=10,
        )
    with pytest.raises(InvalidInputError, match="collar_bps"):
        g.add_instrument(
            v,
            "X",
            SPEC,
            max_order_qty="1",
            max_order_notional="1",
            max_position="1",
            max_open_orders=1,
            collar_bps=0,
        )
    with pytest.raises(UnknownNameError):
        g.add_instrument(
            9,
            "X",
            SPEC,
            max_order_qty="1",
            max_order_notional="1",
            max_position="1",
            max_open_orders=1,
            collar_bps=1,
        )


def test_a_reference_dated_in_the_future_is_refused() -> None:
    """The time contract: references are stamped with our clock. One dated ahead (a venue's clock mixed
    in) is a typed denial at any later time, never a price that stays fresh forever."""
    g, s, i = make_gate()
    day = 86_400_000_000_000
    g.set_reference(i, 4_999_000, 5_000_100, T0 + day)
    for now in (T0, T0 + 3_000_000_000, T0 + day // 2):
        assert denied(g.check(s, i, Side.BUY, 4_999_000, 1, now)) == DenyReason.REFERENCE_FROM_FUTURE
    g.set_reference(i, 4_999_000, 5_000_100, T0 + 50_000_000)  # two readings of one clock, 50 ms apart
    assert isinstance(g.check(s, i, Side.BUY, 4_999_000, 2, T0), Approval)
