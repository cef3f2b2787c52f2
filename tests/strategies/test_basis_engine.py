"""Spot/perpetual basis through the engine in simulated time: a spot venue and a perpetual whose prices
follow one fair price, the perpetual with its own premium (`trader.sim.fair`); funding paid into the
engine as a venue reports it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction

from trader.sim import fair
from trader.strategies.base import Intent, Place
from trader.strategies.basis import Basis, BasisParams, Phase
from trader.venues.base import FundingPayment

from .xvenue import Rig, Spec, leg

S = 1_000_000_000
SPOT = Spec("spot", "BTCUSDT", 10, 10)  # Binance spot's default tier
PERP = Spec("perp", "BTCUSDT-P", 2, 5, perp=True, tick="0.1")  # USD-M futures'
NAMES = {"BTCUSDT": "BTC-USDT", "BTCUSDT-P": "BTC-USDT-PERP"}
LEGS = (("spot", "BTC-USDT"), ("perp", "BTC-USDT-PERP"))
RATE = Decimal("0.0001")  # per settlement; longs pay
PREMIUM = fair.WorldParams(premium_sd_bps=25.0, premium_s=20.0)


class Spy(Basis):
    """The strategy, keeping every order it placed."""

    placed: list[Place]

    def _step(self) -> list[Intent]:
        out = super()._step()
        self.placed = [*getattr(self, "placed", []), *(i for i in out if isinstance(i, Place))]
        return out


def _basis() -> Spy:
    return Spy(
        BasisParams(
            leg(SPOT, "BTC-USDT"),
            leg(PERP, "BTC-USDT-PERP"),
            qty=Fraction(1, 100),
            entry_bps=Fraction(3),
            exit_bps=Fraction(0),
            stop_bps=Fraction(40),
            funding_bps=Fraction(1),
            funding_interval_s=60.0,
            hold_s=60.0,
            leg_timeout_s=2.0,
        )
    )


def test_basis_trades_keeps_its_delta_near_zero_and_earns_funding_into_its_pnl() -> None:
    async def go() -> None:
        b = _basis()
        rig = Rig([SPOT, PERP], [(b, LEGS)], world=PREMIUM, canonical=NAMES)
        await rig.engine.start()
        paid = Decimal(0)
        for minute in range(4):
            await rig.steps(600)
            qty = b.desk.positions.get("perp", 0)
            top = b.desk.tops["perp"]
            if qty and top.bid is not None:  # the venue settles funding on the open position
                amount = -Decimal(qty) * Decimal("0.001") * Decimal(top.bid) * Decimal("0.1") * RATE
                paid += amount
                now = rig.clock.now_ns()
                rig.engine.handle(
                    FundingPayment("BTCUSDT-P", amount, now, f"f{minute}", ts_recv=now),
                    rig.engine.venues["perp"],
                )
        summary = (await rig.engine.shutdown()).as_dict()
        assert b.entries >= 2
        assert b.exits >= 1
        # delta: within the tolerance (one lot) except while legs are out, never longer than the bound
        assert b.max_delta <= Fraction(1, 100)
        assert b.delta_breach_ns <= (b.entries + b.exits) * 2 * S
        if b.phase in (Phase.FLAT, Phase.OPEN):
            assert abs(b.desk.delta()) <= b.params.tolerance
        # exits: the perpetual's reduce-only, the spot's not (spot has no reduce-only)
        exits = [p for p in b.placed if p.tag == "exit"]
        assert exits
        assert all(p.reduce_only == (p.venue == "perp") for p in exits)
        assert not any(p.reduce_only for p in b.placed if p.tag != "exit")
        # funding: into the perpetual position's PnL, and this strategy's
        assert paid != 0
        pos = rig.engine.by_strategy["basis"].positions[("perp", "BTCUSDT-P")]
        assert pos.funding == Fraction(paid)
        row = summary["strategies"]["basis"]  # type: ignore[index]
        assert Decimal(row["funding"]) == paid.quantize(Decimal("0.00000001"))
        realized, unreal, fees = (Decimal(row[k]) for k in ("realized_pnl", "unrealized_pnl", "fees"))
        assert Decimal(row["pnl"]) == realized + unreal + Decimal(row["funding"]) - fees

    asyncio.run(go())
