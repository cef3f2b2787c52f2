from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import InvalidInputError, Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, Strategy
from trader.strategies.rewards import (
    BookOrder,
    RewardCapture,
    RewardCaptureParams,
    RewardParams,
    best_price,
    in_band,
    non_scoring,
    order_score,
    q_min,
    quote_size,
    reward_share,
    side_scores,
    spread_cents,
)

RP = RewardParams(max_spread=Decimal(3), min_size=5000, daily_pool=Decimal(100))  # v 3c, min 50 shares
P = RewardCaptureParams(
    yes="YES",
    no="NO",
    one=100,
    rewards=RP,
    max_size=10_000,  # 100 shares
    max_notional=Decimal(100),
    max_position=20_000,
    fill_decay=1.0,
)
S = 1_000_000_000


def _yes(bid: int | None, ask: int | None, ts: int = S) -> BookTop:
    return BookTop("YES", bid, 100 if bid is not None else 0, ask, 100 if ask is not None else 0, ts)


def _places(intents: list[Intent]) -> list[Place]:
    return [i for i in intents if isinstance(i, Place)]


def _ack(rc: RewardCapture, intents: list[Intent]) -> dict[str, str]:
    ids = {}
    for n, p in enumerate(_places(intents)):
        cid = f"{p.tag}-{n}"
        rc.on_order(OwnOrder(cid, p.instrument, p.side, p.price, p.qty, True))
        ids[p.tag] = cid
    return ids


# ---- the venue's formula ---------------------------------------------------------------------------


def test_order_score_matches_the_doc_example() -> None:
    # docs: mid 0.50, v = 3c, 100 shares bid at 0.49 -> ((3 - 1) / 3)^2 * 100 = 44.4 points
    assert spread_cents(49, Fraction(50), 100) == 1
    assert spread_cents(490, Fraction(500), 1000) == 1  # tick 0.001: one = 1000
    assert order_score(3, spread_cents(49, Fraction(50), 100), 100) == Fraction(400, 9)
    assert round(float(order_score(3, 1, 100)), 1) == 44.4


def test_order_score_edges() -> None:
    assert order_score(3, 0, 100) == 100  # at the midpoint: full size
    assert order_score(3, 3, 100) == 0  # at v
    assert order_score(3, Fraction(7, 2), 100) == 0  # beyond v: does not score
    assert order_score(Decimal("4.5"), Decimal("1.5"), 100) == Fraction(400, 9)  # ((4.5-1.5)/4.5)^2 = 4/9
    assert order_score(3, 1, 100, b=2) == Fraction(800, 9)  # the in-game multiplier
    with pytest.raises(InvalidInputError):
        order_score(3, -1, 100)
    with pytest.raises(InvalidInputError):
        order_score(0, 1, 100)


def test_side_scores_count_the_complement_mirrored() -> None:
    orders = [
        BookOrder(False, Side.BUY, 49, 10_000),  # m bid, s 1c, 100 sh: 400/9 -> Q_one
        BookOrder(True, Side.SELL, 52, 20_000),  # m' ask, s 2c from m' mid 0.50, 200 sh: 200/9 -> Q_one
        BookOrder(False, Side.SELL, 51, 10_000),  # m ask, s 1c: 400/9 -> Q_two
        BookOrder(False, Side.BUY, 50, 4_000),  # 40 sh < min size 50: does not count
        BookOrder(False, Side.BUY, 47, 10_000),  # s 3c = v: scores 0
    ]
    q_one, q_two = side_scores(orders, Fraction(50), 100, RP)
    assert (q_one, q_two) == (Fraction(200, 3), Fraction(400, 9))
    # Q_min = max(min(200/3, 400/9), max(200/3, 400/9) / 3) = max(400/9, 200/9)
    assert q_min(q_one, q_two, Fraction(50), 100) == Fraction(400, 9)


def test_complement_spread_is_taken_from_the_complement_midpoint() -> None:
    # mid of m is 0.30, so the NO midpoint is 0.70: a NO bid at 0.69 is 1c away -> Q_two
    q_one, q_two = side_scores([BookOrder(True, Side.BUY, 69, 10_000)], Fraction(30), 100, RP)
    assert q_one == 0
    assert q_two == Fraction(400, 9)


def test_single_sided_scores_a_third_inside_the_band_and_nothing_outside() -> None:
    q = Fraction(400, 9)
    assert q_min(q, Fraction(0), Fraction(50), 100) == Fraction(400, 27)
    assert q_min(Fraction(0), q, Fraction(50), 100) == Fraction(400, 27)
    assert q_min(q, Fraction(0), Fraction(10), 100) == Fraction(400, 27)  # 0.10 is inside
    assert q_min(q, Fraction(0), Fraction(90), 100) == Fraction(400, 27)  # 0.90 is inside
    assert q_min(q, Fraction(0), Fraction(19, 2), 100) == 0  # 0.095
    assert q_min(q, Fraction(0), Fraction(181, 2), 100) == 0  # 0.905
    assert q_min(q, q / 2, Fraction(5), 100) == q / 2  # outside: the smaller side
    assert q_min(q, Fraction(0), Fraction(50), 100, c=2) == q / 2
    assert in_band(Fraction(100), 1000)
    assert not in_band(Fraction(99), 1000)


