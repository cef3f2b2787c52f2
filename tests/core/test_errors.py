"""Every exception class of the core: where it sits in the tree and that the core really raises it."""

import pytest

import trader.errors as errors
from trader.core import (
    Book,
    BookNotReadyError,
    InstrumentSpec,
    InvalidInputError,
    KillSwitchLatchedError,
    ParseError,
    RateLimiter,
    RiskGate,
    SequenceGapError,
    Side,
    TraderError,
    TradingState,
    UnknownInstrumentError,
    UnknownNameError,
    UnknownOrderError,
)

TREE: list[tuple[type[Exception], tuple[type[BaseException], ...]]] = [
    (InvalidInputError, (TraderError, ValueError)),
    (ParseError, (TraderError, ValueError)),
    (SequenceGapError, (TraderError,)),
    (BookNotReadyError, (TraderError,)),
    (UnknownInstrumentError, (TraderError, LookupError)),
    (UnknownOrderError, (TraderError, LookupError)),
    (UnknownNameError, (TraderError, LookupError)),
    (KillSwitchLatchedError, (TraderError,)),
    (errors.ConfigError, (TraderError, ValueError)),
]


@pytest.mark.parametrize(("cls", "bases"), TREE)
def test_tree(cls: type[Exception], bases: tuple[type[BaseException], ...]) -> None:
    for b in bases:
        assert issubclass(cls, b)
    assert cls.__doc__
    assert issubclass(TraderError, Exception)


def _gate() -> RiskGate:
    return RiskGate(
        max_gross_notional="1",
        max_net_notional="1",
        max_open_orders=1,
        max_orders_per_sec=1,
        daily_loss_limit="1",
    )


def test_each_class_is_raised_by_the_core() -> None:
    with pytest.raises(InvalidInputError):
        InstrumentSpec("x", "1")
    b = Book(InstrumentSpec("1", "1"))
    with pytest.raises(BookNotReadyError):
        b.apply_binance_depth(b'{"U":1,"u":2,"b":[],"a":[]}')
    b.apply_snapshot([], [], 1)
    with pytest.raises(ParseError):
        b.apply_binance_depth(b"{")
    with pytest.raises(SequenceGapError):
        b.apply_update(Side.BUY, 1, 1, 5)
    g = _gate()
    with pytest.raises(UnknownInstrumentError):
        g.set_reference(3, 1, 1, 0)
    with pytest.raises(UnknownInstrumentError):
        g.instrument_id(0, "nope")
    with pytest.raises(UnknownOrderError):
        g.on_ack(42)
    with pytest.raises(UnknownNameError):
        g.trading_state(strategy=3)
    with pytest.raises(UnknownNameError):
        RateLimiter().quota_id("nope")
    g.kill("test", 0)
    with pytest.raises(KillSwitchLatchedError):
        g.set_trading_state(TradingState.ACTIVE)


def test_messages_say_what_was_wrong() -> None:
    with pytest.raises(InvalidInputError) as e:
        InstrumentSpec("0.01", "1").price_to_units("1.234")
    assert str(e.value) == "price 1.234 is not a multiple of 0.01"
