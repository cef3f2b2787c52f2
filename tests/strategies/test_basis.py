"""Spot/perpetual basis, the strategy alone: the entry edge after fees and with the expected funding,
exits and stops (reduce-only on the perpetual), an entry leg that fails, the delta kept near zero."""

from __future__ import annotations

from fractions import Fraction

import pytest

from trader.core import Side, TimeInForce
from trader.errors import ConfigError
from trader.strategies.base import BookTop, Intent, OwnFill, OwnOrder, Place
from trader.strategies.basis import Basis, BasisParams, Phase
from trader.strategies.legs import Leg

S = 1_000_000_000
SPOT = Leg("bin", "BTC-USDT", Fraction(1, 100), Fraction(1, 1000), Fraction(10), Fraction(10))
PERP = Leg(
    "bin-fut", "BTC-USDT-PERP", Fraction(1, 10), Fraction(1, 1000), Fraction(2), Fraction(5), reduce_only=True
)


def top(leg: Leg, bid: str, ask: str, ts: int) -> BookTop:
    def px(x: str) -> int:
        return int(Fraction(x) / leg.price_unit)

    return BookTop(leg.instrument, px(bid), 1000, px(ask), 1000, ts, leg.venue)


def basis(**kw: object) -> Basis:
    params = {
        "spot": SPOT,
        "perp": PERP,
        "qty": Fraction(1, 100),
        "entry_bps": Fraction(5),
        "funding_bps": Fraction(1),
        "funding_interval_s": 8 * 3600.0,
        "hold_s": 24 * 3600.0,  # three settlements: 3 bps expected
        **kw,
    }
    return Basis(BasisParams(**params))  # type: ignore[arg-type]


def places(intents: list[Intent]) -> list[Place]:
    return [i for i in intents if isinstance(i, Place)]


def book(b: Basis, spot: tuple[str, str], perp: tuple[str, str], ts: int) -> list[Place]:
    out = b.on_book(top(SPOT, *spot, ts))
    return places(out + b.on_book(top(PERP, *perp, ts)))


def done(b: Basis, p: Place, cid: str, filled: int, ts: int) -> list[Intent]:
    """`p` acknowledged as `cid`, `filled` of it filled, then closed (an IOC)."""
    out = b.on_order(OwnOrder(cid, p.instrument, p.side, p.price, p.qty, True, p.venue))
    if filled:
        out += b.on_fill(OwnFill(cid, p.instrument, p.side, p.price, filled, ts, p.venue))
    return out + b.on_order(OwnOrder(cid, p.instrument, p.side, p.price, p.qty - filled, False, p.venue))


def test_the_edge_is_the_basis_plus_expected_funding_after_round_trip_fees() -> None:
    b = basis()
    book(b, ("49999", "50000"), ("50199.9", "50200"), S)  # never enters: entry_bps is checked below
    assert b.params.fees_bps == 30  # 2 x (10 + 5)
    assert b.params.expected_funding_bps == 3
    assert b.basis_bps(1, entering=True) == Fraction(1999, 50)  # (50199.9 - 50000) / 50000 = 39.98 bps
    assert b.edge_bps(1) == Fraction(1999, 50) + 3 - 30
    assert b.edge_bps(-1) == -(Fraction(2_010_000, 49999)) - 3 - 30  # reverse: buy perp at 50200


@pytest.mark.parametrize(("perp_bid", "enters"), [("50159.9", False), ("50160.1", True)])
def test_entry_only_when_the_edge_beats_fees_funding_and_threshold(perp_bid: str, enters: bool) -> None:
    # 32 bps of basis + 3 expected funding - 30 fees = 5: the threshold itself is not enough
    b = basis()
    out = book(b, ("49999", "50000"), (perp_bid, "50200"), S)
    if not enters:
        assert out == []
        assert b.phase is Phase.FLAT
        return
    assert [(p.venue, p.side, p.tif, p.reduce_only) for p in out] == [
        ("bin", Side.BUY, TimeInForce.IOC, False),
        ("bin-fut", Side.SELL, TimeInForce.IOC, False),
    ]
    assert [SPOT.base(out[0].qty), PERP.base(out[1].qty)] == [Fraction(1, 100)] * 2
    assert b.phase is Phase.ENTERING


def test_no_entry_on_a_basis_that_only_pays_without_funding() -> None:
    b = basis(funding_bps=Fraction(0))
    assert book(b, ("49999", "50000"), ("50160.1", "50200"), S) == []  # 32 - 30 < 5


def test_reverse_entry_sells_spot_and_buys_the_perpetual() -> None:
    b = basis(funding_bps=Fraction(-1))  # shorts pay: a long perpetual earns 3 bps
    out = book(b, ("50000", "50000.01"), ("49830", "49839.9"), S)
    assert [(p.venue, p.side) for p in out] == [("bin", Side.SELL), ("bin-fut", Side.BUY)]
    assert b.direction == -1
    b2 = basis(funding_bps=Fraction(-1), reverse=False)
    assert book(b2, ("50000", "50000.01"), ("49830", "49839.9"), S) == []


def _open(b: Basis) -> tuple[Place, Place]:
    spot, perp = book(b, ("49999", "50000"), ("50200", "50200.1"), S)
    done(b, spot, "s1", spot.qty, S)
    done(b, perp, "p1", perp.qty, S)
    assert b.phase is Phase.OPEN
    assert b.desk.delta() == 0
    return spot, perp


