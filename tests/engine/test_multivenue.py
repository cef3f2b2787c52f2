"""One engine over several venues: one gate, one journal, per-venue health, kills and reconciliation.

Three in-process simulated venues (each its own matching engine and market, in simulated time) named as
three accounts; a market maker on each, written against the canonical name BTC-USDT."""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from trader.clock import SimClock
from trader.config import AssetLimit, CurrencyRate, RiskLimits
from trader.core import Side
from trader.engine.engine import Engine, EngineConfig, StrategySetup, VenueSetup
from trader.engine.health import HealthRules
from trader.engine.journal import Journal
from trader.errors import ConfigError, VenueUnavailableError
from trader.sim.session import drain
from trader.strategies.base import BookTop, Intent, OwnOrder, Place
from trader.strategies.market_maker import MarketMaker, MarketMakerParams
from trader.venues.base import FundingPayment, OrderReport, OrderState, Stream, StreamStatus

from .rig import STEP, T0, Venue, run

NAMES = ("sim-a", "sim-b", "sim-c")
WIDE = RiskLimits(
    max_gross_notional=Decimal(1_000_000),
    max_net_notional=Decimal(1_000_000),
    max_open_orders=60,
    max_orders_per_sec=200,
    daily_loss_limit=Decimal(10_000),
    daily_loss_halt=Decimal(10_000),
)


class MM(MarketMaker):
    def __init__(self) -> None:
        super().__init__(MarketMakerParams("BTC-USDT", tick=1, order_qty=50, max_inventory=400, gamma=0.05))
        self.denied: Counter[str] = Counter()
        self.venues_seen: set[str] = set()

    def on_book(self, top: BookTop) -> list[Intent]:
        self.venues_seen.add(top.venue)
        return super().on_book(top)

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        self.denied[reason] += 1
        return super().on_denied(place, reason)


class Multi:
    """Three venues, a market maker on each, one engine."""

    def __init__(
        self,
        journal: Journal,
        *,
        risk: RiskLimits = WIDE,
        health: dict[str, HealthRules] | None = None,
        venues: dict[str, Venue] | None = None,
        quoted_in: dict[str, str] | None = None,  # venue -> the currency its BTCUSDT is quoted in
    ) -> None:
        self.clock = SimClock(T0)
        self.venues = venues or {n: Venue(seed=i + 1, clock=self.clock) for i, n in enumerate(NAMES)}
        self.clock = next(iter(self.venues.values())).sim_clock
        self.mms = {n: MM() for n in NAMES}
        cfg = EngineConfig(risk=risk)
        self.engine = Engine(
            [
                VenueSetup(
                    v,
                    cfg,
                    canonical={"BTCUSDT": "BTC-USDT"},
                    currencies={"BTCUSDT": (quoted_in or {}).get(n, "USDT")},
                    health=(health or {}).get(n),
                    name=n,
                )
                for n, v in self.venues.items()
            ],
            [StrategySetup(self.mms[n], legs=((n, "BTC-USDT"),), name=f"mm-{n}") for n in NAMES],
            journal=journal,
            clock=self.clock,
            config=cfg,
        )

    async def drain(self) -> None:
        for n, v in self.venues.items():
            await drain(v, self.engine, n)

    async def steps(self, n: int) -> None:
        for i in range(n):
            self.clock.advance(STEP)
            for v in self.venues.values():
                v.step(STEP)
            await self.drain()
            if i % 3 == 2:
                await self.engine.on_timer()
                await self.drain()

    def open_at(self, name: str) -> int:
        v = self.venues[name]
        return sum(1 for r in v._orders.values() if r.state is OrderState.OPEN)


def _shared_clock() -> dict[str, Venue]:
    clock = SimClock(T0)
    return {n: Venue(seed=i + 1, clock=clock) for i, n in enumerate(NAMES)}


