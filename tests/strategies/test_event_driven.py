from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import InvalidInputError, Side
from trader.errors import ConfigError, ParseError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, Strategy
from trader.strategies.event_driven import (
    EventDriven,
    EventDrivenParams,
    Signal,
    parse_signal,
    read_signals,
)

S = 1_000_000_000
P = EventDrivenParams(
    yes="YES",
    no="NO",
    one=100,
    edge=Decimal("0.03"),
    size_per_cent=1000,  # 10 shares of target position per cent of edge
    max_position=8000,  # 80 shares
    max_age_s=60,
    min_qty=100,
)


def _yes(bid: int | None, ask: int | None, ts: int = S, qty: int = 10_000) -> BookTop:
    return BookTop("YES", bid, qty if bid is not None else 0, ask, qty if ask is not None else 0, ts)


def _ack(ed: EventDriven, intents: list[Intent], cid: str) -> Place:
    (place,) = intents
    assert isinstance(place, Place)
    assert ed.on_order(OwnOrder(cid, place.instrument, place.side, place.price, place.qty, True)) == []
    return place


def _fill(ed: EventDriven, place: Place, cid: str, qty: int | None = None, ts: int = 2 * S) -> list[Intent]:
    """Fill `qty` (all of it by default) and report the order done, as the engine does."""
    q = place.qty if qty is None else qty
    out = ed.on_fill(OwnFill(cid, place.instrument, place.side, place.price, q, ts))
    return out + ed.on_order(OwnOrder(cid, place.instrument, place.side, place.price, place.qty - q, False))


def test_is_a_strategy() -> None:
    s: Strategy = EventDriven(P)
    assert s.on_timer(S) == []
    assert s.on_book(_yes(58, 60)) == []  # no signal yet


def test_params_are_checked() -> None:
    with pytest.raises(ConfigError):
        EventDrivenParams("A", "B", 100, Decimal(0), 1, 1, 60)
    with pytest.raises(ConfigError):
        EventDrivenParams("A", "B", 100, Decimal("0.03"), 1, 1, 60, exit_edge=Decimal("0.05"))


def test_buys_yes_sized_by_the_edge() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    # 0.65 - 0.60 = 5c > 3c: target +5c * 10 sh = 50 shares, taken at the ask
    assert ed.on_signal(Decimal("0.65"), S) == [Place("YES", Side.BUY, 60, 5000, False, "event")]


def test_buys_no_when_the_bid_is_above_the_signal() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    assert ed.on_signal(Decimal("0.55"), S) == []  # 0.58 - 0.55 = 3c: not more than the edge
    # 0.58 - 0.54 = 4c: target -40 shares; holding no YES, it buys NO at 1 - 0.58
    assert ed.on_signal(Decimal("0.54"), 2 * S) == [Place("NO", Side.BUY, 42, 4000, False, "event")]


def test_no_trade_inside_the_edge() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    assert ed.on_signal(Decimal("0.62"), S) == []
    assert ed.on_signal(Decimal("0.63"), 2 * S) == []  # exactly the edge: not more


def test_size_is_capped_by_max_position_and_touch() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    assert ed.on_signal(Decimal("0.75"), S) == [Place("YES", Side.BUY, 60, 8000, False, "event")]  # 15c: cap
    thin = EventDriven(P)
    thin.on_book(_yes(58, 60, qty=3000))
    assert thin.on_signal(Decimal("0.65"), S) == [Place("YES", Side.BUY, 60, 3000, False, "event")]


def test_uses_the_no_book_mirrored() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(50, 70))
    # a NO bid at 0.41 is a YES ask at 0.59: the edge is 0.65 - 0.59 = 6c
    ed.on_book(BookTop("NO", 41, 10_000, 49, 10_000, S))
    assert ed.on_signal(Decimal("0.65"), S) == [Place("YES", Side.BUY, 59, 6000, False, "event")]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 99), st.integers(1, 99))
