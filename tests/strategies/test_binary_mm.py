from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import Side
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, Strategy
from trader.strategies.binary_mm import BinaryMarketMaker, BinaryMarketMakerParams, YesView, yes_view

S = 1_000_000_000
END = 10_000 * S
P = BinaryMarketMakerParams(
    yes="YES",
    no="NO",
    one=100,
    order_qty=1000,  # 10 shares
    max_inventory=5000,
    half_spread=2,
    end_ns=END,
    stop_before_s=600,
    skew=4,
)


def _yes(bid: int | None, ask: int | None, ts: int = S, qty: int = 100) -> BookTop:
    return BookTop("YES", bid, qty if bid is not None else 0, ask, qty if ask is not None else 0, ts)


def _no(bid: int | None, ask: int | None, ts: int = S, qty: int = 100) -> BookTop:
    return BookTop("NO", bid, qty if bid is not None else 0, ask, qty if ask is not None else 0, ts)


def _places(intents: list[Intent]) -> list[Place]:
    return [i for i in intents if isinstance(i, Place)]


def _ack(mm: BinaryMarketMaker, intents: list[Intent]) -> dict[str, str]:
    """Acknowledge every placed quote as the engine does; returns tag -> client id."""
    ids = {}
    for n, p in enumerate(_places(intents)):
        cid = f"{p.tag}-{n}-{p.instrument}"
        mm.on_order(OwnOrder(cid, p.instrument, p.side, p.price, p.qty, True))
        ids[p.tag] = cid
    return ids


def _in_yes_terms(p: Place, one: int = 100) -> tuple[str, int]:
    """('bid' | 'ask', YES price) of an order on either token."""
    if p.instrument == "YES":
        return ("bid" if p.side == Side.BUY else "ask"), p.price
    return ("ask" if p.side == Side.BUY else "bid"), one - p.price


def test_is_a_strategy() -> None:
    s: Strategy = BinaryMarketMaker(P)
    assert s.on_timer(S) == []
    assert s.on_book(BookTop("OTHER", 40, 1, 60, 1, S)) == []


def test_params_are_checked() -> None:
    with pytest.raises(ConfigError):
        BinaryMarketMakerParams("A", "A", 100, 1, 1, 1, END)
    with pytest.raises(ConfigError):
        BinaryMarketMakerParams("A", "B", 100, 1, 1, 0, END)
    with pytest.raises(ConfigError):
        BinaryMarketMakerParams("A", "B", 1000, 1, 1, 1, END, tick=3)


def test_yes_view_mirrors_the_no_book() -> None:
    # NO bid 47 is a YES ask at 53, NO ask 51 a YES bid at 49: both beat the YES book 45/55
    assert yes_view(_yes(45, 55), _no(47, 51), 100) == YesView(49, 100, 53, 100)
    # equal best prices add their quantities
    assert yes_view(_yes(49, 53, qty=7), _no(47, 51, qty=5), 100) == YesView(49, 12, 53, 12)
    assert yes_view(None, _no(47, None), 100) == YesView(None, 0, 53, 100)
    assert yes_view(_yes(45, 55), None, 100) == YesView(45, 100, 55, 100)


def test_flat_quotes_buy_both_tokens_around_the_fair_value() -> None:
    mm = BinaryMarketMaker(P)
    out = mm.on_book(_yes(48, 52))
    assert mm.fair == 50
    # flat: the YES bid buys YES at 48, the YES ask at 52 is a NO bid at 100 - 52 = 48
    assert out == [
        Place("YES", Side.BUY, 48, 1000, True, "bid"),
        Place("NO", Side.BUY, 48, 1000, True, "ask"),
    ]


def test_fair_value_uses_both_books() -> None:
    mm = BinaryMarketMaker(P)
    mm.on_book(_yes(45, 55))
    out = mm.on_book(_no(47, 51))  # consolidated 49/53, fair 51
    assert mm.fair == 51
    assert out == [
        Place("YES", Side.BUY, 49, 1000, True, "bid"),
        Place("NO", Side.BUY, 47, 1000, True, "ask"),
    ]


def test_long_yes_lowers_quotes_and_sells_the_yes_it_holds() -> None:
    mm = BinaryMarketMaker(P, yes_pos=2500)
    # r = 50 - 4 * 2500 / 5000 = 48: bid 46, ask 50; holding 25 YES >= 10, so the ask sells YES
    out = mm.on_book(_yes(48, 52))
    assert out == [
        Place("YES", Side.BUY, 46, 1000, True, "bid"),
        Place("YES", Side.SELL, 50, 1000, True, "ask"),
    ]


