from decimal import Decimal

import pytest

from trader.core import InstrumentSpec, InvalidInputError, TraderError


def test_units_roundtrip_exactly() -> None:
    s = InstrumentSpec("0.01", "0.00100000", min_qty="0.001", min_notional="5")
    assert (s.tick, s.lot, s.min_qty) == (1, 1, 1)
    assert s.price_to_units("100.25") == 10025
    assert s.price_to_units("100.2500000") == 10025
    assert s.price_to_units("1e2") == 10000
    assert s.qty_to_units("1.5") == 1500
    assert s.format_price(10025) == "100.25"
    assert s.format_qty(1500) == "1.500"
    assert s.notional(10025, 1500) == Decimal("150.375")
    assert s.min_notional == "5"
    assert s.max_qty is None


def test_finer_units_than_the_tick() -> None:
    s = InstrumentSpec("0.01", "0.01", price_unit="0.001", qty_unit="0.000001", max_qty="1000")
    assert (s.tick, s.lot) == (10, 10_000)
    assert s.price_to_units("0.555") == 555
    assert s.tick_size == "0.010"
    assert s.max_qty == 1_000_000_000


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        (("0", "1"), {}, "tick_size must be > 0"),
        (("-0.1", "1"), {}, "tick_size must be > 0"),
        (("nan", "1"), {}, "not a decimal number"),
        (("inf", "1"), {}, "not a decimal number"),
        (("", "1"), {}, "no digits"),
        (("0.01", "1"), {"min_qty": "0.5"}, "not a multiple"),
        (("0.015", "1"), {"price_unit": "0.01"}, "not a multiple"),
        (("1e-10", "1e-10"), {}, "18"),
        (("0.01", "1"), {"min_qty": "5", "max_qty": "2"}, "max_qty is below min_qty"),
    ],
)
def test_bad_specs_raise_typed_errors(args: tuple[str, str], kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment) as e:
        InstrumentSpec(*args, **kwargs)
    assert isinstance(e.value, TraderError)
    assert isinstance(e.value, ValueError)


def test_values_off_the_unit_are_rejected() -> None:
    s = InstrumentSpec("0.01", "0.001")
    with pytest.raises(InvalidInputError, match=r"price 100\.255 is not a multiple of 0\.01"):
        s.price_to_units("100.255")
    with pytest.raises(InvalidInputError, match="not a decimal"):
        s.qty_to_units("1,5")
    with pytest.raises(InvalidInputError, match="38 significant digits"):
        s.qty_to_units("9" * 39)


def test_spec_is_a_frozen_value() -> None:
    a = InstrumentSpec("0.01", "0.001")
    b = InstrumentSpec("0.010", "0.0010")
    assert a == b
    assert hash(a) == hash(b)
    assert a != InstrumentSpec("0.1", "0.001")
    assert "tick_size='0.01'" in repr(a)
    with pytest.raises(AttributeError):
        a.tick = 5  # type: ignore[misc]
