"""The live terminal view renders what the engine knows."""

import asyncio

from rich.console import Console

from trader.cli.view import render
from trader.sim.session import PaperConfig, PaperSession


def test_live_view_shows_book_quotes_position_and_risk() -> None:
    async def go() -> str:
        session = PaperSession(PaperConfig(seed=5))
        await session.start()
        for _ in range(200):
            await session.step()
        snap = session.engine.snapshot()
        console = Console(record=True, width=120)
        console.print(render(snap, "sim", 20.0))
        await session.shutdown()
        assert snap.quotes, "the market maker has quotes out"
        assert snap.fills > 0
        quoted.extend(q.client_id for q in snap.quotes)
        return console.export_text()

    quoted: list[str] = []
    text = asyncio.run(go())
    assert "sim BTCUSDT" in text
    assert "ACTIVE" in text
    for label in ("position", "PnL", "tick-to-order p50 / p99", "our orders", "recent fills"):
        assert label in text
    assert all(cid in text for cid in quoted), "our orders are listed by client id"
