"""Rate limiter: one `try_acquire` on Binance spot's order quota (10 s and 1 day windows) against the
same fixed-window limiter in plain Python."""

from typing import Any

import pytest

from trader.core import RateLimiter, Window

S = 1_000_000_000
T0 = 1_700_000_000 * S


class PyFixedWindows:
    """Fixed windows aligned to the epoch, charged all-or-nothing: what the core does, in Python."""

    def __init__(self, windows: list[tuple[int, int]]) -> None:
        self.windows = [
            [limit, interval, 0, 0] for limit, interval in windows
        ]  # limit, interval, bucket, used

    def try_acquire(self, cost: int, now_ns: int) -> int | None:
        retry = None
        for w in self.windows:
            bucket = now_ns // w[1]
            if bucket != w[2]:
                w[2], w[3] = bucket, 0
            if w[3] + cost > w[0]:
                t = (bucket + 1) * w[1]
                retry = t if retry is None else max(retry, t)
        if retry is not None:
            return retry
        for w in self.windows:
            w[3] += cost
        return None


WINDOWS = [(100, 10 * S), (200_000, 86_400 * S)]
STEP = S // 2  # 20 orders per 10 s and 172,800 a day: always within both windows


@pytest.mark.benchmark(group="ratelimit.try_acquire")
def test_ours_try_acquire(benchmark: Any) -> None:
    rl = RateLimiter()
    q = rl.add_quota("ORDERS", [Window(limit, interval) for limit, interval in WINDOWS])
    clock = {"now": T0}

    def run() -> int | None:
        now = clock["now"] = clock["now"] + STEP
        return rl.try_acquire(q, 1, now)

    benchmark.extra_info.update(role="ours", target_median_ns=200)
    assert benchmark(run) is None
    assert rl.usage(q, clock["now"])[0][1] >= 1


@pytest.mark.benchmark(group="ratelimit.try_acquire")
def test_python_try_acquire(benchmark: Any) -> None:
    lim = PyFixedWindows(WINDOWS)
    clock = {"now": T0}

    def run() -> int | None:
        now = clock["now"] = clock["now"] + STEP
        return lim.try_acquire(1, now)

    benchmark.extra_info["role"] = "baseline"
    assert benchmark(run) is None


def test_baseline_agrees_with_core() -> None:
    rl = RateLimiter()
    q = rl.add_quota("ORDERS", [Window(limit, interval) for limit, interval in WINDOWS])
    lim = PyFixedWindows(WINDOWS)
    now = T0
    for k in range(1000):
        now += (k * 7919) % (S // 5)
        assert rl.try_acquire(q, 1, now) == lim.try_acquire(1, now)
