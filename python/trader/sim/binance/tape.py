"""The public tape of one book (spot or futures): every public trade kept for a day, and what client
libraries read from it besides the depth: recent and aggregate trades, the 24 h ticker (full and mini),
the book ticker, the price ticker and klines, over REST and as streams.

Streams, on every market-data path of the book (spot `/ws`, `/stream`; futures `/market/...`):
`<s>@trade`, `<s>@aggTrade` (one trade per aggregate here), `<s>@miniTicker`, `<s>@ticker`,
`!miniTicker@arr`, `!ticker@arr` and `<s>@kline_<interval>`. Tickers and klines are pushed once a second,
and only when a socket asks for them. Prices and quantities are integer ticks and lots until formatted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trader.sim import matching
from trader.sim.binance.errors import ApiError, illegal

DAY_MS = 24 * 3600 * 1000
KEEP = 20_000  # trades kept (older ones leave the tape and its statistics)
INTERVALS_MS = {
    "1s": 1000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": DAY_MS, "3d": 3 * DAY_MS, "1w": 7 * DAY_MS,
}  # fmt: skip


@dataclass(frozen=True)
class Print:
    """One public trade: id, price (ticks), quantity (lots), time (ms), whether the buyer was the maker."""

    trade_id: int
    price: int
    qty: int
    time_ms: int
    buyer_maker: bool


@dataclass(frozen=True)
class Stats:
    """A rolling window of the tape (24 h for the ticker): open, high, low, last as ticks."""

    open: int
    high: int
    low: int
    last: int
    last_qty: int
    volume: int  # lots
    quote: Decimal  # quote volume
    first_id: int
    last_id: int
    count: int


class Tape:
    def __init__(
        self,
        symbol: str,
        px: Callable[[int], str],
        qty: Callable[[int], str],
        unit: Decimal,
        *,
        futures: bool,
        top: Callable[[], tuple[int, int, int, int]],
        mid: Callable[[], int],
    ) -> None:
        self.symbol, self.px, self.qty, self.unit, self.futures = symbol, px, qty, unit, futures
        self.top, self.mid = top, mid  # (bid, bid lots, ask, ask lots) and the mid, in ticks
        self.prints: deque[Print] = deque(maxlen=KEEP)
        self._second = 0

    def record(self, trades: Iterable[matching.Trade], now_ms: int) -> list[Print]:
        out = [Print(t.trade_id, t.price, t.qty, now_ms, t.taker_side is matching.Side.SELL) for t in trades]
        self.prints.extend(out)
        return out

    def check_symbol(self, params: dict[str, str], *, mandatory: bool = True) -> None:
        symbol = params.get("symbol")
        if symbol is None and mandatory:
            raise ApiError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol is not None and symbol != self.symbol:
            raise ApiError(-1121, "Invalid symbol.")

    # ---- statistics --------------------------------------------------------------------------------

    def stats(self, start_ms: int) -> Stats:
        """The trades since `start_ms`; with none, the last trade's price (else the mid) and no volume."""
        window = [p for p in self.prints if p.time_ms >= start_ms]
        if not window:
            last = self.prints[-1].price if self.prints else self.mid()
            lid = self.prints[-1].trade_id if self.prints else -1
            return Stats(last, last, last, last, 0, 0, Decimal(0), -1 if lid < 0 else lid, lid, 0)
        return Stats(
            open=window[0].price,
            high=max(p.price for p in window),
            low=min(p.price for p in window),
            last=window[-1].price,
            last_qty=window[-1].qty,
            volume=sum(p.qty for p in window),
            quote=sum((Decimal(p.price * p.qty) * self.unit for p in window), Decimal(0)),
            first_id=window[0].trade_id,
            last_id=window[-1].trade_id,
            count=len(window),
        )

    def _vwap(self, s: Stats) -> str:
        if not s.volume:
            return self.px(s.last)
        return f"{s.quote / (Decimal(s.volume) * self.unit) * self._tick():.8f}"

    def _tick(self) -> Decimal:
        return Decimal(self.px(1))

    def _change(self, s: Stats) -> tuple[str, str]:
        change = Decimal(self.px(s.last)) - Decimal(self.px(s.open))
        pct = change / Decimal(self.px(s.open)) * 100 if s.open else Decimal(0)
        return f"{change:.8f}", f"{pct:.3f}"

    # ---- REST --------------------------------------------------------------------------------------

    def ticker_24hr(self, now_ms: int, params: dict[str, str]) -> Any:
        self.check_symbol(params, mandatory=False)
        s = self.stats(now_ms - DAY_MS)
        change, pct = self._change(s)
        body: dict[str, Any] = {"symbol": self.symbol}
        if params.get("type", "FULL") == "MINI":
            body |= {"openPrice": self.px(s.open), "highPrice": self.px(s.high), "lowPrice": self.px(s.low)}
            body |= {
                "lastPrice": self.px(s.last),
                "volume": self.qty(s.volume),
                "quoteVolume": f"{s.quote:.8f}",
            }
        else:
            body |= {"priceChange": change, "priceChangePercent": pct, "weightedAvgPrice": self._vwap(s)}
            if not self.futures:
                body["prevClosePrice"] = self.px(s.open)
            body |= {"lastPrice": self.px(s.last), "lastQty": self.qty(s.last_qty)}
            if not self.futures:
                body |= {k: v for k, v in self._book(now_ms).items() if k != "symbol"}
            body |= {"openPrice": self.px(s.open), "highPrice": self.px(s.high), "lowPrice": self.px(s.low)}
            body |= {"volume": self.qty(s.volume), "quoteVolume": f"{s.quote:.8f}"}
        body |= {"openTime": now_ms - DAY_MS, "closeTime": now_ms, "firstId": s.first_id, "lastId": s.last_id}
        body["count"] = s.count
        return body if "symbol" in params else [body]

    def book_ticker(self, now_ms: int, params: dict[str, str]) -> Any:
        self.check_symbol(params, mandatory=False)
        body = self._book(now_ms)
        return body if "symbol" in params else [body]

    def _book(self, now_ms: int) -> dict[str, Any]:
        bid, bid_qty, ask, ask_qty = self.top()
        body: dict[str, Any] = {"symbol": self.symbol, "bidPrice": self.px(bid), "bidQty": self.qty(bid_qty)}
        body |= {"askPrice": self.px(ask), "askQty": self.qty(ask_qty)}
        if self.futures:
            body["time"] = now_ms
        return body

    def price_ticker(self, now_ms: int, params: dict[str, str]) -> Any:
        self.check_symbol(params, mandatory=False)
        last = self.prints[-1].price if self.prints else self.mid()
        body: dict[str, Any] = {"symbol": self.symbol, "price": self.px(last)}
        if self.futures:
            body["time"] = now_ms
        return body if "symbol" in params else [body]

    def _limit(self, params: dict[str, str], default: int, most: int) -> int:
        limit = int(params.get("limit", str(default)) or default)
        if not 1 <= limit <= most:
            raise illegal("limit")
        return limit

    def recent_trades(self, now_ms: int, params: dict[str, str]) -> list[dict[str, Any]]:
        self.check_symbol(params)
        prints = list(self.prints)[-self._limit(params, 500, 1000) :]
        out = []
        for p in prints:
            row: dict[str, Any] = {"id": p.trade_id, "price": self.px(p.price), "qty": self.qty(p.qty)}
            row |= {"quoteQty": f"{Decimal(p.price * p.qty) * self.unit:.8f}", "time": p.time_ms}
            row["isBuyerMaker"] = p.buyer_maker
            if not self.futures:
                row["isBestMatch"] = True
            out.append(row)
        return out

    def agg_trades(self, now_ms: int, params: dict[str, str]) -> list[dict[str, Any]]:
        """`fromId`, or `startTime`/`endTime` (at most an hour apart), else the most recent."""
        self.check_symbol(params)
        limit = self._limit(params, 500, 1000)
        prints: list[Print] = list(self.prints)
        if "fromId" in params:
            first = int(params["fromId"])
            prints = [p for p in prints if p.trade_id >= first][:limit]
        elif "startTime" in params or "endTime" in params:
            start = int(params.get("startTime", "0"))
            end = int(params.get("endTime", str(now_ms)))
            if "startTime" in params and "endTime" in params and end - start > 3_600_000:
                raise ApiError(-1127, "More than 1 hours between startTime and endTime.")
            prints = [p for p in prints if start <= p.time_ms <= end][:limit]
        else:
            prints = prints[-limit:]
        return [self.agg_json(p) for p in prints]

    def agg_json(self, p: Print) -> dict[str, Any]:
        row: dict[str, Any] = {"a": p.trade_id, "p": self.px(p.price), "q": self.qty(p.qty)}
        row |= {"f": p.trade_id, "l": p.trade_id, "T": p.time_ms, "m": p.buyer_maker}
        if not self.futures:
            row["M"] = True
        return row

    def klines(self, now_ms: int, params: dict[str, str]) -> list[list[Any]]:
        self.check_symbol(params)
        interval = params.get("interval", "")
        if interval not in INTERVALS_MS:
            raise ApiError(-1120, "Invalid interval.")
        size = INTERVALS_MS[interval]
        limit = self._limit(params, 500, 1500 if self.futures else 1000)
        start = int(params.get("startTime", "0"))
        end = int(params.get("endTime", str(now_ms)))
        buckets: dict[int, list[Print]] = {}
        for p in self.prints:
            if start <= p.time_ms <= end:
                buckets.setdefault(p.time_ms // size * size, []).append(p)
        opens = sorted(buckets)
        opens = opens[:limit] if "startTime" in params else opens[-limit:]
        return [self._kline_row(t, size, buckets[t]) for t in opens]

    def _kline_row(self, open_ms: int, size: int, prints: list[Print]) -> list[Any]:
        k = self._kline(open_ms, size, prints)
        return [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"], "0"]

    def _kline(self, open_ms: int, size: int, prints: list[Print]) -> dict[str, Any]:
        """One kline's fields as the stream names them (the REST row takes them in order)."""
        taker_buys = [p for p in prints if not p.buyer_maker]
        if prints:
            o, c = prints[0].price, prints[-1].price
            h, lo = max(p.price for p in prints), min(p.price for p in prints)
            f, last = prints[0].trade_id, prints[-1].trade_id
        else:
            o = c = h = lo = self.prints[-1].price if self.prints else self.mid()
            f = last = -1
        return {
            "t": open_ms, "T": open_ms + size - 1, "s": self.symbol, "f": f, "L": last,
            "o": self.px(o), "c": self.px(c), "h": self.px(h), "l": self.px(lo),
            "v": self.qty(sum(p.qty for p in prints)), "n": len(prints),
            "q": f"{self._quote(prints):.8f}", "V": self.qty(sum(p.qty for p in taker_buys)),
            "Q": f"{self._quote(taker_buys):.8f}", "B": "0",
        }  # fmt: skip

    def _quote(self, prints: list[Print]) -> Decimal:
        return sum((Decimal(p.price * p.qty) * self.unit for p in prints), Decimal(0))

    # ---- streams -----------------------------------------------------------------------------------

    def trade_events(self, prints: list[Print], now_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """`@trade` and `@aggTrade` events of new prints: (stream, event)."""
        sym = self.symbol.lower()
        out: list[tuple[str, dict[str, Any]]] = []
        for p in prints:
            trade: dict[str, Any] = {"e": "trade", "E": now_ms, "s": self.symbol, "t": p.trade_id}
            trade |= {"p": self.px(p.price), "q": self.qty(p.qty), "T": p.time_ms, "m": p.buyer_maker}
            if self.futures:
                trade["X"] = "MARKET"
            else:
                trade["M"] = True
            agg = {"e": "aggTrade", "E": now_ms, "s": self.symbol} | self.agg_json(p)
            agg.pop("M", None)
            out += [(f"{sym}@trade", trade), (f"{sym}@aggTrade", agg)]
        return out

    def periodic_events(self, now_ms: int, wanted: set[str]) -> list[tuple[str, Any]]:
        """Once a second, the tickers and klines some socket subscribed to: (stream, event)."""
        if now_ms // 1000 == self._second:
            return []
        self._second = now_ms // 1000
        sym = self.symbol.lower()
        out: list[tuple[str, Any]] = []
        if wanted & {f"{sym}@miniTicker", "!miniTicker@arr", f"{sym}@ticker", "!ticker@arr"}:
            s = self.stats(now_ms - DAY_MS)
            mini, full = self._mini_event(s, now_ms), self._ticker_event(s, now_ms)
            out += [(f"{sym}@miniTicker", mini), ("!miniTicker@arr", [mini])]
            out += [(f"{sym}@ticker", full), ("!ticker@arr", [full])]
        for stream in sorted(wanted):
            if stream.startswith(f"{sym}@kline_") and stream[len(sym) + 7 :] in INTERVALS_MS:
                out.append((stream, self._kline_event(stream[len(sym) + 7 :], now_ms)))
        return out

    def _mini_event(self, s: Stats, now_ms: int) -> dict[str, Any]:
        ev: dict[str, Any] = {"e": "24hrMiniTicker", "E": now_ms, "s": self.symbol, "c": self.px(s.last)}
        ev |= {"o": self.px(s.open), "h": self.px(s.high), "l": self.px(s.low), "v": self.qty(s.volume)}
        ev["q"] = f"{s.quote:.8f}"
        return ev

    def _ticker_event(self, s: Stats, now_ms: int) -> dict[str, Any]:
        change, pct = self._change(s)
        ev: dict[str, Any] = {"e": "24hrTicker", "E": now_ms, "s": self.symbol, "p": change, "P": pct}
        ev["w"] = self._vwap(s)
        if not self.futures:
            ev["x"] = self.px(s.open)
        ev |= {"c": self.px(s.last), "Q": self.qty(s.last_qty)}
        if not self.futures:
            bid, bid_qty, ask, ask_qty = self.top()
            ev |= {"b": self.px(bid), "B": self.qty(bid_qty), "a": self.px(ask), "A": self.qty(ask_qty)}
        ev |= {"o": self.px(s.open), "h": self.px(s.high), "l": self.px(s.low), "v": self.qty(s.volume)}
        ev |= {"q": f"{s.quote:.8f}", "O": now_ms - DAY_MS, "C": now_ms, "F": s.first_id, "L": s.last_id}
        ev["n"] = s.count
        return ev

    def _kline_event(self, interval: str, now_ms: int) -> dict[str, Any]:
        size = INTERVALS_MS[interval]
        open_ms = now_ms // size * size
        prints = [p for p in self.prints if p.time_ms >= open_ms]
        k = self._kline(open_ms, size, prints) | {"i": interval, "x": False}
        return {"e": "kline", "E": now_ms, "s": self.symbol, "k": k}
