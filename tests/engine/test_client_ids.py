"""Client order ids are unique across journals and hosts, fit every venue's rule, and reconciliation claims
only the orders and fills that carry its own journal's instance id (RELIABILITY issue 13, defect 3)."""

from __future__ import annotations

import asyncio
import logging
import string
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader.clock import SimClock
from trader.core import Approval, Side
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.engine.ledger import (
    CLIENT_ID_MAX_LEN,
    MAX_COUNTER,
    Owner,
    check_fits,
    format_client_id,
    new_instance_id,
    owner_of,
    parse_client_id,
)
from trader.errors import ConfigError, ReconciliationError
from trader.sim import matching
from trader.sim.market import BackgroundMarket, MarketParams
from trader.strategies.market_maker import MarketMaker, MarketMakerParams
from trader.venues import registry
from trader.venues.base import SubmitAck
from trader.venues.profile import STRICTEST
from trader.venues.sim import SimConnector

T0 = 1_700_000_000_000_000_000
STEP = 100_000_000
STRATEGIES = ("mm", "pairs", "binary_mm", "rewards", "event")


# ---- the format ---------------------------------------------------------------------------------


@given(
    instance=st.sampled_from(string.ascii_lowercase).flatmap(
        lambda first: st.text("0123456789abcdefghijklmnopqrstuvwxyz", min_size=5, max_size=5).map(
            lambda rest: first + rest
        )
    ),
    strategy=st.one_of(
        st.sampled_from(STRATEGIES),
        st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=40).filter(
            lambda s: s.replace("_", "") != ""
        ),
    ),
    n=st.integers(1, MAX_COUNTER),
)
@settings(deadline=None)  # the first example imports every venue package (registry.names): no time limit
def test_every_id_fits_every_venue_and_parses_back(instance: str, strategy: str, n: int) -> None:
    cid = format_client_id(instance, strategy, n)
    assert len(cid) <= CLIENT_ID_MAX_LEN == 18
    assert cid.isascii(), cid
    assert cid.isalnum(), "letters and digits only (OKX clOrdId)"
    for venue in registry.names():
        check_fits(cid, venue)  # raises if not
    check_fits(cid, "a-venue-not-listed")  # the strictest rule
    parsed = parse_client_id(cid)
    assert parsed is not None
    assert (parsed.instance, parsed.n) == (instance, n)
    assert owner_of(cid, instance) is Owner.OURS
    assert owner_of(cid, "zzzzzz" if instance != "zzzzzz" else "yyyyyy") is Owner.SESSION


def test_the_venue_rules_are_the_documented_ones() -> None:
    def fits(venue: str, cid: str) -> bool:
        try:
            check_fits(cid, venue)
        except ConfigError:
            return False
        return True

    assert not fits("okx", "mm-1"), "today's old ids would be refused by OKX"
    assert fits("okx", "a" * 32)
    assert not fits("okx", "a" * 33)
    assert fits("binance", "a.B:/_-" + "x" * 29)
    assert not fits("binance", "a" * 37)
    assert fits("bybit", "a" * 36)
    assert not fits("bybit", "a" * 37)
    assert fits("kraken", "a" * 18)
    assert not fits("kraken", "a" * 19)
    assert fits("polymarket", "anything at all"), "no client id on the wire: the connector maps ours"
    assert STRICTEST.pattern is not None
    assert not STRICTEST.pattern.fullmatch("a" * 19)


def test_owner_of_ids_that_are_not_ours() -> None:
    for external in ("mm-1", "web_123", "0x" + "ab" * 32, "", "d15708c1-dbb6-465d-b77d-47258319cc90"):
        assert owner_of(external, "abcdef") is Owner.EXTERNAL, external
    assert parse_client_id("abcdefmm0") is None, "no zero or leading zero: one spelling per number"
    with pytest.raises(ConfigError, match="out of range"):
        format_client_id("abcdef", "mm", MAX_COUNTER + 1)
    with pytest.raises(ConfigError, match="instance"):
        format_client_id("ABCDEF", "mm", 1)
    with pytest.raises(ConfigError, match="alphanumeric"):
        format_client_id("abcdef", "a b", 1)


def test_instance_ids_are_random_and_kept_per_journal(tmp_path: Path) -> None:
    ids = {new_instance_id() for _ in range(2000)}
    assert len(ids) == 2000
    j = Journal(tmp_path / "j.db")
    first = j.instance_id
    j.close()
    assert Journal(tmp_path / "j.db").instance_id == first, "drawn once, kept in the journal"
    assert Journal(tmp_path / "other.db").instance_id != first


# ---- two sessions on one account ----------------------------------------------------------------


class Account(SimConnector):
    """One simulated account that several engines trade on; records every submission."""

    def __init__(self, seed: int = 3) -> None:
        self.sim_clock = SimClock(T0)
        eng = matching.MatchingEngine(
            maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(5), unit_notional=Decimal("0.00001")
        )
        mkt = BackgroundMarket(eng, MarketParams(mid=5_000_000, max_qty=200), seed=seed)
        mkt.seed_book(20)
        super().__init__(eng, mkt, "BTCUSDT", self.sim_clock)
        self.submissions: list[str] = []

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        self.submissions.append(client_id)
        return await super().submit(approval, client_id, instrument)