def test_position_target_is_proportional_to_the_edge(ask: int, prob_cents: int) -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(max(ask - 2, 1) if ask > 1 else None, ask))
    out = ed.on_signal(Decimal(prob_cents) / 100, S)
    edge = prob_cents - ask
    if edge > 3:
        assert out == [Place("YES", Side.BUY, ask, min(8000, edge * 1000), False, "event")]
    else:
        assert all(not (isinstance(i, Place) and i.instrument == "YES" and i.side == Side.BUY) for i in out)


def test_adds_toward_target_holds_then_unwinds_when_the_edge_is_gone() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    first = _ack(ed, ed.on_signal(Decimal("0.65"), S), "o1")
    assert _fill(ed, first, "o1") == []  # at target (50 shares): nothing more
    assert ed.yes_pos == 5000
    # a stronger signal: 10c -> target 80 shares, buys the missing 30
    assert ed.on_signal(Decimal("0.70"), 3 * S) == [Place("YES", Side.BUY, 60, 3000, False, "event")]
    ed2 = EventDriven(P, yes_pos=5000)
    ed2.on_book(_yes(58, 60))
    assert ed2.on_signal(Decimal("0.62"), S) == []  # 2c: no new position, but still above the ask: hold
    # the market caught up: ask 0.66 above the signal 0.65 -> unwind at the bid
    assert ed2.on_book(_yes(64, 66, 2 * S)) == [Place("YES", Side.SELL, 64, 5000, False, "event")]


def test_flip_sells_yes_held_first_then_buys_no() -> None:
    ed = EventDriven(P, yes_pos=5000)
    ed.on_book(_yes(58, 60))
    # 0.58 - 0.50 = 8c: target -80 shares; sell the 50 YES held first
    sell = _ack(ed, ed.on_signal(Decimal("0.50"), S), "s1")
    assert sell == Place("YES", Side.SELL, 58, 5000, False, "event")
    # once it fills, the next step buys 80 NO at 0.42
    assert _fill(ed, sell, "s1") == [Place("NO", Side.BUY, 42, 8000, False, "event")]
    assert ed.net == 0


def test_short_unwinds_by_selling_the_no_held() -> None:
    ed = EventDriven(P, no_pos=4000)
    ed.on_book(_yes(58, 60))
    assert ed.on_signal(Decimal("0.60"), S) == [Place("NO", Side.SELL, 40, 4000, False, "event")]


def test_replacing_cancels_first_and_waits_for_the_cancel() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    _ack(ed, ed.on_signal(Decimal("0.65"), S), "o1")  # rests: nobody sold at 0.60
    moved = ed.on_book(_yes(59, 61, 2 * S))  # now 4c: buy 40 at 0.61
    assert moved == [Cancel("o1")]
    assert ed.on_book(_yes(59, 61, 3 * S)) == []  # no second cancel, nothing new yet
    done = ed.on_order(OwnOrder("o1", "YES", Side.BUY, 60, 5000, False))
    assert done == [Place("YES", Side.BUY, 61, 4000, False, "event")]


def test_a_rejected_order_is_not_retried_until_the_next_event() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    place = _ack(ed, ed.on_signal(Decimal("0.65"), S), "o1")
    assert ed.on_order(OwnOrder("o1", "YES", Side.BUY, 60, place.qty, False)) == []
    assert ed.on_timer(2 * S) == [place]


def test_stale_signals_are_ignored() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60, 100 * S))
    assert ed.on_signal(Decimal("0.70"), 39 * S) == []  # 61 s old on arrival
    assert ed.ignored == 1
    assert ed.prob is None
    assert ed.on_signal(Decimal("0.70"), 40 * S) == [Place("YES", Side.BUY, 60, 8000, False, "event")]  # 60 s


def test_out_of_order_signals_are_ignored() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    assert ed.on_signal(Decimal("0.62"), 10 * S) == []
    assert ed.on_signal(Decimal("0.90"), 5 * S) == []  # older than the current one
    assert ed.ignored == 1
    assert ed.prob == 62