def test_reward_share_and_the_one_dollar_minimum() -> None:
    assert reward_share(Fraction(400, 9), Fraction(3600, 9), Decimal(100)) == 10  # 10% of $100
    assert reward_share(Fraction(400, 9), Fraction(3600, 9), Decimal(5)) == 0  # $0.50: not paid
    assert reward_share(Fraction(0), Fraction(10), Decimal(100)) == 0


def test_non_scoring_reports_only_resting_orders_answered_false() -> None:
    answers = {"a": True, "b": False, "gone": False}
    assert non_scoring(answers, ["a", "b", "c"]) == ["b"]


# ---- choosing the quote ------------------------------------------------------------------------------


def test_best_price_trades_score_against_fill_risk() -> None:
    mid = Fraction(50)
    # k = 1: (2/3)^2 e^1 = 1.21 at 1c beats (1/3)^2 e^2 = 0.82 at 2c
    assert best_price(mid, 100, 1, RP, 1.0, bid=True) == 49
    assert best_price(mid, 100, 1, RP, 1.0, bid=False) == 51
    assert best_price(mid, 100, 1, RP, 0.0, bid=True) == 49  # no risk model: closest
    # k = 3: optimum v - 2/k = 2.33c -> 2c: (1/3)^2 e^6 = 44.8 beats (2/3)^2 e^3 = 8.9
    assert best_price(mid, 100, 1, RP, 3.0, bid=True) == 48
    assert best_price(mid, 100, 1, RP, 3.0, bid=False) == 52
    wide = RewardParams(Decimal("4.5"), 0, Decimal(1))
    # v 4.5, k 1: 1c 1.64, 2c 2.28, 3c 2.23, 4c 0.67
    assert best_price(mid, 100, 1, wide, 1.0, bid=True) == 48
    # half-tick midpoint 50.5: 0.5c 1.15, 1.5c 1.12, 2.5c 0.34
    assert best_price(Fraction(101, 2), 100, 1, RP, 1.0, bid=True) == 50
    # 'closer' moves toward the midpoint, bounded by the closest price
    assert best_price(mid, 100, 1, RP, 3.0, bid=True, closer=1) == 49
    assert best_price(mid, 100, 1, RP, 3.0, bid=True, closer=5) == 49
    # a midpoint at 0.01 leaves no bid price strictly below it in (0, 1)
    assert best_price(Fraction(1), 100, 1, RP, 1.0, bid=True) is None


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 1998), st.floats(0, 10), st.sampled_from(["0.5", "1", "3", "4.5", "10"]))
def test_best_price_is_inside_the_reward_band_and_never_crosses(twice_mid: int, k: float, v: str) -> None:
    mid = Fraction(twice_mid, 2)
    rp = RewardParams(Decimal(v), 0, Decimal(1))
    bid = best_price(mid, 1000, 1, rp, k, bid=True)
    ask = best_price(mid, 1000, 1, rp, k, bid=False)
    if bid is not None:
        assert 1 <= bid < mid
        assert spread_cents(bid, mid, 1000) < Decimal(v)
    if ask is not None:
        assert mid < ask <= 999
        assert spread_cents(ask, mid, 1000) < Decimal(v)


def test_quote_size_limits() -> None:
    # $20 at 0.50 buys 40 shares = 4000 units
    assert quote_size(50, 100, 10_000, Decimal(20), 0) == 4000
    assert quote_size(50, 100, 3000, Decimal(20), 0) == 3000
    assert quote_size(50, 100, 10_000, Decimal(20), 5000) is None  # below the reward min size
    assert quote_size(500, 1000, 10_000, Decimal("20.01"), 0) == 4002


# ---- the strategy ------------------------------------------------------------------------------------


def test_params_are_checked() -> None:
    with pytest.raises(ConfigError):
        RewardParams(Decimal(0), 0, Decimal(1))
    with pytest.raises(ConfigError):
        RewardCaptureParams("A", "A", 100, RP, 1, Decimal(1), 1)


def test_is_a_strategy() -> None:
    s: Strategy = RewardCapture(P)
    assert s.on_timer(S) == []