def test_three_venues_trade_under_one_gate_and_one_journal() -> None:
    async def go() -> None:
        m = Multi(Journal(":memory:"), venues=_shared_clock())
        await m.engine.start()
        await m.steps(300)
        summary = await m.engine.shutdown()
        for n in NAMES:
            assert m.mms[n].venues_seen == {n}, "each strategy sees only its own leg, named with its venue"
            row = summary.venues[n]
            assert int(str(row["orders"])) > 0, (n, row)
            assert int(str(row["fills"])) > 0, (n, row)
            assert summary.strategies[f"mm-{n}"]["orders"] == row["orders"]
            assert m.open_at(n) == 0
        assert summary.orders == sum(int(str(summary.venues[n]["orders"])) for n in NAMES)
        # the total is exactly the sum of the venues (one reporting currency, rate 1 here)
        total = sum(Decimal(str(summary.venues[n]["pnl"])) for n in NAMES)
        assert abs(Decimal(summary.pnl) - total) < Decimal("1e-8")
        assert summary.assets["BTC"]["venues"] == [f"{n}:BTCUSDT" for n in NAMES]
        assert abs(Decimal(str(summary.assets["BTC"]["pnl"])) - total) < Decimal("1e-8"), (
            "BTC is every venue here"
        )
        assert Decimal(str(summary.assets["BTC"]["fees"])) == Decimal(summary.fees)
        sent = [cid for v in m.venues.values() for cid in v.submissions]
        assert len(sent) == len(set(sent)), "a client id was sent twice (across venues)"
        assert m.engine.journal.get_meta("venue") == ",".join(NAMES)

    run(go)


def test_an_order_each_venue_allows_is_denied_by_the_aggregate() -> None:
    """Per venue (and per instrument) the quotes fit; the global gross limit does not hold them all."""
    tight = RiskLimits(
        max_gross_notional=Decimal(6000),  # two venues' quotes (50 units at ~50,000 USDT: 2,500 a side)
        max_net_notional=Decimal(1_000_000),
        max_open_orders=60,
        max_orders_per_sec=200,
        daily_loss_limit=Decimal(10_000),
        daily_loss_halt=Decimal(10_000),
    )

    async def go() -> None:
        m = Multi(Journal(":memory:"), risk=tight, venues=_shared_clock())
        await m.engine.start()
        await m.steps(60)
        denied = sum(mm.denied["GROSS_EXPOSURE_LIMIT"] for mm in m.mms.values())
        assert denied > 0, "the aggregate never denied"
        assert all(mm.denied["VENUE_EXPOSURE_LIMIT"] == 0 for mm in m.mms.values()), "a venue limit did"
        gate = m.engine.gate
        assert gate is not None
        assert gate.gross_exposure() <= Decimal(6000)
        assert sum(1 for v in m.engine.venues.values() if v.orders) >= 2, "the aggregate let quotes through"
        await m.engine.shutdown()

    run(go)


def test_one_venue_down_the_others_keep_trading_then_it_resyncs_and_resumes() -> None:
    async def go() -> None:
        m = Multi(Journal(":memory:"), venues=_shared_clock())
        await m.engine.start()
        await m.steps(30)
        assert m.open_at("sim-a") > 0
        now = m.clock.now_ns()
        m.engine.handle(
            StreamStatus(Stream.PRIVATE, False, "socket closed", ts_recv=now), m.engine.venues["sim-a"]
        )
        await m.drain()
        before = {n: m.engine.venues[n].orders for n in NAMES}
        await m.steps(30)
        assert m.open_at("sim-a") == 0, "the lost venue's orders were not canceled"
        assert m.engine.venues["sim-a"].orders == before["sim-a"], "the lost venue kept quoting"
        assert all(m.engine.venues[n].orders > before[n] for n in ("sim-b", "sim-c")), "the others stopped"
        assert "stream down" in m.engine.snapshot().venues[0].state
        m.engine.handle(
            StreamStatus(Stream.PRIVATE, True, ts_recv=m.clock.now_ns()), m.engine.venues["sim-a"]
        )
        await m.drain()
        await m.steps(30)
        assert m.engine.venues["sim-a"].orders > before["sim-a"], "it did not resume after the resync"
        summary = await m.engine.shutdown()
        assert summary.disconnects == 1
        assert summary.venues["sim-a"]["disconnects"] == 1

    run(go)


def test_kill_one_venue_then_all_venues_confirmed_canceled() -> None:
    async def go() -> None:
        m = Multi(Journal(":memory:"), venues=_shared_clock())
        await m.engine.start()
        await m.steps(30)
        await m.engine.kill("operator: one venue", venue="sim-b")
        await m.engine.settle()
        await m.steps(15)
        assert m.open_at("sim-b") == 0
        assert m.open_at("sim-a") > 0
        assert m.open_at("sim-c") > 0
        gate = m.engine.gate
        assert gate is not None
        assert gate.is_killed(venue=m.engine.venues["sim-b"].gate_id)
        assert not gate.is_killed()
        await m.engine.kill("operator: everything")
        await m.engine.settle()
        await m.steps(15)
        assert all(m.open_at(n) == 0 for n in NAMES)
        assert [await m.venues[n].open_orders() for n in NAMES] == [[], [], []], (
            "a venue still has our orders"
        )
        summary = await m.engine.shutdown()
        assert summary.killed
        assert summary.killed_venues == ["sim-b"]

    run(go)


