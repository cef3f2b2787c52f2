import math
from collections.abc import Sequence
from dataclasses import replace

import pytest

from trader.core import Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, Strategy
from trader.strategies.pairs import PairsParams, PairsStatArb, Phase, ols_zscore

A, B = "KO", "PEP"
S = 1_000_000_000
N = 20
P = PairsParams(
    leg_a=A,
    leg_b=B,
    qty_a=100,
    window=N,
    bar_s=1.0,
    entry_z=2.0,
    exit_z=0.5,
    stop_z=3.0,
    leg_timeout_s=5.0,
    max_reprice=1,
)


# ---- the statistics ----------------------------------------------------------------------------------


def test_ols_and_z_by_hand() -> None:
    # x = 0,1,2,3  y = 0,2,4,7: mean x 1.5, mean y 3.25, Sxy = 11.5, Sxx = 5 -> beta 2.3, alpha -0.2;
    # fitted -0.2, 2.1, 4.4, 6.7 -> residuals 0.2, -0.1, -0.4, 0.3; sum e^2 = 0.30, sd = sqrt(0.30 / 4);
    # z = 0.3 / sqrt(0.075) = sqrt(1.2)
    st = ols_zscore([0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 7.0])
    assert st is not None
    assert st.beta == pytest.approx(2.3, abs=1e-12)
    assert st.alpha == pytest.approx(-0.2, abs=1e-12)
    assert st.residual == pytest.approx(0.3, abs=1e-12)
    assert st.sd == pytest.approx(math.sqrt(0.075), abs=1e-12)
    assert st.z == pytest.approx(math.sqrt(1.2), abs=1e-12)
    # a second one, with a negative slope and the last point on the line:
    # x = 0..4, y = 6, 3, 4, 1, 0: mean x 2, mean y 2.8, Sxy = -14, Sxx = 10 -> beta -1.4, alpha 5.6;
    # fitted 5.6, 4.2, 2.8, 1.4, 0.0 -> residuals 0.4, -1.2, 1.2, -0.4, 0; z of the last = 0
    st2 = ols_zscore([0.0, 1.0, 2.0, 3.0, 4.0], [6.0, 3.0, 4.0, 1.0, 0.0])
    assert st2 is not None
    assert st2.beta == pytest.approx(-1.4)
    assert st2.alpha == pytest.approx(5.6)
    assert st2.sd == pytest.approx(math.sqrt((0.16 + 1.44 + 1.44 + 0.16) / 5))
    assert st2.z == pytest.approx(0.0, abs=1e-12)


