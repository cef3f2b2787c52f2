"""Cross-exchange arbitrage, the strategy alone: edges after both venues' fees, leg risk, inventory,
maker-taker quotes and their hedge."""

from __future__ import annotations

from fractions import Fraction

import pytest

from trader.core import Side, TimeInForce
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place
from trader.strategies.legs import Leg
from trader.strategies.xarb import XArb, XArbParams, taker_edge_bps

S = 1_000_000_000
BTC = "BTC-USDT"
# venue A: prices in 0.01, sizes in 0.001 BTC, 10/10 bps; venue B: 0.1 and 0.0001 BTC, 8/10 bps
A = Leg("a", BTC, Fraction(1, 100), Fraction(1, 1000), Fraction(10), Fraction(10), min_notional=Fraction(5))
B = Leg("b", BTC, Fraction(1, 10), Fraction(1, 10_000), Fraction(8), Fraction(10), min_notional=Fraction(5))


def top(leg: Leg, bid: str, ask: str, ts: int, qty: str = "1") -> BookTop:
    """A top with prices and sizes given in the quote currency and base."""

    def px(x: str) -> int:
        return int(Fraction(x) / leg.price_unit)

    size = int(Fraction(qty) / leg.qty_unit)
    return BookTop(BTC, px(bid), size, px(ask), size, ts, leg.venue)


def arb(**kw: object) -> XArb:
    params = {"legs": (A, B), "qty": Fraction(1, 100), "max_inventory": Fraction(5, 100), **kw}
    return XArb(XArbParams(**params))  # type: ignore[arg-type]


def places(intents: list[Intent]) -> list[Place]:
    return [i for i in intents if isinstance(i, Place)]


def ack(x: XArb, p: Place, cid: str, *, live: bool = True, left: int | None = None) -> list[Intent]:
    rem = p.qty if left is None else left
    return x.on_order(OwnOrder(cid, p.instrument, p.side, p.price, rem, live, p.venue))


def fill(x: XArb, p: Place, cid: str, qty: int, ts: int) -> list[Intent]:
    return x.on_fill(OwnFill(cid, p.instrument, p.side, p.price, qty, ts, p.venue))


def test_the_edge_is_net_of_both_venues_taker_fees() -> None:
    # buy at 50,000.00 on A, sell at 50,100.0 on B: 20 bps gross, 10 + 10 bps of fees: nothing left
    assert taker_edge_bps(A, 5_000_000, B, 501_000) == 0
    assert taker_edge_bps(A, 5_000_000, B, 501_250) == 5  # 25 bps gross
    cheap = Leg("c", BTC, Fraction(1, 100), Fraction(1, 1000), Fraction(0), Fraction(2))
    assert taker_edge_bps(cheap, 5_000_000, B, 501_000) == 8


@pytest.mark.parametrize("gross_bps", ["0", "5", "12.5", "19.98", "20"])
@pytest.mark.parametrize("buy_on_a", [True, False])
def test_a_spread_not_above_the_fee_sum_never_trades(gross_bps: str, buy_on_a: bool) -> None:
    x = arb(min_edge_bps=Fraction(0))
    low, high = Fraction(50_000), Fraction(50_000) * (1 + Fraction(gross_bps) / 10_000)
    cheap, rich = (A, B) if buy_on_a else (B, A)
    out = x.on_book(top(cheap, str(low - 1), str(low), S))
    out += x.on_book(top(rich, str(high), str(high + 1), S))
    assert out == []
    assert x.arbs == 0