def test_a_venue_failing_reconciliation_stands_aside_and_says_so() -> None:
    async def go() -> None:
        venues = _shared_clock()
        stranger = OrderReport(
            "not-ours-1",
            "v1",
            "BTCUSDT",
            Side.BUY,
            4_900_000,
            50,
            0,
            OrderState.OPEN,
            ts_event=T0,
            ts_recv=T0,
        )

        async def open_orders() -> list[OrderReport]:
            return [stranger]

        venues["sim-c"].open_orders = open_orders  # type: ignore[method-assign]
        m = Multi(Journal(":memory:"), venues=venues)
        await m.engine.start()
        await m.steps(30)
        c = m.engine.venues["sim-c"]
        assert "not in the journal" in c.failed
        assert c.orders == 0
        assert m.engine.strategies["mm-sim-c"].halted
        assert m.engine.venues["sim-a"].orders > 0
        assert m.engine.venues["sim-b"].orders > 0
        summary = await m.engine.shutdown()
        assert str(summary.venues["sim-c"]["state"]).startswith("FAILED")

    run(go)


def test_a_kill_threshold_halts_that_venue_latched_in_the_journal(tmp_path: Path) -> None:
    async def go() -> None:
        venues = _shared_clock()
        venues["sim-a"].fault = lambda cid: "down"  # every submit refused: a reject each
        rules = {"sim-a": HealthRules(max_reject_rate=Decimal("0.5"), reject_window=4)}
        journal = Journal(tmp_path / "j.db")
        m = Multi(journal, health=rules, venues=venues)
        await m.engine.start()
        await m.steps(30)
        gate = m.engine.gate
        assert gate is not None
        assert gate.is_killed(venue=m.engine.venues["sim-a"].gate_id)
        sent_a = len(venues["sim-a"].submissions)
        await m.steps(30)
        assert len(venues["sim-a"].submissions) == sent_a, "the killed venue was still sent orders"
        assert m.engine.venues["sim-b"].orders > 0
        assert journal.get_counter("kill:sim-a") == 1
        assert journal.get_counter("kill") == 0
        await m.engine.shutdown()
        # a restart begins with that venue latched (until `trader kill --reset --venue`)
        again = Multi(journal, health=rules, venues=venues)
        await again.engine.start()
        g2 = again.engine.gate
        assert g2 is not None
        assert g2.is_killed(venue=again.engine.venues["sim-a"].gate_id)
        assert not g2.is_killed(venue=again.engine.venues["sim-b"].gate_id)
        await again.engine.shutdown()
        journal.close()

    run(go)


def test_the_watchdog_cancels_again_when_the_first_cancels_failed() -> None:
    async def go() -> None:
        venues = _shared_clock()
        rules = {"sim-a": HealthRules(watchdog_s=2.0)}
        m = Multi(Journal(":memory:"), health=rules, venues=venues)
        await m.engine.start()
        await m.steps(30)
        assert m.open_at("sim-a") > 0
        venues["sim-a"].cancel_fault = lambda cid: VenueUnavailableError("connection reset", venue="sim")
        m.engine.handle(
            StreamStatus(Stream.MARKET, False, "gone", ts_recv=m.clock.now_ns()), m.engine.venues["sim-a"]
        )
        await m.drain()
        await m.steps(5)
        assert m.open_at("sim-a") > 0, "the cancels were meant to fail"
        venues["sim-a"].cancel_fault = lambda cid: None  # the REST channel works again; the stream does not
        await m.steps(25)  # 2.5 s: past the watchdog's bound
        assert m.open_at("sim-a") == 0
        assert m.engine.summary.watchdog >= 1
        await m.engine.shutdown()

    run(go)