def test_long_no_is_short_yes_raises_quotes_and_sells_the_no_it_holds() -> None:
    mm = BinaryMarketMaker(P, no_pos=2500)
    assert mm.net == -2500
    # r = 52: YES bid 50 expressed as a NO sell at 50, YES ask 54 as a NO buy at 46
    out = mm.on_book(_yes(48, 52))
    assert out == [
        Place("NO", Side.SELL, 50, 1000, True, "bid"),
        Place("NO", Side.BUY, 46, 1000, True, "ask"),
    ]


def test_holding_both_tokens_is_flat_and_sells_both() -> None:
    mm = BinaryMarketMaker(P, yes_pos=3000, no_pos=3000)
    out = mm.on_book(_yes(48, 52))
    assert out == [
        Place("NO", Side.SELL, 52, 1000, True, "bid"),
        Place("YES", Side.SELL, 52, 1000, True, "ask"),
    ]


def test_inventory_caps_each_side() -> None:
    long = BinaryMarketMaker(P, yes_pos=5000)
    assert long.quotes(Fraction(50)) == (None, 48)  # r = 46: no bid at +max, ask 48
    short = BinaryMarketMaker(P, no_pos=5000)
    assert short.quotes(Fraction(50)) == (52, None)


def test_never_crosses_the_consolidated_touch() -> None:
    mm = BinaryMarketMaker(P, no_pos=4000)
    # r = 50 + 3.2 = 53.2: the model bid 51 would take the 51 ask: it is pulled to 50 (a NO sell at 50)
    out = mm.on_book(_yes(49, 51))
    assert out == [
        Place("NO", Side.SELL, 50, 1000, True, "bid"),
        Place("NO", Side.BUY, 44, 1000, True, "ask"),
    ]


def test_price_band_edges_drop_a_side() -> None:
    mm = BinaryMarketMaker(P)
    out = mm.on_book(_yes(1, 3))  # fair 2: a bid at 0 is not a price
    assert out == [Place("NO", Side.BUY, 96, 1000, True, "ask")]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(1, 2000))
def test_skew_moves_quotes_against_net_inventory(yes_pos: int, no_pos: int, extra: int) -> None:
    def q(y: int, n: int) -> tuple[int | None, int | None]:
        return BinaryMarketMaker(P, yes_pos=y, no_pos=n).quotes(Fraction(50))

    base, more_yes, more_no = q(yes_pos, no_pos), q(yes_pos + extra, no_pos), q(yes_pos, no_pos + extra)
    for i in (0, 1):  # bid, ask
        b, y, n = base[i], more_yes[i], more_no[i]
        if b is not None and y is not None:
            assert y <= b, "more YES (net long) never raises a quote"
        if b is not None and n is not None:
            assert n >= b, "more NO (net short YES) never lowers a quote"
    # both tokens in equal amounts are flat: the same quotes as holding nothing
    assert q(yes_pos, yes_pos) == q(0, 0) == (48, 52)


def test_requotes_on_moves_and_route_changes() -> None:
    mm = BinaryMarketMaker(P)
    ids = _ack(mm, mm.on_book(_yes(48, 52)))
    assert mm.on_book(_yes(48, 52, 2 * S)) == []
    # a YES buy fills: net +1000, r = 49.2: bid 47 (moved), ask 52 now sells the YES held
    mm.on_fill(OwnFill(ids["bid"], "YES", Side.BUY, 48, 1000, 3 * S))
    mm.on_order(OwnOrder(ids["bid"], "YES", Side.BUY, 48, 0, False))
    out = mm.on_book(_yes(48, 52, 4 * S))
    assert out == [
        Place("YES", Side.BUY, 47, 1000, True, "bid"),
        Cancel(ids["ask"]),
        Place("YES", Side.SELL, 52, 1000, True, "ask"),
    ]


def test_crossed_or_missing_book_pulls_quotes() -> None:
    mm = BinaryMarketMaker(P)
    ids = _ack(mm, mm.on_book(_yes(48, 52)))
    # a NO bid at 55 is a YES ask at 45, below the YES bid 48: the consolidated book is crossed
    assert set(mm.on_book(_no(55, 60))) == {Cancel(ids["bid"]), Cancel(ids["ask"])}
    assert mm.fair is None
    mm2 = BinaryMarketMaker(P)
    ids2 = _ack(mm2, mm2.on_book(_yes(48, 52)))
    assert set(mm2.on_book(_yes(None, None, 2 * S))) == {Cancel(ids2["bid"]), Cancel(ids2["ask"])}


