"""A loopback simulator of Alpaca's Trading API v2 and its two WebSocket streams (a documented subset).

REST (`/v2/...`, keys in `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`, compared with `hmac.compare_digest`):
account, orders (POST; GET list, by id and `orders:by_client_order_id`; DELETE one and all), positions,
clock, assets/{symbol}, account/activities (FILL). Orders: `market` and `limit`; `day`, `gtc`, `ioc`,
`fok`; `extended_hours` (limit + day only); `client_order_id` unique per account. Errors are Alpaca's
`{"code": ..., "message": ...}` bodies: 401 (40110000), 403 insufficient buying power / qty or a potential
wash trade (40310000), 404 (40410000), 422 validation (40010001, 42210000), 429 past 200 requests per
minute per account (`X-RateLimit-Limit/Remaining/Reset` on every answer).

Streams: `/stream` (trade_updates: `authenticate` or `auth`, then `listen`; JSON in binary frames as the
paper host sends them, msgpack when the upgrade says `Content-Type: application/msgpack`) and the stock data
stream `/v2/iex`, `/v2/sip` (`[{"T":"success","msg":"connected"}]`, `auth`, `subscribe`/`unsubscribe`, acks
listing the whole subscription, quotes `q` and trades `t`; msgpack frames with the timestamp as a msgpack
Timestamp ext when the upgrade asks for msgpack, else JSON with RFC 3339 times; errors 400/401/402/404/406).
The msgpack codec is written here (a small independent implementation; alpaca-py's `msgpack` is the oracle).

Market: SPY and QQQ, each a seeded background market (`trader.sim.market`) on the pure-Python matching
engine; prices are integer cents and sizes whole shares inside, decimal strings on the REST wire (the data
stream sends numbers, as the real one does). Fills are commission-free.

Session calendar (US/Eastern, computed here without a time-zone database; weekdays, no holidays): pre-market
04:00-09:30, regular 09:30-16:00, after-hours 16:00-20:00. `/v2/clock` is open in regular hours. An order
placed when it cannot trade is accepted (`accepted`) and routed when it can: regular hours, or the extended
sessions for an `extended_hours` order, as Alpaca does; a `gtc` order is parked outside its hours and
re-routed at the next open; `day` orders expire at the close (20:00 for extended-hours ones). Tests set the
time with `ShiftedClock`.

Admin hooks: `state()`, `hit()` (another participant's order), `top()`, `depth()`.

Deviations: no fractional or notional orders, no stop/trailing/bracket/OCO/OTO orders, no replace (PATCH);
no margin or shorting (buying power is cash less open buy orders, multiplier 1); no regulatory fees; a market
order's unfilled remainder, an IOC remainder and an unfillable FOK are `canceled`; DELETE cancels at once
(no `pending_cancel`); no holidays or early closes; bars, statuses and LULDs can be subscribed but are not
produced; the 429 body code 42910000 and msgpack on `/stream` are unconfirmed; the activity id's suffix is
the fill's `execution_id` (Alpaca's exact relation is unconfirmed); injected 429/503 faults (base server) use
the base server's body.
"""

from __future__ import annotations

import asyncio
import calendar
import hmac
import itertools
import json
import random
import struct
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from trader.clock import Clock
from trader.sim.faults import Faults
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade
from trader.sim.server import VenueServer

DEMO_KEY = "sim-alpaca-key"
DEMO_SECRET = "sim-alpaca-secret"  # noqa: S105 - the simulator's published demo credential

ORDER_PATHS = ("POST /v2/orders", "DELETE /v2/orders")
RATE_LIMIT = 200  # requests per minute per account
CENT = Decimal("0.01")
NS = 1_000_000_000
LIVE = frozenset({"accepted", "pending_new", "new", "partially_filled"})
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")


# ---- msgpack (the subset both streams use) ---------------------------------------------------------


@dataclass(frozen=True)
class MsgpackTimestamp:
    """A msgpack Timestamp extension (type -1), in nanoseconds since the epoch."""

    ns: int


def packb(obj: Any) -> bytes:
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack_len(out: bytearray, n: int, fix: int, fix_max: int, codes: tuple[int, int, int]) -> None:
    if n <= fix_max:
        out.append(fix | n)
    elif n < 1 << 8 and codes[0]:
        out += bytes((codes[0], n))
    elif n < 1 << 16:
        out.append(codes[1])
        out += struct.pack(">H", n)
    else:
        out.append(codes[2])
        out += struct.pack(">I", n)


def _pack(o: Any, out: bytearray) -> None:
    if o is None:
        out.append(0xC0)
    elif o is True or o is False:
        out.append(0xC3 if o else 0xC2)
    elif isinstance(o, int):
        if 0 <= o < 128:
            out.append(o)
        elif -32 <= o < 0:
            out.append(o & 0xFF)
        elif o >= 0:
            for code, fmt, bits in ((0xCC, ">B", 8), (0xCD, ">H", 16), (0xCE, ">I", 32), (0xCF, ">Q", 64)):
                if o < 1 << bits:
                    out.append(code)
                    out += struct.pack(fmt, o)
                    return
            raise ValueError("integer too large for msgpack")
        else:
            for code, fmt, bits in ((0xD0, ">b", 7), (0xD1, ">h", 15), (0xD2, ">i", 31), (0xD3, ">q", 63)):
                if o >= -(1 << bits):
                    out.append(code)
                    out += struct.pack(fmt, o)
                    return
            raise ValueError("integer too small for msgpack")
    elif isinstance(o, float):
        out.append(0xCB)
        out += struct.pack(">d", o)
    elif isinstance(o, str):
        raw = o.encode()
        _pack_len(out, len(raw), 0xA0, 31, (0xD9, 0xDA, 0xDB))
        out += raw
    elif isinstance(o, bytes | bytearray):
        _pack_len(out, len(o), 0, -1, (0xC4, 0xC5, 0xC6))
        out += o
    elif isinstance(o, list | tuple):
        _pack_len(out, len(o), 0x90, 15, (0, 0xDC, 0xDD))
        for item in o:
            _pack(item, out)
    elif isinstance(o, dict):
        _pack_len(out, len(o), 0x80, 15, (0, 0xDE, 0xDF))
        for k, v in o.items():
            _pack(k, out)
            _pack(v, out)
    elif isinstance(o, MsgpackTimestamp):
        sec, nsec = divmod(o.ns, NS)
        if sec >> 34 == 0:
            if nsec == 0 and sec < 1 << 32:
                out += b"\xd6\xff" + struct.pack(">I", sec)
            else:
                out += b"\xd7\xff" + struct.pack(">Q", nsec << 34 | sec)
        else:
            out += b"\xc7\x0c\xff" + struct.pack(">Iq", nsec, sec)
    else:
        raise TypeError(f"cannot pack {type(o).__name__}")