def test_degenerate_fits_have_no_z() -> None:
    assert ols_zscore([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None, "flat x"
    xs = [math.log(b) for b in (10, 20, 30, 40)]
    ys = [math.log(b * b) for b in (10, 20, 30, 40)]  # a = b^2: ln a = 2 ln b exactly
    assert ols_zscore(xs, ys) is None
    assert ols_zscore([1.0, 2.0], [1.0, 2.0]) is None, "too short"


# ---- a market for the strategy -----------------------------------------------------------------------


def b_mid(i: int) -> int:
    return 10_000 + 40 * ((i * 7) % 11)


def a_mid(i: int, jump: int = 0) -> int:
    """A ~ 2 B with a little alternating noise; `jump` moves A away from the relation."""
    return 2 * b_mid(i) + (6 if i % 2 else -6) + jump


def top(instrument: str, mid: int, ts: int) -> BookTop:
    return BookTop(instrument, mid - 1, 500, mid + 1, 500, ts)


def bar(s: PairsStatArb, i: int, a: int, b: int) -> list[Intent]:
    """The books of bar i, then the timer at the start of bar i + 1 that closes it."""
    assert s.on_book(top(A, a, i * S + 1_000)) == []
    assert s.on_book(top(B, b, i * S + 2_000)) == []
    return s.on_timer((i + 1) * S)


def warm(s: PairsStatArb) -> None:
    for i in range(N - 1):
        assert bar(s, i, a_mid(i), b_mid(i)) == []
    assert s.stats is None, "no fit before the window is full"


def phase(s: PairsStatArb) -> Phase:
    """Read through a call, so mypy does not keep an earlier narrowing of the attribute."""
    return s.phase


def stopped(s: PairsStatArb) -> bool:
    return s.stopped


def ack(s: PairsStatArb, places: Sequence[Intent], prefix: str) -> list[str]:
    ids = []
    for n, p in enumerate(places):
        assert isinstance(p, Place)
        cid = f"{prefix}{n}"
        assert s.on_order(OwnOrder(cid, p.instrument, p.side, p.price, p.qty, True)) == []
        ids.append(cid)
    return ids


def fill(s: PairsStatArb, cid: str, p: Place, qty: int, ts: int) -> list[Intent]:
    out = s.on_fill(OwnFill(cid, p.instrument, p.side, p.price, qty, ts))
    if qty == p.qty:
        out += s.on_order(OwnOrder(cid, p.instrument, p.side, p.price, 0, False))
    return out


def done(s: PairsStatArb, cid: str, p: Place, remaining: int) -> list[Intent]:
    """The venue reports the order closed (canceled or rejected) with `remaining` unfilled."""
    return s.on_order(OwnOrder(cid, p.instrument, p.side, p.price, remaining, False))


def places(intents: list[Intent]) -> list[Place]:
    out = [i for i in intents if isinstance(i, Place)]
    assert len(out) == len(intents)
    return out


def enter(s: PairsStatArb) -> list[Place]:
    """Warm up, then A jumps 12 above its relation to B: z ~ +2.4, a short-spread entry."""
    warm(s)
    return places(bar(s, N - 1, a_mid(N - 1, 12), b_mid(N - 1)))


def enter_filled(s: PairsStatArb) -> None:
    legs = enter(s)
    ids = ack(s, legs, "e")
    for cid, p in zip(ids, legs, strict=True):
        fill(s, cid, p, p.qty, N * S + 10)
    assert phase(s) is Phase.OPEN


# ---- life cycle --------------------------------------------------------------------------------------


def test_is_a_strategy() -> None:
    s: Strategy = PairsStatArb(P)
    assert s.on_timer(0) == []
    assert s.on_book(top("XOM", 100, 1)) == []


def test_stats_follow_the_log_mids_of_closed_bars() -> None:
    s = PairsStatArb(replace(P, window=4))
    mids = [(2000, 1000), (2050, 1010), (1990, 1020), (2100, 1030)]
    for i, (a, b) in enumerate(mids):
        s.on_book(top(A, a + 500, i * S + 1))  # overwritten before the bar closes: not sampled
        s.on_book(top(A, a, i * S + 2))
        s.on_book(top(B, b, i * S + 3))
        s.on_timer((i + 1) * S)
    expected = ols_zscore([math.log(b) for _, b in mids], [math.log(a) for a, _ in mids])
    assert s.stats == expected
    assert s.stats is not None
    assert s.stats.beta != 0


def test_entry_sizes_the_hedge_and_exits_on_reversion() -> None:
    s = PairsStatArb(P)
    legs = enter(s)
    st = s.stats
    assert st is not None
    assert P.entry_z <= st.z < P.stop_z
    a, b = a_mid(N - 1, 12), b_mid(N - 1)
    qty_b = round(st.beta * 100 * a / b)
    assert 180 <= qty_b <= 220, "beta ~ 1 and A ~ 2 B: about 200 B per 100 A"
    # A is rich: sell A at the bid, buy B at the ask; limit orders at the touch, not post-only
    assert legs == [
        Place(A, Side.SELL, a - 1, 100, False, "entry"),
        Place(B, Side.BUY, b + 1, qty_b, False, "entry"),
    ]
    assert phase(s) is Phase.ENTERING
    ids = ack(s, legs, "e")
    assert fill(s, ids[0], legs[0], 100, N * S + 10) == []
    assert phase(s) is Phase.ENTERING, "one leg is not a position"
    fill(s, ids[1], legs[1], qty_b, N * S + 20)
    assert phase(s) is Phase.OPEN
    assert (s.position(A), s.position(B)) == (-100, qty_b)
    # the spread comes back (here it even overshoots: z < 0 <= exit_z): close both legs
    a2, b2 = a_mid(N), b_mid(N)
    exits = places(bar(s, N, a2, b2))
    assert s.stats is not None
    assert s.stats.z <= P.exit_z
    assert exits == [
        Place(A, Side.BUY, a2 + 1, 100, False, "exit"),
        Place(B, Side.SELL, b2 - 1, qty_b, False, "exit"),
    ]
    ids = ack(s, exits, "x")
    for cid, p in zip(ids, exits, strict=True):
        fill(s, cid, p, p.qty, (N + 1) * S + 10)
    assert phase(s) is Phase.FLAT
    assert (s.position(A), s.position(B)) == (0, 0)


def test_no_exit_while_the_spread_stays_wide() -> None:
    s = PairsStatArb(P)
    enter_filled(s)
    assert bar(s, N, a_mid(N, 30), b_mid(N)) == []
    assert s.stats is not None
    assert P.exit_z < s.stats.z < P.stop_z
    assert phase(s) is Phase.OPEN


def test_stop_then_no_reentry_until_z_is_back_inside_entry() -> None:
    s = PairsStatArb(P)
    enter_filled(s)
    qty_b = s.position(B)
    stop = places(bar(s, N, a_mid(N, 60), b_mid(N)))  # A runs further away: z ~ 3.7
    assert s.stats is not None
    assert s.stats.z >= P.stop_z
    assert [(p.instrument, p.side, p.qty, p.tag) for p in stop] == [
        (A, Side.BUY, 100, "stop"),
        (B, Side.SELL, qty_b, "stop"),
    ]
    assert stopped(s)
    for cid, p in zip(ack(s, stop, "s"), stop, strict=True):
        fill(s, cid, p, p.qty, (N + 1) * S + 10)
    assert phase(s) is Phase.FLAT
    # still far from the relation: |z| >= entry_z, but no new entry after a stop
    assert bar(s, N + 1, a_mid(N + 1, 90), b_mid(N + 1)) == []
    assert s.stats is not None
    assert abs(s.stats.z) >= P.entry_z
    i = N + 2
    while stopped(s):
        assert bar(s, i, a_mid(i, 90), b_mid(i)) == [], "re-armed only once |z| < entry_z"
        i += 1
        assert i < 3 * N
    assert s.stats is not None
    assert abs(s.stats.z) < P.entry_z


# ---- leg risk ----------------------------------------------------------------------------------------


def test_one_leg_filled_the_other_is_canceled_and_repriced() -> None:
    s = PairsStatArb(P)
    legs = enter(s)
    ida, idb = ack(s, legs, "e")
    t = N * S + 100
    fill(s, ida, legs[0], 100, t)  # A sold; B (buy) rests
    assert s.on_timer(t + 5 * S - 1) == [], "the timeout runs from the first fill"
    assert s.on_timer(t + 5 * S) == [Cancel(idb)]
    assert s.on_timer(t + 5 * S + 1) == [], "canceled once"
    s.on_book(top(B, b_mid(N - 1) + 30, t + 5 * S + 2))  # B moved up meanwhile
    again = places(done(s, idb, legs[1], legs[1].qty))
    assert again == [Place(B, Side.BUY, b_mid(N - 1) + 31, legs[1].qty, False, "reprice")]
    assert s.reprices == 1
    (idb2,) = ack(s, again, "r")
    fill(s, idb2, again[0], again[0].qty, t + 6 * S)
    assert phase(s) is Phase.OPEN
    assert (s.position(A), s.position(B)) == (-100, legs[1].qty)


def test_reprices_exhausted_the_filled_leg_is_unwound() -> None:
    s = PairsStatArb(P)  # max_reprice=1
    legs = enter(s)
    ida, idb = ack(s, legs, "e")
    t = N * S + 100
    fill(s, ida, legs[0], 100, t)
    assert s.on_timer(t + 5 * S) == [Cancel(idb)]
    again = places(done(s, idb, legs[1], legs[1].qty))
    (idb2,) = ack(s, again, "r")
    # the repriced leg does not fill either: its own timeout (from its placement) cancels it
    assert s.on_timer(t + 10 * S - 1) == []
    assert s.on_timer(t + 10 * S) == [Cancel(idb2)]
    unwind = places(done(s, idb2, again[0], again[0].qty))
    a_ask = a_mid(N - 1, 12) + 1
    assert unwind == [Place(A, Side.BUY, a_ask, 100, False, "unwind")], "buy back the A that was sold"
    assert phase(s) is Phase.EXITING
    (idu,) = ack(s, unwind, "u")
    fill(s, idu, unwind[0], 100, t + 11 * S)
    assert phase(s) is Phase.FLAT
    assert (s.position(A), s.position(B)) == (0, 0)


def test_partial_fill_of_one_leg_with_no_reprice_unwinds_only_what_filled() -> None:
    s = PairsStatArb(replace(P, max_reprice=0))
    legs = enter(s)
    ida, idb = ack(s, legs, "e")
    t = N * S + 100
    assert fill(s, idb, legs[1], 50, t) == []  # 50 B bought, A not sold at all
    assert s.on_timer(t + 5 * S) == [Cancel(ida), Cancel(idb)]
    assert done(s, ida, legs[0], 100) == []
    unwind = places(done(s, idb, legs[1], legs[1].qty - 50))
    assert unwind == [Place(B, Side.SELL, b_mid(N - 1) - 1, 50, False, "unwind")]


def test_exit_legs_are_repriced_until_flat() -> None:
    s = PairsStatArb(P)
    enter_filled(s)
    exits = places(bar(s, N, a_mid(N), b_mid(N)))
    ida, idb = ack(s, exits, "x")
    t = (N + 1) * S + 100
    fill(s, ida, exits[0], 100, t)
    assert s.on_timer(t + 5 * S) == [Cancel(idb)]
    again = places(done(s, idb, exits[1], exits[1].qty))
    assert [(p.instrument, p.side, p.qty, p.tag) for p in again] == [(B, Side.SELL, exits[1].qty, "exit")]
    assert phase(s) is Phase.EXITING


def test_entry_with_no_fill_is_abandoned() -> None:
    s = PairsStatArb(P)
    legs = enter(s)
    ida, idb = ack(s, legs, "e")
    placed = N * S
    assert s.on_timer(placed + 5 * S - 1) == []
    assert s.on_timer(placed + 5 * S) == [Cancel(ida), Cancel(idb)]
    assert done(s, ida, legs[0], 100) == []
    assert done(s, idb, legs[1], legs[1].qty) == []
    assert phase(s) is Phase.FLAT


def test_venue_rejects_a_leg_after_the_other_filled() -> None:
    s = PairsStatArb(P)
    legs = enter(s)
    ida, idb = ack(s, legs, "e")
    fill(s, ida, legs[0], 100, N * S + 100)
    again = places(done(s, idb, legs[1], legs[1].qty))  # rejected: no need to wait for the timeout
    assert [(p.instrument, p.side, p.qty, p.tag) for p in again] == [(B, Side.BUY, legs[1].qty, "reprice")]


def test_gate_denial_cancels_the_other_leg_and_waits() -> None:
    s = PairsStatArb(P)
    legs = enter(s)
    assert s.on_denied(legs[0], "MaxPosition") == []  # A never left; B is being placed by the engine
    out = s.on_order(OwnOrder("e1", B, Side.BUY, legs[1].price, legs[1].qty, True))
    assert out == [Cancel("e1")], "B is canceled as soon as its id is known"
    assert done(s, "e1", legs[1], legs[1].qty) == []
    assert phase(s) is Phase.FLAT
    # the signal is still there on the next bar, but the strategy waits leg_timeout_s after a denial
    assert bar(s, N, a_mid(N, 30), b_mid(N)) == []
    assert s.stats is not None
    assert s.stats.z >= P.entry_z


def test_one_sided_book_is_not_a_mid() -> None:
    s = PairsStatArb(replace(P, bar_s=0.0, window=3))
    s.on_book(top(A, 2000, 1))
    s.on_book(BookTop(B, None, 0, 1001, 5, 2))
    s.on_book(top(A, 2010, 3))
    assert s.stats is None
    assert len(s._samples) == 0


def test_signal_while_a_book_is_crossed_does_not_enter() -> None:
    s = PairsStatArb(P)
    warm(s)
    s.on_book(top(A, a_mid(N - 1, 12), (N - 1) * S + 1_000))
    s.on_book(top(B, b_mid(N - 1), (N - 1) * S + 2_000))
    # the event that closes the signal bar finds A crossed: the bar is sampled, nothing can be priced
    assert s.on_book(BookTop(A, 2 * b_mid(N - 1) + 5, 5, 2 * b_mid(N - 1), 5, N * S + 1)) == []
    assert s.stats is not None
    assert s.stats.z >= P.entry_z
    assert phase(s) is Phase.FLAT


def test_params_are_validated() -> None:
    with pytest.raises(ConfigError):
        replace(P, exit_z=2.0)
    with pytest.raises(ConfigError):
        replace(P, stop_z=1.5)
    with pytest.raises(ConfigError):
        replace(P, qty_a=150, lot_a=100)
    with pytest.raises(ConfigError):
        replace(P, leg_b=A)
    with pytest.raises(ConfigError):
        replace(P, window=2)
