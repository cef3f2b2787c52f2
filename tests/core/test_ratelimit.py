import pytest

from trader.core import InvalidInputError, RateLimiter, TraderError, UnknownNameError, Window

S = 1_000_000_000
T0 = 1_700_000_040 * S  # a multiple of 10 s and of a minute


def binance_spot() -> tuple[RateLimiter, int, int]:
    rl = RateLimiter()
    weight = rl.add_quota("REQUEST_WEIGHT", [Window(6000, 60 * S)])
    orders = rl.add_quota("ORDERS", [Window(100, 10 * S), Window(200_000, 86_400 * S)])
    return rl, weight, orders


def test_windows_and_retry_times() -> None:
    rl, weight, orders = binance_spot()
    assert rl.quota_id("ORDERS") == orders
    for _ in range(100):
        assert rl.try_acquire(orders, 1, T0) is None
    assert rl.try_acquire(orders, 1, T0 + 3 * S) == T0 + 10 * S
    assert rl.try_acquire(orders, 1, T0 + 10 * S) is None
    assert rl.usage(orders, T0 + 10 * S) == [(10 * S, 1, 100), (86_400 * S, 101, 200_000)]
    assert rl.try_acquire(weight, 6000, T0) is None
    assert rl.try_acquire(weight, 1, T0 + S) == T0 + 60 * S


def test_reserve_priority_and_block() -> None:
    rl = RateLimiter()
    q = rl.add_quota("orders", [Window(10, S, rolling=True, reserve=2)])
    for _ in range(8):
        assert rl.try_acquire(q, 1, T0) is None
    assert rl.try_acquire(q, 1, T0 + 1) == T0 + S
    assert rl.try_acquire(q, 1, T0 + 1, priority=True) is None
    rl.block_until(q, T0 + 5 * S)
    assert rl.try_acquire(q, 1, T0 + 2 * S, priority=True) == T0 + 5 * S
    assert rl.try_acquire(q, 1, T0 + 5 * S) is None


def test_observed_usage_is_conservative() -> None:
    rl, weight, _ = binance_spot()
    rl.observe_usage(weight, 60 * S, 5999, T0)
    assert rl.try_acquire(weight, 2, T0) == T0 + 60 * S
    rl.observe_usage(weight, 60 * S, 10, T0)
    assert rl.usage(weight, T0)[0] == (60 * S, 5999, 6000)


def test_errors() -> None:
    rl, weight, _ = binance_spot()
    with pytest.raises(UnknownNameError) as e:
        rl.quota_id("nope")
    assert isinstance(e.value, TraderError)
    assert isinstance(e.value, LookupError)
    with pytest.raises(UnknownNameError):
        rl.try_acquire(99, 1, T0)
    with pytest.raises(InvalidInputError, match="can never fit"):
        rl.try_acquire(weight, 6001, T0)
    with pytest.raises(InvalidInputError, match="already exists"):
        rl.add_quota("REQUEST_WEIGHT", [Window(1, S)])
    with pytest.raises(InvalidInputError, match="at least one window"):
        rl.add_quota("x", [])
    with pytest.raises(InvalidInputError, match="reserve"):
        rl.add_quota("x", [Window(5, S, reserve=5)])
    with pytest.raises(InvalidInputError, match="no 5 ns window"):
        rl.observe_usage(weight, 5, 1, T0)
    with pytest.raises(OverflowError):
        rl.try_acquire(weight, -1, T0)
    w = Window(5, S, rolling=True, reserve=1)
    assert (w.limit, w.interval_ns, w.rolling, w.reserve) == (5, S, True, 1)
    assert repr(w) == f"Window(limit=5, interval_ns={S}, rolling=True, reserve=1)"