def unpackb(data: bytes) -> Any:
    """Decode one msgpack object; `ValueError` for malformed or trailing bytes."""
    try:
        obj, pos = _unpack(data, 0)
    except (IndexError, struct.error, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"malformed msgpack ({type(e).__name__})") from None
    if pos != len(data):
        raise ValueError("trailing bytes after a msgpack object")
    return obj


_FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
_FIXED.update({0xCA: ">f", 0xCB: ">d"})
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4, 0xDC: 2, 0xDD: 4, 0xDE: 2, 0xDF: 4}
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}


def _size(b: bytes, i: int, width: int) -> tuple[int, int]:
    fmt = {1: ">B", 2: ">H", 4: ">I"}[width]
    return struct.unpack_from(fmt, b, i)[0], i + width


def _unpack(b: bytes, i: int) -> tuple[Any, int]:
    t = b[i]
    i += 1
    if t <= 0x7F:
        return t, i
    if t >= 0xE0:
        return t - 0x100, i
    if 0x80 <= t <= 0x8F:
        return _unpack_map(b, i, t & 0x0F)
    if 0x90 <= t <= 0x9F:
        return _unpack_array(b, i, t & 0x0F)
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return _text(b, i, n), i + n
    if t == 0xC0:
        return None, i
    if t in (0xC2, 0xC3):
        return t == 0xC3, i
    if t in _FIXED:
        fmt = _FIXED[t]
        return struct.unpack_from(fmt, b, i)[0], i + struct.calcsize(fmt)
    if t in _SIZED:
        n, i = _size(b, i, _SIZED[t])
        if t in (0xC4, 0xC5, 0xC6):
            if i + n > len(b):
                raise IndexError("truncated bin")
            return bytes(b[i : i + n]), i + n
        if t in (0xD9, 0xDA, 0xDB):
            return _text(b, i, n), i + n
        if t in (0xDC, 0xDD):
            return _unpack_array(b, i, n)
        return _unpack_map(b, i, n)
    if t in _FIXEXT or t in (0xC7, 0xC8, 0xC9):
        if t in _FIXEXT:
            n = _FIXEXT[t]
        else:
            n, i = _size(b, i, {0xC7: 1, 0xC8: 2, 0xC9: 4}[t])
        kind = struct.unpack_from(">b", b, i)[0]
        payload = b[i + 1 : i + 1 + n]
        if len(payload) != n:
            raise IndexError("truncated ext")
        if kind != -1:
            raise IndexError(f"unsupported ext type {kind}")
        if n == 4:
            return MsgpackTimestamp(struct.unpack(">I", payload)[0] * NS), i + 1 + n
        if n == 8:
            v = struct.unpack(">Q", payload)[0]
            return MsgpackTimestamp((v & (1 << 34) - 1) * NS + (v >> 34)), i + 1 + n
        nsec, sec = struct.unpack(">Iq", payload)
        return MsgpackTimestamp(sec * NS + nsec), i + 1 + n
    raise IndexError(f"unknown msgpack type byte 0x{t:02x}")


def _text(b: bytes, i: int, n: int) -> str:
    if i + n > len(b):
        raise IndexError("truncated str")
    return bytes(b[i : i + n]).decode()


def _unpack_array(b: bytes, i: int, n: int) -> tuple[list[Any], int]:
    out = []
    for _ in range(n):
        v, i = _unpack(b, i)
        out.append(v)
    return out, i


def _unpack_map(b: bytes, i: int, n: int) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    for _ in range(n):
        k, i = _unpack(b, i)
        v, i = _unpack(b, i)
        if isinstance(k, list | dict):
            raise IndexError("unhashable map key")
        out[k] = v
    return out, i


# ---- time: RFC 3339 and the US/Eastern session calendar -----------------------------------------


def rfc3339(ns: int) -> str:
    """UTC with nanoseconds, as Alpaca writes times: 2024-01-05T15:41:22.123456789Z."""
    sec, nsec = divmod(ns, NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{nsec:09d}Z"


def parse_rfc3339(text: str) -> int:
    """RFC 3339 (or a bare date) to nanoseconds since the epoch; `ValueError` if malformed."""
    s = text.strip()
    if len(s) == 10:
        s += "T00:00:00Z"
    if len(s) < 20 or s[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    try:
        base = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {text!r}") from None
    rest, frac = s[19:], 0
    if rest.startswith("."):
        digits = len(rest) - len(rest[1:].lstrip("0123456789"))
        frac_text = rest[1:digits]
        if not frac_text:
            raise ValueError(f"not an RFC 3339 time: {text!r}")
        frac, rest = int(frac_text[:9].ljust(9, "0")), rest[digits:]
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and rest[1:3].isdigit() and rest[4:].isdigit():
        offset = (int(rest[1:3]) * 3600 + int(rest[4:]) * 60) * (1 if rest[0] == "+" else -1)
    else:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    return (base - offset) * NS + frac


def _nth_sunday(year: int, month: int, n: int) -> int:
    """Midnight UTC (seconds) of the n-th Sunday of a month."""
    first = calendar.timegm((year, month, 1, 0, 0, 0))
    weekday = time.gmtime(first).tm_wday  # Monday = 0
    return first + (((6 - weekday) % 7) + 7 * (n - 1)) * 86400


def eastern_offset_s(utc_s: int) -> int:
    """US/Eastern's UTC offset at a UTC instant: EDT from the second Sunday of March 02:00 EST to the first
    Sunday of November 02:00 EDT (the rule since 2007), else EST."""
    year = time.gmtime(utc_s).tm_year
    start = _nth_sunday(year, 3, 2) + 7 * 3600
    end = _nth_sunday(year, 11, 1) + 6 * 3600
    return -4 * 3600 if start <= utc_s < end else -5 * 3600


def eastern_ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """A wall time in New York as nanoseconds since the epoch."""
    local = calendar.timegm((year, month, day, hour, minute, 0))
    return (local - eastern_offset_s(local + 5 * 3600)) * NS


def eastern_iso(ns: int) -> str:
    """New York local time with its offset, as `/v2/clock` writes it."""
    sec, nsec = divmod(ns, NS)
    off = eastern_offset_s(sec)
    sign, a = ("-", -off) if off < 0 else ("+", off)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec + off))
        + f".{nsec:09d}{sign}{a // 3600:02d}:{a % 3600 // 60:02d}"
    )


