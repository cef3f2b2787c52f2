from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import Side
from trader.engine import oms
from trader.engine.oms import OrderStatus as S


def _order(qty: int = 10) -> oms.Order:
    return oms.Order("mm-1", "sim", "BTCUSDT", Side.BUY, 100, qty)


def status(o: oms.Order) -> S:
    """Read the status through a call, so the type checker does not narrow it between events."""
    return o.status


def live(o: oms.Order) -> bool:
    return o.is_live


def _fill(tid: str, qty: int) -> oms.Filled:
    return oms.Filled(oms.Fill(tid, qty, 100, Decimal("0.01"), 1))


def test_happy_path_and_partial_fills() -> None:
    o = _order()
    assert not live(o)
    assert o.apply(oms.Submitted())
    assert live(o)
    assert o.apply(oms.Accepted("v-1"))
    assert o.venue_order_id == "v-1"
    assert o.apply(_fill("t1", 4))
    assert (status(o), o.filled, o.remaining) == (S.PARTIALLY_FILLED, 4, 6)
    assert not o.apply(_fill("t1", 4)), "a duplicated fill counts once"
    assert o.apply(_fill("t2", 6))
    assert status(o) is S.FILLED
    assert not live(o)


def test_late_and_regressing_events_are_absorbed() -> None:
    o = _order()
    o.apply(oms.Submitted())
    o.apply(_fill("t1", 3))  # the fill arrives before the ack
    assert status(o) is S.PARTIALLY_FILLED
    assert not o.apply(oms.Accepted("v-1")), "a late ack does not regress a partially filled order"
    o.apply(oms.Canceled())
    assert status(o) is S.CANCELED
    for late in (oms.Accepted("x"), oms.Submitted(), oms.Expired(), oms.CancelRequested(), oms.Rejected("r")):
        assert not o.apply(late)
    assert o.apply(_fill("t0", 2)), "a fill that happened before the cancel still counts"
    assert (status(o), o.filled) == (S.CANCELED, 5)


def test_unknown_outcome_resolves_by_venue_answer() -> None:
    o = _order()
    o.apply(oms.Submitted())
    assert o.apply(oms.OutcomeUnknown("timeout"))
    assert live(o)
    assert o.apply(oms.Lost())
    assert live(o)
    assert o.apply(oms.Accepted("v-9")), "found at the venue"
    assert status(o) is S.ACCEPTED


def test_cancel_rejected_returns_to_the_live_state() -> None:
    o = _order()
    o.apply(oms.Submitted())
    o.apply(oms.Accepted("v"))
    o.apply(oms.CancelRequested())
    o.apply(_fill("t1", 2))
    assert status(o) is S.CANCEL_PENDING
    assert o.apply(oms.CancelRejected("too late"))
    assert status(o) is S.PARTIALLY_FILLED
    assert not o.apply(oms.CancelRejected("again"))


def test_cancel_rejected_restores_the_state_the_order_had() -> None:
    """A cancel refused (or failed) during an outage: an UNKNOWN order stays UNKNOWN (it is not
    ACCEPTED: the venue never said so), a LOST one stays LOST, an in-flight one stays SUBMITTED."""
    cases: list[list[oms.OrderEvent]] = [
        [oms.OutcomeUnknown("5xx")],
        [oms.OutcomeUnknown("5xx"), oms.Lost()],
        [],
    ]
    for before in cases:
        o = _order()
        o.apply(oms.Submitted())
        for e in before:
            o.apply(e)
        was = status(o)
        assert o.apply(oms.CancelRequested())
        assert o.apply(oms.CancelRejected("503"))
        assert status(o) is was
        assert o.venue_order_id is None


def test_an_ack_while_a_cancel_is_pending_is_kept() -> None:
    o = _order()
    o.apply(oms.Submitted())
    o.apply(oms.OutcomeUnknown("timeout"))
    o.apply(oms.CancelRequested())
    assert o.apply(oms.Accepted("v-3")), "the venue has it: its id is recorded"
    assert (status(o), o.venue_order_id) == (S.CANCEL_PENDING, "v-3")
    assert o.apply(oms.CancelRejected("503"))
    assert status(o) is S.ACCEPTED


def test_a_fill_while_an_unknown_order_is_being_canceled_proves_it_exists() -> None:
    o = _order()
    o.apply(oms.Submitted())
    o.apply(oms.OutcomeUnknown("timeout"))
    o.apply(oms.CancelRequested())
    o.apply(_fill("t1", 3))
    assert o.apply(oms.CancelRejected("503"))
    assert status(o) is S.PARTIALLY_FILLED


EVENTS = st.one_of(
    st.just(oms.Submitted()),
    st.builds(oms.Accepted, st.just("v")),
    st.builds(lambda t, q: _fill(str(t), q), st.integers(0, 8), st.integers(1, 5)),
    st.just(oms.CancelRequested()),
    st.builds(oms.CancelRejected, st.just("r")),
    st.just(oms.Canceled()),
    st.builds(oms.Rejected, st.just("r")),
    st.just(oms.Expired()),
    st.builds(oms.OutcomeUnknown, st.just("t")),
    st.just(oms.Lost()),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(EVENTS, max_size=30))
def test_never_regresses_and_terminal_is_absorbing(events: list[oms.OrderEvent]) -> None:
    o = _order()
    rank = oms._RANK
    seen: set[str] = set()
    for e in events:
        before, filled_before = o.status, o.filled
        o.apply(e)
        if before in oms.TERMINAL:
            assert o.status is before
        elif not isinstance(e, oms.CancelRejected):
            assert rank[o.status] >= rank[before]
        if isinstance(e, oms.Filled):
            tid = e.fill.trade_id
            assert o.filled == filled_before + (0 if tid in seen else e.fill.qty)
            seen.add(tid)
        assert o.filled == sum(f.qty for f in o.fills.values())