def test_stops_before_resolution_and_stays_stopped() -> None:
    mm = BinaryMarketMaker(P)
    stop = END - 600 * S
    ids = _ack(mm, mm.on_book(_yes(48, 52, stop - 1)))
    assert len(ids) == 2
    assert mm.on_timer(stop - 1) == []
    assert set(mm.on_timer(stop)) == {Cancel(ids["bid"]), Cancel(ids["ask"])}
    assert mm.stopped
    assert mm.on_book(_yes(40, 60, stop + 1)) == []
    assert mm.on_timer(stop + 2) == []
    # an order acknowledged after the stop is canceled at once
    assert mm.on_order(OwnOrder("late", "YES", Side.BUY, 48, 1000, True)) == [Cancel("late")]


def test_a_book_event_past_the_stop_time_also_stops() -> None:
    mm = BinaryMarketMaker(P)
    assert mm.on_book(_yes(48, 52, END - 60 * S)) == []
    assert mm.stopped


def test_denied_quote_is_retried() -> None:
    mm = BinaryMarketMaker(P)
    out = _places(mm.on_book(_yes(48, 52)))
    mm.on_denied(out[0], "MaxOpenOrders")
    mm.on_order(OwnOrder("a1", out[1].instrument, out[1].side, out[1].price, out[1].qty, True))
    assert mm.on_book(_yes(48, 52, 2 * S)) == [out[0]]


def _resting(mm: BinaryMarketMaker, tops: list[BookTop]) -> list[Place]:
    """Feed the tops like the engine: acknowledge each placed order, drop canceled ones; what rests."""
    live: dict[str, Place] = {}
    for n, top in enumerate(tops):
        for i, intent in enumerate(mm.on_book(top)):
            if isinstance(intent, Cancel):
                assert live.pop(intent.client_id, None) is not None, "cancels only its own live orders"
            else:
                cid = f"o{n}-{i}"
                live[cid] = intent
                mm.on_order(OwnOrder(cid, intent.instrument, intent.side, intent.price, intent.qty, True))
    return list(live.values())


top_prices = st.one_of(st.none(), st.integers(1, 99))


@settings(max_examples=500, deadline=None)
@given(
    top_prices,
    top_prices,
    top_prices,
    top_prices,
    st.integers(0, 6000),
    st.integers(0, 6000),
    st.integers(1, 10),
    st.integers(0, 30),
)
def test_yes_quote_and_no_mirror_never_cross(
    yb: int | None,
    ya: int | None,
    nb: int | None,
    na: int | None,
    yes_pos: int,
    no_pos: int,
    half_spread: int,
    skew: int,
) -> None:
    params = BinaryMarketMakerParams("YES", "NO", 100, 1000, 5000, half_spread, END, skew=skew)
    mm = BinaryMarketMaker(params, yes_pos=yes_pos, no_pos=no_pos)
    yes, no = _yes(yb, ya), _no(nb, na)
    resting = _resting(mm, [yes, no])
    view = yes_view(yes, no, 100)
    if view.bid is None or view.ask is None or view.bid >= view.ask:
        assert resting == [], "no quotes without a two-sided, uncrossed market"
        return
    sides: dict[str, int] = {}
    for p in resting:
        assert p.post_only
        assert 1 <= p.price <= 99
        kind, price = _in_yes_terms(p)
        assert kind not in sides, "one bid and one ask at most"
        sides[kind] = price
        if p.side == Side.SELL:
            assert p.qty <= (yes_pos if p.instrument == "YES" else no_pos), "never sells what it lacks"
        own = yes if p.instrument == "YES" else no
        if p.side == Side.BUY and own.ask is not None:
            assert p.price < own.ask
        if p.side == Side.SELL and own.bid is not None:
            assert p.price > own.bid
    if "bid" in sides:
        assert sides["bid"] < view.ask
    if "ask" in sides:
        assert sides["ask"] > view.bid
    if "bid" in sides and "ask" in sides:
        assert sides["bid"] < sides["ask"]
        # the YES bid and the mirrored NO bid (the ask) together cost less than the payout: no self-match
        assert sides["bid"] + (100 - sides["ask"]) < 100