def test_quotes_both_sides_one_cent_out_and_scores_two_sided() -> None:
    rc = RewardCapture(P)
    out = rc.on_book(_yes(48, 52))
    # the YES ask at 0.51 is bought as NO at 0.49; 100 shares each (the notional allows 204)
    assert out == [
        Place("YES", Side.BUY, 49, 10_000, True, "bid"),
        Place("NO", Side.BUY, 49, 10_000, True, "ask"),
    ]
    assert rc.plan(Fraction(50)).q_min == Fraction(400, 9)


def test_recenters_when_the_midpoint_moves() -> None:
    rc = RewardCapture(P)
    ids = _ack(rc, rc.on_book(_yes(48, 52)))
    assert rc.on_book(_yes(47, 53, 2 * S)) == []  # same midpoint: nothing to do
    moved = rc.on_book(_yes(53, 57, 3 * S))  # mid 0.55: bid 0.54, ask 0.56 (NO at 0.44)
    assert moved == [
        Cancel(ids["bid"]),
        Place("YES", Side.BUY, 54, 10_000, True, "bid"),
        Cancel(ids["ask"]),
        Place("NO", Side.BUY, 44, 10_000, True, "ask"),
    ]


def test_inventory_limit_leaves_one_side_in_the_band_and_none_outside() -> None:
    rc = RewardCapture(P, yes_pos=20_000)  # net at +max: no YES bid
    out = rc.on_book(_yes(48, 52))
    assert out == [Place("YES", Side.SELL, 51, 10_000, True, "ask")]  # sells the YES it holds
    assert rc.plan(Fraction(50)).q_min == Fraction(400, 27)  # one side alone: a third
    edge = RewardCapture(P, yes_pos=20_000)
    assert edge.on_book(_yes(5, 7)) == []  # mid 0.06: a lone side would score nothing
    assert edge.plan(Fraction(6)).q_min == 0
    both = RewardCapture(P).on_book(_yes(5, 7))  # two-sided is fine outside the band
    assert [(p.instrument, p.price) for p in _places(both)] == [("YES", 5), ("NO", 93)]


def test_min_size_out_of_reach_quotes_nothing() -> None:
    small = RewardCaptureParams("YES", "NO", 100, RP, 10_000, Decimal(20), 20_000)  # $20 at 0.49: 40 sh
    assert RewardCapture(small).on_book(_yes(48, 52)) == []


def test_non_scoring_quote_is_moved_closer_and_requoted() -> None:
    params = RewardCaptureParams("YES", "NO", 100, RP, 10_000, Decimal(100), 20_000, fill_decay=3.0)
    rc = RewardCapture(params)
    ids = _ack(rc, rc.on_book(_yes(48, 52)))  # k = 3: 2c out, bid 48 and ask 52 (NO 48)
    assert rc.on_scoring({ids["bid"]: True, ids["ask"]: True}) == []
    out = rc.on_scoring({ids["bid"]: False, ids["ask"]: True, "someone-else": False})
    assert out == [Cancel(ids["bid"]), Place("YES", Side.BUY, 49, 10_000, True, "bid")]
    assert rc.closer == {"bid": 1, "ask": 0}


def test_partial_fill_below_min_size_is_canceled() -> None:
    rc = RewardCapture(P)
    ids = _ack(rc, rc.on_book(_yes(48, 52)))
    assert rc.on_fill(OwnFill(ids["bid"], "YES", Side.BUY, 49, 4000, 2 * S)) == []  # 60 sh left
    assert rc.on_fill(OwnFill(ids["bid"], "YES", Side.BUY, 49, 2000, 3 * S)) == [
        Cancel(ids["bid"])
    ]  # 40 left
    assert rc.yes_pos == 6000
    again = rc.on_book(_yes(48, 52, 4 * S))
    assert again == [Place("YES", Side.BUY, 49, 10_000, True, "bid")]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 98), st.integers(1, 20), st.integers(-25_000, 25_000), st.floats(0, 6))
def test_resting_quotes_never_cross(bid: int, width: int, net: int, k: float) -> None:
    params = RewardCaptureParams("YES", "NO", 100, RP, 10_000, Decimal(100), 20_000, fill_decay=k)
    rc = RewardCapture(params, yes_pos=max(net, 0), no_pos=max(-net, 0))
    ask = min(bid + width, 99)
    places = _places(rc.on_book(_yes(bid, ask)))
    yes_terms = {p.tag: (p.price if p.instrument == "YES" else 100 - p.price) for p in places}
    for p in places:
        assert 1 <= p.price <= 99
        assert p.post_only
    if "bid" in yes_terms:
        assert yes_terms["bid"] < ask
    if "ask" in yes_terms:
        assert yes_terms["ask"] > bid
    if len(yes_terms) == 2:
        assert yes_terms["bid"] < yes_terms["ask"]
    if len(yes_terms) == 1:
        assert in_band(Fraction(bid + ask, 2), 100), "a lone side only inside the band"
