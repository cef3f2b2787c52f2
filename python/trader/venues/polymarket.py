"""Polymarket CLOB V2 (pUSD collateral): one binary market, both of its outcome tokens, one wallet.

Protocol facts are in ../shared/venues/polymarket.md (§0 and §11: production runs CLOB V2 since
2026-04-28); py-clob-client-v2 1.2.1 is the reference for paths, headers and JSON. The loopback simulator
`trader.sim.polymarket` speaks the same protocol.

- Instruments: `"<condition_id>:YES"` and `"<condition_id>:NO"`, YES being the first token `/clob-markets`
  lists (`t[0]`) and NO the second, whatever the outcomes are called. The token ids are accepted as
  aliases wherever an instrument is expected; events and reports always carry the `:YES`/`:NO` symbol.
- Units: prices in integer units of `price_unit` (by default the market's tick at connect, e.g. 0.01),
  quantities in micro-shares (0.000001, the outcome token's own decimals: marketable buys and the fills
  they cause are not whole 0.01 lots), orders in 0.01-share lots. Collateral amounts are Decimal pUSD.
- Connect: `GET /version` must say 2 (else `ProtocolVersionError`); L1 (EIP-712 `ClobAuth`) create, else
  derive, the API key; the secret and passphrase go straight into the Rust signer (`set_api_creds`) and
  are not kept in Python. Every private call carries L2 (HMAC) headers made by the signer. The user
  channel, which wants the secret in its subscribe frame, re-derives the key by L1 on every (re)connect
  and builds the frame in a local variable; websockets' frame logging is redacted for it.
- Orders: the signer builds and signs the V2 order and the `POST /order` body. GTC (post-only from the
  approval), GTD (expiration = expiry + the venue's 60 s threshold), IOC -> FAK, FOK -> FOK; market
  orders are FAK (FOK with tif FOK) at the approval's protective price. Note the venue's rule for
  marketable BUYs: a FAK/FOK BUY spends its whole collateral amount (qty x price), so when the book is
  better than the price it buys MORE than qty shares; the fills say how many.
- Polymarket has no client order id. The order id is the EIP-712 hash of the signed order, known before
  the request leaves: `client_id -> order id` is recorded first (in memory, and appended to `order_log`
  when configured, so another process can resolve it) and `SubmitAck.venue_order_id` carries it. A
  timeout or 5xx raises `UnknownOutcomeError`; `query(client_id)` then asks the venue for that id.
  Nothing is ever resent. `submit_batch` posts up to 15 orders at once (`POST /orders`). `cancel_all`
  cancels this market's orders (`DELETE /cancel-market-orders`, optionally one token), `cancel_account`
  every order of the API key (`DELETE /cancel-all`), `cancel_many` a list (`DELETE /orders`).
- Funds: before an order is sent, the collateral (BUY) or token (SELL) balance and allowance from
  `/balance-allowance`, minus what our resting orders hold, must cover it (else
  `InsufficientFundsError`, nothing sent). `chain_balance()` reads the same from Polygon (eth_call).
- Dead-man switch: heartbeats (`POST /v1/heartbeats`) are sent before the first order and every
  `heartbeat_interval_s` while our orders rest or are unresolved. When a heartbeat fails, submissions
  are refused (`HeartbeatFailedError`, nothing sent) until one succeeds; cancels and queries still work.
- Market channel: snapshot, then `price_change` (absolute level sizes), `last_trade_price` (`TradeTick`),
  `tick_size_change`, `market_resolved`. One `Book` per token; after a disconnect, a stale feed or any
  inconsistency (crossed book, best bid/ask differing from the venue's, unparseable level) the token gets
  `BookInvalid` and is resynced from REST `/book` while stream events are buffered and replayed.
- User channel: `order` events -> `OrderReport`, `trade` events -> `FillReport` attributed to OUR order
  (as the taker, or through the `maker_orders` entry that is ours: a YES buy matched against a NO buy is
  a mint and is reported as the YES buy it was). After every reconnect, open orders and trades are
  reconciled by REST.
- Rate limits: polymarket.md §10 per route, at `budget` (80 %) of the published values, sliding windows;
  every request is also charged to the CLOB-wide quota (Gamma's to Gamma's). 429 honours Retry-After.
- Metadata (`metadata()`, `MarketMetadata`): Gamma (`Endpoints.gamma`, another host than the CLOB)
  `GET /markets?condition_ids=<id>`, asked again with `closed=true` when the first answer is empty (the
  default of `closed` is contested). Numbers are read as Decimal (never through a binary float). The
  result is cross-checked against the CLOB market this connector trades: the token ids in order (YES
  first), the tick and neg risk must agree, else `MetadataMismatchError` (`fields` names the ones that
  differ); a differing min order size is only logged. `connect()` does this once when `check_metadata`
  (default): a mismatch refuses the connection, an unreachable or unusable Gamma is logged and the
  connection goes on (`market_metadata` stays None until `metadata()` succeeds).
  Gamma fields, confirmed [SDK: the official Python SDK `polymarket-client`, repo Polymarket/py-sdk,
  `models/gamma/market.py` and `actions/gamma.py`; DOC: docs.polymarket.com API reference, the market
  schema in list-events and the `/markets` OpenAPI]: `id` (string), `question`, `slug`, `conditionId`,
  `outcomes`, `outcomePrices` and `clobTokenIds` as JSON-encoded string arrays (a binary market has two,
  paired by position), `active`, `closed`, `acceptingOrders`, `negRisk`, `endDate` (ISO 8601),
  `orderPriceMinTickSize` and `orderMinSize` (JSON numbers), `rewardsMinSize` (shares) and
  `rewardsMaxSpread`, `clobRewards[]` with `rewardsDailyRate`; list filters `condition_ids`,
  `clob_token_ids`, `slug`, `id` (repeatable), `closed`, `limit`, `offset`. From third parties only:
  `rewardsMaxSpread` is in cents (polymarket.md §1), the `/markets` limit of 300 per 10 s (§10).
  [UNVERIFIED]: the default of `closed`, whether several `clobRewards` entries add up (summed here), and
  Gamma's error bodies (any non-2xx is a plain `VenueError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import orjson
from websockets.frames import Frame

from trader.clock import Clock
from trader.core import (
    Approval,
    Book,
    BookState,
    InstrumentSpec,
    InvalidInputError,
    Keystore,
    OrderType,
    PolymarketOrder,
    PolymarketSigner,
    RateLimiter,
    Side,
    TimeInForce,
    Window,
)
from trader.errors import (
    AuthenticationError,
    ConfigError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._http import HttpClient, HttpResponse
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Capabilities,
    FillReport,
    InstrumentInfo,
    OrderReport,
    OrderState,
    SubmitAck,
    Tier,
    TradeTick,
    VenueEvent,
    require_approval,
)

log = logging.getLogger("trader.venues.polymarket")

# Polygon mainnet, CLOB V2 (polymarket.md §9, §11)
COLLATERAL = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"  # pUSD, 6 decimals
CTF = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"  # Conditional Tokens (ERC-1155)
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"  # CTF Exchange V2
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"  # Neg Risk CTF Exchange V2

MICRO = Decimal("0.000001")  # pUSD and outcome tokens have 6 decimals
LOT = "0.01"  # order sizes are floored to 0.01 shares
MAX_BATCH = 15
START_CURSOR, END_CURSOR = "MA==", "LTE="
GTD_THRESHOLD_S = 60  # the venue cancels a GTD order 60 s before its `expiration`
_SEL_BALANCE_OF = "70a08231"  # balanceOf(address)
_SEL_ALLOWANCE = "dd62ed3e"  # allowance(address,address)
_SEL_BALANCE_OF_1155 = "00fdd58e"  # balanceOf(address,uint256)
_SEL_APPROVED_FOR_ALL = "e985e9c5"  # isApprovedForAll(address,address)

_10S, _10MIN = 10.0, 600.0
# polymarket.md §10 (published values; the connector uses `budget` of each). Route -> windows.
RATE_LIMITS: dict[str, list[tuple[int, float]]] = {
    "general": [(9000, _10S)],
    "auth": [(100, _10S)],
    "POST /order": [(5000, _10S), (120_000, _10MIN)],
    "POST /orders": [(2000, _10S), (21_000, _10MIN)],
    "DELETE /order": [(5000, _10S), (120_000, _10MIN)],
    "DELETE /orders": [(2000, _10S), (15_000, _10MIN)],
    "DELETE /cancel-all": [(250, _10S), (6000, _10MIN)],
    "DELETE /cancel-market-orders": [(250, _10S), (6000, _10MIN)],  # unpublished: as cancel-all
    "GET /balance-allowance": [(200, _10S)],
    "GET /book": [(1500, _10S)],
    "GET /data/orders": [(500, _10S)],
    "GET /data/trades": [(500, _10S)],
    "gamma": [(4000, _10S)],  # Gamma-wide (its own host and quota)
    "gamma GET /markets": [(300, _10S)],
}

_STATES = {
    "LIVE": OrderState.OPEN,
    "DELAYED": OrderState.OPEN,
    "UNMATCHED": OrderState.OPEN,
    "MATCHED": OrderState.FILLED,
    "CANCELED": OrderState.CANCELED,
    "CANCELED_MARKET_RESOLVED": OrderState.CANCELED,
    "INVALID": OrderState.REJECTED,
}


class _BookMismatchError(Exception):
    """The local book disagrees with the venue's (crossed, or other best prices than announced)."""


