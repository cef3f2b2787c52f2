"""`trader paper --sim --strategy=...` with the cross-venue strategies: they run, under one gate, and a
command that cannot is refused in one line before anything starts."""

from __future__ import annotations

import json

import pytest

from trader.cli import main


def test_mm_xarb_and_basis_run_on_two_exchanges_under_one_gate(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "paper",
        "--sim",
        "--strategy=mm,xarb,basis",
        "--exchange=binance,okx",
        "--duration=0.5",
        "--json",
    ]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["venues"]) == {"binance", "binance-futures", "okx", "okx-swap"}
    assert set(data["strategies"]) == {"mm@binance", "mm@okx", "xarb", "basis@binance", "basis@okx"}
    assert data["open_orders_after_shutdown"] == 0
    assert data["orders"] > 0  # the market makers quote at once
    assert not data["failure"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy=xarb", "--exchange=binance"], "xarb needs two or more exchanges"),
        (["--strategy=basis", "--exchange=coinbase"], "basis needs an exchange with a perpetual"),
        (["--strategy=xarb", "--exchange=binance,alpaca"], "alpaca is not one"),
        (["--strategy=xarb,pairs", "--exchange=binance,okx"], "name each of mm, xarb, basis once"),
    ],
)
def test_a_cross_venue_session_that_cannot_run_is_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["paper", "--sim", "--duration=1", *argv]) == 2
    assert message in capsys.readouterr().err
    assert main(["paper", "--strategy=xarb", "--exchange=binance,okx", "--duration=1"]) == 2
    assert "add --sim" in capsys.readouterr().err
