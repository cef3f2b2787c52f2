"""Signal feeds: a followed JSON-lines file and a polled HTTP endpoint hand signals to the strategy."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from trader.clock import LiveClock
from trader.engine.services import signal_file, signal_http


class FakeEngine:
    clock = LiveClock()

    def __init__(self) -> None:
        self.signals: list[tuple[Decimal, int]] = []

    def deliver(self, call: Any) -> None:
        class Strategy:
            def on_signal(_, prob: Decimal, ts_ns: int, now_ns: int) -> list[Any]:  # noqa: N805
                self.signals.append((prob, ts_ns))
                return []

        call(Strategy())


def test_signal_file_is_followed_as_it_grows_and_bad_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text('{"ts": 1, "market": "m", "prob": "0.61"}\nnot json\n')

    async def go() -> list[tuple[Decimal, int]]:
        engine = FakeEngine()
        task = asyncio.get_running_loop().create_task(signal_file(path, poll_s=0.02)(engine))
        await LiveClock().sleep(0.1)
        with path.open("a") as f:
            f.write('{"ts": 2, "market": "m", "prob": "0.7')  # a partial line waits for its end
            f.flush()
            await LiveClock().sleep(0.1)
            f.write('5"}\n{"ts": 3, "market": "other", "prob": "0.1"}\n')
        await LiveClock().sleep(0.1)
        task.cancel()
        return engine.signals

    assert asyncio.run(go()) == [(Decimal("0.61"), 1), (Decimal("0.75"), 2), (Decimal("0.1"), 3)]


def test_signal_http_polls_and_filters_the_market() -> None:
    answers = iter(
        ['{"ts": 5, "market": "m", "prob": "0.4"}', "oops", '{"ts": 6, "market": "x", "prob": "0.9"}']
    )

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=next(answers, '{"ts": 7, "market": "m", "prob": "0.5"}'))

    async def go() -> list[tuple[Decimal, int]]:
        app = web.Application()
        app.router.add_get("/signal", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        engine = FakeEngine()
        service = signal_http(f"http://127.0.0.1:{port}/signal", market="m", poll_s=0.02)
        task = asyncio.get_running_loop().create_task(service(engine))
        await LiveClock().sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
        return engine.signals

    got = asyncio.run(go())
    assert got[0] == (Decimal("0.4"), 5)
    assert (Decimal("0.9"), 6) not in got  # another market's signal
    assert got[1] == (Decimal("0.5"), 7)


def test_reward_scoring_asks_the_venue_about_live_orders_and_tells_the_strategy() -> None:
    from trader.engine.services import reward_scoring

    class Order:
        def __init__(self, cid: str, venue_id: str) -> None:
            self.client_id, self.venue_order_id = cid, venue_id

    class Venue:
        def __init__(self) -> None:
            self.asked: list[list[str]] = []

        async def orders_scoring(self, client_ids: list[str]) -> dict[str, bool]:
            self.asked.append(client_ids)
            return {cid: cid.endswith("1") for cid in client_ids}

    class Engine(FakeEngine):
        def __init__(self) -> None:
            super().__init__()
            self.connector = Venue()
            self.answers: list[dict[str, bool]] = []
            orders = [Order("r-1", "0xa"), Order("r-2", "0xb"), Order("r-3", "")]  # r-3 not acked yet
            self.ledger = type("Ledger", (), {"live": lambda _: orders})()

        def deliver(self, call: Any) -> None:
            class Strategy:
                def on_scoring(_, answers: dict[str, bool]) -> list[Any]:  # noqa: N805
                    self.answers.append(answers)
                    return []

            call(Strategy())

    async def go() -> Engine:
        engine = Engine()
        task = asyncio.get_running_loop().create_task(reward_scoring(poll_s=0.02)(engine))
        await LiveClock().sleep(0.1)
        task.cancel()
        return engine

    engine = asyncio.run(go())
    assert engine.connector.asked[0] == ["r-1", "r-2"]
    assert engine.answers[0] == {"r-1": True, "r-2": False}