def session(ns: int) -> str:
    """`pre`, `regular`, `post` or `closed` at an instant."""
    sec = ns // NS
    local = time.gmtime(sec + eastern_offset_s(sec))
    if local.tm_wday >= 5:
        return "closed"
    minute = local.tm_hour * 60 + local.tm_min
    if 240 <= minute < 570:
        return "pre"
    if 570 <= minute < 960:
        return "regular"
    if 960 <= minute < 1200:
        return "post"
    return "closed"


def next_session_time(ns: int, hour: int, minute: int) -> int:
    """The first weekday `hour:minute` in New York strictly after `ns`."""
    sec = ns // NS
    local = time.gmtime(sec + eastern_offset_s(sec))
    for d in range(8):
        day = time.gmtime(calendar.timegm((local.tm_year, local.tm_mon, local.tm_mday, 12, 0, 0)) + d * 86400)
        if day.tm_wday >= 5:
            continue
        t = eastern_ns(day.tm_year, day.tm_mon, day.tm_mday, hour, minute)
        if t > ns:
            return t
    raise AssertionError("unreachable: a weekday comes within 8 days")  # pragma: no cover


# ---- state ----------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers: dict[str, str] = {}


@dataclass(frozen=True)
class _Listing:
    symbol: str
    name: str
    exchange: str
    tape: str
    mid_cents: int


LISTINGS = (
    _Listing("SPY", "SPDR S&P 500 ETF Trust", "ARCA", "B", 45_000),
    _Listing("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", "C", 38_000),
)


@dataclass
class _Book:
    listing: _Listing
    asset_id: str
    engine: MatchingEngine
    market: BackgroundMarket
    top: tuple[int, int, int, int] = (0, 0, 0, 0)
    trade_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Order:
    id: str
    key: str
    client_id: str
    symbol: str
    asset_id: str
    side: str  # buy | sell
    type: str  # market | limit
    tif: str
    qty: int  # shares
    limit: int  # cents; 0 for market
    extended: bool
    intent: str
    created_ns: int
    status: str = "pending_new"
    updated_ns: int = 0
    filled: int = 0
    filled_cents: int = 0  # sum of price * qty, for the average
    engine_id: int = 0  # > 0 while it rests in the book
    expires_ns: int | None = None
    filled_ns: int | None = None
    canceled_ns: int | None = None
    expired_ns: int | None = None

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


@dataclass
class Account:
    secret: bytes = field(repr=False)
    id: str
    number: str
    cash: Decimal
    positions: dict[str, list[Any]] = field(default_factory=dict)  # symbol -> [shares, cost basis]
    used_client_ids: set[str] = field(default_factory=set)
    submissions: dict[str, int] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    window: list[int] = field(default_factory=lambda: [0, 0])  # [minute, requests]

    def __repr__(self) -> str:  # never the secret
        return f"Account({self.number}, cash={self.cash})"


@dataclass
class _DataSub:
    key: str
    feed: str
    binary: bool  # msgpack
    subs: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in CHANNELS})

    def wants(self, channel: str, symbol: str) -> bool:
        s = self.subs[channel]
        return symbol in s or "*" in s


@dataclass(frozen=True)
class _Request:
    query: Mapping[str, str]
    match: dict[str, str]
    body: bytes


def _cents(d: Decimal) -> str:
    return f"{d:.2f}"


def _px(cents: int) -> str:
    return _cents(Decimal(cents) * CENT)