def test_a_signal_that_ages_out_stops_trading() -> None:
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60, S))
    _ack(ed, ed.on_signal(Decimal("0.65"), S), "o1")
    assert ed.on_timer(61 * S) == []  # exactly max_age: still fresh, the order keeps working
    assert ed.on_timer(61 * S + 1) == [Cancel("o1")]
    assert ed.on_order(OwnOrder("o1", "YES", Side.BUY, 60, 5000, False)) == []  # no replacement
    assert ed.on_book(_yes(58, 60, 62 * S)) == []
    # a fresh signal trades again
    assert ed.on_signal(Decimal("0.65"), 62 * S) == [Place("YES", Side.BUY, 60, 5000, False, "event")]


def test_on_signal_checks_the_probability() -> None:
    ed = EventDriven(P)
    with pytest.raises(InvalidInputError):
        ed.on_signal(Decimal("1.01"), S)
    with pytest.raises(InvalidInputError):
        ed.on_signal(Decimal("NaN"), S)


# ---- the signal file ---------------------------------------------------------------------------------


def test_parse_signal_line() -> None:
    line = '{"ts": 1767225600000000000, "market": "m1", "prob": "0.62"}'
    assert parse_signal(line) == Signal(1_767_225_600_000_000_000, "m1", Decimal("0.62"))
    assert parse_signal(line.encode()) == parse_signal(line)
    # a JSON number is read exactly, never through a binary float
    assert parse_signal('{"ts": 5, "market": "m", "prob": 0.1}').prob == Decimal("0.1")
    assert parse_signal('{"ts": 5, "market": "m", "prob": 1}').prob == 1
    iso = parse_signal('{"ts": "2026-01-01T00:00:00Z", "market": "m", "prob": "0.5"}')
    assert iso.ts_ns == 1_767_225_600 * S
    offset = parse_signal('{"ts": "2026-01-01T02:00:00.5+02:00", "market": "m", "prob": "0.5"}')
    assert offset.ts_ns == 1_767_225_600 * S + 500_000_000


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        '{"ts": 5, "market": "m"}',
        '{"ts": 5, "market": "", "prob": "0.5"}',
        '{"ts": 5, "market": "m", "prob": "1.2"}',
        '{"ts": 5, "market": "m", "prob": "-0.1"}',
        '{"ts": 5, "market": "m", "prob": "abc"}',
        '{"ts": 5, "market": "m", "prob": true}',
        '{"ts": 5, "market": "m", "prob": NaN}',
        '{"ts": 5, "market": "m", "prob": "Infinity"}',
        '{"ts": 1.5, "market": "m", "prob": "0.5"}',
        '{"ts": "2026-01-01T00:00:00", "market": "m", "prob": "0.5"}',
        '{"ts": "yesterday", "market": "m", "prob": "0.5"}',
    ],
)
def test_parse_signal_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(ParseError):
        parse_signal(line)


def test_read_signals_filters_by_market_and_names_bad_lines() -> None:
    lines = [
        '{"ts": 1, "market": "a", "prob": "0.60"}\n',
        "\n",
        '{"ts": 2, "market": "b", "prob": "0.10"}\n',
        '{"ts": 3, "market": "a", "prob": "0.65"}\n',
    ]
    assert [s.prob for s in read_signals(lines, "a")] == [Decimal("0.60"), Decimal("0.65")]
    assert len(list(read_signals(lines))) == 3
    with pytest.raises(ParseError, match="line 2"):
        list(read_signals([lines[0], '{"ts": 2}']))


def test_signal_file_drives_the_strategy(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text(
        '{"ts": 1000000000, "market": "m", "prob": "0.61"}\n'
        '{"ts": 1500000000, "market": "other", "prob": "0.99"}\n'
        '{"ts": 2000000000, "market": "m", "prob": "0.66"}\n'
    )
    ed = EventDriven(P)
    ed.on_book(_yes(58, 60))
    out: list[Intent] = []
    with path.open() as f:
        for sig in read_signals(f, "m"):
            out += ed.on_signal(sig.prob, sig.ts_ns)
    assert out == [Place("YES", Side.BUY, 60, 6000, False, "event")]