def test_restart_after_a_crash_reconciles_every_venue_and_sends_no_id_twice(tmp_path: Path) -> None:
    """The process dies with orders resting on three venues (no shutdown: nothing canceled); the next
    process reconciles each venue from the one journal, cancels the leftovers, and trades on."""

    async def go() -> None:
        venues = _shared_clock()
        journal = Journal(tmp_path / "j.db")
        first = Multi(journal, venues=venues)
        await first.engine.start()
        await first.steps(45)
        resting = {n: first.open_at(n) for n in NAMES}
        assert all(resting.values()), resting
        journal.close()  # the crash: no shutdown, no cancels
        journal = Journal(tmp_path / "j.db")
        second = Multi(journal, venues=venues)
        await second.engine.start()
        assert second.engine.summary.reconciled_at_start >= sum(resting.values())
        assert all(second.open_at(n) == 0 for n in NAMES), "leftovers not canceled at the restart"
        await second.steps(30)
        assert all(second.engine.venues[n].orders > 0 for n in NAMES)
        await second.engine.shutdown()
        sent = [cid for v in venues.values() for cid in v.submissions]
        assert len(sent) == len(set(sent)), "a client id was sent twice"
        journal.close()

    run(go)


def test_funding_is_part_of_the_venue_and_strategy_pnl() -> None:
    async def go() -> None:
        m = Multi(Journal(":memory:"), venues=_shared_clock())
        await m.engine.start()
        await m.steps(90)
        v = m.engine.venues["sim-a"]
        inst = v.instruments["BTCUSDT"]
        assert inst.position.qty != 0, "no position to fund"
        before = m.engine.venue_pnl("sim-a")
        m.engine.handle(
            FundingPayment("BTCUSDT", Decimal("-1.25"), m.clock.now_ns(), "f1", ts_recv=m.clock.now_ns()), v
        )
        assert m.engine.venue_pnl("sim-a") - before == Decimal("-1.25")
        summary = await m.engine.shutdown()
        assert Decimal(str(summary.venues["sim-a"]["funding"])) == Decimal("-1.25")
        assert Decimal(str(summary.strategies["mm-sim-a"]["funding"])) == Decimal("-1.25")
        assert summary.funding_payments == 1

    run(go)


def test_the_asset_aggregate_denies_what_every_venue_allows() -> None:
    """BTC on three venues is one exposure: each venue's limits allow its quotes, the BTC limit does not
    allow them all (a denial the gate names ASSET_EXPOSURE_LIMIT)."""
    risk = dataclasses.replace(WIDE, assets={"BTC": AssetLimit("BTC", max_net_notional=Decimal(6000))})

    async def go() -> None:
        m = Multi(Journal(":memory:"), risk=risk, venues=_shared_clock())
        await m.engine.start()
        await m.steps(60)
        denied = sum(mm.denied["ASSET_EXPOSURE_LIMIT"] for mm in m.mms.values())
        assert denied > 0, "the asset aggregate never denied"
        gate = m.engine.gate
        assert gate is not None
        long, short = gate.asset_exposure(m.engine.asset_ids["BTC"])
        assert long <= Decimal(6000)
        assert short >= Decimal(-6000)
        assert sum(1 for v in m.engine.venues.values() if v.orders) >= 2, "the aggregate let quotes through"
        await m.engine.shutdown()

    run(go)


def test_a_venue_order_rate_binds_that_venue_only() -> None:
    async def go() -> None:
        m = Multi(Journal(":memory:"), venues=_shared_clock())
        slow = dataclasses.replace(m.engine.venues["sim-b"].cfg, venue_orders_per_second=1)
        m.engine.venues["sim-b"].cfg = slow
        await m.engine.start()
        await m.steps(60)
        assert m.mms["sim-b"].denied["ORDER_RATE_LIMIT"] > 0
        assert m.mms["sim-a"].denied["ORDER_RATE_LIMIT"] == 0
        assert m.engine.venues["sim-b"].orders <= 7, "at most one order a second on sim-b (6 s)"
        await m.engine.shutdown()

    run(go)


class TwoLegs:
    """One strategy with a leg on two venues: a Place names its venue; without one it is ambiguous."""

    name = "legs"

    def __init__(self) -> None:
        self.tops: dict[str, BookTop] = {}
        self.denied: list[tuple[Place, str]] = []
        self.orders: list[str] = []

    def on_book(self, top: BookTop) -> list[Intent]:
        first = top.venue not in self.tops and top.bid is not None
        if top.bid is not None:
            self.tops[top.venue] = top
        if not first or top.bid is None:
            return []
        price = top.bid - 100
        return [
            Place("BTC-USDT", Side.BUY, price, 50, venue=top.venue),
            Place("BTC-USDT", Side.BUY, price - 1, 50),
        ]

    def on_trade(self, trade: object) -> list[Intent]:
        return []

    def on_fill(self, fill: object) -> list[Intent]:
        return []

    def on_order(self, order: OwnOrder) -> list[Intent]:
        if order.live and order.client_id not in self.orders:
            self.orders.append(order.client_id)
        return []

    def on_timer(self, now_ns: int) -> list[Intent]:
        return []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        self.denied.append((place, reason))
        return []


