"""A loopback simulator of the Polymarket CLOB V2 (pUSD collateral, exchange domain version "2").

REST, as `py-clob-client-v2` calls it: `/`, `/ok`, `/time`, `/version`; L1 (EIP-712 `ClobAuth`)
`POST /auth/api-key` and `GET /auth/derive-api-key`; public market data (`/markets`, `/markets/{id}`,
`/clob-markets/{id}`, `/markets-by-token/{id}`, `/book`, `POST /books`, `/tick-size`, `/neg-risk`,
`/fee-rate`, `/midpoint`, `/spread`, `/last-trade-price`); L2 (HMAC) `POST /order`, `POST /orders`
(max 15), `DELETE /order|/orders|/cancel-all|/cancel-market-orders`, `/data/order/{id}`,
`/data/orders` and `/data/trades` (cursor pages `MA==` .. `LTE=`), `/balance-allowance[/update]`,
`/order-scoring`, `POST /orders-scoring`, `POST /v1/heartbeats` (and `/heartbeats`: the dead-man
switch). WebSocket `/ws/market` (book, price_change, last_trade_price, tick_size_change,
market_resolved) and `/ws/user` (order, trade). A minimal Polygon JSON-RPC at `POST /rpc` answers
`eth_chainId` and `eth_call` for pUSD `balanceOf`/`allowance` and CTF `balanceOf`/`isApprovedForAll`.

Signatures are checked independently of the core under test: HMAC with the standard library, EIP-712
(`ClobAuth` and the V2 `Order` against the CTF Exchange or the Neg Risk CTF Exchange) with
eth-account. Money is integer micro-units (6 decimals); prices are integer units of 0.0001.

Matching: each binary market has ONE book in YES-price space, as the venue shows it: a YES buy at p
is a bid at p, a NO buy at q an ask at 1-q, a YES sell an ask, a NO sell at q a bid at 1-q. A bid
meeting an ask is then a plain transfer (same token), a mint (YES buy + NO buy) or a merge (YES sell
+ NO sell); price-time priority holds across both tokens. The NO book is the mirror of the YES book.

Background market (on by default, `background=False` for empty books): on every listed market a few
participants (not API keys, so never under the dead-man switch; ample pUSD and tokens, topped up) quote
around a fair YES price that walks +-1 tick within `BackgroundParams.bounds`, seeded by the server's seed:
Poisson arrivals of limit orders (YES or NO, either side), cancels and small marketable (FAK) orders per
`on_step`, through the same matching as API orders, so a client's quotes get filled and the market
channel moves. Same seed, same steps: the same prints (`tape`). The venue's records (`/data/trades`,
`/sim/state`) hold API keys' orders and trades only; `tape` holds every print.

Gamma (market metadata; the real one is the host gamma-api.polymarket.com, here the path prefix
`/gamma` on the same server): `GET /gamma/markets` (a JSON array; filters `condition_ids`,
`clob_token_ids`, `slug`, `id`, each repeatable, and `closed`; `limit`, `offset`; throttled at 300 per
10 s) and `GET /gamma/markets/{id}` by Gamma id, made from the same market state the CLOB serves (tick,
min size, neg risk, token ids, rewards, closed after `resolve`). Every market has an end date (Gamma
`endDate`, CLOB `end_date_iso`): by default the UTC midnight `LIFETIME_DAYS` days after the server
clock's day at creation. Fields, confirmed in the official Python SDK (`polymarket-client`, repo
Polymarket/py-sdk, `models/gamma/market.py`, `actions/gamma.py`) and the docs' market schema: `id`
(string), `question`, `conditionId`, `slug`, `outcomes`/`outcomePrices`/`clobTokenIds` as
JSON-encoded string arrays, `active`, `closed`, `archived`, `acceptingOrders`, `enableOrderBook`,
`negRisk`, `negRiskMarketID`, `questionID`, `startDate`, `endDate`, `endDateIso`, `secondsDelay`,
`orderPriceMinTickSize`, `orderMinSize`, `rewardsMinSize`, `rewardsMaxSpread`, `bestBid`, `bestAsk`,
`spread`, `lastTradePrice` (JSON numbers), `clobRewards[]` (`id`, `conditionId`, `assetAddress`,
`rewardsAmount`, `rewardsDailyRate`, `startDate`, `endDate`). Third-party only: `rewardsMaxSpread` in
cents. [UNVERIFIED]: without `closed` both open and closed markets are listed (reports disagree on
the venue's default); the default and largest `limit` (100, 500); error bodies (`{"error": ...}`, 404
for an unknown id, 422 for a bad `limit`/`offset`/`closed`); `endDateIso` as the date part. Not served:
`/events`, `/markets/slug/{slug}`, the keyset listing `/markets/keyset` the official SDK pages with,
volumes and liquidity.

Admin (tests, rehearsals): `fund`, `set_allowance`, `set_approval`, `resolve`, `set_tick_size`,
`set_end_date`, `set_gamma_override` (Gamma serves given fields instead of the market's: an indexer
that disagrees with the CLOB), `link_funder` as methods and under `POST /sim/...`.

Deviations from the venue (documented, deliberate):
- every new address starts with `default_collateral` pUSD and all V2 approvals (unlimited);
- trades settle at once: REST shows them CONFIRMED with a synthetic transaction hash; the user
  channel sends MATCHED then CONFIRMED;
- resolution redeems automatically (on chain it takes `redeemPositions`);
- POLY_1271 (signature type 3) orders are refused; for POLY_PROXY/POLY_GNOSIS_SAFE the maker (funder)
  is accepted as signed and linked to the signer (the venue derives the proxy address);
- no fees (`/fee-rate` is 0), no matching delay, no self-trade prevention, L1/L2 timestamps are not
  checked for age, throttling answers 429 at once (Cloudflare first queues);
- reward scoring uses the plain midpoint (the venue's size-cutoff-adjusted midpoint is unpublished);
- unverified shapes, chosen from third-party recordings: the subscribe snapshot is one JSON array of
  `book` events; `/data/order` statuses are LIVE/MATCHED/CANCELED and sizes decimal share strings;
  a failed item of `POST /orders` carries `success: false` and `errorMsg`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import hmac
import itertools
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from trader.clock import Clock
from trader.sim import matching
from trader.sim.faults import Faults
from trader.sim.market import _poisson
from trader.sim.server import VenueServer

CHAIN_ID = 137
SCALE = 10_000  # price units per 1 pUSD
UNIT = 1_000_000  # micro-units per pUSD or per share
MAX_UINT256 = 2**256 - 1

COLLATERAL = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"  # pUSD
CTF = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"  # Conditional Tokens (ERC-1155)
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"  # CTF Exchange V2
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"  # Neg Risk CTF Exchange V2
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
SPENDERS = (EXCHANGE, NEG_RISK_EXCHANGE, NEG_RISK_ADAPTER)

ORDER_PATHS = ("POST /order", "DELETE /order", "DELETE /cancel-all", "DELETE /cancel-market-orders")
START_CURSOR, END_CURSOR = "MA==", "LTE="
ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
MAX_BATCH = 15
AMPLE = 10_000_000 * UNIT  # a background participant's pUSD and shares of each token (topped up at half)
TAPE = 10_000  # public prints kept in `PolymarketSimServer.tape`
GTD_THRESHOLD_S = 60  # the venue's one-minute security threshold on GTD expirations
GAMMA_ID_BASE = 600_001  # Gamma ids of the simulator's markets: this, then counting up
GAMMA_LIMIT, GAMMA_MAX_LIMIT = 100, 500  # Gamma `/markets` page size: default and largest [UNVERIFIED]
LIFETIME_DAYS = 30  # a market without an end date ends at the UTC midnight this many days on
DAY_S = 86_400
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"

_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
]
_CLOB_AUTH = [
    {"name": "address", "type": "address"},
    {"name": "timestamp", "type": "string"},
    {"name": "nonce", "type": "uint256"},
    {"name": "message", "type": "string"},
]
_ORDER = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SEL_BALANCE_OF = "70a08231"
_SEL_ALLOWANCE = "dd62ed3e"
_SEL_BALANCE_OF_1155 = "00fdd58e"
_SEL_APPROVED_FOR_ALL = "e985e9c5"

UNAUTHORIZED = "Unauthorized/Invalid api key"
BAD_L1 = "Invalid L1 Request headers"
BAD_PAYLOAD = "Invalid order payload"
NO_BALANCE = "not enough balance / allowance"


class ApiError(Exception):
    """A venue error: answered as `{"error": msg}` with an HTTP status."""

    def __init__(self, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.msg, self.status = msg, status


def fmt(units: int, scale: int) -> str:
    """An exact decimal string without trailing zeros: fmt(600, 10_000) == "0.06"."""
    return f"{(Decimal(units) / scale).normalize():f}"


def to_units(value: Decimal | int | str, scale: int) -> int:
    """Whole pUSD/shares/price as a Decimal-compatible value -> integer units; exact or ValueError."""
    try:
        d = Decimal(value) * scale
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite() or d != d.to_integral_value():
        raise ValueError(f"{value} is finer than 1/{scale}")
    return int(d)


def _key(address: str) -> str:
    return address.lower()


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


@dataclass
class ApiKey:
    key: str
    secret: str = field(repr=False)  # urlsafe base64, as the venue hands it out
    passphrase: str = field(repr=False)
    address: str  # checksummed EOA that signed ClobAuth
    nonce: int
    heartbeat_id: str = ""
    heartbeat_deadline_ms: int = 0  # 0: heartbeats not started


@dataclass
class Wallet:
    collateral: int
    tokens: dict[str, int] = field(default_factory=dict)
    allowance: dict[str, int] = field(default_factory=dict)  # spender (lower) -> pUSD units
    approved: set[str] = field(default_factory=set)  # ERC-1155 operators (lower)


@dataclass(frozen=True)
class BackgroundParams:
    """Other participants' flow on each listed market. Prices are in pUSD (YES space), rates per second of
    simulated time, sizes in whole shares."""

    # the fair YES price starts uniformly in `start` and walks in +-1 tick moves (a standard deviation of
    # `volatility` per sqrt(second)), reflected at `bounds` (and never outside [tick, 1 - tick])
    start: tuple[Decimal, Decimal] = (Decimal("0.50"), Decimal("0.65"))
    bounds: tuple[Decimal, Decimal] = (Decimal("0.05"), Decimal("0.95"))
    volatility: Decimal = Decimal("0.0015")
    # limit orders rest 1 + Exp(mean_distance_ticks) ticks from the fair; each resting order is canceled
    # at `cancel_rate` per second (a mean life of 8 s)
    limit_rate: float = 8.0
    mean_distance_ticks: float = 3.0
    cancel_rate: float = 0.125
    # marketable (FAK) orders trade up to `reach_ticks` through the fair
    market_rate: float = 1.5
    reach_ticks: int = 3
    seed_levels: int = 8  # levels per side of the starting book
    max_limit_shares: int = 50  # limit orders: the market's min_size .. max_limit_shares
    max_market_shares: int = 15  # marketable orders: 1 .. max_market_shares
    participants: int = 4


@dataclass
class Background:
    """One market's background: its seeded random source, fair YES price and participants' resting orders."""

    rng: random.Random
    fair: int  # price units, YES space
    resting: dict[int, Order] = field(default_factory=dict)  # engine id -> order


@dataclass
class Market:
    condition_id: str
    question: str
    slug: str
    yes: str  # token ids (decimal strings)
    no: str
    tick: int  # price units
    min_size: int  # micro-shares
    neg_risk: bool
    rewards_max_spread: int  # price units (the venue quotes cents)
    rewards_min_size: int  # micro-shares
    engine: matching.MatchingEngine
    outcomes: tuple[str, str] = ("Yes", "No")
    gamma_id: str = ""  # Gamma's own (numeric) market id
    created_s: int = 0  # unix seconds: Gamma's startDate
    end_s: int = 0  # unix seconds: Gamma's endDate, the CLOB's end_date_iso (0: none)
    rewards_daily_rate: int = 0  # micro-pUSD per day paid to the market's makers
    closed: bool = False
    winner: str = ""
    last_trade: dict[str, tuple[int, str]] = field(default_factory=dict)  # token -> (price, side)
    published: tuple[dict[int, int], dict[int, int]] = field(default_factory=lambda: ({}, {}))
    background: Background | None = None

    def outcome(self, token: str) -> str:
        return self.outcomes[0] if token == self.yes else self.outcomes[1]

    def other(self, token: str) -> str:
        return self.no if token == self.yes else self.yes

    @property
    def exchange(self) -> str:
        return NEG_RISK_EXCHANGE if self.neg_risk else EXCHANGE


@dataclass
class Order:
    id: str  # the EIP-712 order hash
    key: str  # API key of the owner
    signer: str
    maker: str  # funder: whose balances move
    market: Market
    token: str
    side: str  # BUY | SELL
    order_type: str
    price: int  # limit, price units in the token's own space
    size: int  # micro-shares
    maker_amount: int
    expiration: int
    created_s: int
    post_only: bool
    engine_id: int
    matched: int = 0
    status: str = "LIVE"
    trades: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.size - self.matched

    @property
    def live(self) -> bool:
        return self.status == "LIVE"

    def reserved(self) -> int:
        """What a resting order holds back: pUSD for a buy, shares for a sell."""
        if not self.live:
            return 0
        if self.side == "SELL":
            return self.remaining
        return -(-self.remaining * self.price // SCALE)


@dataclass
class Fill:
    id: str
    market: Market
    taker: Order
    maker: Order
    size: int
    yes_price: int
    time_s: int
    tx: str


@dataclass
class Call:
    """One parsed request, as the handlers see it."""

    query: dict[str, str]
    body: bytes
    match: dict[str, str]
    multi: dict[str, list[str]] = field(default_factory=dict)  # every value of a repeated parameter
    key: ApiKey | None = None
    address: str = ""
    nonce: int = 0

    def json(self, error: str = BAD_PAYLOAD) -> Any:
        try:
            return orjson.loads(self.body) if self.body else None
        except orjson.JSONDecodeError:
            raise ApiError(error) from None

    @property
    def api_key(self) -> ApiKey:
        if self.key is None:
            raise ApiError(UNAUTHORIZED, 401)
        return self.key


class PolymarketSimServer(VenueServer):
    venue = "polymarket"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        default_collateral: Decimal = Decimal(1000),
        heartbeat_timeout_ms: int = 10_000,
        page_size: int = 500,
        rate_limits: dict[str, tuple[int, int]] | None = None,
        background: bool = True,
        background_params: BackgroundParams | None = None,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self.background = background
        self.background_params = background_params or BackgroundParams()
        self.faults = Faults(seed=seed, paths=ORDER_PATHS)
        self.default_collateral = to_units(default_collateral, UNIT)
        self.heartbeat_timeout_ms = heartbeat_timeout_ms
        self.page_size = page_size
        # "METHOD /path" -> (requests, window ms), per API key (per peer when unauthenticated)
        self.rate_limits = (
            rate_limits
            if rate_limits is not None
            else {
                "POST /order": (5000, 10_000),
                "POST /orders": (2000, 10_000),
                "DELETE /order": (5000, 10_000),
                "DELETE /orders": (2000, 10_000),
                "DELETE /cancel-all": (250, 10_000),
                "GET /balance-allowance": (200, 10_000),
                "GET /book": (1500, 10_000),
                "GET /gamma/markets": (300, 10_000),
            }
        )
        # condition id -> Gamma fields served instead of the market's own (an indexer that lags or
        # disagrees with the CLOB, for tests): `set_gamma_override`, `POST /sim/gamma-override`
        self.gamma_overrides: dict[str, dict[str, Any]] = {}
        self._hits: dict[tuple[str, str], list[int]] = {}
        self._secret = hashlib.sha256(f"polymarket-sim/{seed}".encode()).digest()
        self.keys: dict[str, ApiKey] = {}
        self.wallets: dict[str, Wallet] = {}
        self.funders: dict[tuple[str, int], str] = {}  # (EOA lower, signature type) -> funder
        self.orders: dict[str, Order] = {}
        self.fills: dict[str, Fill] = {}
        self._by_engine: dict[int, Order] = {}
        self._engine_ids = itertools.count(1)
        self._fill_ids = itertools.count(1)
        self._market_subs: dict[web.WebSocketResponse, tuple[set[str], bool, asyncio.Queue[str]]] = {}
        self._user_subs: dict[web.WebSocketResponse, tuple[str, set[str], asyncio.Queue[str]]] = {}
        self.markets: dict[str, Market] = {}
        self.tokens: dict[str, Market] = {}
        self.tape: collections.deque[Fill] = collections.deque(maxlen=TAPE)  # every print, newest last
        # the background's participants: (address, owner id); the owner ids are not API keys
        self.participants: list[tuple[str, str]] = []
        for i in range(self.background_params.participants if background else 0):
            h = self._hash("participant", str(i))
            address = to_checksum_address("0x" + keccak(h)[-20:].hex())
            self.participants.append((address, str(uuid.UUID(bytes=h[:16], version=4))))
            self.wallet(address).collateral = AMPLE
        self._background_keys = {k for _, k in self.participants}
        for i, (question, tick, neg_risk) in enumerate(
            (
                ("Will the simulator's coin land heads?", "0.01", False),
                ("Will the simulated rate be above 4.000%?", "0.001", False),
                ("Will candidate A win the simulated election?", "0.01", True),
            )
        ):
            self.add_market(question, tick=Decimal(tick), neg_risk=neg_risk, slug=f"sim-market-{i}")

    # ---- setup and admin ---------------------------------------------------------------------------

    def _hash(self, *parts: str) -> bytes:
        return hmac.new(self._secret, "/".join(parts).encode(), hashlib.sha256).digest()

    def add_market(
        self,
        question: str,
        *,
        tick: Decimal = Decimal("0.01"),
        min_size: Decimal = Decimal(5),
        neg_risk: bool = False,
        slug: str = "",
        rewards_max_spread: Decimal = Decimal("0.035"),
        rewards_min_size: Decimal = Decimal(20),
        rewards_daily_rate: Decimal = Decimal(100),
        end_date: datetime | None = None,
        background: bool | None = None,
    ) -> Market:
        """A new binary market; with a background market (default: the server's `background`) when the
        server has participants. Without `end_date` it ends at the UTC midnight `LIFETIME_DAYS` days from
        the server clock's day."""
        condition_id = "0x" + keccak(self._hash("condition", question)).hex()
        now_s = self.clock.now_ns() // 1_000_000_000
        end_s = (now_s // DAY_S + LIFETIME_DAYS + 1) * DAY_S if end_date is None else _unix_s(end_date)
        yes, no = (str(int.from_bytes(keccak(self._hash("token", condition_id, o)), "big")) for o in "YN")
        m = Market(
            condition_id=condition_id,
            question=question,
            slug=slug or condition_id[2:14],
            yes=yes,
            no=no,
            tick=to_units(tick, SCALE),
            min_size=to_units(min_size, UNIT),
            neg_risk=neg_risk,
            rewards_max_spread=to_units(rewards_max_spread, SCALE),
            rewards_min_size=to_units(rewards_min_size, UNIT),
            engine=matching.MatchingEngine(
                maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=Decimal(1)
            ),
            gamma_id=str(GAMMA_ID_BASE + len(self.markets)),
            created_s=now_s,
            end_s=end_s,
            rewards_daily_rate=to_units(rewards_daily_rate, UNIT),
        )
        self.markets[condition_id] = m
        self.tokens[yes] = self.tokens[no] = m
        if (self.background if background is None else background) and self.participants:
            self._start_background(m)
        return m

    def wallet(self, address: str) -> Wallet:
        w = self.wallets.get(_key(address))
        if w is None:
            w = self.wallets[_key(address)] = Wallet(
                self.default_collateral,
                allowance={_key(s): MAX_UINT256 for s in SPENDERS},
                approved={_key(s) for s in SPENDERS},
            )
        return w

    def fund(
        self,
        address: str,
        *,
        collateral: Decimal | int | None = None,
        tokens: dict[str, Decimal | int] | None = None,
    ) -> Wallet:
        """Set (not add) a wallet's pUSD and outcome-token balances, in whole pUSD/shares."""
        w = self.wallet(address)
        if collateral is not None:
            w.collateral = to_units(collateral, UNIT)
        for token, shares in (tokens or {}).items():
            if token not in self.tokens:
                raise ValueError(f"unknown token {token}")
            w.tokens[token] = to_units(shares, UNIT)
        return w

    def set_allowance(self, address: str, spender: str, amount: Decimal | int) -> None:
        self.wallet(address).allowance[_key(spender)] = (
            MAX_UINT256 if amount == MAX_UINT256 else to_units(amount, UNIT)
        )

    def set_approval(self, address: str, operator: str, approved: bool) -> None:
        ops = self.wallet(address).approved
        (ops.add if approved else ops.discard)(_key(operator))

    def link_funder(self, eoa: str, funder: str, signature_type: int) -> None:
        """The proxy (1) or Safe (2) wallet the venue would derive for `eoa`."""
        self.funders[(_key(eoa), signature_type)] = funder

    def resolve(self, condition_id: str, winner: str) -> None:
        """Close a market: cancel its orders; every winning share pays 1 pUSD, losing shares nothing.
        `winner` is a token id or an outcome name."""
        m = self.markets[condition_id]
        if m.closed:
            raise ValueError("market already resolved")
        win = {m.yes: m.yes, m.no: m.no, m.outcomes[0]: m.yes, m.outcomes[1]: m.no}.get(winner)
        if win is None:
            raise ValueError(f"{winner!r} is not an outcome of {condition_id}")
        for o in [o for o in self.orders.values() if o.market is m and o.live]:
            self._cancel(o, "CANCELED_MARKET_RESOLVED")
        if m.background is not None:
            for o in m.background.resting.values():
                if o.live:
                    self._cancel(o, "CANCELED_MARKET_RESOLVED")
            m.background.resting.clear()
        m.closed, m.winner = True, win
        for w in self.wallets.values():
            w.collateral += w.tokens.pop(win, 0)
            w.tokens.pop(m.other(win), None)
        self._publish_market(m)
        event = {
            "event_type": "market_resolved",
            "market": m.condition_id,
            "assets_ids": [m.yes, m.no],
            "winning_asset_id": win,
            "winning_outcome": m.outcome(win),
            "timestamp": str(self.now_ms()),
        }
        for queue in self._market_queues({m.yes, m.no}, custom=True):
            queue.put_nowait(orjson.dumps(event).decode())

    def set_tick_size(self, condition_id: str, tick: Decimal) -> None:
        m = self.markets[condition_id]
        old, m.tick = m.tick, to_units(tick, SCALE)
        now = str(self.now_ms())
        for token in (m.yes, m.no):
            event = {
                "event_type": "tick_size_change",
                "asset_id": token,
                "market": m.condition_id,
                "old_tick_size": fmt(old, SCALE),
                "new_tick_size": fmt(m.tick, SCALE),
                "timestamp": now,
            }
            for queue in self._market_queues({token}):
                queue.put_nowait(orjson.dumps(event).decode())

    def set_end_date(self, condition_id: str, end: datetime) -> None:
        """Move a market's end date (Gamma `endDate`, CLOB `end_date_iso`); it does not resolve it."""
        self.markets[condition_id].end_s = _unix_s(end)

    def set_gamma_override(self, condition_id: str, fields: dict[str, Any]) -> None:
        """Serve these Gamma fields for the market instead of its own (merged over the last override);
        an empty dict clears it. The CLOB keeps the market's real state: the two disagree."""
        if condition_id not in self.markets:
            raise ValueError(f"unknown market {condition_id}")
        if fields:
            self.gamma_overrides[condition_id] = {**self.gamma_overrides.get(condition_id, {}), **fields}
        else:
            self.gamma_overrides.pop(condition_id, None)

    # ---- helpers -----------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def _market_for(self, call: Call, name: str = "token_id") -> tuple[Market, str]:
        token = call.query.get(name, "")
        if not token:
            raise ApiError("Invalid token id")
        m = self.tokens.get(token)
        if m is None:
            raise ApiError("market not found", 404)
        return m, token

    def _levels(self, m: Market, token: str) -> tuple[dict[int, int], dict[int, int]]:
        """Bids and asks of `token` (price units -> micro-shares), the NO book mirrored from YES."""
        bids, asks = (dict(side) for side in m.engine.depth(1_000_000))
        if token == m.yes:
            return bids, asks
        return {SCALE - p: q for p, q in asks.items()}, {SCALE - p: q for p, q in bids.items()}

    def _book(self, m: Market, token: str) -> dict[str, Any]:
        bids, asks = self._levels(m, token)
        last = m.last_trade.get(token)
        book: dict[str, Any] = {
            "market": m.condition_id,
            "asset_id": token,
            "timestamp": str(self.now_ms()),
            "hash": "",
            # best level LAST on both sides, as the venue (and the SDK's market-price walk) has it
            "bids": [{"price": fmt(p, SCALE), "size": fmt(bids[p], UNIT)} for p in sorted(bids)],
            "asks": [
                {"price": fmt(p, SCALE), "size": fmt(asks[p], UNIT)} for p in sorted(asks, reverse=True)
            ],
            "min_order_size": fmt(m.min_size, UNIT),
            "tick_size": fmt(m.tick, SCALE),
            "neg_risk": m.neg_risk,
            "last_trade_price": fmt(last[0], SCALE) if last else "",
        }
        # the SDK's generate_orderbook_summary_hash: SHA-1 of this compact JSON with hash ""
        book["hash"] = hashlib.sha1(  # noqa: S324 - the venue's checksum, not a security use
            json.dumps(book, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
        return book

    def _market_json(self, m: Market) -> dict[str, Any]:
        return {
            "enable_order_book": True,
            "active": not m.closed,
            "closed": m.closed,
            "archived": False,
            "accepting_orders": not m.closed,
            "minimum_order_size": orjson.Fragment(fmt(m.min_size, UNIT).encode()),
            "minimum_tick_size": orjson.Fragment(fmt(m.tick, SCALE).encode()),
            "condition_id": m.condition_id,
            "question_id": "0x" + keccak(text=m.question).hex(),
            "question": m.question,
            "description": "A market of the loopback simulator.",
            "market_slug": m.slug,
            "end_date_iso": _iso(m.end_s) if m.end_s else None,
            "game_start_time": None,
            "seconds_delay": 0,
            "maker_base_fee": 0,
            "taker_base_fee": 0,
            "neg_risk": m.neg_risk,
            "neg_risk_market_id": ("0x" + keccak(text="event/" + m.slug).hex()) if m.neg_risk else "",
            "is_50_50_outcome": False,
            "rewards": {
                "rates": [
                    {
                        "asset_address": COLLATERAL,
                        "rewards_daily_rate": orjson.Fragment(fmt(m.rewards_daily_rate, UNIT).encode()),
                    }
                ]
                if m.rewards_daily_rate
                else None,
                "min_size": orjson.Fragment(fmt(m.rewards_min_size, UNIT).encode()),
                "max_spread": orjson.Fragment(fmt(m.rewards_max_spread * 100, SCALE).encode()),
            },
            "tokens": [
                {
                    "token_id": t,
                    "outcome": m.outcome(t),
                    "price": orjson.Fragment(self._mark(m, t).encode()),
                    "winner": m.winner == t,
                }
                for t in (m.yes, m.no)
            ],
            "tags": ["simulator"],
        }

    def _gamma_json(self, m: Market) -> dict[str, Any]:
        """A market as Gamma shows it (camelCase; `outcomes`, `outcomePrices` and `clobTokenIds` are
        JSON-encoded strings; prices, sizes and the reward settings JSON numbers), with any override."""

        def num(units: int, scale: int) -> orjson.Fragment:
            return orjson.Fragment(fmt(units, scale).encode())

        bids, asks = self._levels(m, m.yes)
        last = m.last_trade.get(m.yes)
        created = _iso(m.created_s, millis=True)
        out: dict[str, Any] = {
            "id": m.gamma_id,
            "question": m.question,
            "conditionId": m.condition_id,
            "slug": m.slug,
            "resolutionSource": "",
            "endDate": _iso(m.end_s) if m.end_s else None,
            "startDate": created,
            "description": "A market of the loopback simulator.",
            "outcomes": json.dumps(list(m.outcomes)),
            "outcomePrices": json.dumps([self._mark(m, t) for t in (m.yes, m.no)]),
            "active": not m.closed,
            "closed": m.closed,
            "archived": False,
            "restricted": False,
            "questionID": "0x" + keccak(text=m.question).hex(),
            "enableOrderBook": True,
            "orderPriceMinTickSize": num(m.tick, SCALE),
            "orderMinSize": num(m.min_size, UNIT),
            "endDateIso": _iso(m.end_s)[:10] if m.end_s else None,
            "startDateIso": created[:10],
            "secondsDelay": 0,
            "clobTokenIds": json.dumps([m.yes, m.no]),
            "acceptingOrders": not m.closed,
            "negRisk": m.neg_risk,
            **({"negRiskMarketID": "0x" + keccak(text="event/" + m.slug).hex()} if m.neg_risk else {}),
            "feesEnabled": False,
            "rewardsMinSize": num(m.rewards_min_size, UNIT),
            "rewardsMaxSpread": num(m.rewards_max_spread * 100, SCALE),  # cents
            "clobRewards": [
                {
                    "id": str(int(m.gamma_id) * 10),
                    "conditionId": m.condition_id,
                    "assetAddress": COLLATERAL,
                    "rewardsAmount": 0,
                    "rewardsDailyRate": num(m.rewards_daily_rate, UNIT),
                    "startDate": created[:10],
                    "endDate": _iso(m.end_s)[:10] if m.end_s else None,
                }
            ]
            if m.rewards_daily_rate
            else [],
            "bestBid": num(max(bids), SCALE) if bids else None,
            "bestAsk": num(min(asks), SCALE) if asks else None,
            "spread": num(min(asks) - max(bids), SCALE) if bids and asks else None,
            "lastTradePrice": num(last[0], SCALE) if last else 0,
            "createdAt": created,
        }
        out.update(self.gamma_overrides.get(m.condition_id, {}))
        return out

    def _mark(self, m: Market, token: str) -> str:
        if m.closed:
            return "1" if m.winner == token else "0"
        mid = self._mid(m, token)
        return fmt(mid, SCALE * 2) if mid is not None else "0.5"

    def _mid(self, m: Market, token: str) -> int | None:
        """Twice the midpoint, in price units (exact), or None without a two-sided book."""
        bids, asks = self._levels(m, token)
        if not bids or not asks:
            return None
        return max(bids) + min(asks)

    def _page(self, items: list[dict[str, Any]], cursor: str, error: str) -> dict[str, Any]:
        try:
            start = int(base64.b64decode(cursor or START_CURSOR, validate=True).decode())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(error) from None
        if start < 0:
            return {"limit": self.page_size, "count": 0, "next_cursor": END_CURSOR, "data": []}
        page = items[start : start + self.page_size]
        end = start + len(page)
        nxt = base64.b64encode(str(end).encode()).decode() if end < len(items) else END_CURSOR
        return {"limit": self.page_size, "count": len(page), "next_cursor": nxt, "data": page}

    # ---- auth, throttling --------------------------------------------------------------------------

    def _derive(self, address: str, nonce: int) -> ApiKey:
        h = self._hash("api-key", _key(address), str(nonce))
        return ApiKey(
            key=str(uuid.UUID(bytes=h[:16], version=4)),
            secret=base64.urlsafe_b64encode(self._hash("secret", h.hex())).decode(),
            passphrase=self._hash("passphrase", h.hex()).hex(),
            address=address,
            nonce=nonce,
        )

    def _l1(self, request: web.Request, call: Call) -> None:
        h = request.headers
        address, sig, ts = h.get("POLY_ADDRESS", ""), h.get("POLY_SIGNATURE", ""), h.get("POLY_TIMESTAMP", "")
        try:
            nonce = int(h.get("POLY_NONCE", "0"))
            if not _ADDRESS.match(address) or not ts or nonce < 0:
                raise ValueError("missing L1 header")
            message = encode_typed_data(
                full_message={
                    "types": {"EIP712Domain": _DOMAIN, "ClobAuth": _CLOB_AUTH},
                    "primaryType": "ClobAuth",
                    "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": CHAIN_ID},
                    "message": {
                        "address": address,
                        "timestamp": ts,
                        "nonce": nonce,
                        "message": CLOB_AUTH_MESSAGE,
                    },
                }
            )
            signer = Account.recover_message(message, signature=bytes.fromhex(sig.removeprefix("0x")))
        except Exception:  # any malformed header or signature is the same answer
            raise ApiError(BAD_L1, 401) from None
        if _key(signer) != _key(address):
            raise ApiError(BAD_L1, 401)
        call.address, call.nonce = signer, nonce

    def _l2(self, request: web.Request, call: Call) -> None:
        h = request.headers
        key = self.keys.get(h.get("POLY_API_KEY", ""))
        if key is None or not hmac.compare_digest(h.get("POLY_PASSPHRASE", ""), key.passphrase):
            raise ApiError(UNAUTHORIZED, 401)
        if _key(h.get("POLY_ADDRESS", "")) != _key(key.address):
            raise ApiError(UNAUTHORIZED, 401)
        path = request.raw_path.partition("?")[0]  # the signature covers the path, never the query
        payload = h.get("POLY_TIMESTAMP", "").encode() + request.method.encode() + path.encode() + call.body
        good = base64.urlsafe_b64encode(
            hmac.new(base64.urlsafe_b64decode(key.secret), payload, hashlib.sha256).digest()
        ).decode()
        if not h.get("POLY_TIMESTAMP") or not hmac.compare_digest(good, h.get("POLY_SIGNATURE", "")):
            raise ApiError(UNAUTHORIZED, 401)
        call.key, call.address = key, key.address

    def _throttle(self, request: web.Request, call: Call) -> None:
        route = f"{request.method} {request.path}"
        limit = self.rate_limits.get(route)
        if limit is None:
            return
        who = call.key.key if call.key else (request.remote or "")
        now = self.now_ms()
        hits = [t for t in self._hits.get((route, who), []) if t > now - limit[1]]
        if len(hits) >= limit[0]:
            self._hits[(route, who)] = hits
            raise ApiError("Too Many Requests", 429)
        hits.append(now)
        self._hits[(route, who)] = hits

    # ---- routes ------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, fn: Callable[[Call], Any], auth: str = "") -> web.RouteDef:
        async def handler(request: web.Request) -> web.StreamResponse:
            q = request.query
            multi = {k: q.getall(k) for k in q}
            call = Call(dict(q), await request.read(), dict(request.match_info), multi)
            try:
                if auth == "l1":
                    self._l1(request, call)
                elif auth == "l2":
                    self._l2(request, call)
                self._throttle(request, call)
                result = fn(call)
            except ApiError as e:
                return web.Response(
                    body=orjson.dumps({"error": e.msg}), status=e.status, content_type="application/json"
                )
            if isinstance(result, str):
                return web.Response(text=result)
            return web.Response(body=orjson.dumps(result), content_type="application/json")

        return web.route(method, path, handler)

    def routes(self) -> list[web.RouteDef]:
        r = self._route
        return [
            r("GET", "/", lambda c: "OK"),
            r("GET", "/ok", lambda c: "OK"),
            r("GET", "/time", lambda c: self.now_ms() // 1000),
            r("GET", "/version", lambda c: {"version": 2}),
            r("POST", "/auth/api-key", self.create_api_key, "l1"),
            r("GET", "/auth/derive-api-key", self.derive_api_key, "l1"),
            r("GET", "/auth/api-keys", self.api_keys, "l2"),
            r("DELETE", "/auth/api-key", self.delete_api_key, "l2"),
            r("GET", "/auth/ban-status/closed-only", lambda c: {"closed_only": False}, "l2"),
            r("GET", "/markets", self.get_markets),
            r("GET", "/markets/{condition_id}", self.get_market),
            r("GET", "/clob-markets/{condition_id}", self.clob_market),
            r("GET", "/markets-by-token/{token_id}", self.market_by_token),
            r("GET", "/book", self.get_book),
            r("POST", "/books", self.get_books),
            r("GET", "/tick-size", self.tick_size),
            r("GET", "/neg-risk", self.neg_risk),
            r("GET", "/fee-rate", self.fee_rate),
            r("GET", "/midpoint", self.midpoint),
            r("GET", "/spread", self.spread),
            r("GET", "/last-trade-price", self.last_trade_price),
            r("POST", "/order", self.post_order, "l2"),
            r("POST", "/orders", self.post_orders, "l2"),
            r("DELETE", "/order", self.cancel_order, "l2"),
            r("DELETE", "/orders", self.cancel_orders, "l2"),
            r("DELETE", "/cancel-all", self.cancel_all, "l2"),
            r("DELETE", "/cancel-market-orders", self.cancel_market_orders, "l2"),
            r("GET", "/data/order/{order_id}", self.get_order, "l2"),
            r("GET", "/data/orders", self.get_orders, "l2"),
            r("GET", "/data/trades", self.get_trades, "l2"),
            r("GET", "/balance-allowance", self.balance_allowance, "l2"),
            r("GET", "/balance-allowance/update", self.balance_allowance, "l2"),
            r("GET", "/order-scoring", self.order_scoring, "l2"),
            r("POST", "/orders-scoring", self.orders_scoring, "l2"),
            r("POST", "/v1/heartbeats", self.heartbeat, "l2"),
            r("POST", "/heartbeats", self.heartbeat, "l2"),
            r("GET", "/gamma/markets", self.gamma_markets),
            r("GET", "/gamma/markets/{id}", self.gamma_market),
            r("POST", "/rpc", self.rpc),
            r("POST", "/sim/fund", self._admin_fund),
            r("POST", "/sim/resolve", self._admin_resolve),
            r("POST", "/sim/tick-size", self._admin_tick_size),
            r("POST", "/sim/end-date", self._admin_end_date),
            r("POST", "/sim/gamma-override", self._admin_gamma_override),
            web.get("/ws/market", self.market_ws),
            web.get("/ws/user", self.user_ws),
        ]

    # ---- keys --------------------------------------------------------------------------------------

    def create_api_key(self, call: Call) -> dict[str, str]:
        k = self._derive(call.address, call.nonce)
        if k.key in self.keys:
            raise ApiError("Could not create api key")
        self.keys[k.key] = k
        return {"apiKey": k.key, "secret": k.secret, "passphrase": k.passphrase}

    def derive_api_key(self, call: Call) -> dict[str, str]:
        k = self.keys.get(self._derive(call.address, call.nonce).key)
        if k is None:
            raise ApiError("Could not derive api key!")
        return {"apiKey": k.key, "secret": k.secret, "passphrase": k.passphrase}

    def api_keys(self, call: Call) -> dict[str, list[str]]:
        mine = _key(call.api_key.address)
        return {"apiKeys": [k.key for k in self.keys.values() if _key(k.address) == mine]}

    def delete_api_key(self, call: Call) -> str:
        self.keys.pop(call.api_key.key, None)
        return "OK"

    # ---- public market data ------------------------------------------------------------------------

    def get_markets(self, call: Call) -> dict[str, Any]:
        items = [self._market_json(m) for m in self.markets.values()]
        return self._page(items, call.query.get("next_cursor", ""), "Invalid next_cursor")

    def get_market(self, call: Call) -> dict[str, Any]:
        m = self.markets.get(call.match["condition_id"])
        if m is None:
            raise ApiError("market not found", 404)
        return self._market_json(m)

    def clob_market(self, call: Call) -> dict[str, Any]:
        m = self.markets.get(call.match["condition_id"])
        if m is None:
            raise ApiError("market not found", 404)
        return {
            "c": m.condition_id,
            "t": [{"t": t, "o": m.outcome(t)} for t in (m.yes, m.no)],
            "mts": orjson.Fragment(fmt(m.tick, SCALE).encode()),
            "mos": orjson.Fragment(fmt(m.min_size, UNIT).encode()),
            "nr": m.neg_risk,
            "fd": {"r": 0, "e": 0},  # no fees in the simulator
        }

    def market_by_token(self, call: Call) -> dict[str, Any]:
        m = self.tokens.get(call.match["token_id"])
        if m is None:
            raise ApiError("market not found", 404)
        return {"condition_id": m.condition_id}

    # ---- Gamma (market metadata; the real one is another host: here under /gamma) -----------------

    def gamma_markets(self, call: Call) -> list[dict[str, Any]]:
        """`GET /markets`: a JSON array, filtered by `condition_ids`, `clob_token_ids`, `slug`, `id`
        (each repeatable, any of the values) and `closed`, in Gamma id order, then `offset` and `limit`."""
        q, multi = call.query, call.multi
        try:
            limit = int(q.get("limit", GAMMA_LIMIT))
            offset = int(q.get("offset", 0))
        except ValueError:
            raise ApiError("invalid limit or offset", 422) from None
        if not 0 <= limit <= GAMMA_MAX_LIMIT or offset < 0:
            raise ApiError("invalid limit or offset", 422)
        closed = q.get("closed")
        if closed not in (None, "true", "false"):
            raise ApiError("invalid closed", 422)
        wanted = {k: set(multi.get(k, [])) for k in ("condition_ids", "clob_token_ids", "slug", "id")}
        items = [
            self._gamma_json(m)
            for m in sorted(self.markets.values(), key=lambda m: int(m.gamma_id))
            if (not wanted["condition_ids"] or m.condition_id in wanted["condition_ids"])
            and (not wanted["clob_token_ids"] or {m.yes, m.no} & wanted["clob_token_ids"])
            and (not wanted["slug"] or m.slug in wanted["slug"])
            and (not wanted["id"] or m.gamma_id in wanted["id"])
            and (closed is None or m.closed == (closed == "true"))
        ]
        return items[offset : offset + limit]

    def gamma_market(self, call: Call) -> dict[str, Any]:
        """`GET /markets/{id}` by Gamma id."""
        m = next((m for m in self.markets.values() if m.gamma_id == call.match["id"]), None)
        if m is None:
            raise ApiError("id not found", 404)
        return self._gamma_json(m)

    def get_book(self, call: Call) -> dict[str, Any]:
        m, token = self._market_for(call)
        return self._book(m, token)

    def get_books(self, call: Call) -> list[dict[str, Any]]:
        items = call.json("Invalid payload")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ApiError("Invalid payload")
        if len(items) > 500:
            raise ApiError("Payload exceeds the limit")
        out = []
        for item in items:
            m = self.tokens.get(str(item.get("token_id", "")))
            if m is None:
                raise ApiError("Invalid payload")
            out.append(self._book(m, str(item["token_id"])))
        return out

    def tick_size(self, call: Call) -> dict[str, Any]:
        m, _ = self._market_for(call)
        return {"minimum_tick_size": orjson.Fragment(fmt(m.tick, SCALE).encode())}

    def neg_risk(self, call: Call) -> dict[str, Any]:
        m, _ = self._market_for(call)
        return {"neg_risk": m.neg_risk}

    def fee_rate(self, call: Call) -> dict[str, Any]:
        self._market_for(call)
        return {"base_fee": 0}

    def midpoint(self, call: Call) -> dict[str, Any]:
        m, token = self._market_for(call)
        mid = self._mid(m, token)
        if mid is None:
            raise ApiError("No orderbook exists for the requested token id", 404)
        return {"mid": fmt(mid, 2 * SCALE)}

    def spread(self, call: Call) -> dict[str, Any]:
        m, token = self._market_for(call)
        bids, asks = self._levels(m, token)
        if not bids or not asks:
            raise ApiError("No orderbook exists for the requested token id", 404)
        return {"spread": fmt(min(asks) - max(bids), SCALE)}

    def last_trade_price(self, call: Call) -> dict[str, Any]:
        m, token = self._market_for(call)
        last = m.last_trade.get(token)
        return {"price": fmt(last[0], SCALE) if last else "0.5", "side": last[1] if last else ""}

    # ---- orders ------------------------------------------------------------------------------------

    def _parse(self, item: Any, key: ApiKey) -> Order:
        """Validate one `{order, owner, orderType, postOnly}` up to (not including) balances and matching."""
        if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
            raise ApiError(BAD_PAYLOAD)
        o = item["order"]
        if "timestamp" not in o and any(f in o for f in ("taker", "nonce", "feeRateBps")):
            raise ApiError("order_version_mismatch")
        try:
            maker, signer, token = str(o["maker"]), str(o["signer"]), str(o["tokenId"])
            side, sig_type, order_type = o["side"], int(o["signatureType"]), item.get("orderType", "GTC")
            maker_amount, taker_amount = int(o["makerAmount"]), int(o["takerAmount"])
            expiration = int(o.get("expiration") or 0)
            post_only = item.get("postOnly", False)
            metadata = bytes.fromhex(str(o["metadata"]).removeprefix("0x"))
            builder = bytes.fromhex(str(o["builder"]).removeprefix("0x"))
            message: dict[str, Any] = {
                "salt": int(o["salt"]),
                "maker": maker,
                "signer": signer,
                "tokenId": int(token),
                "makerAmount": maker_amount,
                "takerAmount": taker_amount,
                "side": ("BUY", "SELL").index(side),
                "signatureType": sig_type,
                "timestamp": int(o["timestamp"]),
                "metadata": metadata,
                "builder": builder,
            }
            signature = bytes.fromhex(str(o["signature"]).removeprefix("0x"))
        except (KeyError, ValueError, TypeError):
            raise ApiError(BAD_PAYLOAD) from None
        if (
            not _ADDRESS.match(maker)
            or not _ADDRESS.match(signer)
            or order_type not in ORDER_TYPES
            or not isinstance(post_only, bool)
            or maker_amount <= 0
            or taker_amount <= 0
            or len(metadata) != 32
            or len(builder) != 32
            or sig_type not in (0, 1, 2, 3)
        ):
            raise ApiError(BAD_PAYLOAD)
        if item.get("owner") != key.key:
            raise ApiError("the order owner has to be the owner of the API KEY")
        if _key(signer) != _key(key.address):
            raise ApiError("the order signer address has to be the address of the API KEY")
        m = self.tokens.get(token)
        if m is None:
            raise ApiError(BAD_PAYLOAD)
        typed = encode_typed_data(
            full_message={
                "types": {
                    "EIP712Domain": [*_DOMAIN, {"name": "verifyingContract", "type": "address"}],
                    "Order": _ORDER,
                },
                "primaryType": "Order",
                "domain": {
                    "name": "Polymarket CTF Exchange",
                    "version": "2",
                    "chainId": CHAIN_ID,
                    "verifyingContract": m.exchange,
                },
                "message": message,
            }
        )
        order_id = "0x" + _digest(typed).hex()
        try:
            recovered = Account.recover_message(typed, signature=signature)
        except Exception:  # malformed signature bytes: the same answer as a wrong signer
            recovered = ""
        if (
            sig_type == 3
            or _key(recovered) != _key(signer)
            or (sig_type == 0 and _key(maker) != _key(signer))
        ):
            raise ApiError("invalid signature")
        if m.closed:
            raise ApiError("the market is not yet ready to process new orders")
        size, cash = (taker_amount, maker_amount) if side == "BUY" else (maker_amount, taker_amount)
        limit = order_type in ("GTC", "GTD")
        if limit:
            price = cash * SCALE // size if cash * SCALE % size == 0 else -1
        elif side == "BUY":
            price = cash * SCALE // size  # the most it may pay
        else:
            price = -(-cash * SCALE // size)  # the least it may take
        if (limit and (price < 0 or price % m.tick)) or not m.tick <= price <= SCALE - m.tick:
            shown = Decimal(cash) / Decimal(size)
            raise ApiError(
                f"order {order_id} is invalid. Price ({shown.normalize():f}) breaks minimum tick size rule: "
                f"{fmt(m.tick, SCALE)}"
            )
        if limit and size < m.min_size:
            raise ApiError(
                f"order {order_id} is invalid. Size ({fmt(size, UNIT)}) lower than the minimum: "
                f"{fmt(m.min_size, UNIT)}"
            )
        if order_id in self.orders:
            raise ApiError(f"order {order_id} is invalid. Duplicated.")
        now_s = self.now_ms() // 1000
        if (order_type == "GTD") != (expiration != 0) or (
            order_type == "GTD" and expiration <= now_s + GTD_THRESHOLD_S
        ):
            raise ApiError("invalid expiration")
        if post_only and not limit:
            raise ApiError("invalid post-only order: only GTC and GTD order types are allowed")
        if sig_type in (1, 2):
            self.link_funder(signer, maker, sig_type)
        return Order(
            id=order_id,
            key=key.key,
            signer=signer,
            maker=maker,
            market=m,
            token=token,
            side=side,
            order_type=order_type,
            price=price,
            size=size,
            maker_amount=maker_amount,
            expiration=expiration,
            created_s=now_s,
            post_only=post_only,
            engine_id=next(self._engine_ids),
        )

    def _check_funds(self, o: Order) -> None:
        w = self.wallet(o.maker)
        mine = [x for x in self.orders.values() if x.live and _key(x.maker) == _key(o.maker)]
        if o.side == "BUY":
            held = sum(x.reserved() for x in mine if x.side == "BUY")
            allowed = w.allowance.get(_key(o.market.exchange), 0)
            if w.collateral - held < o.maker_amount or allowed < o.maker_amount:
                raise ApiError(NO_BALANCE)
        else:
            held = sum(x.reserved() for x in mine if x.side == "SELL" and x.token == o.token)
            if w.tokens.get(o.token, 0) - held < o.size or _key(o.market.exchange) not in w.approved:
                raise ApiError(NO_BALANCE)

    @staticmethod
    def _cost(m: Market, token: str, shares: int, price: int) -> int:
        """What `shares` cost at `price` (own token space), rounded exactly as `_cash` settles them."""
        if token == m.yes:
            return shares * price // SCALE
        return shares - shares * (SCALE - price) // SCALE

    def _market_buy_shares(self, o: Order) -> tuple[int, bool]:
        """A market BUY spends its whole makerAmount (pUSD) on the asks up to its price: the shares
        that buys, and whether the money ran out before the crossing asks did."""
        m, cash, shares = o.market, o.maker_amount, 0
        _, asks = self._levels(m, o.token)
        for p in sorted(asks):
            if p > o.price or not cash:
                break
            q = min(asks[p], cash * SCALE // p)
            while q and self._cost(m, o.token, q, p) > cash:
                q -= 1
            shares += q
            cash -= self._cost(m, o.token, q, p)
            if q < asks[p]:
                return shares, True
        return shares, cash == 0

    def _submit(self, item: Any, key: ApiKey) -> dict[str, Any]:
        o = self._parse(item, key)
        self._check_funds(o)
        m = o.market
        if o.side == "BUY" and o.order_type in ("FOK", "FAK"):
            shares, spent_all = self._market_buy_shares(o)
            if o.order_type == "FOK" and not spent_all:
                raise ApiError("order couldn't be fully filled. FOK orders are fully filled or killed.")
            o.size = max(shares, 1)  # nothing crossing: the engine finds no match either
        yes = o.token == m.yes
        buy_yes_space = (o.side == "BUY") == yes
        tif = {"FOK": matching.Tif.FOK, "FAK": matching.Tif.IOC}.get(o.order_type, matching.Tif.GTC)
        sim = matching.SimOrder(
            o.engine_id,
            o.key,
            matching.Side.BUY if buy_yes_space else matching.Side.SELL,
            o.price if yes else SCALE - o.price,
            o.size,
            tif,
            post_only=o.post_only,
        )
        result = m.engine.submit(sim)
        if not result.accepted:
            if o.post_only:
                raise ApiError("invalid post-only order: order crosses book")
            raise ApiError("order couldn't be fully filled. FOK orders are fully filled or killed.")
        if o.order_type == "FAK" and not result.trades:
            raise ApiError(
                "no orders found to match with FAK order. "
                "FAK orders are partially filled or killed if no match is found."
            )
        self.orders[o.id] = o
        self._by_engine[o.engine_id] = o
        if result.resting:
            self._user_order(o, "PLACEMENT")
        fills = [self._settle(m, t) for t in result.trades]
        if not result.resting:
            o.status = "MATCHED" if o.matched else "CANCELED"  # a FAK's unfilled rest is dropped
            self._by_engine.pop(o.engine_id, None)
        self._publish_market(m, fills)
        making = sum(self._cash(f, o) for f in fills) if o.side == "BUY" else o.matched
        taking = o.matched if o.side == "BUY" else sum(self._cash(f, o) for f in fills)
        return {
            "success": True,
            "errorMsg": "",
            "orderID": o.id,
            "status": "live" if result.resting and not fills else "matched" if fills else "unmatched",
            "makingAmount": fmt(making, UNIT) if fills else "",
            "takingAmount": fmt(taking, UNIT) if fills else "",
            "transactionsHashes": [f.tx for f in fills],
            "tradeIDs": [f.id for f in fills],
        }

    @staticmethod
    def _cash(f: Fill, o: Order) -> int:
        """The pUSD side of a fill for one of its two orders (mint and merge split 1 pUSD per share)."""
        yes_leg = f.size * f.yes_price // SCALE
        return yes_leg if o.token == f.market.yes else f.size - yes_leg

    def _settle(self, m: Market, t: matching.Trade) -> Fill:
        taker, maker = self._by_engine[t.taker_order_id], self._by_engine[t.maker_order_id]
        now_s = self.now_ms() // 1000
        fid = str(uuid.UUID(bytes=self._hash("trade", str(next(self._fill_ids)))[:16], version=4))
        f = Fill(fid, m, taker, maker, t.qty, t.price, now_s, "0x" + keccak(text=fid).hex())
        for o in (taker, maker):
            w, cash = self.wallet(o.maker), self._cash(f, o)
            if o.side == "BUY":
                w.collateral -= cash
                w.tokens[o.token] = w.tokens.get(o.token, 0) + t.qty
                spender = _key(m.exchange)
                if w.allowance.get(spender, 0) != MAX_UINT256:
                    w.allowance[spender] = w.allowance.get(spender, 0) - cash
            else:
                w.tokens[o.token] = w.tokens.get(o.token, 0) - t.qty
                w.collateral += cash
            o.matched += t.qty
            o.trades.append(fid)
        if maker.remaining == 0:
            maker.status = "MATCHED"
            self._by_engine.pop(maker.engine_id, None)
        if not {taker.key, maker.key} <= self._background_keys:  # the venue's records of API keys' trades
            self.fills[fid] = f
        self.tape.append(f)
        yes_side = _yes_side(f)
        m.last_trade[m.yes] = (t.price, yes_side)
        m.last_trade[m.no] = (SCALE - t.price, _flip(yes_side))
        self._user_order(maker, "UPDATE")
        self._user_trade(f)
        return f

    def post_order(self, call: Call) -> dict[str, Any]:
        return self._submit(call.json(), call.api_key)

    def post_orders(self, call: Call) -> list[dict[str, Any]]:
        items = call.json()
        if not isinstance(items, list):
            raise ApiError(BAD_PAYLOAD)
        if len(items) > MAX_BATCH:
            raise ApiError(f"Too many orders in payload: {len(items)}, max allowed: {MAX_BATCH}")
        out = []
        for item in items:
            try:
                out.append(self._submit(item, call.api_key))
            except ApiError as e:
                out.append(
                    {
                        "success": False,
                        "errorMsg": e.msg,
                        "orderID": "",
                        "status": "",
                        "makingAmount": "",
                        "takingAmount": "",
                        "transactionsHashes": [],
                        "tradeIDs": [],
                    }
                )
        return out

    def _cancel(self, o: Order, status: str = "CANCELED") -> None:
        o.market.engine.cancel(o.engine_id)
        self._by_engine.pop(o.engine_id, None)
        o.status = status
        self._user_order(o, "CANCELLATION")

    def _cancel_many(self, key: ApiKey, ids: list[str]) -> dict[str, Any]:
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        touched: dict[str, Market] = {}
        for oid in ids:
            o = self.orders.get(oid)
            if o is None or o.key != key.key:
                not_canceled[oid] = "order not found"
            elif not o.live:
                not_canceled[oid] = "already canceled or matched"
            else:
                self._cancel(o)
                canceled.append(oid)
                touched[o.market.condition_id] = o.market
        for m in touched.values():
            self._publish_market(m)
        return {"canceled": canceled, "not_canceled": not_canceled}

    def cancel_order(self, call: Call) -> dict[str, Any]:
        body = call.json()
        if not isinstance(body, dict) or not isinstance(body.get("orderID"), str) or not body["orderID"]:
            raise ApiError("Invalid orderID")
        return self._cancel_many(call.api_key, [body["orderID"]])

    def cancel_orders(self, call: Call) -> dict[str, Any]:
        ids = call.json()
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(BAD_PAYLOAD)
        if len(ids) > 3000:
            raise ApiError("Too many orders in payload, max allowed: 3000")
        return self._cancel_many(call.api_key, ids)

    def _live_of(self, key: str) -> list[Order]:
        return [o for o in self.orders.values() if o.key == key and o.live]

    def cancel_all(self, call: Call) -> dict[str, Any]:
        return self._cancel_many(call.api_key, [o.id for o in self._live_of(call.api_key.key)])

    def cancel_market_orders(self, call: Call) -> dict[str, Any]:
        body = call.json() or {}
        if not isinstance(body, dict):
            raise ApiError(BAD_PAYLOAD)
        market, asset = str(body.get("market") or ""), str(body.get("asset_id") or "")
        ids = [
            o.id
            for o in self._live_of(call.api_key.key)
            if (not market or o.market.condition_id == market) and (not asset or o.token == asset)
        ]
        return self._cancel_many(call.api_key, ids)

    def _order_json(self, o: Order) -> dict[str, Any]:
        return {
            "id": o.id,
            "status": o.status,
            "owner": o.key,
            "maker_address": o.maker,
            "market": o.market.condition_id,
            "asset_id": o.token,
            "side": o.side,
            "original_size": fmt(o.size, UNIT),
            "size_matched": fmt(o.matched, UNIT),
            "price": fmt(o.price, SCALE),
            "outcome": o.market.outcome(o.token),
            "expiration": str(o.expiration),
            "order_type": o.order_type,
            "associate_trades": list(o.trades),
            "created_at": o.created_s,
        }

    def get_order(self, call: Call) -> dict[str, Any]:
        o = self.orders.get(call.match["order_id"])
        if o is None or o.key != call.api_key.key:
            raise ApiError("order not found", 404)
        return self._order_json(o)

    def get_orders(self, call: Call) -> dict[str, Any]:
        q = call.query
        items = [
            self._order_json(o)
            for o in self._live_of(call.api_key.key)
            if (not q.get("id") or o.id == q["id"])
            and (not q.get("market") or o.market.condition_id == q["market"])
            and (not q.get("asset_id") or o.token == q["asset_id"])
        ]
        return self._page(items, q.get("next_cursor", ""), "invalid order params payload")

    def _trade_json(self, f: Fill, key: str) -> dict[str, Any]:
        mine = f.taker if f.taker.key == key else f.maker
        m, t = f.market, f.taker
        return {
            "id": f.id,
            "taker_order_id": t.id,
            "market": m.condition_id,
            "asset_id": t.token,
            "side": t.side,
            "size": fmt(f.size, UNIT),
            "fee_rate_bps": "0",
            "price": fmt(f.yes_price if t.token == m.yes else SCALE - f.yes_price, SCALE),
            "status": "CONFIRMED",
            "match_time": str(f.time_s),
            "last_update": str(f.time_s),
            "outcome": m.outcome(t.token),
            "bucket_index": 0,
            "owner": key,
            "maker_address": mine.maker,
            "transaction_hash": f.tx,
            "trader_side": "TAKER" if mine is t else "MAKER",
            "maker_orders": [
                {
                    "order_id": f.maker.id,
                    "owner": f.maker.key,
                    "maker_address": f.maker.maker,
                    "matched_amount": fmt(f.size, UNIT),
                    "price": fmt(f.yes_price if f.maker.token == m.yes else SCALE - f.yes_price, SCALE),
                    "fee_rate_bps": "0",
                    "asset_id": f.maker.token,
                    "outcome": m.outcome(f.maker.token),
                    "side": f.maker.side,
                }
            ],
        }

    def get_trades(self, call: Call) -> dict[str, Any]:
        q, key = call.query, call.api_key.key
        try:
            before, after = int(q.get("before") or 2**62), int(q.get("after") or 0)
        except ValueError:
            raise ApiError("Invalid trade params payload") from None
        items = [
            self._trade_json(f, key)
            for f in self.fills.values()
            if key in (f.taker.key, f.maker.key)
            and (not q.get("id") or f.id == q["id"])
            and (not q.get("market") or f.market.condition_id == q["market"])
            and (not q.get("asset_id") or q["asset_id"] in (f.taker.token, f.maker.token))
            and (
                not q.get("maker_address")
                or _key(q["maker_address"]) in (_key(f.taker.maker), _key(f.maker.maker))
            )
            and after <= f.time_s <= before
        ]
        return self._page(items, q.get("next_cursor", ""), "Invalid trade params payload")

    def balance_allowance(self, call: Call) -> dict[str, Any]:
        q, key = call.query, call.api_key
        try:
            sig_type = int(q.get("signature_type", "-1"))
        except ValueError:
            raise ApiError("Invalid signature_type") from None
        if sig_type not in (-1, 0, 1, 2):
            raise ApiError("Invalid signature_type")
        owner = self.funders.get((_key(key.address), sig_type), key.address)
        w = self.wallet(owner)
        asset = q.get("asset_type", "")
        if asset == "COLLATERAL":
            return {
                "balance": str(w.collateral),
                "allowances": {s: str(w.allowance.get(_key(s), 0)) for s in SPENDERS},
            }
        if asset == "CONDITIONAL":
            token = q.get("token_id", "")
            if token not in self.tokens:
                raise ApiError("Invalid token id")
            return {
                "balance": str(w.tokens.get(token, 0)),
                "allowances": {s: str(MAX_UINT256 if _key(s) in w.approved else 0) for s in SPENDERS},
            }
        raise ApiError("Invalid asset type")

    def _scoring(self, o: Order | None) -> bool:
        """Liquidity-rewards eligibility: live, big enough, within the max spread of the midpoint."""
        if o is None or not o.live or o.remaining < o.market.rewards_min_size:
            return False
        mid2 = self._mid(o.market, o.token)
        return mid2 is not None and abs(2 * o.price - mid2) <= 2 * o.market.rewards_max_spread

    def order_scoring(self, call: Call) -> dict[str, bool]:
        o = self.orders.get(call.query.get("order_id", ""))
        return {"scoring": self._scoring(o if o and o.key == call.api_key.key else None)}

    def orders_scoring(self, call: Call) -> dict[str, bool]:
        ids = call.json()
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(BAD_PAYLOAD)
        key = call.api_key.key
        return {i: self._scoring(o if (o := self.orders.get(i)) and o.key == key else None) for i in ids}

    def heartbeat(self, call: Call) -> dict[str, Any]:
        key = call.api_key
        body = call.json("Invalid heartbeat payload") or {}
        if not isinstance(body, dict):
            raise ApiError("Invalid heartbeat payload")
        if not key.heartbeat_id:
            key.heartbeat_id = str(uuid.UUID(bytes=self._hash("heartbeat", key.key)[:16], version=4))
        key.heartbeat_deadline_ms = self.now_ms() + self.heartbeat_timeout_ms
        return {"status": "ok", "heartbeat_id": key.heartbeat_id}

    # ---- chain -------------------------------------------------------------------------------------

    def rpc(self, call: Call) -> Any:
        req = call.json("Parse error")
        if isinstance(req, list):
            return [self._rpc_one(r) for r in req]
        return self._rpc_one(req)

    def _rpc_one(self, req: Any) -> dict[str, Any]:
        if not isinstance(req, dict):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
        rid, method, params = req.get("id"), req.get("method"), req.get("params") or []
        try:
            if method == "eth_chainId":
                result: Any = hex(CHAIN_ID)
            elif method == "net_version":
                result = str(CHAIN_ID)
            elif method == "eth_blockNumber":
                result = hex(self.now_ms() // 2000)
            elif method == "eth_call":
                result = self._eth_call(params[0])
            else:
                return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": "execution reverted"}}
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _eth_call(self, tx: dict[str, Any]) -> str:
        to = _key(str(tx["to"]))
        data = str(tx.get("data") or tx.get("input") or "").removeprefix("0x").lower()
        selector, args = data[:8], [data[8 + 64 * i : 8 + 64 * (i + 1)] for i in range((len(data) - 8) // 64)]

        def address(i: int) -> str:
            return "0x" + args[i][24:]

        if to == _key(COLLATERAL) and selector == _SEL_BALANCE_OF:
            return _word(self._peek(address(0)).collateral)
        if to == _key(COLLATERAL) and selector == _SEL_ALLOWANCE:
            return _word(self._peek(address(0)).allowance.get(address(1), 0))
        if to == _key(CTF) and selector == _SEL_BALANCE_OF_1155:
            return _word(self._peek(address(0)).tokens.get(str(int(args[1], 16)), 0))
        if to == _key(CTF) and selector == _SEL_APPROVED_FOR_ALL:
            return _word(int(address(1) in self._peek(address(0)).approved))
        raise ValueError("unsupported call")

    def _peek(self, address: str) -> Wallet:
        """A wallet as the chain sees it, without creating one for an address never used."""
        return self.wallets.get(_key(address)) or Wallet(
            self.default_collateral,
            allowance={_key(s): MAX_UINT256 for s in SPENDERS},
            approved={_key(s) for s in SPENDERS},
        )

    # ---- admin over HTTP ---------------------------------------------------------------------------

    def _admin(self, call: Call) -> dict[str, Any]:
        body = call.json("a JSON object is expected")
        if not isinstance(body, dict):
            raise ApiError("a JSON object is expected")
        return body

    def _admin_fund(self, call: Call) -> dict[str, Any]:
        b = self._admin(call)
        try:
            cash = b.get("collateral")
            self.fund(
                str(b["address"]),
                collateral=None if cash is None else Decimal(str(cash)),
                tokens={str(t): Decimal(str(v)) for t, v in (b.get("tokens") or {}).items()},
            )
        except (KeyError, ValueError, TypeError, AttributeError, InvalidOperation) as e:
            raise ApiError(str(e)) from None
        return {"ok": True}

    def _admin_resolve(self, call: Call) -> dict[str, Any]:
        b = self._admin(call)
        try:
            self.resolve(str(b["condition_id"]), str(b["winner"]))
        except (KeyError, ValueError) as e:
            raise ApiError(str(e)) from None
        return {"ok": True}

    def _admin_tick_size(self, call: Call) -> dict[str, Any]:
        b = self._admin(call)
        try:
            self.set_tick_size(str(b["condition_id"]), Decimal(str(b["tick_size"])))
        except (KeyError, ValueError, InvalidOperation) as e:
            raise ApiError(str(e)) from None
        return {"ok": True}

    def _admin_end_date(self, call: Call) -> dict[str, Any]:
        b = self._admin(call)
        try:
            self.set_end_date(str(b["condition_id"]), datetime.fromisoformat(str(b["end_date"])))
        except (KeyError, ValueError) as e:
            raise ApiError(str(e)) from None
        return {"ok": True}

    def _admin_gamma_override(self, call: Call) -> dict[str, Any]:
        b = self._admin(call)
        fields = b.get("fields")
        if not isinstance(fields, dict):
            raise ApiError("fields: a JSON object is expected")
        try:
            self.set_gamma_override(str(b.get("condition_id", "")), fields)
        except ValueError as e:
            raise ApiError(str(e)) from None
        return {"ok": True}

    async def _set_faults(self, request: web.Request) -> web.Response:
        resp = await super()._set_faults(request)
        if resp.status == 200 and "paths" not in await request.json():
            self.faults.paths = ORDER_PATHS  # this venue's order endpoints, not the base's default
        return resp

    async def _reset_faults(self, request: web.Request) -> web.Response:
        self.faults = Faults(seed=self.seed, paths=ORDER_PATHS)
        return web.json_response({"ok": True})

    # ---- the background market --------------------------------------------------------------------

    def _start_background(self, m: Market) -> None:
        """Seed `m`'s fair from the server's seed and rest `seed_levels` levels a side around it."""
        p = self.background_params
        rng = random.Random(f"polymarket-sim/{self.seed}/{m.condition_id}")
        lo, hi = (to_units(x, SCALE) for x in p.start)
        m.background = Background(rng, rng.randint(lo, hi))
        lo, hi = self._fair_bounds(m)
        m.background.fair = min(max(_snap(m.background.fair, m.tick), lo), hi)
        self._top_up(m)
        for distance in range(1, p.seed_levels + 1):
            for side in (matching.Side.BUY, matching.Side.SELL):
                self._background_limit(m, side, distance)
        m.published = self._levels(m, m.yes)

    def _fair_bounds(self, m: Market) -> tuple[int, int]:
        lo, hi = (to_units(x, SCALE) for x in self.background_params.bounds)
        lo = -(-max(lo, m.tick) // m.tick) * m.tick
        hi = min(hi, SCALE - m.tick) // m.tick * m.tick
        return lo, max(lo, hi)

    def _top_up(self, m: Market) -> None:
        """Participants never run out: below half of `AMPLE` pUSD or shares, they are funded again."""
        for address, _ in self.participants:
            w = self.wallet(address)
            if w.collateral < AMPLE // 2:
                w.collateral = AMPLE
            for token in (m.yes, m.no):
                if w.tokens.get(token, 0) < AMPLE // 2:
                    w.tokens[token] = AMPLE

    def _background_order(
        self, m: Market, yes_side: matching.Side, yes_price: int, shares: int, ioc: bool
    ) -> list[Fill]:
        """A participant's order through the normal matching: a YES-space bid is a YES buy or a NO sell, an
        ask a YES sell or a NO buy (so mints, merges and transfers all happen)."""
        bg = m.background
        assert bg is not None
        address, owner = bg.rng.choice(self.participants)
        as_no = bg.rng.random() < 0.5
        buy = (yes_side is matching.Side.BUY) != as_no
        price = SCALE - yes_price if as_no else yes_price
        size = shares * UNIT
        eid = next(self._engine_ids)
        o = Order(
            id="0x" + keccak(self._hash("background-order", str(eid))).hex(),
            key=owner,
            signer=address,
            maker=address,
            market=m,
            token=m.no if as_no else m.yes,
            side="BUY" if buy else "SELL",
            order_type="FAK" if ioc else "GTC",
            price=price,
            size=size,
            maker_amount=size * price // SCALE if buy else size,
            expiration=0,
            created_s=self.now_ms() // 1000,
            post_only=False,
            engine_id=eid,
        )
        tif = matching.Tif.IOC if ioc else matching.Tif.GTC
        self._by_engine[eid] = o
        result = m.engine.submit(matching.SimOrder(eid, owner, yes_side, yes_price, size, tif))
        fills = [self._settle(m, t) for t in result.trades]
        if result.resting:
            bg.resting[eid] = o
        else:
            o.status = "MATCHED" if o.matched else "CANCELED"
            self._by_engine.pop(eid, None)
        return fills

    def _background_limit(self, m: Market, side: matching.Side, distance: int) -> list[Fill]:
        assert m.background is not None
        center = _snap(m.background.fair, m.tick)
        price = center - distance * m.tick if side is matching.Side.BUY else center + distance * m.tick
        if not m.tick <= price <= SCALE - m.tick:
            return []
        smallest = -(-m.min_size // UNIT)
        shares = m.background.rng.randint(smallest, max(smallest, self.background_params.max_limit_shares))
        return self._background_order(m, side, price, shares, ioc=False)

    def _step_background(self, m: Market, dt_ns: int) -> tuple[bool, list[Fill]]:
        """Advance `m`'s background by `dt_ns` (at most 1 s at a time): the fair's walk, then Poisson
        arrivals of limit orders, marketable orders and cancels. Whether anything arrived, and the fills."""
        bg, p = m.background, self.background_params
        assert bg is not None
        rng, changed, fills = bg.rng, False, []
        while dt_ns > 0:
            dt = min(dt_ns, 1_000_000_000) / 1e9
            dt_ns -= 1_000_000_000
            t = m.tick
            self._top_up(m)
            lo, hi = self._fair_bounds(m)
            fair = min(max(_snap(bg.fair, t), lo), hi)
            moves = float(p.volatility * SCALE / t) ** 2 * dt  # +-1 tick moves: variance volatility^2 dt
            for _ in range(_arrivals(rng, moves)):
                step = t if rng.random() < 0.5 else -t
                fair += step if lo <= fair + step <= hi else -step if lo <= fair - step <= hi else 0
            bg.fair = fair
            for _ in range(_arrivals(rng, p.limit_rate * dt)):
                side = matching.Side.BUY if rng.random() < 0.5 else matching.Side.SELL
                fills += self._background_limit(m, side, 1 + int(rng.expovariate(1 / p.mean_distance_ticks)))
                changed = True
            for _ in range(_arrivals(rng, p.market_rate * dt)):
                side = matching.Side.BUY if rng.random() < 0.5 else matching.Side.SELL
                reach = p.reach_ticks * t
                price = min(fair + reach, SCALE - t) if side is matching.Side.BUY else max(fair - reach, t)
                fills += self._background_order(m, side, price, rng.randint(1, p.max_market_shares), ioc=True)
                changed = True
            bg.resting = {i: o for i, o in bg.resting.items() if o.live}
            for _ in range(min(_arrivals(rng, len(bg.resting) * p.cancel_rate * dt), len(bg.resting))):
                self._cancel(bg.resting.pop(rng.choice(list(bg.resting))))
                changed = True
        return changed, fills

    # ---- time: expiries and the dead-man switch ----------------------------------------------------

    def on_step(self, dt_ns: int) -> None:
        now_ms = self.now_ms()
        touched: dict[str, Market] = {}
        fills: dict[str, list[Fill]] = {}
        for m in self.markets.values():
            if m.background is not None and not m.closed:
                changed, fills[m.condition_id] = self._step_background(m, dt_ns)
                if changed:
                    touched[m.condition_id] = m
        for o in list(self.orders.values()):
            if o.live and o.order_type == "GTD" and (o.expiration - GTD_THRESHOLD_S) * 1000 <= now_ms:
                self._cancel(o)
                touched[o.market.condition_id] = o.market
        for key in self.keys.values():
            if key.heartbeat_deadline_ms and now_ms > key.heartbeat_deadline_ms:
                key.heartbeat_deadline_ms, key.heartbeat_id = 0, ""
                for o in self._live_of(key.key):
                    self._cancel(o)
                    touched[o.market.condition_id] = o.market
        for m in touched.values():
            self._publish_market(m, fills.get(m.condition_id))

    # ---- WebSocket: market channel -----------------------------------------------------------------

    def _market_queues(self, assets: set[str], custom: bool = False) -> list[asyncio.Queue[str]]:
        if self.faults.stale_feed:
            return []
        return [q for subs, c, q in self._market_subs.values() if subs & assets and (c or not custom)]

    def _publish_market(self, m: Market, fills: list[Fill] | None = None) -> None:
        now = str(self.now_ms())
        bids, asks = self._levels(m, m.yes)
        old_bids, old_asks = m.published
        m.published = (bids, asks)
        subscribed = {t for subs, _, _ in self._market_subs.values() for t in subs}
        if not subscribed & {m.yes, m.no} or self.faults.stale_feed:
            return
        if fills:
            books = {t: self._book(m, t) for t in (m.yes, m.no)}
            for t, b in books.items():
                event = {"event_type": "book", **{k: b[k] for k in ("asset_id", "market", "bids", "asks")}}
                event.update(timestamp=b["timestamp"], hash=b["hash"])
                for q in self._market_queues({t}):
                    q.put_nowait(orjson.dumps(event).decode())
            for f in fills:
                for t in (m.yes, m.no):
                    side = _yes_side(f) if t == m.yes else _flip(_yes_side(f))
                    event = {
                        "event_type": "last_trade_price",
                        "asset_id": t,
                        "market": m.condition_id,
                        "price": fmt(f.yes_price if t == m.yes else SCALE - f.yes_price, SCALE),
                        "size": fmt(f.size, UNIT),
                        "side": side,
                        "fee_rate_bps": "0",
                        "timestamp": now,
                        "transaction_hash": f.tx,
                    }
                    for q in self._market_queues({t}):
                        q.put_nowait(orjson.dumps(event).decode())
            return
        changes: list[dict[str, str]] = []
        hashes = {t: self._book(m, t)["hash"] for t in (m.yes, m.no)}
        tops = {t: self._levels(m, t) for t in (m.yes, m.no)}
        for yes_side, new, old in (("BUY", bids, old_bids), ("SELL", asks, old_asks)):
            for p in sorted(set(new) | set(old)):
                if new.get(p, 0) == old.get(p, 0):
                    continue
                no_side = "SELL" if yes_side == "BUY" else "BUY"
                for t, price, side in ((m.yes, p, yes_side), (m.no, SCALE - p, no_side)):
                    tb, ta = tops[t]
                    changes.append(
                        {
                            "asset_id": t,
                            "price": fmt(price, SCALE),
                            "size": fmt(new.get(p, 0), UNIT),
                            "side": side,
                            "hash": hashes[t],
                            "best_bid": fmt(max(tb), SCALE) if tb else "0",
                            "best_ask": fmt(min(ta), SCALE) if ta else "1",
                        }
                    )
        if not changes:
            return
        for subs, _, q in self._market_subs.values():
            mine = [c for c in changes if c["asset_id"] in subs]
            if mine:
                event = {"event_type": "price_change", "market": m.condition_id, "price_changes": mine}
                q.put_nowait(orjson.dumps({**event, "timestamp": now}).decode())

    async def _serve(self, ws: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
        """Write a socket's outbox in order until it closes."""
        while True:
            text = await queue.get()
            if ws.closed:
                return
            await ws.send_str(text)

    async def market_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        queue: asyncio.Queue[str] = asyncio.Queue()
        writer = asyncio.get_running_loop().create_task(self._serve(ws, queue))
        assets: set[str] = set()
        custom = False
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data.strip() == "PING":
                    queue.put_nowait("PONG")
                    continue
                try:
                    req = orjson.loads(msg.data)
                    ids = [str(a) for a in req.get("assets_ids", [])]
                except (orjson.JSONDecodeError, AttributeError, TypeError):
                    queue.put_nowait("INVALID OPERATION")
                    continue
                if req.get("operation") == "unsubscribe":
                    assets.difference_update(ids)
                    continue
                new = [a for a in ids if a in self.tokens and a not in assets]
                assets.update(a for a in ids if a in self.tokens)
                custom = bool(req.get("custom_feature_enabled", custom))
                self._market_subs[ws] = (assets, custom, queue)
                if new and not self.faults.stale_feed:
                    snapshot = []
                    for a in new:
                        b = self._book(self.tokens[a], a)
                        event = {
                            "event_type": "book",
                            **{k: b[k] for k in ("asset_id", "market", "bids", "asks")},
                        }
                        snapshot.append({**event, "timestamp": b["timestamp"], "hash": b["hash"]})
                    queue.put_nowait(orjson.dumps(snapshot).decode())
        finally:
            self._market_subs.pop(ws, None)
            self.sockets.discard(ws)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    # ---- WebSocket: user channel -------------------------------------------------------------------

    def _user_queues(self, key: str, market: str) -> list[asyncio.Queue[str]]:
        return [q for k, ms, q in self._user_subs.values() if k == key and (not ms or market in ms)]

    def _user_order(self, o: Order, kind: str) -> None:
        queues = self._user_queues(o.key, o.market.condition_id)
        if not queues:
            return
        event = {
            "event_type": "order",
            "type": kind,
            **self._order_json(o),
            "order_owner": o.key,
            "timestamp": str(self.now_ms()),
        }
        for q in queues:
            q.put_nowait(orjson.dumps(event).decode())

    def _user_trade(self, f: Fill) -> None:
        for key in dict.fromkeys((f.taker.key, f.maker.key)):
            queues = self._user_queues(key, f.market.condition_id)
            for status in ("MATCHED", "CONFIRMED"):
                event = {
                    "event_type": "trade",
                    "type": "TRADE",
                    **self._trade_json(f, key),
                    "status": status,
                    "trade_owner": key,
                    "timestamp": str(self.now_ms()),
                }
                for q in queues:
                    q.put_nowait(orjson.dumps(event).decode())

    async def user_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sockets.add(ws)
        queue: asyncio.Queue[str] = asyncio.Queue()
        writer = asyncio.get_running_loop().create_task(self._serve(ws, queue))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data.strip() == "PING":
                    queue.put_nowait("PONG")
                    continue
                try:
                    req = orjson.loads(msg.data)
                    auth = req.get("auth") or {}
                    key = self.keys.get(str(auth.get("apiKey", "")))
                    markets = {str(m) for m in req.get("markets") or []}
                except (orjson.JSONDecodeError, AttributeError, TypeError):
                    key, markets = None, set()
                if (
                    key is None
                    or not hmac.compare_digest(str(auth.get("secret", "")), key.secret)
                    or not hmac.compare_digest(str(auth.get("passphrase", "")), key.passphrase)
                ):
                    await ws.close(code=4001, message=b"Unauthorized")  # no outbox write after this
                    break
                self._user_subs[ws] = (key.key, markets, queue)
        finally:
            self._user_subs.pop(ws, None)
            self.sockets.discard(ws)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    # ---- admin view --------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        participants = {_key(a) for a, _ in self.participants}
        return {
            "keys": {
                k.key: {
                    "address": k.address,
                    "heartbeat": bool(k.heartbeat_deadline_ms),
                    "orders": [self._order_json(o) for o in self.orders.values() if o.key == k.key],
                    "trades": [
                        self._trade_json(f, k.key)
                        for f in self.fills.values()
                        if k.key in (f.taker.key, f.maker.key)
                    ],
                }
                for k in self.keys.values()
            },
            "wallets": {
                a: {"collateral": str(w.collateral), "tokens": {t: str(v) for t, v in w.tokens.items() if v}}
                for a, w in self.wallets.items()
                if a not in participants
            },
            "markets": {
                m.condition_id: {"closed": m.closed, "winner": m.winner, "yes": m.yes, "no": m.no}
                for m in self.markets.values()
            },
            "background": {
                m.condition_id: {
                    "fair": fmt(m.background.fair, SCALE),
                    "resting": sum(o.live for o in m.background.resting.values()),
                }
                for m in self.markets.values()
                if m.background is not None and not m.closed
            },
        }


def _digest(message: SignableMessage) -> bytes:
    """The EIP-712 hash that is signed (and is the venue's order id)."""
    return keccak(b"\x19" + message.version + message.header + message.body)


def _unix_s(t: datetime) -> int:
    """Unix seconds of an aware datetime (a naive one is taken as UTC)."""
    return int((t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp())


def _iso(unix_s: int, *, millis: bool = False) -> str:
    """`2026-12-31T00:00:00Z` (Gamma's `endDate`), or with milliseconds (`startDate`, `createdAt`)."""
    t = datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return t + (".000Z" if millis else "Z")


def _arrivals(rng: random.Random, lam: float) -> int:
    """A Poisson count: exact (Knuth) for small means, the normal approximation for large ones (where
    `exp(-lam)` underflows)."""
    if lam < 50:
        return _poisson(rng, lam)
    return max(0, round(rng.gauss(lam, lam**0.5)))


def _snap(price: int, tick: int) -> int:
    """`price` rounded to the nearest multiple of `tick` (half up)."""
    return (price + tick // 2) // tick * tick


def _flip(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


def _yes_side(f: Fill) -> str:
    """The taker's side seen in the YES book (a NO buy is a YES-space sell)."""
    return f.taker.side if f.taker.token == f.market.yes else _flip(f.taker.side)