def test_converged_basis_exits_both_legs_and_the_perpetual_reduce_only() -> None:
    b = basis()
    _open(b)
    assert book(b, ("50050", "50050.01"), ("50100", "50100.1"), 2 * S) == []  # 10 bps: hold
    out = book(b, ("50100", "50100.01"), ("50099.9", "50100"), 3 * S)  # converged
    assert [(p.venue, p.side, p.reduce_only, p.tag) for p in out] == [
        ("bin", Side.SELL, False, "exit"),  # spot has no reduce-only
        ("bin-fut", Side.BUY, True, "exit"),
    ]
    assert b.phase is Phase.EXITING
    for i, p in enumerate(out):
        done(b, p, f"x{i}", p.qty, 3 * S)
    assert b.phase.value == "flat"
    assert (b.exits, b.stops) == (1, 0)


def test_a_basis_that_runs_against_the_entry_is_stopped() -> None:
    b = basis(stop_bps=Fraction(20))
    _open(b)  # entered at 40 bps
    assert book(b, ("50000", "50000.01"), ("50290", "50299.9"), 2 * S) == []  # 59.98: not yet 20 more
    out = book(b, ("50000", "50000.01"), ("50290", "50300.1"), 3 * S)
    assert [(p.side, p.reduce_only) for p in out] == [(Side.SELL, False), (Side.BUY, True)]
    assert (b.exits, b.stops) == (1, 1)


def test_an_entry_leg_that_fails_is_completed_then_unwound_after_the_leg_timeout() -> None:
    b = basis(leg_timeout_s=2.0)
    spot, perp = book(b, ("49999", "50000"), ("50200", "50200.1"), S)
    done(b, spot, "s1", spot.qty, S)
    assert done(b, perp, "p1", 0, S) == []  # the perpetual leg did not fill: not again at once
    out = book(b, ("49999", "50000"), ("50200", "50200.1"), S + S // 2)  # a moment later: complete it
    assert [(p.venue, p.side, p.tag, p.reduce_only) for p in out] == [("bin-fut", Side.SELL, "hedge", False)]
    assert out[0].price < perp.price  # through the touch, by up to the slippage
    assert done(b, out[0], "p2", 0, S + S // 2) == []  # nor that one; the next book is past the timeout
    unwind = book(b, ("49999", "50000"), ("50200", "50200.1"), 4 * S)
    assert [(p.venue, p.side, p.tag) for p in unwind] == [("bin", Side.SELL, "exit")]
    assert b.unwinds == 1
    done(b, unwind[0], "s2", unwind[0].qty, 4 * S)
    assert b.phase is Phase.FLAT
    assert b.desk.delta() == 0


def test_a_delta_beyond_the_tolerance_is_taken_back_on_the_perpetual() -> None:
    b = basis(delta_tolerance=Fraction(2, 1000))
    spot, perp = book(b, ("49999", "50000"), ("50200", "50200.1"), S)
    done(b, spot, "s1", spot.qty, S)
    out = places(done(b, perp, "p1", 7, S))  # 0.007 of 0.01 filled: completed at once
    assert [(p.venue, p.side, PERP.base(p.qty)) for p in out] == [("bin-fut", Side.SELL, Fraction(3, 1000))]
    b.on_book(top(SPOT, "49999", "50000", S + 1))
    done(b, out[0], "p2", out[0].qty, S + 1)
    assert b.phase is Phase.OPEN
    assert b.max_delta == Fraction(1, 100)  # the spot leg filled first
    assert b.delta_breach_ns == 1  # outside the tolerance for 1 ns: until the completion filled
    # holding: a delta past the tolerance (a spot fill the strategy did not plan) is sold on the perpetual
    book(b, ("50050", "50050.01"), ("50250", "50250.1"), 2 * S)
    out = places(b.on_fill(OwnFill("s9", "BTC-USDT", Side.BUY, 5_000_000, 5, 2 * S, "bin")))
    assert [(p.venue, p.side, PERP.base(p.qty), p.tag) for p in out] == [
        ("bin-fut", Side.SELL, Fraction(5, 1000), "hedge")
    ]


def test_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match="spot and a perpetual"):
        basis(perp=SPOT)
    with pytest.raises(ConfigError, match="one lot"):
        basis(qty=Fraction(1, 10_000))
    with pytest.raises(ConfigError, match="stop_bps"):
        basis(stop_bps=Fraction(0))


def test_exits_refused_again_and_again_shrink_and_an_order_never_closed_is_not_waited_for() -> None:
    b = basis(leg_timeout_s=2.0)
    _open(b)
    out = book(b, ("50100", "50100.01"), ("50099.9", "50100"), 3 * S)  # converged: exit both
    spot, perp = out
    done(b, spot, "x1", spot.qty, 3 * S)
    sizes = [perp.qty]
    place, ts = perp, 3 * S
    for i in range(4):  # the venue refuses the reduce-only close (it holds less than we think)
        done(b, place, f"r{i}", 0, ts)
        ts += S
        (place,) = book(b, ("50100", "50100.01"), ("50099.9", "50100"), ts)
        assert place.reduce_only
        sizes.append(place.qty)
    assert sizes == [10, 10, 10, 5, 2]  # halved after the third refusal, then again
    # an IOC the venue never closes: canceled after ioc_timeout_s, forgotten after four
    b.on_order(OwnOrder("r9", place.instrument, place.side, place.price, place.qty, True, place.venue))
    cancels = b.on_timer(ts + 2 * S)
    assert [c.client_id for c in cancels if not isinstance(c, Place)] == ["r9"]
    assert b.desk.working("exit")
    b.on_timer(ts + 5 * S)
    assert not b.desk.working("exit")