def test_a_strategy_on_two_venues_says_which_leg() -> None:
    async def go() -> None:
        clock = SimClock(T0)
        venues = {n: Venue(seed=i + 1, clock=clock) for i, n in enumerate(NAMES[:2])}
        legs = TwoLegs()
        engine = Engine(
            [VenueSetup(v, canonical={"BTCUSDT": "BTC-USDT"}, name=n) for n, v in venues.items()],
            [StrategySetup(legs, legs=tuple((n, "BTC-USDT") for n in venues))],
            journal=Journal(":memory:"),
            clock=clock,
        )
        await engine.start()
        for _ in range(5):
            clock.advance(STEP)
            for n, v in venues.items():
                v.step(STEP)
                await drain(v, engine, n)
        assert set(legs.tops) == set(venues), "the strategy sees both legs, each with its venue"
        assert {engine.ledger.orders[c].venue for c in legs.orders} == set(venues), "one order per named leg"
        assert [r for _, r in legs.denied] == ["UNKNOWN_INSTRUMENT", "UNKNOWN_INSTRUMENT"], (
            "no venue: ambiguous"
        )
        await engine.shutdown()

    run(go)


def test_a_venue_that_cannot_connect_stands_aside_and_is_not_touched() -> None:
    async def go() -> None:
        venues = _shared_clock()
        calls: list[str] = []

        async def refuse() -> None:
            raise VenueUnavailableError("connection refused", venue="sim")

        async def cancel_all(instrument: str | None = None) -> int:
            calls.append("cancel_all")
            return 0

        venues["sim-a"].connect = refuse  # type: ignore[method-assign]
        venues["sim-a"].cancel_all = cancel_all  # type: ignore[method-assign]
        m = Multi(Journal(":memory:"), venues=venues)
        await m.engine.start()
        await m.steps(30)
        assert "could not start" in m.engine.venues["sim-a"].failed
        assert m.engine.strategies["mm-sim-a"].halted
        assert m.engine.venues["sim-b"].orders > 0
        assert m.engine.primary.name == "sim-b", "the first venue that started"
        await m.engine.kill("operator: everything")
        summary = await m.engine.shutdown()
        assert calls == [], "a venue that never started was sent cancels"
        assert str(summary.venues["sim-a"]["state"]).startswith("FAILED")
        assert summary.open_orders_after_shutdown == 0

    run(go)


def test_a_venues_configured_limits_reach_the_gate() -> None:
    """`[venues.X.risk]` and `orders_per_second` through `venue_config` into the engine's gate."""
    from trader.config import VenueConfig, VenueRisk
    from trader.engine.settings import venue_config

    async def go() -> None:
        venues = _shared_clock()
        risk = VenueRisk(
            max_gross_notional=Decimal(100_000),
            max_open_orders=1,
            daily_loss_limit=Decimal(100),
            daily_loss_halt=Decimal(200),
            max_net_notional=Decimal(50_000),
        )
        vcfg = VenueConfig("sim-a", "sim", orders_per_second=3, risk=risk)
        m = Multi(Journal(":memory:"), venues=venues)
        m.engine.venues["sim-a"].cfg = venue_config(m.engine.venues["sim-a"].cfg, vcfg)
        await m.engine.start()
        await m.steps(30)
        gate = m.engine.gate
        assert gate is not None
        assert m.mms["sim-a"].denied["OPEN_ORDER_LIMIT"] > 0, "one open order at a time on sim-a"
        assert m.mms["sim-b"].denied["OPEN_ORDER_LIMIT"] == 0
        assert sum(o.venue == "sim-a" for o in m.engine.ledger.live()) <= 1
        gate_pnl = Fraction(gate.venue_daily_pnl(m.engine.venues["sim-a"].gate_id))
        assert abs(gate_pnl - m.engine.venue_pnl("sim-a")) < Fraction(1, 10**9), "gate and engine agree"
        await m.engine.shutdown()

    run(go)