def test_a_spread_above_both_fees_sends_both_legs_ioc_for_the_same_base_quantity() -> None:
    x = arb(min_edge_bps=Fraction(2))
    x.on_book(top(A, "49999.99", "50000", S, qty="0.004"))
    out = places(x.on_book(top(B, "50125", "50125.1", S)))  # 25 bps gross, 5 net
    assert [(p.venue, p.side, p.tif, p.post_only) for p in out] == [
        ("a", Side.BUY, TimeInForce.IOC, False),
        ("b", Side.SELL, TimeInForce.IOC, False),
    ]
    buy, sell = out
    assert (buy.price, sell.price) == (5_000_000, 501_250)  # at the touches
    assert A.base(buy.qty) == B.base(sell.qty) == Fraction(4, 1000)  # A's touch held 0.004 BTC
    assert x.edges_bps == [5]


def test_no_arbitrage_takes_a_venue_past_its_inventory_limit() -> None:
    x = arb(min_edge_bps=Fraction(2), max_inventory=Fraction(1, 100))
    x.desk.positions = {"a": 10, "b": -100}  # already 0.01 BTC long on A, 0.01 short on B
    x.on_book(top(A, "49999.99", "50000", S))
    assert places(x.on_book(top(B, "50125", "50125.1", S))) == []
    # the other way round (buy on B, sell on A) is allowed and would bring both back
    x.on_book(top(A, "50125", "50125.01", 2 * S))
    out = places(x.on_book(top(B, "49999.9", "50000", 2 * S)))
    assert [(p.venue, p.side) for p in out] == [("b", Side.BUY), ("a", Side.SELL)]


def _sent(x: XArb) -> tuple[Place, Place]:
    x.on_book(top(A, "49999.99", "50000", S))
    buy, sell = places(x.on_book(top(B, "50125", "50125.1", S)))
    ack(x, buy, "c1")
    ack(x, sell, "c2")
    return buy, sell


def test_a_leg_that_does_not_fill_is_hedged_at_once_on_the_best_venue() -> None:
    x = arb(min_edge_bps=Fraction(2), hedge_slippage_bps=Fraction(10))
    buy, sell = _sent(x)
    fill(x, buy, "c1", buy.qty, S + 1)  # A filled: 0.01 BTC long
    assert ack(x, buy, "c1", live=False, left=0) == []  # the other leg is still out: wait
    out = places(ack(x, sell, "c2", live=False))  # B expired unfilled
    assert len(out) == 1
    hedge = out[0]
    assert (hedge.side, hedge.tif, hedge.tag) == (Side.SELL, TimeInForce.IOC, "hedge")
    assert hedge.venue == "a"  # B just failed: the filled leg is unwound on A first
    assert A.base(hedge.qty) == Fraction(1, 100)
    assert hedge.price == A.price_units(Fraction("49999.99") * Fraction(9990, 10_000), up=True)
    assert x.unhedged_since_ns == S + 1  # open since the fill
    ack(x, hedge, "c3")
    fill(x, hedge, "c3", hedge.qty, S + 2)
    assert ack(x, hedge, "c3", live=False, left=0) == []
    assert x.desk.delta() == 0
    assert x.unhedged_since_ns is None


