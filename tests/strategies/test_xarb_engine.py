"""Cross-exchange arbitrage through the engine in simulated time: two simulated venues with their own fee
schedules whose prices follow one fair price (`trader.sim.fair`), every order through the one risk gate."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction

from trader.sim import fair
from trader.strategies.xarb import XArb, XArbParams

from .xvenue import Rig, Spec, leg

S = 1_000_000_000
A = Spec("va", "BTCUSDT", 10, 10)  # Binance spot's default tier
B = Spec("vb", "BTC-USDT", 8, 10, tick="0.1", lot="0.0001")  # OKX spot's
NAMES = {"BTCUSDT": "BTC-USDT", "BTC-USDT": "BTC-USDT"}
LEGS = (("va", "BTC-USDT"), ("vb", "BTC-USDT"))
# venues that drift apart more than the defaults, so a short run sees spreads wider than the fees
WIDE = fair.WorldParams(noise_bps=14.0, noise_s=5.0, jump_per_s=0.2)


def _xarb(**kw: object) -> XArb:
    params = {
        "legs": (leg(A, "BTC-USDT"), leg(B, "BTC-USDT")),
        "qty": Fraction(1, 100),
        "max_inventory": Fraction(3, 100),
        "min_edge_bps": Fraction(2),
        "leg_timeout_s": 1.0,
        **kw,
    }
    return XArb(XArbParams(**params))  # type: ignore[arg-type]


def _fees_bps(rig: Rig, venue: str) -> set[tuple[bool, Decimal]]:
    """(maker, fee / notional in bps) of every fill of ours the venue reported."""
    v = rig.venues[venue]
    unit = Decimal(v.info.tick_size) * Decimal(v.info.lot_size)
    return {(f.maker, f.fee / (f.price * f.qty * unit) * 10_000) for f in v._fills}


def test_taker_arbitrage_trades_only_edges_above_both_fees_and_ends_hedged() -> None:
    async def go() -> None:
        x = _xarb()
        rig = Rig([A, B], [(x, LEGS)], world=WIDE, canonical=NAMES)
        await rig.engine.start()
        await rig.steps(600)  # 60 s
        summary = await rig.engine.shutdown()
        assert x.arbs >= 3
        assert all(e > 2 for e in x.edges_bps)  # net of both venues' taker fees
        assert x.desk.dust(x.desk.delta())  # hedged at the end
        assert x.unhedged_max_ns <= 2 * S  # leg risk bounded: the 1 s timeout and a step or two
        for venue in ("va", "vb"):
            assert abs(x.desk.base(venue)) <= Fraction(3, 100)  # inventory within its limit
        # the simulators charged each venue's taker fee on every one of our (IOC) fills
        assert _fees_bps(rig, "va") == {(False, Decimal(10))}
        assert _fees_bps(rig, "vb") == {(False, Decimal(10))}
        assert summary.as_dict()["strategies"]["xarb"]["orders"] == rig.engine.summary.orders  # type: ignore[index]

    asyncio.run(go())


def test_a_venue_that_refuses_the_second_leg_leaves_no_delta_beyond_the_bound() -> None:
    async def go() -> None:
        x = _xarb()
        rig = Rig([A, B], [(x, LEGS)], world=WIDE, canonical=NAMES)
        rig.venues["vb"].refuse = True  # every order at B is rejected: each filled A leg is unwound on A
        await rig.engine.start()
        await rig.steps(600)
        await rig.engine.shutdown()
        assert rig.venues["vb"].refused >= 2
        assert x.arbs >= 2
        assert x.hedges >= 1
        assert x.desk.positions.get("vb", 0) == 0
        assert x.desk.dust(x.desk.delta())
        assert x.unhedged_max_ns <= 2 * S

    asyncio.run(go())


def test_maker_taker_quotes_the_maker_venue_and_hedges_its_fills_on_the_other() -> None:
    async def go() -> None:
        x = _xarb(mode="maker", maker_venue="vb")
        rig = Rig([A, B], [(x, LEGS)], world=WIDE, canonical=NAMES)
        await rig.engine.start()
        await rig.steps(600)
        await rig.engine.shutdown()
        assert x.quote_fills >= 1
        assert x.hedges >= 1
        # quotes filled at B's maker fee; hedges at A's taker fee (and an unwind at B's, past the bound)
        assert (True, Decimal(8)) in _fees_bps(rig, "vb") <= {(True, Decimal(8)), (False, Decimal(10))}
        assert _fees_bps(rig, "va") == {(False, Decimal(10))}
        assert x.desk.dust(x.desk.delta())
        assert x.unhedged_max_ns <= 3 * S  # the bound (1 s), quotes pulled, then unwound on the maker venue

    asyncio.run(go())


def test_the_fair_price_is_shared_and_deterministic() -> None:
    async def go() -> tuple[list[int], Fraction]:
        x = _xarb(min_edge_bps=Fraction(10_000))  # watches only
        rig = Rig([A, B], [(x, LEGS)], world=WIDE, canonical=NAMES)
        await rig.engine.start()
        spreads: list[int] = []
        for _ in range(20):
            await rig.steps(10)
            a, b = x.desk.tops["va"], x.desk.tops["vb"]
            if a.bid is None or a.ask is None or b.bid is None or b.ask is None:
                continue
            mid_a, mid_b = Fraction(a.bid + a.ask, 200), Fraction(b.bid + b.ask, 20)
            spreads.append(round((mid_b - mid_a) / mid_a * 10_000))
        await rig.engine.shutdown()
        return spreads, mid_a

    first, mid = asyncio.run(go())
    assert asyncio.run(go()) == (first, mid)  # same seed, same path
    assert max(abs(s) for s in first) < 150  # the two venues stay within bps of each other
    assert len(set(first)) > 3  # and the spread between them moves
    assert 45_000 < mid < 55_000  # both on the world's BTC price