def test_venue_config_takes_the_tighter_per_instrument_limit() -> None:
    from trader.config import VenueConfig, VenueRisk
    from trader.engine.settings import venue_config

    sized = EngineConfig(max_order_qty="2", max_order_notional="4000", max_position="12")
    risk = VenueRisk(
        max_gross_notional=Decimal(9000),
        max_open_orders=3,
        daily_loss_limit=Decimal(50),
        daily_loss_halt=Decimal(80),
        max_order_qty=Decimal(5),  # looser than the rig's 2: the rig's stays
        max_order_notional=Decimal(1000),  # tighter: the operator's
    )
    out = venue_config(sized, VenueConfig("x", "paper", orders_per_second=4, risk=risk))
    assert (out.max_order_qty, out.max_order_notional, out.max_position) == ("2", "1000", "12")
    assert (out.venue_max_gross_notional, out.venue_max_open_orders) == ("9000", 3)
    assert (out.venue_daily_loss_limit, out.venue_daily_loss_halt, out.venue_orders_per_second) == (
        "50",
        "80",
        4,
    )
    assert venue_config(sized, VenueConfig("x", "paper")) == sized


def test_a_currency_marked_from_a_book_sets_its_rate_and_its_depeg_stops_that_venue() -> None:
    """`[risk.currencies.XUSD] mark = "sim-c:BTCUSDT"`: the rate follows that book's mid (about 50,000
    USDT here, so far from its peg of 1): sim-a, quoted in XUSD, is denied CURRENCY_DEPEG; sim-b is not."""
    xusd = CurrencyRate("XUSD", Decimal(1), max_depeg_bps=100, mark=("sim-c", "BTCUSDT"))
    risk = dataclasses.replace(WIDE, currencies={"XUSD": xusd})

    async def go() -> None:
        m = Multi(Journal(":memory:"), risk=risk, venues=_shared_clock(), quoted_in={"sim-a": "XUSD"})
        await m.engine.start()
        await m.steps(30)
        gate = m.engine.gate
        assert gate is not None
        rate = gate.currency_rate(m.engine.currency_ids["XUSD"])
        c = m.engine.venues["sim-c"].instruments["BTCUSDT"]
        assert c.bid is not None
        assert c.ask is not None
        mid = (Decimal(c.spec.format_price(c.bid)) + Decimal(c.spec.format_price(c.ask))) / 2
        assert rate == mid.quantize(Decimal("1e-9")), "the rate is the marking book's mid"
        assert m.mms["sim-a"].denied["CURRENCY_DEPEG"] > 0
        assert m.mms["sim-b"].denied["CURRENCY_DEPEG"] == 0
        assert m.engine.venues["sim-b"].orders > 0
        await m.engine.shutdown()

    run(go)


def test_a_mark_on_an_instrument_the_session_does_not_trade_is_refused() -> None:
    xusd = CurrencyRate("XUSD", Decimal(1), mark=("sim-c", "ETHUSDT"))
    risk = dataclasses.replace(WIDE, currencies={"XUSD": xusd})

    async def go() -> None:
        m = Multi(Journal(":memory:"), risk=risk, venues=_shared_clock())
        with pytest.raises(ConfigError, match="sim-c does not trade ETHUSDT"):
            await m.engine.start()

    run(go)


def test_a_venue_kill_the_poll_saw_first_does_not_halt_everything_when_its_signal_comes() -> None:
    """`trader kill --venue` latches the venue's counter, then signals: when the timer's poll of the
    journal comes in between, it halts the venue and the signal that follows halts nothing more (it once
    halted every venue, as a bare SIGUSR1 does)."""

    async def go() -> None:
        journal = Journal(":memory:")
        m = Multi(journal, venues=_shared_clock())
        await m.engine.start()
        await m.steps(10)
        journal.next_value("kill:sim-b")  # as `trader kill --journal J --venue=sim-b`
        await m.engine._poll_kill()  # the timer's poll, before the signal is handled
        m.engine._kill_signal()  # the signal
        gate = m.engine.gate
        assert gate is not None
        assert gate.is_killed(venue=m.engine.venues["sim-b"].gate_id)
        assert not gate.is_killed(), "the venue's kill halted everything"
        assert not gate.is_killed(venue=m.engine.venues["sim-a"].gate_id)
        m.engine._kill_signal()  # another signal and no latch: a bare SIGUSR1, everything halts
        assert gate.is_killed()
        await m.engine.shutdown()

    run(go)
