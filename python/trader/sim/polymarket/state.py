"""The Polymarket simulator's data model: constants, markets, wallets, API keys, orders, fills, and
small pure helpers (units, times, the EIP-712 digest)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from eth_account.messages import SignableMessage
from eth_utils.crypto import keccak

from trader.sim import matching
from trader.sim.market import _poisson

CHAIN_ID = 137
SCALE = 10_000  # price units per 1 pUSD
UNIT = 1_000_000  # micro-units per pUSD or per share
MAX_UINT256 = 2**256 - 1

COLLATERAL = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"  # pUSD
CTF = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"  # Conditional Tokens (ERC-1155)
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"  # CTF Exchange V2
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"  # Neg Risk CTF Exchange V2
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
# Protocol V2 (polymarket-client 0.14.0 `environments.py`): ExchangeV3 (EIP-712 domain version "3"), the
# PositionManager holding positions (ERC-1155) and the Router that splits, merges and redeems them
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
POSITION_MANAGER = "0x006F54F7f9A22e0000CC2AB60031000000ae9fEF"
PROTOCOL_V2_ROUTER = "0x12121212006e4CD160D18e3f00711DA5c3372600"
SPENDERS = (EXCHANGE, NEG_RISK_EXCHANGE, NEG_RISK_ADAPTER, EXCHANGE_V3, PROTOCOL_V2_ROUTER)
V2_OPERATORS = (EXCHANGE_V3, PROTOCOL_V2_ROUTER)  # PositionManager operators trading needs
COLLATERAL_ONRAMP = "0x93070a847efEf7F70739046A929D47a521F5B8ee"  # wraps USDC.e into pUSD
# the rest of the approvals the official SDK requires (`_required_trading_approvals`): a new wallet of
# the simulator has them all, as it has the ones above
COLLATERAL_ADAPTERS = (
    "0xAdA100Db00Ca00073811820692005400218FcE1f",
    "0xadA2005600Dec949baf300f4C6120000bDB6eAab",
)
AUTO_REDEEM_OPERATOR = "0xa1200000d0002264C9a1698e001292D00E1b00af"
MODULES = ("0x1000008dD9001B968442c1000017eaE6E0dA00Ba", "0x200000900045e3B6259600682756002200028933")
USDC_E = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"

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
    approved: set[str] = field(default_factory=set)  # CTF (ERC-1155) operators (lower)
    approved_v2: set[str] = field(default_factory=set)  # PositionManager (ERC-1155) operators (lower)

    @classmethod
    def fresh(cls, collateral: int) -> Wallet:
        """A new address: `collateral` pUSD and every approval trading needs, unlimited."""
        return cls(
            collateral,
            allowance={_key(s): MAX_UINT256 for s in (*SPENDERS, *COLLATERAL_ADAPTERS)},
            approved={_key(s) for s in (*SPENDERS, *COLLATERAL_ADAPTERS, AUTO_REDEEM_OPERATOR, *MODULES)},
            approved_v2={_key(s) for s in (*V2_OPERATORS, AUTO_REDEEM_OPERATOR)},
        )


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
    protocol_v2: bool = False  # a Protocol V2 market: position ids, ExchangeV3, CONDITIONAL-V2

    def outcome(self, token: str) -> str:
        return self.outcomes[0] if token == self.yes else self.outcomes[1]

    def other(self, token: str) -> str:
        return self.no if token == self.yes else self.yes

    @property
    def exchange(self) -> str:
        if self.protocol_v2:
            return EXCHANGE_V3
        return NEG_RISK_EXCHANGE if self.neg_risk else EXCHANGE

    @property
    def domain_version(self) -> str:
        """The exchange's EIP-712 domain version: "3" (ExchangeV3) or "2"."""
        return "3" if self.protocol_v2 else "2"


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