class AlpacaSimServer(VenueServer):
    venue = "alpaca"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        accounts: dict[str, str] | None = None,
        cash: Decimal = Decimal(100_000),
        rate_limit: int = RATE_LIMIT,
        data_connections: int = 1,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self.faults = Faults(seed=seed, paths=ORDER_PATHS)
        self._rng = random.Random(seed)
        self.rate_limit = rate_limit
        self.data_connections = data_connections
        self.accounts: dict[str, Account] = {}
        for n, (key, secret) in enumerate(sorted((accounts or {DEMO_KEY: DEMO_SECRET}).items()), 1):
            self.accounts[key] = Account(secret.encode(), self._uuid(), f"PA3SIM{n:06d}", cash)
        self.books: dict[str, _Book] = {}
        for i, listing in enumerate(LISTINGS):
            engine = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=CENT)
            params = MarketParams(mid=listing.mid_cents, max_qty=200, market_rate=4.0)
            market = BackgroundMarket(engine, params, seed=seed * 31 + i)
            market.seed_book(20)
            asset_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"trader-sim/alpaca/{listing.symbol}"))
            self.books[listing.symbol] = _Book(listing, asset_id, engine, market)
            self.books[listing.symbol].top = self._top(self.books[listing.symbol])
        self.orders: dict[str, Order] = {}  # by id
        self.live: dict[str, Order] = {}  # the orders that can still trade, by id
        self._resting: dict[int, Order] = {}  # engine id -> order
        self._engine_ids = itertools.count(1)
        self.trade_subs: dict[web.WebSocketResponse, tuple[str, bool]] = {}  # ws -> (key, msgpack)
        self.data_subs: dict[web.WebSocketResponse, _DataSub] = {}

    # ---- helpers -----------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def session(self) -> str:
        return session(self.now_ns())

    def _top(self, book: _Book) -> tuple[int, int, int, int]:
        bids, asks = book.engine.depth(1)
        bid, bid_qty = bids[0] if bids else (0, 0)
        ask, ask_qty = asks[0] if asks else (0, 0)
        return bid, bid_qty, ask, ask_qty

    def top(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Best bid and ask now, in dollars."""
        bid, _, ask, _ = self._top(self.books[symbol])
        return Decimal(bid) * CENT, Decimal(ask) * CENT

    def depth(self, symbol: str, n: int = 50) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The book (cents, shares) of a symbol, best first."""
        return self.books[symbol].engine.depth(n)

    def _mid_cents(self, book: _Book) -> Decimal:
        bid, _, ask, _ = self._top(book)
        if bid and ask:
            return Decimal(bid + ask) / 2
        return Decimal(round(book.market.mid))

    def _book_of(self, symbol_or_id: str) -> _Book | None:
        found = self.books.get(symbol_or_id.upper())
        if found is not None:
            return found
        return next((b for b in self.books.values() if b.asset_id == symbol_or_id), None)

    # ---- REST plumbing -----------------------------------------------------------------------------

    def _error(self, e: ApiError, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            body=orjson.dumps({**e.extra, "code": e.code, "message": e.message}),
            status=e.status,
            content_type="application/json",
            headers=headers,
        )

    def _auth(self, request: web.Request) -> tuple[str, Account]:
        key = request.headers.get("APCA-API-KEY-ID", "")
        secret = request.headers.get("APCA-API-SECRET-KEY", "")
        account = self.accounts.get(key)
        if account is None or not hmac.compare_digest(account.secret, secret.encode()):
            raise ApiError(401, 40110000, "request is not authorized")
        return key, account

    def _charge(self, account: Account) -> dict[str, str]:
        now_s = self.now_ns() // NS
        minute = now_s // 60
        if account.window[0] != minute:
            account.window = [minute, 0]
        account.window[1] += 1
        used = account.window[1]
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
            "X-RateLimit-Reset": str((minute + 1) * 60),
        }
        if used > self.rate_limit:
            e = ApiError(429, 42910000, "rate limit exceeded")
            e.headers = headers
            raise e
        return headers

    def api(
        self, method: str, path: str, fn: Callable[[_Request, str, Account], tuple[int, Any]]
    ) -> web.RouteDef:
        async def handler(request: web.Request) -> web.Response:
            headers: dict[str, str] = {}
            try:
                key, account = self._auth(request)
                headers = self._charge(account)
                body = await request.read() if request.can_read_body else b""
                status, result = fn(_Request(request.query, dict(request.match_info), body), key, account)
            except ApiError as e:
                return self._error(e, {**headers, **e.headers})
            if result is None:
                return web.Response(status=status, headers=headers)
            return web.Response(
                body=orjson.dumps(result), status=status, content_type="application/json", headers=headers
            )

        return web.route(method, path, handler)

    def routes(self) -> list[web.RouteDef]:
        a = self.api
        return [
            a("GET", "/v2/account", self.get_account),
            a("POST", "/v2/orders", self.post_order),
            a("GET", "/v2/orders", self.list_orders),
            a("DELETE", "/v2/orders", self.cancel_all),
            a("GET", "/v2/orders:by_client_order_id", self.get_by_client_id),
            a("GET", "/v2/orders/{order_id}", self.get_order),
            a("DELETE", "/v2/orders/{order_id}", self.cancel_order),
            a("GET", "/v2/positions", self.list_positions),
            a("GET", "/v2/positions/{symbol}", self.get_position),
            a("GET", "/v2/clock", self.get_clock),
            a("GET", "/v2/assets/{symbol}", self.get_asset),
            a("GET", "/v2/account/activities", self.activities),
            a("GET", "/v2/account/activities/{kind}", self.activities),
            web.get("/stream", self.trade_stream),
            web.get("/v2/{feed}", self.data_stream),
        ]

    async def _set_faults(self, request: web.Request) -> web.Response:
        """As the base server, with Alpaca's order endpoints as the default fault paths."""
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("a JSON object is expected")
            self.faults = Faults.from_json({"seed": self.seed, "paths": list(ORDER_PATHS), **data})
        except (ValueError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"ok": True})

    async def _reset_faults(self, request: web.Request) -> web.Response:
        self.faults = Faults(seed=self.seed, paths=ORDER_PATHS)
        return web.json_response({"ok": True})

    # ---- JSON views --------------------------------------------------------------------------------

    def _order_json(self, o: Order) -> dict[str, Any]:
        def ts(ns: int | None) -> str | None:
            return None if ns is None else rfc3339(ns)

        return {
            "id": o.id,
            "client_order_id": o.client_id,
            "created_at": rfc3339(o.created_ns),
            "updated_at": rfc3339(o.updated_ns or o.created_ns),
            "submitted_at": rfc3339(o.created_ns),
            "filled_at": ts(o.filled_ns),
            "expired_at": ts(o.expired_ns),
            "canceled_at": ts(o.canceled_ns),
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": o.asset_id,
            "symbol": o.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(o.qty),
            "filled_qty": str(o.filled),
            "filled_avg_price": (
                f"{Decimal(o.filled_cents) * CENT / o.filled:.4f}".rstrip("0").rstrip(".")
                if o.filled
                else None
            ),
            "order_class": "",
            "order_type": o.type,
            "type": o.type,
            "side": o.side,
            "position_intent": o.intent,
            "time_in_force": o.tif,
            "limit_price": _px(o.limit) if o.type == "limit" else None,
            "stop_price": None,
            "status": o.status,
            "extended_hours": o.extended,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
            "expires_at": ts(o.expires_ns),
        }

    def _position_json(self, symbol: str, shares: int, cost: Decimal, held: int) -> dict[str, Any]:
        book = self.books[symbol]
        price = self._mid_cents(book) * CENT
        last = Decimal(book.listing.mid_cents) * CENT
        value = price * shares
        pl = value - cost
        return {
            "asset_id": book.asset_id,
            "symbol": symbol,
            "exchange": book.listing.exchange,
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": str(shares),
            "qty_available": str(shares - held),
            "avg_entry_price": f"{cost / shares:.4f}".rstrip("0").rstrip("."),
            "side": "long" if shares > 0 else "short",
            "market_value": _cents(value),
            "cost_basis": _cents(cost),
            "unrealized_pl": _cents(pl),
            "unrealized_plpc": f"{pl / cost:.6f}" if cost else "0",
            "unrealized_intraday_pl": _cents(pl),
            "unrealized_intraday_plpc": f"{pl / cost:.6f}" if cost else "0",
            "current_price": _cents(price),
            "lastday_price": _cents(last),
            "change_today": f"{(price - last) / last:.6f}",
        }

    def _held(self, key: str, symbol: str, side: str) -> int:
        return sum(
            o.remaining for o in self.live.values() if o.key == key and o.symbol == symbol and o.side == side
        )

    def _open_buy_value(self, key: str) -> Decimal:
        total = Decimal(0)
        for o in self.live.values():
            if o.key == key and o.side == "buy":
                total += Decimal(o.remaining * (o.limit or self._ask_cents(self.books[o.symbol]))) * CENT
        return total

    def _ask_cents(self, book: _Book) -> int:
        _, _, ask, _ = self._top(book)
        return ask or int(self._mid_cents(book))

    def buying_power(self, key: str) -> Decimal:
        return max(Decimal(0), self.accounts[key].cash - self._open_buy_value(key))

    # ---- account, clock, assets, positions ---------------------------------------------------------

    def get_account(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        long_value = sum(
            (self._mid_cents(self.books[s]) * CENT * p[0] for s, p in account.positions.items() if p[0]),
            Decimal(0),
        )
        equity = account.cash + long_value
        bp = _cents(self.buying_power(key))
        return 200, {
            "id": account.id,
            "account_number": account.number,
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "cash": _cents(account.cash),
            "buying_power": bp,
            "regt_buying_power": bp,
            "non_marginable_buying_power": bp,
            "options_buying_power": "0",
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "pending_transfer_out": "0",
            "portfolio_value": _cents(equity),
            "equity": _cents(equity),
            "last_equity": _cents(equity),
            "long_market_value": _cents(long_value),
            "short_market_value": "0",
            "initial_margin": _cents(long_value),
            "maintenance_margin": _cents(long_value * Decimal("0.3")),
            "last_maintenance_margin": "0",
            "sma": "0",
            "multiplier": "1",
            "shorting_enabled": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": False,
            "created_at": "2024-01-02T15:00:00.000000000Z",
        }

    def get_clock(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        now = self.now_ns()
        return 200, {
            "timestamp": eastern_iso(now),
            "is_open": session(now) == "regular",
            "next_open": eastern_iso(next_session_time(now, 9, 30)),
            "next_close": eastern_iso(next_session_time(now, 16, 0)),
        }

    def get_asset(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        book = self._book_of(req.match["symbol"])
        if book is None:
            raise ApiError(404, 40410000, "asset not found")
        return 200, {
            "id": book.asset_id,
            "class": "us_equity",
            "exchange": book.listing.exchange,
            "symbol": book.listing.symbol,
            "name": book.listing.name,
            "status": "active",
            "tradable": True,
            "marginable": True,
            "maintenance_margin_requirement": 30,
            "margin_requirement_long": "30",
            "margin_requirement_short": "100",
            "shortable": True,
            "easy_to_borrow": True,
            "fractionable": True,
            "attributes": [],
        }

    def list_positions(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        return 200, [
            self._position_json(s, p[0], p[1], self._held(key, s, "sell"))
            for s, p in sorted(account.positions.items())
            if p[0]
        ]

    def get_position(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        book = self._book_of(req.match["symbol"])
        p = account.positions.get(book.listing.symbol) if book is not None else None
        if book is None or p is None or not p[0]:
            raise ApiError(404, 40410000, "position does not exist")
        s = book.listing.symbol
        return 200, self._position_json(s, p[0], p[1], self._held(key, s, "sell"))

    # ---- orders ------------------------------------------------------------------------------------

    @staticmethod
    def _decimal(body: dict[str, Any], name: str) -> Decimal | None:
        v = body.get(name)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | str | Decimal):
            raise ApiError(422, 40010001, f"invalid {name}")
        try:
            d = Decimal(str(v)) if not isinstance(v, Decimal) else v
        except InvalidOperation:
            raise ApiError(422, 40010001, f"invalid {name}") from None
        if not d.is_finite():
            raise ApiError(422, 40010001, f"invalid {name}")
        return d

    def post_order(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        try:
            body = json.loads(req.body or b"null", parse_float=Decimal)
        except ValueError:
            raise ApiError(400, 40010000, "request body format is invalid") from None
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise ApiError(422, 40010001, "symbol is required")
        book = self._book_of(symbol)
        if book is None:
            raise ApiError(422, 40010001, f'asset "{symbol}" not found')
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise ApiError(422, 40010001, "invalid side")
        otype = body.get("type", body.get("order_type"))
        if otype not in ("market", "limit"):
            if otype in ("stop", "stop_limit", "trailing_stop"):
                raise ApiError(422, 40010001, f"order type {otype} is not supported by the simulator")
            raise ApiError(422, 40010001, "invalid order type")
        tif = body.get("time_in_force")
        if tif not in ("day", "gtc", "ioc", "fok", "opg", "cls"):
            raise ApiError(422, 40010001, "invalid time_in_force")
        if tif in ("opg", "cls"):
            raise ApiError(422, 40010001, f"time_in_force {tif} is not supported by the simulator")
        if body.get("order_class") not in (None, "", "simple"):
            raise ApiError(422, 40010001, "only simple orders are supported by the simulator")
        if body.get("notional") is not None:
            if body.get("qty") is not None:
                raise ApiError(422, 40010001, "qty and notional cannot both be given")
            raise ApiError(422, 40010001, "notional orders are not supported by the simulator")
        qty_d = self._decimal(body, "qty")
        if qty_d is None:
            raise ApiError(422, 40010001, "qty is required")
        if qty_d <= 0:
            raise ApiError(422, 40010001, "qty must be > 0")
        if qty_d != qty_d.to_integral_value():
            raise ApiError(422, 40010001, "fractional orders are not supported by the simulator")
        qty = int(qty_d)
        limit = 0
        limit_d = self._decimal(body, "limit_price")
        if otype == "limit":
            if limit_d is None:
                raise ApiError(422, 40010001, "limit_price is required for limit orders")
            if limit_d <= 0:
                raise ApiError(422, 40010001, "limit_price must be > 0")
            cents = limit_d / CENT
            if cents != cents.to_integral_value():
                raise ApiError(
                    422,
                    42210000,
                    f"invalid limit_price {limit_d}. sub-penny increment does not fulfill minimum pricing"
                    " criteria",
                )
            limit = int(cents)
        extended = body.get("extended_hours") is True
        if extended and (otype != "limit" or tif != "day"):
            raise ApiError(422, 42210000, "extended hours order must be DAY limit orders")
        cid = body.get("client_order_id")
        if cid is None or cid == "":
            cid = self._uuid()
        if not isinstance(cid, str):
            raise ApiError(422, 40010001, "invalid client_order_id")
        if len(cid) > 128:
            raise ApiError(422, 40010001, "client_order_id must be no more than 128 characters")
        account.submissions[cid] = account.submissions.get(cid, 0) + 1
        if cid in account.used_client_ids:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        s = book.listing.symbol
        position = account.positions.get(s, [0, Decimal(0)])[0]
        if side == "buy":
            need = Decimal(qty * (limit or self._ask_cents(book))) * CENT
            bp = self.buying_power(key)
            if need > bp:
                raise ApiError(
                    403,
                    40310000,
                    "insufficient buying power",
                    buying_power=_cents(bp),
                    cost_basis=_cents(need),
                )
        else:
            held = self._held(key, s, "sell")
            available = max(0, position - held)
            if qty > available:
                raise ApiError(
                    403,
                    40310000,
                    f"insufficient qty available for order (requested: {qty}, available: {available})",
                    available=str(available),
                    existing_qty=str(position),
                    held_for_orders=str(held),
                    symbol=s,
                )
        self._check_wash(key, s, side, limit)
        now = self.now_ns()
        intent = ("buy_to_open" if position >= 0 else "buy_to_close") if side == "buy" else "sell_to_close"
        o = Order(
            self._uuid(), key, cid, s, book.asset_id, side, otype, tif, qty, limit, extended, intent, now
        )
        o.updated_ns = now
        if tif == "day":
            o.expires_ns = next_session_time(now, 20 if extended else 16, 0)
        o.status = "pending_new" if self._can_trade(o, now) else "accepted"
        account.used_client_ids.add(cid)
        self.orders[o.id] = o
        self.live[o.id] = o
        body_out = self._order_json(o)
        asyncio.get_running_loop().call_soon(self._route_if_possible, o)
        return 200, body_out

    def _check_wash(self, key: str, symbol: str, side: str, limit: int) -> None:
        """Alpaca rejects an order that could trade against the account's own opposite order."""
        for o in self.live.values():
            if o.key != key or o.symbol != symbol or o.side == side:
                continue
            if side == "buy":
                crosses = not limit or not o.limit or limit >= o.limit
            else:
                crosses = not limit or not o.limit or limit <= o.limit
            if crosses:
                raise ApiError(403, 40310000, "potential wash trade detected. use complex orders")

    def _can_trade(self, o: Order, now: int) -> bool:
        s = session(now)
        return s == "regular" or (o.extended and s in ("pre", "post"))

    def _route_if_possible(self, o: Order) -> None:
        if o.status not in LIVE or o.engine_id or not self._can_trade(o, self.now_ns()):
            return
        book = self.books[o.symbol]
        eid = next(self._engine_ids)
        tif = {"ioc": Tif.IOC, "fok": Tif.FOK}.get(o.tif, Tif.GTC)
        sim = SimOrder(
            eid,
            o.key,
            Side.BUY if o.side == "buy" else Side.SELL,
            o.limit or None,
            o.remaining,
            tif,
            False,
            o.id,
        )
        self._resting[eid] = o  # its trades as the taker settle to it
        result = book.engine.submit(sim)
        if o.status in ("accepted", "pending_new"):
            o.status = "new"
            o.updated_ns = self.now_ns()
            self._trade_event(o, "new")
        self._settle(book, result.trades)
        if result.resting and o.status in LIVE:
            o.engine_id = eid
        else:
            self._resting.pop(eid, None)
            if o.status in LIVE:  # an IOC/FOK/market remainder
                self._close(o, "canceled")

    def _close(self, o: Order, status: str) -> None:
        if o.engine_id:
            self.books[o.symbol].engine.cancel(o.engine_id)
            self._resting.pop(o.engine_id, None)
            o.engine_id = 0
        now = self.now_ns()
        o.status, o.updated_ns = status, now
        self.live.pop(o.id, None)
        if status == "canceled":
            o.canceled_ns = now
        elif status == "expired":
            o.expired_ns = now
        self._trade_event(o, status)

    def _settle(self, book: _Book, trades: Iterable[Trade]) -> None:
        now = self.now_ns()
        for t in trades:
            for eid in (t.maker_order_id, t.taker_order_id):
                o = self._resting.get(eid)
                if o is not None:
                    self._fill(o, t.price, t.qty, now)
            self._publish_trade(book, t.price, t.qty, now)

    def _fill(self, o: Order, price: int, qty: int, now: int) -> None:
        account = self.accounts[o.key]
        o.filled += qty
        o.filled_cents += price * qty
        o.updated_ns = now
        notional = Decimal(price * qty) * CENT
        pos = account.positions.setdefault(o.symbol, [0, Decimal(0)])
        if o.side == "buy":
            account.cash -= notional
            pos[0] += qty
            pos[1] += notional
        else:
            account.cash += notional
            pos[1] = pos[1] * (pos[0] - qty) / pos[0] if pos[0] else Decimal(0)
            pos[0] -= qty
        done = o.filled >= o.qty
        o.status = "filled" if done else "partially_filled"
        if done:
            o.filled_ns = now
            self.live.pop(o.id, None)
            if o.engine_id:
                self._resting.pop(o.engine_id, None)
                o.engine_id = 0
        execution_id = self._uuid()
        px = _px(price)
        account.activities.append(
            {
                "id": f"{time.strftime('%Y%m%d%H%M%S', time.gmtime(now // NS))}{now // 1_000_000 % 1000:03d}"
                f"::{execution_id}",
                "account_id": account.id,
                "activity_type": "FILL",
                "transaction_time": rfc3339(now),
                "type": "fill" if done else "partial_fill",
                "price": px,
                "qty": str(qty),
                "side": o.side,
                "symbol": o.symbol,
                "leaves_qty": str(o.remaining),
                "order_id": o.id,
                "cum_qty": str(o.filled),
                "order_status": o.status,
            }
        )
        self._trade_event(
            o, "fill" if done else "partial_fill", price=px, qty=str(qty), position_qty=str(pos[0]),
            execution_id=execution_id, ts=now,
        )  # fmt: skip

    def _find(self, key: str, order_id: str) -> Order:
        try:
            uuid.UUID(order_id)
        except ValueError:
            raise ApiError(422, 40010001, "order_id is missing") from None
        o = self.orders.get(order_id)
        if o is None or o.key != key:
            raise ApiError(404, 40410000, "order not found")
        return o

    def get_order(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        return 200, self._order_json(self._find(key, req.match["order_id"]))

    def get_by_client_id(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        cid = req.query.get("client_order_id", "")
        if not cid:
            raise ApiError(422, 40010001, "client_order_id is missing")
        for o in self.orders.values():
            if o.key == key and o.client_id == cid:
                return 200, self._order_json(o)
        raise ApiError(404, 40410000, "order not found")

    def list_orders(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        q = req.query
        status = q.get("status", "open")
        if status not in ("open", "closed", "all"):
            raise ApiError(422, 40010001, "invalid status")
        try:
            limit = int(q.get("limit", "50"))
            after = parse_rfc3339(q["after"]) if q.get("after") else None
            until = parse_rfc3339(q["until"]) if q.get("until") else None
        except ValueError:
            raise ApiError(422, 40010001, "invalid query parameter") from None
        if not 1 <= limit <= 500:
            raise ApiError(422, 40010001, "limit must be between 1 and 500")
        direction = q.get("direction", "desc")
        symbols = {s.strip().upper() for s in q.get("symbols", "").split(",") if s.strip()}
        side = q.get("side")
        out = [
            o
            for o in self.orders.values()
            if o.key == key
            and (status == "all" or (o.status in LIVE) == (status == "open"))
            and (not symbols or o.symbol in symbols)
            and (side is None or o.side == side)
            and (after is None or o.created_ns > after)
            and (until is None or o.created_ns < until)
        ]
        out.sort(key=lambda o: o.created_ns, reverse=direction != "asc")
        return 200, [self._order_json(o) for o in out[:limit]]

    def cancel_order(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        o = self._find(key, req.match["order_id"])
        if o.status not in LIVE:
            raise ApiError(422, 42210000, f'order is already in "{o.status}" state')
        self._close(o, "canceled")
        return 204, None

    def cancel_all(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        out = []
        for o in [x for x in self.live.values() if x.key == key]:
            self._close(o, "canceled")
            out.append({"id": o.id, "status": 200, "body": self._order_json(o)})
        return 207, out

    def activities(self, req: _Request, key: str, account: Account) -> tuple[int, Any]:
        q = req.query
        kind = req.match.get("kind") or q.get("activity_types") or "FILL"
        if "FILL" not in kind.split(","):
            return 200, []
        try:
            after = parse_rfc3339(q["after"]) if q.get("after") else None
            until = parse_rfc3339(q["until"]) if q.get("until") else None
            page_size = int(q.get("page_size", "100"))
        except ValueError:
            raise ApiError(422, 40010001, "invalid query parameter") from None
        if not 1 <= page_size <= 100:
            raise ApiError(422, 40010001, "page_size must be between 1 and 100")
        asc = q.get("direction", "desc") == "asc"
        rows = [
            a
            for a in account.activities
            if (after is None or parse_rfc3339(a["transaction_time"]) > after)
            and (until is None or parse_rfc3339(a["transaction_time"]) < until)
        ]
        if not asc:
            rows.reverse()
        token = q.get("page_token")
        if token:
            ids = [a["id"] for a in rows]
            rows = rows[ids.index(token) + 1 :] if token in ids else []
        return 200, rows[:page_size]

    # ---- market ------------------------------------------------------------------------------------

    def on_step(self, dt_ns: int) -> None:
        now = self.now_ns()
        for book in self.books.values():
            trades = book.market.step(dt_ns)
            self._settle(book, trades)
        self._maintain(now)
        if self.faults.stale_feed:
            return
        for book in self.books.values():
            top = self._top(book)
            if top != book.top:
                book.top = top
                self._publish_quote(book, now)

    def _maintain(self, now: int) -> None:
        """Expire day orders at their close, park orders outside their hours, route parked ones."""
        for o in list(self.live.values()):
            if o.status not in LIVE:
                continue
            if o.expires_ns is not None and now >= o.expires_ns:
                self._close(o, "expired")
            elif self._can_trade(o, now):
                if not o.engine_id:
                    self._route_if_possible(o)
            elif o.engine_id:
                self.books[o.symbol].engine.cancel(o.engine_id)
                self._resting.pop(o.engine_id, None)
                o.engine_id = 0

    def hit(self, symbol: str, side: str, qty: int, price: Decimal | None = None) -> None:
        """Another participant's IOC order (limit at `price`, or market): a test trades through a level."""
        book = self.books[symbol]
        cents = None if price is None else int(price / CENT)
        o = SimOrder(
            book.market._id(), "market", Side.BUY if side == "buy" else Side.SELL, cents, qty, Tif.IOC
        )
        self._settle(book, book.engine.submit(o).trades)

    # ---- trade_updates stream ----------------------------------------------------------------------

    def _trade_event(self, o: Order, event: str, *, ts: int | None = None, **extra: str) -> None:
        subs = [(ws, binary) for ws, (key, binary) in self.trade_subs.items() if key == o.key]
        if not subs:
            return
        data: dict[str, Any] = {"event": event}
        if "execution_id" in extra:
            data["execution_id"] = extra.pop("execution_id")
        data.update({"order": self._order_json(o), "timestamp": rfc3339(ts or self.now_ns()), **extra})
        msg = {"stream": "trade_updates", "data": data}
        raw_json, raw_pack = orjson.dumps(msg), None
        for ws, binary in subs:
            if binary:
                raw_pack = raw_pack or packb(msg)
            self.send(ws, raw_pack if binary and raw_pack else raw_json)

    async def trade_stream(self, request: web.Request) -> web.WebSocketResponse:
        binary = request.headers.get("Content-Type", "").startswith("application/msgpack")
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        key: str | None = None

        async def reply(msg: dict[str, Any]) -> None:
            await ws.send_bytes(packb(msg) if binary else orjson.dumps(msg))

        try:
            async for m in ws:
                if m.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    raw = m.data.encode() if isinstance(m.data, str) else m.data
                    msg = unpackb(raw) if binary and m.type == WSMsgType.BINARY else orjson.loads(raw)
                    action = msg["action"]
                    data = msg.get("data") or {}
                except (ValueError, KeyError, TypeError, AttributeError):
                    await reply({"stream": "error", "data": {"error_message": "invalid syntax"}})
                    continue
                if action in ("authenticate", "auth"):
                    k = data.get("key_id", msg.get("key", ""))
                    secret = data.get("secret_key", msg.get("secret", ""))
                    account = self.accounts.get(str(k))
                    ok = account is not None and hmac.compare_digest(account.secret, str(secret).encode())
                    status = "authorized" if ok else "unauthorized"
                    auth: dict[str, Any] = {"status": status, "action": "authenticate"}
                    if not ok:
                        auth["message"] = "access key verification failed"
                    await reply({"stream": "authorization", "data": auth})
                    if not ok:
                        break
                    key = str(k)
                elif action == "listen":
                    if key is None:
                        await reply(
                            {
                                "stream": "authorization",
                                "data": {"status": "unauthorized", "action": "listen"},
                            }
                        )
                        break
                    streams = [s for s in data.get("streams", []) if s == "trade_updates"]
                    if streams:
                        self.trade_subs[ws] = (key, binary)
                    else:
                        self.trade_subs.pop(ws, None)
                    await reply({"stream": "listening", "data": {"streams": streams}})
                else:
                    await reply({"stream": "error", "data": {"error_message": f"unknown action {action}"}})
        finally:
            self.trade_subs.pop(ws, None)
            self.sockets.discard(ws)
            await ws.close()
        return ws

    # ---- market data stream ------------------------------------------------------------------------

    def _send(self, ws: web.WebSocketResponse, payload: bytes, *, text: bool) -> None:
        """The data stream's JSON mode sends text frames (msgpack ones are binary)."""
        if not text:
            self.send(ws, payload)
            return
        if ws.closed:
            return
        task = asyncio.get_running_loop().create_task(ws.send_str(payload.decode()))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _stamp(self, ns: int, binary: bool) -> Any:
        return MsgpackTimestamp(ns) if binary else rfc3339(ns)

    def _exchange(self, feed: str, book: _Book) -> str:
        return "V" if feed == "iex" else {"ARCA": "P", "NASDAQ": "Q"}.get(book.listing.exchange, "V")

    def _publish_quote(self, book: _Book, now: int) -> None:
        bid, bid_qty, ask, ask_qty = book.top
        s = book.listing.symbol
        for ws, sub in list(self.data_subs.items()):
            if sub.wants("quotes", s):
                x = self._exchange(sub.feed, book)
                q = {
                    "T": "q", "S": s, "bx": x, "bp": bid / 100, "bs": bid_qty, "ax": x, "ap": ask / 100,
                    "as": ask_qty, "c": ["R"], "z": book.listing.tape, "t": self._stamp(now, sub.binary),
                }  # fmt: skip
                self._send(ws, packb([q]) if sub.binary else orjson.dumps([q]), text=not sub.binary)

    def _publish_trade(self, book: _Book, price: int, qty: int, now: int) -> None:
        if self.faults.stale_feed:
            return
        s = book.listing.symbol
        trade_id = next(book.trade_ids)
        for ws, sub in list(self.data_subs.items()):
            if sub.wants("trades", s):
                t = {
                    "T": "t", "S": s, "i": trade_id, "x": self._exchange(sub.feed, book), "p": price / 100,
                    "s": qty, "c": ["@"], "z": book.listing.tape, "t": self._stamp(now, sub.binary),
                }  # fmt: skip
                self._send(ws, packb([t]) if sub.binary else orjson.dumps([t]), text=not sub.binary)

    def _subscription(self, sub: _DataSub) -> dict[str, Any]:
        out: dict[str, Any] = {"T": "subscription"}
        for c in CHANNELS:
            out[c] = sorted(sub.subs[c])
        out["corrections"] = sorted(sub.subs["trades"])
        out["cancelErrors"] = sorted(sub.subs["trades"])
        return out

    async def data_stream(self, request: web.Request) -> web.StreamResponse:
        feed = request.match_info["feed"]
        if feed not in ("iex", "sip"):
            raise web.HTTPNotFound()
        binary = request.headers.get("Content-Type", "").startswith("application/msgpack")
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        sub: _DataSub | None = None

        async def reply(*msgs: dict[str, Any]) -> None:
            if binary:
                await ws.send_bytes(packb(list(msgs)))
            else:
                await ws.send_str(orjson.dumps(list(msgs)).decode())

        try:
            await reply({"T": "success", "msg": "connected"})
            while True:
                try:
                    m = await asyncio.wait_for(ws.receive(), None if sub else 10.0)
                except TimeoutError:
                    await reply({"T": "error", "code": 404, "msg": "auth timeout"})
                    break
                if m.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    raw = m.data.encode() if isinstance(m.data, str) else m.data
                    msg = unpackb(raw) if m.type == WSMsgType.BINARY else orjson.loads(raw)
                    action = msg["action"]
                except (ValueError, KeyError, TypeError):
                    await reply({"T": "error", "code": 400, "msg": "invalid syntax"})
                    continue
                if action == "auth":
                    if sub is not None:
                        await reply({"T": "error", "code": 403, "msg": "already authenticated"})
                        continue
                    key, secret = str(msg.get("key", "")), str(msg.get("secret", ""))
                    account = self.accounts.get(key)
                    if account is None or not hmac.compare_digest(account.secret, secret.encode()):
                        await reply({"T": "error", "code": 402, "msg": "auth failed"})
                        break
                    same = sum(1 for s in self.data_subs.values() if s.key == key and s.feed == feed)
                    if same >= self.data_connections:
                        await reply({"T": "error", "code": 406, "msg": "connection limit exceeded"})
                        break
                    sub = _DataSub(key, feed, binary)
                    self.data_subs[ws] = sub
                    await reply({"T": "success", "msg": "authenticated"})
                elif action in ("subscribe", "unsubscribe"):
                    if sub is None:
                        await reply({"T": "error", "code": 401, "msg": "not authenticated"})
                        continue
                    lists = {c: msg.get(c) or [] for c in CHANNELS}
                    if not all(
                        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists.values()
                    ):
                        await reply({"T": "error", "code": 400, "msg": "invalid syntax"})
                        continue
                    for c, symbols in lists.items():
                        if action == "subscribe":
                            sub.subs[c].update(symbols)
                        else:
                            sub.subs[c].difference_update(symbols)
                    await reply(self._subscription(sub))
                else:
                    await reply({"T": "error", "code": 400, "msg": "invalid syntax"})
        finally:
            self.data_subs.pop(ws, None)
            self.sockets.discard(ws)
            await ws.close()
        return ws

    # ---- admin -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            key: {
                "orders": [
                    {
                        "id": o.id,
                        "client_order_id": o.client_id,
                        "symbol": o.symbol,
                        "side": o.side,
                        "type": o.type,
                        "status": o.status,
                        "qty": str(o.qty),
                        "filled_qty": str(o.filled),
                        "limit_price": _px(o.limit) if o.limit else None,
                    }
                    for o in self.orders.values()
                    if o.key == key
                ],
                "submissions": dict(a.submissions),
                "cash": _cents(a.cash),
                "positions": {s: str(p[0]) for s, p in a.positions.items() if p[0]},
                "fills": len(a.activities),
            }
            for key, a in self.accounts.items()
        }