def test_a_hedge_that_fails_is_retried_and_after_the_leg_timeout_goes_further_through_the_touch() -> None:
    x = arb(min_edge_bps=Fraction(2), leg_timeout_s=1.0, hedge_slippage_bps=Fraction(10))
    buy, sell = _sent(x)
    fill(x, buy, "c1", buy.qty, S)
    ack(x, buy, "c1", live=False, left=0)
    first = places(ack(x, sell, "c2", live=False))[0]
    ack(x, first, "h1")
    retry = places(ack(x, first, "h1", live=False))  # the hedge expired too: try again
    assert len(retry) == 1
    assert retry[0].venue == "b"  # A's hedge just failed: B now (both venues were tried once)
    assert B.base(retry[0].qty) == Fraction(1, 100)
    ack(x, retry[0], "h2")
    # 1.5 s later (past the 1 s bound) that one closes unfilled too: 20 bps through the touch now
    assert x.on_book(top(B, "50000", "50000.1", S + 3 * S // 2)) == []  # h2 is still out: wait
    x.on_book(top(A, "49999.99", "50000", S + 3 * S // 2))
    late = places(ack(x, retry[0], "h2", live=False))
    assert len(late) == 1
    leg = A if late[0].venue == "a" else B
    bid = Fraction("49999.99") if leg is A else Fraction(50_000)
    assert late[0].price == leg.price_units(bid * Fraction(9980, 10_000), up=True)
    assert leg.base(late[0].qty) == Fraction(1, 100)
    assert x.unhedged_max_ns == 3 * S // 2


def test_an_ioc_the_venue_sits_on_is_canceled_after_the_leg_timeout() -> None:
    x = arb(min_edge_bps=Fraction(2), leg_timeout_s=1.0)
    _sent(x)
    assert x.on_timer(S + S // 2) == []
    out = x.on_timer(S + 2 * S)
    assert sorted(c.client_id for c in out if isinstance(c, Cancel)) == ["c1", "c2"]
    assert [i for i in x.on_timer(S + 3 * S) if isinstance(i, Cancel)] == []  # once


def test_maker_taker_quotes_on_the_maker_venue_after_both_fees_and_hedges_a_fill_elsewhere() -> None:
    x = arb(mode="maker", maker_venue="b", min_edge_bps=Fraction(2))
    x.on_book(top(A, "50000", "50000.01", S))
    out = places(x.on_book(top(B, "49990", "50010", S)))
    bid, ask = sorted(out, key=lambda p: p.side != Side.BUY)
    assert all(p.venue == "b" and p.post_only and p.tif == TimeInForce.GTC for p in out)
    # hedged by selling on A at 50,000 after A's taker 10, B's maker 8 and the 2 bps edge
    assert bid.price == B.price_units(Fraction(50_000) * Fraction(10_000 - 20, 10_000), up=False)
    assert ask.price == B.price_units(Fraction("50000.01") * Fraction(10_000 + 20, 10_000), up=True)
    assert B.base(bid.qty) == Fraction(1, 100)
    ack(x, bid, "q1")
    ack(x, ask, "q2")
    hedge = places(fill(x, bid, "q1", bid.qty // 2, S + 1))  # half the bid filled
    assert [(p.venue, p.side, p.tif, p.tag) for p in hedge] == [("a", Side.SELL, TimeInForce.IOC, "hedge")]
    assert A.base(hedge[0].qty) == Fraction(5, 1000)
    assert x.quote_fills == 1


def test_a_quote_whose_target_moved_is_canceled() -> None:
    x = arb(mode="maker", maker_venue="b", min_edge_bps=Fraction(2), requote_bps=Fraction(3))
    x.on_book(top(A, "50000", "50000.01", S))
    bid, ask = places(x.on_book(top(B, "49990", "50010", S)))
    ack(x, bid, "q1")
    ack(x, ask, "q2")
    assert x.on_book(top(A, "50001", "50001.01", S + 1)) == []  # 0.2 bps: stays
    out = x.on_book(top(A, "50050", "50050.01", S + 2))  # 10 bps: both move
    assert sorted(c.client_id for c in out if isinstance(c, Cancel)) == ["q1", "q2"]


def test_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match="two or more distinct venues"):
        arb(legs=(A,))
    with pytest.raises(ConfigError, match="max_inventory"):
        arb(max_inventory=Fraction(1, 1000))
    with pytest.raises(ConfigError, match="maker_venue"):
        arb(maker_venue="z")
    assert arb().params.maker is A  # the highest taker fee (a tie: the first)


def test_a_hollow_book_is_not_traded_on() -> None:
    # B's top is 60 bps wide (its book emptied, or only quotes far away are left): no decision on it
    x = arb(min_edge_bps=Fraction(2))
    x.on_book(top(A, "49999.99", "50000", S))
    assert x.on_book(top(B, "50200", "50500", S)) == []
    assert x.desk.fresh("b", 2.0) is None
    assert places(x.on_book(top(B, "50200", "50201", S))) != []  # a real top there: the arbitrage
