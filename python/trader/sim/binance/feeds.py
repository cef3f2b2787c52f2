"""Market streams: one depth feed implementation for both books, told apart by its `FeedSpec`.

Spot: `<s>@depth@100ms` / `<s>@depth` diffs whose `U` continues the REST snapshot's `lastUpdateId` (a
`sequence_gap` fault skips one id), `<s>@bookTicker`.
Futures: ids jump irregularly between events and only `pu` == previous `u` holds (as on Binance); a
`sequence_gap` fault drops one event; `@depth@500ms` too, `E`/`T` on every event; `<s>@markPrice[@1s]`
on the market channel. Trades, tickers and klines are the tape's (`tape.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from trader.sim import matching

Subs = dict[web.WebSocketResponse, tuple[set[str], bool]]  # socket -> (streams, combined)
Send = Callable[[web.WebSocketResponse, bytes], None]
Levels = tuple[dict[int, int], dict[int, int]]


def publish(send: Send, subs: Subs, stream: str, event: dict[str, Any]) -> None:
    """Send `event` to every socket subscribed to `stream` (wrapped on combined sockets)."""
    raw = orjson.dumps(event)
    wrapped: bytes | None = None
    for ws, (streams, combined) in list(subs.items()):
        if stream in streams:
            if combined:
                wrapped = wrapped or orjson.dumps({"stream": stream, "data": event})
                send(ws, wrapped)
            else:
                send(ws, raw)


@dataclass(frozen=True)
class FeedSpec:
    depth_streams: tuple[str, ...]
    irregular_ids: bool  # futures: ids jump between events, `pu` chains them, a gap drops an event
    first_id: int


SPOT_FEED = FeedSpec(("@depth@100ms", "@depth"), False, 1000)
FUTURES_FEED = FeedSpec(("@depth@100ms", "@depth", "@depth@500ms"), True, 7_000_000)


class DepthFeed:
    """Diffs of one book against what was last published, with Binance's update ids."""

    def __init__(
        self,
        spec: FeedSpec,
        engine: matching.MatchingEngine,
        symbol: str,
        px: Callable[[int], str],
        qty: Callable[[int], str],
        send: Send,
        subs: Subs,
    ) -> None:
        self.spec, self.engine, self.symbol, self.px, self.qty = spec, engine, symbol, px, qty
        self.send, self.subs = send, subs
        self.last_update_id = spec.first_id
        self.events = 0
        self.published = self.levels()
        self.top: tuple[int, int, int, int] = (0, 0, 0, 0)

    def levels(self) -> Levels:
        bids, asks = self.engine.depth(5000)
        return dict(bids), dict(asks)

    def _diff(self, bids: Levels) -> tuple[list[list[str]], list[list[str]]]:
        (new_b, new_a), (old_b, old_a) = bids, self.published
        b = [
            [self.px(p), self.qty(new_b.get(p, 0))]
            for p in sorted(set(new_b) | set(old_b), reverse=True)
            if new_b.get(p, 0) != old_b.get(p, 0)
        ]
        a = [
            [self.px(p), self.qty(new_a.get(p, 0))]
            for p in sorted(set(new_a) | set(old_a))
            if new_a.get(p, 0) != old_a.get(p, 0)
        ]
        return b, a

    def step(self, now: int, *, gap: bool, stale: bool) -> bool:
        """Publish what changed since the last event (`gap`: break the id chain here). Returns whether
        there was an event (which took the gap)."""
        levels = self.levels()
        b, a = self._diff(levels)
        if not b and not a:
            return False
        self.published = levels
        prev = self.last_update_id
        if self.spec.irregular_ids:
            self.events += 1
            first = prev + 1 + self.events % 3
        else:
            first = prev + 1 + (1 if gap else 0)
        self.last_update_id = first + len(a) + len(b) - 1
        if stale or (gap and self.spec.irregular_ids):  # futures: the gapped event is never sent
            return True
        ev: dict[str, Any] = {"e": "depthUpdate", "E": now}
        if self.spec.irregular_ids:
            ev |= {"T": now, "s": self.symbol, "U": first, "u": self.last_update_id, "pu": prev}
        else:
            ev |= {"s": self.symbol, "U": first, "u": self.last_update_id}
        ev |= {"b": b, "a": a}
        sym = self.symbol.lower()
        for suffix in self.spec.depth_streams:
            publish(self.send, self.subs, f"{sym}{suffix}", ev)
        self._book_ticker(levels, now)
        return True

    def _book_ticker(self, levels: Levels, now: int) -> None:
        bids, asks = levels
        bid = max(bids) if bids else 0
        ask = min(asks) if asks else 0
        top = (bid, bids.get(bid, 0), ask, asks.get(ask, 0))
        if top == self.top:
            return
        self.top = top
        ev: dict[str, Any] = {"e": "bookTicker"} if self.spec.irregular_ids else {}
        ev |= {"u": self.last_update_id, "s": self.symbol}
        ev |= {"b": self.px(top[0]), "B": self.qty(top[1]), "a": self.px(top[2]), "A": self.qty(top[3])}
        if self.spec.irregular_ids:
            ev |= {"T": now, "E": now}
        publish(self.send, self.subs, f"{self.symbol.lower()}@bookTicker", ev)
