"""A Binance simulator in its own process for the round-trip benches (`python -m benches.simproc`): a
venue is another process, so its work must not share the client's interpreter (with a simulator on a
thread of ours, its handling of each order is timed as the client's and every client looks alike).
Limits are raised so that a few hundred timed orders are never throttled; it serves until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from trader.cli.latency import stop_sim
from trader.clock import LiveClock
from trader.sim.binance import BinanceSimServer

ROOT = Path(__file__).resolve().parent.parent


class SimProcess:
    """The simulator's process and its base URLs (HTTP and WebSocket)."""

    def __init__(self, seed: int = 5) -> None:
        cmd = [sys.executable, "-m", "benches.simproc", str(seed)]
        # our own module, by this interpreter, with an int argument
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2:
            self.proc.kill()
            raise RuntimeError(f"the simulator did not start: {line}")
        self.url, self.ws_url = line

    def close(self) -> None:
        stop_sim(self.proc)


async def _serve(seed: int) -> None:
    server = BinanceSimServer(seed=seed, clock=LiveClock(), weight_limit=10_000_000, orders_per_10s=1_000_000)
    await server.start("127.0.0.1", 0)
    print(server.url, server.ws_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await server.stop()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