def engine_on(account: Account, journal: Journal) -> Engine:
    mm = MarketMaker(MarketMakerParams("BTCUSDT", tick=1, order_qty=50, max_inventory=400, gamma=0.05))
    return Engine(account, mm, journal=journal, clock=account.sim_clock, config=EngineConfig())


async def trade(account: Account, engines: list[Engine], steps: int) -> None:
    """Step the market; every engine sees every event of the account (one private stream per key)."""
    for i in range(steps):
        account.sim_clock.advance(STEP)
        account.step(STEP)
        while events := account.drain():
            for ev in events:
                for e in engines:
                    e.handle(ev)
            for e in engines:
                await e.settle()
        if i % 3 == 2:
            for e in engines:
                await e.on_timer()
                await e.settle()


def own_net(account: Account, engine: Engine) -> int:
    return sum(
        f.qty if f.side == Side.BUY else -f.qty for f in account._fills if f.client_id in engine.ledger.orders
    )


def test_two_sessions_with_fresh_journals_never_send_the_same_id(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        account = Account()
        a, b = engine_on(account, Journal(":memory:")), engine_on(account, Journal(":memory:"))
        assert a.ledger.instance != b.ledger.instance
        await a.start()
        await b.start()
        await trade(account, [a, b], 300)
        subs = account.submissions
        assert len(subs) == len(set(subs)), "no client order id was sent twice on the account"
        assert a.summary.rejects == b.summary.rejects == 0, "the venue refused none as a duplicate"
        assert a.summary.orders > 10
        assert b.summary.orders > 10
        assert {a.ledger.owner(c) for c in b.ledger.orders} == {Owner.SESSION}
        assert a.summary.fills > 0
        assert b.summary.fills > 0
        # each engine's position is its own fills only: the other's fills did not move it
        assert a._position.qty == own_net(account, a)
        assert b._position.qty == own_net(account, b)
        assert any("another trader session" in r.getMessage() for r in caplog.records)
        # one session shutting down leaves the other's orders alone
        b_open = {r.client_id for r in await account.open_orders() if r.client_id in b.ledger.orders}
        assert b_open
        await a.shutdown()
        still = {r.client_id for r in await account.open_orders()}
        assert b_open <= still, "a's shutdown canceled only a's orders"
        assert not still & set(a.ledger.orders)
        await b.shutdown()

    caplog.set_level(logging.WARNING, logger="trader.engine")
    asyncio.run(go())


def test_restart_reconciles_only_its_own_orders_and_fills(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The fault campaign's case: a session restarts while another trades on the account. It must not
    adopt the other's orders or fills, nor call them mismatches, and its position is its own."""

    async def go() -> None:
        account = Account(seed=5)
        a = engine_on(account, Journal(tmp_path / "a.db"))
        b = engine_on(account, Journal(tmp_path / "b.db"))
        await a.start()
        await b.start()
        await trade(account, [a, b], 200)
        a.journal.close()  # a dies; b keeps trading
        await trade(account, [b], 100)
        b_fills = [f for f in account._fills if f.client_id in b.ledger.orders]
        assert b_fills, "the other session filled while a was down"
        b_open = [r for r in await account.open_orders() if r.client_id in b.ledger.orders]
        assert b_open, "the other session has orders out"
        caplog.clear()
        again = engine_on(account, Journal(tmp_path / "a.db"))
        await again.start()  # no ReconciliationError
        assert not set(again.ledger.orders) & set(b.ledger.orders), "nothing of b's was adopted"
        assert again._position.qty == own_net(account, again) != (await account.positions())["BTCUSDT"]
        assert {r.client_id for r in b_open} <= {r.client_id for r in await account.open_orders()}
        assert any("other trader sessions use this account" in r.getMessage() for r in caplog.records)
        await again.shutdown()
        await b.shutdown()

    caplog.set_level(logging.WARNING, logger="trader.engine")
    asyncio.run(go())


def test_orders_placed_by_hand_are_still_a_mismatch() -> None:
    """Someone trading behind the engine's back with ids no trader session sends: not claimed, and the
    engine refuses to start (a mismatch) rather than guess."""

    async def go() -> None:
        account = Account(seed=6)
        a = engine_on(account, Journal(":memory:"))
        await a.start()
        await trade(account, [a], 30)
        gate, inst = a.gate, a.instruments["BTCUSDT"]
        assert gate is not None
        assert inst.bid is not None
        verdict = gate.check(a._strat, inst.gate_id, Side.BUY, inst.bid - 20, 10, account.sim_clock.now_ns())
        assert isinstance(verdict, Approval)
        await a.shutdown()
        await account.submit(verdict, "web_1", "BTCUSDT")  # the "by hand" order
        with pytest.raises(ReconciliationError, match="web_1 at the venue is not in the journal"):
            await engine_on(account, a.journal).start()

    asyncio.run(go())
