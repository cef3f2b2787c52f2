"""`trader testnet` and `trader paper` rehearse Bybit on its simulator end to end (the CLI is
venue-agnostic: the registry, the profile and the connector's `reference()` are all it uses)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trader.cli import EXIT_OK, main


def test_testnet_on_the_simulator_passes_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testnet", "--exchange=bybit", "--sim", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    for check in ("reachability", "clock", "auth", "market data", "order round trip"):
        assert any(check in line and "PASS" in line for line in out.splitlines()), check
    assert "0 failed" in out


def test_paper_on_the_simulator_trades_and_leaves_nothing_open(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--exchange=bybit", "--sim", "--duration=2", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert data["rejects"] == 0
    assert data["open_orders_after_shutdown"] == 0


def test_paper_with_orders_over_the_trade_websocket(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trader.venues.bybit.trade import TradeSession

    ops: list[str] = []
    request = TradeSession.request

    async def counted(
        self: TradeSession, op: str, args: list[dict[str, Any]], *, mutating: bool = True
    ) -> Any:
        ops.append(op)
        return await request(self, op, args, mutating=mutating)

    monkeypatch.setattr(TradeSession, "request", counted)
    argv = ["paper", "--exchange=bybit", "--sim", "--duration=1", "--json", "--order-entry", "ws"]
    assert main(argv) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert ops.count("order.create") == data["orders"], "every order went over the trade WebSocket"
    assert data["rejects"] == 0
    assert data["open_orders_after_shutdown"] == 0