class ProtocolVersionError(VenueError):
    """The CLOB does not speak the protocol version this connector signs for (V2)."""


class MarketMetadataError(VenueError):
    """Gamma has no usable metadata for the market: not listed, not binary, or malformed."""


class MetadataMismatchError(MarketMetadataError):
    """Gamma and the CLOB disagree on the market being traded (token ids, tick or neg risk): which of
    them is stale is unknown, so nothing built on the metadata should be trusted. `fields` names what
    differs (`tokens`, `tick_size`, `neg_risk`)."""

    def __init__(self, message: str, *, venue: str, fields: tuple[str, ...]) -> None:
        super().__init__(message, venue=venue, code="metadata_mismatch")
        self.fields = fields


class HeartbeatFailedError(VenueUnavailableError):
    """The dead-man switch could not be armed or refreshed: no new order is sent until a heartbeat
    succeeds again (cancels and queries still are)."""


@dataclass(frozen=True)
class Endpoints:
    rest: str
    ws: str  # root of /ws/market and /ws/user
    rpc: str | None = field(default=None, repr=False)  # Polygon JSON-RPC (its URL may hold a key)
    gamma: str | None = None  # Gamma, the market-metadata API (None: `metadata()` is unavailable)

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a simulator at `url` (http://127.0.0.1:PORT), its JSON-RPC and its Gamma
        (served under `/gamma`) included."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, ws, f"{base}/rpc", f"{base}/gamma")


ENDPOINTS = {
    "live": Endpoints(
        "https://clob.polymarket.com",
        "wss://ws-subscriptions-clob.polymarket.com",
        "https://polygon-rpc.com",
        "https://gamma-api.polymarket.com",
    ),
}


@dataclass(frozen=True)
class MarketMetadata:
    """One binary market as Gamma describes it (see the module docstring for the fields' sources)."""

    condition_id: str
    gamma_id: str  # Gamma's own market id
    question: str
    slug: str
    outcomes: tuple[str, str]  # (YES's name, NO's name), as Gamma pairs them with the token ids
    yes_token: str
    no_token: str
    tick_size: Decimal  # orderPriceMinTickSize
    min_order_size: Decimal  # shares (orderMinSize)
    neg_risk: bool
    end_ns: int | None  # endDate, ns since the Unix epoch (None: Gamma gives none)
    rewards_min_size: Decimal  # shares an order needs to score for liquidity rewards (0: no program)
    rewards_max_spread: Decimal  # cents from the midpoint within which orders score (0: no program)
    rewards_daily_rate: Decimal  # pUSD per day shared by the market's makers (sum of clobRewards)
    active: bool
    closed: bool
    accepting_orders: bool

    def until_end_ns(self, now_ns: int) -> int | None:
        """Nanoseconds left before the end date (negative once past it), or None without one."""
        return None if self.end_ns is None else self.end_ns - now_ns


def _json_list(value: Any) -> list[str]:
    """Gamma's JSON-encoded string arrays (`outcomes`, `clobTokenIds`); a real array is accepted too."""
    items = json.loads(value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"not an array: {str(value)[:40]!r}")
    return [str(i) for i in items]


def _gamma_dec(value: Any, default: Decimal | None = None) -> Decimal:
    """A Gamma number (JSON number or numeric string) as an exact Decimal; missing/null -> `default`."""
    if value is None or value == "":
        if default is None:
            raise ValueError("missing number")
        return default
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    return _dec(value)


def _iso_ns(text: str) -> int:
    """An ISO 8601 time (`2026-12-31T00:00:00Z`, with fractions, `+00`, or a space) as ns since the epoch;
    a time without an offset is UTC."""
    t = text.strip().replace(" ", "T", 1).replace("Z", "+00:00")
    if t.endswith("+00"):
        t += ":00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parse_gamma_market(raw: Mapping[str, Any], venue: str = "polymarket") -> MarketMetadata:
    """One Gamma `/markets` item (decoded with Decimal for JSON floats) as `MarketMetadata`."""
    try:
        outcomes, tokens = _json_list(raw.get("outcomes")), _json_list(raw.get("clobTokenIds"))
        if len(outcomes) != 2 or len(tokens) != 2:
            raise MarketMetadataError(
                f"Gamma market {raw.get('conditionId')} is not binary ({len(outcomes)} outcomes, "
                f"{len(tokens)} token ids)",
                venue=venue,
            )
        rewards = raw.get("clobRewards") or []
        if not isinstance(rewards, list):
            raise ValueError("clobRewards is not an array")
        closed = bool(raw.get("closed", False))
        end = raw.get("endDate")
        return MarketMetadata(
            condition_id=str(raw["conditionId"]),
            gamma_id=str(raw.get("id", "")),
            question=str(raw.get("question") or ""),
            slug=str(raw.get("slug") or ""),
            outcomes=(outcomes[0], outcomes[1]),
            yes_token=tokens[0],
            no_token=tokens[1],
            tick_size=_gamma_dec(raw.get("orderPriceMinTickSize")),
            min_order_size=_gamma_dec(raw.get("orderMinSize"), Decimal(0)),
            neg_risk=bool(raw.get("negRisk", False)),
            end_ns=_iso_ns(str(end)) if end else None,
            rewards_min_size=_gamma_dec(raw.get("rewardsMinSize"), Decimal(0)),
            rewards_max_spread=_gamma_dec(raw.get("rewardsMaxSpread"), Decimal(0)),
            rewards_daily_rate=sum(
                (_gamma_dec(r.get("rewardsDailyRate"), Decimal(0)) for r in rewards if isinstance(r, dict)),
                Decimal(0),
            ),
            active=bool(raw.get("active", False)),
            closed=closed,
            accepting_orders=bool(raw.get("acceptingOrders", not closed)),
        )
    except (KeyError, TypeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
        raise MarketMetadataError(
            f"malformed Gamma market {raw.get('conditionId')}: {type(e).__name__}: {str(e)[:80]}", venue=venue
        ) from None


@dataclass(frozen=True)
class ChainBalance:
    """What Polygon says about the wallet (`funder`), in 6-decimal micro-units."""

    address: str
    collateral: int  # pUSD
    allowance: int  # pUSD the market's exchange may move
    tokens: dict[str, int]  # symbol -> micro-shares
    approved: bool  # CTF setApprovalForAll(exchange)


@dataclass
class _Order:
    client_id: str
    order_id: str
    symbol: str
    token: str
    side: Side
    price: int  # price units
    qty: int  # micro-shares
    order_type: str
    filled: int = 0
    state: OrderState | None = None  # None: in flight or outcome unknown
    live: bool = True  # resting, in flight or unknown in this session (reserves funds, needs heartbeats)


@dataclass
class _Balance:
    at_ns: int
    balance: int
    allowances: dict[str, int] = field(default_factory=dict)  # spender (lower case) -> micro-units


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    try:
        body = orjson.loads(resp.body)
        msg = str(body["error"] if isinstance(body, dict) else body)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return error_from(venue, msg, resp.status)


def error_from(venue: str, msg: str, status: int = 400) -> VenueError:
    """A venue error message (HTTP `{"error": ...}` or a batch item's `errorMsg`) as a typed error."""
    low, msg, code = msg.lower(), msg[:200], str(status)
    if status == 401 or "api key" in low or "invalid signature" in low or "l1 request" in low:
        return AuthenticationError(msg, venue=venue, code=code)
    if "balance" in low or "allowance" in low:
        return InsufficientFundsError(msg, venue=venue, code=code)
    if "order_version_mismatch" in low:
        return ProtocolVersionError(msg, venue=venue, code=code)
    if status == 404 or "not found" in low:
        return OrderNotFoundError(msg, venue=venue, code=code)
    if status == 425:  # the matching engine is restarting [UNVERIFIED]: nothing was done
        return VenueUnavailableError(msg, venue=venue, code=code)
    return InvalidOrderError(msg, venue=venue, code=code)


def _side(s: Any) -> Side:
    return Side.BUY if str(s).upper() == "BUY" else Side.SELL


def _dec(x: Any) -> Decimal:
    try:
        d = Decimal(str(x))
    except InvalidOperation:
        raise ValueError(f"not a number: {x!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {x!r}")
    return d


def _norm(x: Any) -> str:
    return f"{_dec(x).normalize():f}"


def _fee(size: Decimal, price: Decimal, bps: Any) -> Decimal:
    """The fee in pUSD: rate x min(p, 1 - p) x shares (the documented CLOB fee curve; V2 sets the rate
    at match time and reports it per trade as `fee_rate_bps`) [formula UNVERIFIED for V2]."""
    rate = _dec(bps or 0)
    if not rate:
        return Decimal(0)
    return (size * min(price, 1 - price) * rate / 10_000).quantize(MICRO)


def _word(hex_word: str) -> int:
    return int(hex_word, 16) if hex_word not in ("", "0x") else 0


class _RedactAuthFrames(logging.Filter):
    """websockets logs every frame at DEBUG: the user channel's subscribe frame carries the API secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if any(isinstance(a, Frame) and b'"auth"' in bytes(a.data) for a in args):
            record.msg, record.args = "> TEXT <user channel subscription, redacted>", ()
        return True


_REDACT = _RedactAuthFrames()


def _capabilities(venue: str) -> Capabilities:
    return Capabilities(
        venue=venue,
        tier=Tier.PREDICTION,
        order_types=frozenset({"LIMIT", "MARKET"}),
        time_in_force=frozenset({"GTC", "GTD", "IOC", "FOK"}),
        post_only=True,
        reduce_only=False,
        cancel_all=True,
        dead_man_switch=True,
        ws_order_entry=False,
        max_batch=MAX_BATCH,
        paper_environment=False,
        needs_credentials=True,
    )


class _Phase(enum.Enum):
    WAITING = "waiting"  # no snapshot yet (first connect)
    LIVE = "live"
    RESYNC = "resync"  # REST snapshot in flight, stream events buffered
    FROZEN = "frozen"  # the tick became finer than the price unit: not representable


class PolymarketConnector:
    """One binary market (its YES and NO tokens) on the Polymarket CLOB V2, for one wallet."""

    def __init__(
        self,
        *,
        condition_id: str,
        private_key: str | Keystore,
        clock: Clock,
        endpoints: Endpoints = ENDPOINTS["live"],
        chain_id: int = 137,
        signature_type: int = 0,
        funder: str | None = None,
        api_nonce: int = 0,
        venue: str = "polymarket",
        price_unit: str | None = None,
        order_log: str | Path | None = None,
        fsync: bool = True,
        timeout_s: float = 10.0,
        budget: float = 0.8,
        rate_limits: dict[str, list[tuple[int, float]]] | None = None,
        heartbeat_interval_s: float = 5.0,
        heartbeat_timeout_s: float = 10.0,
        balance_ttl_s: float = 1.0,
        ping_interval_s: float = 10.0,
        stale_after_s: float = 30.0,
        ready_timeout_s: float = 5.0,
        check_metadata: bool = True,
    ) -> None:
        if not 0 < budget <= 1:
            raise ValueError("budget must be in (0, 1]")
        if heartbeat_interval_s <= 0 or heartbeat_interval_s >= heartbeat_timeout_s:
            raise ValueError("heartbeat_interval_s must be > 0 and below heartbeat_timeout_s")
        self.venue = venue
        self.capabilities = _capabilities(venue)
        self.condition_id = condition_id
        self.clock = clock
        self.endpoints = endpoints
        self._signer = PolymarketSigner(
            private_key, chain_id=chain_id, signature_type=signature_type, funder=funder
        )
        self._signature_type = signature_type
        self._api_nonce = api_nonce
        self._price_unit = price_unit
        self._timeout_s = timeout_s
        self._hb_interval_s = heartbeat_interval_s
        self._hb_timeout_ns = int(heartbeat_timeout_s * 1e9)
        self._balance_ttl_ns = int(balance_ttl_s * 1e9)
        self._ping_interval_s = ping_interval_s
        self._stale_after_s = stale_after_s
        self._ready_timeout_s = ready_timeout_s
        self._limiter = RateLimiter()
        self._quotas: dict[str, int] = {}
        for route, windows in (rate_limits or RATE_LIMITS).items():
            limits = [(max(1, int(n * budget)), int(sec * 1e9)) for n, sec in windows]
            reserve = route == "general"  # room for cancels and heartbeats when orders used the rest
            self._quotas[route] = self._limiter.add_quota(
                route, [Window(n, ns, rolling=True, reserve=n // 20 if reserve else 0) for n, ns in limits]
            )
        self._http = HttpClient(
            venue,
            endpoints.rest,
            clock=clock,
            timeout_s=timeout_s,
            limiter=self._limiter,
            quota=self._quotas.get("general"),
            decode_error=lambda r: decode_error(venue, r),
        )
        self._rpc: HttpClient | None = (
            HttpClient(venue, endpoints.rpc, clock=clock, timeout_s=timeout_s) if endpoints.rpc else None
        )
        self._gamma: HttpClient | None = (
            HttpClient(
                venue,
                endpoints.gamma,
                clock=clock,
                timeout_s=timeout_s,
                limiter=self._limiter,
                quota=self._quotas.get("gamma"),
            )
            if endpoints.gamma
            else None
        )
        self._check_metadata = check_metadata
        self._metadata: MarketMetadata | None = None
        self._offset_s = 0
        self._api_key = ""  # the key id (it is also the `owner` of every order); no secret is kept
        # market
        self.symbols: tuple[str, str] = (f"{condition_id}:YES", f"{condition_id}:NO")
        self._tokens: dict[str, str] = {}  # symbol -> token id
        self._symbol_of: dict[str, str] = {}  # token id -> symbol
        self._tick = ""
        self._neg_risk = False
        self._min_size = "0"
        self._closed = False
        self.spec: InstrumentSpec | None = None
        self.books: dict[str, Book] = {}  # symbol -> book
        self._phase: dict[str, _Phase] = {}
        self._buffer: dict[str, list[tuple[str, Any]]] = {}
        # orders
        self._orders: dict[str, _Order] = {}  # order id -> order
        self._by_client: dict[str, str] = {}  # client id -> order id
        self._order_log_path = Path(order_log) if order_log is not None else None
        self._order_log: IO[str] | None = None
        self._fsync = fsync
        self._load_order_log()
        self._seen_fills: OrderedDict[str, None] = OrderedDict()
        self._last_fill_ns = 0
        self._balances: dict[str, _Balance] = {}
        self._inflight = 0
        # heartbeats
        self._hb_id = ""
        self._hb_last_ok_ns: int | None = None
        self._hb_failed = False
        self._hb_lock = asyncio.Lock()
        # plumbing
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()
        self._clients: list[WsClient] = []
        self._market_ready = asyncio.Event()
        self._user_ready = asyncio.Event()
        self._await_pong = False

    # ---- plumbing --------------------------------------------------------------------------------

    @property
    def clock_offset_ms(self) -> int:
        """The venue's clock minus ours, as measured at connect (`GET /time`, whole seconds)."""
        return self._offset_s * 1000

    def _now_s(self) -> int:
        return self.clock.now_ns() // 1_000_000_000 + self._offset_s

    def _acquire(self, route: str, priority: bool = False) -> None:
        quota = self._quotas.get(route)
        if quota is None:
            return
        retry = self._limiter.try_acquire(quota, 1, self.clock.now_ns(), priority)
        if retry is not None:
            raise RateLimitError(
                f"{route}: local rate limit", venue=self.venue, code="local", retry_after_ns=retry
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def _public(
        self, path: str, query: dict[str, Any] | None = None, *, route: str | None = None
    ) -> Any:
        self._acquire(route or f"GET {path}")
        resp = await self._http.request("GET", path, query=urlencode(query or {}), mutating=False)
        return orjson.loads(resp.body)

    async def _private(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: bytes | None = None,
        mutating: bool,
        route: str | None = None,
        priority: bool = False,
    ) -> Any:
        self._acquire(route or f"{method} {path}", priority)
        headers = dict(self._signer.l2_headers(self._now_s(), method, path, body))
        if body is not None:
            headers["Content-Type"] = "application/json"
        resp = await self._http.request(
            method,
            path,
            query=urlencode(query or {}),
            body=body,
            headers=headers,
            mutating=mutating,
            priority=priority,
        )
        return orjson.loads(resp.body) if resp.body.strip() else None

    async def _paged(self, path: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = START_CURSOR
        while cursor != END_CURSOR:
            page = await self._private("GET", path, query={**query, "next_cursor": cursor}, mutating=False)
            out.extend(page.get("data") or [])
            cursor = str(page.get("next_cursor") or END_CURSOR)
        return out

    # ---- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        version = await self._public("/version")
        v = version.get("version") if isinstance(version, dict) else None
        if v != 2:
            raise ProtocolVersionError(
                f"the CLOB reports protocol version {v!r}; this connector signs V2 orders only",
                venue=self.venue,
            )
        with contextlib.suppress(VenueError, ValueError, TypeError):
            self._offset_s = int(await self._public("/time")) - self.clock.now_ns() // 1_000_000_000
        await self._api_creds()
        await self._load_market()
        if self._check_metadata and self._gamma is not None:
            try:
                await self.metadata()
            except MetadataMismatchError:
                raise
            except VenueError as e:
                log.warning("%s: no Gamma metadata at connect (%s); metadata() may be retried", self.venue, e)
        ws_logger = logging.getLogger("websockets.client")
        if _REDACT not in ws_logger.filters:
            ws_logger.addFilter(_REDACT)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._market_loop()),
            loop.create_task(self._user_loop()),
            loop.create_task(self._heartbeat_loop()),
        ]
        try:
            await asyncio.wait_for(
                asyncio.gather(self._market_ready.wait(), self._user_ready.wait()), self._ready_timeout_s
            )
        except TimeoutError:
            log.warning("%s: streams not ready after %.1f s; continuing", self.venue, self._ready_timeout_s)

    async def _l1(self, method: str, path: str) -> dict[str, Any]:
        self._acquire("auth")
        headers = dict(self._signer.l1_headers(self._now_s(), self._api_nonce))
        resp = await self._http.request(method, path, headers=headers, mutating=False)
        body = orjson.loads(resp.body)
        if not isinstance(body, dict) or not body.get("apiKey"):
            raise AuthenticationError(f"{method} {path}: no API key in the answer", venue=self.venue)
        return body

    async def _api_creds(self) -> None:
        """L1: create the API key, or derive it when it exists; the secrets go into the signer only."""
        try:
            creds = await self._l1("POST", "/auth/api-key")
        except VenueError as e:
            log.info("%s: creating the API key failed (%s); deriving it", self.venue, type(e).__name__)
            creds = await self._l1("GET", "/auth/derive-api-key")
        self._signer.set_api_creds(str(creds["apiKey"]), str(creds["secret"]), str(creds["passphrase"]))
        self._api_key = str(creds["apiKey"])
        del creds

    async def _load_market(self) -> None:
        info = await self._public(f"/clob-markets/{self.condition_id}", route="GET /clob-markets")
        market = await self._public(f"/markets/{self.condition_id}", route="GET /markets")
        tokens = [str(t["t"]) for t in info.get("t") or [] if t]
        if len(tokens) != 2:
            raise InvalidOrderError(
                f"market {self.condition_id} is not a binary market ({len(tokens)} tokens)", venue=self.venue
            )
        self._tokens = dict(zip(self.symbols, tokens, strict=True))
        self._symbol_of = {t: s for s, t in self._tokens.items()}
        self._tick = _norm(info.get("mts") or market.get("minimum_tick_size"))
        self._neg_risk = bool(info.get("nr", market.get("neg_risk", False)))
        self._min_size = _norm(market.get("minimum_order_size", info.get("mos", 0)) or 0)
        self._closed = bool(market.get("closed")) or market.get("accepting_orders") is False
        self.spec = InstrumentSpec(
            self._tick,
            LOT,
            min_qty=self._min_size,
            price_unit=self._price_unit or self._tick,
            qty_unit=f"{MICRO:f}",
        )
        for s in self.symbols:
            self.books[s] = Book(self.spec)
            self._phase[s] = _Phase.WAITING

    async def close(self) -> None:
        for c in self._clients:
            await c.close()
        tasks = [*self._tasks, *self._spawned]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        await self._http.close()
        if self._rpc is not None:
            await self._rpc.close()
        if self._gamma is not None:
            await self._gamma.close()
        if self._order_log is not None:
            self._order_log.close()
            self._order_log = None

    # ---- metadata (Gamma) ------------------------------------------------------------------------

    @property
    def market_metadata(self) -> MarketMetadata | None:
        """The last metadata `metadata()` fetched and cross-checked (None before the first success)."""
        return self._metadata

    async def _gamma_markets(self, query: list[tuple[str, str]]) -> list[Any]:
        if self._gamma is None:
            raise ConfigError("no Gamma endpoint configured (Endpoints.gamma)")
        self._acquire("gamma GET /markets")
        resp = await self._gamma.request("GET", "/markets", query=urlencode(query), mutating=False)
        try:
            rows = json.loads(resp.body, parse_float=Decimal)  # exact decimals, never a binary float
        except ValueError:
            raise MarketMetadataError("Gamma /markets: not JSON", venue=self.venue) from None
        if not isinstance(rows, list):
            raise MarketMetadataError("Gamma /markets: not a JSON array", venue=self.venue)
        return rows

    async def metadata(self) -> MarketMetadata:
        """This market's metadata from Gamma, cross-checked against the CLOB market being traded (token
        ids in order, tick, neg risk: `MetadataMismatchError`). Needs `connect()` first."""
        self.trading_spec()  # the CLOB side of the check
        cid = self.condition_id
        rows = await self._gamma_markets([("condition_ids", cid)])
        if not rows:  # a closed market may be left out unless asked for
            rows = await self._gamma_markets([("condition_ids", cid), ("closed", "true")])
        mine = [
            r for r in rows if isinstance(r, dict) and str(r.get("conditionId", "")).lower() == cid.lower()
        ]
        if not mine:
            raise MarketMetadataError(f"Gamma lists no market {cid} ({len(rows)} others)", venue=self.venue)
        md = parse_gamma_market(mine[0], self.venue)
        self._cross_check(md)
        self._metadata = md
        return md

    def _cross_check(self, md: MarketMetadata) -> None:
        def short(token: str) -> str:
            return token if len(token) <= 16 else f"{token[:8]}..{token[-6:]}"

        clob = (self._tokens[self.symbols[0]], self._tokens[self.symbols[1]])
        diffs: list[tuple[str, str]] = []
        if (md.yes_token, md.no_token) != clob:
            gamma_ids = ", ".join(short(t) for t in (md.yes_token, md.no_token))
            diffs.append(("tokens", f"token ids Gamma [{gamma_ids}] != CLOB [{', '.join(map(short, clob))}]"))
        if md.tick_size != _dec(self._tick):
            diffs.append(("tick_size", f"tick Gamma {_norm(md.tick_size)} != CLOB {self._tick}"))
        if md.neg_risk != self._neg_risk:
            diffs.append(("neg_risk", f"neg risk Gamma {md.neg_risk} != CLOB {self._neg_risk}"))
        if diffs:
            raise MetadataMismatchError(
                f"market {self.condition_id}: " + "; ".join(d for _, d in diffs),
                venue=self.venue,
                fields=tuple(f for f, _ in diffs),
            )
        if md.min_order_size != _dec(self._min_size):
            log.warning(
                "%s: min order size Gamma %s != CLOB %s (the CLOB's applies)",
                self.venue, _norm(md.min_order_size), self._min_size,
            )  # fmt: skip

    # ---- instruments -----------------------------------------------------------------------------

    def trading_spec(self) -> InstrumentSpec:
        if self.spec is None:
            raise VenueError("not connected", venue=self.venue)
        return self.spec

    def _resolve(self, instrument: str) -> tuple[str, str]:
        """(symbol, token id) of a `:YES`/`:NO` symbol or a token id of this market."""
        if instrument in self._tokens:
            return instrument, self._tokens[instrument]
        if instrument in self._symbol_of:
            return self._symbol_of[instrument], instrument
        raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)

    def token_id(self, instrument: str) -> str:
        return self._resolve(instrument)[1]

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        sym, token = self._resolve(symbol)
        return InstrumentInfo(
            sym,
            token,
            "pUSD",
            self._tick,
            LOT,
            self._min_size,
            "0",
            price_unit=self.trading_spec().price_unit,
            qty_unit=self.trading_spec().qty_unit,
        )

    @property
    def neg_risk(self) -> bool:
        return self._neg_risk

    @property
    def exchange(self) -> str:
        return NEG_RISK_EXCHANGE if self._neg_risk else EXCHANGE

    @property
    def address(self) -> str:
        return self._signer.address

    @property
    def funder(self) -> str:
        return self._signer.funder

    @property
    def heartbeat_ok(self) -> bool:
        return not self._hb_failed

    def order_id(self, client_id: str) -> str | None:
        """The venue order id (the order's EIP-712 hash) recorded for a client order id."""
        return self._by_client.get(client_id)

    # ---- the client id map -----------------------------------------------------------------------

    def _load_order_log(self) -> None:
        path = self._order_log_path
        if path is None or not path.exists():
            return
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = orjson.loads(line)
                o = _Order(
                    str(r["client_id"]), str(r["order_id"]), str(r["symbol"]), str(r["token"]),
                    _side(r["side"]), int(r["price"]), int(r["qty"]), str(r["order_type"]), live=False,
                )  # fmt: skip
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("%s: order log line %d unreadable, skipped", self.venue, n)
                continue
            self._orders[o.order_id] = o
            self._by_client[o.client_id] = o.order_id

    def _record(self, o: _Order) -> None:
        """Remember client id -> order id before the order is sent (durably with `order_log`)."""
        self._orders[o.order_id] = o
        self._by_client[o.client_id] = o.order_id
        if self._order_log_path is None:
            return
        if self._order_log is None:
            self._order_log = self._order_log_path.open("a", encoding="utf-8")
        side = "BUY" if o.side == Side.BUY else "SELL"
        line = orjson.dumps(
            {
                "client_id": o.client_id, "order_id": o.order_id, "symbol": o.symbol, "token": o.token,
                "side": side, "price": o.price, "qty": o.qty, "order_type": o.order_type,
            }
        )  # fmt: skip
        self._order_log.write(line.decode() + "\n")
        self._order_log.flush()
        if self._fsync:
            os.fsync(self._order_log.fileno())

    def _client_of(self, order_id: str) -> str:
        o = self._orders.get(order_id)
        return o.client_id if o is not None else order_id  # not ours from this map: the id itself

    # ---- orders ----------------------------------------------------------------------------------

    def _order_kind(self, a: Approval) -> tuple[str, bool, int]:
        """(venue order type, post only, GTD expiration in unix seconds)."""
        if a.order_type == OrderType.MARKET:
            kind = "FOK" if a.tif == TimeInForce.FOK else "FAK"
        else:
            kind = {TimeInForce.IOC: "FAK", TimeInForce.FOK: "FOK", TimeInForce.GTD: "GTD"}.get(a.tif, "GTC")
        if a.post_only and kind not in ("GTC", "GTD"):
            raise InvalidOrderError("post-only needs a GTC or GTD order", venue=self.venue)
        expiration = 0
        if kind == "GTD":
            if a.expire_ns <= 0:
                raise InvalidOrderError("a GTD order needs an expiry", venue=self.venue)
            expiration = -(-a.expire_ns // 1_000_000_000) + GTD_THRESHOLD_S
        return kind, a.post_only, expiration

    def _check_tradable(self) -> None:
        if self.spec is None:
            raise VenueError("not connected", venue=self.venue)
        if self._closed:
            raise InvalidOrderError(f"market {self.condition_id} is closed", venue=self.venue)

    def _sign(
        self, a: Approval, client_id: str, instrument: str
    ) -> tuple[_Order, PolymarketOrder, str, bool, int]:
        """Validate and sign one approved order: (tracking record, signed order, type, post only,
        expiration). Nothing is sent."""
        a = require_approval(a)
        self._check_tradable()
        if client_id in self._by_client:
            raise InvalidOrderError(f"client order id {client_id} was already used", venue=self.venue)
        symbol, token = self._resolve(instrument)
        kind, post_only, expiration = self._order_kind(a)
        spec = self.trading_spec()
        tick_units = spec.price_to_units(self._tick) if self._tick_representable() else spec.tick
        if a.price <= 0 or a.price % tick_units or a.qty <= 0 or a.qty % spec.lot:
            raise InvalidOrderError(
                f"price {a.price} or qty {a.qty} is not on the tick {self._tick} / lot {LOT}",
                venue=self.venue,
            )
        now_ns = self.clock.now_ns() + self._offset_s * 1_000_000_000
        try:
            order = self._signer.order(
                token,
                spec.format_price(a.price),
                spec.format_qty(a.qty),
                a.side,
                tick_size=self._tick,
                neg_risk=self._neg_risk,
                salt=secrets.randbits(40),
                timestamp_ms=now_ns // 1_000_000,
                expiration=expiration,
            )
        except InvalidInputError as e:
            raise InvalidOrderError(str(e), venue=self.venue) from None
        tracked = _Order(client_id, order.hash, symbol, token, a.side, a.price, a.qty, kind)
        return tracked, order, kind, post_only, expiration

    def _tick_representable(self) -> bool:
        spec = self.trading_spec()
        try:
            spec.price_to_units(self._tick)
        except InvalidInputError:
            return False
        return True

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        tracked, order, kind, post_only, _ = self._sign(approval, client_id, instrument)
        self._refuse_without_heartbeat()
        await self._check_funds([tracked], [order])
        await self._arm_heartbeat()
        self._acquire("POST /order")
        body = order.body(self._api_key, kind, post_only).encode()
        headers = dict(self._signer.l2_headers(self._now_s(), "POST", "/order", body))
        headers["Content-Type"] = "application/json"
        self._record(tracked)
        self._inflight += 1
        try:
            resp = await self._http.request("POST", "/order", body=body, headers=headers, mutating=True)
        except UnknownOutcomeError:
            log.warning("%s: order %s outcome unknown; resolve it with query()", self.venue, client_id)
            raise
        except VenueError:
            tracked.state, tracked.live = OrderState.REJECTED, False
            raise
        finally:
            self._inflight -= 1
        result = orjson.loads(resp.body)
        self._apply_post_result(tracked, result)
        return SubmitAck(client_id, tracked.order_id)

    async def submit_batch(self, orders: Sequence[tuple[Approval, str, str]]) -> list[SubmitAck | VenueError]:
        """Up to 15 orders in one `POST /orders`: per order a `SubmitAck` or the venue's error. A failure
        of the whole request raises (a timeout or 5xx: `UnknownOutcomeError` for all of them)."""
        if not 0 < len(orders) <= MAX_BATCH:
            raise InvalidOrderError(f"a batch holds 1 to {MAX_BATCH} orders", venue=self.venue)
        if len({cid for _, cid, _ in orders}) != len(orders):
            raise InvalidOrderError("client order ids repeat within the batch", venue=self.venue)
        signed = [self._sign(a, cid, inst) for a, cid, inst in orders]
        self._refuse_without_heartbeat()
        await self._check_funds([s[0] for s in signed], [s[1] for s in signed])
        await self._arm_heartbeat()
        self._acquire("POST /orders")
        body = ("[" + ",".join(o.body(self._api_key, k, p) for _, o, k, p, _ in signed) + "]").encode()
        headers = dict(self._signer.l2_headers(self._now_s(), "POST", "/orders", body))
        headers["Content-Type"] = "application/json"
        for tracked, *_ in signed:
            self._record(tracked)
        self._inflight += 1
        try:
            resp = await self._http.request("POST", "/orders", body=body, headers=headers, mutating=True)
        except UnknownOutcomeError:
            raise
        except VenueError:
            for tracked, *_ in signed:
                tracked.state, tracked.live = OrderState.REJECTED, False
            raise
        finally:
            self._inflight -= 1
        results = orjson.loads(resp.body)
        out: list[SubmitAck | VenueError] = []
        for (tracked, *_), r in zip(signed, results if isinstance(results, list) else [], strict=False):
            try:
                self._apply_post_result(tracked, r)
                out.append(SubmitAck(tracked.client_id, tracked.order_id))
            except VenueError as e:
                out.append(e)
        if len(out) != len(signed):  # an answer without one result per order: those stay unknown
            for tracked, *_ in signed[len(out) :]:
                out.append(UnknownOutcomeError(f"no result for {tracked.client_id}", venue=self.venue))
        return out

    def _apply_post_result(self, tracked: _Order, r: Any) -> None:
        """Fold a `POST /order(s)` result into the tracking; raise the venue's error for a failure."""
        if not isinstance(r, dict) or not r.get("success", False):
            msg = str(r.get("errorMsg") or "order refused") if isinstance(r, dict) else "malformed answer"
            tracked.state, tracked.live = OrderState.REJECTED, False
            raise error_from(self.venue, msg)
        if r.get("orderID") and str(r["orderID"]).lower() != tracked.order_id.lower():
            log.error("%s: venue order id %s differs from the signed hash", self.venue, r["orderID"])
        shares = r.get("takingAmount") if tracked.side == Side.BUY else r.get("makingAmount")
        matched = 0
        with contextlib.suppress(ValueError):
            matched = int(_dec(shares) / MICRO) if shares else 0
        tracked.filled = max(tracked.filled, matched)
        if matched:
            self._balances.clear()
        resting = tracked.order_type in ("GTC", "GTD") and tracked.filled < tracked.qty
        if resting:
            tracked.state = OrderState.OPEN
            return
        tracked.live = False
        done = tracked.filled >= tracked.qty
        tracked.state = OrderState.FILLED if done else OrderState.EXPIRED
        self._queue.put_nowait(
            OrderReport(
                tracked.client_id, tracked.order_id, tracked.symbol, tracked.side, tracked.price, tracked.qty,
                tracked.filled, tracked.state, "" if done else f"{tracked.order_type}: rest canceled",
            )
        )  # fmt: skip

    async def cancel(self, client_id: str) -> None:
        oid = self._by_client.get(client_id)
        if oid is None:
            raise OrderNotFoundError(f"no order with client id {client_id}", venue=self.venue)
        body = orjson.dumps({"orderID": oid})
        result = await self._private("DELETE", "/order", body=body, mutating=True, priority=True)
        canceled = self._cancel_result(result)
        if oid not in canceled:
            reason = (result or {}).get("not_canceled", {}).get(oid, "not canceled")
            raise OrderNotFoundError(f"{client_id}: {reason}", venue=self.venue)

    def _cancel_result(self, result: Any) -> set[str]:
        canceled = {str(i) for i in (result or {}).get("canceled") or []}
        for oid in canceled:
            o = self._orders.get(oid)
            if o is not None:
                o.state, o.live = OrderState.CANCELED, False
        return canceled

    async def orders_scoring(self, client_ids: Sequence[str]) -> dict[str, bool]:
        """`POST /orders-scoring`: whether each resting order earns liquidity rewards now (client ids
        the connector does not know are left out)."""
        ids = {oid: cid for cid in client_ids if (oid := self._by_client.get(cid)) is not None}
        if not ids:
            return {}
        result = await self._private("POST", "/orders-scoring", body=orjson.dumps(list(ids)), mutating=False)
        if not isinstance(result, dict):
            raise VenueError("orders-scoring: unexpected answer", venue=self.venue)
        return {cid: bool(result.get(oid, False)) for oid, cid in ids.items() if oid in result}

    async def cancel_many(self, client_ids: Sequence[str]) -> dict[str, str]:
        """`DELETE /orders`: per client id that was not canceled, the venue's reason."""
        ids = {cid: oid for cid in client_ids if (oid := self._by_client.get(cid)) is not None}
        missing = {cid: "unknown client order id" for cid in client_ids if cid not in ids}
        if not ids:
            return missing
        result = await self._private(
            "DELETE", "/orders", body=orjson.dumps(list(ids.values())), mutating=True, priority=True
        )
        canceled = self._cancel_result(result)
        reasons = (result or {}).get("not_canceled") or {}
        return {
            **missing,
            **{cid: str(reasons.get(oid, "not canceled")) for cid, oid in ids.items() if oid not in canceled},
        }

    async def cancel_all(self, instrument: str | None = None) -> int:
        """Every order of this market (`DELETE /cancel-market-orders`), or of one of its tokens."""
        scope: dict[str, str] = {"market": self.condition_id}
        if instrument is not None:
            scope["asset_id"] = self._resolve(instrument)[1]
        result = await self._private(
            "DELETE", "/cancel-market-orders", body=orjson.dumps(scope), mutating=True, priority=True
        )
        return len(self._cancel_result(result))

    async def cancel_account(self) -> int:
        """Every order of the API key in every market (`DELETE /cancel-all`)."""
        result = await self._private("DELETE", "/cancel-all", mutating=True, priority=True)
        return len(self._cancel_result(result))

    def _report(self, o: dict[str, Any]) -> OrderReport:
        """An order as the venue shows it (`/data/order`, `/data/orders`, user-channel `order` events)."""
        spec = self.trading_spec()
        oid = str(o["id"])
        symbol = self._symbol_of.get(str(o.get("asset_id", "")), str(o.get("asset_id", "")))
        qty = spec.qty_to_units(_norm(o["original_size"]))
        filled = spec.qty_to_units(_norm(o.get("size_matched") or 0))
        status = str(o.get("status", "")).upper()
        state = _STATES.get(status)
        if state is None:
            log.warning("%s: unknown order status %r taken as open", self.venue, status)
            state = OrderState.OPEN
        reason = ""
        if state is OrderState.FILLED and filled < qty:
            state, reason = OrderState.EXPIRED, f"{o.get('order_type', '')}: unfilled rest canceled"
        elif status == "CANCELED_MARKET_RESOLVED":
            reason = "market resolved"
        tracked = self._orders.get(oid)
        if tracked is not None:
            tracked.filled = max(tracked.filled, filled)
            tracked.state = state
            tracked.live = state is OrderState.OPEN
        return OrderReport(
            self._client_of(oid), oid, symbol, _side(o.get("side")), self._price(o.get("price", 0)),
            qty, filled, state, reason,
        )  # fmt: skip

    def _price(self, raw: Any) -> int:
        """A reported price in price units (rounded to the unit if the venue's is finer)."""
        spec = self.trading_spec()
        d = _dec(raw)
        try:
            return spec.price_to_units(_norm(d))
        except InvalidInputError:
            return int((d / _dec(spec.price_unit)).to_integral_value())

    async def query(self, client_id: str) -> OrderReport | None:
        oid = self._by_client.get(client_id)
        if oid is None:
            return None  # never sent from here (nor recorded in the order log)
        try:
            body = await self._private("GET", f"/data/order/{oid}", mutating=False, route="GET /data/order")
        except OrderNotFoundError:
            body = None
        if not body:
            tracked = self._orders.get(oid)
            if tracked is not None and tracked.state is None:
                tracked.live = False  # never reached the venue: it holds no funds, needs no heartbeat
            return None
        return self._report(body)

    async def open_orders(self) -> list[OrderReport]:
        rows = await self._paged("/data/orders", {"market": self.condition_id})
        return [self._report(o) for o in rows if str(o.get("asset_id", "")) in self._symbol_of]

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        rows = await self._paged(
            "/data/trades", {"market": self.condition_id, "after": max(0, ts_ns // 1_000_000_000)}
        )
        out: list[FillReport] = []
        for t in rows:
            if str(t.get("status", "")).upper() == "FAILED":
                continue
            out.extend(self._fills_of(t))
        return out

    def _fills_of(self, t: dict[str, Any]) -> list[FillReport]:
        """Our fills in one trade: as its taker, and through each `maker_orders` entry that is ours. The
        side, token and price are those of OUR order (a YES buy matched by a NO buy stays a YES buy)."""
        spec = self.trading_spec()
        tid = str(t["id"])
        ts_ns = int(_dec(t.get("match_time") or 0)) * 1_000_000_000
        out: list[FillReport] = []

        def fill(
            fid: str, oid: str, token: str, side: Any, price: Any, size: Any, bps: Any, maker: bool
        ) -> None:
            symbol = self._symbol_of.get(token)
            if symbol is None:
                return
            p, q = _dec(price), _dec(size)
            out.append(
                FillReport(
                    self._client_of(oid), fid, symbol, _side(side), self._price(p),
                    spec.qty_to_units(_norm(q)), _fee(q, p, bps), ts_ns, maker,
                    ts_recv=self.clock.now_ns(),
                )
            )  # fmt: skip

        if str(t.get("trader_side", "")).upper() == "TAKER":
            fill(
                tid, str(t["taker_order_id"]), str(t["asset_id"]), t["side"], t["price"], t["size"],
                t.get("fee_rate_bps"), False,
            )  # fmt: skip
        for m in t.get("maker_orders") or []:
            if str(m.get("owner", "")) != self._api_key and str(m.get("order_id")) not in self._orders:
                continue
            oid = str(m["order_id"])
            fill(
                f"{tid}:{oid}", oid, str(m["asset_id"]), m["side"], m["price"], m["matched_amount"],
                m.get("fee_rate_bps"), True,
            )  # fmt: skip
        return out

    # ---- funds -----------------------------------------------------------------------------------

    async def _balance(self, token: str | None) -> _Balance:
        """`/balance-allowance` for the collateral (None) or a token, cached for `balance_ttl_s`."""
        key = token or "COLLATERAL"
        now = self.clock.monotonic_ns()
        cached = self._balances.get(key)
        if cached is not None and now - cached.at_ns < self._balance_ttl_ns:
            return cached
        query: dict[str, Any] = {"asset_type": "CONDITIONAL" if token else "COLLATERAL"}
        if token:
            query["token_id"] = token
        query["signature_type"] = self._signature_type
        body = await self._private("GET", "/balance-allowance", query=query, mutating=False)
        allowances = {str(k).lower(): int(v) for k, v in (body.get("allowances") or {}).items()}
        b = _Balance(now, int(body["balance"]), allowances)
        self._balances[key] = b
        return b

    def _held(self, token: str | None) -> int:
        """What our live orders hold back: pUSD micro-units of buys (token None), or shares of sells."""
        spec = self.trading_spec()
        unit = _dec(spec.price_unit)
        total = 0
        for o in self._orders.values():
            if not o.live or o.state not in (None, OrderState.OPEN):
                continue
            rest = max(o.qty - o.filled, 0)
            if token is None and o.side == Side.BUY:
                cash = Decimal(rest) * o.price * unit
                total += int(cash.to_integral_value(ROUND_CEILING))
            elif token is not None and o.side == Side.SELL and o.token == token:
                total += rest
        return total

    async def _check_funds(self, new: Sequence[_Order], signed: Sequence[PolymarketOrder]) -> None:
        """Balance and allowance must cover the new orders on top of what ours already hold."""
        need: dict[str | None, int] = {}
        for o, s in zip(new, signed, strict=True):
            key = None if o.side == Side.BUY else o.token
            need[key] = need.get(key, 0) + s.maker_amount
        exchange = self.exchange.lower()
        for token, amount in need.items():
            b = await self._balance(token)
            free = b.balance - self._held(token)
            what = "pUSD" if token is None else f"{self._symbol_of[token]} shares"
            if free < amount:
                raise InsufficientFundsError(
                    f"{what}: {Decimal(amount) * MICRO} needed, {Decimal(max(free, 0)) * MICRO} free",
                    venue=self.venue,
                    code="local",
                )
            allowed = b.allowances.get(exchange, 0)
            if (token is None and allowed < amount) or (token is not None and allowed <= 0):
                raise InsufficientFundsError(
                    f"{what}: the exchange {self.exchange} is not approved for this amount",
                    venue=self.venue,
                    code="local",
                )

    async def positions(self) -> dict[str, int]:
        """Each token's balance at the venue, in micro-shares."""
        out: dict[str, int] = {}
        for symbol, token in self._tokens.items():
            query = {"asset_type": "CONDITIONAL", "token_id": token, "signature_type": self._signature_type}
            body = await self._private("GET", "/balance-allowance", query=query, mutating=False)
            out[symbol] = int(body["balance"])
        return out

    async def collateral(self) -> Decimal:
        """The wallet's pUSD balance at the venue."""
        self._balances.pop("COLLATERAL", None)
        return Decimal((await self._balance(None)).balance) * MICRO

    async def chain_balance(self) -> ChainBalance:
        """The wallet (funder) on Polygon by `eth_call`: pUSD balance and allowance for the market's
        exchange, both tokens' CTF balances and the CTF approval."""
        if self._rpc is None:
            raise ConfigError("no Polygon JSON-RPC endpoint configured (Endpoints.rpc)")
        owner = self.funder.lower().removeprefix("0x").rjust(64, "0")
        spender = self.exchange.lower().removeprefix("0x").rjust(64, "0")
        calls = [
            (COLLATERAL, _SEL_BALANCE_OF + owner),
            (COLLATERAL, _SEL_ALLOWANCE + owner + spender),
            (CTF, _SEL_APPROVED_FOR_ALL + owner + spender),
            *[(CTF, _SEL_BALANCE_OF_1155 + owner + f"{int(t):064x}") for t in self._tokens.values()],
        ]
        batch = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_call",
                "params": [{"to": to, "data": "0x" + data}, "latest"],
            }
            for i, (to, data) in enumerate(calls)
        ]
        resp = await self._rpc.request(
            "POST", "", body=orjson.dumps(batch), headers={"Content-Type": "application/json"}, mutating=False
        )
        replies = orjson.loads(resp.body)
        by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
        words: list[int] = []
        for i in range(len(calls)):
            r = by_id.get(i) or {}
            if "result" not in r:
                msg = str((r.get("error") or {}).get("message", "no result"))[:120]
                raise VenueUnavailableError(f"eth_call {i}: {msg}", venue=self.venue)
            words.append(_word(str(r["result"])))
        return ChainBalance(
            self.funder, words[0], words[1], dict(zip(self._tokens, words[3:], strict=True)), bool(words[2])
        )

    # ---- heartbeats (dead-man switch) ------------------------------------------------------------

    async def _heartbeat(self) -> None:
        async with self._hb_lock:
            now = self.clock.monotonic_ns()
            if self._hb_last_ok_ns is None or now - self._hb_last_ok_ns >= self._hb_timeout_ns:
                self._hb_id = ""  # the venue's timer ran out (or never ran): start a new chain
            try:
                body = await self._private(
                    "POST",
                    "/v1/heartbeats",
                    body=orjson.dumps({"heartbeat_id": self._hb_id}),
                    mutating=False,
                    priority=True,
                )
            except VenueError as e:
                if not self._hb_failed:
                    log.error("%s: heartbeat failed (%s); new orders refused", self.venue, e)
                self._hb_failed = True
                raise HeartbeatFailedError(f"heartbeat failed: {e}", venue=self.venue) from None
            if self._hb_failed:
                log.warning("%s: heartbeat restored", self.venue)
            self._hb_id = str((body or {}).get("heartbeat_id") or self._hb_id)
            self._hb_last_ok_ns = self.clock.monotonic_ns()
            self._hb_failed = False

    def _refuse_without_heartbeat(self) -> None:
        """Fail closed: no new order while heartbeats fail."""
        if self._hb_failed:
            raise HeartbeatFailedError("heartbeats are failing: new orders refused", venue=self.venue)

    async def _arm_heartbeat(self) -> None:
        """Before an order leaves: arm (or refresh) the dead-man switch unless it is fresh."""
        self._refuse_without_heartbeat()
        last = self._hb_last_ok_ns
        if last is None or self.clock.monotonic_ns() - last >= int(self._hb_interval_s * 1e9):
            await self._heartbeat()

    def _needs_heartbeat(self) -> bool:
        return self._hb_failed or self._inflight > 0 or any(o.live for o in self._orders.values())

    async def _heartbeat_loop(self) -> None:
        while True:
            await self.clock.sleep(min(self._hb_interval_s, 1.0) if self._hb_failed else self._hb_interval_s)
            if self._needs_heartbeat():
                with contextlib.suppress(HeartbeatFailedError):
                    await self._heartbeat()

    # ---- events ----------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    async def _pinger(self, ws: WsClient) -> None:
        """The venue's keep-alive: a text PING every `ping_interval_s`, answered by PONG."""
        while not ws.closed():
            await self.clock.sleep(self._ping_interval_s)
            with contextlib.suppress(VenueUnavailableError):
                await ws.send("PING")

    def _ws(self, path: str, on_connect: Callable[[WsClient], Awaitable[None]]) -> WsClient:
        ws = WsClient(
            self.venue,
            f"{self.endpoints.ws.rstrip('/')}{path}",
            clock=self.clock,
            on_connect=on_connect,
            stale_after_s=self._stale_after_s,
        )
        self._clients.append(ws)
        self._spawn(self._pinger(ws))
        return ws

    @staticmethod
    def _frames(data: bytes) -> list[dict[str, Any]]:
        msg = orjson.loads(data)
        items = msg if isinstance(msg, list) else [msg]
        return [m for m in items if isinstance(m, dict)]

    # ---- market channel --------------------------------------------------------------------------

    async def _market_subscribe(self, ws: WsClient) -> None:
        sub = {"assets_ids": list(self._tokens.values()), "type": "market", "custom_feature_enabled": True}
        await ws.send(orjson.dumps(sub))

    async def _market_loop(self) -> None:
        ws = self._ws("/ws/market", self._market_subscribe)
        async for ev in ws.events():
            if isinstance(ev, WsConnected):
                if ev.attempt > 1:
                    for s in self.symbols:
                        self._resync(s, "reconnected")
                continue
            if isinstance(ev, WsDisconnected | WsStale):
                for s in self.symbols:
                    self._invalidate(s, f"market channel {type(ev).__name__}")
                continue
            if ev.data.strip() in (b"PONG", b""):
                continue
            try:
                frames = self._frames(ev.data)
            except orjson.JSONDecodeError:
                log.warning("%s: non-JSON market message skipped", self.venue)
                continue
            for m in frames:
                self._on_market(m, ev)

    def _on_market(self, m: dict[str, Any], ev: WsMessage) -> None:
        kind = m.get("event_type")
        if kind == "book":
            symbol = self._symbol_of.get(str(m.get("asset_id")))
            if symbol is not None:
                self._stream(symbol, "book", m, ev.ts_recv)
        elif kind == "price_change":
            per: dict[str, list[dict[str, Any]]] = {}
            for c in m.get("price_changes") or []:
                symbol = self._symbol_of.get(str(c.get("asset_id")))
                if symbol is not None:
                    per.setdefault(symbol, []).append(c)
            for symbol, changes in per.items():
                self._stream(symbol, "changes", changes, ev.ts_recv)
        elif kind == "last_trade_price":
            symbol = self._symbol_of.get(str(m.get("asset_id")))
            if symbol is not None and self.spec is not None:
                try:
                    self._queue.put_nowait(
                        TradeTick(
                            symbol,
                            self._price(m["price"]),
                            self.spec.qty_to_units(_norm(m["size"])),
                            _side(m.get("side")),
                            int(_dec(m.get("timestamp") or 0)) * 1_000_000,
                            ts_recv=ev.ts_recv,
                        )
                    )
                except (KeyError, ValueError, InvalidInputError) as e:
                    log.warning("%s: malformed last_trade_price skipped: %s", self.venue, type(e).__name__)
        elif kind == "tick_size_change":
            self._on_tick_size(_norm(m.get("new_tick_size")))
        elif kind == "market_resolved":
            self._closed = True
            for s in self.symbols:
                self._invalidate(s, f"market resolved (winner {m.get('winning_outcome', '?')})", force=True)
                self._phase[s] = _Phase.FROZEN

    def _stream(self, symbol: str, kind: str, payload: Any, ts_recv: int) -> None:
        phase = self._phase.get(symbol)
        if phase is _Phase.RESYNC:
            self._buffer.setdefault(symbol, []).append((kind, payload))
            return
        if phase is _Phase.FROZEN:
            return
        if kind == "changes" and phase is not _Phase.LIVE:
            return  # no snapshot yet: the subscription's snapshot comes first
        try:
            if kind == "book":
                self._snapshot(symbol, payload)
            else:
                self._changes(symbol, payload, check=True)
        except (KeyError, TypeError, ValueError, InvalidInputError, _BookMismatchError) as e:
            self._resync(symbol, f"inconsistent book: {e}")
            return
        self._phase[symbol] = _Phase.LIVE
        self._emit_top(symbol, ts_recv)
        if all(self._phase.get(s) is _Phase.LIVE for s in self.symbols):
            self._market_ready.set()

    def _levels(self, rows: Any) -> list[tuple[int, int]]:
        spec = self.trading_spec()
        return [
            (spec.price_to_units(_norm(r["price"])), spec.qty_to_units(_norm(r["size"]))) for r in rows or []
        ]

    def _snapshot(self, symbol: str, b: dict[str, Any]) -> None:
        book = self.books[symbol]
        bids, asks = self._levels(b.get("bids")), self._levels(b.get("asks"))
        book.apply_snapshot(bids, asks, int(_dec(b.get("timestamp") or 0)))
        if book.is_crossed():
            raise _BookMismatchError("crossed snapshot")

    def _changes(self, symbol: str, changes: list[dict[str, Any]], *, check: bool) -> None:
        spec = self.trading_spec()
        book = self.books[symbol]
        parsed = [
            (_side(c["side"]), spec.price_to_units(_norm(c["price"])), spec.qty_to_units(_norm(c["size"])))
            for c in changes
        ]
        for side, price, qty in parsed:
            book.set_level(side, price, qty)
        if not check:
            return
        if book.is_crossed():
            raise _BookMismatchError("crossed book")
        last = changes[-1]
        if "best_bid" in last and "best_ask" in last:
            bid, ask = _dec(last["best_bid"]), _dec(last["best_ask"])
            want_bid = self._price(bid) if bid > 0 else None
            want_ask = self._price(ask) if ask < 1 else None
            have_bid, have_ask = book.best_bid(), book.best_ask()
            if (have_bid[0] if have_bid else None) != want_bid or (
                have_ask[0] if have_ask else None
            ) != want_ask:
                raise _BookMismatchError(f"best bid/ask {have_bid}/{have_ask} != the venue's {bid}/{ask}")

    def _emit_top(self, symbol: str, ts_recv: int) -> None:
        book = self.books[symbol]
        bid, ask = book.best_bid(), book.best_ask()
        self._queue.put_nowait(
            BookUpdate(
                symbol,
                bid[0] if bid else None,
                bid[1] if bid else 0,
                ask[0] if ask else None,
                ask[1] if ask else 0,
                self.clock.now_ns(),
                ts_recv,
            )
        )

    def _invalidate(self, symbol: str, reason: str, *, force: bool = False) -> None:
        book = self.books.get(symbol)
        if book is None:
            return
        if book.state == BookState.VALID or force:
            self._queue.put_nowait(BookInvalid(symbol, reason))
        book.begin_resync()
        if self._phase.get(symbol) is _Phase.LIVE:
            self._phase[symbol] = _Phase.WAITING

    def _resync(self, symbol: str, reason: str) -> None:
        """Invalidate the book and rebuild it from REST `/book`, buffering stream events meanwhile."""
        if self._phase.get(symbol) in (_Phase.RESYNC, _Phase.FROZEN):
            return
        log.info("%s: resync %s: %s", self.venue, symbol, reason)
        self._invalidate(symbol, reason)
        self._phase[symbol] = _Phase.RESYNC
        self._buffer[symbol] = []
        self._spawn(self._rest_snapshot(symbol))

    async def _rest_snapshot(self, symbol: str) -> None:
        delay = 0.05
        while True:
            try:
                snap = await self._public("/book", {"token_id": self._tokens[symbol]})
                if self._phase.get(symbol) is not _Phase.RESYNC:
                    return  # frozen (tick change, resolution) meanwhile
                ts_recv = self.clock.now_ns()
                self._snapshot(symbol, snap)
                for kind, payload in self._buffer.pop(symbol, []):
                    if kind == "book":
                        self._snapshot(symbol, payload)
                    else:
                        self._changes(symbol, payload, check=False)
                if self.books[symbol].is_crossed():
                    raise _BookMismatchError("crossed after replay")
            except (VenueError, KeyError, TypeError, ValueError, InvalidInputError, _BookMismatchError) as e:
                log.warning("%s: %s snapshot failed (%s); retrying", self.venue, symbol, e)
                self._buffer[symbol] = []
                await self.clock.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._phase[symbol] = _Phase.LIVE
            self._emit_top(symbol, ts_recv)
            if all(self._phase.get(s) is _Phase.LIVE for s in self.symbols):
                self._market_ready.set()
            return

    def _on_tick_size(self, tick: str) -> None:
        if tick == self._tick or self.spec is None:
            return
        old, self._tick = self._tick, tick
        spec = self.spec
        if not self._tick_representable():
            for s in self.symbols:
                self._invalidate(
                    s, f"tick size {old} -> {tick}, finer than the price unit {spec.price_unit}: reconnect "
                    f"with price_unit={tick}", force=True,
                )  # fmt: skip
                self._phase[s] = _Phase.FROZEN
            return
        self.spec = InstrumentSpec(
            tick, LOT, min_qty=self._min_size, price_unit=spec.price_unit, qty_unit=spec.qty_unit
        )
        for s in self.symbols:
            self._invalidate(s, f"tick size {old} -> {tick}", force=True)
            self.books[s] = Book(self.spec)
            if self._phase.get(s) is not _Phase.RESYNC and not self._closed:
                self._phase[s] = _Phase.WAITING  # (a pending REST snapshot fills the new book)
            self._resync(s, "tick size changed")

    # ---- user channel ----------------------------------------------------------------------------

    async def _user_subscribe(self, ws: WsClient) -> None:
        """Subscribe with the API credentials (the channel wants the secret itself): derived again by L1
        for this frame only, never kept. A PING after it: its PONG proves the subscription was read."""
        self._user_ready.clear()
        try:
            creds = await self._l1("GET", "/auth/derive-api-key")
        except VenueError as e:
            raise VenueUnavailableError(
                f"user channel: API key: {type(e).__name__}", venue=self.venue
            ) from None
        if str(creds["apiKey"]) != self._api_key:
            log.error("%s: the derived API key differs from the one in use", self.venue)
        frame = orjson.dumps(
            {
                "markets": [self.condition_id],
                "type": "user",
                "auth": {
                    "apiKey": str(creds["apiKey"]),
                    "secret": str(creds.get("secret", "")),
                    "passphrase": str(creds.get("passphrase", "")),
                },
            }
        )
        del creds
        self._await_pong = True
        await ws.send(frame)
        del frame
        await ws.send("PING")

    async def _user_loop(self) -> None:
        ws = self._ws("/ws/user", self._user_subscribe)
        async for ev in ws.events():
            if isinstance(ev, WsConnected):
                if ev.attempt > 1:
                    self._spawn(self._reconcile())
                continue
            if isinstance(ev, WsDisconnected | WsStale):
                self._user_ready.clear()
                log.warning(
                    "%s: user channel %s; will reconcile after reconnect", self.venue, type(ev).__name__
                )
                continue
            data = ev.data.strip()
            if data == b"PONG":
                if self._await_pong:
                    self._await_pong = False
                    self._user_ready.set()
                continue
            try:
                frames = self._frames(data)
            except orjson.JSONDecodeError:
                log.warning("%s: non-JSON user message skipped", self.venue)
                continue
            for m in frames:
                try:
                    if m.get("event_type") == "order":
                        self._on_order_event(m)
                    elif m.get("event_type") == "trade":
                        self._on_trade_event(m)
                except (KeyError, TypeError, ValueError, InvalidInputError) as e:
                    log.warning("%s: malformed user event skipped: %s", self.venue, type(e).__name__)

    def _on_order_event(self, m: dict[str, Any]) -> None:
        if str(m.get("asset_id")) not in self._symbol_of:
            return
        self._queue.put_nowait(self._report(m))

    def _emit_fills(self, fills: list[FillReport]) -> None:
        for f in fills:
            if f.trade_id in self._seen_fills:
                continue
            self._seen_fills[f.trade_id] = None
            if len(self._seen_fills) > 100_000:
                self._seen_fills.popitem(last=False)
            self._last_fill_ns = max(self._last_fill_ns, f.ts_event)
            oid = self._by_client.get(f.client_id)
            tracked = self._orders.get(oid) if oid else None
            if tracked is not None and tracked.state is None:
                tracked.state = OrderState.OPEN  # it reached the venue
            self._balances.clear()
            self._queue.put_nowait(f)

    def _on_trade_event(self, m: dict[str, Any]) -> None:
        if str(m.get("status", "")).upper() == "FAILED":
            log.error("%s: trade %s FAILED on chain; reconciling", self.venue, m.get("id"))
            self._spawn(self._reconcile())
            return
        self._emit_fills(self._fills_of(m))

    async def _reconcile(self) -> None:
        """After a user-channel reconnect: open orders, orders that closed meanwhile, and trades."""
        try:
            reports = await self.open_orders()
            open_ids = {r.venue_order_id for r in reports}
            for r in reports:
                self._queue.put_nowait(r)
            for o in [o for o in self._orders.values() if o.live and o.order_id not in open_ids]:
                closed = await self.query(o.client_id)
                if closed is not None:
                    self._queue.put_nowait(closed)
            since = max(0, self._last_fill_ns - 60_000_000_000)
            self._emit_fills(await self.fills_since(since))
        except VenueError as e:
            log.warning("%s: reconciliation after reconnect failed: %s", self.venue, e)
